package identity

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// customerStream is one customer's observations: a phone, then a card,
// then both, which merges the two persons.
func customerStream(w, c int) []Observation {
	phone := id(KindPhone, fmt.Sprintf("13%d%08d", w, c))
	card := id(KindMemberCard, fmt.Sprintf("W%dC%d", w, c))
	ev := func(i int) string { return fmt.Sprintf("w%d-c%d-%d", w, c, i) }
	return []Observation{
		{EventID: ev(0), Time: t0, Identifiers: []Identifier{phone}},
		{EventID: ev(1), Time: t0, Identifiers: []Identifier{card}},
		{EventID: ev(2), Time: t0, Identifiers: []Identifier{card, phone}},
	}
}

func TestConcurrentObserveAndLookups(t *testing.T) {
	const writers, customers = 4, 100
	r, err := New(Config{Kinds: DefaultKinds()})
	require.NoError(t, err)
	var mu sync.Mutex
	merges := 0
	r.Subscribe(func(c Change) {
		mu.Lock()
		merges += len(c.Losers)
		mu.Unlock()
	})

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for c := range customers {
				for _, o := range customerStream(w, c) {
					if _, err := r.Observe(o); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	var readers sync.WaitGroup
	for k := range 2 {
		readers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				x := id(KindMemberCard, fmt.Sprintf("W%dC%d", i%writers, i%customers))
				if p, err := r.Lookup(x); err == nil {
					if _, err := r.Explain(p); err != nil {
						t.Error(err)
					}
					if _, err := r.Canonical(p); err != nil {
						t.Error(err)
					}
				}
				if k == 0 && i%16 == 0 {
					_ = r.Stats()
					for range r.Persons() {
					}
					if err := r.WriteSnapshot(io.Discard); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	r.mu.RLock()
	require.NoError(t, r.check())
	r.mu.RUnlock()
	assert.Equal(t, writers*customers, merges, "one merge per customer, each delivered once")
	assert.Equal(t, writers*customers, r.Stats().Persons)

	// However the writers interleaved, each customer is one person with
	// its card and phone, created by its first observation.
	seq, err := New(Config{Kinds: DefaultKinds()})
	require.NoError(t, err)
	for w := range writers {
		for c := range customers {
			for _, o := range customerStream(w, c) {
				_, err := seq.Observe(o)
				require.NoError(t, err)
			}
		}
	}
	assert.Equal(t, partition(t, seq), partition(t, r))
}

func TestDeliveryOrderUnderConcurrency(t *testing.T) {
	// Changes reach subscribers in the order the mutations happened: the
	// survivor of each merge change is live when the change is delivered,
	// unless a later change (already delivered after it) says otherwise.
	r, err := New(Config{Kinds: []Kind{{Name: "cookie"}}, MaxMerges: 1000, MaxIdentifiers: 1000})
	require.NoError(t, err)
	var got []Change
	r.Subscribe(func(c Change) { got = append(got, c) })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				// Everyone links to the shared cookie: a chain of merges.
				_, err := r.Observe(Observation{EventID: fmt.Sprintf("%d-%d", w, i), Time: t0,
					Identifiers: []Identifier{id("cookie", fmt.Sprintf("c%d-%d", w, i))}})
				assert.NoError(t, err)
				_, err = r.Observe(Observation{EventID: fmt.Sprintf("x%d-%d", w, i), Time: t0,
					Identifiers: []Identifier{id("cookie", fmt.Sprintf("c%d-%d", w, i)), id("cookie", "shared")}})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	// Replaying the delivered merges on a map of persons must end with
	// every loser merged exactly once.
	merged := map[PersonID]bool{}
	for _, c := range got {
		assert.False(t, merged[c.Survivor], "survivor %d was merged away earlier", c.Survivor)
		for _, l := range c.Losers {
			assert.False(t, merged[l])
			merged[l] = true
		}
	}
	assert.Equal(t, 1, r.Stats().Persons)
	var buf bytes.Buffer
	require.NoError(t, r.WriteSnapshot(&buf))
}

func TestConcurrentScopedLookups(t *testing.T) {
	r, err := New(Config{Kinds: DefaultKinds()})
	require.NoError(t, err)
	for i := range 20 {
		_, err := r.Observe(Observation{Time: t0, Identifiers: []Identifier{openid(fmt.Sprintf("wx%d", i), "o1")}})
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				_, err := r.Lookup(openid(fmt.Sprintf("wx%d", (i+g)%20), "o1"))
				assert.NoError(t, err)
				_, _ = r.Why(openid("wx1", "o1"), openid(fmt.Sprintf("wx%d", i%20), "o1"))
			}
		})
	}
	wg.Wait()
}
