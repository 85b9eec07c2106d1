package identity

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// A PersonID names a person: dense, issued from 0 upwards in the order
// persons are created, never reused. A merged-away person keeps its ID as an
// alias of the survivor (see Resolver.Canonical).
type PersonID uint32

// NoPerson is the PersonID of no person.
const NoPerson = PersonID(math.MaxUint32)

// An Observation is one event's worth of evidence: the identifiers seen
// together, with the event's ID, its source system and its time. Time must
// be set (second resolution, 1970 to 2106); EventID and Source are kept as
// lineage and may be empty, though SplitObservation needs the event ID.
type Observation struct {
	EventID     string       // the host's ID of the event, kept as lineage
	Source      string       // the system it came from: "pos", "wechat_mp", "taobao"…
	Time        time.Time    // when it happened
	Identifiers []Identifier // the identifiers seen together
}

// A Result says what an observation did.
type Result struct {
	// Person is the (canonical) person the observation resolved to, or
	// NoPerson when no identifier was usable.
	Person PersonID
	// Created is set when the observation created Person.
	Created bool
	// Attached counts identifiers the observation attached to Person
	// for the first time.
	Attached int
	// Merged lists the persons merged into Person, oldest first; each is
	// now an alias of Person.
	Merged []PersonID
	// Dropped lists identifiers recorded as evidence but not linked,
	// because linking them would have broken a limit or cap.
	Dropped []Drop
	// Rejected lists identifiers never stored: blocked or invalid.
	Rejected []Rejection
}

// A Drop is an identifier an observation carried but did not link.
type Drop struct {
	Identifier Identifier // normalised
	// Limits names what would have been broken: kind names, or
	// LimitMaxIdentifiers / LimitMaxMerges.
	Limits []string
}

// A Rejection is an identifier set aside before resolution.
type Rejection struct {
	Index      int        // position in Observation.Identifiers
	Identifier Identifier // as given
	Err        error      // matches ErrBlocked or ErrInvalid
}

// A Resolver resolves observations into persons and keeps the identity
// graph with its evidence.
//
// A Resolver is safe for concurrent use. Mutations (Observe, ObserveBatch,
// SplitObservation, SplitIdentifier, Erase, Unblock) are serialised by one
// lock; normalising an observation's values happens before it is taken.
// Lookups (Lookup, Canonical, Identifiers, Explain, Why, Persons, Stats)
// share a read lock and run in parallel with each other. The graph after a
// sequence of observations depends only on their order, never on
// goroutine scheduling or hash seeds.
type Resolver struct {
	mu   sync.RWMutex
	cfg  *compiled
	seed maphash.Seed

	nsKind   []uint16 // namespace → kind; unscoped kind i is namespace i
	nsScope  []string
	nsIndex  map[nsKey]uint32
	sources  []string
	srcIndex map[string]uint32

	ids      chunked[ident]
	arena    arena
	table    idTable
	persons  chunked[person]
	counts   counterTable // per person, cfg.counters each
	log      evlog
	events   [][]uint32          // event ID index per log chunk: hash(12) | position in chunk(20), in log order
	dropRefs map[uint32][]uint32 // identifier → records that carried it dropped
	blocked  map[uint32]struct{} // identifiers blocked by SplitIdentifier
	sibs     map[uint32]uint32   // next person of a group's circular list, for persons in a group
	viol     map[uint32]uint32   // record → limits that forced its drops, when any did

	liveIDs     int
	livePersons int

	nsCache  [64]nsCacheEntry
	srcCache [8]srcCacheEntry
	srcNext  int

	sc     scratch
	replay *replayState // set while a split replays

	subMu     sync.Mutex
	subs      map[int]func(Change)
	nextSub   int
	nsubs     atomic.Int32
	deliverMu sync.Mutex
	pending   []Change

	prepPool sync.Pool
	workPool sync.Pool
	sink     uint64 // what lookAhead loaded, so that the loads are kept
}

type nsKey struct {
	kind  uint16
	scope string
}

const noNS = ^uint32(0)

// New returns an empty Resolver for cfg.
func New(cfg Config) (*Resolver, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	r := newResolver(c)
	r.table.slots = makeSlots(slotsFor(cfg.SizeHint))
	return r, nil
}

func newResolver(c *compiled) *Resolver {
	r := &Resolver{
		cfg:      c,
		seed:     maphash.MakeSeed(),
		nsIndex:  make(map[nsKey]uint32),
		sources:  []string{""},
		counts:   counterTable{stride: uint32(c.counters)},
		srcIndex: map[string]uint32{"": 0},
		dropRefs: make(map[uint32][]uint32),
		blocked:  make(map[uint32]struct{}),
		sibs:     make(map[uint32]uint32),
		viol:     make(map[uint32]uint32),
	}
	for i := range c.kinds {
		r.nsKind = append(r.nsKind, uint16(i))
		r.nsScope = append(r.nsScope, "")
	}
	return r
}

// cand is one identifier of an observation on its way through resolution.
type cand struct {
	kind  uint16
	scope string
	val   []byte
	hash  uint64
	index int // position in the observation
	voff  int // val's offset in the prepared buffer, until it is stable

	ns      uint32
	slot    slotHint // where to insert it when it is new
	id      uint32   // identifier number, or noIdent if never stored
	person  uint32   // live person holding it, or noPerson
	pi      int      // index in scratch.ps, or -1
	dropped bool
	lim     uint32 // violations that dropped it
}

// prepared is an observation normalised outside the lock.
type prepared struct {
	eventID  string
	evHash   uint32 // eventHashString(eventID), when eventID is set
	source   string
	t        uint32
	rejected int // identifiers set aside as blocked or invalid
	buf      []byte
	cands    []cand
}

func (p *prepared) reset() {
	p.cands = p.cands[:0]
	p.buf = p.buf[:0]
	p.eventID, p.source, p.rejected = "", "", 0
}

func (r *Resolver) getPrep() *prepared {
	if p, ok := r.prepPool.Get().(*prepared); ok {
		return p
	}
	return &prepared{buf: make([]byte, 0, 256), cands: make([]cand, 0, 8)}
}

func (r *Resolver) putPrep(p *prepared) {
	p.reset()
	r.prepPool.Put(p)
}

func unixSeconds(t time.Time) (uint32, error) {
	if t.IsZero() {
		return 0, fmt.Errorf("zero time: %w", ErrBadObservation)
	}
	s := t.Unix()
	if s < 0 || s > math.MaxUint32 {
		return 0, fmt.Errorf("time %v outside 1970..2106: %w", t, ErrBadObservation)
	}
	return uint32(s), nil
}

// checkShape checks what an observation must be whatever the Config:
// its event ID's length and its identifier count.
func checkShape(eventID string, ids int) error {
	if len(eventID) > maxEventIDLen {
		return fmt.Errorf("event ID of %d bytes, at most %d: %w", len(eventID), maxEventIDLen, ErrBadObservation)
	}
	if ids > maxObsIdentifiers {
		return fmt.Errorf("%d identifiers, at most %d: %w", ids, maxObsIdentifiers, ErrBadObservation)
	}
	return nil
}

// checkScope checks an identifier's scope against its kind.
func (r *Resolver) checkScope(k uint16, scope string) error {
	kr := &r.cfg.kinds[k]
	switch {
	case kr.Scoped && scope == "":
		return fmt.Errorf("kind %q needs a scope: %w", kr.Name, ErrBadObservation)
	case !kr.Scoped && scope != "":
		return fmt.Errorf("kind %q takes no scope, got %q: %w", kr.Name, scope, ErrBadObservation)
	case len(scope) > maxValueLen:
		return fmt.Errorf("scope of %d bytes, at most %d: %w", len(scope), maxValueLen, ErrBadObservation)
	}
	return nil
}

// prepare checks and normalises an observation. Structural faults are
// errors; blocked and invalid values go to res.Rejected (res may be nil).
func (r *Resolver) prepare(o *Observation, p *prepared, res *Result) error {
	obsErr := func(i int, err error) error {
		return &ObservationError{EventID: o.EventID, Identifier: i, Err: err}
	}
	p.reset()
	if err := checkShape(o.EventID, len(o.Identifiers)); err != nil {
		return obsErr(-1, err)
	}
	t, err := unixSeconds(o.Time)
	if err != nil {
		return obsErr(-1, err)
	}
	p.eventID, p.source, p.t = o.EventID, o.Source, t
	for i := range o.Identifiers {
		id := &o.Identifiers[i]
		k, ok := r.cfg.kind(id.Kind)
		if !ok {
			return obsErr(i, fmt.Errorf("%q: %w", id.Kind, ErrUnknownKind))
		}
		if err := r.checkScope(k, id.Scope); err != nil {
			return obsErr(i, err)
		}
		if err := r.addCand(p, k, id.Scope, id.Value, i); err != nil {
			p.rejected++
			if res != nil {
				res.Rejected = append(res.Rejected, Rejection{Index: i, Identifier: *id, Err: err})
			}
		}
	}
	r.sealCands(p)
	return nil
}

// addCand normalises one identifier of kind k into p, unless it repeats
// one already there. The error says why the value was set aside.
func (r *Resolver) addCand(p *prepared, k uint16, scope, value string, index int) error {
	start := len(p.buf)
	var err error
	p.buf, err = r.normalize(&r.cfg.kinds[k], p.buf, value)
	if err != nil {
		p.buf = p.buf[:start]
		return err
	}
	v := p.buf[start:]
	for j := range p.cands {
		c := &p.cands[j]
		if c.kind == k && c.scope == scope && bytes.Equal(p.buf[c.voff:c.voff+len(c.val)], v) {
			p.buf = p.buf[:start]
			return nil
		}
	}
	// Grow in place: building the struct and copying it in stalls on
	// store forwarding.
	if len(p.cands) == cap(p.cands) {
		p.cands = slices.Grow(p.cands, 1)
	}
	p.cands = p.cands[:len(p.cands)+1]
	c := &p.cands[len(p.cands)-1]
	*c = cand{}
	c.kind, c.scope, c.index, c.voff, c.val = k, scope, index, start, v
	return nil
}

// sealCands points the candidates at their final values, once the buffer
// has stopped growing, and hashes them and the event ID: work done here
// is done outside the lock.
func (r *Resolver) sealCands(p *prepared) {
	for i := range p.cands {
		c := &p.cands[i]
		c.val = p.buf[c.voff : c.voff+len(c.val) : c.voff+len(c.val)]
		c.hash = r.hashKey(c.kind, c.scope, c.val)
	}
	if p.eventID != "" {
		p.evHash = r.eventHashString(p.eventID)
	}
}

// normalize appends the canonical value of v to dst, or returns an error
// matching ErrBlocked or ErrInvalid.
func (r *Resolver) normalize(kr *kindRule, dst []byte, v string) ([]byte, error) {
	start := len(dst)
	var err error
	switch kr.builtin {
	case normToken:
		dst, err = NormalizeToken(dst, v)
	case normLower:
		dst, err = NormalizeLower(dst, v)
	case normCNMobile:
		dst, err = NormalizeCNMobile(dst, v)
	case normEmail:
		dst, err = NormalizeEmail(dst, v)
	default:
		dst, err = callNormalizer(kr.norm, dst, v)
	}
	if err != nil {
		// "null" is no phone number, but it is a placeholder first.
		if !kr.KeepDefaultBlocked && isDefaultJunk([]byte(strings.TrimFunc(v, unicode.IsSpace))) {
			return dst[:start], errJunk
		}
		return dst[:start], fmt.Errorf("%s: %v: %w", kr.Name, err, ErrInvalid)
	}
	nv := dst[start:]
	switch {
	case len(nv) == 0:
		return dst[:start], fmt.Errorf("%s: empty value: %w", kr.Name, ErrInvalid)
	case len(nv) > maxValueLen:
		return dst[:start], fmt.Errorf("%s: %d bytes, at most %d: %w", kr.Name, len(nv), maxValueLen, ErrInvalid)
	case !kr.KeepDefaultBlocked && isDefaultJunk(nv):
		return dst[:start], errJunk
	}
	if kr.blocked != nil {
		if _, ok := kr.blocked[string(nv)]; ok {
			return dst[:start], errBlockList
		}
	}
	for _, re := range kr.patterns {
		if re.Match(nv) {
			return dst[:start], errPattern
		}
	}
	return dst, nil
}

func (r *Resolver) hashKey(kind uint16, scope string, val []byte) uint64 {
	h := maphash.Bytes(r.seed, val)
	if scope != "" {
		h ^= fmix64(maphash.String(r.seed, scope))
	}
	return fmix64(h ^ uint64(kind+1)*0x9E3779B97F4A7C15)
}

// nsCached is ns without creating, through a small direct-mapped cache
// that it fills, so only holders of the write lock may call it:
// a few apps account for most scoped identifiers, and the map lookup with
// a string key would otherwise cost more than the rest of the lookup.
func (r *Resolver) nsCached(kind uint16, scope string) uint32 {
	if scope == "" {
		return uint32(kind)
	}
	slot := &r.nsCache[(uint32(len(scope))*31+uint32(scope[len(scope)-1])+uint32(kind))%uint32(len(r.nsCache))]
	if slot.ns != 0 && slot.kind == kind && slot.scope == scope {
		return slot.ns
	}
	n := r.ns(kind, scope, false)
	if n != noNS {
		*slot = nsCacheEntry{kind: kind, scope: r.nsScope[n], ns: n}
	}
	return n
}

type srcCacheEntry struct {
	name string
	id   uint32 // 0: empty (source 0 is "", found by the map)
}

type nsCacheEntry struct {
	scope string
	ns    uint32 // 0: empty (namespace 0 is unscoped)
	kind  uint16
}

// ns returns the namespace of (kind, scope), creating it if create is set,
// or noNS.
func (r *Resolver) ns(kind uint16, scope string, create bool) uint32 {
	if scope == "" {
		return uint32(kind)
	}
	if n, ok := r.nsIndex[nsKey{kind, scope}]; ok {
		return n
	}
	if !create || len(r.nsKind) >= maxNamespaces {
		return noNS
	}
	n := uint32(len(r.nsKind))
	r.nsKind = append(r.nsKind, kind)
	r.nsScope = append(r.nsScope, scope)
	r.nsIndex[nsKey{kind, scope}] = n
	return n
}

func (r *Resolver) source(s string) (uint32, bool) {
	if s == "" {
		return 0, true
	}
	// Observations come from a handful of sources, often alternating.
	for i := range r.srcCache {
		if e := &r.srcCache[i]; e.id != 0 && e.name == s {
			return e.id, true
		}
	}
	if n, ok := r.srcIndex[s]; ok {
		if n != 0 {
			r.srcCache[r.srcNext%len(r.srcCache)] = srcCacheEntry{s, n}
			r.srcNext++
		}
		return n, true
	}
	if len(r.sources) >= maxSources {
		return 0, false
	}
	n := uint32(len(r.sources))
	r.sources = append(r.sources, s)
	r.srcIndex[s] = n
	return n, true
}

// findIdent returns the identifier number of (ns, val) with hash h, or
// noIdent.
func (r *Resolver) findIdent(ns uint32, h uint64, val []byte) uint32 {
	x, _ := r.findSlot(ns, h, val)
	return x
}

// A slotHint is where an identifier not found may be inserted: the first
// free slot of its probe sequence, in the table of generation gen.
type slotHint struct {
	slot int // -1: none
	gen  uint32
}

// findSlot is findIdent that also says, when (ns, val) is not stored,
// where tableInsert may put it. The hint stays good until the table is
// rebuilt or that slot is taken: inserts only fill free slots, so none can
// open up earlier on the probe sequence.
func (r *Resolver) findSlot(ns uint32, h uint64, val []byte) (uint32, slotHint) {
	t := r.table.slots
	f := fp(h)
	free := -1
	for i := r.table.home(h); ; i = nextSlot(i, t.len()) {
		s := t.at(i)
		switch {
		case s == 0:
			if free < 0 {
				free = i
			}
			return noIdent, slotHint{free, r.table.gen}
		case s == tombSlot:
			if free < 0 {
				free = i
			}
		case uint32(s>>32) == f:
			id := uint32(s) - 1
			x := r.ids.at(id)
			if x.ns() == ns && r.arena.equal(x.arenaOff(), val) {
				return id, slotHint{-1, 0}
			}
		}
	}
}

// tableInsert stores identifier id under hash h, at the slot hint
// suggests if it is still good.
func (r *Resolver) tableInsert(h uint64, id uint32, hint slotHint) {
	if (r.table.used+1)*5 > r.table.slots.len()*4 {
		r.rehashIdents()
	}
	t := r.table.slots
	entry := uint64(fp(h))<<32 | uint64(id+1)
	if hint.slot >= 0 && hint.gen == r.table.gen {
		if s := t.at(hint.slot); s == 0 || s == tombSlot {
			if s == 0 {
				r.table.used++
			}
			t.set(hint.slot, entry)
			r.table.live++
			return
		}
	}
	for i := r.table.home(h); ; i = nextSlot(i, t.len()) {
		if s := t.at(i); s == 0 || s == tombSlot {
			if s == 0 {
				r.table.used++
			}
			t.set(i, entry)
			r.table.live++
			return
		}
	}
}

func (r *Resolver) tableDelete(id uint32) {
	h := r.identHash(id)
	t := r.table.slots
	for i := r.table.home(h); t.at(i) != 0; i = nextSlot(i, t.len()) {
		if s := t.at(i); s != tombSlot && uint32(s)-1 == id {
			t.set(i, tombSlot)
			r.table.live--
			return
		}
	}
}

func (r *Resolver) identHash(id uint32) uint64 {
	x := r.ids.at(id)
	ns := x.ns()
	var buf [maxValueLen]byte
	return r.hashKey(r.nsKind[ns], r.nsScope[ns], r.arena.get(x.arenaOff(), buf[:]))
}

// rehashIdents rebuilds the lookup table without tombstones, growing it
// by half until live entries fill at most 0.6 of it (grownSize). Linear
// probing with a fingerprint in each slot stays within a cache line or
// two up to the 4/5 load that triggers this.
func (r *Resolver) rehashIdents() {
	size := grownSize(r.table.slots.len(), r.table.live)
	t := makeSlots(size)
	old := r.table.slots
	for j := range old.len() {
		s := old.at(j)
		if s == 0 || s == tombSlot {
			continue
		}
		id := uint32(s) - 1
		i := homeIn(r.identHash(id), size)
		for t.at(i) != 0 {
			i = nextSlot(i, size)
		}
		t.set(i, s)
	}
	r.table.slots = t
	r.table.used = r.table.live
	r.table.gen++
}

// nextSlot is the slot after i in a table of size slots, wrapping around.
func nextSlot(i, size int) int {
	i++
	if i == size {
		i = 0
	}
	return i
}

// newIdent stores an identifier, attached to no person yet, in the lookup
// table at hint if it is still good (see findSlot).
func (r *Resolver) newIdent(ns uint32, h uint64, val []byte, hint slotHint) uint32 {
	id := r.ids.push(ident{person: noPerson, next: noIdent, meta: ns})
	r.ids.at(id).setArena(r.arena.add(val, r.seenBytes(ns)))
	r.tableInsert(h, id, hint)
	r.liveIDs++
	return id
}

func (r *Resolver) eventHash(ev []byte) uint32 { return uint32(maphash.Bytes(r.seed, ev)) }

// maphash gives equal hashes for a string and its bytes.
func (r *Resolver) eventHashString(ev string) uint32 { return uint32(maphash.String(r.seed, ev)) }

// eventInsert indexes record off under its event ID's hash h. The index
// is, per log chunk, an append-only list of the top 12 bits of the hash
// and the record's position in the chunk: adding costs no random memory
// access and 4 bytes, and SplitObservation, which is rare, scans it and
// checks each candidate's event ID.
//
// A chunk's list is final once the log moves on to the next chunk, so it
// is then copied to its exact length, dropping the slack of append's
// growth (about a tenth of the index).
func (r *Resolver) eventInsert(off uint32, h uint32) {
	c := int(off >> logChunkBits)
	if len(r.events) <= c {
		if last := len(r.events) - 1; last >= 0 && cap(r.events[last]) > len(r.events[last]) {
			r.events[last] = append(make([]uint32, 0, len(r.events[last])), r.events[last]...)
		}
		for len(r.events) <= c {
			r.events = append(r.events, nil)
		}
	}
	r.events[c] = append(r.events[c], h&^(logChunk-1)|off&(logChunk-1))
}

// eventRecords appends the live records carrying event ID ev to dst, in
// log order. Entries of deleted records stay in the index until the next
// restore and are skipped here.
func (r *Resolver) eventRecords(dst []uint32, ev string) []uint32 {
	h := r.eventHashString(ev) &^ (logChunk - 1)
	for c, entries := range r.events {
		for _, e := range entries {
			if e&^(logChunk-1) != h {
				continue
			}
			off := uint32(c)<<logChunkBits | e&(logChunk-1)
			if rc := r.log.rec(off); rc.tag() == tagLive && rc.eventIDEquals(ev) {
				dst = append(dst, off)
			}
		}
	}
	return dst
}

// newPerson creates a person born at record born; a replay reuses the
// number of the person the same record created before.
func (r *Resolver) newPerson(born uint32) uint32 {
	if rp := r.replay; rp != nil {
		if id, ok := rp.bornTo[born]; ok {
			*r.persons.at(id) = person{born: born, ev: noRec, link: noIdent}
			r.setSib(id, id)
			clear(r.countsOf(id))
			rp.revived[id] = true
			r.livePersons++
			return id
		}
	}
	id := r.persons.len()
	r.persons.push(person{born: born, ev: noRec, link: noIdent})
	r.counts.grow(id)
	r.livePersons++
	if rp := r.replay; rp != nil {
		rp.fresh = append(rp.fresh, id)
	}
	return id
}

// countsOf returns a person's limit counters.
func (r *Resolver) countsOf(p uint32) []uint8 { return r.counts.of(p) }

func (r *Resolver) countAt(p uint32, j int) *uint8 { return &r.counts.of(p)[j] }

// attach links identifier x to live person p.
func (r *Resolver) attach(p, x uint32) {
	xi := r.ids.at(x)
	pp := r.persons.at(p)
	xi.person = p
	if pp.link == noIdent {
		xi.next = x
		pp.link = x
	} else {
		h := r.ids.at(pp.link)
		xi.next = h.next
		h.next = x
	}
	pp.n++
	if j := r.cfg.kinds[r.nsKind[xi.ns()]].counter; j >= 0 {
		*r.countAt(p, j)++
	}
}

// merge folds live person l into live person s, which survives.
func (r *Resolver) merge(s, l uint32) {
	ps, pl := r.persons.at(s), r.persons.at(l)
	if pl.link != noIdent {
		x := pl.link
		for {
			xi := r.ids.at(x)
			xi.person = s
			x = xi.next
			if x == pl.link {
				break
			}
		}
		if ps.link == noIdent {
			ps.link = pl.link
		} else {
			a, b := r.ids.at(ps.link), r.ids.at(pl.link)
			a.next, b.next = b.next, a.next
		}
	}
	if pl.ev != noRec {
		if ps.ev == noRec {
			ps.ev = pl.ev
		} else {
			a, b := r.log.rec(ps.ev), r.log.rec(pl.ev)
			a[1], b[1] = b[1], a[1]
		}
	}
	// Point the loser and its aliases straight at the survivor, so alias
	// chains stay one step long.
	for q := l; ; {
		r.persons.at(q).link = s
		q = r.sibOf(q)
		if q == l {
			break
		}
	}
	a, b := r.sibOf(s), r.sibOf(l)
	r.setSib(s, b)
	r.setSib(l, a)
	ps.n += pl.n
	ps.setMerges(ps.merges() + pl.merges() + 1)
	for j := range r.cfg.counters {
		*r.countAt(s, j) += *r.countAt(l, j)
		*r.countAt(l, j) = 0
	}
	pl.setStatus(stateAlias)
	pl.ev = noRec
	pl.n = 0
	r.livePersons--
}

// appendEvidence adds record off to live person p's evidence.
func (r *Resolver) appendEvidence(p, off uint32) {
	pp := r.persons.at(p)
	rc := r.log.rec(off)
	if pp.ev == noRec {
		rc[1] = off
	} else {
		t := r.log.rec(pp.ev)
		rc[1] = t[1]
		t[1] = off
	}
	pp.ev = off
}

// canonical follows aliases from p to the live person it resolves to.
func (r *Resolver) canonical(p uint32) (uint32, error) {
	for range r.persons.len() + 1 {
		if p >= r.persons.len() {
			return noPerson, ErrUnknownPerson
		}
		pp := r.persons.at(p)
		switch pp.status() {
		case stateLive:
			return p, nil
		case stateErased:
			return noPerson, ErrErased
		case stateRetired:
			return noPerson, ErrRetired
		}
		p = pp.link
	}
	return noPerson, ErrUnknownPerson // unreachable: alias chains never cycle
}

// identifier rebuilds the public form of identifier x.
func (r *Resolver) identifier(x uint32) Identifier {
	xi := r.ids.at(x)
	ns := xi.ns()
	var buf [maxValueLen]byte
	return Identifier{
		Kind:  r.cfg.kinds[r.nsKind[ns]].Name,
		Scope: r.nsScope[ns],
		Value: string(r.arena.get(xi.arenaOff(), buf[:])),
	}
}

// personIdents appends the identifiers of live person p to dst.
func (r *Resolver) personIdents(dst []uint32, p uint32) []uint32 {
	pp := r.persons.at(p)
	if pp.link == noIdent {
		return dst
	}
	x := pp.link
	for {
		dst = append(dst, x)
		x = r.ids.at(x).next
		if x == pp.link {
			return dst
		}
	}
}

// personRecords appends the evidence of live person p to dst, oldest first.
func (r *Resolver) personRecords(dst []uint32, p uint32) []uint32 {
	pp := r.persons.at(p)
	if pp.ev == noRec {
		return dst
	}
	start := len(dst)
	off := pp.ev
	for {
		dst = append(dst, off)
		off = r.log.rec(off)[1]
		if off == pp.ev {
			break
		}
	}
	slices.Sort(dst[start:])
	return dst
}

// group appends p and the persons of its group (its aliases) to dst.
func (r *Resolver) group(dst []uint32, p uint32) []uint32 {
	q := p
	for {
		dst = append(dst, q)
		q = r.sibOf(q)
		if q == p {
			return dst
		}
	}
}

// setViol records the violation mask of record off.
func (r *Resolver) setViol(off, v uint32) {
	if v == 0 {
		delete(r.viol, off)
	} else {
		r.viol[off] = v
	}
}

// sibOf returns the next person of p's group.
func (r *Resolver) sibOf(p uint32) uint32 {
	if q, ok := r.sibs[p]; ok {
		return q
	}
	return p
}

func (r *Resolver) setSib(p, q uint32) {
	if p == q {
		delete(r.sibs, p)
	} else {
		r.sibs[p] = q
	}
}

// seenBytes is how many bytes of last-seen time follow the values of
// namespace ns in the arena.
func (r *Resolver) seenBytes(ns uint32) int {
	if r.cfg.kinds[r.nsKind[ns]].window > 0 {
		return 4
	}
	return 0
}

// seen returns when an observation last linked identifier x; 0 for kinds
// without a window, which do not keep it.
func (r *Resolver) seen(x uint32) uint32 {
	xi := r.ids.at(x)
	if r.seenBytes(xi.ns()) == 0 {
		return 0
	}
	return binary.LittleEndian.Uint32(r.arena.extra(xi.arenaOff(), 4))
}

// touch moves identifier x's last-seen time forward to t (or sets it, when
// reset).
func (r *Resolver) touch(x, t uint32, reset bool) {
	xi := r.ids.at(x)
	if r.seenBytes(xi.ns()) == 0 {
		return
	}
	b := r.arena.extra(xi.arenaOff(), 4)
	if reset || t > binary.LittleEndian.Uint32(b) {
		binary.LittleEndian.PutUint32(b, t)
	}
}

// callNormalizer runs a normaliser, turning a panic in host code into an
// error: one bad value must not bring the process down, least of all from
// the goroutine ObserveBatch normalises on.
func callNormalizer(norm Normalizer, dst []byte, v string) (out []byte, err error) {
	start := len(dst)
	defer func() {
		if p := recover(); p != nil {
			out, err = dst[:start], fmt.Errorf("normaliser panicked: %v", p)
		}
	}()
	return norm(dst, v)
}
