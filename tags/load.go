package tags

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cdpkit/cdpkit/segment"
)

// LoadStats reports what LoadIndex wrote.
type LoadStats struct {
	// Members is how many records were loaded.
	Members int
	// BadRecords are the first MaxBadRecords records skipped (nil, another
	// schema, a member ID seen before); BadCount counts them all.
	BadRecords []error
	BadCount   int
}

// LoadIndex writes the indexed fields of every record into ix in one
// transaction, so that rules on them can be pushed down: each AsInt field
// replaces the int attribute of its IndexName, each AsEnum field the enum,
// each AsDay field the int attribute of calendar days in loc (which must be
// the Location of the Clocks refreshes use). Members without a value of a
// field have none in the index. Every loaded member joins the index's
// universe. Records are read once, in order; ctx is checked every 64Ki
// records.
func (s *Schema) LoadIndex(ctx context.Context, ix *segment.Index, records iter.Seq[*Record],
	loc *time.Location) (LoadStats, error) {
	var st LoadStats
	if loc == nil {
		return st, fmt.Errorf("load index: %w", ErrNoClock)
	}
	type intCol struct {
		ids  []uint32
		vals []int64
	}
	ints := map[FieldID]*intCol{}
	enums := map[FieldID]map[string]*roaring.Bitmap{}
	var bound []FieldID
	for i, f := range s.fields {
		switch f.Index {
		case AsInt, AsDay:
			ints[FieldID(i)] = &intCol{}
			bound = append(bound, FieldID(i))
		case AsEnum:
			enums[FieldID(i)] = map[string]*roaring.Bitmap{}
			bound = append(bound, FieldID(i))
		}
	}
	members := roaring.New()
	days := dayCache{loc: loc}
	var ids []uint32
	n := 0
	for rec := range records {
		n++
		if n%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		var bad error
		switch {
		case rec == nil:
			bad = fmt.Errorf("record %d of the sequence is nil", n)
		case rec.schema != s:
			bad = fmt.Errorf("member %d: %w", rec.ID, ErrSchemaMismatch)
		case !members.CheckedAdd(rec.ID):
			bad = fmt.Errorf("member %d: duplicate record, the first one counts", rec.ID)
		}
		if bad != nil {
			st.BadCount++
			if len(st.BadRecords) < MaxBadRecords {
				st.BadRecords = append(st.BadRecords, bad)
			}
			continue
		}
		ids = append(ids, rec.ID)
		for _, f := range bound {
			if !rec.has(int(f)) {
				continue
			}
			slot := s.slots[f]
			switch s.fields[f].Index {
			case AsInt:
				c := ints[f]
				c.ids, c.vals = append(c.ids, rec.ID), append(c.vals, rec.num[slot])
			case AsDay:
				c := ints[f]
				c.ids, c.vals = append(c.ids, rec.ID), append(c.vals, days.day(rec.ts[slot]))
			case AsEnum:
				v := rec.str[slot]
				b := enums[f][v]
				if b == nil {
					b = roaring.New()
					enums[f][v] = b
				}
				b.Add(rec.ID)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	err := ix.Update(func(tx *segment.Tx) error {
		for _, f := range bound {
			fd := s.fields[f]
			kind := segment.KindInt
			if fd.Index == AsEnum {
				kind = segment.KindEnum
			}
			if err := tx.Declare(fd.IndexName, kind); err != nil {
				return fmt.Errorf("field %q: %w", fd.Name, err)
			}
			var err error
			if fd.Index == AsEnum {
				err = tx.ReplaceEnum(fd.IndexName, enums[f])
			} else {
				err = tx.ReplaceInt(fd.IndexName, ints[f].ids, ints[f].vals)
			}
			if err != nil {
				return fmt.Errorf("field %q: %w", fd.Name, err)
			}
		}
		return tx.AddMembers(ids...)
	})
	if err != nil {
		return st, fmt.Errorf("load index: %w", err)
	}
	st.Members = len(ids)
	return st, nil
}
