package suite

import "context"

func loyaltySuite() Suite {
	return Suite{Name: "loyalty", Run: func(context.Context, *Env) error { return nil }}
}
