package loyalty

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
	"strings"
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
	if s.closed.Load() {
		return 0, ErrClosed
	}
	// Commits take their members' stripes, then one transaction shard:
	// taking every stripe, then every shard, in order, cannot deadlock
	// with them.
	for i := range s.stripes {
		s.stripes[i].mu.RLock()
		defer s.stripes[i].mu.RUnlock()
	}
	for i := range s.txs {
		s.txs[i].mu.Lock()
		defer s.txs[i].mu.Unlock()
	}
	type txRec struct {
		id  string
		rec []byte
	}
	var txs []txRec
	for i := range s.txs {
		t := &s.txs[i]
		for _, pos := range t.idx {
			if pos != txPending {
				id, rec := t.log.cs.keyed(pos)
				txs = append(txs, txRec{string(id), rec})
			}
		}
		for _, pos := range t.over {
			if pos != txPending {
				id, rec := t.log.cs.keyed(pos)
				txs = append(txs, txRec{string(id), rec})
			}
		}
	}
	slices.SortFunc(txs, func(a, b txRec) int { return strings.Compare(a.id, b.id) })
	sw := &snapWriter{w: bufio.NewWriterSize(w, 1<<16), h: crc32.New(castagnoli)}
	sw.raw([]byte(memSnapshotMagic))
	sw.uvarint(uint64(len(txs)))
	for _, t := range txs {
		sw.bytes([]byte(t.id))
		sw.bytes(t.rec)
	}
	members := s.memberIDs()
	sw.uvarint(uint64(len(members)))
	type doc struct{ key, v []byte }
	for _, m := range members {
		ma, cs := s.member(m), s.stripe(m).log.cs
		sw.uvarint(uint64(m))
		sw.bytes(ma.stateBytes())
		sw.uvarint(uint64(len(ma.eoff)))
		for _, pos := range ma.eoff {
			sw.bytes(cs.record(pos))
		}
		var docs []doc
		for _, v := range ma.dix {
			if v != 0 {
				k, d := cs.keyed(uint32(v) - 1)
				docs = append(docs, doc{k, d})
			}
		}
		slices.SortFunc(docs, func(a, b doc) int { return bytes.Compare(a.key, b.key) })
		sw.uvarint(uint64(len(docs)))
		for _, d := range docs {
			sw.bytes(d.key)
			sw.bytes(d.v)
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
		switch {
		case sr.err != nil:
		case id == "" || i > 0 && id <= prev:
			sr.err = fmt.Errorf("transaction %d out of order", i)
		case s.txLogFull(id):
			sr.err = errStoreFull
		default:
			t, h := s.txShard(id)
			t.add(h, id, rec)
		}
		prev = id
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
		ma := s.memberForWrite(uint32(m))
		log := &s.stripe(uint32(m)).log
		ma.state = sr.bytes()
		ne := sr.count()
		for j := uint64(0); j < ne && sr.err == nil; j++ {
			e := sr.bytes()
			if sr.err == nil && log.full() {
				sr.err = errStoreFull
			}
			if sr.err == nil {
				ma.eoff = append(ma.eoff, log.add(e))
			}
		}
		nd := sr.count()
		var prevKey []byte
		for j := uint64(0); j < nd && sr.err == nil; j++ {
			k, d := sr.bytes(), sr.bytes()
			if sr.err == nil && j > 0 && bytes.Compare(k, prevKey) <= 0 {
				sr.err = fmt.Errorf("member %d: documents out of order", m)
			}
			if sr.err == nil && log.full() {
				sr.err = errStoreFull
			}
			if sr.err == nil {
				putDoc(ma, s.seed, log, k, d)
			}
			prevKey = k
		}
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

// txLogFull reports whether tx's shard can take no more records.
func (s *MemStore) txLogFull(tx string) bool {
	t, _ := s.txShard(tx)
	return t.log.full()
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
