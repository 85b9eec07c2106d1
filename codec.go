package cdpkit

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/cdpkit/cdpkit/tags"
)

// enc writes the Engine's own snapshot parts: varints, strings and
// floats, buffered. The first error sticks.
type enc struct {
	w   *bufio.Writer
	buf [binary.MaxVarintLen64]byte
	err error
}

func newEnc(w io.Writer) *enc { return &enc{w: bufio.NewWriterSize(w, 1<<16)} }

func (e *enc) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}
func (e *enc) u(v uint64)     { e.raw(e.buf[:binary.PutUvarint(e.buf[:], v)]) }
func (e *enc) i(v int64)      { e.raw(e.buf[:binary.PutVarint(e.buf[:], v)]) }
func (e *enc) f(v float64)    { e.u(math.Float64bits(v)) }
func (e *enc) s(v string)     { e.u(uint64(len(v))); e.raw([]byte(v)) }
func (e *enc) bytes(v []byte) { e.u(uint64(len(v))); e.raw(v) }
func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.u(0)
		return
	}
	e.u(1)
	e.i(t.Unix())
	e.u(uint64(t.Nanosecond()))
}
func (e *enc) bool(b bool) {
	if b {
		e.u(1)
	} else {
		e.u(0)
	}
}

func (e *enc) flush() error {
	if e.err == nil {
		e.err = e.w.Flush()
	}
	return e.err
}

// dec reads what enc writes, refusing anything out of range with
// ErrCorrupt; the first error sticks and later reads return zeros.
type dec struct {
	r   *bufio.Reader
	err error
}

func newDec(r io.Reader) *dec { return &dec{r: bufio.NewReaderSize(r, 1<<16)} }

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrCorrupt)
	}
}

func (d *dec) readErr(err error) {
	if d.err != nil {
		return
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		d.err = fmt.Errorf("truncated: %w", ErrCorrupt)
		return
	}
	if errors.Is(err, errOverflow) {
		d.err = fmt.Errorf("bad varint: %w", ErrCorrupt)
		return
	}
	d.err = err
}

var errOverflow = errors.New("varint overflows")

func (d *dec) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			err = errOverflow
		}
		d.readErr(err)
	}
	return v
}

func (d *dec) i() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			err = errOverflow
		}
		d.readErr(err)
	}
	return v
}

func (d *dec) f() float64 { return math.Float64frombits(d.u()) }

// n reads a count and checks it against a limit.
func (d *dec) n(limit uint64, what string) int {
	v := d.u()
	if v > limit {
		d.fail("%s: %d, more than %d", what, v, limit)
		return 0
	}
	return int(v)
}

// u32 reads a value that must fit in 32 bits.
func (d *dec) u32(what string) uint32 {
	v := d.u()
	if v > math.MaxUint32 {
		d.fail("%s: %d out of range", what, v)
		return 0
	}
	return uint32(v)
}

func (d *dec) i32(what string) int32 {
	v := d.i()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("%s: %d out of range", what, v)
		return 0
	}
	return int32(v)
}

// maxString bounds a string in a snapshot: identifiers, names, attribute
// values.
const maxString = 1 << 20

func (d *dec) raw(n int) []byte {
	if d.err != nil {
		return nil
	}
	// Grow as bytes arrive, so a forged length cannot allocate more than
	// the part holds.
	out := make([]byte, 0, min(n, 1<<16))
	for len(out) < n {
		chunk := min(n-len(out), 1<<16)
		start := len(out)
		out = append(out, make([]byte, chunk)...)
		if _, err := io.ReadFull(d.r, out[start:]); err != nil {
			d.readErr(err)
			return nil
		}
	}
	return out
}

func (d *dec) s() string {
	n := d.n(maxString, "string length")
	return string(d.raw(n))
}

func (d *dec) bytes(limit uint64) []byte {
	n := d.n(limit, "length")
	return d.raw(n)
}

func (d *dec) time(loc *time.Location) time.Time {
	switch d.u() {
	case 0:
		return time.Time{}
	case 1:
		sec, ns := d.i(), d.u()
		if ns >= 1e9 {
			d.fail("nanoseconds %d", ns)
		}
		return time.Unix(sec, int64(ns)).In(loc)
	default:
		d.fail("bad time tag")
		return time.Time{}
	}
}

func (d *dec) bool() bool {
	switch d.u() {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("bad boolean")
		return false
	}
}

// end checks that the part was read to its end.
func (d *dec) end() error {
	if d.err != nil {
		return d.err
	}
	if _, err := d.r.ReadByte(); err == nil {
		return fmt.Errorf("trailing bytes: %w", ErrCorrupt)
	}
	return nil
}

// writeTable writes a table's rows 0..rows-1: per column its type and the
// present rows with their values.
func writeTable(e *enc, t *table) {
	e.u(uint64(t.rows))
	e.u(uint64(len(t.cols)))
	for i := range t.cols {
		c := &t.cols[i]
		e.u(uint64(c.typ))
		if c.typ == tags.String {
			e.u(uint64(len(c.dict.values)))
			for _, v := range c.dict.values {
				e.s(v)
			}
		}
		n := t.count(i)
		e.u(uint64(n))
		prev := uint32(0)
		for row := range uint32(t.rows) {
			if !c.has(row) {
				continue
			}
			e.u(uint64(row - prev))
			prev = row
			switch c.typ {
			case tags.Int, tags.Bool, tags.Duration:
				e.i(c.i64[row])
			case tags.Timestamp:
				e.i(c.i64[row])
				e.u(uint64(c.ns[row]))
			case tags.Double:
				e.f(c.f64[row])
			case tags.String:
				e.u(uint64(c.str[row]))
			case tags.StringList:
				e.u(uint64(len(c.lst[row])))
				for _, v := range c.lst[row] {
					e.s(v)
				}
			case tags.CountMap:
				keys := make([]string, 0, len(c.cnt[row]))
				for k := range c.cnt[row] {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				e.u(uint64(len(keys)))
				for _, k := range keys {
					e.s(k)
					e.i(c.cnt[row][k])
				}
			}
		}
	}
}

// maxPersons bounds person counts read from a snapshot (identity's own
// capacity).
const maxPersons = 1<<32 - 4

// readTable reads a table written by writeTable into t, whose columns
// must have the types written, for exactly persons rows.
func readTable(d *dec, t *table, persons int) {
	rows := d.n(maxPersons, "rows")
	if d.err == nil && rows != persons {
		d.fail("%d rows for %d persons", rows, persons)
	}
	if cols := d.n(1<<16, "columns"); d.err == nil && cols != len(t.cols) {
		d.fail("%d columns, want %d", cols, len(t.cols))
	}
	if d.err != nil {
		return
	}
	// Rows grow as values arrive (grow is amortised), so a forged row
	// count allocates nothing by itself.
	for i := range t.cols {
		c := &t.cols[i]
		if typ := tags.Type(d.u()); d.err == nil && typ != c.typ {
			d.fail("column %d is %v, want %v", i, typ, c.typ)
		}
		var dict []string
		if c.typ == tags.String {
			nd := d.n(maxPersons, "dictionary size")
			for k := 0; k < nd && d.err == nil; k++ {
				dict = append(dict, d.s())
			}
			for _, v := range dict {
				c.dict.code(v)
			}
			if d.err == nil && len(c.dict.values) != len(dict) {
				d.fail("column %d: dictionary repeats a value", i)
			}
		}
		n := d.n(uint64(rows), "present rows")
		row := uint64(0)
		for k := 0; k < n && d.err == nil; k++ {
			delta := d.u()
			if k > 0 && delta == 0 {
				d.fail("column %d: rows out of order", i)
				return
			}
			row += delta
			if row >= uint64(rows) {
				d.fail("column %d: row %d of %d", i, row, rows)
				return
			}
			r := uint32(row)
			t.grow(int(row) + 1)
			switch c.typ {
			case tags.Int, tags.Duration:
				c.setInt(r, d.i())
			case tags.Bool:
				v := d.i()
				if v != 0 && v != 1 {
					d.fail("column %d: boolean %d", i, v)
				}
				c.setInt(r, v)
			case tags.Timestamp:
				sec, ns := d.i(), d.u()
				if ns >= 1e9 {
					d.fail("column %d: nanoseconds %d", i, ns)
				}
				c.i64[r], c.ns[r] = sec, int32(ns)
				c.mark(r)
			case tags.Double:
				c.setDouble(r, d.f())
			case tags.String:
				code := d.u()
				if code >= uint64(len(dict)) {
					d.fail("column %d: value code %d of %d", i, code, len(dict))
					return
				}
				c.str[r] = uint32(code)
				c.mark(r)
			case tags.StringList:
				m := d.n(1<<20, "list length")
				lst := make([]string, 0, min(m, 64))
				for j := 0; j < m && d.err == nil; j++ {
					lst = append(lst, d.s())
				}
				c.setList(r, lst)
			case tags.CountMap:
				m := d.n(1<<20, "map size")
				cm := make(map[string]int64, min(m, 64))
				for j := 0; j < m && d.err == nil; j++ {
					k := d.s()
					if _, dup := cm[k]; dup {
						d.fail("column %d: map key %q twice", i, k)
					}
					cm[k] = d.i()
				}
				c.cnt[r] = cm
				c.mark(r)
			default:
				d.fail("column %d: unknown type %d", i, c.typ)
			}
		}
	}
	if d.err == nil {
		t.grow(rows)
	}
}

// writeWinLog writes the window log (chains are rebuilt on reading).
func writeWinLog(e *enc, w *winLog) {
	e.i(int64(w.span))
	e.i(int64(w.floor))
	e.i(int64(w.maxDay))
	e.u(uint64(len(w.head)))
	n := 0
	for i := range w.person {
		if w.kind[i] != entryDeleted {
			n++
		}
	}
	e.u(uint64(n))
	for i := range w.person {
		if w.kind[i] == entryDeleted {
			continue
		}
		e.u(uint64(w.person[i]))
		e.i(int64(w.day[i]))
		e.i(w.amount[i])
		e.u(w.hash[i])
		e.u(uint64(w.kind[i]))
	}
}

// readWinLog reads a window log written by writeWinLog, for exactly
// persons persons.
func readWinLog(d *dec, w *winLog, persons int) {
	w.span = d.i32("window span")
	w.floor = d.i32("window floor")
	w.maxDay = d.i32("latest day")
	if n := d.n(maxPersons, "persons"); d.err == nil && n != persons {
		d.fail("windows for %d persons, not %d", n, persons)
	}
	n := d.n(1<<40, "entries")
	if d.err != nil {
		return
	}
	w.person, w.day, w.amount, w.hash, w.kind, w.prev = nil, nil, nil, nil, nil, nil
	w.head = w.head[:0]
	for i := 0; i < n && d.err == nil; i++ {
		p := d.u32("person")
		day := d.i32("day")
		amount := d.i()
		h := d.u()
		k := d.u()
		switch {
		case d.err != nil:
			return
		case int(p) >= persons:
			d.fail("entry %d: person %d of %d", i, p, persons)
			return
		case k != uint64(entryOrder) && k != uint64(entryRefund):
			d.fail("entry %d: kind %d", i, k)
			return
		}
		w.person = append(w.person, p)
		w.day = append(w.day, day)
		w.amount = append(w.amount, amount)
		w.hash = append(w.hash, h)
		w.kind = append(w.kind, uint8(k))
	}
	if d.err != nil {
		return
	}
	w.prev = make([]int32, len(w.person))
	w.grow(persons)
	for i, p := range w.person {
		w.prev[i] = w.head[p]
		w.head[p] = int32(i)
	}
}
