package cdpkit

import (
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cdpkit/cdpkit/tags"
)

// A table holds typed columns of values by person ID, each value present
// or absent: the host's attributes, and the derived fields. Columns are
// plain slices (pointer-free for the scalar types), so a million persons
// cost a few bytes per field each rather than a record apiece.
//
// A table is not safe for concurrent use; the Engine's lock guards it.
type table struct {
	cols []column
	rows int
}

type column struct {
	typ  tags.Type
	set  []uint64  // presence bit per row
	i64  []int64   // Int, Bool (0/1), Duration (ns), Timestamp (Unix seconds)
	ns   []int32   // Timestamp nanoseconds
	f64  []float64 // Double
	str  []uint32  // String: code into dict
	dict *strDict
	lst  [][]string         // StringList
	cnt  []map[string]int64 // CountMap
	loc  *time.Location     // where Timestamp values are read back (they are instants)
}

// strDict interns the values of a String column.
type strDict struct {
	codes  map[string]uint32
	values []string
}

func (d *strDict) code(s string) uint32 {
	if c, ok := d.codes[s]; ok {
		return c
	}
	c := uint32(len(d.values))
	d.codes[s] = c
	d.values = append(d.values, s)
	return c
}

func newTable(types []tags.Type, loc *time.Location) *table {
	t := &table{cols: make([]column, len(types))}
	for i, typ := range types {
		t.cols[i].typ, t.cols[i].loc = typ, loc
		if typ == tags.String {
			t.cols[i].dict = &strDict{codes: map[string]uint32{}}
		}
	}
	return t
}

// grow makes room for rows 0..n-1, doubling so that persons created one
// at a time cost amortised constant time.
func (t *table) grow(n int) {
	if n <= t.rows {
		return
	}
	c := max(n, 2*t.rows, 1024)
	for i := range t.cols {
		col := &t.cols[i]
		col.set = extend(col.set, (n+63)/64, (c+63)/64)
		switch col.typ {
		case tags.Int, tags.Bool, tags.Duration:
			col.i64 = extend(col.i64, n, c)
		case tags.Timestamp:
			col.i64 = extend(col.i64, n, c)
			col.ns = extend(col.ns, n, c)
		case tags.Double:
			col.f64 = extend(col.f64, n, c)
		case tags.String:
			col.str = extend(col.str, n, c)
		case tags.StringList:
			col.lst = extend(col.lst, n, c)
		case tags.CountMap:
			col.cnt = extend(col.cnt, n, c)
		}
	}
	t.rows = n
}

// extend returns s with length n, reallocating to capacity c when it must.
func extend[T any](s []T, n, c int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		return s[:n]
	}
	out := make([]T, n, max(c, n))
	copy(out, s)
	return out
}

func (c *column) has(row uint32) bool {
	return int(row>>6) < len(c.set) && c.set[row>>6]&(1<<(row&63)) != 0
}

func (c *column) mark(row uint32) { c.set[row>>6] |= 1 << (row & 63) }

func (c *column) clear(row uint32) {
	if int(row>>6) >= len(c.set) {
		return
	}
	c.set[row>>6] &^= 1 << (row & 63)
	switch c.typ {
	case tags.StringList:
		c.lst[row] = nil
	case tags.CountMap:
		c.cnt[row] = nil
	}
}

func (c *column) setInt(row uint32, v int64) { c.i64[row] = v; c.mark(row) }

func (c *column) setDouble(row uint32, v float64) { c.f64[row] = v; c.mark(row) }

func (c *column) setString(row uint32, v string) { c.str[row] = c.dict.code(v); c.mark(row) }

func (c *column) setTime(row uint32, v time.Time) {
	c.i64[row], c.ns[row] = v.Unix(), int32(v.Nanosecond())
	c.mark(row)
}

func (c *column) setList(row uint32, v []string) { c.lst[row] = v; c.mark(row) }

// setValue sets a value of the column's type, as tags.Record.Value
// returns it.
func (c *column) setValue(row uint32, v any) error {
	switch x := v.(type) {
	case int64:
		c.setInt(row, x)
	case bool:
		var b int64
		if x {
			b = 1
		}
		c.setInt(row, b)
	case time.Duration:
		c.setInt(row, int64(x))
	case float64:
		c.setDouble(row, x)
	case string:
		c.setString(row, x)
	case time.Time:
		c.setTime(row, x)
	case []string:
		c.setList(row, slices.Clone(x))
	case map[string]int64:
		c.cnt[row] = maps.Clone(x)
		c.mark(row)
	default:
		return fmt.Errorf("value of type %T: %w", v, ErrInvalid)
	}
	return nil
}

// value returns a row's value as a Go value of the column's type.
func (c *column) value(row uint32) (any, bool) {
	if !c.has(row) {
		return nil, false
	}
	switch c.typ {
	case tags.Int:
		return c.i64[row], true
	case tags.Bool:
		return c.i64[row] != 0, true
	case tags.Duration:
		return time.Duration(c.i64[row]), true
	case tags.Timestamp:
		return time.Unix(c.i64[row], int64(c.ns[row])).In(c.loc), true
	case tags.Double:
		return c.f64[row], true
	case tags.String:
		return c.dict.values[c.str[row]], true
	case tags.StringList:
		return c.lst[row], true
	case tags.CountMap:
		return c.cnt[row], true
	}
	return nil, false
}

// toRecord sets a row's value in rec's field f, when present.
func (c *column) toRecord(row uint32, rec *tags.Record, f tags.FieldID) error {
	if !c.has(row) {
		return nil
	}
	switch c.typ {
	case tags.Int:
		return rec.SetInt(f, c.i64[row])
	case tags.Bool:
		return rec.SetBool(f, c.i64[row] != 0)
	case tags.Duration:
		return rec.SetDuration(f, time.Duration(c.i64[row]))
	case tags.Timestamp:
		return rec.SetTime(f, time.Unix(c.i64[row], int64(c.ns[row])).In(c.loc))
	case tags.Double:
		return rec.SetDouble(f, c.f64[row])
	case tags.String:
		return rec.SetString(f, c.dict.values[c.str[row]])
	case tags.StringList:
		return rec.SetList(f, c.lst[row])
	case tags.CountMap:
		return rec.SetCounts(f, c.cnt[row])
	}
	return nil
}

// copyRow copies column value src to row dst (both present or dst cleared).
func (c *column) copyRow(dst, src uint32) {
	if !c.has(src) {
		c.clear(dst)
		return
	}
	switch c.typ {
	case tags.Int, tags.Bool, tags.Duration:
		c.i64[dst] = c.i64[src]
	case tags.Timestamp:
		c.i64[dst], c.ns[dst] = c.i64[src], c.ns[src]
	case tags.Double:
		c.f64[dst] = c.f64[src]
	case tags.String:
		c.str[dst] = c.str[src]
	case tags.StringList:
		c.lst[dst] = c.lst[src]
	case tags.CountMap:
		c.cnt[dst] = c.cnt[src]
	}
	c.mark(dst)
}

// equalRow reports whether rows a of c and b of o hold the same value.
func (c *column) equalRow(a uint32, o *column, b uint32) bool {
	ha, hb := c.has(a), o.has(b)
	if !ha || !hb {
		return ha == hb
	}
	switch c.typ {
	case tags.Int, tags.Bool, tags.Duration:
		return c.i64[a] == o.i64[b]
	case tags.Timestamp:
		return c.i64[a] == o.i64[b] && c.ns[a] == o.ns[b]
	case tags.Double:
		return c.f64[a] == o.f64[b] || c.f64[a] != c.f64[a] && o.f64[b] != o.f64[b]
	case tags.String:
		return c.dict.values[c.str[a]] == o.dict.values[o.str[b]]
	case tags.StringList:
		return slices.Equal(c.lst[a], o.lst[b])
	case tags.CountMap:
		return maps.Equal(c.cnt[a], o.cnt[b])
	}
	return false
}

// clearRow makes every field of row absent.
func (t *table) clearRow(row uint32) {
	if int(row) >= t.rows {
		return
	}
	for i := range t.cols {
		t.cols[i].clear(row)
	}
}

// mergeRow gives survivor the loser's values of the fields it lacks, then
// clears the loser: the rule segment.Tx.MergeMember applies to enum and
// int fields, so the index and the table agree.
func (t *table) mergeRow(survivor, loser uint32) {
	if int(loser) >= t.rows {
		return
	}
	for i := range t.cols {
		c := &t.cols[i]
		if c.has(loser) && !c.has(survivor) {
			c.copyRow(survivor, loser)
		}
		c.clear(loser)
	}
}

// present returns the rows of column i that have a value, below n.
func (t *table) present(i, n int) *roaring.Bitmap {
	words := t.cols[i].set[:min(len(t.cols[i].set), (n+63)/64)]
	bm := roaring.FromDense(words, true)
	if n%64 != 0 && len(words) == (n+63)/64 {
		bm.RemoveRange(uint64(n), uint64(len(words))*64)
	}
	return bm
}

// count returns how many rows of column i have a value.
func (t *table) count(i int) int {
	n := 0
	for _, w := range t.cols[i].set {
		n += bits.OnesCount64(w)
	}
	return n
}
