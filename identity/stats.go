package identity

import "unsafe"

// Stats describes a resolver's contents and the memory it holds.
type Stats struct {
	Persons      int // live persons
	Identifiers  int // stored identifiers: held by persons, kept as evidence only, or blocked
	Observations int // stored observations (evidence records)
	Scopes       int // distinct scopes of scoped kinds
	Sources      int // distinct sources

	Memory Memory // bytes held, by part
	// BytesPerIdentifier is Memory.Total divided by Identifiers.
	BytesPerIdentifier float64
}

// Memory breaks down the bytes a resolver holds, counting allocated
// capacity (what the process pays for), not just what is filled.
type Memory struct {
	Identifiers int64 // identifier records
	Values      int64 // the value arena
	Lookup      int64 // the identifier lookup table
	Persons     int64 // person records and limit counters
	Evidence    int64 // the evidence log
	EventIndex  int64 // the event ID index
	Other       int64 // scopes, sources, dropped-identifier references (estimated)
	Total       int64 // the sum of the above
}

// Stats returns the resolver's counts and memory use.
func (r *Resolver) Stats() Stats {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := Stats{
		Persons:      r.livePersons,
		Identifiers:  r.liveIDs,
		Observations: r.log.live,
		Scopes:       len(r.nsKind) - len(r.cfg.kinds),
		Sources:      len(r.sources) - 1,
	}
	m := &s.Memory
	m.Identifiers = r.ids.bytes()
	m.Values = r.arena.bytes()
	m.Lookup = int64(cap(r.table.slots))
	m.Persons = r.persons.bytes() + r.counts.bytes()
	m.Evidence = r.log.bytes()
	for _, c := range r.events {
		m.EventIndex += int64(cap(c)) * 4
	}
	m.EventIndex += int64(cap(r.events)) * 24
	// Go map entries cost roughly their key and value plus a few words of
	// bucket overhead; this is an estimate, and small beside the rest.
	const mapEntry = 48
	strHeader := int64(unsafe.Sizeof(""))
	m.Other = int64(len(r.nsKind))*(2+strHeader+mapEntry) + int64(len(r.sources))*(strHeader+mapEntry)
	for _, s := range r.nsScope {
		m.Other += int64(len(s)) * 2 // the slice's string and the map key's
	}
	for _, s := range r.sources {
		m.Other += int64(len(s)) * 2
	}
	m.Other += int64(len(r.viol)+len(r.sibs)) * mapEntry
	for _, refs := range r.dropRefs {
		m.Other += mapEntry + int64(cap(refs))*4
	}
	m.Total = m.Identifiers + m.Values + m.Lookup + m.Persons + m.Evidence + m.EventIndex + m.Other
	if s.Identifiers > 0 {
		s.BytesPerIdentifier = float64(m.Total) / float64(s.Identifiers)
	}
	return s
}
