package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The portable Roaring format, as specified at
// https://github.com/RoaringBitmap/RoaringFormatSpec and read by CRoaring,
// Java RoaringBitmap, roaring/v2, ClickHouse, StarRocks and Doris. We write
// the run-less variant (our containers are arrays and bitmaps) and read
// both.
const (
	cookieNoRuns = 12346
	cookieRuns   = 12347
	// noOffsetThreshold: with run containers, the offset header is present
	// only from this many containers on.
	noOffsetThreshold = 4
)

// portableSize returns the exact length of b in the portable format.
func (b *bitmap) portableSize() int64 {
	n := int64(8)
	for _, c := range b.nonEmpty() {
		n += 8 // key, cardinality-1 and offset
		if c.n > arrayMax {
			n += 8 * chunkWords
		} else {
			n += 2 * int64(c.n)
		}
	}
	return n
}

// nonEmpty returns the containers in key order, skipping empty chunks.
func (b *bitmap) nonEmpty() []*container {
	if b == nil {
		return nil
	}
	out := make([]*container, 0, len(b.c))
	for _, c := range b.c {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// writePortable writes b in the portable format and returns the bytes
// written.
func (b *bitmap) writePortable(w io.Writer) (int64, error) {
	var keys []uint16
	var cs []*container
	if b != nil {
		for k, c := range b.c {
			if c != nil {
				keys = append(keys, uint16(k))
				cs = append(cs, c)
			}
		}
	}
	head := make([]byte, 0, 8+8*len(cs))
	head = binary.LittleEndian.AppendUint32(head, cookieNoRuns)
	head = binary.LittleEndian.AppendUint32(head, uint32(len(cs)))
	for i, c := range cs {
		head = binary.LittleEndian.AppendUint16(head, keys[i])
		head = binary.LittleEndian.AppendUint16(head, uint16(c.n-1))
	}
	off := uint32(8 + 8*len(cs))
	for _, c := range cs {
		head = binary.LittleEndian.AppendUint32(head, off)
		if c.n > arrayMax {
			off += 8 * chunkWords
		} else {
			off += 2 * uint32(c.n)
		}
	}
	total, err := w.Write(head)
	if err != nil {
		return int64(total), err
	}
	buf := make([]byte, 0, 8*chunkWords)
	var vals []uint16
	for _, c := range cs {
		buf = buf[:0]
		switch {
		case c.n > arrayMax:
			for _, x := range c.w {
				buf = binary.LittleEndian.AppendUint64(buf, x)
			}
		default:
			// The format wants an array here even where we hold bits.
			vals = c.arr
			if c.w != nil {
				vals = appendBits(vals[:0:0], c.w)
			}
			for _, v := range vals {
				buf = binary.LittleEndian.AppendUint16(buf, v)
			}
		}
		n, err := w.Write(buf)
		total += n
		if err != nil {
			return int64(total), err
		}
	}
	return int64(total), nil
}

// errTruncated is the cause of a portable bitmap that ends early.
var errTruncated = errors.New("truncated")

// readPortable decodes a bitmap in the portable format, which must fill
// data exactly. It validates everything a damaged or hostile input could
// get wrong — order of keys and values, cardinalities, offsets, run bounds
// — and never panics; errors wrap ErrCorrupt.
func readPortable(data []byte) (*bitmap, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("portable bitmap: %s: %w", fmt.Sprintf(format, args...), ErrCorrupt)
	}
	if len(data) < 4 {
		return nil, corrupt("%d bytes: %v", len(data), errTruncated)
	}
	var size int
	var runFlags []byte
	pos := 0
	cookie := binary.LittleEndian.Uint32(data)
	switch {
	case cookie == cookieNoRuns:
		if len(data) < 8 {
			return nil, corrupt("header: %v", errTruncated)
		}
		size = int(binary.LittleEndian.Uint32(data[4:]))
		pos = 8
	case cookie&0xffff == cookieRuns:
		size = int(cookie>>16) + 1
		pos = 4
		nflags := (size + 7) / 8
		if len(data) < pos+nflags {
			return nil, corrupt("run flags: %v", errTruncated)
		}
		runFlags = data[pos : pos+nflags]
		pos += nflags
	default:
		return nil, corrupt("unknown cookie %#x", cookie)
	}
	if size > 1<<16 {
		return nil, corrupt("%d containers, more than 65536", size)
	}
	if len(data) < pos+4*size {
		return nil, corrupt("container headers: %v", errTruncated)
	}
	isRun := func(i int) bool { return runFlags != nil && runFlags[i/8]&(1<<(i%8)) != 0 }
	keys := make([]uint16, size)
	cards := make([]int, size)
	for i := range size {
		keys[i] = binary.LittleEndian.Uint16(data[pos+4*i:])
		cards[i] = int(binary.LittleEndian.Uint16(data[pos+4*i+2:])) + 1
		if i > 0 && keys[i] <= keys[i-1] {
			return nil, corrupt("container keys out of order at %d", i)
		}
	}
	pos += 4 * size
	var offsets []uint32
	if runFlags == nil || size >= noOffsetThreshold {
		if len(data) < pos+4*size {
			return nil, corrupt("offsets: %v", errTruncated)
		}
		offsets = make([]uint32, size)
		for i := range size {
			offsets[i] = binary.LittleEndian.Uint32(data[pos+4*i:])
		}
		pos += 4 * size
	}
	b := &bitmap{}
	if size > 0 {
		b.c = make([]*container, int(keys[size-1])+1)
	}
	for i := range size {
		if offsets != nil && int64(offsets[i]) != int64(pos) {
			return nil, corrupt("container %d at offset %d, header says %d", i, pos, offsets[i])
		}
		card := cards[i]
		var c *container
		switch {
		case isRun(i):
			if len(data) < pos+2 {
				return nil, corrupt("container %d: %v", i, errTruncated)
			}
			nruns := int(binary.LittleEndian.Uint16(data[pos:]))
			pos += 2
			if len(data) < pos+4*nruns {
				return nil, corrupt("container %d runs: %v", i, errTruncated)
			}
			w := new(words)
			total, next := 0, -1
			for r := range nruns {
				start := int(binary.LittleEndian.Uint16(data[pos+4*r:]))
				length := int(binary.LittleEndian.Uint16(data[pos+4*r+2:])) + 1
				if start <= next || start+length > chunkSize {
					return nil, corrupt("container %d run %d [%d, +%d) overlaps or overflows", i, r, start, length)
				}
				setRange(w, start, start+length)
				total += length
				next = start + length - 1
			}
			pos += 4 * nruns
			if total != card {
				return nil, corrupt("container %d: runs hold %d values, header says %d", i, total, card)
			}
			c = containerFromWords(0, w, card)
		case card > arrayMax:
			if len(data) < pos+8*chunkWords {
				return nil, corrupt("container %d bits: %v", i, errTruncated)
			}
			w := new(words)
			for j := range w {
				w[j] = binary.LittleEndian.Uint64(data[pos+8*j:])
			}
			pos += 8 * chunkWords
			if n := popcount(w); n != card {
				return nil, corrupt("container %d holds %d bits, header says %d", i, n, card)
			}
			c = containerFromWords(0, w, card)
		default:
			if len(data) < pos+2*card {
				return nil, corrupt("container %d values: %v", i, errTruncated)
			}
			arr := make([]uint16, card)
			for j := range arr {
				arr[j] = binary.LittleEndian.Uint16(data[pos+2*j:])
				if j > 0 && arr[j] <= arr[j-1] {
					return nil, corrupt("container %d values out of order at %d", i, j)
				}
			}
			pos += 2 * card
			c = containerFromSorted(0, arr)
		}
		b.c[keys[i]] = c
		b.n += uint64(card)
	}
	if pos != len(data) {
		return nil, corrupt("%d bytes after the last container", len(data)-pos)
	}
	return b, nil
}

// setRange sets bits [lo, hi) of w.
func setRange(w *words, lo, hi int) {
	for lo < hi {
		i, off := lo>>6, lo&63
		n := min(64-off, hi-lo)
		mask := ^uint64(0)
		if n < 64 {
			mask = (uint64(1)<<n - 1) << off
		}
		w[i] |= mask
		lo += n
	}
}

// isSubset reports whether every member of a is in b.
func isSubset(a, b *bitmap) bool {
	if a.card() == 0 {
		return true
	}
	var ba, bb words
	for k, c := range a.c {
		if c == nil {
			continue
		}
		d := b.chunk(k)
		if d == nil || d.n < c.n {
			return false
		}
		if d.n == chunkSize {
			continue
		}
		if c.w == nil && d.w == nil {
			if _, n := intersectArr(nil, c.arr, d.arr, true); n != len(c.arr) {
				return false
			}
			continue
		}
		if popAndNot(c.wordsOf(&ba), d.wordsOf(&bb)) != 0 {
			return false
		}
	}
	return true
}

// disjoint reports whether a and b share no member.
func disjoint(a, b *bitmap) bool {
	var ba, bb words
	for k, c := range a.nonEmptyIndexed() {
		d := b.chunk(k)
		if d == nil {
			continue
		}
		if c.w == nil && d.w == nil {
			if _, n := intersectArr(nil, c.arr, d.arr, true); n != 0 {
				return false
			}
			continue
		}
		if popAnd(c.wordsOf(&ba), d.wordsOf(&bb)) != 0 {
			return false
		}
	}
	return true
}

// nonEmptyIndexed yields (chunk, container) for b's non-empty chunks.
func (b *bitmap) nonEmptyIndexed() func(yield func(int, *container) bool) {
	return func(yield func(int, *container) bool) {
		if b == nil {
			return
		}
		for k, c := range b.c {
			if c != nil && !yield(k, c) {
				return
			}
		}
	}
}
