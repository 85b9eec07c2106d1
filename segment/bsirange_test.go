package segment

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setEvalMode sets, for the rest of a test, which range kernels run (the
// assembly ones where the CPU has them, or the Go ones) and whether
// evaluation spreads even a few chunks over several goroutines, so that
// every path is checked against the same references.
func setEvalMode(t testing.TB, useSIMD, parallel bool) {
	t.Helper()
	oldSIMD, oldMin, oldWork := simd, minChunksPerWorker, minWorkPerWorker
	simd = useSIMD && haveSIMD()
	if parallel {
		minChunksPerWorker, minWorkPerWorker = 1, 1
		if runtime.GOMAXPROCS(0) < 2 {
			old := runtime.GOMAXPROCS(2)
			t.Cleanup(func() { runtime.GOMAXPROCS(old) })
		}
	}
	t.Cleanup(func() { simd, minChunksPerWorker, minWorkPerWorker = oldSIMD, oldMin, oldWork })
}

// evalModes are the combinations setEvalMode can make.
var evalModes = []struct {
	name           string
	simd, parallel bool
}{
	{"simd/serial", true, false},
	{"go/parallel", false, true},
	{"simd/parallel", true, true},
	{"go/serial", false, false},
}

// randomTrack fills the groups of live in e with random words (some
// sparse, some full) and zeroes the rest, as the walk keeps a track.
func randomTrack(rng *rand.Rand, e *block, live uint64) uint64 {
	*e = block{}
	var got uint64
	for g := range rangeBlock / groupWords {
		if live>>g&1 == 0 {
			continue
		}
		for j := g * groupWords; j < (g+1)*groupWords; j++ {
			e[j] = randomWord(rng)
		}
		var t uint64
		for _, w := range e[g*groupWords : (g+1)*groupWords] {
			t |= w
		}
		got |= nonzero(t) << g
	}
	return got
}

func randomWord(rng *rand.Rand) uint64 {
	switch rng.IntN(6) {
	case 0:
		return 0
	case 1:
		return ^uint64(0)
	case 2:
		return 1 << rng.IntN(64)
	}
	return rng.Uint64()
}

func randomMask(rng *rand.Rand) uint64 {
	switch rng.IntN(4) {
	case 0:
		return ^uint64(0)
	case 1:
		return 0
	case 2:
		return 1 << rng.IntN(64)
	}
	return rng.Uint64()
}

// TestRangeKernelsAgree checks the specialised Go kernels and the assembly
// ones against stepGroupsMasked, the step written as plainly as possible,
// for every pair of step kinds on random tracks, planes and live groups.
func TestRangeKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	var x, in0 block
	for range 200 {
		for j := range x {
			x[j] = randomWord(rng)
			in0[j] = randomWord(rng)
		}
		var ea0, eb0 block
		liveA := randomTrack(rng, &ea0, randomMask(rng))
		liveB := randomTrack(rng, &eb0, randomMask(rng)&^(rng.Uint64()&randomMask(rng)))
		for ka := range stepKind(4) {
			for kb := range stepKind(4) {
				msg := fmt.Sprintf("kinds %d/%d live %x/%x", ka, kb, liveA, liveB)
				var m [4]uint64
				m[0], m[1] = ka.masks()
				m[2], m[3] = kb.masks()
				wantA, wantB, wantIn := ea0, eb0, in0
				wla, wlb := stepGroupsMasked(&wantA, &wantB, &x, &wantIn, liveA|liveB, &m)

				ea, eb, in := ea0, eb0, in0
				la, lb := stepGroupsGo(ka, kb, &ea, &eb, &x, &in, liveA, liveB)
				require.Equal(t, [2]uint64{wla, wlb}, [2]uint64{la, lb}, "go: live groups, %s", msg)
				require.True(t, ea == wantA && eb == wantB && in == wantIn, "go: words, %s", msg)

				if !haveSIMD() {
					continue
				}
				ea, eb, in = ea0, eb0, in0
				la, lb = stepSIMD(ka, kb, &ea, &eb, &x, &in, liveA, liveB)
				require.Equal(t, [2]uint64{wla, wlb}, [2]uint64{la, lb}, "simd: live groups, %s", msg)
				require.True(t, ea == wantA && eb == wantB && in == wantIn, "simd: words, %s", msg)
			}
		}
	}
}

// TestStepGroupsMaskedByHand checks the reference step itself on one word
// worked out by hand: track A follows a bound bit 0 and emits (members
// with the bit rise above a), track B follows a bound bit 1 and emits
// (members without it fall below b).
func TestStepGroupsMaskedByHand(t *testing.T) {
	var ea, eb, x, in block
	ea[0], eb[0], x[0] = 0b1100, 0b0011, 0b1010
	m := [4]uint64{0, ^uint64(0), ^uint64(0), ^uint64(0)}
	la, lb := stepGroupsMasked(&ea, &eb, &x, &in, 1, &m)
	// A: members 2 and 3; 3 has the bit and leaves into the answer, 2 stays.
	// B: members 0 and 1; 0 lacks the bit and leaves into the answer.
	assert.Equal(t, uint64(0b0100), ea[0])
	assert.Equal(t, uint64(0b0010), eb[0])
	assert.Equal(t, uint64(0b1001), in[0])
	assert.Equal(t, [2]uint64{1, 1}, [2]uint64{la, lb})
}

// TestMagRangeFullAndEmptyPlanes checks the kernel where a chunk's plane is
// full (every member has the bit) or absent while higher planes are not,
// against a scan, on both kernels.
func TestMagRangeFullAndEmptyPlanes(t *testing.T) {
	for _, mode := range evalModes[:2] {
		t.Run(mode.name, func(t *testing.T) {
			setEvalMode(t, mode.simd, mode.parallel)
			rng := rand.New(rand.NewPCG(9, 9))
			const depth = 12
			mags := make([]uint64, chunkSize)
			found := new(words)
			for j := range mags {
				// Bit 5 always set, bit 3 never, the rest random; a few
				// members absent, and the last block mostly empty.
				mags[j] = rng.Uint64N(1<<depth)&^(1<<3) | 1<<5
				if rng.IntN(10) > 0 && (j < chunkSize/2 || rng.IntN(500) == 0) {
					found[j>>6] |= 1 << (j & 63)
				}
			}
			pcs := planesOf(mags, depth)
			require.Equal(t, fullWords, pcs[5].w, "plane 5 is full")
			require.Nil(t, pcs[3], "plane 3 is empty")
			rs := new(rangeScratch)
			get := func() *words { return new(words) }
			bounds := [][2]uint64{{0, 1<<depth - 1}, {32, 32}, {40, 40}, {31, 33}, {0, 31}, {32, 4095},
				{100, 200}, {8, 8}, {37, 45}, {1 << 11, 1<<11 + 1<<5}, {0, 0}, {4095, 4095}}
			for range 30 {
				a := rng.Uint64N(1 << depth)
				bounds = append(bounds, [2]uint64{a, a + rng.Uint64N(1<<depth-a)})
			}
			for _, bd := range bounds {
				a, b := bd[0], bd[1]
				want := new(words)
				for j, m := range mags {
					if found[j>>6]>>(j&63)&1 == 1 && a <= m && m <= b {
						want[j>>6] |= 1 << (j & 63)
					}
				}
				out := new(words)
				rs.magRangeInto(out, found, nil, pcs, get, a, b)
				for j := range out {
					if out[j] != want[j] {
						require.Failf(t, "mismatch", "[%d, %d] members %d..%d: got %064b, want %064b", a, b, 64*j, 64*j+63, out[j], want[j])
					}
				}
				assert.Equal(t, popcount(want), rs.magRangeInto(nil, found, nil, pcs, get, a, b), "count of [%d, %d]", a, b)
			}
		})
	}
}

// planesOf builds the plane containers of magnitudes as the index holds
// them: arrays when sparse, absent when empty, the shared full chunk.
func planesOf(mags []uint64, depth int) []*container {
	planes := make([]*words, depth)
	for i := range planes {
		planes[i] = new(words)
	}
	for j, m := range mags {
		for ; m != 0; m &= m - 1 {
			planes[bits.TrailingZeros64(m)][j>>6] |= 1 << (j & 63)
		}
	}
	pcs := make([]*container, depth)
	for i, w := range planes {
		pcs[i] = containerFromWords(0, w, popcount(w))
	}
	return pcs
}

// TestMagRangeAgainstScanGo is TestMagRangeAgainstScan on the Go kernels.
func TestMagRangeAgainstScanGo(t *testing.T) {
	setEvalMode(t, false, false)
	TestMagRangeAgainstScan(t)
}

// rangeFixture is refData over n members with two more int fields for the
// edge cases: full, which every one of the n members has (signed, edges
// included), and none, declared but empty.
func rangeFixture(t *testing.T, n uint32) (*Index, *refModel) {
	t.Helper()
	rng := rand.New(rand.NewPCG(21, 5))
	ix, ref := refData(t, rng, n)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("full", KindInt))
		require.NoError(t, tx.Declare("none", KindInt))
		ref.ints["full"], ref.ints["none"] = &refCol[*int64]{}, &refCol[*int64]{}
		vals := make([]int64, n)
		for i := range vals {
			switch rng.IntN(8) {
			case 0:
				vals[i] = math.MinInt64
			case 1:
				vals[i] = math.MaxInt64
			case 2:
				vals[i] = -1
			case 3:
				vals[i] = rng.Int64() - rng.Int64()
			default:
				vals[i] = rng.Int64N(200_000) - 100_000
			}
			ref.ints["full"].set(uint32(i), ptr(vals[i]))
		}
		require.NoError(t, tx.ReplaceIntColumn("full", vals, nil))
		return nil
	}))
	return ix, ref
}

// rangePlan makes a random plan of the shapes the planner fuses or folds —
// two comparisons on one field, a comparison and a negated one, has() and a
// negated comparison, IN lists, !=, ranges within a tag — with constants at
// the int64 edges and around 0 as often as anywhere else.
func rangePlan(rng *rand.Rand) *Plan {
	f := []string{"small", "wide", "age", "full", "none"}[rng.IntN(5)]
	c := func() int64 {
		switch rng.IntN(9) {
		case 0:
			return math.MinInt64
		case 1:
			return math.MaxInt64
		case 2:
			return math.MinInt64 + 1
		case 3:
			return math.MaxInt64 - 1
		case 4:
			return rng.Int64N(5) - 2
		case 5:
			return rng.Int64() - rng.Int64()
		}
		return rng.Int64N(2401) - 1200
	}
	a, b := c(), c()
	if rng.IntN(5) > 0 && a > b {
		a, b = b, a
	}
	op := func() Op { return Op(1 + rng.IntN(6)) }
	in := func() *Plan {
		vals := []int64{a, b, a + 1, c()}
		return IntIn(f, vals[:1+rng.IntN(len(vals))]...)
	}
	switch rng.IntN(12) {
	case 0:
		return And(Cmp(f, Ge, a), Cmp(f, Le, b))
	case 1:
		return And(Not(Cmp(f, Lt, a)), Cmp(f, Le, b))
	case 2:
		return And(Has(f), Not(Cmp(f, op(), a)))
	case 3:
		return And(Cmp(f, op(), a), Not(Has(f)))
	case 4:
		return And(Cmp(f, op(), a), Not(Cmp(f, op(), b)), Not(in()))
	case 5:
		return And(Not(Cmp(f, Lt, a)), Not(Cmp(f, Gt, b)))
	case 6:
		return in()
	case 7:
		return Not(in())
	case 8:
		return Cmp(f, Ne, a)
	case 9:
		return And(Tag([]string{"dense", "sparse", "clustered"}[rng.IntN(3)]), Between(f, a, b))
	case 10:
		return Or(Between(f, a, b), Cmp(f, op(), c()))
	}
	return And(Between(f, a, b), Not(in()), Has(f))
}

// TestRangePlansAllModes checks range plans against the reference on every
// kernel and with evaluation spread over goroutines or not: counts, IDs,
// bitmaps, pages, and the stats of a field over the audience.
func TestRangePlansAllModes(t *testing.T) {
	// Three chunks and a far one: enough for two workers taking turns.
	ix, ref := rangeFixture(t, 2*chunkSize+777)
	v := ix.View()
	rng := rand.New(rand.NewPCG(3, 3))
	plans := make([]*Plan, scaled(48))
	wants := make([][]uint32, len(plans))
	for i := range plans {
		plans[i] = rangePlan(rng)
		wants[i] = ref.eval(plans[i], 0)
	}
	for _, mode := range evalModes {
		t.Run(mode.name, func(t *testing.T) {
			setEvalMode(t, mode.simd, mode.parallel)
			for i, p := range plans {
				msg := fmt.Sprintf("plan %d: %v", i, p)
				checkPlanAgainst(t, v, p, wants[i], msg)
				if i%4 == 0 {
					checkStats(t, v, ref, p, wants[i], "full", msg)
				}
			}
		})
	}
}

// checkStats compares IntStats of field over p with a sum worked out from
// the reference members want.
func checkStats(t *testing.T, v *View, ref *refModel, p *Plan, want []uint32, field, msg string) {
	t.Helper()
	var st IntStats
	var sum int128
	st.Min, st.Max = math.MaxInt64, math.MinInt64
	for _, id := range want {
		px := ref.ints[field].get(id)
		if px == nil {
			continue
		}
		x := *px
		st.Count++
		if x < 0 {
			var neg int128
			neg.addShifted(uint64(-x), 0)
			sum.sub(neg)
		} else {
			sum.addShifted(uint64(x), 0)
		}
		st.Min, st.Max = min(st.Min, x), max(st.Max, x)
	}
	got, err := v.IntStats(p, field)
	if st.Count == 0 {
		require.NoError(t, err, msg)
		assert.Equal(t, IntStats{}, got, msg)
		return
	}
	s, fits := sum.int64()
	if !fits {
		assert.ErrorIs(t, err, ErrOverflow, msg)
		return
	}
	st.Sum = s
	require.NoError(t, err, msg)
	assert.Equal(t, st, got, "stats of %s over %s", field, msg)
}

// TestPlannerFusesRanges checks the plans the planner is meant to turn into
// a single range scan do become one, with the bounds worked out by hand.
func TestPlannerFusesRanges(t *testing.T) {
	ix, _ := rangeFixture(t, 2000)
	v := ix.View()
	for _, tc := range []struct {
		p    *Plan
		want []valRange
	}{
		{And(Cmp("age", Ge, 18), Cmp("age", Le, 35)), []valRange{{18, 35}}},
		{And(Not(Cmp("age", Lt, 18)), Cmp("age", Le, 35)), []valRange{{18, 35}}},
		{And(Has("age"), Not(Cmp("age", Lt, 18))), []valRange{{18, math.MaxInt64}}},
		{And(Cmp("age", Gt, 10), Not(IntIn("age", 20, 21, 30))), []valRange{{11, 19}, {22, 29}, {31, math.MaxInt64}}},
		{Cmp("age", Ne, 5), []valRange{{math.MinInt64, 4}, {6, math.MaxInt64}}},
		{IntIn("wide", math.MaxInt64, math.MinInt64, math.MaxInt64-1), []valRange{{math.MinInt64, math.MinInt64}, {math.MaxInt64 - 1, math.MaxInt64}}},
	} {
		pr, err := v.prepare(tc.p)
		require.NoError(t, err)
		if assert.Equal(t, xRange, pr.root.kind, "%v", tc.p) {
			assert.Equal(t, tc.want, pr.root.ranges, "%v", tc.p)
		}
	}
	for _, p := range []*Plan{
		And(Cmp("age", Gt, 10), Not(Has("age"))),
		And(Cmp("age", Ge, 40), Not(Cmp("age", Gt, 20))),
		And(Has("age"), Not(Cmp("age", Ge, math.MinInt64))),
	} {
		pr, err := v.prepare(p)
		require.NoError(t, err)
		assert.Equal(t, xEmpty, pr.root.kind, "%v is empty", p)
	}
	pr, err := v.prepare(And(Has("age"), Not(Cmp("age", Lt, math.MinInt64))))
	require.NoError(t, err)
	assert.Equal(t, xLeaf, pr.root.kind, "a range of every value is has()")
}

// TestPropertyParallel runs the reference property tests with evaluation
// spread over goroutines even on a few chunks, on each kernel.
func TestPropertyParallel(t *testing.T) {
	for _, mode := range evalModes[1:3] {
		t.Run(mode.name, func(t *testing.T) {
			setEvalMode(t, mode.simd, mode.parallel)
			TestPropertyTopNAndStats(t)
			if !raceEnabled {
				TestPropertyAgainstReference(t)
			}
		})
	}
}
