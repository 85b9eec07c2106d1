package identity

import (
	"bytes"
	"fmt"
	"slices"
	"time"
)

// Resolution of one observation, shared by Observe and by the replay of a
// split:
//
//  1. The candidate set S is the observation's usable identifiers. P is the
//     set of live persons holding one of them; the others are new.
//  2. Merging P and attaching the new identifiers would give one person M.
//     A kind's limit is broken when M holds more identifiers of the kind
//     (within its window, per scope where so declared) than the limit and
//     than any person of P held alone — so rules made stricter later never
//     break persons that already exist. The identifier cap is checked the
//     same way; the merge cap counts the persons merged into M over time.
//  3. While something is broken, one offending identifier of S is dropped:
//     a new identifier of a broken kind, or one linking a person that holds
//     identifiers of a broken kind (for the identifier cap any identifier;
//     for the merge cap one linking a person other than the oldest). The
//     victim is of the lowest-priority kind; then a new identifier before a
//     known one; then the link to the youngest person; then the greatest
//     scope and value, so the outcome never depends on the order an
//     observation lists its identifiers in. Resolution re-runs on what is
//     left. A single identifier never breaks anything, so this ends.
//  4. If P is empty, a person is created; otherwise the oldest person of P
//     (the one whose first observation came first) survives and the others
//     become its aliases. New identifiers are attached and every linked
//     identifier's last-seen time moves forward.

// scratch is resolution working memory, reused under the lock.
type scratch struct {
	ps     []pinfo
	pcs    []pcount
	keys   []keyTotal
	losers []uint32

	laHash  []uint64 // lookAhead's hashes of a chunk's identifiers
	laIdent []uint32 // and what their probes found
}

// pinfo is a person of P.
type pinfo struct {
	id     uint32
	born   uint32
	n      int
	merges int
	links  int // candidates still linking it
}

// pcount is how many identifiers of a limit bucket a person of P holds.
type pcount struct {
	pi  int
	key uint32
	c   int
}

// keyTotal is a limit bucket: a kind, or a kind's scope for LimitPerScope
// (perScopeKey | namespace).
type keyTotal struct {
	key      uint32
	limit    int
	bit      uint32
	sum, max int
	violated bool
}

const perScopeKey = 1 << 31

func (r *Resolver) bucket(kind uint16, ns uint32) uint32 {
	if r.cfg.kinds[kind].LimitPerScope {
		return perScopeKey | ns
	}
	return uint32(kind)
}

// decide marks the candidates to drop and returns the violation mask of
// everything that forced a drop.
func (r *Resolver) decide(cs []cand, t uint32) uint32 {
	sc := &r.sc
	sc.ps = sc.ps[:0]
	sc.pcs = sc.pcs[:0]
	nNew, limitedNew, complexNew := 0, false, false
	for i := range cs {
		c := &cs[i]
		c.dropped, c.lim, c.pi = false, 0, -1
		if c.person == noPerson {
			nNew++
			kr := &r.cfg.kinds[c.kind]
			limitedNew = limitedNew || kr.Limit > 0
			complexNew = complexNew || kr.complex
			continue
		}
		pi := -1
		for j := range sc.ps {
			if sc.ps[j].id == c.person {
				pi = j
				break
			}
		}
		if pi < 0 {
			pp := r.persons.at(c.person)
			sc.ps = append(sc.ps, pinfo{id: c.person, born: pp.born, n: int(pp.n), merges: pp.merges()})
			pi = len(sc.ps) - 1
		}
		c.pi = pi
		sc.ps[pi].links++
	}
	switch {
	case nNew == 0 && len(sc.ps) == 1:
		return 0 // the person is seen again; nothing grows
	case len(sc.ps) == 0 && nNew <= r.cfg.maxIDs && !r.newBreak(cs, nil):
		return 0 // a new person within every limit
	case len(sc.ps) == 1 && !complexNew && sc.ps[0].n+nNew <= r.cfg.maxIDs && !r.newBreak(cs, r.countsOf(sc.ps[0].id)):
		return 0 // new identifiers for one person, within its limits
	}
	if len(sc.ps) >= 2 || limitedNew {
		r.countLimited(t, len(sc.ps) >= 2 || complexNew)
	}
	var viol uint32
	for {
		v := r.violations(cs)
		if v == 0 {
			return viol
		}
		viol |= v
		i := r.victim(cs, v)
		c := &cs[i]
		c.dropped, c.lim = true, v
		if c.pi >= 0 {
			sc.ps[c.pi].links--
		}
	}
}

// newBreak is the quick check of the common cases: whether the new
// candidates, added to a person with limit counters cnt (nil for none),
// break a plain limit. Windowed and per-scope limits take the general path.
func (r *Resolver) newBreak(cs []cand, cnt []uint8) bool {
	for i := range cs {
		c := &cs[i]
		kr := &r.cfg.kinds[c.kind]
		if c.pi >= 0 || kr.Limit == 0 {
			continue
		}
		n := 1
		for j := range cs {
			if j != i && cs[j].pi < 0 && cs[j].kind == c.kind && (!kr.LimitPerScope || cs[j].ns == c.ns) {
				n++
			}
		}
		if cnt != nil && kr.counter >= 0 {
			n += int(cnt[kr.counter])
		}
		if n > kr.Limit {
			return true
		}
	}
	return false
}

// countLimited fills scratch.pcs with the limited identifiers each person
// of P holds: from the counters for plain limits, by walking the person
// for windowed and per-scope limits when walk is set.
func (r *Resolver) countLimited(t uint32, walk bool) {
	sc := &r.sc
	walk = walk && r.cfg.complex
	for pi := range sc.ps {
		p := sc.ps[pi].id
		if cnt := r.countsOf(p); cnt != nil {
			for k := range r.cfg.kinds {
				if j := r.cfg.kinds[k].counter; j >= 0 && cnt[j] > 0 {
					sc.pcs = append(sc.pcs, pcount{pi: pi, key: uint32(k), c: int(cnt[j])})
				}
			}
		}
		if !walk {
			continue
		}
		first := len(sc.pcs)
		pp := r.persons.at(p)
		x := pp.link
		for x != noIdent {
			xi := r.ids.at(x)
			ns := xi.ns()
			k := r.nsKind[ns]
			kr := &r.cfg.kinds[k]
			if kr.complex && (kr.window == 0 || uint64(r.seen(x))+uint64(kr.window) >= uint64(t)) {
				key := r.bucket(k, ns)
				found := false
				for j := first; j < len(sc.pcs); j++ {
					if sc.pcs[j].key == key {
						sc.pcs[j].c++
						found = true
						break
					}
				}
				if !found {
					sc.pcs = append(sc.pcs, pcount{pi: pi, key: key, c: 1})
				}
			}
			x = xi.next
			if x == pp.link {
				break
			}
		}
	}
}

func (r *Resolver) keyIndex(key uint32) int {
	sc := &r.sc
	for i := range sc.keys {
		if sc.keys[i].key == key {
			return i
		}
	}
	kind := uint16(key)
	if key&perScopeKey != 0 {
		kind = r.nsKind[key&^perScopeKey]
	}
	kr := &r.cfg.kinds[kind]
	sc.keys = append(sc.keys, keyTotal{key: key, limit: kr.Limit, bit: kr.bit})
	return len(sc.keys) - 1
}

// violations returns the mask of limits and caps the remaining candidates
// would break, marking the broken buckets in scratch.keys.
func (r *Resolver) violations(cs []cand) uint32 {
	sc := &r.sc
	sc.keys = sc.keys[:0]
	for _, pc := range sc.pcs {
		if sc.ps[pc.pi].links == 0 {
			continue
		}
		k := &sc.keys[r.keyIndex(pc.key)]
		k.sum += pc.c
		k.max = max(k.max, pc.c)
	}
	newActive := 0
	for i := range cs {
		c := &cs[i]
		if c.dropped || c.pi >= 0 {
			continue
		}
		newActive++
		if r.cfg.kinds[c.kind].Limit > 0 {
			sc.keys[r.keyIndex(r.bucket(c.kind, c.ns))].sum++
		}
	}
	var v uint32
	for i := range sc.keys {
		k := &sc.keys[i]
		if k.sum > k.limit && k.sum > k.max {
			k.violated = true
			v |= k.bit
		}
	}
	sumN, maxN, sumM, nP := newActive, 0, 0, 0
	for i := range sc.ps {
		p := &sc.ps[i]
		if p.links == 0 {
			continue
		}
		nP++
		sumN += p.n
		maxN = max(maxN, p.n)
		sumM += p.merges
	}
	if sumN > r.cfg.maxIDs && sumN > maxN {
		v |= bitMaxIdentifiers
	}
	if nP >= 2 && sumM+nP-1 > r.cfg.maxMerges {
		v |= bitMaxMerges
	}
	return v
}

func (r *Resolver) keyViolated(key uint32) bool {
	for i := range r.sc.keys {
		if r.sc.keys[i].key == key {
			return r.sc.keys[i].violated
		}
	}
	return false
}

// victim picks the candidate to drop next.
func (r *Resolver) victim(cs []cand, v uint32) int {
	sc := &r.sc
	oldest := -1
	for i := range sc.ps {
		if sc.ps[i].links > 0 && (oldest < 0 || sc.ps[i].born < sc.ps[oldest].born) {
			oldest = i
		}
	}
	best, any := -1, -1
	for i := range cs {
		c := &cs[i]
		if c.dropped {
			continue
		}
		if any < 0 || r.dropsBefore(c, &cs[any]) {
			any = i
		}
		if !r.offending(c, v, oldest) {
			continue
		}
		if best < 0 || r.dropsBefore(c, &cs[best]) {
			best = i
		}
	}
	if best < 0 {
		// Every broken limit has an offending candidate (see the package
		// notes above); this keeps resolution finite if that ever fails.
		return any
	}
	return best
}

func (r *Resolver) offending(c *cand, v uint32, oldest int) bool {
	if v&bitMaxIdentifiers != 0 {
		return true
	}
	if c.pi < 0 {
		return r.cfg.kinds[c.kind].Limit > 0 && r.keyViolated(r.bucket(c.kind, c.ns))
	}
	if v&bitMaxMerges != 0 && c.pi != oldest {
		return true
	}
	for _, pc := range r.sc.pcs {
		if pc.pi == c.pi && r.keyViolated(pc.key) {
			return true
		}
	}
	return false
}

// dropsBefore orders candidates for dropping: lowest priority first, new
// before known, the youngest person's link first, then the greatest scope
// and value.
func (r *Resolver) dropsBefore(a, b *cand) bool {
	if a.kind != b.kind {
		return a.kind > b.kind
	}
	if an, bn := a.pi < 0, b.pi < 0; an != bn {
		return an
	}
	if a.pi >= 0 && a.pi != b.pi {
		return r.sc.ps[a.pi].born > r.sc.ps[b.pi].born
	}
	if a.scope != b.scope {
		return a.scope > b.scope
	}
	return bytes.Compare(a.val, b.val) > 0
}

// outcome is what resolving one observation did: Result without the
// details, for callers that only count.
type outcome struct {
	person   uint32 // the survivor, or noPerson if the observation failed
	created  bool
	attached int
	merged   int
	dropped  int
	rejected int
}

// commit applies a decision to record off: it creates or picks the
// survivor, merges, attaches and writes the record's entries. res may be
// nil when only the outcome is wanted (a replay, a bulk load).
func (r *Resolver) commit(cs []cand, off, t, viol uint32, res *Result, eventID string) outcome {
	sc := &r.sc
	surv, born := noPerson, uint32(0)
	for i := range sc.ps {
		if p := &sc.ps[i]; p.links > 0 && (surv == noPerson || p.born < born) {
			surv, born = p.id, p.born
		}
	}
	created := surv == noPerson
	if created {
		surv = r.newPerson(off)
	}
	sc.losers = sc.losers[:0]
	for i := range sc.ps {
		if p := &sc.ps[i]; p.links > 0 && p.id != surv {
			sc.losers = append(sc.losers, p.id)
		}
	}
	// Oldest first, so Result.Merged and the merge change read in age order.
	for i := 1; i < len(sc.losers); i++ {
		for j := i; j > 0 && r.persons.at(sc.losers[j]).born < r.persons.at(sc.losers[j-1]).born; j-- {
			sc.losers[j], sc.losers[j-1] = sc.losers[j-1], sc.losers[j]
		}
	}
	for _, l := range sc.losers {
		r.merge(surv, l)
	}
	rc := r.log.rec(off)
	ents := rc.entries()
	out := outcome{person: surv, created: created, merged: len(sc.losers)}
	for i := range cs {
		c := &cs[i]
		if c.dropped {
			ents[c.index] = mkEntry(stDropped, c.id)
			r.dropRefs[c.id] = append(r.dropRefs[c.id], off)
			out.dropped++
			continue
		}
		ents[c.index] = mkEntry(stLinked, c.id)
		xi := r.ids.at(c.id)
		if xi.person != surv {
			r.attach(surv, c.id)
			out.attached++
		}
		if r.cfg.kinds[c.kind].window > 0 {
			r.touch(c.id, t, false)
		}
	}
	if viol != 0 || r.replay != nil {
		r.setViol(off, viol)
	}
	r.appendEvidence(surv, off)
	var losers []PersonID
	if len(sc.losers) > 0 && (res != nil || r.replay == nil && r.nsubs.Load() > 0) {
		losers = make([]PersonID, len(sc.losers))
		for i, l := range sc.losers {
			losers[i] = PersonID(l)
		}
	}
	if res != nil {
		res.Person = PersonID(surv)
		res.Created = created
		res.Attached = out.attached
		res.Merged = losers
		for i := range cs {
			if c := &cs[i]; c.dropped {
				res.Dropped = append(res.Dropped, Drop{
					Identifier: Identifier{Kind: r.cfg.kinds[c.kind].Name, Scope: c.scope, Value: string(c.val)},
					Limits:     r.cfg.limitNames(c.lim),
				})
			}
		}
	}
	// A replay reports one Split change for the whole, not its merges.
	if len(sc.losers) > 0 && r.replay == nil && r.nsubs.Load() > 0 {
		ch := Change{Kind: Merged, EventID: eventID, Time: time.Unix(int64(t), 0).UTC(), Survivor: PersonID(surv), Losers: losers}
		for i := range cs {
			if !cs[i].dropped {
				ch.Identifiers = append(ch.Identifiers, r.identifier(cs[i].id))
			}
		}
		r.pending = append(r.pending, ch)
	}
	return out
}

// resolveLocked resolves a prepared observation; r.mu is held. given is
// the observation's identifiers as given, for res.Rejected; res may be nil.
func (r *Resolver) resolveLocked(p *prepared, given []Identifier, res *Result) (outcome, error) {
	out := outcome{person: noPerson, rejected: p.rejected}
	obsErr := func(err error) error {
		return &ObservationError{EventID: p.eventID, Identifier: -1, Err: err}
	}
	cs := p.cands
	newIDs, newNS, blocked := 0, 0, 0
	for i := range cs {
		c := &cs[i]
		c.ns = r.nsCached(c.kind, c.scope)
		c.id, c.person = noIdent, noPerson
		if c.ns != noNS {
			c.id, c.slot = r.findSlot(c.ns, c.hash, c.val)
		} else {
			c.slot = slotHint{slot: -1}
			newNS++
		}
		if c.id == noIdent {
			newIDs++
			continue
		}
		switch xp := r.ids.at(c.id).person; xp {
		case blockedIdent:
			if res != nil {
				res.Rejected = append(res.Rejected, Rejection{Index: c.index, Identifier: given[c.index], Err: errBlockSplit})
			}
			c.dropped = true // marks it for removal below
			blocked++
		case noPerson:
		default:
			c.person = xp
		}
	}
	if blocked > 0 {
		cs = slices.DeleteFunc(cs, func(c cand) bool { return c.dropped })
		out.rejected += blocked
	}
	if len(cs) == 0 {
		return out, obsErr(ErrNoIdentifier)
	}
	src, ok := r.source(p.source)
	switch {
	case !ok:
		return out, obsErr(fmt.Errorf("more than %d sources: %w", maxSources, ErrFull))
	case int(r.ids.len())+newIDs > maxIdents:
		return out, obsErr(fmt.Errorf("identifiers: %w", ErrFull))
	case r.persons.len() >= erasedIdent-1:
		return out, obsErr(fmt.Errorf("persons: %w", ErrFull))
	case len(r.nsKind)+newNS > maxNamespaces:
		return out, obsErr(fmt.Errorf("scopes: %w", ErrFull))
	}
	words := recWords(len(cs), p.eventID)
	off := r.log.alloc(words)
	if off == noRec {
		return out, obsErr(fmt.Errorf("evidence log: %w", ErrFull))
	}
	writeRec(r.log.view(off, words), len(cs), src, p.t, p.eventID)
	r.log.live++
	for i := range cs {
		c := &cs[i]
		if c.ns == noNS {
			c.ns = r.ns(c.kind, c.scope, true)
		}
	}
	viol := r.decide(cs, p.t)
	for i := range cs {
		c := &cs[i]
		if c.id == noIdent {
			c.id = r.newIdent(c.ns, c.hash, c.val, c.slot)
		}
		c.index = i // now the entry's slot in the record
	}
	done := r.commit(cs, off, p.t, viol, res, p.eventID)
	done.rejected = out.rejected
	if p.eventID != "" {
		r.eventInsert(off, p.evHash)
	}
	return done, nil
}
