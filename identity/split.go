package identity

import (
	"fmt"
	"slices"
)

// A split takes bad evidence out — one observation, or one identifier
// wherever it appears — and recomputes what that evidence touched by
// replaying the rest in its original order under the same rules, so the
// result is what it would have been had the bad evidence never arrived.
//
// What must be replayed is the evidence component of the bad evidence:
// records and identifiers joined by "record carries identifier", whether
// the identifier was linked or dropped. Resolution of a record only reads
// the persons of the identifiers it carries, and every identifier of a
// person was linked by one of that person's records, so nothing outside
// the component can decide anything inside it, and nothing inside can
// change anything outside. The cost is the size of the component — small
// for ordinary persons, large when a shared identifier was refused by many
// (it is carried, dropped, by all of their observations).
//
// Persons keep their numbers where the history allows: a replayed record
// that created a person before creates the same person again. A person
// that no replayed record creates moves to the person now holding the
// record that created it, or failing that most of its identifiers, and is
// reported in Moved.

// SplitResult reports a split.
type SplitResult struct {
	// Before and After list the live persons of the recomputed component
	// before and after, ascending.
	Before, After []PersonID
	// Moved lists the persons of the component that are not live after
	// the split, with what they now resolve to (NoPerson: nothing).
	Moved []Move
	// Removed counts the observations removed (SplitObservation) or the
	// observations the identifier was taken out of (SplitIdentifier).
	Removed int
	// Replayed counts the observations replayed.
	Replayed int
}

type replayState struct {
	bornTo  map[uint32]uint32 // record → the person it created before
	revived map[uint32]bool
	fresh   []uint32
}

// component is the evidence component being recomputed.
type component struct {
	idents  []uint32
	persons []uint32 // live persons and their aliases
	recs    []uint32 // ascending
}

// SplitObservation removes the observation(s) carrying eventID as bad
// evidence and recomputes the persons it touched. The error matches
// ErrUnknownEvent if no stored observation has that event ID.
func (r *Resolver) SplitObservation(eventID string) (SplitResult, error) {
	if eventID == "" {
		return SplitResult{}, fmt.Errorf("split observation: %w: empty event ID", ErrUnknownEvent)
	}
	r.mu.Lock()
	defer r.unlockAndDeliver()
	bad := r.eventRecords(nil, eventID)
	if len(bad) == 0 {
		return SplitResult{}, fmt.Errorf("split observation %q: %w", eventID, ErrUnknownEvent)
	}
	var start []uint32
	for _, off := range bad {
		for _, e := range r.log.rec(off).entries() {
			if entryStatus(e) != stRemoved {
				start = append(start, entryID(e))
			}
		}
	}
	res := r.splitLocked(start, noIdent, func(*component) int {
		for _, off := range bad {
			r.deleteRecord(off)
		}
		return len(bad)
	})
	r.emitSplit(res, eventID, nil)
	return res, nil
}

// SplitIdentifier takes identifier id out of all evidence and recomputes
// the persons it touched: the way to undo a shared phone or tablet that
// glued customers together. With block set the identifier is also put on
// the block list, so later observations cannot link it again (see
// Unblock); otherwise it is forgotten and a later observation starts over
// with it.
func (r *Resolver) SplitIdentifier(id Identifier, block bool) (SplitResult, error) {
	r.mu.Lock()
	defer r.unlockAndDeliver()
	buf := r.getPrep()
	defer r.putPrep(buf)
	x, v, err := r.lookupIdent(id, buf)
	norm := normOf(id, v)
	if err != nil {
		return SplitResult{}, fmt.Errorf("split identifier %v: %w", norm, err)
	}
	blockX := noIdent
	if block {
		blockX = x
	}
	res := r.splitLocked([]uint32{x}, blockX, func(c *component) int {
		n := 0
		for _, off := range c.recs {
			ents := r.log.rec(off).entries()
			for i, e := range ents {
				if entryStatus(e) != stRemoved && entryID(e) == x {
					ents[i] = mkEntry(stRemoved, 0)
					n++
				}
			}
		}
		return n
	})
	r.emitSplit(res, "", []Identifier{norm})
	return res, nil
}

func (r *Resolver) emitSplit(res SplitResult, eventID string, ids []Identifier) {
	if r.nsubs.Load() == 0 {
		return
	}
	r.pending = append(r.pending, Change{
		Kind: Split, EventID: eventID, Identifiers: ids,
		Before: res.Before, After: res.After, Moved: res.Moved,
	})
}

// deleteRecord wipes a record; its event index entry goes stale.
func (r *Resolver) deleteRecord(off uint32) {
	rc := r.log.rec(off)
	if rc.tag() != tagLive {
		return
	}
	wipeRec(rc)
	delete(r.viol, off)
	r.log.live--
}

// closure collects the evidence component of the start identifiers.
func (r *Resolver) closure(start []uint32) *component {
	c := &component{}
	seenID := make(map[uint32]bool)
	seenP := make(map[uint32]bool)
	seenR := make(map[uint32]bool)
	queue := slices.Clone(start)
	addRec := func(off uint32) {
		if seenR[off] {
			return
		}
		seenR[off] = true
		c.recs = append(c.recs, off)
		for _, e := range r.log.rec(off).entries() {
			if entryStatus(e) != stRemoved {
				queue = append(queue, entryID(e))
			}
		}
	}
	var buf []uint32
	for len(queue) > 0 {
		x := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if seenID[x] {
			continue
		}
		seenID[x] = true
		c.idents = append(c.idents, x)
		if p := r.ids.at(x).person; p < erasedIdent && !seenP[p] {
			for _, q := range r.group(buf[:0], p) {
				seenP[q] = true
				c.persons = append(c.persons, q)
			}
			queue = r.personIdents(queue, p)
			buf = r.personRecords(buf[:0], p)
			for _, off := range buf {
				addRec(off)
			}
		}
		for _, off := range r.dropRefs[x] {
			addRec(off)
		}
	}
	slices.Sort(c.idents)
	slices.Sort(c.persons)
	slices.Sort(c.recs)
	return c
}

// splitLocked recomputes the component of start after remove has taken
// the bad evidence out. block, if not noIdent, is put on the block list.
func (r *Resolver) splitLocked(start []uint32, block uint32, remove func(*component) int) SplitResult {
	c := r.closure(start)
	var res SplitResult
	rp := &replayState{bornTo: make(map[uint32]uint32), revived: make(map[uint32]bool)}
	oldOwner := make(map[uint32]uint32)
	for _, x := range c.idents {
		if p := r.ids.at(x).person; p < erasedIdent {
			oldOwner[x] = p
		}
	}
	for _, p := range c.persons {
		pp := r.persons.at(p)
		rp.bornTo[pp.born] = p
		if pp.status() == stateLive {
			res.Before = append(res.Before, PersonID(p))
		}
	}
	res.Removed = remove(c)

	// Forget everything the component's evidence built.
	for _, x := range c.idents {
		xi := r.ids.at(x)
		if xi.person < erasedIdent || xi.person == noPerson {
			xi.person, xi.next = noPerson, noIdent
			r.touch(x, 0, true)
		}
		delete(r.dropRefs, x)
	}
	for _, p := range c.persons {
		pp := r.persons.at(p)
		if pp.status() == stateLive {
			r.livePersons--
		}
		*pp = person{born: pp.born, ev: noRec, link: noIdent}
		r.setSib(p, p)
		pp.setStatus(stateRetired)
		clear(r.countsOf(p))
	}

	r.replay = rp
	var cs []cand
	for _, off := range c.recs {
		rc := r.log.rec(off)
		if rc.tag() != tagLive {
			continue
		}
		cs = cs[:0]
		for i, e := range rc.entries() {
			if entryStatus(e) == stRemoved {
				continue
			}
			x := entryID(e)
			xi := r.ids.at(x)
			if xi.person == blockedIdent || xi.person == erasedIdent {
				continue // unreachable: blocking and erasure remove references
			}
			ns := xi.ns()
			cs = append(cs, cand{
				kind: r.nsKind[ns], scope: r.nsScope[ns], val: r.arena.get(xi.arenaOff(), nil),
				ns: ns, id: x, person: xi.person, index: i,
			})
		}
		if len(cs) == 0 {
			r.deleteRecord(off)
			continue
		}
		viol := r.decide(cs, rc.time())
		r.commit(cs, off, rc.time(), viol, nil, "")
		res.Replayed++
	}
	r.replay = nil

	if block != noIdent {
		r.ids.at(block).person = blockedIdent
		r.blocked[block] = struct{}{}
		delete(r.dropRefs, block)
	}
	// Identifiers no remaining evidence carries would never have been
	// stored.
	for _, x := range c.idents {
		if r.ids.at(x).person == noPerson && len(r.dropRefs[x]) == 0 {
			r.eraseIdent(x)
		}
	}

	// Persons no replayed record created move to a successor.
	for _, p := range c.persons {
		pp := r.persons.at(p)
		switch pp.status() {
		case stateLive:
			res.After = append(res.After, PersonID(p))
			continue
		case stateAlias: // merged during the replay
			res.Moved = append(res.Moved, Move{PersonID(p), PersonID(r.mustCanonical(p))})
			continue
		}
		to := r.successor(p, oldOwner)
		if to != noPerson {
			pp.setStatus(stateAlias)
			pp.link = to
		}
		res.Moved = append(res.Moved, Move{PersonID(p), PersonID(to)})
	}
	for _, p := range rp.fresh {
		if r.persons.at(p).status() == stateLive {
			res.After = append(res.After, PersonID(p))
		}
	}
	slices.Sort(res.After)
	return res
}

// successor picks the live person a non-revived person p now stands for:
// the owner of the record that created it, or the person holding most of
// the identifiers p held (ties to the older), or noPerson.
func (r *Resolver) successor(p uint32, oldOwner map[uint32]uint32) uint32 {
	born := r.persons.at(p).born
	if born < r.log.end && r.log.rec(born).tag() == tagLive {
		if o := r.recordOwner(born); o < erasedIdent {
			return o
		}
	}
	votes := make(map[uint32]int)
	for x, o := range oldOwner {
		if o != p {
			continue
		}
		if q := r.ids.at(x).person; q < erasedIdent {
			votes[q]++
		}
	}
	best := noPerson
	for q, v := range votes {
		if best == noPerson || v > votes[best] || v == votes[best] && r.persons.at(q).born < r.persons.at(best).born {
			best = q
		}
	}
	return best
}

func (r *Resolver) mustCanonical(p uint32) uint32 {
	c, err := r.canonical(p)
	if err != nil {
		return noPerson
	}
	return c
}

// eraseIdent forgets identifier x: out of the lookup table, value wiped.
func (r *Resolver) eraseIdent(x uint32) {
	xi := r.ids.at(x)
	if xi.person == erasedIdent {
		return
	}
	r.tableDelete(x)
	r.arena.wipe(xi.arenaOff(), r.seenBytes(xi.ns()))
	delete(r.blocked, x)
	xi.person, xi.next = erasedIdent, noIdent
	delete(r.dropRefs, x)
	r.liveIDs--
}
