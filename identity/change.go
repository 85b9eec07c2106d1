package identity

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// ChangeKind says what a Change is.
type ChangeKind uint8

// The kinds of change a subscriber is told about.
const (
	Merged ChangeKind = iota + 1 // an observation merged persons
	Split                        // a split recomputed a component
	Erased                       // a person was erased
)

// String returns "merged", "split" or "erased".
func (k ChangeKind) String() string {
	switch k {
	case Merged:
		return "merged"
	case Split:
		return "split"
	case Erased:
		return "erased"
	}
	return fmt.Sprintf("ChangeKind(%d)", uint8(k))
}

// A Change tells subscribers how person IDs moved, so that anything keyed
// by person ID — bitmaps, caches, CRM rows — can follow. Only the fields of
// its Kind are set.
type Change struct {
	Kind ChangeKind // which of the field groups below is set

	// EventID is, for Merged, the observation that bridged the persons;
	// for a Split by SplitObservation, the event removed.
	EventID string
	// Time is, for Merged, the time of the observation that bridged the
	// persons (UTC, whole seconds), so that a host can date what it does
	// in response, such as merging two loyalty accounts.
	Time time.Time

	// Merged: Losers (oldest first) were merged into Survivor and are now
	// its aliases.
	Survivor PersonID   // the oldest person, which survives
	Losers   []PersonID // the persons merged into it, now its aliases

	// Identifiers are, for Merged, the identifiers the observation
	// linked; for a Split by SplitIdentifier, the identifier taken out;
	// for Erased, the identifiers erased.
	Identifiers []Identifier

	// Split: Before lists the live persons of the recomputed component
	// before the split, After those after it, both ascending. A person in
	// both may hold different identifiers now.
	Before, After []PersonID
	// Split: Moved lists persons that no longer stand for themselves:
	// each now resolves to To, or to nothing when To is NoPerson.
	Moved []Move

	// Erased: Person and its aliases no longer resolve.
	Person  PersonID   // the person erased
	Aliases []PersonID // the persons merged into it, erased with it
}

// A Move is a person ID that a split pointed elsewhere.
type Move struct {
	From PersonID // the person that no longer stands for itself
	To   PersonID // the person it resolves to now, or NoPerson
}

// A Rekeyer is what an index keyed by person ID must offer to follow
// identity changes. segment's write transaction provides both methods;
// RekeyFuncs adapts other shapes.
type Rekeyer interface {
	// MergeMember ORs the loser's bits into the survivor's and clears
	// the loser's.
	MergeMember(survivor, loser uint32) error
	// RemoveMember clears every bit of a member.
	RemoveMember(id uint32) error
}

// RekeyFuncs adapts two functions to a Rekeyer.
type RekeyFuncs struct {
	Merge  func(survivor, loser uint32) error // implements MergeMember
	Remove func(id uint32) error              // implements RemoveMember
}

// MergeMember calls f.Merge.
func (f RekeyFuncs) MergeMember(survivor, loser uint32) error { return f.Merge(survivor, loser) }

// RemoveMember calls f.Remove.
func (f RekeyFuncs) RemoveMember(id uint32) error { return f.Remove(id) }

var _ Rekeyer = RekeyFuncs{}

// Rekey applies the change to an index keyed by person ID. A merge moves
// each loser's bits into the survivor. A split clears every person of
// Before and After and returns After: those persons must be re-derived
// from the host's own records (tags, orders, attributes), since which bits
// came from which evidence is not the resolver's to know. An erasure clears
// the person and its aliases. Errors from the index are joined and
// returned after all steps have been tried.
func (c Change) Rekey(ix Rekeyer) (rederive []PersonID, err error) {
	var errs []error
	switch c.Kind {
	case Merged:
		for _, l := range c.Losers {
			if e := ix.MergeMember(uint32(c.Survivor), uint32(l)); e != nil {
				errs = append(errs, fmt.Errorf("merge person %d into %d: %w", l, c.Survivor, e))
			}
		}
	case Split:
		all := slices.Concat(c.Before, c.After)
		slices.Sort(all)
		for _, p := range slices.Compact(all) {
			if e := ix.RemoveMember(uint32(p)); e != nil {
				errs = append(errs, fmt.Errorf("clear person %d: %w", p, e))
			}
		}
		rederive = slices.Clone(c.After)
	case Erased:
		for _, p := range append([]PersonID{c.Person}, c.Aliases...) {
			if e := ix.RemoveMember(uint32(p)); e != nil {
				errs = append(errs, fmt.Errorf("clear person %d: %w", p, e))
			}
		}
	}
	return rederive, errors.Join(errs...)
}

// Subscribe registers fn to be told of every change from now on, and
// returns a function that unregisters it.
//
// Changes are delivered in the order they happened, after the mutation
// that made them is complete and before the mutating call returns, so an
// index re-keyed from fn is consistent with the resolver once Observe
// returns. fn runs with the resolver's lock released: it may call lookups
// (Lookup, Canonical, Explain…), but must not call mutating methods,
// which would deadlock. One fn runs at a time.
func (r *Resolver) Subscribe(fn func(Change)) (unsubscribe func()) {
	r.subMu.Lock()
	defer r.subMu.Unlock()
	if r.subs == nil {
		r.subs = make(map[int]func(Change))
	}
	id := r.nextSub
	r.nextSub++
	r.subs[id] = fn
	r.nsubs.Add(1)
	return func() {
		r.subMu.Lock()
		defer r.subMu.Unlock()
		if _, ok := r.subs[id]; ok {
			delete(r.subs, id)
			r.nsubs.Add(-1)
		}
	}
}

// unlockAndDeliver releases r.mu and delivers pending changes in order:
// deliverMu is taken before r.mu is released, so a later mutation cannot
// deliver first.
func (r *Resolver) unlockAndDeliver() {
	if len(r.pending) == 0 {
		r.mu.Unlock()
		return
	}
	changes := r.pending
	r.pending = nil
	r.deliverMu.Lock()
	r.mu.Unlock()
	defer r.deliverMu.Unlock()
	r.subMu.Lock()
	keys := slices.Sorted(maps.Keys(r.subs))
	fns := make([]func(Change), len(keys))
	for i, k := range keys {
		fns[i] = r.subs[k]
	}
	r.subMu.Unlock()
	for _, c := range changes {
		for _, fn := range fns {
			fn(c)
		}
	}
}
