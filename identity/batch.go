package identity

import (
	"fmt"
	"strings"
	"time"
)

// A Batch holds observations in columns, for bulk resolution with
// Resolver.Resolve: event IDs and values are copied into a few large
// strings, and kinds, scopes and sources are interned, so a batch costs
// about 20 bytes per observation and 14 per identifier beyond the text,
// and holds almost no pointers for the garbage collector to scan. 36M
// observations of 10M members fit in about 3 GB, where as Observation
// values they take some 20 GB.
//
// Add copies what it is given; the caller may reuse its slices and
// strings. Reset empties the batch for reuse. A Batch is not safe for
// concurrent use; Resolve only reads it, so several resolvers may resolve
// the same batch at once as long as nobody adds to it meanwhile.
type Batch struct {
	// Per observation.
	idEnd  []uint32 // its identifiers end here; they start where the previous end
	events []textRef
	srcs   []uint16
	times  []uint32 // Unix seconds

	// Per identifier.
	kinds  []uint16
	scopes []uint32
	values []textRef

	text    []*strings.Builder // chunks of textChunk bytes; longer values have their own
	kindTab interner
	scopeTb interner
	srcTab  interner
}

// textRef locates a string in a batch's text: the chunk and offset in its
// high 40 bits (chunk<<textChunkBits | offset), its length in the low 24.
type textRef uint64

const (
	textChunkBits = 20
	textChunk     = 1 << textChunkBits
	maxTextLen    = 1<<24 - 1
	maxTextChunks = 1 << (40 - textChunkBits)
)

// Len returns the number of observations in the batch.
func (b *Batch) Len() int { return len(b.idEnd) }

// Reset empties the batch, keeping the column slices' memory. Strings
// handed out before stay valid: the text is dropped, never overwritten.
func (b *Batch) Reset() {
	b.idEnd, b.events, b.srcs, b.times = b.idEnd[:0], b.events[:0], b.srcs[:0], b.times[:0]
	b.kinds, b.scopes, b.values = b.kinds[:0], b.scopes[:0], b.values[:0]
	clear(b.text)
	b.text = b.text[:0]
	b.kindTab, b.scopeTb, b.srcTab = interner{}, interner{}, interner{}
}

// Add appends a copy of o. It checks what can be checked without a
// Config — the event ID's length, the number of identifiers, the time,
// the length of scopes and values (a value may be up to 16 MiB before it
// is normalised) — and returns an *ObservationError matching
// ErrBadObservation, without adding o, when one is wrong. Kinds and scopes
// are checked against the Config by Resolve. A batch holds up to 2^32-1
// identifiers, 65535 sources, 65535 kind names and 2^40 bytes of text;
// past that Add returns an error matching ErrFull.
func (b *Batch) Add(o Observation) error {
	obsErr := func(i int, err error) error {
		return &ObservationError{Index: b.Len(), EventID: o.EventID, Identifier: i, Err: err}
	}
	if err := checkShape(o.EventID, len(o.Identifiers)); err != nil {
		return obsErr(-1, err)
	}
	t, err := unixSeconds(o.Time)
	if err != nil {
		return obsErr(-1, err)
	}
	for i := range o.Identifiers {
		id := &o.Identifiers[i]
		switch {
		case len(id.Scope) > maxValueLen:
			return obsErr(i, fmt.Errorf("scope of %d bytes, at most %d: %w", len(id.Scope), maxValueLen, ErrBadObservation))
		case len(id.Value) > maxTextLen:
			return obsErr(i, fmt.Errorf("value of %d bytes, at most %d: %w", len(id.Value), maxTextLen, ErrBadObservation))
		}
	}
	if uint64(len(b.kinds))+uint64(len(o.Identifiers)) > 1<<32-1 {
		return obsErr(-1, fmt.Errorf("batch holds %d identifiers: %w", len(b.kinds), ErrFull))
	}
	// Intern first, so that a full table leaves the batch as it was.
	src, ok := b.srcTab.intern(o.Source, 1<<16-1)
	if !ok {
		return obsErr(-1, fmt.Errorf("more than %d sources in a batch: %w", 1<<16-1, ErrFull))
	}
	mark := len(b.kinds)
	for i := range o.Identifiers {
		id := &o.Identifiers[i]
		k, ok := b.kindTab.intern(id.Kind, 1<<16-1)
		if !ok {
			b.kinds, b.scopes, b.values = b.kinds[:mark], b.scopes[:mark], b.values[:mark]
			return obsErr(i, fmt.Errorf("more than %d kind names in a batch: %w", 1<<16-1, ErrFull))
		}
		s, _ := b.scopeTb.intern(id.Scope, 1<<32-1)
		ref, ok := b.addText(id.Value)
		if !ok {
			b.kinds, b.scopes, b.values = b.kinds[:mark], b.scopes[:mark], b.values[:mark]
			return obsErr(i, fmt.Errorf("batch text over %d bytes: %w", uint64(maxTextChunks)*textChunk, ErrFull))
		}
		b.kinds = append(b.kinds, uint16(k))
		b.scopes = append(b.scopes, s)
		b.values = append(b.values, ref)
	}
	ev, ok := b.addText(o.EventID)
	if !ok {
		b.kinds, b.scopes, b.values = b.kinds[:mark], b.scopes[:mark], b.values[:mark]
		return obsErr(-1, fmt.Errorf("batch text over %d bytes: %w", uint64(maxTextChunks)*textChunk, ErrFull))
	}
	b.idEnd = append(b.idEnd, uint32(len(b.kinds)))
	b.events = append(b.events, ev)
	b.srcs = append(b.srcs, uint16(src))
	b.times = append(b.times, t)
	return nil
}

// addText copies s into the batch's text. Text already written is never
// changed, so strings.Builder's String hands out views of it safely.
func (b *Batch) addText(s string) (textRef, bool) {
	if s == "" {
		return 0, true
	}
	last := len(b.text) - 1
	if last < 0 || b.text[last].Len()+len(s) > textChunk {
		if len(b.text) == maxTextChunks {
			return 0, false
		}
		sb := new(strings.Builder)
		sb.Grow(max(textChunk, len(s)))
		b.text = append(b.text, sb)
		last++
	}
	sb := b.text[last]
	off := sb.Len()
	sb.WriteString(s)
	return textRef(uint64(last)<<(24+textChunkBits) | uint64(off)<<24 | uint64(len(s))), true
}

// texts returns the batch's text chunks as strings, for text.
func (b *Batch) texts() []string {
	ts := make([]string, len(b.text))
	for i, sb := range b.text {
		ts[i] = sb.String()
	}
	return ts
}

func (ref textRef) chunk() int { return int(uint64(ref) >> (24 + textChunkBits)) }

func (ref textRef) span() (off, n uint64) {
	return uint64(ref) >> 24 & (textChunk - 1), uint64(ref) & maxTextLen
}

// text returns the string ref locates in the chunks ts.
func text(ts []string, ref textRef) string {
	if ref == 0 {
		return ""
	}
	off, n := ref.span()
	return ts[ref.chunk()][off : off+n]
}

// str is text for a single lookup.
func (b *Batch) str(ref textRef) string {
	if ref == 0 {
		return ""
	}
	off, n := ref.span()
	return b.text[ref.chunk()].String()[off : off+n]
}

// Observation returns a copy of observation i, for inspection and for
// reporting a failed one.
func (b *Batch) Observation(i int) Observation {
	o := Observation{
		EventID: strings.Clone(b.str(b.events[i])),
		Source:  b.srcTab.names[b.srcs[i]],
		Time:    time.Unix(int64(b.times[i]), 0).UTC(),
	}
	lo := uint32(0)
	if i > 0 {
		lo = b.idEnd[i-1]
	}
	for x := lo; x < b.idEnd[i]; x++ {
		o.Identifiers = append(o.Identifiers, Identifier{
			Kind:  b.kindTab.names[b.kinds[x]],
			Value: strings.Clone(b.str(b.values[x])),
			Scope: b.scopeTb.names[b.scopes[x]],
		})
	}
	return o
}

// interner numbers distinct strings; "" is 0 when first interned.
type interner struct {
	names []string
	index map[string]uint32
}

// intern returns the number of s, adding it (a copy) if it is new and the
// table holds fewer than limit names.
func (t *interner) intern(s string, limit uint32) (uint32, bool) {
	// A batch sees a handful of kinds and sources, usually the same
	// constants over and over: a scan that compares pointers first beats
	// hashing the string.
	if len(t.names) <= 8 {
		for i, n := range t.names {
			if n == s {
				return uint32(i), true
			}
		}
		if t.index == nil {
			t.index = make(map[string]uint32)
		}
	} else if i, ok := t.index[s]; ok {
		return i, true
	}
	if uint32(len(t.names)) >= limit {
		return 0, false
	}
	s = strings.Clone(s)
	i := uint32(len(t.names))
	t.names = append(t.names, s)
	t.index[s] = i
	return i, true
}

// A Summary counts what Resolve did.
type Summary struct {
	Observations int // observations resolved to a person
	Failed       int // observations that did not resolve (see the error)
	Created      int // persons created
	Merged       int // persons merged into others, now their aliases
	Attached     int // identifiers attached to a person for the first time
	Dropped      int // identifiers recorded but not linked, to respect a limit or cap
	Rejected     int // identifiers set aside as blocked or invalid
}

// Resolve resolves the observations of b in order, with the same effect
// as ObserveBatch on the same observations, and fills persons (when not
// nil; it must be at least b.Len() long) with the person each resolved
// to, or NoPerson. It returns counts of what happened; subscribers are
// told of merges as with Observe. Failed observations are reported by a
// *BatchError, with their positions in b, and do not stop the rest.
//
// Resolve is the fast path for bulk loads and replays: it builds no
// Result, and normalises on every core while one goroutine resolves in
// order, so the outcome does not depend on scheduling.
func (r *Resolver) Resolve(b *Batch, persons []PersonID) (Summary, error) {
	var sum Summary
	if persons != nil && len(persons) < b.Len() {
		return sum, fmt.Errorf("resolve: %d persons for %d observations", len(persons), b.Len())
	}
	ts := b.texts()
	kinds := make([]int, len(b.kindTab.names))
	for i, name := range b.kindTab.names {
		kinds[i] = -1
		if k, ok := r.cfg.kind(name); ok {
			kinds[i] = int(k)
		}
	}
	var be BatchError
	r.pipeline(b.Len(), func(w *chunkWork) {
		for i := w.start; i < w.end; i++ {
			w.errs[i-w.start] = r.prepareBatch(b, ts, kinds, i, &w.preps[i-w.start])
		}
	}, func(w *chunkWork) {
		r.mu.Lock()
		r.lookAhead(w)
		for i := w.start; i < w.end; i++ {
			j := i - w.start
			out := outcome{person: noPerson}
			if w.errs[j] == nil {
				out, w.errs[j] = r.resolveLocked(&w.preps[j], nil, nil)
			}
			if persons != nil {
				persons[i] = PersonID(out.person)
			}
			sum.add(out)
		}
		r.unlockAndDeliver()
		for j := range w.end - w.start {
			if w.errs[j] != nil {
				be.add(w.start+j, w.errs[j])
				w.errs[j] = nil
			}
		}
	})
	sum.Failed = be.Failed
	if be.Failed > 0 {
		return sum, &be
	}
	return sum, nil
}

func (s *Summary) add(o outcome) {
	if o.person != noPerson {
		s.Observations++
	}
	if o.created {
		s.Created++
	}
	s.Merged += o.merged
	s.Attached += o.attached
	s.Dropped += o.dropped
	s.Rejected += o.rejected
}

// prepareBatch is prepare for observation i of b; ts are b's texts and
// kinds maps b's kind names to the Config's kinds (-1: undeclared).
func (r *Resolver) prepareBatch(b *Batch, ts []string, kinds []int, i int, p *prepared) error {
	p.reset()
	p.eventID = text(ts, b.events[i])
	p.source = b.srcTab.names[b.srcs[i]]
	p.t = b.times[i]
	obsErr := func(j int, err error) error {
		return &ObservationError{EventID: strings.Clone(p.eventID), Identifier: j, Err: err}
	}
	lo := uint32(0)
	if i > 0 {
		lo = b.idEnd[i-1]
	}
	for x := lo; x < b.idEnd[i]; x++ {
		j := int(x - lo)
		k := kinds[b.kinds[x]]
		if k < 0 {
			return obsErr(j, fmt.Errorf("%q: %w", b.kindTab.names[b.kinds[x]], ErrUnknownKind))
		}
		scope := b.scopeTb.names[b.scopes[x]]
		if err := r.checkScope(uint16(k), scope); err != nil {
			return obsErr(j, err)
		}
		if r.addCand(p, uint16(k), scope, text(ts, b.values[x]), j) != nil {
			p.rejected++
		}
	}
	r.sealCands(p)
	return nil
}
