package synth

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// mix64 is the splitmix64 finaliser: a bijection on uint64, so distinct
// inputs give distinct outputs (used to derive unique identifiers).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// stream tags select the independent PCG stream of a member.
const (
	streamMember uint64 = iota + 1
	streamIdentity
	streamOrders
)

// seedStream points p at member id's stream tag of the generator's seed.
func seedStream(p *pcg, seed, tag uint64, id uint32) {
	p.Seed(mix64(seed^mix64(tag*0x9e3779b97f4a7c15)), uint64(id))
}

// gamma draws from Gamma(shape, 1) by Marsaglia and Tsang (2000), "A simple
// method for generating gamma variables", boosting shapes below 1 with
// U^(1/shape). Explicit float64 conversions keep each product rounded on
// its own, so no platform fuses them differently.
func gamma(r rng, shape float64) float64 {
	if shape < 1 {
		u := r.Float64()
		return gamma(r, shape+1) * math.Pow(u, 1/shape)
	}
	return newGammaDist(shape).sample(r)
}

// gammaDist is Gamma(shape, 1) for a shape of at least 1 with Marsaglia and
// Tsang's constants worked out once, for shapes drawn per order.
type gammaDist struct{ d, c float64 }

func newGammaDist(shape float64) gammaDist {
	d := shape - 1.0/3
	return gammaDist{d: d, c: 1 / math.Sqrt(9*d)}
}

// gamma3 is Gamma(3, 1), the shape of every order amount.
var gamma3 = newGammaDist(3)

func (g gammaDist) sample(r rng) float64 {
	d, c := g.d, g.c
	for {
		x := r.NormFloat64()
		v := float64(1 + float64(c*x))
		if v <= 0 {
			continue
		}
		v = float64(v * v * v)
		u := r.Float64()
		x2 := float64(x * x)
		if u < 1-float64(0.0331*float64(x2*x2)) {
			return float64(d * v)
		}
		if math.Log(u) < float64(0.5*x2)+float64(d*float64(1-v+math.Log(v))) {
			return float64(d * v)
		}
	}
}

// normalClipped draws from Normal(mean, sd) and clamps to [lo, hi].
func normalClipped(r rng, mean, sd, lo, hi float64) float64 {
	x := float64(mean + float64(sd*r.NormFloat64()))
	return min(max(x, lo), hi)
}

// categorical samples an index from fixed weights in constant time with
// Walker's alias method (Vose's construction): one uniform draw picks a
// column and decides between it and its alias.
type categorical struct {
	cols []aliasCol
	n    float64   // len(cols), the scale of the uniform draw
	cum  []float64 // cumulative probabilities, for callers that need them
}

// aliasCol is one column of the alias table, its probability and alias
// side by side so a draw touches one cache line.
type aliasCol struct {
	prob  float64
	alias int32
}

func newCategorical(weights ...float64) categorical {
	n := len(weights)
	var sum float64
	for _, w := range weights {
		sum += w
	}
	c := categorical{cols: make([]aliasCol, n), n: float64(n), cum: make([]float64, n)}
	scaled := make([]float64, n)
	var small, large []int32
	var acc float64
	for i, w := range weights {
		acc += w / sum
		c.cum[i] = acc
		scaled[i] = w / sum * float64(n)
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	c.cum[n-1] = 1
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		c.cols[s] = aliasCol{scaled[s], l}
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large, small = large[:len(large)-1], append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		c.cols[i] = aliasCol{1, i}
	}
	return c
}

func (c *categorical) sample(r rng) int {
	u := float64(r.Float64() * c.n) // rounded, so u-float64(i) cannot fuse
	i := int(u)
	col := c.cols[i]
	// A select, not a branch: the outcome is a coin toss the CPU cannot
	// predict.
	j := int(col.alias)
	if u-float64(i) < col.prob {
		j = i
	}
	return j
}

// weight returns the probability of index i.
func (c *categorical) weight(i int) float64 {
	if i == 0 {
		return c.cum[0]
	}
	return c.cum[i] - c.cum[i-1]
}

// zipf returns the cumulative table of P(rank k) ∝ 1/k^s for k = 1..n.
func zipf(n int, s float64) categorical {
	w := make([]float64, n)
	for k := range w {
		w[k] = math.Pow(float64(k+1), -s)
	}
	return newCategorical(w...)
}

// pcg is the PCG generator of math/rand/v2 (rand.PCG): a 128-bit LCG
// with the DXSM output function of O'Neill's PCG family, from the same
// state giving the same numbers. It is the package's own so the hottest
// draws inline; TestPCGMatchesRand holds it to rand.PCG.
type pcg struct{ hi, lo uint64 }

// Seed sets the state as rand.PCG.Seed does.
func (p *pcg) Seed(seed1, seed2 uint64) { p.hi, p.lo = seed1, seed2 }

// Uint64 advances the LCG and returns the DXSM output of the new state.
func (p *pcg) Uint64() uint64 {
	const (
		mulHi = 0x2360ed051fc65da4 // 128-bit LCG multiplier
		mulLo = 0x4385df649fccf645
		incHi = 0x5851f42d4c957f2d // 128-bit LCG increment
		incLo = 0x14057b7ef767814f
		cheap = 0xda942042e4dd58b5 // DXSM's 64-bit multiplier
	)
	hi, lo := bits.Mul64(p.lo, mulLo)
	hi += p.hi*mulLo + p.lo*mulHi
	lo, c := bits.Add64(lo, incLo, 0)
	hi, _ = bits.Add64(hi, incHi, c)
	p.hi, p.lo = hi, lo
	hi ^= hi >> 32
	hi *= cheap
	hi ^= hi >> 48
	return hi * (lo | 1)
}

// rng draws from a PCG stream. Float64 and IntN call the PCG directly,
// sparing the interface call of rand.Rand on the hottest draws, and return
// exactly what rand.Rand's methods return; the other draws (NormFloat64,
// ExpFloat64) go through the embedded rand.Rand on the same stream.
type rng struct {
	*rand.Rand
	p *pcg
}

func newRNG(p *pcg) rng { return rng{rand.New(p), p} }

// Float64 returns a uniform float64 in [0, 1) from the top 53 bits' worth
// of one draw, as rand.Rand.Float64 does.
func (r rng) Float64() float64 { return float64(r.p.Uint64()&(1<<53-1)) * 0x1p-53 }

// IntN returns a uniform int in [0, n) by Lemire's multiply-and-reject
// method on one 64-bit draw, as rand.Rand.IntN does (its 32-bit platform
// path computes the same product in halves, with the same outcome). It
// panics if n <= 0.
func (r rng) IntN(n int) int {
	if n <= 0 {
		panic("synth: invalid argument to IntN")
	}
	m := uint64(n)
	if m&(m-1) == 0 {
		return int(r.p.Uint64() & (m - 1))
	}
	hi, lo := bits.Mul64(r.p.Uint64(), m)
	if lo < m {
		thresh := -m % m
		for lo < thresh {
			hi, lo = bits.Mul64(r.p.Uint64(), m)
		}
	}
	return int(hi)
}
