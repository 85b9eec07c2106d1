package identity

import (
	"fmt"
	"slices"
	"time"
)

// Evidence identifies a stored observation.
type Evidence struct {
	EventID string    // as given to Observe
	Source  string    // as given to Observe
	Time    time.Time // UTC, whole seconds
}

// A Step is one observation in a person's lineage and what it did.
type Step struct {
	Evidence
	// Person is the live person the observation's linked identifiers
	// belong to now.
	Person PersonID
	// Created is the person the observation created (perhaps since merged
	// into Person), or NoPerson.
	Created PersonID
	// Linked are the identifiers the observation linked together.
	Linked []Identifier
	// Added are those of Linked that joined the lineage here.
	Added []Identifier
	// Joined are the persons this observation merged into the oldest of
	// the persons it touched; they are aliases now.
	Joined []PersonID
	// Dropped are identifiers the observation carried but did not link,
	// and Limits what would have been broken by linking them.
	Dropped []Identifier
	Limits  []string // kind names, LimitMaxIdentifiers or LimitMaxMerges
}

// An Explanation is a person's lineage: how its identifiers came together.
type Explanation struct {
	Person      PersonID     // the live person explained
	Aliases     []PersonID   // persons merged into it, ascending
	Identifiers []Identifier // as Resolver.Identifiers
	// Steps are its observations, oldest first.
	Steps []Step
	// Refused are observations that resolved to other persons and carried
	// one of this person's identifiers, which a limit kept from linking:
	// the rejected links, oldest first.
	Refused []Step
}

// step decodes record off.
func (r *Resolver) step(off uint32) Step {
	rc := r.log.rec(off)
	s := Step{
		Evidence: Evidence{
			EventID: string(rc.eventID()),
			Source:  r.sources[rc.source()],
			Time:    time.Unix(int64(rc.time()), 0).UTC(),
		},
		Person:  NoPerson,
		Created: NoPerson,
		Limits:  r.cfg.limitNames(r.viol[off]),
	}
	for _, e := range rc.entries() {
		x := entryID(e)
		switch entryStatus(e) {
		case stLinked:
			s.Linked = append(s.Linked, r.identifier(x))
			if p, err := r.canonical(r.ids.at(x).person); err == nil {
				s.Person = PersonID(p)
			}
		case stDropped:
			s.Dropped = append(s.Dropped, r.identifier(x))
		}
	}
	return s
}

// recordOwner returns the live person record off resolved to.
func (r *Resolver) recordOwner(off uint32) uint32 {
	for _, e := range r.log.rec(off).entries() {
		if entryStatus(e) == stLinked {
			return r.ids.at(entryID(e)).person
		}
	}
	return noPerson
}

// Explain returns the lineage of person p (or of the person an alias
// resolves to): every observation that joined its identifiers, in order,
// with the merges and rejected links among them.
func (r *Resolver) Explain(p PersonID) (*Explanation, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, err := r.canonical(uint32(p))
	if err != nil {
		return nil, fmt.Errorf("explain person %d: %w", p, err)
	}
	ex := &Explanation{Person: PersonID(c)}
	bornTo := make(map[uint32]uint32)
	for _, q := range r.group(nil, c) {
		bornTo[r.persons.at(q).born] = q
		if q != c {
			ex.Aliases = append(ex.Aliases, PersonID(q))
		}
	}
	slices.Sort(ex.Aliases)
	xs := r.personIdents(nil, c)
	ex.Identifiers = r.sortedIdents(xs)

	// Replay the lineage with a union-find over identifiers; each set is
	// labelled with the person that the record opening it created.
	parent := make(map[uint32]uint32)
	label := make(map[uint32]uint32) // root → person
	var find func(uint32) uint32
	find = func(x uint32) uint32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, off := range r.personRecords(nil, c) {
		s := r.step(off)
		var roots []uint32
		var fresh []uint32
		for _, e := range r.log.rec(off).entries() {
			if entryStatus(e) != stLinked {
				continue
			}
			x := entryID(e)
			if _, seen := parent[x]; !seen {
				fresh = append(fresh, x)
				continue
			}
			if rt := find(x); !slices.Contains(roots, rt) {
				roots = append(roots, rt)
			}
		}
		var root uint32
		if len(roots) == 0 {
			if len(fresh) == 0 {
				continue
			}
			root = fresh[0]
			parent[root] = root
			q, ok := bornTo[off]
			if !ok {
				q = noPerson
			}
			label[root] = q
			s.Created = PersonID(q)
		} else {
			// The oldest person survives: its label has the lowest birth.
			slices.SortFunc(roots, func(a, b uint32) int {
				return r.compareBirth(label[a], label[b])
			})
			root = roots[0]
			for _, rt := range roots[1:] {
				s.Joined = append(s.Joined, PersonID(label[rt]))
				parent[rt] = root
			}
		}
		for _, x := range fresh {
			parent[x] = root
			s.Added = append(s.Added, r.identifier(x))
		}
		ex.Steps = append(ex.Steps, s)
	}

	var refused []uint32
	for _, x := range xs {
		for _, off := range r.dropRefs[x] {
			if r.recordOwner(off) != c {
				refused = append(refused, off)
			}
		}
	}
	slices.Sort(refused)
	for _, off := range slices.Compact(refused) {
		ex.Refused = append(ex.Refused, r.step(off))
	}
	return ex, nil
}

func (r *Resolver) compareBirth(a, b uint32) int {
	ba, bb := ^uint32(0), ^uint32(0)
	if a != noPerson {
		ba = r.persons.at(a).born
	}
	if b != noPerson {
		bb = r.persons.at(b).born
	}
	switch {
	case ba < bb:
		return -1
	case ba > bb:
		return 1
	}
	return 0
}

// Why returns the shortest chain of observations linking two identifiers
// of one person: the first step links a to some identifier, each later
// step continues from the previous one, the last reaches b. The error
// matches ErrNotLinked when they belong to different persons, or the
// errors of Lookup.
func (r *Resolver) Why(a, b Identifier) ([]Step, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	buf := r.getPrep()
	defer r.putPrep(buf)
	xa, v, err := r.lookupIdent(a, buf)
	na := normOf(a, v)
	if err != nil {
		return nil, fmt.Errorf("why %v: %w", na, err)
	}
	xb, v, err := r.lookupIdent(b, buf)
	nb := normOf(b, v)
	if err != nil {
		return nil, fmt.Errorf("why %v: %w", nb, err)
	}
	pa, pb := r.ids.at(xa).person, r.ids.at(xb).person
	if pa == noPerson || pa != pb {
		return nil, fmt.Errorf("why %v and %v: %w", na, nb, ErrNotLinked)
	}
	if xa == xb {
		return nil, nil
	}
	recs := r.personRecords(nil, pa)
	byIdent := make(map[uint32][]int)
	for i, off := range recs {
		for _, e := range r.log.rec(off).entries() {
			if entryStatus(e) == stLinked {
				byIdent[entryID(e)] = append(byIdent[entryID(e)], i)
			}
		}
	}
	type hop struct {
		from uint32
		rec  int
	}
	prev := map[uint32]hop{xa: {noIdent, -1}}
	queue := []uint32{xa}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		if x == xb {
			break
		}
		for _, i := range byIdent[x] {
			for _, e := range r.log.rec(recs[i]).entries() {
				y := entryID(e)
				if entryStatus(e) != stLinked {
					continue
				}
				if _, seen := prev[y]; !seen {
					prev[y] = hop{x, i}
					queue = append(queue, y)
				}
			}
		}
	}
	if _, ok := prev[xb]; !ok {
		// Cannot happen while the evidence is whole: every identifier of a
		// person was linked by one of its observations.
		return nil, fmt.Errorf("why %v and %v: %w", na, nb, ErrNotLinked)
	}
	var chain []Step
	for x := xb; x != xa; x = prev[x].from {
		chain = append(chain, r.step(recs[prev[x].rec]))
	}
	slices.Reverse(chain)
	return chain, nil
}
