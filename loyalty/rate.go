package loyalty

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Points rates are exact fractions: the product of the multipliers that
// apply to a line, each in basis points. An order document keeps each
// line's rate as the fraction's string in lowest terms ("6/5", "1"), so
// a refund recomputes points with the rules the order was placed under.
//
// Every order computes rates and every order and refund turns them into
// points, so the common case runs on uint64 fractions; only products too
// large for 64 bits (multipliers far outside any real programme) fall
// back to math/big, which gives the same strings and the same points.

// lineRateString is the rate of one order line as its document keeps it.
func (p *Program) lineRateString(tier int, channel string, card Multiplier, category string, at time.Time) string {
	num, den := uint64(p.cfg.Tiers[tier].Multiplier.orOne()), uint64(bp)
	ok := true
	mul := func(m Multiplier) {
		if ok {
			num, den, ok = mulFrac(num, den, uint64(m), bp)
		}
	}
	num, den = reduce(num, den)
	if m, found := p.cfg.Earning.ChannelMultipliers[channel]; found {
		mul(m)
	}
	if card != 0 {
		mul(card)
	}
	for i := range p.campaigns {
		c := &p.campaigns[i]
		if at.Before(c.from) || !at.Before(c.to) {
			continue
		}
		if c.channels != nil && !c.channels[channel] || c.categories != nil && !c.categories[category] {
			continue
		}
		mul(c.Multiplier)
	}
	if !ok {
		return rateString(p.lineRate(tier, channel, card, category, at))
	}
	return p.fracString(num, den)
}

// mulFrac returns a/b × c/d in lowest terms (a/b already is), or ok
// false if it does not fit in uint64.
func mulFrac(a, b, c, d uint64) (num, den uint64, ok bool) {
	if b == 0 || d == 0 {
		return 0, 0, false
	}
	// Cross-reduce first, as big.Rat's result is in lowest terms anyway
	// and smaller factors overflow less.
	if g := gcd(a, d); g > 1 {
		a, d = a/g, d/g
	}
	if g := gcd(c, b); g > 1 {
		c, b = c/g, b/g
	}
	hi, n := bits.Mul64(a, c)
	if hi != 0 {
		return 0, 0, false
	}
	hi, m := bits.Mul64(b, d)
	if hi != 0 {
		return 0, 0, false
	}
	num, den = reduce(n, m)
	return num, den, true
}

func reduce(n, d uint64) (uint64, uint64) {
	if g := gcd(n, d); g > 1 {
		return n / g, d / g
	}
	return n, d
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// fracString formats num/den as big.Rat.RatString does. The few rates a
// programme produces are formatted once and kept.
func (p *Program) fracString(num, den uint64) string {
	if den == 1 && num < 100 {
		return strconv.FormatUint(num, 10) // small numbers are not allocated
	}
	key := [2]uint64{num, den}
	if s, ok := p.rates.Load(key); ok {
		return s.(string)
	}
	s := strconv.FormatUint(num, 10)
	if den != 1 {
		s += "/" + strconv.FormatUint(den, 10)
	}
	p.rates.Store(key, s)
	return s
}

// parseFrac reads a rate string in the form fracString writes: decimal
// digits without leading zeros, optionally "/" and a non-zero
// denominator. Anything else (which math/big may still read) reports
// false.
func parseFrac(s string) (num, den uint64, ok bool) {
	a, b, slash := strings.Cut(s, "/")
	num, ok = parseDecimal(a)
	if !ok {
		return 0, 0, false
	}
	if !slash {
		return num, 1, true
	}
	den, ok = parseDecimal(b)
	if !ok || den == 0 {
		return 0, 0, false
	}
	return num, den, true
}

// parseDecimal reads plain decimal digits; a leading zero (which math/big
// would read as octal) is refused unless it is the whole number.
func parseDecimal(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		hi, lo := bits.Mul64(v, 10)
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, false
		}
		v = lo
	}
	return v, true
}

// pointsAt is pointsFor on a rate string: floor(fen × ppy / 100 × rate),
// exactly, and 0 for a string that is not a rate.
func pointsAt(fen, ppy int64, rate string) int64 {
	if fen <= 0 || ppy == 0 {
		return 0
	}
	if num, den, ok := parseFrac(rate); ok && ppy > 0 {
		if pts, ok := pointsFrac(uint64(fen), uint64(ppy), num, den); ok {
			return pts
		}
	}
	if r := parseRate(rate); r != nil {
		return pointsFor(fen, ppy, r)
	}
	return 0
}

// pointsFrac is floor(fen × ppy × num / (100 × den)) when every step fits
// in 64 bits (the quotient in 63).
func pointsFrac(fen, ppy, num, den uint64) (int64, bool) {
	hi, a := bits.Mul64(fen, ppy)
	if hi != 0 {
		return 0, false
	}
	hi, d := bits.Mul64(100, den)
	if hi != 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(a, num)
	if hi >= d {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, d)
	if q > math.MaxInt64 {
		return 0, false
	}
	return int64(q), true
}

// rateString and parseRate keep an exact rate in an order document; they
// are the general forms of fracString and parseFrac.
func rateString(r *big.Rat) string { return r.RatString() }

func parseRate(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil
	}
	return r
}
