package identity

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitUndoesBridge(t *testing.T) {
	h := newHarness(t, Config{Kinds: DefaultKinds()})
	p0 := h.obs(id(KindPhone, "13800138000")).Person // e1
	p1 := h.obs(id(KindMemberCard, "C")).Person      // e2
	h.obs(id(KindMemberCard, "C"), id(KindPhone, "13800138000"))
	require.Equal(t, p0, h.lookup(id(KindMemberCard, "C")))

	res, err := h.r.SplitObservation("e3")
	require.NoError(t, err)
	h.check()
	assert.Equal(t, SplitResult{Before: []PersonID{p0}, After: []PersonID{p0, p1}, Removed: 1, Replayed: 2}, res)
	assert.Equal(t, p1, h.lookup(id(KindMemberCard, "C")), "the merged-away person comes back under its own ID")
	assert.Equal(t, []string{"phone:13800138000"}, h.idents(p0))
	assert.Equal(t, []string{"member_card:C"}, h.idents(p1))

	_, err = h.r.SplitObservation("e3")
	assert.ErrorIs(t, err, ErrUnknownEvent, "the observation is gone")
}

func TestSplitFirstObservationMovesPerson(t *testing.T) {
	kinds := []Kind{{Name: "cookie"}}
	h := newHarness(t, Config{Kinds: kinds})
	p0 := h.obs(id("cookie", "a")).Person       // e1
	h.obs(id("cookie", "a"), id("cookie", "b")) // e2
	res, err := h.r.SplitObservation("e1")
	require.NoError(t, err)
	h.check()
	// Without e1, e2 creates the person: a new one, and p0 moves to it
	// because it now holds all of p0's identifiers.
	require.Len(t, res.After, 1)
	p1 := res.After[0]
	assert.NotEqual(t, p0, p1)
	assert.Equal(t, []Move{{p0, p1}}, res.Moved)
	c, err := h.r.Canonical(p0)
	require.NoError(t, err)
	assert.Equal(t, p1, c)
	assert.Equal(t, []string{"cookie:a", "cookie:b"}, h.idents(p1))
}

func TestSplitReleasesRefusedLink(t *testing.T) {
	kinds := []Kind{{Name: "card", Limit: 1}, {Name: "phone", Limit: 2}}
	h := newHarness(t, Config{Kinds: kinds})
	p0 := h.obs(id("card", "C1"), id("phone", "p")).Person // e1
	res := h.obs(id("card", "C2"), id("phone", "p"))       // e2: phone refused
	p1 := res.Person
	require.Len(t, res.Dropped, 1)

	// e1 was a data-entry error: without it the phone goes with C2.
	sr, err := h.r.SplitObservation("e1")
	require.NoError(t, err)
	h.check()
	assert.Equal(t, []PersonID{p0, p1}, sr.Before)
	assert.Equal(t, []PersonID{p1}, sr.After)
	assert.Equal(t, []Move{{p0, p1}}, sr.Moved)
	assert.Equal(t, []string{"card:C2", "phone:p"}, h.idents(p1))
	_, err = h.r.Lookup(id("card", "C1"))
	assert.ErrorIs(t, err, ErrNotFound, "no remaining evidence carries C1")
}

func TestSplitIdentifierUnglues(t *testing.T) {
	kinds := []Kind{{Name: "phone", Limit: 2}, {Name: "cookie"}}
	h := newHarness(t, Config{Kinds: kinds})
	p0 := h.obs(id("cookie", "k1"), id("phone", "shop")).Person // e1
	h.obs(id("cookie", "k2"), id("phone", "shop"))              // e2
	h.obs(id("cookie", "k3"), id("phone", "own"))               // e3, untouched
	require.Equal(t, []string{"phone:shop", "cookie:k1", "cookie:k2"}, h.idents(p0))

	res, err := h.r.SplitIdentifier(id("phone", "shop"), true)
	require.NoError(t, err)
	h.check()
	require.Len(t, res.After, 2)
	assert.Equal(t, p0, res.After[0])
	assert.Equal(t, 2, res.Removed)
	assert.Equal(t, []string{"cookie:k1"}, h.idents(p0))
	assert.Equal(t, []string{"cookie:k2"}, h.idents(res.After[1]))
	assert.Equal(t, []string{"phone:shop"}, strs(h.r.Blocked()))

	r := h.obs(id("cookie", "k4"), id("phone", "shop"))
	require.Len(t, r.Rejected, 1)
	assert.ErrorIs(t, r.Rejected[0].Err, ErrBlocked)

	require.NoError(t, h.r.Unblock(id("phone", "shop")))
	assert.Empty(t, h.r.Blocked())
	r = h.obs(id("cookie", "k4"), id("phone", "shop"))
	assert.Empty(t, r.Rejected)
	assert.Equal(t, 1, r.Attached)
	h.check()
	assert.ErrorIs(t, h.r.Unblock(id("phone", "shop")), ErrNotFound)
}

// TestSplitEqualsReplayWithout is the property that defines split: after
// removing evidence e, the graph equals one built from all evidence but e,
// person for person (keyed by the observation that created each), record
// for record, and it stays equal under further observations.
func TestSplitEqualsReplayWithout(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 150 {
		cfg := genConfig(rng)
		obs := genObservations(rng, 60, "e", t0)
		later := genObservations(rng, 30, "l", obs[len(obs)-1].Time)
		e := rng.IntN(len(obs))

		split := observeAll(t, cfg, obs)
		_, err := split.SplitObservation(obs[e].EventID)
		require.NoError(t, err)
		without := observeAll(t, cfg, slices.Delete(slices.Clone(obs), e, e+1))
		assertSameGraph(t, without, split, "trial %d: split observation %d", trial, e)
		require.Equal(t, without.Stats().Identifiers, split.Stats().Identifiers)

		for _, o := range later {
			_, err := split.Observe(o)
			require.NoError(t, err)
			_, err = without.Observe(o)
			require.NoError(t, err)
		}
		assertSameGraph(t, without, split, "trial %d: after later observations", trial)
	}
}

func TestSplitIdentifierEqualsReplayWithout(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 150 {
		cfg := genConfig(rng)
		obs := genObservations(rng, 60, "e", t0)
		later := genObservations(rng, 30, "l", obs[len(obs)-1].Time)
		x := obs[rng.IntN(len(obs))].Identifiers[0]
		block := rng.IntN(2) == 0

		split := observeAll(t, cfg, obs)
		_, err := split.SplitIdentifier(x, block)
		require.NoError(t, err)

		// The reference never saw x; when blocking, its config blocks it.
		refCfg := cfg
		if block {
			refCfg.Kinds = slices.Clone(cfg.Kinds)
			for i := range refCfg.Kinds {
				if refCfg.Kinds[i].Name == x.Kind && !refCfg.Kinds[i].Scoped {
					refCfg.Kinds[i].Blocked = []string{x.Value}
				}
			}
		}
		var stripped []Observation
		for _, o := range obs {
			o.Identifiers = slices.DeleteFunc(slices.Clone(o.Identifiers), func(y Identifier) bool { return y == x })
			if len(o.Identifiers) > 0 {
				stripped = append(stripped, o)
			}
		}
		without := observeAll(t, refCfg, stripped)
		// A blocked identifier stays stored, as a block list entry.
		extra := 0
		if block {
			extra = 1
		}
		assertSameGraph(t, without, split, "trial %d: split %v", trial, x)
		require.Equal(t, without.Stats().Identifiers+extra, split.Stats().Identifiers)

		for _, o := range later {
			if block && x.Scope != "" {
				// Config block lists are per kind, not per scope; leave
				// the scoped identifier out of both.
				o.Identifiers = slices.DeleteFunc(slices.Clone(o.Identifiers), func(y Identifier) bool { return y == x })
				if len(o.Identifiers) == 0 {
					continue
				}
			}
			_, err1 := split.Observe(o)
			_, err2 := without.Observe(o)
			require.Equal(t, err1 == nil, err2 == nil, "%v / %v", err1, err2)
		}
		assertSameGraph(t, without, split, "trial %d: after later observations", trial)
		require.Equal(t, without.Stats().Identifiers+extra, split.Stats().Identifiers)
	}
}

func observeAll(t *testing.T, cfg Config, obs []Observation) *Resolver {
	t.Helper()
	r, err := New(cfg)
	require.NoError(t, err)
	for _, o := range obs {
		_, err := r.Observe(o)
		require.NoError(t, err)
	}
	return r
}

func assertSameGraph(t *testing.T, want, got *Resolver, msg string, args ...any) {
	t.Helper()
	got.mu.RLock()
	require.NoError(t, got.check(), append([]any{msg}, args...)...)
	got.mu.RUnlock()
	require.Equal(t, partition(t, want), partition(t, got), append([]any{msg}, args...)...)
	require.Equal(t, outcomes(want), outcomes(got), append([]any{msg}, args...)...)
}
