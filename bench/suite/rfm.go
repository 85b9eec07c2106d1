package suite

import "context"

func rfmSuite() Suite {
	return Suite{Name: "rfm", Run: func(context.Context, *Env) error { return nil }}
}
