package tags

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"time"
	"unicode/utf8"
)

// Record holds one member's field values for a Schema. A field is either
// set or absent; reading an absent field in a rule is a runtime error (see
// the package documentation, "Absent values").
//
// A Record is a plain value holder: not safe for concurrent mutation, safe
// for concurrent reads. Setters store list and map values without copying;
// do not mutate them while a rule may read the record.
type Record struct {
	// ID is the member's dense ID.
	ID uint32

	schema *Schema
	set    []uint64 // presence bit per FieldID
	num    []int64  // Int, Bool (0/1) and Duration (ns) slots by type
	dbl    []float64
	str    []string
	ts     []time.Time
	lst    [][]string
	cnt    []map[string]int64
	bools  []bool
	durs   []time.Duration
}

// NewRecord returns an empty record (every field absent) for member id.
func (s *Schema) NewRecord(id uint32) *Record {
	return &Record{
		ID:     id,
		schema: s,
		set:    make([]uint64, (len(s.fields)+63)/64),
		num:    make([]int64, s.counts[Int]),
		dbl:    make([]float64, s.counts[Double]),
		str:    make([]string, s.counts[String]),
		ts:     make([]time.Time, s.counts[Timestamp]),
		lst:    make([][]string, s.counts[StringList]),
		cnt:    make([]map[string]int64, s.counts[CountMap]),
		bools:  make([]bool, s.counts[Bool]),
		durs:   make([]time.Duration, s.counts[Duration]),
	}
}

// Schema returns the schema the record was made for.
func (r *Record) Schema() *Schema { return r.schema }

// Reset makes every field absent and sets the member ID, so one Record can
// be reused for many members.
func (r *Record) Reset(id uint32) {
	r.ID = id
	clear(r.set)
	// Drop references so reused records do not pin old lists and maps.
	clear(r.str)
	clear(r.lst)
	clear(r.cnt)
}

// CopyFrom makes r a copy of src (same schema required). Lists and maps are
// shared, not deep-copied.
func (r *Record) CopyFrom(src *Record) error {
	if r.schema != src.schema {
		return fmt.Errorf("copy record %d: %w", src.ID, ErrSchemaMismatch)
	}
	r.ID = src.ID
	copy(r.set, src.set)
	copy(r.num, src.num)
	copy(r.dbl, src.dbl)
	copy(r.str, src.str)
	copy(r.ts, src.ts)
	copy(r.lst, src.lst)
	copy(r.cnt, src.cnt)
	copy(r.bools, src.bools)
	copy(r.durs, src.durs)
	return nil
}

// Has reports whether field f has a value.
func (r *Record) Has(f FieldID) bool {
	if f < 0 || int(f) >= len(r.schema.fields) {
		return false
	}
	return r.has(int(f))
}

func (r *Record) has(i int) bool { return r.set[i>>6]&(1<<(uint(i)&63)) != 0 }

// Clear makes field f absent.
func (r *Record) Clear(f FieldID) error {
	if _, err := r.slot(f, 0); err != nil {
		return err
	}
	r.set[f>>6] &^= 1 << (uint(f) & 63)
	return nil
}

// slot checks f and its type (0 accepts any type) and returns its slot.
func (r *Record) slot(f FieldID, want Type) (int, error) {
	if f < 0 || int(f) >= len(r.schema.fields) {
		return 0, fmt.Errorf("member %d: field id %d: %w", r.ID, f, ErrUnknownField)
	}
	if want != 0 && r.schema.fields[f].Type != want {
		return 0, fmt.Errorf("member %d: field %q is %s, not %s: %w",
			r.ID, r.schema.fields[f].Name, r.schema.fields[f].Type, want, ErrFieldType)
	}
	return r.schema.slots[f], nil
}

func (r *Record) mark(f FieldID) { r.set[f>>6] |= 1 << (uint(f) & 63) }

// SetInt sets an Int field.
func (r *Record) SetInt(f FieldID, v int64) error {
	s, err := r.slot(f, Int)
	if err != nil {
		return err
	}
	r.num[s] = v
	r.mark(f)
	return nil
}

// SetDouble sets a Double field.
func (r *Record) SetDouble(f FieldID, v float64) error {
	s, err := r.slot(f, Double)
	if err != nil {
		return err
	}
	r.dbl[s] = v
	r.mark(f)
	return nil
}

// SetString sets a String field. A field held in the index as an enum
// (AsEnum) takes only values the index can hold: not empty, valid UTF-8,
// without control characters, at most 256 bytes.
func (r *Record) SetString(f FieldID, v string) error {
	s, err := r.slot(f, String)
	if err != nil {
		return err
	}
	if r.schema.fields[f].Index == AsEnum {
		if err := enumValueOK(v); err != nil {
			return fmt.Errorf("member %d: field %q: %w: %w", r.ID, r.schema.fields[f].Name, err, ErrFieldValue)
		}
	}
	r.str[s] = v
	r.mark(f)
	return nil
}

// SetBool sets a Bool field.
func (r *Record) SetBool(f FieldID, v bool) error {
	s, err := r.slot(f, Bool)
	if err != nil {
		return err
	}
	r.bools[s] = v
	r.mark(f)
	return nil
}

// minTime and maxTime bound CEL timestamps (0001-01-01 to 9999-12-31).
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// SetTime sets a Timestamp field. CEL timestamps range over the years 1 to
// 9999; a time outside is an error.
func (r *Record) SetTime(f FieldID, v time.Time) error {
	s, err := r.slot(f, Timestamp)
	if err != nil {
		return err
	}
	if v.Before(minTime) || v.After(maxTime) {
		return fmt.Errorf("member %d: field %q: time %s outside years 1-9999: %w",
			r.ID, r.schema.fields[f].Name, v, ErrFieldValue)
	}
	r.ts[s] = v
	r.mark(f)
	return nil
}

// SetDuration sets a Duration field.
func (r *Record) SetDuration(f FieldID, v time.Duration) error {
	s, err := r.slot(f, Duration)
	if err != nil {
		return err
	}
	r.durs[s] = v
	r.mark(f)
	return nil
}

// SetList sets a StringList field. The slice is stored, not copied. A nil
// slice sets an empty list (use Clear for absent).
func (r *Record) SetList(f FieldID, v []string) error {
	s, err := r.slot(f, StringList)
	if err != nil {
		return err
	}
	if v == nil {
		v = []string{}
	}
	r.lst[s] = v
	r.mark(f)
	return nil
}

// SetCounts sets a CountMap field. The map is stored, not copied. A nil map
// sets an empty map (use Clear for absent).
func (r *Record) SetCounts(f FieldID, v map[string]int64) error {
	s, err := r.slot(f, CountMap)
	if err != nil {
		return err
	}
	if v == nil {
		v = map[string]int64{}
	}
	r.cnt[s] = v
	r.mark(f)
	return nil
}

// Set sets the named field from a Go value: any integer type for Int (an
// unsigned value above math.MaxInt64 is an error), float64 or float32 for
// Double, string, bool, time.Time, time.Duration, []string, and
// map[string]int64 or map[string]int for CountMap. A nil value clears the
// field.
func (r *Record) Set(name string, v any) error {
	f, ok := r.schema.byName[name]
	if !ok {
		return fmt.Errorf("member %d: field %q: %w", r.ID, name, ErrUnknownField)
	}
	if v == nil {
		return r.Clear(f)
	}
	typ := r.schema.fields[f].Type
	switch x := v.(type) {
	case int:
		return r.setIntLike(f, typ, int64(x))
	case int8:
		return r.setIntLike(f, typ, int64(x))
	case int16:
		return r.setIntLike(f, typ, int64(x))
	case int32:
		return r.setIntLike(f, typ, int64(x))
	case int64:
		return r.setIntLike(f, typ, x)
	case uint:
		return r.setUint(f, typ, uint64(x))
	case uint8:
		return r.setUint(f, typ, uint64(x))
	case uint16:
		return r.setUint(f, typ, uint64(x))
	case uint32:
		return r.setUint(f, typ, uint64(x))
	case uint64:
		return r.setUint(f, typ, x)
	case float32:
		return r.SetDouble(f, float64(x))
	case float64:
		return r.SetDouble(f, x)
	case string:
		return r.SetString(f, x)
	case bool:
		return r.SetBool(f, x)
	case time.Time:
		return r.SetTime(f, x)
	case time.Duration:
		return r.SetDuration(f, x)
	case []string:
		return r.SetList(f, x)
	case map[string]int64:
		return r.SetCounts(f, x)
	case map[string]int:
		m := make(map[string]int64, len(x))
		for k, n := range x {
			m[k] = int64(n)
		}
		return r.SetCounts(f, m)
	}
	return fmt.Errorf("member %d: field %q is %s, cannot take a %T: %w", r.ID, name, typ, v, ErrFieldType)
}

func (r *Record) setIntLike(f FieldID, typ Type, v int64) error {
	if typ == Double {
		return r.SetDouble(f, float64(v))
	}
	return r.SetInt(f, v)
}

func (r *Record) setUint(f FieldID, typ Type, v uint64) error {
	if v > math.MaxInt64 {
		return fmt.Errorf("member %d: field %q: %d overflows int: %w", r.ID, r.schema.fields[f].Name, v, ErrFieldValue)
	}
	return r.setIntLike(f, typ, int64(v))
}

// Value returns field f's value as a Go value (int64, float64, string,
// bool, time.Time, time.Duration, []string or map[string]int64) and whether
// it is set.
func (r *Record) Value(f FieldID) (any, bool) {
	if !r.Has(f) {
		return nil, false
	}
	s := r.schema.slots[f]
	switch r.schema.fields[f].Type {
	case Int:
		return r.num[s], true
	case Double:
		return r.dbl[s], true
	case String:
		return r.str[s], true
	case Bool:
		return r.bools[s], true
	case Timestamp:
		return r.ts[s], true
	case Duration:
		return r.durs[s], true
	case StringList:
		return r.lst[s], true
	case CountMap:
		return r.cnt[s], true
	}
	return nil, false
}

// Equal reports whether two records of the same schema hold the same member
// ID and the same values (timestamps compared as instants).
func (r *Record) Equal(o *Record) bool {
	if r.schema != o.schema || r.ID != o.ID {
		return false
	}
	for i := range r.schema.fields {
		a, aok := r.Value(FieldID(i))
		b, bok := o.Value(FieldID(i))
		if aok != bok {
			return false
		}
		if !aok {
			continue
		}
		switch x := a.(type) {
		case time.Time:
			if !x.Equal(b.(time.Time)) {
				return false
			}
		case float64:
			y := b.(float64)
			if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
				return false
			}
		case []string:
			y := b.([]string)
			if len(x) != len(y) {
				return false
			}
			for j := range x {
				if x[j] != y[j] {
					return false
				}
			}
		case map[string]int64:
			if !maps.Equal(x, b.(map[string]int64)) {
				return false
			}
		default:
			if a != b {
				return false
			}
		}
	}
	return true
}

// enumValueOK applies segment's rules for enum values, so that every value
// a record holds can be loaded into the index and push-down sees exactly
// what per-member evaluation sees.
func enumValueOK(v string) error {
	switch {
	case v == "":
		return errors.New("empty enum value")
	case len(v) > 256:
		return errors.New("enum value longer than 256 bytes")
	case !utf8.ValidString(v):
		return errors.New("enum value is not UTF-8")
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("enum value %q has a control character", v)
		}
	}
	return nil
}
