package rfm

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma holds the parameters of the Gamma-Gamma model of spend per
// transaction (Fader & Hardie, "The Gamma-Gamma Model of Monetary
// Value", 2013; Colombo & Jiang 1999): a customer's transaction values
// are Gamma(P, ν) with ν ~ Gamma(Q, Gamma) across customers, so the mean
// spend is P·Gamma/(Q−1). Gamma is in the spend units it was fitted on. A
// GammaGamma is a value; its methods are safe for concurrent use.
type GammaGamma struct {
	P, Q, Gamma float64
}

// FitGammaGamma estimates Gamma-Gamma parameters by maximum likelihood on
// the customers with repeat purchases (X > 0) and positive Spend, the
// mean spend of those repeat purchases. Customers with X = 0 carry no
// spend information in this model and are left out, as are customers
// whose repeat spend is not positive (refunds, free orders).
func FitGammaGamma(ctx context.Context, h *Histories) (GammaGamma, FitResult, error) {
	if err := h.validate(); err != nil {
		return GammaGamma{}, FitResult{}, err
	}
	if h.Spend == nil {
		return GammaGamma{}, FitResult{}, fmt.Errorf("gamma-gamma: histories without spend: %w", ErrNoData)
	}
	rows := collapseSpend(h)
	if rows.customers == 0 {
		return GammaGamma{}, FitResult{}, fmt.Errorf("gamma-gamma: no repeat buyers: %w", ErrNoData)
	}
	n := float64(rows.customers)
	f := func(theta, grad []float64) float64 {
		ll, g := rows.logLik(GammaGamma{math.Exp(theta[0]), math.Exp(theta[1]), math.Exp(theta[2])})
		for i := range grad {
			grad[i] = -g[i] * math.Exp(theta[i]) / n
		}
		return -ll / n
	}
	// Start at P = Q = 1 (exponential spend, a flat prior on the scale)
	// with γ at the mean spend, which fixes the units.
	var mean float64
	for i := range rows.m {
		mean += rows.w[i] * rows.m[i]
	}
	mean /= n
	est, res, err := maximise(ctx, f, []float64{0, math.Log(2), math.Log(mean)})
	fr := FitResult{Customers: rows.customers, Rows: len(rows.w)}
	if res != nil {
		fr.Iterations, fr.Evaluations = res.MajorIterations, res.FuncEvaluations
	}
	if est == nil {
		return GammaGamma{}, fr, fmt.Errorf("gamma-gamma: %w", err)
	}
	p := GammaGamma{est[0], est[1], est[2]}
	fr.LogLikelihood, _ = rows.logLik(p)
	if err != nil {
		return p, fr, fmt.Errorf("gamma-gamma: %w", err)
	}
	return p, fr, nil
}

// spendRows are repeat buyers collapsed to distinct (x, mean spend).
type spendRows struct {
	xs        []float64 // distinct x, ascending
	xi        []int32
	m, lnm    []float64 // mean spend and its log, per row
	w         []float64
	customers int
}

type spendKey struct {
	x int32
	m float64
}

func collapseSpend(h *Histories) *spendRows {
	counts := map[spendKey]float64{}
	for i, x := range h.X {
		if x > 0 && h.Spend[i] > 0 && !math.IsInf(h.Spend[i], 0) {
			counts[spendKey{x, h.Spend[i]}]++
		}
	}
	keys := make([]spendKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b spendKey) int {
		if a.x != b.x {
			return int(a.x - b.x)
		}
		switch {
		case a.m < b.m:
			return -1
		case a.m > b.m:
			return 1
		}
		return 0
	})
	rows := &spendRows{}
	xIdx := map[float64]int32{}
	for _, k := range keys {
		xIdx[float64(k.x)] = 0
	}
	rows.xs = sortedIndex(xIdx)
	for _, k := range keys {
		rows.xi = append(rows.xi, xIdx[float64(k.x)])
		rows.m = append(rows.m, k.m)
		rows.lnm = append(rows.lnm, math.Log(k.m))
		rows.w = append(rows.w, counts[k])
		rows.customers += int(counts[k])
	}
	return rows
}

// logLik returns the weighted log-likelihood of the customers' mean
// spends and its gradient in (p, q, γ). The mean m of x transactions has
// density
//
//	Γ(px+q) / (Γ(px) Γ(q)) · γ^q m^(px−1) x^(px) / (γ + m x)^(px+q)
func (rows *spendRows) logLik(g GammaGamma) (float64, [3]float64) {
	p, q, gm := g.P, g.Q, g.Gamma
	nx := len(rows.xs)
	cx := make([]float64, nx)  // lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln γ + px ln x
	dpx := make([]float64, nx) // x(ψ(px+q) − ψ(px) + ln x)
	dqx := make([]float64, nx) // ψ(px+q) − ψ(q) + ln γ
	lgq, _ := math.Lgamma(q)
	lnG := math.Log(gm)
	psiQ := mathext.Digamma(q)
	for i, x := range rows.xs {
		px := p * x
		l1, _ := math.Lgamma(px + q)
		l2, _ := math.Lgamma(px)
		lnx := math.Log(x)
		cx[i] = l1 - l2 - lgq + q*lnG + px*lnx
		psiPXQ := mathext.Digamma(px + q)
		dpx[i] = x * (psiPXQ - mathext.Digamma(px) + lnx)
		dqx[i] = psiPXQ - psiQ + lnG
	}
	sums := sumChunks(len(rows.w), 4, func(lo, hi int, acc []float64) {
		var ll, gp, gq, gg float64
		for j := lo; j < hi; j++ {
			xi, w, m, lnm := rows.xi[j], rows.w[j], rows.m[j], rows.lnm[j]
			x := rows.xs[xi]
			px := p * x
			den := gm + m*x
			lnDen := math.Log(den)
			ll += w * (cx[xi] + (px-1)*lnm - (px+q)*lnDen)
			gp += w * (dpx[xi] + x*(lnm-lnDen))
			gq += w * (dqx[xi] - lnDen)
			gg += w * (q/gm - (px+q)/den)
		}
		acc[0], acc[1], acc[2], acc[3] = ll, gp, gq, gg
	})
	return sums[0], [3]float64{sums[1], sums[2], sums[3]}
}

// MeanSpend returns the population mean spend per transaction,
// P·Gamma/(Q−1) (infinite when Q <= 1).
func (g GammaGamma) MeanSpend() float64 {
	if g.Q <= 1 {
		return math.Inf(1)
	}
	return g.P * g.Gamma / (g.Q - 1)
}

// ExpectedSpend returns the expected spend per transaction of a customer
// whose x repeat transactions averaged m: a weighted mean of the
// population mean and m (Fader & Hardie 2013, eq. 5),
//
//	(Q−1)/(Px+Q−1) · PGamma/(Q−1) + Px/(Px+Q−1) · m
//
// which is the population mean for x = 0.
func (g GammaGamma) ExpectedSpend(x int, m float64) float64 {
	xf := float64(x)
	if x == 0 {
		return g.MeanSpend()
	}
	return g.P * (g.Gamma + m*xf) / (g.P*xf + g.Q - 1)
}
