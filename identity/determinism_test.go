package identity

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/internal/synth"
)

// synthFeed is a pharmacy chain's identifier feed from internal/synth:
// every observation of members members, in time order (ties by event ID),
// with junk values, shared store phones and kiosk tablets, and limits
// that bind.
func synthFeed(t testing.TB, members int, seed uint64) []Observation {
	t.Helper()
	g, err := synth.New(synth.Config{Seed: seed, Members: members})
	require.NoError(t, err)
	type ev struct {
		id uint64
		o  Observation
	}
	var evs []ev
	for o := range g.Observations() {
		ids := make([]Identifier, len(o.IDs))
		for i, x := range o.IDs {
			ids[i] = Identifier{Kind: x.Kind, Value: x.Value, Scope: x.Scope}
		}
		evs = append(evs, ev{o.EventID, Observation{EventID: strconv.FormatUint(o.EventID, 10), Source: o.Source, Time: o.Time, Identifiers: ids}})
	}
	slices.SortFunc(evs, func(a, b ev) int { return cmp.Or(a.o.Time.Compare(b.o.Time), cmp.Compare(a.id, b.id)) })
	obs := make([]Observation, len(evs))
	for i := range evs {
		obs[i] = evs[i].o
	}
	return obs
}

// TestBulkPathsAreDeterministic resolves the same observations through
// the bulk paths (Resolve and ObserveBatch) with 1 to 8 preparing
// goroutines, in batches of varied sizes and with lookups running
// alongside, and requires exactly what Observe one at a time gives: each
// observation's person ID, the partition, the lineage and the merge
// changes — the outcome may depend on the order of the observations only,
// never on scheduling.
func TestBulkPathsAreDeterministic(t *testing.T) {
	members := 1000
	if testing.Short() {
		members = 400
	}
	obs := synthFeed(t, members, 11)
	cfg := Config{Kinds: DefaultKinds()}

	ref, err := New(cfg)
	require.NoError(t, err)
	var refChanges []Change
	ref.Subscribe(func(c Change) { refChanges = append(refChanges, c) })
	want := make([]PersonID, len(obs))
	merges := 0
	for i, o := range obs {
		res, _ := ref.Observe(o)
		want[i] = res.Person
		merges += len(res.Merged)
	}
	require.Positive(t, merges, "the feed must merge persons for the test to mean anything")
	wantOutcomes, wantPartition := outcomes(ref), partition(t, ref)

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 8 {
		procs := []int{1, 2, 3, 8}[trial%4]
		runtime.GOMAXPROCS(procs)
		name := fmt.Sprintf("trial %d (GOMAXPROCS %d)", trial, procs)

		r, err := New(cfg)
		require.NoError(t, err)
		var changes []Change
		r.Subscribe(func(c Change) { changes = append(changes, c) })
		// Readers take the lock between chunks, as a host's lookups do.
		stop := make(chan struct{})
		var lookups atomic.Int64
		var wg sync.WaitGroup
		var started sync.WaitGroup // each reader has looked up once
		for w := range 2 {
			started.Add(1)
			wg.Go(func() {
				first := true
				for i := w; ; i = (i + 7) % len(obs) {
					select {
					case <-stop:
						return
					default:
					}
					for _, x := range obs[i].Identifiers {
						_, _ = r.Lookup(x)
					}
					lookups.Add(1)
					if first {
						first = false
						started.Done()
					}
				}
			})
		}
		// With one P the readers might otherwise not run before the batch
		// is resolved, and would check nothing.
		started.Wait()
		got := make([]PersonID, len(obs))
		for lo := 0; lo < len(obs); {
			// From under one chunk to many chunks per batch.
			hi := min(len(obs), lo+1+rng.IntN(6*batchChunk*procs))
			if trial%2 == 0 {
				var b Batch
				for _, o := range obs[lo:hi] {
					require.NoError(t, b.Add(o))
				}
				_, _ = r.Resolve(&b, got[lo:hi])
			} else {
				results := make([]Result, hi-lo)
				_ = r.ObserveBatch(obs[lo:hi], results)
				for i := range results {
					got[lo+i] = results[i].Person
				}
			}
			lo = hi
		}
		close(stop)
		wg.Wait()
		require.Positive(t, lookups.Load(), name)

		for i := range want {
			if got[i] != want[i] {
				assert.Failf(t, "person differs", "%s: observation %d (event %s): person %d, one at a time %d",
					name, i, obs[i].EventID, got[i], want[i])
				break
			}
		}
		assert.Equal(t, wantPartition, partition(t, r), name)
		assert.Equal(t, wantOutcomes, outcomes(r), name)
		assert.Equal(t, refChanges, changes, name)
		r.mu.RLock()
		require.NoError(t, r.check(), name)
		r.mu.RUnlock()
	}
}

// TestPipelineAppliesChunksInOrder drives the pipeline with preparations
// of uneven length on more goroutines than cores, so that workers are
// paused at every point, and requires every chunk to be applied once, in
// order, with what was prepared for it.
func TestPipelineAppliesChunksInOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	r, err := New(Config{Kinds: DefaultKinds()})
	require.NoError(t, err)
	rounds := 2000
	if testing.Short() {
		rounds = 300
	}
	for round := range rounds {
		procs := 2 + round%7
		runtime.GOMAXPROCS(procs)
		n := batchChunk*(3*procs+round%11) + round%batchChunk
		var applied []int
		var sink atomic.Uint64
		r.pipeline(n, func(w *chunkWork) {
			// Uneven work, and yields where a worker may be paused.
			spin := uint64(w.start/batchChunk*7919%13) * 50
			for i := range spin {
				sink.Add(i)
			}
			runtime.Gosched()
			for i := w.start; i < w.end; i++ {
				w.preps[i-w.start].t = uint32(i)
			}
		}, func(w *chunkWork) {
			applied = append(applied, w.start)
			for i := w.start; i < w.end; i++ {
				if w.preps[i-w.start].t != uint32(i) {
					require.Failf(t, "chunk prepared for another", "round %d: observation %d holds %d", round, i, w.preps[i-w.start].t)
				}
			}
			runtime.Gosched()
		})
		want := make([]int, 0, len(applied))
		for s := 0; s < n; s += batchChunk {
			want = append(want, s)
		}
		require.Equal(t, want, applied, "round %d: GOMAXPROCS %d, %d observations", round, procs, n)
	}
}
