package cdpkit

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// SetAttributes sets some of person p's attributes, declared by
// Config.Attributes: attrs maps field names to values of the field's type
// (as tags.Record.Set takes them; nil clears the field), and leaves the
// other fields as they are. Indexed fields are written into the index at
// once. Once RefreshTags has set a clock, the person's tags are
// re-evaluated at at (or the refresh's as-of, if later) and the changes
// returned. A bad name or value changes nothing and the error names the
// field.
func (e *Engine) SetAttributes(ctx context.Context, p identity.PersonID, at time.Time, attrs map[string]any) ([]TagChange, error) {
	if e.cfg.Attributes == nil {
		return nil, invalid("attributes: the Engine was configured without Config.Attributes")
	}
	// Check every value against the schema before changing anything.
	scratch := e.cfg.Attributes.NewRecord(uint32(p))
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	slices.Sort(names)
	fields := make([]tags.FieldID, len(names))
	for i, name := range names {
		f, ok := e.cfg.Attributes.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("attributes of person %d: field %q: %w", p, name, tags.ErrUnknownField)
		}
		if err := scratch.Set(name, attrs[name]); err != nil {
			return nil, fmt.Errorf("attributes of person %d: %w", p, err)
		}
		fields[i] = f
	}
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	q, err := e.canon(p)
	if err != nil {
		e.mu.Unlock()
		return nil, fmt.Errorf("attributes: %w", err)
	}
	old := snapshotRow(e.st.attrs, q)
	for _, f := range fields {
		col := &e.st.attrs.cols[f]
		if v, ok := scratch.Value(f); ok {
			if err := col.setValue(q, v); err != nil {
				e.mu.Unlock()
				return nil, fmt.Errorf("attributes of person %d: %w", p, err)
			}
		} else {
			col.clear(q)
		}
	}
	ops := e.rowOps(e.st.attrs, old, 0, q, nil)
	err = e.ix.Update(func(tx *segment.Tx) error {
		for _, op := range ops {
			if err := op.apply(tx); err != nil {
				return fmt.Errorf("field %q: %w", op.field, err)
			}
		}
		return nil
	})
	if err != nil {
		// Put the row back, so the table and the index agree.
		for i := range e.st.attrs.cols {
			e.st.attrs.cols[i].copyFrom(q, &old.cols[i], 0)
		}
		e.mu.Unlock()
		return nil, fmt.Errorf("attributes of person %d: %w", p, err)
	}
	e.markDirty(q, at)
	return e.unlock(ctx)
}

// copyFrom sets row dst of c from row src of o (same type).
func (c *column) copyFrom(dst uint32, o *column, src uint32) {
	if v, ok := o.value(src); ok {
		_ = c.setValue(dst, v)
	} else {
		c.clear(dst)
	}
}

// LoadAttributes replaces the attributes of many persons, the bulk
// counterpart of SetAttributes: each record (made with
// Config.Attributes.NewRecord, its ID the person) becomes the person's
// attributes, fields it leaves absent included. Indexed fields are then
// rewritten in the index in one transaction. Tags are not re-evaluated:
// run RefreshTags afterwards. A record for an unknown or erased person is
// reported in the *BulkError and the rest are loaded.
func (e *Engine) LoadAttributes(ctx context.Context, records iter.Seq[*tags.Record]) (BulkStats, error) {
	var st BulkStats
	var errs bulkErrors
	if e.cfg.Attributes == nil {
		return st, invalid("attributes: the Engine was configured without Config.Attributes")
	}
	if err := e.lock(ctx); err != nil {
		return st, err
	}
	defer e.mu.Unlock()
	n := e.cfg.Attributes.Len()
	for rec := range records {
		st.Read++
		if rec == nil || rec.Schema() != e.cfg.Attributes {
			errs.add(&RecordError{Index: st.Read - 1, Person: identity.NoPerson, Err: invalid("record made for another schema")})
			continue
		}
		q, err := e.canon(identity.PersonID(rec.ID))
		if err != nil {
			errs.add(&RecordError{Index: st.Read - 1, Person: identity.PersonID(rec.ID), Err: err})
			continue
		}
		for f := range n {
			col := &e.st.attrs.cols[f]
			if v, ok := rec.Value(tags.FieldID(f)); ok {
				if err := col.setValue(q, v); err != nil {
					errs.add(&RecordError{Index: st.Read - 1, Person: identity.PersonID(rec.ID), Err: err})
					break
				}
			} else {
				col.clear(q)
			}
		}
		st.Applied++
		if st.Read%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
	}
	err := e.ix.Update(func(tx *segment.Tx) error { return e.writeColumns(tx, e.st.attrs, 0, e.st.persons) })
	if err != nil {
		return st, fmt.Errorf("attributes: write index: %w", err)
	}
	st.Failed = errs.failed
	return st, errs.err()
}
