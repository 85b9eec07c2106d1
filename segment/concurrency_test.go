package segment

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentReadersAndWriters runs writers that move members between
// tags a and b and transfer value between members of x — keeping |a|+|b|,
// a∩b = ∅ and Σx constant in every committed version — against readers
// that check those invariants on whatever view they take, and that a view
// held across many writes never changes. Run it with -race.
func TestConcurrentReadersAndWriters(t *testing.T) {
	const n = 3 * chunkSize // three chunks, so writes copy chunks
	const total = int64(1_000_000)
	ix := New(nil)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		for _, name := range []string{"a", "b"} {
			require.NoError(t, tx.Declare(name, KindTag))
		}
		require.NoError(t, tx.Declare("x", KindInt))
		w := make([]uint64, n/64)
		for i := range w {
			w[i] = 0xaaaaaaaaaaaaaaaa // odd members in a, even in b
		}
		require.NoError(t, tx.ReplaceTagWords("a", w))
		for i := range w {
			w[i] = ^w[i]
		}
		require.NoError(t, tx.ReplaceTagWords("b", w))
		vals := make([]int64, n)
		vals[0] = total
		return tx.ReplaceIntColumn("x", vals, nil)
	}))

	writes := 60
	if raceEnabled {
		writes = 25
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range writes {
				require.NoError(t, ix.Update(func(tx *Tx) error {
					for range 20 {
						// Moves within one transaction must see each other,
						// so they read the transaction, not a view.
						id := rng.Uint32N(n)
						from, to := "a", "b"
						if inB, _ := tx.HasTag("b", id); inB {
							from, to = "b", "a"
						}
						require.NoError(t, tx.RemoveTag(from, id))
						require.NoError(t, tx.AddTag(to, id))
						src, dst := rng.Uint32N(n), rng.Uint32N(n)
						if src == dst {
							continue
						}
						sv, _, _ := tx.Int("x", src)
						dv, _, _ := tx.Int("x", dst)
						amount := sv / 2
						require.NoError(t, tx.SetInt("x", src, sv-amount))
						require.NoError(t, tx.SetInt("x", dst, dv+amount))
					}
					return nil
				}))
			}
		})
	}
	var readers sync.WaitGroup
	var checks atomic.Int64
	for range 3 {
		readers.Go(func() {
			var last uint64
			for !done.Load() || checks.Load() < 6 {
				v := ix.View()
				assert.GreaterOrEqual(t, v.Version(), last, "versions never go back")
				last = v.Version()
				na, err := v.Count(Tag("a"))
				require.NoError(t, err)
				nb, _ := v.Count(Tag("b"))
				assert.Equal(t, uint64(n), na+nb, "version %d", v.Version())
				both, _ := v.Count(And(Tag("a"), Tag("b")))
				assert.Zero(t, both)
				st, err := v.IntStats(All(), "x")
				require.NoError(t, err)
				assert.Equal(t, total, st.Sum, "version %d", v.Version())
				// The same view answers the same after writers moved on.
				seq, _ := v.IDs(Tag("a"))
				var walked uint64
				for range seq {
					walked++
				}
				assert.Equal(t, na, walked)
				checks.Add(1)
			}
		})
	}
	wg.Wait()
	done.Store(true)
	readers.Wait()
	assert.Equal(t, uint64(1+2*writes), ix.View().Version())
}

// TestOldViewIsStable takes a view, rewrites every field many times and
// checks the view still answers exactly as before.
func TestOldViewIsStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	ix, _ := refData(t, rng, 70000)
	old := ix.View().AtDay(19810)
	plans := []*Plan{Tag("dense"), Between("small", -100, 100), Active("buy", 5), Enum("tier", "gold"), Not(Tag("threshold"))}
	before := make([][]uint32, len(plans))
	for i, p := range plans {
		before[i] = ids(t, old, p)
	}
	for range 3 {
		require.NoError(t, ix.Update(func(tx *Tx) error {
			for range 500 {
				id := rng.Uint32N(70000)
				require.NoError(t, tx.AddTag("dense", id))
				require.NoError(t, tx.RemoveTag("threshold", id))
				require.NoError(t, tx.SetInt("small", id, rng.Int64N(300)-150))
				require.NoError(t, tx.SetEnum("tier", id, "gold"))
				require.NoError(t, tx.RecordActivityDay("buy", 19808, id))
			}
			return tx.RemoveMember(rng.Uint32N(70000))
		}))
	}
	for i, p := range plans {
		sameIDs(t, before[i], ids(t, old, p), "plan %v changed under an old view", p)
	}
}
