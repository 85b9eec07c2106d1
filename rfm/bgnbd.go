package rfm

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// BGNBD holds the parameters of the BG/NBD model (Fader, Hardie & Lee
// 2005, "Counting Your Customers the Easy Way"): while alive a customer
// buys at a Poisson rate λ ~ Gamma(R, Alpha), and after each purchase
// drops out with probability p ~ Beta(A, B). Alpha is in the time unit of
// the histories it was fitted on. A BGNBD is a value; its methods are
// safe for concurrent use.
type BGNBD struct {
	R, Alpha, A, B float64
}

// FitBGNBD estimates BG/NBD parameters by maximum likelihood. Identical
// (X, TX, T) histories are collapsed into one weighted row, so the cost of
// each likelihood evaluation grows with the number of distinct histories
// (bounded by the days in the window), not with the number of customers.
// The parameters are optimised on the log scale with BFGS and the
// analytic gradient. A fit that stops short of convergence returns the
// best estimates found with an error wrapping ErrNotConverged.
func FitBGNBD(ctx context.Context, h *Histories) (BGNBD, FitResult, error) {
	if err := h.validate(); err != nil {
		return BGNBD{}, FitResult{}, err
	}
	if h.Len() == 0 {
		return BGNBD{}, FitResult{}, fmt.Errorf("bg/nbd: %w", ErrNoData)
	}
	rows := collapseRF(h)
	f := func(theta, grad []float64) float64 {
		ll, g := rows.logLik(BGNBD{math.Exp(theta[0]), math.Exp(theta[1]), math.Exp(theta[2]), math.Exp(theta[3])})
		n := float64(rows.customers)
		for i := range grad {
			// d/dθ = p d/dp on the log scale
			grad[i] = -g[i] * math.Exp(theta[i]) / n
		}
		return -ll / n
	}
	// Start where every parameter is 1 but the rate scale, which starts at
	// the mean age so that λ's prior mean is about one purchase per
	// lifetime.
	meanT := 0.0
	for _, t := range h.T {
		meanT += t
	}
	meanT /= float64(h.Len())
	theta0 := []float64{0, math.Log(max(meanT, 1e-3)), 0, 0}
	est, res, err := maximise(ctx, f, theta0)
	fr := FitResult{Customers: rows.customers, Rows: len(rows.w)}
	if res != nil {
		fr.Iterations, fr.Evaluations = res.MajorIterations, res.FuncEvaluations
	}
	if est == nil {
		return BGNBD{}, fr, fmt.Errorf("bg/nbd: %w", err)
	}
	p := BGNBD{est[0], est[1], est[2], est[3]}
	fr.LogLikelihood, _ = rows.logLik(p)
	if err != nil {
		return p, fr, fmt.Errorf("bg/nbd: %w", err)
	}
	return p, fr, nil
}

// logLik returns the weighted log-likelihood of p and its gradient in
// (r, α, a, b).
//
// Per customer (FHL 2005, eq. 6, in logs):
//
//	A1 = lnΓ(r+x) − lnΓ(r) + r ln α
//	A2 = ln B(a, b+x) − ln B(a, b)
//	A3 = −(r+x) ln(α+T)
//	A4 = ln a − ln(b+x−1) − (r+x) ln(α+t_x)     (x > 0 only)
//	LL = A1 + A2 + ln(e^A3 + [x>0] e^A4)
func (rows *rfRows) logLik(p BGNBD) (float64, [4]float64) {
	r, alpha, a, b := p.R, p.Alpha, p.A, p.B
	// Terms that depend on x only.
	nx := len(rows.xs)
	a12 := make([]float64, nx)   // A1 + A2
	dr1 := make([]float64, nx)   // dA1/dr
	da2 := make([]float64, nx)   // dA2/da
	db2 := make([]float64, nx)   // dA2/db
	lnbx1 := make([]float64, nx) // ln(b+x−1), x > 0
	lnA := math.Log(alpha)
	lgr, _ := math.Lgamma(r)
	lbab := mathext.Lbeta(a, b)
	psiR, psiAB, psiB := mathext.Digamma(r), mathext.Digamma(a+b), mathext.Digamma(b)
	for i, x := range rows.xs {
		lg, _ := math.Lgamma(r + x)
		a12[i] = lg - lgr + r*lnA + mathext.Lbeta(a, b+x) - lbab
		dr1[i] = mathext.Digamma(r+x) - psiR + lnA
		psiABX := mathext.Digamma(a + b + x)
		da2[i] = psiAB - psiABX
		db2[i] = psiAB + mathext.Digamma(b+x) - psiB - psiABX
		if x > 0 {
			lnbx1[i] = math.Log(b + x - 1)
		}
	}
	// Terms that depend on T or t_x only.
	lnT, invT := logsAndInverses(rows.ts, alpha)
	lnTX, invTX := logsAndInverses(rows.txs, alpha)
	lnSmallA := math.Log(a)
	sums := sumChunks(len(rows.w), 5, func(lo, hi int, acc []float64) {
		var ll, gr, gal, ga, gb float64
		for j := lo; j < hi; j++ {
			xi, ti, txi, w := rows.xi[j], rows.ti[j], rows.txi[j], rows.w[j]
			x := rows.xs[xi]
			rx := r + x
			a3 := -rx * lnT[ti]
			// d/dr, d/dα of A1 (x-terms) plus the mixture of A3 and A4
			dr := dr1[xi]
			dal := r / alpha
			da := da2[xi]
			db := db2[xi]
			var mix float64
			if x > 0 {
				a4 := lnSmallA - lnbx1[xi] - rx*lnTX[txi]
				// log-sum-exp and the weights of the two terms
				hi := max(a3, a4)
				e3, e4 := math.Exp(a3-hi), math.Exp(a4-hi)
				s := e3 + e4
				mix = hi + math.Log(s)
				w3, w4 := e3/s, e4/s
				dr += -w3*lnT[ti] - w4*lnTX[txi]
				dal += -rx * (w3*invT[ti] + w4*invTX[txi])
				da += w4 / a
				db += -w4 / (b + x - 1)
			} else {
				mix = a3
				dr += -lnT[ti]
				dal += -rx * invT[ti]
			}
			ll += w * (a12[xi] + mix)
			gr += w * dr
			gal += w * dal
			ga += w * da
			gb += w * db
		}
		acc[0], acc[1], acc[2], acc[3], acc[4] = ll, gr, gal, ga, gb
	})
	return sums[0], [4]float64{sums[1], sums[2], sums[3], sums[4]}
}

// logsAndInverses returns ln(α+v) and 1/(α+v) for each v.
func logsAndInverses(vs []float64, alpha float64) (lns, invs []float64) {
	lns, invs = make([]float64, len(vs)), make([]float64, len(vs))
	for i, v := range vs {
		lns[i] = math.Log(alpha + v)
		invs[i] = 1 / (alpha + v)
	}
	return lns, invs
}

// LogLikelihood returns the log-likelihood of one history under p.
func (p BGNBD) LogLikelihood(x int, tx, t float64) float64 {
	rows := &rfRows{xs: []float64{float64(x)}, txs: []float64{tx}, ts: []float64{t},
		xi: []int32{0}, txi: []int32{0}, ti: []int32{0}, w: []float64{1}, customers: 1}
	ll, _ := rows.logLik(p)
	return ll
}

// PAlive returns the probability that a customer with history (x, t_x, T)
// is still alive at T (FHL 2005, eq. 13; exactly 1 for x = 0, as the model
// lets customers drop out only after a purchase).
func (p BGNBD) PAlive(x int, tx, t float64) float64 {
	if x == 0 {
		return 1
	}
	xf := float64(x)
	// ln of the odds of having dropped out
	lo := math.Log(p.A) - math.Log(p.B+xf-1) + (p.R+xf)*(math.Log(p.Alpha+t)-math.Log(p.Alpha+tx))
	return 1 / (1 + math.Exp(lo))
}

// ExpectedPurchases returns E[X(t)], the expected number of purchases of
// a new customer in a period of length t (FHL 2005, eq. 9).
func (p BGNBD) ExpectedPurchases(t float64) float64 {
	if t <= 0 {
		return 0
	}
	z := t / (p.Alpha + t)
	h := mathext.Hypergeo(p.R, p.B, p.A+p.B-1, z)
	return (p.A + p.B - 1) / (p.A - 1) * (1 - math.Pow(p.Alpha/(p.Alpha+t), p.R)*h)
}

// ConditionalPurchases returns E[Y(t) | x, t_x, T], the expected number of
// purchases in the next t units of a customer with history (x, t_x, T)
// (FHL 2005, eq. 10).
func (p BGNBD) ConditionalPurchases(t float64, x int, tx, T float64) float64 {
	if t <= 0 {
		return 0
	}
	xf := float64(x)
	r, al, a, b := p.R, p.Alpha, p.A, p.B
	z := t / (al + T + t)
	h := mathext.Hypergeo(r+xf, b+xf, a+b+xf-1, z)
	num := (a + b + xf - 1) / (a - 1) * (1 - math.Exp((r+xf)*math.Log((al+T)/(al+T+t)))*h)
	den := 1.0
	if x > 0 {
		den += a / (b + xf - 1) * math.Exp((r+xf)*math.Log((al+T)/(al+tx)))
	}
	return num / den
}
