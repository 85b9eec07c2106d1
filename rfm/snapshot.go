package rfm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"slices"
	"time"
)

// snapshotMagic opens a Summaries snapshot; the last byte is the format
// version.
const snapshotMagic = "CDPKRFM\x01"

// ErrCorrupt is returned by ReadSummaries for a snapshot that is damaged,
// truncated or not a snapshot at all; the *SnapshotError wrapping it names
// the part.
var ErrCorrupt = errors.New("corrupt summaries snapshot")

// A SnapshotError reports a snapshot that failed to decode, naming the
// part ("header", "columns", "categories", "stats" or "checksum").
type SnapshotError struct {
	Part string
	Err  error
}

// Error names the part.
func (e *SnapshotError) Error() string {
	return fmt.Sprintf("summaries snapshot: %s: %v", e.Part, e.Err)
}

// Unwrap returns the cause.
func (e *SnapshotError) Unwrap() error { return e.Err }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteTo writes the Summaries — configuration, every member's columns,
// category histories and Stats — to w, ending with a CRC-32C of all that
// precedes it, and returns the bytes written. ReadSummaries reads it back
// into Summaries that answer every read and accept every later write
// exactly as these would. It must not run concurrently with writes.
func (s *Summaries) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<16), h: crc32.New(castagnoli)}
	e := &encoder{w: cw}
	e.bytes([]byte(snapshotMagic))
	e.str(s.loc.String())
	e.i64(s.fromUnix)
	e.i64(s.asOfUnix)
	e.i64(int64(s.asOfDay))
	e.u64(uint64(s.nChannels))
	n := s.Len()
	e.u64(uint64(n))
	for m := range n {
		e.i64(int64(s.firstDay[m]))
		e.i64(int64(s.lastDay[m]))
		e.u64(uint64(s.orders[m]))
		e.u64(uint64(s.days[m]))
		e.i64(s.spend[m])
		e.i64(s.refunded[m])
		e.i64(s.firstSpend[m])
		e.u64(s.mask[m])
		for c := range s.nChannels {
			e.u64(uint64(s.chans[m*s.nChannels+c]))
		}
	}
	var keys []uint64
	for _, cm := range s.cats {
		keys = slices.AppendSeq(keys, maps.Keys(cm))
	}
	slices.Sort(keys)
	e.u64(uint64(len(keys)))
	for _, k := range keys {
		st := s.cats[uint32(k>>32)>>blockBits][k]
		e.u64(k)
		e.i64(int64(st.first))
		e.i64(int64(st.last))
		e.i64(int64(st.runOut))
		e.u64(uint64(st.n))
		e.bool(st.supplied)
	}
	s.mu.Lock()
	st := s.stats
	s.mu.Unlock()
	for _, v := range []int{st.Read, st.Purchases, st.Refunds, st.BeforeWindow, st.AfterAsOf, st.Rejected, st.Unordered} {
		e.u64(uint64(v))
	}
	if e.err == nil {
		var sum [4]byte
		binary.LittleEndian.PutUint32(sum[:], cw.h.Sum32())
		_, e.err = cw.w.Write(sum[:])
		cw.n += 4
	}
	if e.err == nil {
		e.err = cw.w.(*bufio.Writer).Flush()
	}
	return cw.n, e.err
}

// ReadSummaries reads Summaries written by WriteTo. loc, when not nil,
// is the time zone to use, and must be the one the snapshot was written
// in (same name); nil loads the snapshot's zone by name. A damaged or
// truncated snapshot is a *SnapshotError wrapping ErrCorrupt, and nothing
// is returned.
func ReadSummaries(r io.Reader, loc *time.Location) (*Summaries, error) {
	cr := newCRCReader(r)
	d := &decoder{r: cr}
	fail := func(part string, err error) (*Summaries, error) {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return nil, &SnapshotError{Part: part, Err: err}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: truncated", ErrCorrupt)
		}
		return nil, &SnapshotError{Part: part, Err: err}
	}
	if magic := d.bytes(len(snapshotMagic)); d.err == nil && string(magic) != snapshotMagic {
		return fail("header", fmt.Errorf("%w: not a summaries snapshot", ErrCorrupt))
	}
	locName := d.str()
	fromUnix, asOfUnix, asOfDay := d.i64(), d.i64(), d.i64()
	nch, n := d.u64(), d.u64()
	if d.err != nil {
		return fail("header", d.err)
	}
	switch {
	case nch < 1 || nch > 16:
		return fail("header", fmt.Errorf("%w: %d channels", ErrCorrupt, nch))
	case n > 1<<32:
		return fail("header", fmt.Errorf("%w: %d members", ErrCorrupt, n))
	case asOfDay < math.MinInt32 || asOfDay > math.MaxInt32:
		return fail("header", fmt.Errorf("%w: as-of day %d", ErrCorrupt, asOfDay))
	}
	if loc == nil {
		l, err := time.LoadLocation(locName)
		if err != nil {
			return fail("header", fmt.Errorf("%w: location %q: %v", ErrCorrupt, locName, err))
		}
		loc = l
	} else if loc.String() != locName {
		return nil, &SnapshotError{Part: "header", Err: fmt.Errorf("written in %q, read in %q", locName, loc)}
	}
	s := &Summaries{
		loc: loc, fromUnix: fromUnix, asOfUnix: asOfUnix, asOfDay: int32(asOfDay),
		nChannels: int(nch), clk: newClock(loc),
	}
	// Grow a block at a time, so a forged count cannot make us allocate
	// more than the bytes actually present justify.
	day32 := func(v int64) int32 {
		if v < math.MinInt32 || v > math.MaxInt32 {
			d.fail("day out of range")
		}
		return int32(v)
	}
	u32 := func(v uint64) uint32 {
		if v > math.MaxUint32 {
			d.fail("count out of range")
		}
		return uint32(v)
	}
	for lo := uint64(0); lo < n && d.err == nil; lo += 1 << blockBits {
		hi := min(n, lo+1<<blockBits)
		s.Grow(int(hi))
		for m := lo; m < hi && d.err == nil; m++ {
			s.firstDay[m] = day32(d.i64())
			s.lastDay[m] = day32(d.i64())
			s.orders[m] = u32(d.u64())
			s.days[m] = u32(d.u64())
			s.spend[m] = d.i64()
			s.refunded[m] = d.i64()
			s.firstSpend[m] = d.i64()
			s.mask[m] = d.u64()
			for c := range s.nChannels {
				s.chans[int(m)*s.nChannels+c] = u32(d.u64())
			}
		}
	}
	if d.err != nil {
		return fail("columns", d.err)
	}
	nk := d.u64()
	prev := uint64(0)
	for i := uint64(0); i < nk && d.err == nil; i++ {
		k := d.u64()
		st := catState{first: day32(d.i64()), last: day32(d.i64()), runOut: day32(d.i64()), n: u32(d.u64()), supplied: d.bool()}
		m := uint32(k >> 32)
		switch {
		case d.err != nil:
		case i > 0 && k <= prev:
			d.fail("category keys out of order")
		case uint64(m) >= n:
			d.fail("category entry of an unknown member")
		default:
			b := m >> blockBits
			if s.cats[b] == nil {
				s.cats[b] = make(map[uint64]catState)
			}
			s.cats[b][k] = st
			s.noteCategory(b, uint32(k))
		}
		prev = k
	}
	if d.err != nil {
		return fail("categories", d.err)
	}
	st := []*int{&s.stats.Read, &s.stats.Purchases, &s.stats.Refunds, &s.stats.BeforeWindow,
		&s.stats.AfterAsOf, &s.stats.Rejected, &s.stats.Unordered}
	for _, p := range st {
		v := d.u64()
		if v > math.MaxInt32*uint64(1<<31) {
			d.fail("count out of range")
		}
		*p = int(v)
	}
	if d.err != nil {
		return fail("stats", d.err)
	}
	want := cr.sum()
	sum, err := cr.raw(4)
	if err != nil {
		return fail("checksum", err)
	}
	if got := binary.LittleEndian.Uint32(sum); got != want {
		return fail("checksum", fmt.Errorf("%w: CRC-32C %08x, want %08x", ErrCorrupt, got, want))
	}
	return s, nil
}

type countWriter struct {
	w io.Writer
	h hash.Hash32
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.h.Write(p)
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type encoder struct {
	w   io.Writer
	buf [binary.MaxVarintLen64]byte
	err error
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}
func (e *encoder) u64(v uint64) { e.bytes(e.buf[:binary.PutUvarint(e.buf[:], v)]) }
func (e *encoder) i64(v int64)  { e.bytes(e.buf[:binary.PutVarint(e.buf[:], v)]) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.bytes([]byte(s)) }
func (e *encoder) bool(b bool) {
	if b {
		e.u64(1)
	} else {
		e.u64(0)
	}
}

// crcReader is a buffered byte reader that hashes the bytes consumed so
// far (not those merely buffered), so the trailer can be checked against
// everything before it.
type crcReader struct {
	r         io.Reader
	h         hash.Hash32
	buf       []byte
	pos, end  int
	hashedPos int // buf[:hashedPos] is in h
}

func newCRCReader(r io.Reader) *crcReader {
	return &crcReader{r: r, h: crc32.New(castagnoli), buf: make([]byte, 1<<16)}
}

func (c *crcReader) ReadByte() (byte, error) {
	if c.pos == c.end {
		c.h.Write(c.buf[c.hashedPos:c.pos])
		n, err := io.ReadAtLeast(c.r, c.buf, 1)
		c.pos, c.end, c.hashedPos = 0, n, 0
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	b := c.buf[c.pos]
	c.pos++
	return b, nil
}

// sum returns the CRC of every byte consumed so far.
func (c *crcReader) sum() uint32 {
	c.h.Write(c.buf[c.hashedPos:c.pos])
	c.hashedPos = c.pos
	return c.h.Sum32()
}

// raw reads n bytes without hashing them.
func (c *crcReader) raw(n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for len(out) < n {
		b, err := c.ReadByte()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	c.hashedPos = c.pos // consumed, never hashed
	return out, nil
}

type decoder struct {
	r   *crcReader
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, msg)
	}
}

// readErr records a varint read's error: the input ending mid-value is
// io.ErrUnexpectedEOF, anything else ErrCorrupt.
func (d *decoder) readErr(err error) {
	switch {
	case err == nil:
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		d.err = io.ErrUnexpectedEOF
	default:
		d.err = fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	d.readErr(err)
	return v
}

func (d *decoder) i64() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	d.readErr(err)
	return v
}

func (d *decoder) bool() bool {
	switch v := d.u64(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("bad boolean")
		return false
	}
}

func (d *decoder) bytes(n int) []byte {
	b := make([]byte, 0, min(n, 1<<12))
	for range n {
		c, err := d.r.ReadByte()
		if err != nil {
			if d.err == nil {
				d.err = io.ErrUnexpectedEOF
			}
			return nil
		}
		b = append(b, c)
	}
	return b
}

func (d *decoder) str() string {
	n := d.u64()
	if n > 1<<10 {
		d.fail("string too long")
		return ""
	}
	return string(d.bytes(int(n)))
}
