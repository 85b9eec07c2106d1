package identity

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bitIndex stands in for segment.Index: a set of tags per member.
type bitIndex map[uint32]map[string]bool

func (ix bitIndex) set(p PersonID, tags ...string) {
	if ix[uint32(p)] == nil {
		ix[uint32(p)] = map[string]bool{}
	}
	for _, t := range tags {
		ix[uint32(p)][t] = true
	}
}

func (ix bitIndex) tags(p PersonID) []string {
	return slices.Sorted(maps.Keys(ix[uint32(p)]))
}

func (ix bitIndex) MergeMember(survivor, loser uint32) error {
	for t := range ix[loser] {
		ix.set(PersonID(survivor), t)
	}
	delete(ix, loser)
	return nil
}

func (ix bitIndex) RemoveMember(id uint32) error {
	delete(ix, id)
	return nil
}

func TestChangesRekeyAnIndex(t *testing.T) {
	h := newHarness(t, Config{Kinds: DefaultKinds()})
	ix := bitIndex{}
	var changes []Change
	var rederive []PersonID
	unsubscribe := h.r.Subscribe(func(c Change) {
		// Lookups from the callback must not deadlock.
		_, err := h.r.Lookup(id(KindMemberCard, "C1"))
		assert.NoError(t, err)
		changes = append(changes, c)
		rd, err := c.Rekey(ix)
		assert.NoError(t, err)
		rederive = append(rederive, rd...)
	})

	p0 := h.obs(id(KindMemberCard, "C1")).Person
	p1 := h.obs(id(KindPhone, "13800138000")).Person
	ix.set(p0, "vip")
	ix.set(p1, "app_user")
	assert.Empty(t, changes, "creating persons is no change to re-key")

	h.obs(id(KindPhone, "13800138000"), id(KindMemberCard, "C1")) // e3
	require.Len(t, changes, 1)
	assert.Equal(t, Change{Kind: Merged, EventID: "e3", Survivor: p0, Losers: []PersonID{p1},
		Identifiers: []Identifier{id(KindPhone, "13800138000"), id(KindMemberCard, "C1")}}, changes[0])
	assert.Equal(t, []string{"app_user", "vip"}, ix.tags(p0), "the loser's bits are ORed into the survivor")
	assert.Empty(t, ix.tags(p1), "and cleared")

	_, err := h.r.SplitObservation("e3")
	require.NoError(t, err)
	require.Len(t, changes, 2)
	assert.Equal(t, Change{Kind: Split, EventID: "e3", Before: []PersonID{p0}, After: []PersonID{p0, p1}}, changes[1])
	assert.Empty(t, ix, "a split clears the persons it recomputed")
	assert.Equal(t, []PersonID{p0, p1}, rederive, "and asks for them to be re-derived")

	ix.set(p1, "app_user")
	_, err = h.r.Erase(p1)
	require.NoError(t, err)
	require.Len(t, changes, 3)
	assert.Equal(t, Erased, changes[2].Kind)
	assert.Equal(t, p1, changes[2].Person)
	assert.Empty(t, ix.tags(p1))

	unsubscribe()
	unsubscribe()
	h.obs(id(KindPhone, "13700000000"))
	h.obs(id(KindPhone, "13700000000"), id(KindMemberCard, "C1"))
	assert.Len(t, changes, 3, "no delivery after unsubscribe")
}

func TestRekeyJoinsIndexErrors(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	ix := RekeyFuncs{
		Merge:  func(s, l uint32) error { calls++; return boom },
		Remove: func(uint32) error { calls++; return boom },
	}
	_, err := Change{Kind: Merged, Survivor: 1, Losers: []PersonID{2, 3}}.Rekey(ix)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 2, calls, "every step is tried")
	rd, err := Change{Kind: Split, Before: []PersonID{4}, After: []PersonID{4, 5}}.Rekey(ix)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 4, calls, "persons in Before and After are cleared once each")
	assert.Equal(t, []PersonID{4, 5}, rd)
	assert.Equal(t, "merged", Merged.String())
	assert.Equal(t, "ChangeKind(9)", ChangeKind(9).String())
}
