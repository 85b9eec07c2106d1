package rfm

import (
	"context"
	"fmt"
	"math"
)

// A Model predicts a customer's purchases and value: BG/NBD for the
// number of purchases, optionally Gamma-Gamma for spend per purchase. A
// Model is a value; its methods are safe for concurrent use.
type Model struct {
	Purchases BGNBD
	Spend     *GammaGamma // nil: no spend model (ExpectedSpend and CLV are 0)
}

// ValueOptions configures predictions. Times are in the Unit of the
// histories the model was fitted on.
type ValueOptions struct {
	// Horizon is the length of the future period predicted.
	Horizon float64
	// Steps is the number of equal steps the horizon is discounted in;
	// 0 means 12 (monthly over a year, weekly over a quarter).
	Steps int
	// Rate is the discount rate per step (0.01 = 1%); 0 means none.
	Rate float64
}

// A Prediction is one customer's expected future.
type Prediction struct {
	PAlive            float64 // probability the customer is alive now
	ExpectedPurchases float64 // purchases expected within the horizon
	ExpectedSpend     float64 // expected spend per purchase (Gamma-Gamma)
	// CLV is the discounted value of the purchases expected within the
	// horizon: Σ over steps k of (E[Y(k·h)] − E[Y((k−1)·h)]) · spend /
	// (1+Rate)^k, h = Horizon/Steps.
	CLV float64
}

// Predict returns customer c's prediction.
func (m *Model) Predict(c Customer, o ValueOptions) Prediction {
	p := m.Purchases
	pr := Prediction{
		PAlive:            p.PAlive(c.X, c.TX, c.T),
		ExpectedPurchases: p.ConditionalPurchases(o.Horizon, c.X, c.TX, c.T),
	}
	if m.Spend == nil {
		return pr
	}
	pr.ExpectedSpend = m.Spend.ExpectedSpend(c.X, c.Spend)
	steps := o.Steps
	if steps <= 0 {
		steps = 12
	}
	if o.Rate == 0 {
		pr.CLV = pr.ExpectedPurchases * pr.ExpectedSpend
		return pr
	}
	var value, prev float64
	for k := 1; k <= steps; k++ {
		cum := pr.ExpectedPurchases
		if k < steps {
			cum = p.ConditionalPurchases(o.Horizon*float64(k)/float64(steps), c.X, c.TX, c.T)
		}
		value += (cum - prev) / math.Pow(1+o.Rate, float64(k))
		prev = cum
	}
	pr.CLV = value * pr.ExpectedSpend
	return pr
}

// PredictAll returns every customer's prediction, in the order of h, on
// GOMAXPROCS workers. A cancelled context stops it with ctx.Err().
func (m *Model) PredictAll(ctx context.Context, h *Histories, o ValueOptions) ([]Prediction, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	if !(o.Horizon >= 0) || o.Rate <= -1 {
		return nil, fmt.Errorf("horizon %g, rate %g: %w", o.Horizon, o.Rate, ErrConfig)
	}
	out := make([]Prediction, h.Len())
	const chunk = 4096
	tasks := (len(out) + chunk - 1) / chunk
	eachTask(tasks, func(t int) {
		if ctx.Err() != nil {
			return
		}
		for i := t * chunk; i < min((t+1)*chunk, len(out)); i++ {
			out[i] = m.Predict(h.Customer(i), o)
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
