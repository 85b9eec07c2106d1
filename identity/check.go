package identity

import (
	"fmt"
	"slices"
)

// check verifies the resolver's invariants in time linear in its size: it
// guards restored snapshots and is run by the tests after every kind of
// mutation. r.mu must be held (or the resolver not yet shared).
func (r *Resolver) check() error {
	var liveIDs, livePersons int
	for x := range r.ids.len() {
		xi := r.ids.at(x)
		switch p := xi.person; {
		case p == erasedIdent:
			continue
		case p == blockedIdent:
			if _, ok := r.blocked[x]; !ok {
				return fmt.Errorf("identifier %d blocked but not listed", x)
			}
		case p == noPerson:
			if len(r.dropRefs[x]) == 0 {
				return fmt.Errorf("identifier %d belongs to no person and no evidence carries it", x)
			}
		default:
			if p >= r.persons.len() || r.persons.at(p).status() != stateLive {
				return fmt.Errorf("identifier %d held by person %d, which is not live", x, p)
			}
		}
		liveIDs++
		ns := xi.ns()
		if int(ns) >= len(r.nsKind) {
			return fmt.Errorf("identifier %d in unknown namespace %d", x, ns)
		}
		if got := r.findIdent(ns, r.identHash(x), r.arena.get(xi.arenaOff(), nil)); got != x {
			return fmt.Errorf("identifier %d not found by its value (got %d)", x, got)
		}
	}
	if liveIDs != r.liveIDs || liveIDs != r.table.live {
		return fmt.Errorf("%d identifiers stored, counted %d, table %d", liveIDs, r.liveIDs, r.table.live)
	}
	for x := range r.blocked {
		if r.ids.at(x).person != blockedIdent {
			return fmt.Errorf("identifier %d listed as blocked but is not", x)
		}
	}

	roots, err := r.roots()
	if err != nil {
		return err
	}
	held := 0
	for p := range r.persons.len() {
		pp := r.persons.at(p)
		if pp.status() != stateLive {
			continue
		}
		livePersons++
		xs := r.personIdents(nil, p)
		if len(xs) != int(pp.n) || len(xs) == 0 {
			return fmt.Errorf("person %d holds %d identifiers, counted %d", p, len(xs), pp.n)
		}
		held += len(xs)
		cnt := make([]uint8, r.cfg.counters)
		for _, x := range xs {
			xi := r.ids.at(x)
			if xi.person != p {
				return fmt.Errorf("person %d lists identifier %d of person %d", p, x, xi.person)
			}
			if j := r.cfg.kinds[r.nsKind[xi.ns()]].counter; j >= 0 {
				cnt[j]++
			}
		}
		if !slices.Equal(cnt, r.countsOf(p)) && r.cfg.counters > 0 {
			return fmt.Errorf("person %d limit counters %v, recounted %v", p, r.countsOf(p), cnt)
		}
		recs := r.personRecords(nil, p)
		if len(recs) == 0 {
			return fmt.Errorf("person %d has no evidence", p)
		}
		for _, off := range recs {
			rc := r.log.rec(off)
			if rc.tag() != tagLive {
				return fmt.Errorf("person %d lists deleted record %d", p, off)
			}
			linked := 0
			for _, e := range rc.entries() {
				if entryStatus(e) == stLinked {
					linked++
					if q := r.ids.at(entryID(e)).person; q != p {
						return fmt.Errorf("record %d of person %d links identifier %d of person %d", off, p, entryID(e), q)
					}
				}
			}
			if linked == 0 {
				return fmt.Errorf("record %d of person %d links nothing", off, p)
			}
		}
		merges := 0
		for _, q := range r.group(nil, p) {
			if q == p {
				continue
			}
			merges++
			if roots[q] != p {
				return fmt.Errorf("person %d in the group of %d resolves to %d", q, p, roots[q])
			}
		}
		if merges > pp.merges() {
			return fmt.Errorf("person %d has %d aliases but counts %d merges", p, merges, pp.merges())
		}
	}
	if livePersons != r.livePersons {
		return fmt.Errorf("%d live persons, counted %d", livePersons, r.livePersons)
	}

	records, dropped := 0, 0
	ec, ei := -1, 0
	for off := r.log.skipPad(0); off < r.log.end; off = r.log.following(off) {
		rc := r.log.rec(off)
		if rc.tag() != tagLive {
			continue
		}
		records++
		if o := r.recordOwner(off); o >= erasedIdent {
			return fmt.Errorf("record %d links no identifier", off)
		}
		for _, e := range rc.entries() {
			if entryStatus(e) == stDropped {
				dropped++
				if _, ok := slices.BinarySearch(r.dropRefs[entryID(e)], off); !ok {
					return fmt.Errorf("record %d drops identifier %d without a reference", off, entryID(e))
				}
			}
		}
		if rc.evLen() > 0 {
			// The index lists records in log order; find this one's entry.
			c, pos := int(off>>logChunkBits), off&(logChunk-1)
			if c != ec {
				ec, ei = c, 0
			}
			var entries []uint32
			if c < len(r.events) {
				entries = r.events[c]
			}
			for ; ei < len(entries) && entries[ei]&(logChunk-1) < pos; ei++ {
			}
			if ei == len(entries) || entries[ei] != r.eventHash(rc.eventID())&^(logChunk-1)|pos {
				return fmt.Errorf("record %d not found by its event ID", off)
			}
		}
	}
	for off := range r.viol {
		if off >= r.log.end || r.log.rec(off).tag() != tagLive {
			return fmt.Errorf("violation mask kept for dead record %d", off)
		}
	}
	if records != r.log.live {
		return fmt.Errorf("%d live records, counted %d", records, r.log.live)
	}
	refs := 0
	for x, offs := range r.dropRefs {
		refs += len(offs)
		if !slices.IsSorted(offs) {
			return fmt.Errorf("references to identifier %d out of order", x)
		}
	}
	if refs != dropped {
		return fmt.Errorf("%d dropped entries, %d references", dropped, refs)
	}
	return nil
}

// roots resolves every person's alias chain in linear time, failing on a
// cycle or a link to an unknown person.
func (r *Resolver) roots() ([]uint32, error) {
	np := r.persons.len()
	roots := make([]uint32, np)
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, np)
	var path []uint32
	for p := range np {
		path = path[:0]
		q := p
		var root uint32
		for {
			if state[q] == done {
				root = roots[q]
				break
			}
			if state[q] == onPath {
				return nil, fmt.Errorf("aliases of person %d go round in a circle", p)
			}
			pq := r.persons.at(q)
			if pq.status() != stateAlias {
				root = q
				break
			}
			if pq.link >= np {
				return nil, fmt.Errorf("person %d aliases unknown person %d", q, pq.link)
			}
			state[q] = onPath
			path = append(path, q)
			q = pq.link
		}
		for _, x := range path {
			roots[x], state[x] = root, done
		}
		roots[q], state[q] = root, done
	}
	return roots, nil
}
