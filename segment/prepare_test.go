package segment

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCountSerialAndParallelAgree counts random plans on a two-chunk index
// (one full, one partial) once below the parallel threshold and once above
// it, and checks both against the naive reference: the threshold only
// chooses how the chunks are spread, never what they count.
func TestCountSerialAndParallelAgree(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		old := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(old) })
	}
	oldWork := minWorkPerWorker
	t.Cleanup(func() { minWorkPerWorker = oldWork })
	rng := rand.New(rand.NewPCG(11, 3))
	ix, ref := refData(t, rng, chunkSize+5000)
	g := &planGen{rng: rng, day0: 19800}
	asOf := g.day0 + 10
	v := ix.View().AtDay(asOf)
	for i := range scaled(16) {
		p := g.plan(3)
		msg := fmt.Sprintf("plan %d: %v", i, p)
		want := uint64(len(ref.eval(p, asOf)))
		pr, err := v.prepare(p)
		require.NoError(t, err, msg)

		minWorkPerWorker = 1 << 30
		assert.Equal(t, 1, pr.workers(), "serial workers of %s", msg)
		serial, err := v.Count(p)
		require.NoError(t, err, msg)
		assert.Equal(t, want, serial, "serial count of %s", msg)

		minWorkPerWorker = 1
		if pr.cost > 0 {
			assert.Equal(t, 2, pr.workers(), "parallel workers of %s", msg)
		}
		parallel, err := v.Count(p)
		require.NoError(t, err, msg)
		assert.Equal(t, want, parallel, "parallel count of %s", msg)
	}
}

// TestWorkersThreshold checks the threshold worked out in minWorkPerWorker's
// comment: a 2-tag AND costs two passes per chunk, so at 32 passes per
// worker 16 chunks (1M members) run serially and 32 chunks on two cores; a
// range over a 24-bit attribute costs 26 passes (24 planes, exist, sign).
func TestWorkersThreshold(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		old := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(old) })
	}
	require.Equal(t, 32, minWorkPerWorker)
	for _, tc := range []struct {
		chunks, want int
	}{{1, 1}, {16, 1}, {31, 1}, {32, 2}, {40, 2}} {
		ix := New(nil)
		n := uint32(tc.chunks) * chunkSize
		require.NoError(t, ix.Update(func(tx *Tx) error {
			require.NoError(t, tx.AddMemberRange(0, n))
			for _, name := range []string{"a", "b"} {
				require.NoError(t, tx.Declare(name, KindTag))
				w := make([]uint64, n/64)
				for i := range w {
					w[i] = 0x5555_5555_5555_5555
				}
				require.NoError(t, tx.ReplaceTagWords(name, w))
			}
			require.NoError(t, tx.Declare("spend", KindInt))
			return tx.SetInt("spend", 0, 1<<23)
		}))
		v := ix.View()
		pr, err := v.prepare(And(Tag("a"), Tag("b")))
		require.NoError(t, err)
		assert.Equal(t, 2, pr.cost)
		assert.Equal(t, tc.want, pr.workers(), "%d chunks", tc.chunks)
		n2, err := v.Count(And(Tag("a"), Tag("b")))
		require.NoError(t, err)
		assert.Equal(t, uint64(n)/2, n2, "every other member is in both")
		rp, err := v.prepare(Between("spend", 1, 1<<24))
		require.NoError(t, err)
		assert.Equal(t, 26, rp.cost)
	}
}

// TestPreparedCacheFollowsVersionsAndDays reuses one plan across versions
// and as-of days: each view answers for its own version and day, never
// from a tree prepared for another.
func TestPreparedCacheFollowsVersionsAndDays(t *testing.T) {
	ix := New(nil)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("a", KindTag))
		require.NoError(t, tx.Declare("b", KindTag))
		require.NoError(t, tx.Declare("buy", KindEvent))
		require.NoError(t, tx.AddTag("a", 1, 2, 3))
		require.NoError(t, tx.AddTag("b", 2, 3))
		require.NoError(t, tx.RecordActivityDay("buy", 100, 1))
		return tx.RecordActivityDay("buy", 105, 2, 3)
	}))
	and := And(Tag("a"), Tag("b"))
	active := Active("buy", 3)
	old := ix.View()
	n, err := old.Count(and)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), n) // 2, 3
	// Day 101 sees buys on 99–101: member 1; day 106 sees 104–106: 2 and 3.
	for day, want := range map[Day]uint64{101: 1, 106: 2, 110: 0} {
		n, err := old.AtDay(day).Count(active)
		require.NoError(t, err)
		assert.Equal(t, want, n, "active on day %d", day)
	}

	require.NoError(t, ix.Update(func(tx *Tx) error {
		assert.Nil(t, tx.st.prep, "a state being written caches nothing")
		return tx.AddTag("b", 1)
	}))
	n, err = ix.View().Count(and)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), n, "the new version sees member 1 in b")
	n, err = old.Count(and)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), n, "the old view keeps its answer")
	assert.NotSame(t, old.st.prep, ix.View().st.prep)
}

// TestPreparedCacheBounded prepares more distinct plans than a state keeps:
// the cache starts over rather than growing, and every answer is right.
func TestPreparedCacheBounded(t *testing.T) {
	ix := New(nil)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("x", KindInt))
		for id := range uint32(10) {
			require.NoError(t, tx.SetInt("x", id, int64(id)))
		}
		return nil
	}))
	v := ix.View()
	for i := range prepCacheMax + 50 {
		// x >= i%10 holds for 10 - i%10 of the members 0..9.
		n, err := v.Count(Cmp("x", Ge, int64(i%10)))
		require.NoError(t, err)
		assert.Equal(t, uint64(10-i%10), n)
		assert.LessOrEqual(t, len(v.st.prep.m), prepCacheMax)
	}
}

// TestCountOfPreparedPlanAllocatesNothing checks the fixed cost a repeated
// count pays: with the plan prepared and the runner pooled, none.
func TestCountOfPreparedPlanAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own; run without -race")
	}
	ix := New(nil)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("a", KindTag))
		require.NoError(t, tx.Declare("b", KindTag))
		for id := uint32(0); id < 3*chunkSize; id += 3 {
			require.NoError(t, tx.AddTag("a", id, id+1))
			require.NoError(t, tx.AddTag("b", id+1, id+2))
		}
		return nil
	}))
	v := ix.View()
	p := And(Tag("a"), Tag("b"))
	n, err := v.Count(p)
	require.NoError(t, err)
	require.Equal(t, uint64(chunkSize), n) // the id+1 of every triple
	allocs := testing.AllocsPerRun(50, func() { _, _ = v.Count(p) })
	assert.Zero(t, allocs)
}
