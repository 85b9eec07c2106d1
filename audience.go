package cdpkit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/segment"
)

// View returns the current version of the index, with activity windows
// ending on the last refresh's as-of day: an immutable, consistent
// snapshot for several reads that must agree (a count and the export
// that follows it). It costs a pointer load.
func (e *Engine) View() *segment.View {
	v := e.ix.View()
	if t := e.asOf.Load(); t != nil {
		v = v.At(*t)
	}
	return v
}

// Compile compiles an audience expression in CEL syntax (see
// segment.Compile) against the current fields, tags and saved segments.
// Errors are *segment.ExprError with line and column.
func (e *Engine) Compile(expr string) (*segment.Plan, error) {
	p, err := segment.Compile(expr, e.ix.View())
	if err != nil {
		return nil, fmt.Errorf("audience %q: %w", expr, err)
	}
	return p, nil
}

// audience compiles expr and returns it with the view to evaluate it on.
func (e *Engine) audience(expr string) (*segment.View, *segment.Plan, error) {
	v := e.View()
	p, err := segment.Compile(expr, v)
	if err != nil {
		return nil, nil, fmt.Errorf("audience %q: %w", expr, err)
	}
	return v, p, nil
}

func (e *Engine) wrap(expr string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, segment.ErrNoAsOf) {
		return fmt.Errorf("audience %q: %w: %w", expr, ErrNoClock, err)
	}
	return fmt.Errorf("audience %q: %w", expr, err)
}

// Count returns how many persons an audience expression matches, e.g.
//
//	tag("chronic") && refill_due_days <= 7 && !active("contacted", "7d")
//
// Activity windows end on the last refresh's as-of day. It never waits
// for writers.
func (e *Engine) Count(expr string) (uint64, error) {
	v, p, err := e.audience(expr)
	if err != nil {
		return 0, err
	}
	n, err := v.Count(p)
	return n, e.wrap(expr, err)
}

// Members returns the persons an audience expression matches. The caller
// owns the bitmap.
func (e *Engine) Members(expr string) (*roaring.Bitmap, error) {
	v, p, err := e.audience(expr)
	if err != nil {
		return nil, err
	}
	bm, err := v.Bitmap(p)
	return bm, e.wrap(expr, err)
}

// IDs walks the persons an audience expression matches in increasing
// order, one 65,536-person chunk at a time, on the version of the index
// current when it was called, whatever writers do meanwhile.
func (e *Engine) IDs(expr string) (iter.Seq[uint32], error) {
	v, p, err := e.audience(expr)
	if err != nil {
		return nil, err
	}
	seq, err := v.IDs(p)
	return seq, e.wrap(expr, err)
}

// Split divides an audience into arms by a salted hash of the person ID
// (see segment.Split): Split(expr, "refill-2024-06", Arm{"campaign", 90},
// Arm{"holdout", 10}) gives a 90/10 campaign and hold-out. A person's arm
// depends only on its ID and the salt, so it never changes as the
// audience does. The result has one bitmap per arm, in order.
func (e *Engine) Split(expr, salt string, arms ...segment.Arm) ([]*roaring.Bitmap, error) {
	s, err := segment.NewSplit(salt, arms...)
	if err != nil {
		return nil, fmt.Errorf("split %q: %w", expr, err)
	}
	v, p, err := e.audience(expr)
	if err != nil {
		return nil, err
	}
	out, err := v.Split(p, s)
	return out, e.wrap(expr, err)
}

// SaveSegment saves an audience expression under a name, so that other
// expressions can use it as segment("name") and subscribers are told who
// enters and exits it (see Subscribe). Saving an existing name redefines
// it.
func (e *Engine) SaveSegment(name, expr string) error {
	if e.closed.Load() {
		return ErrClosed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.ix.Update(func(tx *segment.Tx) error {
		p, err := segment.Compile(expr, tx)
		if err != nil {
			return err
		}
		return tx.SaveSegment(name, p)
	})
	if err != nil {
		return fmt.Errorf("save segment %q: %w", name, err)
	}
	return nil
}

// DeleteSegment deletes a saved segment; one that another references
// cannot be deleted.
func (e *Engine) DeleteSegment(name string) error {
	if e.closed.Load() {
		return ErrClosed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ix.Update(func(tx *segment.Tx) error { return tx.DeleteSegment(name) }); err != nil {
		return fmt.Errorf("delete segment %q: %w", name, err)
	}
	return nil
}

// Segments returns the names of the saved segments, sorted.
func (e *Engine) Segments() []string { return e.ix.View().Segments() }

// A SegmentChange reports who entered and who exited a saved segment
// between two comparisons (refreshes, or PollSegments calls). A segment
// saved since the previous comparison has everyone in it as entered.
type SegmentChange struct {
	Segment         string          // the saved segment's name
	AsOf            time.Time       // the as-of time of the comparison
	Entered, Exited *roaring.Bitmap // persons who joined and who left it
}

// Subscribe registers fn to be told of saved segments' entries and exits,
// after each RefreshTags and PollSegments, in the order they happen, one
// call at a time. fn runs without the Engine's lock, so it may call any
// method. It returns a function that unregisters fn.
func (e *Engine) Subscribe(fn func(SegmentChange)) (unsubscribe func()) {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	id := e.nextSub
	e.nextSub++
	e.subs[id] = fn
	return func() {
		e.subMu.Lock()
		defer e.subMu.Unlock()
		delete(e.subs, id)
	}
}

// PollSegments compares the saved segments with their members at the
// previous comparison, as of the last refresh's as-of time, and tells
// subscribers; it catches the live changes (orders, attributes, merges)
// between refreshes. It returns the changes.
func (e *Engine) PollSegments(ctx context.Context) ([]SegmentChange, error) {
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	if e.st.asOf.IsZero() {
		e.mu.Unlock()
		return nil, fmt.Errorf("poll segments: %w", ErrNoClock)
	}
	changes, err := e.segmentChanges()
	e.deliverMu.Lock()
	e.mu.Unlock()
	defer e.deliverMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("poll segments: %w", err)
	}
	e.deliver(changes)
	return changes, nil
}

// segmentChanges compares every saved segment between the last compared
// view and now. The lock is held.
func (e *Engine) segmentChanges() ([]SegmentChange, error) {
	to := e.ix.View().At(e.st.asOf)
	var out []SegmentChange
	seen := make(map[string]*roaring.Bitmap, len(e.st.seen))
	for _, name := range to.Segments() {
		cur, err := to.Bitmap(segment.Ref(name))
		if err != nil {
			return nil, fmt.Errorf("segment %q: %w", name, err)
		}
		seen[name] = cur
		old := e.st.seen[name]
		if old == nil {
			old = roaring.New()
		}
		entered, exited := roaring.AndNot(cur, old), roaring.AndNot(old, cur)
		if !entered.IsEmpty() || !exited.IsEmpty() {
			out = append(out, SegmentChange{Segment: name, AsOf: e.st.asOf, Entered: entered, Exited: exited})
		}
	}
	e.st.seen = seen
	return out, nil
}

// deliver calls the subscribers; deliverMu is held.
func (e *Engine) deliver(changes []SegmentChange) {
	if len(changes) == 0 {
		return
	}
	e.subMu.Lock()
	ids := slices.Sorted(maps.Keys(e.subs))
	fns := make([]func(SegmentChange), len(ids))
	for i, id := range ids {
		fns[i] = e.subs[id]
	}
	e.subMu.Unlock()
	for _, c := range changes {
		for _, fn := range fns {
			fn(c)
		}
	}
}

// RecordEvent records that person p did something (an event type of the
// host's: "contacted", "app_open", "coupon_used") on the calendar day of
// at, for activity windows in audiences: !active("contacted", "7d").
// The event type is declared on first use; its name must not be that of
// a field or tag.
func (e *Engine) RecordEvent(ctx context.Context, event string, p identity.PersonID, at time.Time) error {
	if event == "" || at.IsZero() {
		return invalid("event: empty name or zero time")
	}
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.mu.Unlock()
	q, err := e.canon(p)
	if err != nil {
		return fmt.Errorf("event %q: %w", event, err)
	}
	err = e.ix.Update(func(tx *segment.Tx) error {
		if err := tx.Declare(event, segment.KindEvent); err != nil {
			return err
		}
		return tx.RecordActivity(event, at, q)
	})
	if err != nil {
		return fmt.Errorf("event %q: %w", event, err)
	}
	return nil
}

// An Event is one occurrence of a host event type, for RecordEvents.
type Event struct {
	Name   string            // the event type, as for RecordEvent
	Person identity.PersonID // the person it happened to, an ID identity issued
	Time   time.Time         // when it happened
}

// RecordEvents records many events in one index transaction per chunk,
// the bulk counterpart of RecordEvent. A bad event is reported in the
// *BulkError and the rest are recorded.
func (e *Engine) RecordEvents(ctx context.Context, events iter.Seq[Event]) (BulkStats, error) {
	var st BulkStats
	var errs bulkErrors
	type key struct {
		name string
		day  segment.Day
	}
	type ref struct {
		person uint32
		index  int
	}
	byDay := map[key][]ref{}
	flush := func() error {
		if len(byDay) == 0 {
			return nil
		}
		if err := e.lock(ctx); err != nil {
			return err
		}
		defer e.mu.Unlock()
		keys := make([]key, 0, len(byDay))
		for k := range byDay {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b key) int {
			if a.name != b.name {
				return compareStrings(a.name, b.name)
			}
			return int(a.day - b.day)
		})
		err := e.ix.Update(func(tx *segment.Tx) error {
			for _, k := range keys {
				ids := make([]uint32, 0, len(byDay[k]))
				for _, r := range byDay[k] {
					q, err := e.canon(identity.PersonID(r.person))
					if err != nil {
						errs.add(&RecordError{Index: r.index, Person: identity.PersonID(r.person), Err: fmt.Errorf("event %q: %w", k.name, err)})
						st.Applied--
						continue
					}
					ids = append(ids, q)
				}
				if err := tx.Declare(k.name, segment.KindEvent); err != nil {
					return fmt.Errorf("event %q: %w", k.name, err)
				}
				if err := tx.RecordActivityDay(k.name, k.day, ids...); err != nil {
					return fmt.Errorf("event %q: %w", k.name, err)
				}
			}
			return nil
		})
		clear(byDay)
		return err
	}
	n := 0
	for ev := range events {
		st.Read++
		if ev.Name == "" || ev.Time.IsZero() || ev.Person == identity.NoPerson {
			errs.add(&RecordError{Index: st.Read - 1, Person: ev.Person, Err: invalid("event %q: empty name, zero time or no person", ev.Name)})
			continue
		}
		k := key{ev.Name, segment.DayOf(ev.Time, e.cfg.Location)}
		byDay[k] = append(byDay[k], ref{uint32(ev.Person), st.Read - 1})
		st.Applied++
		if n++; n == bulkChunk {
			if err := flush(); err != nil {
				return st, err
			}
			n = 0
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	st.Failed = errs.failed
	return st, errs.err()
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
