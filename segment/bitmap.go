package segment

import (
	"bytes"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// A bitmap is a set of member IDs: containers indexed directly by chunk
// number (member ID >> 16), nil where a chunk is empty. Member IDs are dense,
// so the slice is short (153 entries at 10M members) and a lookup is one
// index. Like its containers, a bitmap is mutable only by the transaction
// whose id it carries.
type bitmap struct {
	tx uint64
	n  uint64 // cardinality
	c  []*container
}

func (b *bitmap) card() uint64 {
	if b == nil {
		return 0
	}
	return b.n
}

func (b *bitmap) chunk(k int) *container {
	if b == nil || k >= len(b.c) {
		return nil
	}
	return b.c[k]
}

func (b *bitmap) chunks() int {
	if b == nil {
		return 0
	}
	return len(b.c)
}

func (b *bitmap) contains(x uint32) bool {
	c := b.chunk(int(x >> chunkShift))
	return c != nil && c.contains(uint16(x))
}

// writable returns a version of *bp that transaction tx may change, copying
// the container slice (not the containers) the first time.
func writable(tx uint64, bp **bitmap) *bitmap {
	b := *bp
	switch {
	case b == nil:
		b = &bitmap{tx: tx}
		*bp = b
	case b.tx != tx:
		b = &bitmap{tx: tx, n: b.n, c: slices.Clone(b.c)}
		*bp = b
	}
	return b
}

// add inserts x into *bp on behalf of tx and reports whether it was absent.
// A chunk shared with a published version is copied before it changes, and
// only then: adding a present member copies nothing.
func add(tx uint64, bp **bitmap, x uint32) bool {
	if (*bp).contains(x) {
		return false
	}
	b := writable(tx, bp)
	k := int(x >> chunkShift)
	if k >= len(b.c) {
		b.c = append(b.c, make([]*container, k+1-len(b.c))...)
	}
	c := b.c[k]
	switch {
	case c == nil:
		b.c[k] = &container{tx: tx, n: 1, arr: []uint16{uint16(x)}}
	case c.tx != tx:
		c = c.clone(tx)
		b.c[k] = c
		c.add(uint16(x))
	default:
		c.add(uint16(x))
	}
	b.n++
	return true
}

// remove deletes x from *bp on behalf of tx and reports whether it was present.
func remove(tx uint64, bp **bitmap, x uint32) bool {
	if !(*bp).contains(x) {
		return false
	}
	b := writable(tx, bp)
	k := int(x >> chunkShift)
	c := b.c[k]
	if c.tx != tx {
		c = c.clone(tx)
		b.c[k] = c
	}
	c.remove(uint16(x))
	b.n--
	if c.n == 0 {
		b.c[k] = nil
		b.trim()
	}
	return true
}

// trim drops empty chunks at the end so len(c) stays 1 + the last chunk.
func (b *bitmap) trim() {
	n := len(b.c)
	for n > 0 && b.c[n-1] == nil {
		n--
	}
	clear(b.c[n:])
	b.c = b.c[:n]
}

// orInto sets *bp to *bp ∪ src on behalf of tx, sharing src's containers
// where *bp has none.
func orInto(tx uint64, bp **bitmap, src *bitmap) {
	if src.card() == 0 {
		return
	}
	b := writable(tx, bp)
	if len(src.c) > len(b.c) {
		b.c = append(b.c, make([]*container, len(src.c)-len(b.c))...)
	}
	var buf words
	for k, s := range src.c {
		if s == nil {
			continue
		}
		d := b.c[k]
		if d == nil {
			share(tx, s)
			b.c[k] = s
			b.n += uint64(s.n)
			continue
		}
		if d.n == chunkSize || s.n == chunkSize {
			b.n += uint64(chunkSize - d.n)
			b.c[k] = fullChunk
			continue
		}
		w := new(words)
		*w = *d.wordsOf(&buf)
		sw := s.wordsOf(&buf)
		for i := range w {
			w[i] |= sw[i]
		}
		n := popcount(w)
		b.n += uint64(n) - uint64(d.n)
		b.c[k] = containerFromWords(tx, w, n)
	}
}

// share prepares c, which a second bitmap is about to hold, for sharing: a
// container owned by tx becomes read-only, so a later change to either
// bitmap copies it instead of changing both.
func share(tx uint64, c *container) {
	if c.tx == tx {
		c.tx = 0
	}
}

// bitmapFromRoaring converts rb to a bitmap owned by tx, in parallel over
// chunks for large bitmaps.
func bitmapFromRoaring(tx uint64, rb *roaring.Bitmap) *bitmap {
	b := &bitmap{tx: tx}
	if rb == nil || rb.IsEmpty() {
		return b
	}
	card := rb.GetCardinality()
	nchunks := int(rb.Maximum()>>chunkShift) + 1
	b.c = make([]*container, nchunks)
	if card < uint64(nchunks)*arrayMax/4 {
		// Sparse: walk the values rather than a dense copy of the range.
		var cur []uint16
		curK := -1
		flush := func() {
			if curK >= 0 {
				b.c[curK] = containerFromSorted(tx, cur)
			}
			cur = nil
		}
		buf := make([]uint32, 4096)
		it := rb.ManyIterator()
		for {
			m := it.NextMany(buf)
			if m == 0 {
				break
			}
			for _, x := range buf[:m] {
				k := int(x >> chunkShift)
				if k != curK {
					flush()
					curK = k
				}
				cur = append(cur, uint16(x))
			}
		}
		flush()
		b.n = card
		return b
	}
	dense := make([]uint64, nchunks*chunkWords)
	rb.WriteDenseTo(dense)
	b.n = card
	parallelChunks(nchunks, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			src := (*words)(dense[k*chunkWords : (k+1)*chunkWords])
			n := popcount(src)
			if n > arrayLimit && n < chunkSize {
				w := new(words)
				*w = *src
				src = w
			}
			b.c[k] = containerFromWords(tx, src, n)
		}
	})
	return b
}

// bitmapFromWords converts a dense bit column (bit i of w[j] is member
// 64j+i) to a bitmap owned by tx.
func bitmapFromWords(tx uint64, w []uint64) *bitmap {
	nchunks := (len(w) + chunkWords - 1) / chunkWords
	b := &bitmap{tx: tx, c: make([]*container, nchunks)}
	counts := make([]uint64, nchunks)
	parallelChunks(nchunks, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			cw := new(words)
			copy(cw[:], w[k*chunkWords:min(len(w), (k+1)*chunkWords)])
			n := popcount(cw)
			counts[k] = uint64(n)
			b.c[k] = containerFromWords(tx, cw, n)
		}
	})
	for _, n := range counts {
		b.n += n
	}
	b.trim()
	return b
}

// toRoaring returns a new roaring bitmap holding b's members; the caller
// owns it.
func (b *bitmap) toRoaring() *roaring.Bitmap {
	if b.card() == 0 {
		return roaring.New()
	}
	dense, used := 0, 0
	for _, c := range b.c {
		if c != nil {
			used++
			if c.w != nil {
				dense++
			}
		}
	}
	if dense == 0 {
		vals := make([]uint32, 0, b.n)
		rb := roaring.New()
		rb.AddMany(b.appendValues(vals))
		return rb
	}
	if used*2 < len(b.c) {
		// Chunks far apart: a dense copy of the range would be mostly
		// zeros, so hand roaring the portable bytes instead.
		var buf bytes.Buffer
		buf.Grow(int(b.portableSize()))
		b.writePortable(&buf)
		rb := roaring.New()
		if _, err := rb.ReadFrom(&buf); err != nil {
			panic(fmt.Sprintf("segment: roaring rejects our own bitmap: %v", err))
		}
		return rb
	}
	d := make([]uint64, len(b.c)*chunkWords)
	for k, c := range b.c {
		if c == nil {
			continue
		}
		dst := (*words)(d[k*chunkWords : (k+1)*chunkWords])
		if c.w != nil {
			*dst = *c.w
			continue
		}
		for _, v := range c.arr {
			dst[v>>6] |= 1 << (v & 63)
		}
	}
	// Without a copy the result's bit chunks point into d, which is only
	// worth keeping alive when most chunks are bits.
	return roaring.FromDense(d, dense*4 < len(b.c)*3)
}

// bitmapFromRange returns the members [lo, hi) as a bitmap owned by tx.
func bitmapFromRange(tx uint64, lo, hi uint64) *bitmap {
	b := &bitmap{tx: tx}
	if lo >= hi {
		return b
	}
	b.c = make([]*container, (hi-1)>>chunkShift+1)
	for k := lo >> chunkShift; k <= (hi-1)>>chunkShift; k++ {
		base := k << chunkShift
		from, to := max(lo, base)-base, min(hi, base+chunkSize)-base
		if from == 0 && to == chunkSize {
			b.c[k] = fullChunk
		} else {
			w := new(words)
			setRange(w, int(from), int(to))
			b.c[k] = containerFromWords(tx, w, int(to-from))
		}
		b.n += to - from
	}
	return b
}

// appendValues appends b's members in increasing order.
func (b *bitmap) appendValues(dst []uint32) []uint32 {
	if b == nil {
		return dst
	}
	for k, c := range b.c {
		if c != nil {
			dst = appendContainer(dst, uint32(k)<<chunkShift, c.arr, c.w)
		}
	}
	return dst
}

func appendContainer(dst []uint32, hi uint32, arr []uint16, w *words) []uint32 {
	if w == nil {
		for _, v := range arr {
			dst = append(dst, hi|uint32(v))
		}
		return dst
	}
	for i, x := range w {
		base := hi | uint32(i<<6)
		for x != 0 {
			dst = append(dst, base|uint32(bits.TrailingZeros64(x)))
			x &= x - 1
		}
	}
	return dst
}

// sizeBytes estimates the memory b holds, counting shared full chunks as
// free.
func (b *bitmap) sizeBytes() uint64 {
	if b == nil {
		return 0
	}
	s := uint64(48 + 8*cap(b.c))
	for _, c := range b.c {
		if c == nil {
			continue
		}
		s += 56
		switch {
		case c.w == fullWords:
		case c.w != nil:
			s += 8 * chunkWords
		default:
			s += 2 * uint64(cap(c.arr))
		}
	}
	return s
}

// parallelChunks runs fn over [0, n) split into contiguous ranges, one per
// core, when n is large enough to pay for the goroutines.
func parallelChunks(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/minChunksPerWorker)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range workers {
		lo, hi := n*i/workers, n*(i+1)/workers
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// minChunksPerWorker is the smallest share of chunks (8 × 65536 members)
// worth a goroutine: below it the fork and join cost more than the work.
// A variable only so that tests can run the parallel path on a few chunks.
var minChunksPerWorker = 8
