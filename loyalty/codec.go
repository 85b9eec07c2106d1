package loyalty

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The ledger's records are stored in a compact binary form: varints in a
// fixed field order behind a one-byte record tag. It is several times
// cheaper than JSON on the write path, where every operation rewrites its
// account, and decoding never panics on corrupt bytes.

// errCorrupt is wrapped by every decoding failure.
var errCorrupt = errors.New("corrupt record")

// maxDecodeLen bounds lengths read from untrusted bytes (strings, slice
// counts) so a corrupt length cannot make the decoder allocate gigabytes.
const maxDecodeLen = 1 << 24

type wbuf struct{ b []byte }

func (w *wbuf) byte(v byte)   { w.b = append(w.b, v) }
func (w *wbuf) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *wbuf) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *wbuf) str(s string)  { w.uint(uint64(len(s))); w.b = append(w.b, s...) }
func (w *wbuf) raw(p []byte)  { w.uint(uint64(len(p))); w.b = append(w.b, p...) }
func (w *wbuf) bool(v bool)   { w.b = append(w.b, boolByte(v)) }
func (w *wbuf) time(t time.Time) {
	// Zero means "no time" (a lot that never expires); a real instant is
	// stored as nanoseconds since the epoch behind a presence byte, so
	// 1970-01-01T00:00:00Z stays distinct from zero.
	if t.IsZero() {
		w.byte(0)
		return
	}
	w.byte(1)
	w.int(t.UnixNano())
}

// instant writes what time writes for i.Time().
func (w *wbuf) instant(i instant) {
	if i == noInstant {
		w.byte(0)
		return
	}
	w.byte(1)
	w.int(i.nanos())
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// rbuf reads what wbuf wrote. The first failure sticks: later reads return
// zero values and err reports the first problem.
type rbuf struct {
	b   []byte
	err error
}

func (r *rbuf) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", what, errCorrupt)
	}
}

func (r *rbuf) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail("truncated byte")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *rbuf) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rbuf) int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rbuf) uint32() uint32 {
	v := r.uint()
	if v > 1<<32-1 {
		r.fail("uint32 out of range")
		return 0
	}
	return uint32(v)
}

func (r *rbuf) int32() int32 {
	v := r.int()
	if v < -1<<31 || v > 1<<31-1 {
		r.fail("int32 out of range")
		return 0
	}
	return int32(v)
}

func (r *rbuf) length() int {
	v := r.uint()
	if v > maxDecodeLen || v > uint64(len(r.b)) {
		r.fail("bad length")
		return 0
	}
	return int(v)
}

// count reads a slice length where each element takes at least one byte.
func (r *rbuf) count() int { return r.length() }

func (r *rbuf) str() string {
	n := r.length()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// bytes reads what str or raw wrote, without copying.
func (r *rbuf) bytes() []byte {
	n := r.length()
	if r.err != nil {
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// instant reads what time wrote, as an instant.
func (r *rbuf) instant() instant {
	switch r.byte() {
	case 0:
		return noInstant
	case 1:
		return instant(uint64(r.int()) ^ 1<<63)
	}
	r.fail("bad time")
	return noInstant
}

func (r *rbuf) raw() []byte {
	n := r.length()
	if r.err != nil {
		return nil
	}
	p := append([]byte(nil), r.b[:n]...)
	r.b = r.b[n:]
	return p
}

func (r *rbuf) bool() bool {
	switch r.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad bool")
	return false
}

func (r *rbuf) time() time.Time {
	switch r.byte() {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(0, r.int()).UTC()
	}
	r.fail("bad time")
	return time.Time{}
}

// done checks that a record was read to its end.
func (r *rbuf) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return fmt.Errorf("decode %s: %w", what, r.err)
	}
	return nil
}

// Record tags: the first byte of every stored value, so a value of the
// wrong kind (or a future version) is rejected instead of misread.
const (
	tagAccount  byte = 0xA1 // first layout, still read
	tagAccount2 byte = 0xA2
	tagEntry    byte = 0xE1
	tagEntryX   byte = 0xE2 // an entry with the fields merges added
	tagEntry3   byte = 0xE3 // an entry of the fields that are not zero
	tagTx       byte = 0x71
	tagOrderDoc byte = 0xD1
	tagRedeem   byte = 0xD2
	tagSpendDoc byte = 0xD3
)

func (r *rbuf) tag(want byte, what string) {
	if got := r.byte(); r.err == nil && got != want {
		r.err = fmt.Errorf("%s: tag %#x, want %#x: %w", what, got, want, errCorrupt)
	}
}
