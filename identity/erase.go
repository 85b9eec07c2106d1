package identity

import (
	"fmt"
	"slices"
)

// An Erasure reports what Erase removed.
type Erasure struct {
	Person      PersonID     // the person erased
	Aliases     []PersonID   // persons merged into it, ascending; erased with it
	Identifiers []Identifier // its identifiers, and identifiers only its observations carried
	// EventIDs are the event IDs of its observations, oldest first, so the
	// host can erase what it keeps under them.
	EventIDs []string
	// Scrubbed counts references to its identifiers removed from other
	// persons' observations (refused links).
	Scrubbed int
}

// Erase deletes person p (or the person an alias resolves to) for the
// right to erasure under PIPL and GDPR: its identifiers, the values of
// identifiers only its observations carried, its observations, and the
// references other observations held to its identifiers. The persons
// merged into it are erased with it. Values are zeroed in memory, not
// just unlinked; the space is reclaimed by the next snapshot and restore,
// and snapshot files written before must be rewritten. Later observations
// of the same identifiers start a new person. Other persons are left as
// they are: erasure is deletion, not a split.
func (r *Resolver) Erase(p PersonID) (Erasure, error) {
	r.mu.Lock()
	defer r.unlockAndDeliver()
	c, err := r.canonical(uint32(p))
	if err != nil {
		return Erasure{}, fmt.Errorf("erase person %d: %w", p, err)
	}
	er := Erasure{Person: PersonID(c)}
	group := r.group(nil, c)
	for _, q := range group {
		if q != c {
			er.Aliases = append(er.Aliases, PersonID(q))
		}
	}
	slices.Sort(er.Aliases)
	xs := r.personIdents(nil, c)
	recs := r.personRecords(nil, c)
	own := make(map[uint32]bool, len(xs))
	for _, x := range xs {
		own[x] = true
	}

	// Identifiers that only this person's observations carried, dropped.
	var orphans []uint32
	for _, off := range recs {
		er.EventIDs = append(er.EventIDs, string(r.log.rec(off).eventID()))
		for _, e := range r.log.rec(off).entries() {
			y := entryID(e)
			if entryStatus(e) != stDropped || own[y] {
				continue
			}
			refs := slices.DeleteFunc(r.dropRefs[y], func(o uint32) bool { return o == off })
			if len(refs) == 0 {
				delete(r.dropRefs, y)
				if r.ids.at(y).person == noPerson && !slices.Contains(orphans, y) {
					orphans = append(orphans, y)
				}
			} else {
				r.dropRefs[y] = refs
			}
		}
	}
	all := slices.Concat(xs, orphans)
	er.Identifiers = r.sortedIdents(all)

	// Scrub references from other persons' observations.
	for _, x := range xs {
		for _, off := range r.dropRefs[x] {
			if r.recordOwner(off) == c {
				continue
			}
			rc := r.log.rec(off)
			ents := rc.entries()
			stillDropped := false
			for i, e := range ents {
				if entryStatus(e) != stRemoved && entryID(e) == x {
					ents[i] = mkEntry(stRemoved, 0)
					er.Scrubbed++
				} else if entryStatus(e) == stDropped {
					stillDropped = true
				}
			}
			if !stillDropped {
				// Which limit refused the link would hint at the erased
				// identifier; nothing refused remains to explain.
				r.setViol(off, 0)
			}
		}
	}
	for _, off := range recs {
		r.deleteRecord(off)
	}
	for _, x := range all {
		r.eraseIdent(x)
	}
	for _, q := range group {
		pp := r.persons.at(q)
		*pp = person{born: 0, ev: noRec, link: noIdent}
		r.setSib(q, q)
		pp.setStatus(stateErased)
		clear(r.countsOf(q))
	}
	r.livePersons--
	if r.nsubs.Load() > 0 {
		r.pending = append(r.pending, Change{Kind: Erased, Person: er.Person, Aliases: er.Aliases, Identifiers: er.Identifiers})
	}
	return er, nil
}

// Unblock takes an identifier blocked by SplitIdentifier off the block
// list; evidence removed by the split stays removed. The error matches
// ErrNotFound if the identifier is not on the list.
func (r *Resolver) Unblock(id Identifier) error {
	r.mu.Lock()
	defer r.unlockAndDeliver()
	buf := r.getPrep()
	defer r.putPrep(buf)
	x, v, err := r.lookupIdent(id, buf)
	switch {
	case err == errBlockSplit:
		r.eraseIdent(x)
		return nil
	case err != nil:
		return fmt.Errorf("unblock %v: %w", normOf(id, v), err)
	}
	return fmt.Errorf("unblock %v: not blocked: %w", normOf(id, v), ErrNotFound)
}

// Blocked returns the identifiers blocked by SplitIdentifier, in priority
// order.
func (r *Resolver) Blocked() []Identifier {
	r.mu.RLock()
	defer r.mu.RUnlock()
	xs := make([]uint32, 0, len(r.blocked))
	for x := range r.blocked {
		xs = append(xs, x)
	}
	return r.sortedIdents(xs)
}
