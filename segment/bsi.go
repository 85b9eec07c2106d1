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

// rangeScratch is the per-word state of magRangeInto for one block of a
// chunk.
type rangeScratch struct {
	eqA, eqB, in [rangeBlock]uint64
	active       [rangeBlock]uint16
	mode         []planeMode
	dense        []*words
	cursor       []int
}

// rangeBlock is the number of words magRangeInto walks the planes over at
// a time: 2 KiB of each plane, so the block's state and the plane being
// read stay in L1.
const rangeBlock = 256

// planeMode is how magRangeInto steps over one plane.
type planeMode uint8

const (
	stepDense  planeMode = iota // every undecided word, reading the plane's words
	stepSparse                  // only the members in the plane's array
	stepSkip                    // an empty plane that changes nothing
)

// magRangeInto ORs into out the members of found (less those in minus, when
// not nil) whose magnitude m satisfies a <= m <= b, by O'Neil's bit-plane
// comparison from the top plane down; with a nil out it only counts them.
// planes are the chunk's plane containers; get lends scratch words.
//
// While a and b share their top bits there is one track: members whose bits
// so far equal the shared prefix (eq), the rest being out. At the first bit
// where they differ (a has 0, b has 1) the track splits in two that never
// meet again: eqA, members tied with a and already below b, and eqB, tied
// with b and already above a; members leaving a track on the right side
// join in. The answer is in ∪ eqA ∪ eqB. Each plane costs one or two word
// operations per track, and a word is dropped from the walk as soon as its
// tracks are empty — after about log2(64) planes on typical data — so the
// walk keeps a list of the words still undecided.
//
// Where every track's bound has a 0 bit, only members with a 1 on the plane
// change, so a plane held as an array (the high planes of skewed values
// such as spend) is stepped member by member, and an absent one skipped.
//
// The walk goes plane by plane over blocks of words rather than word by
// word: a chunk's planes sit 8 KiB apart, and reading one word of each in
// turn makes them evict each other from the same L1 sets.
func (rs *rangeScratch) magRangeInto(out, found, minus *words, planes []*container, get func() *words, a, b uint64) int {
	depth := len(planes)
	maxMag := uint64(math.MaxUint64)
	if depth < 64 {
		maxMag = 1<<depth - 1
	}
	if a > b || a > maxMag {
		return 0
	}
	b = min(b, maxMag)
	lower, upper := a > 0, b < maxMag
	count := 0
	// split is the plane where the bounds' tracks part: the highest bit in
	// which a and b differ. Without a lower bound the walk follows b alone
	// from the top, and without an upper bound a alone.
	split := bits.Len64(a^b) - 1
	rs.mode, rs.dense, rs.cursor = rs.mode[:0], rs.dense[:0], rs.cursor[:0]
	for i, c := range planes {
		abit, bbit := a>>uint(i)&1 == 1, b>>uint(i)&1 == 1
		var zeroStep bool // members without the bit keep their state
		switch {
		case lower && upper && i > split:
			zeroStep = !abit
		case lower && upper && i == split:
			zeroStep = true
		default:
			zeroStep = !(lower && abit) && !(upper && bbit)
		}
		mode, w := stepDense, (*words)(nil)
		switch {
		case zeroStep && c == nil:
			mode = stepSkip
		case zeroStep && c.w == nil:
			mode = stepSparse
		case c == nil:
			w = zeroWords
		case c.w != nil:
			w = c.w
		default:
			w = c.wordsOf(get())
		}
		rs.mode, rs.dense, rs.cursor = append(rs.mode, mode), append(rs.dense, w), append(rs.cursor, 0)
	}
	for base := 0; base < chunkWords; base += rangeBlock {
		// Start every word's members on the track they follow first: a's
		// (which above the split is the shared one) unless there is no
		// lower bound, then b's; with neither bound all are in.
		start, other := &rs.eqA, &rs.eqB
		if !lower {
			start, other = other, start
		}
		clear(rs.in[:])
		clear(other[:])
		blk := (*[rangeBlock]uint64)(found[base : base+rangeBlock])
		if minus != nil {
			mb := (*[rangeBlock]uint64)(minus[base : base+rangeBlock])
			for j := range start {
				start[j] = blk[j] &^ mb[j]
			}
		} else {
			*start = *blk
		}
		if !lower && !upper {
			rs.in, *start = *start, [rangeBlock]uint64{}
		}
		n := 0
		for j, f := range start {
			rs.active[n] = uint16(j)
			n += int((f | -f) >> 63)
		}
		// While most words are undecided, step all of them: a list only
		// pays once it lets the walk skip most of the block.
		listed := n < rangeBlock/4
		for i := depth - 1; i >= 0 && n > 0; i-- {
			abit, bbit := a>>uint(i)&1 == 1, b>>uint(i)&1 == 1
			phase := 2 // 0 shared, 1 split, 2 tracks
			if lower && upper && i > split {
				phase = 0
			} else if lower && upper && i == split {
				phase = 1
			}
			switch rs.mode[i] {
			case stepSkip:
			case stepSparse:
				rs.sparseStep(planes[i].arr, &rs.cursor[i], base, phase, lower, upper)
			default:
				x := (*[rangeBlock]uint64)(rs.dense[i][base : base+rangeBlock])
				switch {
				case !listed:
					n = rs.denseStep(x, phase, lower, upper, abit, bbit)
					if n < rangeBlock/4 {
						n = rs.list()
						listed = true
					}
				case phase == 0:
					n = rs.shared(x, n, abit)
				case phase == 1:
					n = rs.part(x, n)
				default:
					n = rs.tracks(x, n, lower, upper, abit, bbit)
				}
			}
		}
		if out == nil {
			for j := range rangeBlock {
				count += bits.OnesCount64(rs.in[j] | rs.eqA[j] | rs.eqB[j])
			}
			continue
		}
		ob := (*[rangeBlock]uint64)(out[base : base+rangeBlock])
		for j := range ob {
			ob[j] |= rs.in[j] | rs.eqA[j] | rs.eqB[j]
		}
	}
	return count
}

// sparseStep applies a plane on which every track's bound has a 0 bit,
// visiting only the members that have the bit (those of arr in the block
// starting at word base): they leave the shared track (out), move from
// the shared track to b's at the split, rise above a (in) or above b
// (out). Words it empties stay in the active list until the next dense
// step drops them.
func (rs *rangeScratch) sparseStep(arr []uint16, cursor *int, base, phase int, lower, upper bool) {
	end := uint16(0)
	last := base+rangeBlock >= chunkWords
	if !last {
		end = uint16((base + rangeBlock) << 6)
	}
	i := *cursor
	// Blocks that settled before reaching this plane left their members
	// behind the cursor.
	for i < len(arr) && int(arr[i]>>6) < base {
		i++
	}
	for ; i < len(arr) && (last || arr[i] < end); i++ {
		v := arr[i]
		k, bit := int(v>>6)-base, uint64(1)<<(v&63)
		switch phase {
		case 0:
			rs.eqA[k] &^= bit
		case 1:
			if rs.eqA[k]&bit != 0 {
				rs.eqA[k] &^= bit
				rs.eqB[k] |= bit
			}
		default:
			if lower && rs.eqA[k]&bit != 0 {
				rs.eqA[k] &^= bit
				rs.in[k] |= bit
			}
			if upper {
				rs.eqB[k] &^= bit
			}
		}
	}
	*cursor = i
}

// denseStep steps every word of the block over one plane and returns how
// many remain undecided. The bound bits become masks (all ones for a 1), so
// one loop serves every phase: a track following bound c with mask m keeps
// the members whose bit equals c's (e &^= p ^ m), and members leaving it
// below b or above a join in.
func (rs *rangeScratch) denseStep(x *[rangeBlock]uint64, phase int, lower, upper, abit, bbit bool) int {
	live := 0
	switch phase {
	case 0:
		m := -uint64(b2i(abit))
		for j := range x {
			e := rs.eqA[j] &^ (x[j] ^ m)
			rs.eqA[j] = e
			live += int((e | -e) >> 63)
		}
	case 1:
		for j := range x {
			e, p := rs.eqA[j], x[j]
			rs.eqA[j], rs.eqB[j] = e&^p, e&p
			live += int((e | -e) >> 63)
		}
	default:
		// Without a lower bound eqA is empty (and without an upper one
		// eqB), so the unused track costs nothing but its arithmetic.
		am, bm := -uint64(b2i(abit)), -uint64(b2i(bbit))
		for j := range x {
			p, ea, eb := x[j], rs.eqA[j], rs.eqB[j]
			rs.in[j] |= ea&p&^am | eb&^p&bm
			ea &^= p ^ am
			eb &^= p ^ bm
			rs.eqA[j], rs.eqB[j] = ea, eb
			t := ea | eb
			live += int((t | -t) >> 63)
		}
	}
	return live
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// list fills the active list with the block's undecided words.
func (rs *rangeScratch) list() int {
	n := 0
	for j := range rangeBlock {
		t := rs.eqA[j] | rs.eqB[j]
		rs.active[n] = uint16(j)
		n += int((t | -t) >> 63)
	}
	return n
}

// shared steps the single track above the split plane: members whose bit
// differs from the bounds' shared bit are out.
func (rs *rangeScratch) shared(x *[rangeBlock]uint64, n int, bit bool) int {
	m := 0
	if bit {
		for _, j := range rs.active[:n] {
			e := rs.eqA[j&(rangeBlock-1)] & x[j&(rangeBlock-1)]
			rs.eqA[j&(rangeBlock-1)] = e
			rs.active[m] = j
			m += int((e | -e) >> 63)
		}
		return m
	}
	for _, j := range rs.active[:n] {
		e := rs.eqA[j&(rangeBlock-1)] &^ x[j&(rangeBlock-1)]
		rs.eqA[j&(rangeBlock-1)] = e
		rs.active[m] = j
		m += int((e | -e) >> 63)
	}
	return m
}

// part splits the shared track at the plane where a has 0 and b has 1.
func (rs *rangeScratch) part(x *[rangeBlock]uint64, n int) int {
	m := 0
	for _, j := range rs.active[:n] {
		e, p := rs.eqA[j&(rangeBlock-1)], x[j&(rangeBlock-1)]
		rs.eqA[j&(rangeBlock-1)], rs.eqB[j&(rangeBlock-1)] = e&^p, e&p
		rs.active[m] = j
		m += int((e | -e) >> 63)
	}
	return m
}

// tracks steps the two tracks below the split plane (or the one track of a
// single bound from the top). A track following bound c, on plane bit p:
// where c has 1, members with 0 fall below c (in for b's track, out for
// a's); where c has 0, members with 1 rise above it (in for a's track, out
// for b's). The loop is written out per combination of bound bits so the
// inner loop carries no branch and touches in only when it changes.
func (rs *rangeScratch) tracks(x *[rangeBlock]uint64, n int, lower, upper, abit, bbit bool) int {
	m := 0
	switch {
	case lower && upper && abit && bbit:
		for _, j := range rs.active[:n] {
			k := j & (rangeBlock - 1)
			p, ea, eb := x[k], rs.eqA[k], rs.eqB[k]
			in := rs.in[k]
			ea &= p
			in |= eb &^ p
			eb &= p
			rs.eqA[k], rs.eqB[k] = ea, eb
			rs.in[k] = in
			t := ea | eb
			rs.active[m] = j
			m += int((t | -t) >> 63)
		}
	case lower && upper && abit:
		for _, j := range rs.active[:n] {
			k := j & (rangeBlock - 1)
			p, ea, eb := x[k], rs.eqA[k], rs.eqB[k]
			ea &= p
			eb &^= p
			rs.eqA[k], rs.eqB[k] = ea, eb
			t := ea | eb
			rs.active[m] = j
			m += int((t | -t) >> 63)
		}
	case lower && upper && bbit:
		for _, j := range rs.active[:n] {
			k := j & (rangeBlock - 1)
			p, ea, eb := x[k], rs.eqA[k], rs.eqB[k]
			in := rs.in[k]
			in |= ea&p | eb&^p
			ea &^= p
			eb &= p
			rs.eqA[k], rs.eqB[k] = ea, eb
			rs.in[k] = in
			t := ea | eb
			rs.active[m] = j
			m += int((t | -t) >> 63)
		}
	case lower && upper:
		for _, j := range rs.active[:n] {
			k := j & (rangeBlock - 1)
			p, ea, eb := x[k], rs.eqA[k], rs.eqB[k]
			in := rs.in[k]
			in |= ea & p
			ea &^= p
			eb &^= p
			rs.eqA[k], rs.eqB[k] = ea, eb
			rs.in[k] = in
			t := ea | eb
			rs.active[m] = j
			m += int((t | -t) >> 63)
		}
	case lower && abit:
		for _, j := range rs.active[:n] {
			k := j & (rangeBlock - 1)
			p, ea, eb := x[k], rs.eqA[k], rs.eqB[k]
			ea &= p
			rs.eqA[k], rs.eqB[k] = ea, eb
			t := ea | eb
			rs.active[m] = j
			m += int((t | -t) >> 63)
		}
	case lower:
		for _, j := range rs.active[:n] {
			k := j & (rangeBlock - 1)
			p, ea, eb := x[k], rs.eqA[k], rs.eqB[k]
			in := rs.in[k]
			in |= ea & p
			ea &^= p
			rs.eqA[k], rs.eqB[k] = ea, eb
			rs.in[k] = in
			t := ea | eb
			rs.active[m] = j
			m += int((t | -t) >> 63)
		}
	case bbit:
		for _, j := range rs.active[:n] {
			k := j & (rangeBlock - 1)
			p, ea, eb := x[k], rs.eqA[k], rs.eqB[k]
			in := rs.in[k]
			in |= eb &^ p
			eb &= p
			rs.eqA[k], rs.eqB[k] = ea, eb
			rs.in[k] = in
			t := ea | eb
			rs.active[m] = j
			m += int((t | -t) >> 63)
		}
	default: // upper only, b has 0
		for _, j := range rs.active[:n] {
			k := j & (rangeBlock - 1)
			p, ea, eb := x[k], rs.eqA[k], rs.eqB[k]
			eb &^= p
			rs.eqA[k], rs.eqB[k] = ea, eb
			t := ea | eb
			rs.active[m] = j
			m += int((t | -t) >> 63)
		}
	}
	return m
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
