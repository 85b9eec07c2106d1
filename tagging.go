package cdpkit

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// DefineTags adds or replaces tag definitions. Rules are checked against
// Schema (the host's attributes and the derived fields) and may reference
// each other with has_tag; either all definitions take effect or none
// does, and a bad rule is a *tags.CompileError naming it with line and
// column. New tags get their members at the next RefreshTags; manual tags
// are set with AssignTag. Each tag becomes an index field of its name (a
// tag, or an enum for tags with values), so audiences can use it at once.
func (e *Engine) DefineTags(defs ...tags.Definition) error {
	if e.closed.Load() {
		return ErrClosed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.set.Define(defs...); err != nil {
		return fmt.Errorf("define tags: %w", err)
	}
	return e.declareTags()
}

// declareTags declares an index field for every tag.
func (e *Engine) declareTags() error {
	return e.ix.Update(func(tx *segment.Tx) error {
		for _, t := range e.set.Tags() {
			kind := segment.KindTag
			if len(t.Values()) > 0 {
				kind = segment.KindEnum
			}
			if err := tx.Declare(t.Name(), kind); err != nil {
				return fmt.Errorf("tag %q: %w", t.Name(), err)
			}
		}
		return nil
	})
}

// RemoveTags deletes tag definitions and their members. A tag that
// another tag's rule or a saved segment references cannot be removed.
func (e *Engine) RemoveTags(names ...string) error {
	if e.closed.Load() {
		return ErrClosed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	view := e.ix.View()
	for _, name := range names {
		for _, s := range view.Segments() {
			plan, _ := view.SegmentPlan(s)
			if slices.Contains(plan.FieldNames(), name) {
				return fmt.Errorf("remove tag %q: saved segment %q uses it: %w", name, s, segment.ErrInUse)
			}
		}
	}
	if err := e.set.Remove(names...); err != nil {
		return fmt.Errorf("remove tags: %w", err)
	}
	return e.ix.Update(func(tx *segment.Tx) error {
		for _, name := range names {
			if _, ok := tx.FieldKind(name); ok {
				if err := tx.Drop(name); err != nil {
					return fmt.Errorf("remove tag %q: %w", name, err)
				}
			}
		}
		return nil
	})
}

// Tags returns the tag set, for reading definitions, versions and
// statistics. Define and remove tags through the Engine.
func (e *Engine) Tags() *tags.Set { return e.set }

// AssignTag gives persons a manual tag (value "" for a tag without
// values). An alias is assigned through the person it was merged into.
func (e *Engine) AssignTag(ctx context.Context, tag, value string, persons ...identity.PersonID) error {
	return e.manualTag(ctx, tag, persons, func(tx *segment.Tx, ids []uint32) error {
		return e.set.Assign(tx, tag, value, ids...)
	})
}

// UnassignTag takes a manual tag away from persons.
func (e *Engine) UnassignTag(ctx context.Context, tag string, persons ...identity.PersonID) error {
	return e.manualTag(ctx, tag, persons, func(tx *segment.Tx, ids []uint32) error {
		return e.set.Unassign(tx, tag, ids...)
	})
}

func (e *Engine) manualTag(ctx context.Context, tag string, persons []identity.PersonID, fn func(*segment.Tx, []uint32) error) error {
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.mu.Unlock()
	ids := make([]uint32, len(persons))
	for i, p := range persons {
		q, err := e.canon(p)
		if err != nil {
			return fmt.Errorf("tag %q: %w", tag, err)
		}
		ids[i] = q
	}
	if err := e.ix.Update(func(tx *segment.Tx) error { return fn(tx, ids) }); err != nil {
		return fmt.Errorf("tag %q: %w", tag, err)
	}
	return nil
}

// RefreshResult reports what RefreshTags did.
type RefreshResult struct {
	AsOf    time.Time // the as-of time the fields and tags were derived at
	Persons int       // live persons derived and tagged
	// Tags are the statistics of each rule tag, in dependency order.
	Tags []tags.Stats
	// Segments are the saved segments' entries and exits since the
	// previous comparison (also delivered to Subscribe's functions).
	Segments []SegmentChange
	// Derive, Index and Evaluate are the time spent computing derived
	// fields, writing them into the index, and evaluating tags.
	Derive, Index, Evaluate time.Duration
}

// RefreshTags derives every person's fields as of asOf — counts, windows
// and recency; RFM scores and segments; P(alive) and lifetime value from
// models fitted on everyone; next-purchase and refill due days; loyalty
// tier and points — writes them into the index, and re-evaluates every
// rule tag on all cores, pushing rules whose fields the index holds down
// to bitmap operations. asOf becomes the clock of audiences' activity
// windows and of later live re-derivation. Saved segments are then
// compared with their previous members and subscribers told who entered
// and exited.
//
// Derived fields and tags are written in two index transactions: for the
// moment between them a reader sees new fields with the old tags.
func (e *Engine) RefreshTags(ctx context.Context, asOf time.Time) (*RefreshResult, error) {
	if asOf.IsZero() {
		return nil, invalid("refresh: zero as-of time")
	}
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	res, changes, err := e.refreshLocked(ctx, asOf)
	e.deliverMu.Lock() // taken before unlocking, so deliveries keep their order
	e.mu.Unlock()
	defer e.deliverMu.Unlock()
	if err != nil {
		return nil, err
	}
	e.deliver(changes)
	return res, nil
}

func (e *Engine) refreshLocked(ctx context.Context, asOf time.Time) (*RefreshResult, []SegmentChange, error) {
	res := &RefreshResult{AsOf: asOf}
	t0 := time.Now()
	if err := e.deriveAll(ctx, asOf); err != nil {
		return nil, nil, fmt.Errorf("refresh: %w", err)
	}
	if span := e.st.win.span; span > 0 {
		e.st.win.compactTo(int32(segment.DayOf(asOf, e.cfg.Location)) - span + 1)
	}
	t1 := time.Now()
	n := e.st.persons
	err := e.ix.Update(func(tx *segment.Tx) error { return e.writeColumns(tx, e.st.der, e.hostN, n) })
	if err != nil {
		return nil, nil, fmt.Errorf("refresh: write derived fields: %w", err)
	}
	t2 := time.Now()
	res.Index, res.Derive = t2.Sub(t1), t1.Sub(t0)
	live := e.livePersons()
	res.Persons = int(live.GetCardinality())
	if e.hasRuleTags() {
		var records iter.Seq[*tags.Record]
		if !e.allPushDown() {
			records = e.records(live)
		}
		tr, err := e.set.Refresh(ctx, e.ix, tags.Clock{AsOf: asOf, Location: e.cfg.Location}, records, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("refresh: %w", err)
		}
		res.Tags = tr.Stats()
		for _, v := range tr.Versions {
			// The Engine compares saved segments itself; versions kept
			// beyond the last would only hold memory.
			e.set.Release(v.Tag, v.Number-1)
		}
	}
	res.Evaluate = time.Since(t2)
	e.st.asOf = asOf
	e.asOf.Store(&asOf)
	clear(e.st.dirty)
	changes, err := e.segmentChanges()
	if err != nil {
		return nil, nil, fmt.Errorf("refresh: saved segments: %w", err)
	}
	res.Segments = changes
	return res, changes, nil
}

// allPushDown reports whether every rule tag is evaluated as a bitmap
// plan, so a refresh needs no per-person records.
func (e *Engine) allPushDown() bool {
	for _, t := range e.set.Tags() {
		if t.Kind() != tags.KindManual && e.set.Path(t.Name()) != tags.PathPushDown {
			return false
		}
	}
	return true
}

// records yields the record of every live person, reusing one Record.
func (e *Engine) records(live *roaring.Bitmap) iter.Seq[*tags.Record] {
	return func(yield func(*tags.Record) bool) {
		rec := e.schema.NewRecord(0)
		for it := live.Iterator(); it.HasNext(); {
			if err := e.record(it.Next(), rec); err != nil {
				continue // the columns hold only values the schema accepted
			}
			if !yield(rec) {
				return
			}
		}
	}
}

// Profile returns person p's record: the host's attributes and the
// derived fields as last computed (at the last refresh, or at the
// person's last change since). An alias gives its survivor's record.
func (e *Engine) Profile(p identity.PersonID) (*tags.Record, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	q, err := e.canonRead(p)
	if err != nil {
		return nil, err
	}
	rec := e.schema.NewRecord(q)
	if err := e.record(q, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// canonRead is canon for readers: it does not shorten alias chains.
func (e *Engine) canonRead(p identity.PersonID) (uint32, error) {
	q := uint32(p)
	if p == identity.NoPerson || int(q) >= e.st.persons {
		return 0, fmt.Errorf("person %d: %w", p, ErrUnknownPerson)
	}
	for range len(e.st.alias) + 1 {
		if e.st.gone[q] {
			return 0, fmt.Errorf("person %d: %w", p, ErrErased)
		}
		s, ok := e.st.alias[q]
		if !ok {
			return q, nil
		}
		q = s
	}
	return 0, fmt.Errorf("person %d: alias cycle: %w", p, ErrCorrupt)
}

// ExplainTag says why person p has tag or not, as of the last refresh
// (or asOf when not zero): every sub-expression's value on the person's
// current record and, for an enumerated tag, which case matched.
func (e *Engine) ExplainTag(p identity.PersonID, tag string, asOf time.Time) (*tags.Explanation, error) {
	rec, err := e.Profile(p)
	if err != nil {
		return nil, fmt.Errorf("explain tag %q: %w", tag, err)
	}
	if asOf.IsZero() {
		var ok bool
		if asOf, ok = e.AsOf(); !ok {
			return nil, fmt.Errorf("explain tag %q: %w", tag, ErrNoClock)
		}
	}
	ex, err := e.set.Explain(e.ix.View(), tags.Clock{AsOf: asOf, Location: e.cfg.Location}, tag, rec)
	if err != nil {
		return nil, fmt.Errorf("explain tag %q for person %d: %w", tag, p, err)
	}
	return ex, nil
}
