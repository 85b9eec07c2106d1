package suite

import "context"

func tagsSuite() Suite {
	return Suite{Name: "tags", Run: func(context.Context, *Env) error { return nil }}
}
