package segment

import (
	"math"
	"math/bits"
)

// A bsi is a bit-sliced index of signed int64 values in sign-magnitude form
// (O'Neil and Quass, "Improved Query Performance with Variant Indexes",
// SIGMOD 1997): exist holds the members that have a value, sign those whose
// value is negative, and planes[i] those whose |value| has bit i set. Only
// as many planes as the largest magnitude needs are kept, so ages take 7 and
// spend in fen about 24, whatever the sign of the values.
type bsi struct {
	tx     uint64
	exist  *bitmap
	sign   *bitmap
	planes []*bitmap
}

func magnitude(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // -MinInt64 wraps to MinInt64, whose uint64 is 2^63
	}
	return uint64(v)
}

func (s *bsi) get(id uint32) (int64, bool) {
	if s == nil || !s.exist.contains(id) {
		return 0, false
	}
	var m uint64
	for i, p := range s.planes {
		if p.contains(id) {
			m |= 1 << i
		}
	}
	if s.sign.contains(id) {
		return -int64(m), true // m = 2^63 gives MinInt64
	}
	return int64(m), true
}

// column returns values for members [0, n), 0 where absent.
func (s *bsi) column(n int) []int64 {
	out := make([]int64, n)
	if s == nil {
		return out
	}
	nchunks := min(s.exist.chunks(), (n+chunkSize-1)/chunkSize)
	parallelChunks(nchunks, func(lo, hi int) {
		var buf words
		mags := make([]uint64, chunkSize)
		for k := lo; k < hi; k++ {
			base := k << chunkShift
			end := min(n-base, chunkSize)
			clear(mags)
			for i, p := range s.planes {
				c := p.chunk(k)
				if c == nil {
					continue
				}
				w := c.wordsOf(&buf)
				bit := uint64(1) << i
				for j, x := range w {
					for x != 0 {
						mags[j<<6|bits.TrailingZeros64(x)] |= bit
						x &= x - 1
					}
				}
			}
			sc := s.sign.chunk(k)
			for j := range end {
				if sc != nil && sc.contains(uint16(j)) {
					out[base+j] = -int64(mags[j])
				} else {
					out[base+j] = int64(mags[j])
				}
			}
		}
	})
	return out
}

// set gives member id the value v on behalf of tx; s must be writable.
func (s *bsi) set(tx uint64, id uint32, v int64) {
	m := magnitude(v)
	for len(s.planes) < bits.Len64(m) {
		s.planes = append(s.planes, nil)
	}
	add(tx, &s.exist, id)
	if v < 0 {
		add(tx, &s.sign, id)
	} else {
		remove(tx, &s.sign, id)
	}
	for i := range s.planes {
		if m&(1<<i) != 0 {
			add(tx, &s.planes[i], id)
		} else {
			remove(tx, &s.planes[i], id)
		}
	}
}

// clear removes member id's value on behalf of tx; s must be writable.
func (s *bsi) clear(tx uint64, id uint32) bool {
	if !remove(tx, &s.exist, id) {
		return false
	}
	remove(tx, &s.sign, id)
	for i := range s.planes {
		remove(tx, &s.planes[i], id)
	}
	s.trim()
	return true
}

// trim drops empty top planes.
func (s *bsi) trim() {
	n := len(s.planes)
	for n > 0 && s.planes[n-1].card() == 0 {
		n--
	}
	s.planes = s.planes[:n]
}

// bsiEntry is one member's value within a chunk: x is its low 16 bits.
type bsiEntry struct {
	x int
	v int64
}

// bsiFromColumn builds a BSI owned by tx from values[id] for the members in
// present (every id < len(values) when present is nil).
func bsiFromColumn(tx uint64, values []int64, present *bitmap) *bsi {
	var maxMag uint64
	for i, v := range values {
		if present == nil || present.contains(uint32(i)) {
			maxMag = max(maxMag, magnitude(v))
		}
	}
	nchunks := (len(values) + chunkSize - 1) / chunkSize
	return bsiBuild(tx, nchunks, maxMag, func(k int, es []bsiEntry) []bsiEntry {
		base := k << chunkShift
		vals := values[base:min(len(values), base+chunkSize)]
		if present == nil {
			for j, v := range vals {
				es = append(es, bsiEntry{j, v})
			}
			return es
		}
		pc := present.chunk(k)
		switch {
		case pc == nil:
		case pc.w == nil:
			for _, j := range pc.arr {
				es = append(es, bsiEntry{int(j), vals[j]})
			}
		default:
			for j, v := range vals {
				if pc.w[j>>6]&(1<<(j&63)) != 0 {
					es = append(es, bsiEntry{j, v})
				}
			}
		}
		return es
	})
}

// bsiFromPairs builds a BSI owned by tx giving ids[i] the value values[i];
// order lists the indexes sorted by ID, without duplicates.
func bsiFromPairs(tx uint64, ids []uint32, values []int64, order []int) *bsi {
	var maxMag uint64
	for _, v := range values {
		maxMag = max(maxMag, magnitude(v))
	}
	if len(order) == 0 {
		return &bsi{tx: tx}
	}
	nchunks := int(ids[order[len(order)-1]]>>chunkShift) + 1
	// starts[k] is the first position in order of chunk k.
	starts := make([]int, nchunks+1)
	for _, i := range order {
		starts[ids[i]>>chunkShift+1]++
	}
	for k := range nchunks {
		starts[k+1] += starts[k]
	}
	return bsiBuild(tx, nchunks, maxMag, func(k int, es []bsiEntry) []bsiEntry {
		for _, i := range order[starts[k]:starts[k+1]] {
			es = append(es, bsiEntry{int(ids[i] & (chunkSize - 1)), values[i]})
		}
		return es
	})
}

// bsiBuild builds a BSI of nchunks chunks whose magnitudes are at most
// maxMag; fill(k, es) appends the entries of chunk k, in increasing x.
// Chunks are built in parallel.
func bsiBuild(tx uint64, nchunks int, maxMag uint64, fill func(k int, es []bsiEntry) []bsiEntry) *bsi {
	depth := bits.Len64(maxMag)
	s := &bsi{tx: tx, planes: make([]*bitmap, depth)}
	s.exist = &bitmap{tx: tx, c: make([]*container, nchunks)}
	s.sign = &bitmap{tx: tx, c: make([]*container, nchunks)}
	for i := range s.planes {
		s.planes[i] = &bitmap{tx: tx, c: make([]*container, nchunks)}
	}
	parallelChunks(nchunks, func(lo, hi int) {
		var es []bsiEntry
		for k := lo; k < hi; k++ {
			es = fill(k, es[:0])
			if len(es) == 0 {
				continue
			}
			if len(es) <= arrayLimit {
				// Few values: arrays directly, no 8 KiB of words per plane.
				arr := func(keep func(e bsiEntry) bool) *container {
					var a []uint16
					for _, e := range es {
						if keep(e) {
							a = append(a, uint16(e.x))
						}
					}
					return containerFromSorted(tx, a)
				}
				s.exist.c[k] = arr(func(bsiEntry) bool { return true })
				s.sign.c[k] = arr(func(e bsiEntry) bool { return e.v < 0 })
				for i := range depth {
					s.planes[i].c[k] = arr(func(e bsiEntry) bool { return magnitude(e.v)&(1<<i) != 0 })
				}
				continue
			}
			ew, sw := new(words), new(words)
			pw := make([]*words, depth)
			for i := range pw {
				pw[i] = new(words)
			}
			// Transpose 64 members at a time in a local array, then store
			// each plane's word once: scattering bits straight into planes
			// 8 KiB apart would make them evict each other from L1.
			var acc [64]uint64
			cur := es[0].x >> 6
			flush := func() {
				for i := range depth {
					pw[i][cur] = acc[i]
					acc[i] = 0
				}
			}
			for _, e := range es {
				if w := e.x >> 6; w != cur {
					flush()
					cur = w
				}
				bit := uint64(1) << (e.x & 63)
				ew[cur] |= bit
				if e.v < 0 {
					sw[cur] |= bit
				}
				for m := magnitude(e.v); m != 0; m &= m - 1 {
					acc[bits.TrailingZeros64(m)&63] |= bit
				}
			}
			flush()
			s.exist.c[k] = containerFromWords(tx, ew, popcount(ew))
			s.sign.c[k] = containerFromWords(tx, sw, popcount(sw))
			for i, w := range pw {
				s.planes[i].c[k] = containerFromWords(tx, w, popcount(w))
			}
		}
	})
	for _, b := range append([]*bitmap{s.exist, s.sign}, s.planes...) {
		for _, c := range b.c {
			if c != nil {
				b.n += uint64(c.n)
			}
		}
		b.trim()
	}
	s.trim()
	return s
}

// A valRange is an inclusive range of int64 values.
type valRange struct{ lo, hi int64 }

// chunkPlanes gathers one chunk of a BSI as words for the kernels below,
// expanding array containers into scratch the caller lends.
type chunkPlanes struct {
	exist, sign *words
	planes      []*words     // expanded, for stats; nil entries until needed
	pcs         []*container // the planes' containers, for ranges
	noNeg       bool         // no member of the chunk is negative
	rs          *rangeScratch
	get         func() *words
}

// load fills cp for chunk k, taking scratch words from get. It reports false
// when no member of the chunk has a value.
func (cp *chunkPlanes) load(s *bsi, k int, get func() *words) bool {
	ec := s.exist.chunk(k)
	if ec == nil {
		return false
	}
	expand := func(c *container) *words {
		switch {
		case c == nil:
			return zeroWords
		case c.w != nil:
			return c.w
		default:
			return c.wordsOf(get())
		}
	}
	cp.get = get
	cp.exist = expand(ec)
	sc := s.sign.chunk(k)
	cp.noNeg = sc == nil
	cp.sign = expand(sc)
	cp.pcs = cp.pcs[:0]
	for _, p := range s.planes {
		cp.pcs = append(cp.pcs, p.chunk(k))
	}
	cp.planes = cp.planes[:0]
	return true
}

// forget drops cp's references to an index's chunks, so that a runner kept
// for later queries does not pin a version the host has let go.
func (cp *chunkPlanes) forget() {
	cp.exist, cp.sign, cp.get = nil, nil, nil
	clear(cp.pcs[:cap(cp.pcs)])
	clear(cp.planes[:cap(cp.planes)])
	if cp.rs != nil {
		clear(cp.rs.planes[:cap(cp.rs.planes)])
	}
}

// expandPlanes fills cp.planes with every plane as words, for the stats
// kernels that read them all.
func (cp *chunkPlanes) expandPlanes() {
	cp.planes = cp.planes[:0]
	for _, c := range cp.pcs {
		switch {
		case c == nil:
			cp.planes = append(cp.planes, zeroWords)
		case c.w != nil:
			cp.planes = append(cp.planes, c.w)
		default:
			cp.planes = append(cp.planes, c.wordsOf(cp.get()))
		}
	}
}

// rangeInto ORs into out the members of the chunk whose value lies in r,
// or with a nil out counts them.
func (cp *chunkPlanes) rangeInto(out *words, r valRange) int {
	if cp.rs == nil {
		cp.rs = new(rangeScratch)
	}
	n := 0
	if r.hi >= 0 {
		// Non-negative values in [max(lo, 0), hi] compare by magnitude.
		a := uint64(max(r.lo, 0))
		if cp.noNeg {
			n += cp.rs.magRangeInto(out, cp.exist, nil, cp.pcs, cp.get, a, uint64(r.hi))
		} else {
			n += cp.rs.magRangeInto(out, cp.exist, cp.sign, cp.pcs, cp.get, a, uint64(r.hi))
		}
	}
	if r.lo < 0 && !cp.noNeg {
		// Negative values in [lo, min(hi, -1)] are magnitudes in
		// [|min(hi, -1)|, |lo|], read from the sign bitmap.
		n += cp.rs.magRangeInto(out, cp.sign, nil, cp.pcs, cp.get, magnitude(min(r.hi, -1)), magnitude(r.lo))
	}
	return n
}

// int128 accumulates sums that may pass int64 on the way.
type int128 struct{ hi, lo uint64 }

func (x *int128) addShifted(n uint64, shift int) {
	lo := n << uint(shift)
	var hi uint64
	if shift > 0 {
		hi = n >> uint(64-shift)
	}
	var c uint64
	x.lo, c = bits.Add64(x.lo, lo, 0)
	x.hi, _ = bits.Add64(x.hi, hi, c)
}

func (x *int128) sub(y int128) {
	var b uint64
	x.lo, b = bits.Sub64(x.lo, y.lo, 0)
	x.hi, _ = bits.Sub64(x.hi, y.hi, b)
}

func (x *int128) add(y int128) {
	var c uint64
	x.lo, c = bits.Add64(x.lo, y.lo, 0)
	x.hi, _ = bits.Add64(x.hi, y.hi, c)
}

// int64 returns x and whether it fits.
func (x int128) int64() (int64, bool) {
	v := int64(x.lo)
	if (v >= 0 && x.hi == 0) || (v < 0 && x.hi == math.MaxUint64) {
		return v, true
	}
	return 0, false
}

// chunkStats holds the sum, count, min and max of the values of the members
// in a found set within one chunk.
type chunkStats struct {
	n        uint64
	sum      int128
	min, max int64
}

// stats computes chunkStats over found (a subset of exist) with the
// bit-plane algorithms: the sum is Σ 2^i·|found ∩ plane_i|, split by sign,
// and the maximum walks the planes from the top keeping the members that
// have the bit whenever any does (O'Neil and Quass, section 3). found,
// tmp and cand are scratch the caller lends; found is consumed.
func (cp *chunkPlanes) stats(found, tmp, cand *words) chunkStats {
	var st chunkStats
	pos, neg := found, (*words)(nil)
	if !cp.noNeg {
		// Split found into its non-negative and negative members.
		neg = cand
		for j := range found {
			neg[j] = found[j] & cp.sign[j]
			found[j] &^= cp.sign[j]
		}
	}
	npos, nneg := popcount(pos), 0
	if neg != nil {
		nneg = popcount(neg)
	}
	st.n = uint64(npos + nneg)
	if st.n == 0 {
		return st
	}
	var psum, nsum int128
	for i, p := range cp.planes {
		if npos > 0 {
			psum.addShifted(uint64(popAnd(pos, p)), i)
		}
		if nneg > 0 {
			nsum.addShifted(uint64(popAnd(neg, p)), i)
		}
	}
	st.sum = psum
	st.sum.sub(nsum)

	// extreme returns the largest (wantMax) or smallest magnitude among set,
	// which it consumes, using spare as scratch.
	extreme := func(set, spare *words, wantMax bool) uint64 {
		var m uint64
		for i := len(cp.planes) - 1; i >= 0; i-- {
			p := cp.planes[i]
			var any uint64
			if wantMax {
				for j := range spare {
					t := set[j] & p[j]
					spare[j] = t
					any |= t
				}
			} else {
				for j := range spare {
					t := set[j] &^ p[j]
					spare[j] = t
					any |= t
				}
			}
			switch {
			case any != 0:
				set, spare = spare, set
				if wantMax {
					m |= 1 << i
				}
			case !wantMax:
				m |= 1 << i
			}
		}
		return m
	}
	// The walks consume their sets, so keep copies for the second walk.
	if npos > 0 && nneg > 0 {
		// Max among the non-negatives, min among the negatives (the
		// largest magnitude); pos and neg are each walked once.
		st.max = int64(extreme(pos, tmp, true))
		st.min = -int64(extreme(neg, tmp, true))
		return st
	}
	if npos > 0 {
		keep := cand
		*keep = *pos
		st.max = int64(extreme(pos, tmp, true))
		st.min = int64(extreme(keep, tmp, false))
		return st
	}
	keep := pos // empty: free to hold a copy
	*keep = *neg
	st.max = -int64(extreme(neg, tmp, false))
	st.min = -int64(extreme(keep, tmp, true))
	return st
}
