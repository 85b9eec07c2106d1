package identity

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spoil makes some generated observations ones a resolver must refuse or
// trim: an undeclared kind, a scoped kind without its scope, a blocked or
// junk value beside good ones, or nothing but junk.
func spoil(rng *rand.Rand, obs []Observation) {
	for i := range obs {
		o := &obs[i]
		switch rng.IntN(16) {
		case 0:
			o.Identifiers = append(o.Identifiers, Identifier{Kind: "loyalty_app", Value: "x"})
		case 1:
			o.Identifiers = append(o.Identifiers, Identifier{Kind: "openid", Value: "o1"})
		case 2:
			o.Identifiers = append(o.Identifiers, Identifier{Kind: "phone", Value: "p-blocked"})
		case 3:
			o.Identifiers = append(o.Identifiers, Identifier{Kind: "cookie", Value: "null"})
		case 4:
			o.Identifiers = []Identifier{{Kind: "card", Value: "undefined"}}
		}
	}
}

// runObserve feeds obs to r one at a time and returns what a Resolve of
// the same observations must report: each one's person, the counts, and
// the positions of the failures.
func runObserve(t *testing.T, r *Resolver, obs []Observation, base int) ([]PersonID, Summary, []int) {
	t.Helper()
	persons := make([]PersonID, len(obs))
	var sum Summary
	var failed []int
	for i, o := range obs {
		res, err := r.Observe(o)
		persons[i] = res.Person
		sum.Rejected += len(res.Rejected)
		if err != nil {
			require.Equal(t, NoPerson, res.Person, "observation %d failed but names a person", i)
			failed = append(failed, base+i)
			sum.Failed++
			continue
		}
		sum.Observations++
		if res.Created {
			sum.Created++
		}
		sum.Attached += res.Attached
		sum.Merged += len(res.Merged)
		sum.Dropped += len(res.Dropped)
	}
	return persons, sum, failed
}

// failures returns the positions a *BatchError reports, and how many
// failed.
func failures(t *testing.T, err error) ([]int, int) {
	t.Helper()
	if err == nil {
		return nil, 0
	}
	var be *BatchError
	require.ErrorAs(t, err, &be)
	var at []int
	for _, e := range be.Errors {
		at = append(at, e.Index)
	}
	return at, be.Failed
}

func TestResolveMatchesObserve(t *testing.T) {
	// Several preparing goroutines even on a one-core runner.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(4, runtime.GOMAXPROCS(0))))
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 40 {
		cfg := genConfig(rng)
		cfg.Kinds[1].Blocked = []string{"p-blocked"} // phone
		n := 120
		if trial%8 == 0 {
			n = 1500 // several chunks, prepared on several goroutines
		}
		obs := genObservations(rng, n, "e", t0)
		spoil(rng, obs)
		half := n / 2
		// Blocking an identifier between the halves sends the second
		// half's sightings of it down the blocked path.
		block := Identifier{Kind: "phone", Value: "p3"}

		ra, err := New(cfg)
		require.NoError(t, err)
		var changesA []Change
		ra.Subscribe(func(c Change) { changesA = append(changesA, c) })
		wantA, sumA, failedA := runObserve(t, ra, obs[:half], 0)
		_, errA := ra.SplitIdentifier(block, true)
		wantB, sumB, failedB := runObserve(t, ra, obs[half:], half)

		rb, err := New(cfg)
		require.NoError(t, err)
		var changesB []Change
		rb.Subscribe(func(c Change) { changesB = append(changesB, c) })
		resolve := func(obs []Observation, want []PersonID, wantSum Summary, wantFailed []int, base int) {
			var b Batch
			for _, o := range obs {
				require.NoError(t, b.Add(o))
			}
			require.Equal(t, len(obs), b.Len())
			persons := make([]PersonID, b.Len())
			sum, err := rb.Resolve(&b, persons)
			at, failed := failures(t, err)
			for i := range at {
				at[i] += base
			}
			assert.Equal(t, want, persons, "trial %d: persons", trial)
			assert.Equal(t, wantSum, sum, "trial %d: summary", trial)
			assert.Equal(t, len(wantFailed), failed, "trial %d: failed", trial)
			assert.Equal(t, wantFailed[:min(len(wantFailed), batchErrorsKept)], at, "trial %d: failures", trial)
		}
		resolve(obs[:half], wantA, sumA, failedA, 0)
		_, errB := rb.SplitIdentifier(block, true)
		assert.Equal(t, errA == nil, errB == nil, "trial %d: block", trial)
		resolve(obs[half:], wantB, sumB, failedB, half)

		assert.Equal(t, outcomes(ra), outcomes(rb), "trial %d: lineage", trial)
		assert.Equal(t, partition(t, ra), partition(t, rb), "trial %d: partition", trial)
		assert.Equal(t, changesA, changesB, "trial %d: changes", trial)
		sa, sb := ra.Stats(), rb.Stats()
		assert.Equal(t, [3]int{sa.Persons, sa.Identifiers, sa.Observations}, [3]int{sb.Persons, sb.Identifiers, sb.Observations}, "trial %d: stats", trial)
		rb.mu.RLock()
		require.NoError(t, rb.check())
		rb.mu.RUnlock()

		// ObserveBatch without results takes the same path minus Results.
		rc, err := New(cfg)
		require.NoError(t, err)
		_ = rc.ObserveBatch(obs[:half], nil)
		_, _ = rc.SplitIdentifier(block, true)
		_ = rc.ObserveBatch(obs[half:], nil)
		assert.Equal(t, outcomes(ra), outcomes(rc), "trial %d: ObserveBatch lineage", trial)
	}
}

func TestBatchAddRefuses(t *testing.T) {
	good := Observation{EventID: "e1", Source: "pos", Time: t0, Identifiers: []Identifier{id("card", "C1")}}
	var b Batch
	require.NoError(t, b.Add(good))
	for name, o := range map[string]Observation{
		"long event ID": {EventID: strings.Repeat("x", maxEventIDLen+1), Time: t0, Identifiers: good.Identifiers},
		"zero time":     {EventID: "e2", Identifiers: good.Identifiers},
		"long scope":    {EventID: "e3", Time: t0, Identifiers: []Identifier{{Kind: "openid", Scope: strings.Repeat("s", maxValueLen+1), Value: "o"}}},
		"many ids":      {EventID: "e4", Time: t0, Identifiers: make([]Identifier, maxObsIdentifiers+1)},
	} {
		err := b.Add(o)
		var oe *ObservationError
		require.ErrorAs(t, err, &oe, name)
		assert.Equal(t, 1, oe.Index, "%s: the position it would have had", name)
		assert.Equal(t, 1, b.Len(), "%s: not added", name)
		assert.ErrorIs(t, err, ErrBadObservation, name)
	}
	assert.Equal(t, good, b.Observation(0))
}

func TestBatchRoundTripAndReset(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	in := []Observation{
		{EventID: "a", Source: "pos", Time: at, Identifiers: []Identifier{id("card", "C1"), openid("wx1", "o1")}},
		{Source: "crm", Time: at.Add(time.Hour), Identifiers: []Identifier{id("phone", "")}},
		{EventID: "c", Time: at, Identifiers: nil},
	}
	var b Batch
	for _, o := range in {
		require.NoError(t, b.Add(o))
	}
	// A value longer than a text chunk gets one of its own.
	long := Observation{EventID: "d", Time: at, Identifiers: []Identifier{id("cookie", strings.Repeat("v", textChunk+5))}}
	require.NoError(t, b.Add(long))
	in = append(in, long)
	require.Equal(t, len(in), b.Len())
	for i, o := range in {
		assert.Equal(t, o, b.Observation(i), "observation %d", i)
	}
	b.Reset()
	assert.Equal(t, 0, b.Len())
	require.NoError(t, b.Add(in[1]))
	assert.Equal(t, in[1], b.Observation(0), "a reset batch is reusable")
}

func TestResolveBadArguments(t *testing.T) {
	r, err := New(Config{Kinds: testKinds()})
	require.NoError(t, err)
	var b Batch
	require.NoError(t, b.Add(Observation{EventID: "a", Time: t0, Identifiers: []Identifier{id("card", "C1")}}))
	require.NoError(t, b.Add(Observation{EventID: "b", Time: t0, Identifiers: []Identifier{id("card", "C2")}}))
	_, err = r.Resolve(&b, make([]PersonID, 1))
	assert.Error(t, err, "persons shorter than the batch")
	assert.Equal(t, 0, r.Stats().Observations, "nothing resolved")

	sum, err := r.Resolve(new(Batch), nil)
	assert.NoError(t, err)
	assert.Equal(t, Summary{}, sum, "an empty batch does nothing")

	sum, err = r.Resolve(&b, nil)
	require.NoError(t, err)
	assert.Equal(t, Summary{Observations: 2, Created: 2, Attached: 2}, sum)
}

func TestResolveReportsUnknownKind(t *testing.T) {
	r, err := New(Config{Kinds: testKinds()})
	require.NoError(t, err)
	var b Batch
	require.NoError(t, b.Add(Observation{EventID: "a", Time: t0, Identifiers: []Identifier{id("card", "C1")}}))
	require.NoError(t, b.Add(Observation{EventID: "b", Time: t0, Identifiers: []Identifier{id("card", "C2"), id("fax", "1")}}))
	require.NoError(t, b.Add(Observation{EventID: "c", Time: t0, Identifiers: []Identifier{id("card", "C1"), id("phone", "P1")}}))
	persons := make([]PersonID, 3)
	sum, err := r.Resolve(&b, persons)
	var be *BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Errors, 1)
	e := be.Errors[0]
	assert.Equal(t, 1, e.Index)
	assert.Equal(t, "b", e.EventID)
	assert.Equal(t, 1, e.Identifier, "the second identifier is the unknown one")
	assert.True(t, errors.Is(err, ErrUnknownKind))
	assert.Equal(t, []PersonID{0, NoPerson, 0}, persons, "the rest of the batch resolves")
	assert.Equal(t, Summary{Observations: 2, Failed: 1, Created: 1, Attached: 2}, sum)
}
