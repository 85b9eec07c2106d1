package synth

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRNGMatchesRand checks rng against math/rand/v2 itself, the reference
// the golden digests were made with: on the same stream, every Float64 and
// IntN must equal rand.Rand's, and draws must stay in step when interleaved
// with the rand.Rand methods rng delegates.
func TestRNGMatchesRand(t *testing.T) {
	// Powers of two (masked), small n, n just above a power of two and
	// n near 2^63, where rejection is most likely.
	ns := []uint64{1, 2, 3, 6, 7, 20, 24, 500, 3600, 1 << 20, 1<<32 + 1, 1<<62 + 1, 3 << 61, 1<<63 - 1}
	want := rand.New(rand.NewPCG(11, 12))
	got := newRNG(&pcg{11, 12})
	for i := range 200_000 {
		switch i % 4 {
		case 0:
			require.Equal(t, want.Float64(), got.Float64(), "draw %d: Float64", i)
		case 1:
			n := int(ns[i/4%len(ns)])
			if uint64(n) != ns[i/4%len(ns)] {
				n = 1<<31 - 1 // past a 32-bit int: the largest there is
			}
			require.Equal(t, want.IntN(n), got.IntN(n), "draw %d: IntN(%d)", i, n)
		case 2:
			require.Equal(t, want.NormFloat64(), got.NormFloat64(), "draw %d: NormFloat64", i)
		case 3:
			require.Equal(t, want.ExpFloat64(), got.ExpFloat64(), "draw %d: ExpFloat64", i)
		}
	}
	assert.Panics(t, func() { got.IntN(0) })
}

// TestPCGMatchesRand holds pcg to rand.PCG, the generator the golden
// digests were made with, from seeds of every shape: zero, small, the
// package's stream seeds and all ones.
func TestPCGMatchesRand(t *testing.T) {
	seeds := [][2]uint64{{0, 0}, {1, 2}, {^uint64(0), ^uint64(0)}, {1 << 63, 1}}
	for id := range uint32(4) {
		var p pcg
		seedStream(&p, 7, streamOrders, id)
		seeds = append(seeds, [2]uint64{p.hi, p.lo})
	}
	for _, s := range seeds {
		want := rand.NewPCG(s[0], s[1])
		var got pcg
		got.Seed(s[0], s[1])
		for i := range 10_000 {
			require.Equal(t, want.Uint64(), got.Uint64(), "seed %x, draw %d", s, i)
		}
	}
}
