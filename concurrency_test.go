package cdpkit

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/segment"
)

// TestConcurrentUse runs writers (orders, observations that merge
// persons, attributes, events, a bulk load), refreshes, snapshots and
// readers at once, under the race detector in CI. Afterwards every order
// must have been counted exactly once, whatever merges moved it, and the
// engine must agree with one rebuilt from its own snapshot.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	e, err := New(scenarioConfig(t))
	require.NoError(t, err)
	require.NoError(t, e.DefineTags(scenarioTags...))
	require.NoError(t, e.SaveSegment("big", `spend_total >= 10000`))
	const customers = 40
	for c := range customers {
		_, err := e.Observe(ctx, identity.Observation{EventID: fmt.Sprint("reg-", c), Time: day(1, 1),
			Identifiers: []identity.Identifier{card(fmt.Sprint("K", c))}})
		require.NoError(t, err)
		_, err = e.Observe(ctx, identity.Observation{EventID: fmt.Sprint("app-", c), Time: day(1, 1),
			Identifiers: []identity.Identifier{phone(fmt.Sprintf("1370000%04d", c))}})
		require.NoError(t, err)
	}
	_, err = e.RefreshTags(ctx, day(1, 2))
	require.NoError(t, err)

	var total atomic.Int64 // net spend recorded
	var wg sync.WaitGroup
	rounds := 30
	if raceEnabled {
		rounds = 10
	}
	for w := range 4 { // order writers, each on its own customers, by card or phone
		wg.Go(func() {
			for i := range rounds {
				c := (w*7 + i) % customers
				id := card(fmt.Sprint("K", c))
				if i%2 == 1 {
					id = phone(fmt.Sprintf("1370000%04d", c))
				}
				amount := int64(100 * (w + 1))
				_, err := e.RecordOrder(ctx, Order{ID: fmt.Sprintf("w%d-%d", w, i), Identifiers: []identity.Identifier{id},
					Time: day(1, 3+i), Amount: amount, Lines: []Line{{Category: "rx_diabetes", Amount: amount, DaysSupply: 30}}})
				assert.NoError(t, err)
				total.Add(amount)
			}
		})
	}
	wg.Go(func() { // links card and phone: merges under the writers' feet
		for c := range customers {
			_, err := e.Observe(ctx, identity.Observation{EventID: fmt.Sprint("link-", c), Time: day(1, 3+c%rounds),
				Identifiers: []identity.Identifier{card(fmt.Sprint("K", c)), phone(fmt.Sprintf("1370000%04d", c))}})
			assert.NoError(t, err)
		}
	})
	wg.Go(func() { // a bulk load
		var orders []Order
		for i := range 200 {
			orders = append(orders, Order{ID: fmt.Sprint("bulk-", i), Identifiers: []identity.Identifier{card(fmt.Sprint("K", i%customers))},
				Time: day(2, 1+i%20), Amount: 50})
		}
		st, err := e.RecordOrders(ctx, func(yield func(Order) bool) {
			for _, o := range orders {
				if !yield(o) {
					return
				}
			}
		})
		assert.NoError(t, err)
		assert.Equal(t, 200, st.Applied)
		total.Add(200 * 50)
	})
	wg.Go(func() { // attributes and events
		for i := range rounds {
			p, err := e.Lookup(card(fmt.Sprint("K", i%customers)))
			if !assert.NoError(t, err) {
				return
			}
			_, err = e.SetAttributes(ctx, p, day(1, 3+i), map[string]any{"age": 30 + i})
			assert.NoError(t, err)
			assert.NoError(t, e.RecordEvent(ctx, "contacted", p, day(1, 3+i)))
		}
	})
	wg.Go(func() { // refreshes, polls and a snapshot
		for i := range 3 {
			_, err := e.RefreshTags(ctx, day(2, 1+i))
			assert.NoError(t, err)
			_, err = e.PollSegments(ctx)
			assert.NoError(t, err)
		}
		assert.NoError(t, e.Snapshot(ctx, filepath.Join(t.TempDir(), "mid")))
	})
	var reads atomic.Int64
	for range 2 { // readers: never wait for the writers
		wg.Go(func() {
			for i := range 4 * rounds {
				v := e.View()
				n1, err := e.Count(`tag("big") || !tag("big")`)
				assert.NoError(t, err)
				bm, err := e.Members(`true`)
				assert.NoError(t, err)
				assert.LessOrEqual(t, n1, uint64(2*customers))
				assert.LessOrEqual(t, bm.GetCardinality(), uint64(2*customers))
				// One view answers consistently however long it is held.
				a, _ := v.Count(mustCompile(t, e, `spend_total >= 0`))
				b, _ := v.Count(mustCompile(t, e, `spend_total >= 0`))
				assert.Equal(t, a, b)
				if p, err := e.Lookup(card(fmt.Sprint("K", i%customers))); err == nil {
					_, err := e.Profile(p)
					assert.NoError(t, err)
					_, err = e.Balance(ctx, p, day(3, 1))
					assert.NoError(t, err)
				}
				reads.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Positive(t, reads.Load())

	_, err = e.RefreshTags(ctx, day(3, 1))
	require.NoError(t, err)
	var sum int64
	for it := e.livePersons().Iterator(); it.HasNext(); {
		rec, err := e.Profile(identity.PersonID(it.Next()))
		require.NoError(t, err)
		f, _ := e.Schema().Lookup(FieldSpend)
		v, _ := rec.Value(f)
		sum += v.(int64)
	}
	assert.Equal(t, total.Load(), sum, "every order counted once")
	n, err := e.Count(`true`)
	require.NoError(t, err)
	assert.Equal(t, uint64(customers), n, "every card and phone merged into one person")

	dir := filepath.Join(t.TempDir(), "end")
	require.NoError(t, e.Snapshot(ctx, dir))
	r, err := Open(ctx, dir, scenarioConfig(t))
	require.NoError(t, err)
	assertSameEngines(t, e, r, day(3, 1))
}

func mustCompile(t *testing.T, e *Engine, expr string) *segment.Plan {
	t.Helper()
	p, err := e.Compile(expr)
	require.NoError(t, err)
	return p
}
