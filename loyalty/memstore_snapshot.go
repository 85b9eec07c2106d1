package loyalty

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"slices"
)

// memSnapshotMagic opens a MemStore snapshot; the last byte is the format
// version.
const memSnapshotMagic = "CDPKLOY\x01"

// ErrCorruptSnapshot is returned by ReadMemStore for a snapshot that is
// damaged, truncated or not one at all.
var ErrCorruptSnapshot = errors.New("corrupt ledger snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteTo writes everything the store holds — transaction records, and
// per member the account, entries and documents — to w, ending with a
// CRC-32C of all that precedes it, and returns the bytes written. It
// holds the store's read lock: commits wait, reads go on. ReadMemStore
// reads it back into a store a Ledger continues from exactly.
func (s *MemStore) WriteTo(w io.Writer) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.txs == nil {
		return 0, ErrClosed
	}
	sw := &snapWriter{w: bufio.NewWriterSize(w, 1<<16), h: crc32.New(castagnoli)}
	sw.raw([]byte(memSnapshotMagic))
	ids := slices.Sorted(maps.Keys(s.txs))
	sw.uvarint(uint64(len(ids)))
	for _, id := range ids {
		sw.bytes([]byte(id))
		sw.bytes(s.txs[id])
	}
	members := slices.Sorted(maps.Keys(s.accounts))
	sw.uvarint(uint64(len(members)))
	for _, m := range members {
		a := s.accounts[m]
		sw.uvarint(uint64(m))
		sw.bytes(a.state)
		sw.uvarint(uint64(len(a.entries)))
		for _, e := range a.entries {
			sw.bytes(e)
		}
		keys := slices.Sorted(maps.Keys(a.docs))
		sw.uvarint(uint64(len(keys)))
		for _, k := range keys {
			sw.bytes([]byte(k))
			sw.bytes(a.docs[k])
		}
	}
	if sw.err == nil {
		var sum [4]byte
		binary.LittleEndian.PutUint32(sum[:], sw.h.Sum32())
		_, sw.err = sw.w.Write(sum[:])
		sw.n += 4
	}
	if sw.err == nil {
		sw.err = sw.w.Flush()
	}
	return sw.n, sw.err
}

type snapWriter struct {
	w   *bufio.Writer
	h   hash.Hash32
	n   int64
	buf [binary.MaxVarintLen64]byte
	err error
}

func (sw *snapWriter) raw(b []byte) {
	if sw.err != nil {
		return
	}
	sw.h.Write(b)
	n, err := sw.w.Write(b)
	sw.n += int64(n)
	sw.err = err
}

func (sw *snapWriter) uvarint(v uint64) { sw.raw(sw.buf[:binary.PutUvarint(sw.buf[:], v)]) }
func (sw *snapWriter) bytes(b []byte)   { sw.uvarint(uint64(len(b))); sw.raw(b) }

// ReadMemStore reads a store written by MemStore.WriteTo. A damaged or
// truncated snapshot is an error wrapping ErrCorruptSnapshot that says
// where, and nothing is returned. Records are checked as opaque bytes;
// the Ledger decodes them as it uses them, and Ledger.Audit checks them
// all.
func ReadMemStore(r io.Reader) (*MemStore, error) {
	sr := &snapReader{r: bufio.NewReaderSize(r, 1<<16), h: crc32.New(castagnoli)}
	fail := func(part string) (*MemStore, error) {
		err := sr.err
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("truncated")
		}
		return nil, fmt.Errorf("ledger snapshot: %s: %v: %w", part, err, ErrCorruptSnapshot)
	}
	if string(sr.read(len(memSnapshotMagic))) != memSnapshotMagic {
		if sr.err == nil {
			sr.err = errors.New("not a ledger snapshot")
		}
		return fail("header")
	}
	s := NewMemStore()
	n := sr.count()
	prev := ""
	for i := uint64(0); i < n && sr.err == nil; i++ {
		id := string(sr.bytes())
		rec := sr.bytes()
		if sr.err == nil && (id == "" || i > 0 && id <= prev) {
			sr.err = fmt.Errorf("transaction %d out of order", i)
		}
		s.txs[id], prev = rec, id
	}
	if sr.err != nil {
		return fail("transactions")
	}
	n = sr.count()
	var prevM uint64
	for i := uint64(0); i < n && sr.err == nil; i++ {
		m := sr.uvarint()
		if sr.err == nil && (m > 1<<32-1 || i > 0 && m <= prevM) {
			sr.err = fmt.Errorf("member %d out of order", m)
			break
		}
		prevM = m
		a := &memAccount{state: sr.bytes(), docs: map[string][]byte{}}
		ne := sr.count()
		for j := uint64(0); j < ne && sr.err == nil; j++ {
			a.entries = append(a.entries, sr.bytes())
		}
		nd := sr.count()
		for j := uint64(0); j < nd && sr.err == nil; j++ {
			k := string(sr.bytes())
			if _, dup := a.docs[k]; dup && sr.err == nil {
				sr.err = fmt.Errorf("member %d: document %q twice", m, k)
			}
			a.docs[k] = sr.bytes()
		}
		s.accounts[uint32(m)] = a
	}
	if sr.err != nil {
		return fail("accounts")
	}
	want := sr.h.Sum32()
	sum := sr.rawNoHash(4)
	if sr.err != nil {
		return fail("checksum")
	}
	if got := binary.LittleEndian.Uint32(sum); got != want {
		sr.err = fmt.Errorf("CRC-32C %08x, want %08x", got, want)
		return fail("checksum")
	}
	return s, nil
}

type snapReader struct {
	r   *bufio.Reader
	h   hash.Hash32
	one [1]byte
	err error
}

func (sr *snapReader) ReadByte() (byte, error) {
	b, err := sr.r.ReadByte()
	if err == nil {
		sr.one[0] = b
		sr.h.Write(sr.one[:])
	}
	return b, err
}

func (sr *snapReader) uvarint() uint64 {
	if sr.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(sr)
	if err != nil {
		sr.err = err
	}
	return v
}

// count reads a count, which the bytes that follow must be able to hold.
func (sr *snapReader) count() uint64 {
	v := sr.uvarint()
	if sr.err == nil && v > 1<<40 {
		sr.err = fmt.Errorf("count %d out of range", v)
	}
	return v
}

func (sr *snapReader) read(n int) []byte {
	if sr.err != nil {
		return nil
	}
	out := make([]byte, 0, min(n, 1<<16))
	for len(out) < n {
		chunk := make([]byte, min(n-len(out), 1<<16))
		if _, err := io.ReadFull(sr.r, chunk); err != nil {
			sr.err = err
			return nil
		}
		sr.h.Write(chunk)
		out = append(out, chunk...)
	}
	return out
}

func (sr *snapReader) rawNoHash(n int) []byte {
	if sr.err != nil {
		return nil
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(sr.r, out); err != nil {
		sr.err = err
		return nil
	}
	return out
}

func (sr *snapReader) bytes() []byte {
	n := sr.uvarint()
	if sr.err == nil && n > 1<<30 {
		sr.err = fmt.Errorf("record of %d bytes", n)
		return nil
	}
	return sr.read(int(n))
}
