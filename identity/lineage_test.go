package identity

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lineageHarness builds, with DefaultKinds:
//
//	e1 {C1, phone}  creates person 0
//	e2 {d1, phone}  attaches d1
//	e3 {U}          creates person 1
//	e4 {U, d1}      merges person 1 into person 0 (older)
//	e5 {C2, phone}  refused: two cards; the phone is dropped, C2 is person 2
func lineageHarness(t *testing.T) *harness {
	h := newHarness(t, Config{Kinds: DefaultKinds()})
	h.obs(id(KindMemberCard, "C1"), id(KindPhone, "13800138000"))
	h.obs(id(KindDevice, "d1"), id(KindPhone, "13800138000"))
	h.obs(id(KindUnionID, "U"))
	h.obs(id(KindUnionID, "U"), id(KindDevice, "d1"))
	res := h.obs(id(KindMemberCard, "C2"), id(KindPhone, "13800138000"))
	require.Equal(t, PersonID(2), res.Person)
	return h
}

func TestExplain(t *testing.T) {
	h := lineageHarness(t)
	at := func(n int) Evidence {
		return Evidence{EventID: "e" + string(rune('0'+n)), Source: "test", Time: t0.Add(time.Duration(n) * time.Minute)}
	}
	card, phone := id(KindMemberCard, "C1"), id(KindPhone, "13800138000")
	d1, u := id(KindDevice, "d1"), id(KindUnionID, "U")
	want := &Explanation{
		Person:      0,
		Aliases:     []PersonID{1},
		Identifiers: []Identifier{card, u, phone, d1},
		Steps: []Step{
			{Evidence: at(1), Person: 0, Created: 0, Linked: []Identifier{card, phone}, Added: []Identifier{card, phone}},
			{Evidence: at(2), Person: 0, Created: NoPerson, Linked: []Identifier{d1, phone}, Added: []Identifier{d1}},
			{Evidence: at(3), Person: 0, Created: 1, Linked: []Identifier{u}, Added: []Identifier{u}},
			{Evidence: at(4), Person: 0, Created: NoPerson, Linked: []Identifier{u, d1}, Joined: []PersonID{1}},
		},
		Refused: []Step{
			{Evidence: at(5), Person: 2, Created: NoPerson, Linked: []Identifier{id(KindMemberCard, "C2")},
				Dropped: []Identifier{phone}, Limits: []string{KindMemberCard}},
		},
	}
	got, err := h.r.Explain(0)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	viaAlias, err := h.r.Explain(1)
	require.NoError(t, err)
	assert.Equal(t, want, viaAlias)

	_, err = h.r.Explain(99)
	assert.ErrorIs(t, err, ErrUnknownPerson)
}

func TestWhy(t *testing.T) {
	h := lineageHarness(t)
	chain, err := h.r.Why(id(KindMemberCard, "C1"), id(KindUnionID, "U"))
	require.NoError(t, err)
	var evs []string
	for _, s := range chain {
		evs = append(evs, s.EventID)
	}
	// C1 -e1- phone -e2- d1 -e4- U
	assert.Equal(t, []string{"e1", "e2", "e4"}, evs)

	chain, err = h.r.Why(id(KindPhone, "+86 138 0013 8000"), id(KindMemberCard, "C1"))
	require.NoError(t, err)
	require.Len(t, chain, 1)
	assert.Equal(t, "e1", chain[0].EventID)

	_, err = h.r.Why(id(KindMemberCard, "C1"), id(KindMemberCard, "C2"))
	assert.ErrorIs(t, err, ErrNotLinked)
	_, err = h.r.Why(id(KindMemberCard, "C1"), id(KindMemberCard, "C404"))
	assert.ErrorIs(t, err, ErrNotFound)
	chain, err = h.r.Why(id(KindMemberCard, "C1"), id(KindMemberCard, "C1"))
	assert.NoError(t, err)
	assert.Empty(t, chain)
}

func TestErase(t *testing.T) {
	h := lineageHarness(t)
	er, err := h.r.Erase(1) // an alias: erases the person it resolves to
	require.NoError(t, err)
	h.check()
	assert.Equal(t, Erasure{
		Person:  0,
		Aliases: []PersonID{1},
		Identifiers: []Identifier{id(KindMemberCard, "C1"), id(KindUnionID, "U"),
			id(KindPhone, "13800138000"), id(KindDevice, "d1")},
		EventIDs: []string{"e1", "e2", "e3", "e4"},
		Scrubbed: 1,
	}, er)

	for _, p := range []PersonID{0, 1} {
		_, err := h.r.Canonical(p)
		assert.ErrorIs(t, err, ErrErased)
	}
	_, err = h.r.Lookup(id(KindPhone, "13800138000"))
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = h.r.SplitObservation("e1")
	assert.ErrorIs(t, err, ErrUnknownEvent)

	// The refused link in person 2's evidence no longer names the phone.
	ex, err := h.r.Explain(2)
	require.NoError(t, err)
	require.Len(t, ex.Steps, 1)
	assert.Empty(t, ex.Steps[0].Dropped)
	assert.Empty(t, ex.Steps[0].Limits)

	// The phone seen again is a new person.
	res := h.obs(id(KindPhone, "13800138000"))
	assert.True(t, res.Created)
	assert.Equal(t, PersonID(3), res.Person)
	assert.Equal(t, 2, h.r.Stats().Persons)

	_, err = h.r.Erase(0)
	assert.ErrorIs(t, err, ErrErased)
}

func TestEraseWipesMemory(t *testing.T) {
	kinds := []Kind{{Name: "card", Limit: 1}, {Name: "device", Limit: 1}}
	h := newHarness(t, Config{Kinds: kinds})
	p := h.obs(id("card", "CARD-SECRET-1"), id("device", "DEVICE-SECRET-1")).Person
	res := h.obs(id("card", "CARD-SECRET-1"), id("device", "DEVICE-SECRET-2")) // dropped, kept as evidence only
	require.Len(t, res.Dropped, 1)
	_, err := h.r.Observe(Observation{EventID: "EVENT-SECRET-3", Time: t0, Identifiers: []Identifier{id("card", "CARD-SECRET-1")}})
	require.NoError(t, err)
	other := h.obs(id("card", "CARD-OTHER")).Person

	er, err := h.r.Erase(p)
	require.NoError(t, err)
	h.check()
	assert.Equal(t, []string{"card:CARD-SECRET-1", "device:DEVICE-SECRET-1", "device:DEVICE-SECRET-2"}, strs(er.Identifiers),
		"a value only this person's observations carried goes too")
	_, err = h.r.Lookup(id("device", "DEVICE-SECRET-2"))
	assert.ErrorIs(t, err, ErrNotFound)

	var mem []byte
	for _, c := range h.r.arena.chunks {
		mem = append(mem, c...)
	}
	for _, c := range h.r.log.chunks {
		for _, w := range c {
			mem = binary.LittleEndian.AppendUint32(mem, w)
		}
	}
	for _, secret := range []string{"SECRET", "EVENT-SECRET-3"} {
		assert.False(t, bytes.Contains(mem, []byte(secret)), "%q still in memory", secret)
	}
	assert.True(t, bytes.Contains(mem, []byte("CARD-OTHER")))
	assert.Equal(t, []string{"card:CARD-OTHER"}, h.idents(other))
}
