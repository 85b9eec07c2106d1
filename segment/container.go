package segment

import (
	"math/bits"
	"slices"
)

// The index stores every bitmap in roaring's layout: member IDs split into
// chunks of 2^16 by their high 16 bits, each chunk held as a sorted array of
// low bits (up to 4096 members) or as 1024 words of bits. The containers are
// our own rather than roaring/v2's because the index needs two things the
// library does not expose: sharing containers between versions so that a
// write copies one 8 KiB chunk instead of a whole bitmap, and word-level
// access so that a whole expression is evaluated chunk by chunk in cache
// (see eval.go). Bitmaps leave and enter the index as *roaring.Bitmap and
// in the portable Roaring format, so nothing outside sees the difference.
const (
	chunkShift = 16
	chunkSize  = 1 << chunkShift
	chunkWords = chunkSize / 64
	// arrayMax is roaring's threshold: an array of more than 4096 uint16s
	// would be larger than the 8 KiB of bits. The portable format stores
	// containers of up to arrayMax members as arrays.
	arrayMax = 4096
	// arrayLimit is where our containers switch to bits, earlier than
	// roaring: between 2048 and 4096 members an array saves at most half of
	// 8 KiB, but ORing it costs a store per member where bits cost 1024
	// word operations, and mid-density tags are common in audiences.
	arrayLimit = 2048
)

// words is one chunk of bits; member low bits x is bit x%64 of word x/64.
type words = [chunkWords]uint64

// fullWords backs every full chunk (all 65536 members present). Containers
// are immutable once published, so one shared copy is enough.
var fullWords = func() *words {
	var w words
	for i := range w {
		w[i] = ^uint64(0)
	}
	return &w
}()

// fullChunk is the container of every full chunk. Its tx is 0, which no
// transaction has, so a change always copies it first.
var fullChunk = &container{n: chunkSize, w: fullWords}

// zeroWords stands in for an absent chunk where a kernel needs words.
var zeroWords = new(words)

// A container holds one chunk of a bitmap. It is mutable only by the
// transaction whose id it carries; every published container has the id of
// a finished transaction, so readers never see it change.
type container struct {
	tx  uint64
	n   int32    // cardinality, 1..65536
	arr []uint16 // sorted low bits, when w is nil (then n <= arrayLimit)
	w   *words   // bits
}

func (c *container) contains(x uint16) bool {
	if c.w != nil {
		return c.w[x>>6]&(1<<(x&63)) != 0
	}
	_, ok := slices.BinarySearch(c.arr, x)
	return ok
}

// clone returns a copy owned by tx.
func (c *container) clone(tx uint64) *container {
	d := &container{tx: tx, n: c.n}
	if c.w != nil {
		w := new(words)
		*w = *c.w
		d.w = w
	} else {
		d.arr = slices.Clone(c.arr)
	}
	return d
}

// add inserts x into a container owned by the caller and reports whether it
// was absent.
func (c *container) add(x uint16) bool {
	if c.w != nil {
		m := uint64(1) << (x & 63)
		if c.w[x>>6]&m != 0 {
			return false
		}
		c.w[x>>6] |= m
		c.n++
		return true
	}
	i, ok := slices.BinarySearch(c.arr, x)
	if ok {
		return false
	}
	if len(c.arr) == arrayLimit {
		w := new(words)
		for _, v := range c.arr {
			w[v>>6] |= 1 << (v & 63)
		}
		w[x>>6] |= 1 << (x & 63)
		c.w, c.arr = w, nil
		c.n++
		return true
	}
	c.arr = slices.Insert(c.arr, i, x)
	c.n++
	return true
}

// remove deletes x from a container owned by the caller and reports whether
// it was present. A container left empty has n == 0; the caller drops it.
func (c *container) remove(x uint16) bool {
	if c.w != nil {
		m := uint64(1) << (x & 63)
		if c.w[x>>6]&m == 0 {
			return false
		}
		c.w[x>>6] &^= m
		c.n--
		// Back to an array only at half the limit, so a member going in
		// and out at the threshold does not convert each time.
		if c.n <= arrayLimit/2 {
			c.arr = appendBits(make([]uint16, 0, c.n), c.w)
			c.w = nil
		}
		return true
	}
	i, ok := slices.BinarySearch(c.arr, x)
	if !ok {
		return false
	}
	c.arr = slices.Delete(c.arr, i, i+1)
	c.n--
	return true
}

// wordsOf returns the container's bits, expanding an array into buf.
func (c *container) wordsOf(buf *words) *words {
	if c == nil {
		return zeroWords
	}
	if c.w != nil {
		return c.w
	}
	clear(buf[:])
	for _, v := range c.arr {
		buf[v>>6] |= 1 << (v & 63)
	}
	return buf
}

// containerFromWords builds a container from w, which the new container may
// keep (the caller gives it up). It returns nil for an empty chunk.
func containerFromWords(tx uint64, w *words, n int) *container {
	switch {
	case n == 0:
		return nil
	case n == chunkSize:
		return fullChunk
	case n <= arrayLimit:
		return &container{tx: tx, n: int32(n), arr: appendBits(make([]uint16, 0, n), w)}
	default:
		return &container{tx: tx, n: int32(n), w: w}
	}
}

// containerFromSorted builds a container from strictly increasing low bits,
// keeping arr when it stays an array.
func containerFromSorted(tx uint64, arr []uint16) *container {
	switch n := len(arr); {
	case n == 0:
		return nil
	case n <= arrayLimit:
		return &container{tx: tx, n: int32(n), arr: arr}
	case n == chunkSize:
		return fullChunk
	default:
		w := new(words)
		for _, v := range arr {
			w[v>>6] |= 1 << (v & 63)
		}
		return &container{tx: tx, n: int32(n), w: w}
	}
}

// appendBits appends the positions of the set bits of w in increasing order.
func appendBits(dst []uint16, w *words) []uint16 {
	for i, x := range w {
		base := uint16(i << 6)
		for x != 0 {
			dst = append(dst, base+uint16(bits.TrailingZeros64(x)))
			x &= x - 1
		}
	}
	return dst
}

func popcount(w *words) int {
	n := 0
	for i := 0; i < chunkWords; i += 4 {
		n += bits.OnesCount64(w[i]) + bits.OnesCount64(w[i+1]) +
			bits.OnesCount64(w[i+2]) + bits.OnesCount64(w[i+3])
	}
	return n
}
