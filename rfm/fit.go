package rfm

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// FitResult describes a maximum-likelihood fit.
type FitResult struct {
	LogLikelihood float64 // at the estimates, summed over customers
	Customers     int     // customers fitted
	Rows          int     // distinct histories after collapsing identical ones
	Iterations    int     // optimiser iterations
	Evaluations   int     // likelihood (and gradient) evaluations
}

// fitChunk is the number of rows summed per partial sum: the rows are cut
// into fixed chunks (not one per worker) so the float sums, and so the
// estimates, do not depend on GOMAXPROCS.
const fitChunk = 1 << 14

// negLL evaluates the mean negative log-likelihood at log-parameters theta
// and its gradient in theta, summed over chunks in a fixed order.
type negLL func(theta, grad []float64) float64

// maximise minimises the mean negative log-likelihood over
// log-parameters with BFGS, starting at theta0, and returns the
// estimates on the natural scale.
func maximise(ctx context.Context, f negLL, theta0 []float64) ([]float64, *optimize.Result, error) {
	dim := len(theta0)
	var lastX, lastGrad []float64
	var lastF float64
	evals := 0
	eval := func(x []float64) {
		if lastX != nil && slices.Equal(x, lastX) {
			return
		}
		evals++
		lastX = append(lastX[:0], x...)
		lastGrad = make([]float64, dim)
		lastF = f(x, lastGrad)
	}
	p := optimize.Problem{
		Func: func(x []float64) float64 {
			eval(x)
			return lastF
		},
		Grad: func(grad, x []float64) {
			eval(x)
			copy(grad, lastGrad)
		},
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, nil
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: 1e-9, // on the mean log-likelihood per customer
		Converger:         &optimize.FunctionConverge{Absolute: 1e-13, Relative: 1e-13, Iterations: 20},
		MajorIterations:   1000,
	}
	res, err := optimize.Minimize(p, theta0, settings, &optimize.BFGS{})
	if cerr := ctx.Err(); cerr != nil {
		return nil, res, cerr
	}
	if res == nil {
		return nil, nil, fmt.Errorf("optimiser: %w", err)
	}
	est := make([]float64, dim)
	for i, t := range res.X {
		est[i] = math.Exp(t)
	}
	for _, v := range est {
		if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
			return nil, res, fmt.Errorf("estimates %v at the boundary: %w", est, ErrNotConverged)
		}
	}
	if err != nil && gradNorm(res.Gradient) < acceptGradient {
		// The line search fails when rounding swamps the last improvements:
		// at a point this flat the estimates are as good as converged.
		err = nil
		res.Status = optimize.GradientThreshold
	}
	if err != nil {
		return est, res, fmt.Errorf("optimiser stopped (%v): %v: %w", res.Status, err, ErrNotConverged)
	}
	switch res.Status {
	case optimize.GradientThreshold, optimize.FunctionConvergence:
		return est, res, nil
	}
	return est, res, fmt.Errorf("optimiser stopped with status %v: %w", res.Status, ErrNotConverged)
}

// acceptGradient is the largest gradient (infinity norm, mean
// log-likelihood per customer, log-parameters) at which a fit whose line
// search gave up is taken as converged: a parameter off by a relative
// 1e-4 moves the gradient by far more.
const acceptGradient = 1e-6

func gradNorm(g []float64) float64 {
	var m float64
	for _, v := range g {
		m = max(m, math.Abs(v))
	}
	return m
}

// sumChunks runs fn on fixed chunks of n rows on GOMAXPROCS workers and
// adds their results in chunk order: k values per chunk (value and
// gradient).
func sumChunks(n, k int, fn func(lo, hi int, acc []float64)) []float64 {
	chunks := (n + fitChunk - 1) / fitChunk
	parts := make([][]float64, chunks)
	eachTask(chunks, func(c int) {
		acc := make([]float64, k)
		fn(c*fitChunk, min((c+1)*fitChunk, n), acc)
		parts[c] = acc
	})
	total := make([]float64, k)
	for _, p := range parts {
		for i, v := range p {
			total[i] += v
		}
	}
	return total
}
