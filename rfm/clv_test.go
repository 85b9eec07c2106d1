package rfm

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"
)

// cdnowParams are the BG/NBD estimates on CDNOW to the precision of
// Hardie's spreadsheet for the 2005 paper.
var cdnowParams = BGNBD{R: 0.2426, Alpha: 4.4136, A: 0.7929, B: 2.4259}

// hyp2f1Series sums the hypergeometric series term by term, the
// reference for gonum's Hypergeo (z < 1, so it converges).
func hyp2f1Series(a, b, c, z float64) float64 {
	sum, term := 1.0, 1.0
	for k := 0.0; k < 1e6; k++ {
		term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
		sum += term
		if math.Abs(term) < 1e-17*math.Abs(sum) {
			break
		}
	}
	return sum
}

func TestExpectedPurchasesHardie(t *testing.T) {
	// E[X(t)] from Hardie's BG/NBD spreadsheet (also the lifetimes
	// library's test fixture), t in weeks. The spreadsheet truncates the
	// hypergeometric series, which shows at 78 weeks (1.8576 against
	// 1.85802 summed to convergence), hence the tolerance.
	p := cdnowParams
	for _, c := range []struct{ t, want float64 }{
		{0.1429, 0.0078}, {1, 0.0532}, {3, 0.1506}, {31.8571, 1.0405}, {32, 1.0437}, {78, 1.8576},
	} {
		got := p.ExpectedPurchases(c.t)
		assert.InDelta(t, c.want, got, 0.0005, "t=%g", c.t)
		z := c.t / (p.Alpha + c.t)
		series := (p.A + p.B - 1) / (p.A - 1) * (1 - math.Pow(p.Alpha/(p.Alpha+c.t), p.R)*hyp2f1Series(p.R, p.B, p.A+p.B-1, z))
		assert.InDelta(t, series, got, 1e-9, "t=%g against the series", c.t)
	}
	assert.Zero(t, p.ExpectedPurchases(0))
}

func TestConditionalPurchasesPaper(t *testing.T) {
	// FHL 2005, section 4: a customer with x=2, t_x=30.43, T=38.86 is
	// expected to make 1.226 purchases in the next 39 weeks.
	assert.InDelta(t, 1.226, cdnowParams.ConditionalPurchases(39, 2, 30.43, 38.86), 0.0005)
	assert.Zero(t, cdnowParams.ConditionalPurchases(0, 2, 30.43, 38.86))
}

func TestPAliveHandWorked(t *testing.T) {
	p := BGNBD{R: 1, Alpha: 1, A: 1, B: 2}
	// odds of death = a/(b+x−1) · ((α+T)/(α+t_x))^(r+x) = 1/2 · (3/2)^2 = 9/8
	assert.InDelta(t, 8.0/17, p.PAlive(1, 1, 2), 1e-12)
	assert.Equal(t, 1.0, p.PAlive(0, 0, 10), "no repeat purchase: alive")
	assert.InDelta(t, 1/(1+0.5), p.PAlive(1, 2, 2), 1e-12, "bought just now")
}

// naiveBGNBDLL is eq. 6 of FHL 2005 written out without logs.
func naiveBGNBDLL(p BGNBD, x int, tx, T float64) float64 {
	xf := float64(x)
	beta := func(a, b float64) float64 { return math.Gamma(a) * math.Gamma(b) / math.Gamma(a+b) }
	common := math.Gamma(p.R+xf) * math.Pow(p.Alpha, p.R) / math.Gamma(p.R)
	l := beta(p.A, p.B+xf) / beta(p.A, p.B) * common / math.Pow(p.Alpha+T, p.R+xf)
	if x > 0 {
		l += beta(p.A+1, p.B+xf-1) / beta(p.A, p.B) * common / math.Pow(p.Alpha+tx, p.R+xf)
	}
	return math.Log(l)
}

func TestBGNBDLogLikelihoodAgainstFormula(t *testing.T) {
	for _, c := range []struct {
		x     int
		tx, T float64
	}{{0, 0, 38.86}, {1, 2, 30}, {2, 30.43, 38.86}, {7, 20.5, 39}} {
		assert.InDelta(t, naiveBGNBDLL(cdnowParams, c.x, c.tx, c.T), cdnowParams.LogLikelihood(c.x, c.tx, c.T), 1e-9, "%+v", c)
	}
}

func randomHistories(rng *rand.Rand, n int) *Histories {
	h := &Histories{Unit: Week}
	for range n {
		T := 1 + float64(rng.IntN(270))/7
		x := rng.IntN(6)
		tx := 0.0
		if x > 0 {
			tx = float64(rng.IntN(int(T*7)+1)) / 7
		}
		h.X = append(h.X, int32(x))
		h.TX = append(h.TX, tx)
		h.T = append(h.T, T)
		h.Spend = append(h.Spend, 5+rng.ExpFloat64()*20)
	}
	return h
}

func TestGradientsAgainstFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	h := randomHistories(rng, 500)
	rows := collapseRF(h)
	p := BGNBD{0.5, 3, 0.9, 2.5}
	_, g := rows.logLik(p)
	params := []*float64{&p.R, &p.Alpha, &p.A, &p.B}
	for i, ptr := range params {
		const eps = 1e-6
		old := *ptr
		*ptr = old + eps
		up, _ := rows.logLik(p)
		*ptr = old - eps
		down, _ := rows.logLik(p)
		*ptr = old
		assert.InEpsilon(t, (up-down)/(2*eps), g[i], 1e-5, "bg/nbd parameter %d", i)
	}
	srows := collapseSpend(h)
	gg := GammaGamma{4, 3, 12}
	_, sg := srows.logLik(gg)
	for i, ptr := range []*float64{&gg.P, &gg.Q, &gg.Gamma} {
		const eps = 1e-6
		old := *ptr
		*ptr = old + eps
		up, _ := srows.logLik(gg)
		*ptr = old - eps
		down, _ := srows.logLik(gg)
		*ptr = old
		assert.InEpsilon(t, (up-down)/(2*eps), sg[i], 1e-5, "gamma-gamma parameter %d", i)
	}
}

// simulateBGNBD draws n customers from the BG/NBD model with ages of 1 to
// 39 weeks, purchases on whole days.
func simulateBGNBD(seed uint64, p BGNBD, n int) *Histories {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	lambda := distuv.Gamma{Alpha: p.R, Beta: p.Alpha, Src: rng}
	drop := distuv.Beta{Alpha: p.A, Beta: p.B, Src: rng}
	h := &Histories{Unit: Week}
	for range n {
		T := float64(7 + rng.IntN(267))
		lam, pd := lambda.Rand()/7, drop.Rand() // per day
		x, last, now := 0, 0.0, 0.0
		for {
			now += rng.ExpFloat64() / lam
			if now > T {
				break
			}
			x++
			last = math.Floor(now)
			if rng.Float64() < pd {
				break
			}
		}
		h.X = append(h.X, int32(x))
		h.TX = append(h.TX, last/7)
		h.T = append(h.T, T/7)
	}
	return h
}

func TestFitRecoversSimulatedParameters(t *testing.T) {
	want := BGNBD{R: 0.8, Alpha: 3, A: 1.2, B: 4}
	h := simulateBGNBD(11, want, 30_000)
	got, fr, err := FitBGNBD(context.Background(), h)
	require.NoError(t, err)
	assert.Less(t, fr.Rows, fr.Customers, "whole-day histories collapse")
	// Sampling error at this size is a few percent; days rounding adds a
	// little bias to α.
	assert.InEpsilon(t, want.R, got.R, 0.15)
	assert.InEpsilon(t, want.Alpha, got.Alpha, 0.2)
	assert.InEpsilon(t, want.A, got.A, 0.3)
	assert.InEpsilon(t, want.B, got.B, 0.4)
}

func TestCollapseKeepsTheFit(t *testing.T) {
	// Doubling every customer doubles the log-likelihood and leaves the
	// estimates where they were.
	h := simulateBGNBD(5, BGNBD{R: 0.5, Alpha: 4, A: 0.8, B: 2.5}, 2000)
	p1, f1, err := FitBGNBD(context.Background(), h)
	require.NoError(t, err)
	h2 := &Histories{Unit: h.Unit}
	for range 2 {
		h2.X = append(h2.X, h.X...)
		h2.TX = append(h2.TX, h.TX...)
		h2.T = append(h2.T, h.T...)
	}
	p2, f2, err := FitBGNBD(context.Background(), h2)
	require.NoError(t, err)
	assert.Equal(t, f1.Rows, f2.Rows)
	assert.Equal(t, 2*f1.Customers, f2.Customers)
	assert.InEpsilon(t, 2*f1.LogLikelihood, f2.LogLikelihood, 1e-9)
	assert.InEpsilon(t, p1.R, p2.R, 1e-4)
	assert.InEpsilon(t, p1.B, p2.B, 1e-4)
	// The estimate is a maximum: nudging a parameter lowers the likelihood.
	rows := collapseRF(h)
	for _, q := range []BGNBD{{p1.R * 1.01, p1.Alpha, p1.A, p1.B}, {p1.R, p1.Alpha * 0.99, p1.A, p1.B}, {p1.R, p1.Alpha, p1.A * 1.01, p1.B}, {p1.R, p1.Alpha, p1.A, p1.B * 0.99}} {
		ll, _ := rows.logLik(q)
		assert.Less(t, ll, f1.LogLikelihood)
	}
}

func TestFitErrors(t *testing.T) {
	_, _, err := FitBGNBD(context.Background(), &Histories{})
	assert.ErrorIs(t, err, ErrNoData)
	_, _, err = FitGammaGamma(context.Background(), &Histories{X: []int32{0}, TX: []float64{0}, T: []float64{1}, Spend: []float64{0}})
	assert.ErrorIs(t, err, ErrNoData)
	_, _, err = FitBGNBD(context.Background(), &Histories{X: []int32{1}, TX: []float64{5}, T: []float64{4}, Member: []uint32{42}})
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "customer 42")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = FitBGNBD(ctx, randomHistories(rand.New(rand.NewPCG(1, 1)), 50))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestGammaGammaExpectedSpend(t *testing.T) {
	g := GammaGamma{P: 6, Q: 4, Gamma: 15}
	// population mean pγ/(q−1) = 90/3 = 30
	assert.InDelta(t, 30, g.MeanSpend(), 1e-12)
	assert.InDelta(t, 30, g.ExpectedSpend(0, 0), 1e-12)
	// x=2, m=50: (q−1)/(px+q−1)·30 + px/(px+q−1)·50 = 3/15·30 + 12/15·50 = 46
	assert.InDelta(t, 46, g.ExpectedSpend(2, 50), 1e-12)
	assert.True(t, math.IsInf(GammaGamma{P: 1, Q: 1, Gamma: 1}.MeanSpend(), 1))
}

func TestPredictCLV(t *testing.T) {
	g := GammaGamma{P: 6, Q: 4, Gamma: 15}
	m := Model{Purchases: cdnowParams, Spend: &g}
	c := Customer{X: 2, TX: 30.43, T: 38.86, Spend: 50}
	e := cdnowParams.ConditionalPurchases(39, 2, 30.43, 38.86)
	pr := m.Predict(c, ValueOptions{Horizon: 39})
	assert.InDelta(t, e, pr.ExpectedPurchases, 1e-12)
	assert.InDelta(t, 46, pr.ExpectedSpend, 1e-12)
	assert.InDelta(t, e*46, pr.CLV, 1e-9, "undiscounted")
	assert.InDelta(t, cdnowParams.PAlive(2, 30.43, 38.86), pr.PAlive, 1e-12)

	// One step at 10%: the whole horizon's value discounted once.
	pr = m.Predict(c, ValueOptions{Horizon: 39, Steps: 1, Rate: 0.1})
	assert.InDelta(t, e*46/1.1, pr.CLV, 1e-9)
	// Three steps of 13 weeks.
	e13 := cdnowParams.ConditionalPurchases(13, 2, 30.43, 38.86)
	e26 := cdnowParams.ConditionalPurchases(26, 2, 30.43, 38.86)
	want := 46 * (e13/1.1 + (e26-e13)/1.21 + (e-e26)/1.331)
	pr = m.Predict(c, ValueOptions{Horizon: 39, Steps: 3, Rate: 0.1})
	assert.InDelta(t, want, pr.CLV, 1e-9)

	h := &Histories{X: []int32{2, 0}, TX: []float64{30.43, 0}, T: []float64{38.86, 10}, Spend: []float64{50, 0}}
	all, err := m.PredictAll(context.Background(), h, ValueOptions{Horizon: 39, Steps: 3, Rate: 0.1})
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.InDelta(t, want, all[0].CLV, 1e-9)
	assert.Equal(t, 1.0, all[1].PAlive)
	assert.InDelta(t, 30, all[1].ExpectedSpend, 1e-12)

	noSpend := Model{Purchases: cdnowParams}
	assert.Zero(t, noSpend.Predict(c, ValueOptions{Horizon: 39}).CLV)
	_, err = m.PredictAll(context.Background(), h, ValueOptions{Horizon: -1})
	assert.ErrorIs(t, err, ErrConfig)
}

func TestHistoriesFromSummaries(t *testing.T) {
	// Purchases on days 0, 0, 7, 21 of a 28-day window: x = 2 repeat days,
	// t_x = 3 weeks, T = 4 weeks; repeat spend (300 + 500) / 2 / 100.
	s, err := New(2, Config{AsOf: day(2024, 1, 29, time.UTC)})
	require.NoError(t, err)
	for _, tx := range []Tx{
		{Time: day(2024, 1, 1, time.UTC), Amount: 100},
		{Time: day(2024, 1, 1, time.UTC).Add(5 * time.Hour), Amount: 200},
		{Time: day(2024, 1, 8, time.UTC), Amount: 300},
		{Time: day(2024, 1, 22, time.UTC), Amount: 500},
	} {
		require.NoError(t, s.Add(&tx))
	}
	h := s.Histories(HistoryOptions{Unit: Week, SpendScale: 100})
	require.Equal(t, 1, h.Len())
	assert.Equal(t, Customer{X: 2, TX: 3, T: 4, Spend: 4}, h.Customer(0))
	assert.Equal(t, []uint32{0}, h.Member)
}

func TestCollapsePackedEqualsMap(t *testing.T) {
	h := simulateBGNBD(21, BGNBD{R: 0.5, Alpha: 4, A: 0.8, B: 2.5}, 20_000)
	packed, ok := collapsePacked(h)
	require.True(t, ok, "whole days pack")
	assert.Equal(t, collapseMap(h), packed)
	// A time that is not a whole day falls back to the map.
	h.TX[0], h.T[0] = 0, 1.0/3
	h.X[0] = 0
	_, ok = collapsePacked(h)
	assert.False(t, ok)
	assert.Equal(t, collapseMap(h), collapseRF(h))
	keys := []uint64{5, 1 << 40, 3, 1<<63 + 7, 3, 0}
	radixSort(keys)
	assert.Equal(t, []uint64{0, 3, 3, 5, 1 << 40, 1<<63 + 7}, keys)
	radixSort(nil)
}
