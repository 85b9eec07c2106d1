package segment

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMagRangeAgainstScan checks the bit-plane range kernel against a plain
// scan of the magnitudes, for depths from 1 to 64 and bounds at the edges.
func TestMagRangeAgainstScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	rs := new(rangeScratch)
	for _, depth := range []int{1, 2, 7, 24, 63, 64} {
		maxMag := uint64(math.MaxUint64)
		if depth < 64 {
			maxMag = 1<<depth - 1
		}
		mags := make([]uint64, chunkSize)
		found, minus := new(words), new(words)
		planes := make([]*words, depth)
		for i := range planes {
			planes[i] = new(words)
		}
		skewed := depth >= 24 // most values small, a few large: sparse high planes
		for j := range mags {
			if skewed && rng.IntN(50) > 0 {
				mags[j] = rng.Uint64N(1 << 12)
				if rng.IntN(10) > 0 {
					found[j>>6] |= 1 << (j & 63)
				}
				for m := mags[j]; m != 0; m &= m - 1 {
					planes[bits.TrailingZeros64(m)][j>>6] |= 1 << (j & 63)
				}
				continue
			}
			switch rng.IntN(4) {
			case 0:
				mags[j] = maxMag - min(maxMag, rng.Uint64N(3))
			case 1:
				mags[j] = rng.Uint64N(4) & maxMag
			default:
				mags[j] = rng.Uint64() & maxMag
			}
			if rng.IntN(10) > 0 {
				found[j>>6] |= 1 << (j & 63)
			}
			if rng.IntN(5) == 0 {
				minus[j>>6] |= 1 << (j & 63)
			}
			for m := mags[j]; m != 0; m &= m - 1 {
				planes[bits.TrailingZeros64(m)][j>>6] |= 1 << (j & 63)
			}
		}
		// As the index holds them: sparse planes as arrays, empty ones absent.
		pcs := make([]*container, depth)
		for i, w := range planes {
			pcs[i] = containerFromWords(0, w, popcount(w))
		}
		get := func() *words { return new(words) }
		pick := func() uint64 {
			switch rng.IntN(6) {
			case 0:
				return 0
			case 1:
				return maxMag
			case 2:
				return mags[rng.IntN(len(mags))]
			case 4:
				return rng.Uint64N(1 << 13)
			case 3:
				return rng.Uint64()
			}
			return rng.Uint64() & maxMag
		}
		for range 40 {
			a, b := pick(), pick()
			if rng.IntN(4) > 0 && a > b {
				a, b = b, a
			}
			withMinus := rng.IntN(2) == 0
			out := new(words)
			var m *words
			if withMinus {
				m = minus
			}
			rs.magRangeInto(out, found, m, pcs, get, a, b)
			require.Equal(t, popcount(out), rs.magRangeInto(nil, found, m, pcs, get, a, b), "count-only")
			for j, m := range mags {
				bit := uint64(1) << (j & 63)
				in := found[j>>6]&bit != 0 && !(withMinus && minus[j>>6]&bit != 0)
				want := in && a <= m && m <= b
				got := out[j>>6]&bit != 0
				if want != got {
					require.Failf(t, "mismatch", "depth %d [%d, %d] member %d magnitude %d: got %v", depth, a, b, j, m, got)
				}
			}
		}
	}
}
