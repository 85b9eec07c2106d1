package rfm

import "math/bits"

// int128 is a two's-complement 128-bit integer, enough to sum 2^32 int64
// values and compare a value times a count with a sum exactly (the mean
// tests of Classes must not depend on float rounding).
type int128 struct {
	hi int64
	lo uint64
}

func int128Of(v int64) int128 {
	return int128{hi: v >> 63, lo: uint64(v)}
}

func (a int128) add(b int128) int128 {
	lo, carry := bits.Add64(a.lo, b.lo, 0)
	return int128{hi: a.hi + b.hi + int64(carry), lo: lo}
}

// mulInt64 returns v*n exactly for n >= 0.
func mulInt64(v int64, n uint64) int128 {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u
	}
	hi, lo := bits.Mul64(u, n)
	r := int128{hi: int64(hi), lo: lo}
	if neg {
		// negate: invert and add one
		r = int128{hi: ^r.hi, lo: ^r.lo}.add(int128{lo: 1})
	}
	return r
}

func (a int128) cmp(b int128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}
