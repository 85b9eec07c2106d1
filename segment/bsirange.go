package segment

import (
	"math"
	"math/bits"
	"slices"
)

// The range kernel: O'Neil's bit-plane comparison of a chunk's values with
// the bounds of a range, walked from the top plane down.
//
// While the bounds a and b share their top bits, members follow one track:
// those whose bits so far equal the shared prefix; a member with another
// bit is out. At the highest bit where the bounds differ (a has 0, b has 1)
// the track splits in two that never meet again: track A, members tied
// with a and already below b, and track B, tied with b and already above
// a. On each plane a member whose bit differs from its track's bound leaves
// the track: into the answer where that puts it inside the range (A's
// members with a 1 where a has 0, B's with a 0 where b has 1), out of it
// otherwise. Members still tied at the bottom equal a bound and are in. A
// single bound walks its track from the top plane.
//
// The walk goes plane by plane over blocks of 512 words (4 KiB of each
// plane) rather than word by word: a chunk's planes are 8 KiB arrays, and
// reading one word of each in turn makes them evict each other from the
// same L1 sets. Within a block it stops early at the granularity of a
// cache line: each track keeps a mask of its 8-word groups that still hold
// a member, a plane visits only those, and the block is done when both
// masks are empty — on spend data after about 10 of the 19 dense planes.
// One pass over a plane steps both tracks; members leaving into the answer
// are ORed into it (or, for a count, into scratch counted once per block),
// so the inner loop is a few word operations with no branch or popcount.
// On amd64 with AVX2 that loop is assembly (bsirange_amd64.s), four words
// an instruction; elsewhere it is Go, specialised per pair of bound bits.
//
// A plane held as a sorted array (the high planes of skewed values such as
// spend) is stepped member by member where only members with the bit
// change, and an empty or full plane settles a step without reading
// anything.

// rangeBlock is the number of words walked at a time; groupWords is the
// granularity of the early exit, so a block's groups fit a uint64 mask.
const (
	rangeBlock = 512
	groupWords = 8
)

type block = [rangeBlock]uint64

// rangeScratch is magRangeInto's state for one block: the two tracks, the
// answer when counting, and the chunk's planes. Words of a track outside
// its live groups are zero, so a pass over the union of both tracks' groups
// leaves a track's empty groups as they are.
type rangeScratch struct {
	ea, eb, in block
	planes     []rangePlane
}

// rangePlane is one plane of the chunk being walked.
type rangePlane struct {
	c *container
	w *words // c's bits, expanded from an array on first dense use
}

// stepKind is what a plane does to a track, as two bits: the bound's bit
// (members with the other bit leave the track) and whether members leaving
// go into the answer.
type stepKind uint8

const (
	keepClear stepKind = iota // bound bit 0: members with the bit leave, out
	keepSet                   // bound bit 1: members without the bit leave, out
	emitSet                   // bound bit 0: members with the bit leave, in
	emitClear                 // bound bit 1: members without the bit leave, in
)

// stepOf gives the step for a bound's bit: on track A (the lower bound)
// members rising above it are in, on track B (the upper bound) members
// falling below it; on the shared track every member leaving is out.
func stepOf(bit, emit bool) stepKind {
	k := stepKind(b2u(bit))
	if emit {
		k |= 2
	}
	return k
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// masks returns the kind as word masks: the bound's bit and the emit flag.
func (k stepKind) masks() (bit, emit uint64) { return -uint64(k & 1), -uint64(k >> 1) }

// sparse reports whether only members with the plane's bit change, so a
// plane held as an array can be stepped member by member.
func (k stepKind) sparse() bool { return k == keepClear || k == emitSet }

// simd selects the assembly kernel; tests turn it off to check the Go one.
var simd = haveSIMD()

// magRangeInto ORs into out the members of found (less those in minus,
// when not nil) whose magnitude m satisfies a <= m <= b, or with a nil out
// counts them. planes are the chunk's plane containers; get lends scratch
// words, which the caller reclaims.
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
	if !lower && !upper {
		return everyMember(out, found, minus)
	}
	rs.planes = rs.planes[:0]
	for _, c := range planes {
		rs.planes = append(rs.planes, rangePlane{c: c})
	}
	// split is the plane where the tracks part; -1 when a == b, whose
	// single track runs to the bottom.
	split := -1
	if lower && upper {
		split = bits.Len64(a^b) - 1
	}
	n := 0
	for base := 0; base < chunkWords; base += rangeBlock {
		first, other := &rs.ea, &rs.eb
		if !lower {
			first, other = other, first
		}
		live := startTrack(first, (*block)(found[base:base+rangeBlock]), minus, base)
		if live == 0 {
			continue
		}
		clear(other[:])
		started := live
		in := &rs.in
		if out != nil {
			in = (*block)(out[base : base+rangeBlock])
		} else {
			// Only the groups that start with members can gain any.
			for m := live; m != 0; m &= m - 1 {
				g := bits.TrailingZeros64(m) * groupWords
				clear(in[g : g+groupWords])
			}
		}
		var liveA, liveB uint64
		top := depth - 1
		switch {
		case lower && upper:
			for i := top; i > split && live != 0; i-- {
				live, _ = rs.step(i, base, stepOf(a>>uint(i)&1 == 1, false), 0, live, 0, in, get)
			}
			liveA = live
			if split >= 0 && live != 0 {
				liveA, liveB = rs.part(split, base, live, in, get)
			}
			top = split - 1
		case lower:
			liveA = live
		default:
			liveB = live
		}
		for i := top; i >= 0 && liveA|liveB != 0; i-- {
			abit, bbit := a>>uint(i)&1 == 1, b>>uint(i)&1 == 1
			ka, kb := stepOf(abit, !abit), stepOf(bbit, bbit)
			liveA, liveB = rs.step(i, base, ka, kb, liveA, liveB, in, get)
		}
		// Members tied with a bound to the last plane equal it.
		emitAll(&rs.ea, liveA, in)
		emitAll(&rs.eb, liveB, in)
		if out == nil {
			for m := started; m != 0; m &= m - 1 {
				g := bits.TrailingZeros64(m) * groupWords
				gi := (*[groupWords]uint64)(in[g:])
				n += bits.OnesCount64(gi[0]) + bits.OnesCount64(gi[1]) + bits.OnesCount64(gi[2]) +
					bits.OnesCount64(gi[3]) + bits.OnesCount64(gi[4]) + bits.OnesCount64(gi[5]) +
					bits.OnesCount64(gi[6]) + bits.OnesCount64(gi[7])
			}
		}
	}
	return n
}

// everyMember ORs found less minus into out, or counts it.
func everyMember(out, found, minus *words) int {
	switch {
	case out == nil && minus == nil:
		return popcount(found)
	case out == nil:
		return popAndNot(found, minus)
	case minus == nil:
		orInto2(out, found)
	default:
		for j := range out {
			out[j] |= found[j] &^ minus[j]
		}
	}
	return 0
}

// startTrack fills e with the block of found starting at word base, less
// minus, and returns its live groups.
func startTrack(e, found *block, minus *words, base int) uint64 {
	if minus == nil {
		*e = *found
	} else {
		mb := (*block)(minus[base : base+rangeBlock])
		for j := range e {
			e[j] = found[j] &^ mb[j]
		}
	}
	var live uint64
	for g := range rangeBlock / groupWords {
		ge := (*[groupWords]uint64)(e[g*groupWords:])
		live |= nonzero(ge[0]|ge[1]|ge[2]|ge[3]|ge[4]|ge[5]|ge[6]|ge[7]) << g
	}
	return live
}

// nonzero is 1 when x has a bit set, without a branch.
func nonzero(x uint64) uint64 { return (x | -x) >> 63 }

// dropped returns the bit of group g when t, the OR of its words, is 0.
func dropped(t uint64, g int) uint64 { return (nonzero(t) ^ 1) << g }

// arrayIn returns the part of a sorted array that falls in the block
// starting at word base.
func arrayIn(arr []uint16, base int) []uint16 {
	lo, _ := slices.BinarySearch(arr, uint16(base<<6))
	if base+rangeBlock >= chunkWords {
		return arr[lo:]
	}
	hi, _ := slices.BinarySearch(arr[lo:], uint16((base+rangeBlock)<<6))
	return arr[lo : lo+hi]
}

// step applies plane i to both tracks of the block at word base — track A
// (live groups liveA) by step ka, track B by kb — and returns the groups
// each has left. Members leaving into the answer are ORed into in.
func (rs *rangeScratch) step(i, base int, ka, kb stepKind, liveA, liveB uint64, in *block, get func() *words) (uint64, uint64) {
	p := &rs.planes[i]
	c := p.c
	switch {
	case c == nil || c.w == fullWords:
		// Every member of a track moves alike: nothing to read.
		return wholeStep(ka, c != nil, &rs.ea, liveA, in), wholeStep(kb, c != nil, &rs.eb, liveB, in)
	case c.w == nil && (liveA == 0 || ka.sparse()) && (liveB == 0 || kb.sparse()):
		// Only members with the bit change: visit the array's members.
		arr := arrayIn(c.arr, base)
		if liveA != 0 {
			sparseStep(ka, arr, base, &rs.ea, in)
		}
		if liveB != 0 {
			sparseStep(kb, arr, base, &rs.eb, in)
		}
		return liveA, liveB
	case c.w == nil:
		if p.w == nil {
			p.w = c.wordsOf(get())
		}
	default:
		p.w = c.w
	}
	x := (*block)(p.w[base : base+rangeBlock])
	if simd {
		return stepSIMD(ka, kb, &rs.ea, &rs.eb, x, in, liveA, liveB)
	}
	return stepGroupsGo(ka, kb, &rs.ea, &rs.eb, x, in, liveA, liveB)
}

// stepSIMD steps both tracks with the assembly kernels: groups where both
// hold members in one pass, the others track by track.
func stepSIMD(ka, kb stepKind, ea, eb, x, in *block, liveA, liveB uint64) (uint64, uint64) {
	both := liveA & liveB
	var m [4]uint64
	m[0], m[1] = ka.masks()
	m[2], m[3] = kb.masks()
	var la, lb uint64
	if both != 0 {
		la, lb = stepGroupsSIMD(ea, eb, x, in, both, &m)
	}
	if onlyA := liveA &^ both; onlyA != 0 {
		la |= stepGroupSIMD(ea, x, in, onlyA, (*[2]uint64)(m[0:2]))
	}
	if onlyB := liveB &^ both; onlyB != 0 {
		lb |= stepGroupSIMD(eb, x, in, onlyB, (*[2]uint64)(m[2:4]))
	}
	return la, lb
}

// wholeStep applies a plane holding all members of the chunk (full) or
// none to a track and returns its live groups.
func wholeStep(k stepKind, full bool, e *block, live uint64, in *block) uint64 {
	bit, emit := k.masks()
	if (bit != 0) == full || live == 0 {
		return live // every member shares the bound's bit
	}
	if emit != 0 {
		emitAll(e, live, in)
	}
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m) * groupWords
		clear(e[g : g+groupWords])
	}
	return 0
}

// sparseStep applies a keepClear or emitSet plane held as the members arr
// (those of the block at word base): each leaves the track, and for emitSet
// joins the answer if it was on it. Groups it empties stay live until a
// dense step or the end drops them.
func sparseStep(kind stepKind, arr []uint16, base int, e, in *block) {
	off := uint16(base << 6)
	if kind == keepClear {
		for _, v := range arr {
			v -= off
			e[(v>>6)&(rangeBlock-1)] &^= 1 << (v & 63)
		}
		return
	}
	for _, v := range arr {
		v -= off
		k := (v >> 6) & (rangeBlock - 1)
		t := e[k] & (1 << (v & 63))
		e[k] ^= t
		in[k] |= t
	}
}

// part splits the shared track (in ea) at plane i, where a has 0 and b has
// 1: members with the bit go to track B (eb, all zero), the rest stay on A.
func (rs *rangeScratch) part(i, base int, live uint64, in *block, get func() *words) (liveA, liveB uint64) {
	c := rs.planes[i].c
	switch {
	case c == nil:
		return live, 0
	case c.w == fullWords:
		rs.ea, rs.eb = rs.eb, rs.ea
		return 0, live
	case c.w == nil:
		// Few members have the bit: move them one by one.
		off := uint16(base << 6)
		for _, v := range arrayIn(c.arr, base) {
			v -= off
			k := (v >> 6) & (rangeBlock - 1)
			t := rs.ea[k] & (1 << (v & 63))
			rs.ea[k] ^= t
			rs.eb[k] |= t
			liveB |= nonzero(t) << (k / groupWords)
		}
		return live, liveB
	}
	x := (*block)(c.w[base : base+rangeBlock])
	if simd {
		// Both tracks start as the shared one; A keeps the members without
		// the bit, B those with it, and neither emits.
		rs.eb = rs.ea
		m := [4]uint64{2: ^uint64(0)}
		return stepGroupsSIMD(&rs.ea, &rs.eb, x, in, live, &m)
	}
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m)
		ga := (*[groupWords]uint64)(rs.ea[g*groupWords:])
		gb := (*[groupWords]uint64)(rs.eb[g*groupWords:])
		gx := (*[groupWords]uint64)(x[g*groupWords:])
		var ta, tb uint64
		for j := 0; j < groupWords; j += 2 {
			e0, p0, e1, p1 := ga[j], gx[j], ga[j+1], gx[j+1]
			ga[j], gb[j], ga[j+1], gb[j+1] = e0&^p0, e0&p0, e1&^p1, e1&p1
			ta |= e0&^p0 | e1&^p1
			tb |= e0&p0 | e1&p1
		}
		liveA |= nonzero(ta) << g
		liveB |= nonzero(tb) << g
	}
	return liveA, liveB
}

// emitAll puts every member of the track's live groups in the answer.
func emitAll(e *block, live uint64, in *block) {
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m) * groupWords
		ge, gi := (*[groupWords]uint64)(e[g:]), (*[groupWords]uint64)(in[g:])
		for j := range gi {
			gi[j] |= ge[j]
		}
	}
}

// stepGroupsMasked is the step of both tracks over the groups live that the
// assembly kernel implements, written with the kinds as masks (m holds A's
// bit and emit masks, then B's): a word of each track loses the members
// whose bit differs from the bound's, and those it loses go to in where
// the emit mask is set. It is the reference the kernels are tested
// against, and the kernel where there is no assembly.
func stepGroupsMasked(ea, eb, x, in *block, live uint64, m *[4]uint64) (la, lb uint64) {
	la, lb = live, live
	for r := live; r != 0; r &= r - 1 {
		g := bits.TrailingZeros64(r)
		var ta, tb uint64
		for j := g * groupWords; j < (g+1)*groupWords; j++ {
			p := x[j]
			da, db := p^m[0], p^m[2]
			a, b := ea[j], eb[j]
			in[j] |= a&da&m[1] | b&db&m[3]
			a &^= da
			b &^= db
			ea[j], eb[j] = a, b
			ta |= a
			tb |= b
		}
		la &^= dropped(ta, g)
		lb &^= dropped(tb, g)
	}
	return la, lb
}

// stepGroupsGo steps both tracks with Go kernels specialised per pair of
// kinds: groups where both tracks hold members in one pass, the others
// track by track.
func stepGroupsGo(ka, kb stepKind, ea, eb, x, in *block, liveA, liveB uint64) (uint64, uint64) {
	both := liveA & liveB
	onlyA, onlyB := liveA&^both, liveB&^both
	var la, lb uint64
	if both != 0 {
		switch {
		case ka == emitSet && kb == keepClear:
			la, lb = both00(ea, eb, x, in, both)
		case ka == emitSet && kb == emitClear:
			la, lb = both01(ea, eb, x, in, both)
		case ka == keepSet && kb == keepClear:
			la, lb = both10(ea, eb, x, both)
		case ka == keepSet && kb == emitClear:
			la, lb = both11(ea, eb, x, in, both)
		default:
			// Not a pair the walk makes (A follows a lower bound, B an
			// upper one): the plain loop.
			var m [4]uint64
			m[0], m[1] = ka.masks()
			m[2], m[3] = kb.masks()
			la, lb = stepGroupsMasked(ea, eb, x, in, both, &m)
		}
	}
	if onlyA != 0 {
		la |= stepOne(ka, ea, x, in, onlyA)
	}
	if onlyB != 0 {
		lb |= stepOne(kb, eb, x, in, onlyB)
	}
	return la, lb
}

// stepOne applies a plane's words x to one track over the groups live.
func stepOne(kind stepKind, e, x, in *block, live uint64) uint64 {
	switch kind {
	case keepSet:
		return stepKeepSet(e, x, live)
	case keepClear:
		return stepKeepClear(e, x, live)
	case emitSet:
		return stepEmitSet(e, x, in, live)
	}
	return stepEmitClear(e, x, in, live)
}

// The Go kernels. Each visits the groups of a live mask, four words at a
// time written out (the compiler does not unroll, and a loop per word costs
// as much as its body), and returns the groups still holding members. The
// both* kernels step the two tracks in one pass over the plane, for the
// bound bits in their names (a's, then b's).

func stepKeepSet(e, x *block, live uint64) uint64 {
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m)
		ge := (*[groupWords]uint64)(e[g*groupWords:])
		gx := (*[groupWords]uint64)(x[g*groupWords:])
		var te uint64
		for j := 0; j < groupWords; j += 4 {
			v0 := ge[j] & gx[j]
			ge[j] = v0
			te |= v0
			v1 := ge[j+1] & gx[j+1]
			ge[j+1] = v1
			te |= v1
			v2 := ge[j+2] & gx[j+2]
			ge[j+2] = v2
			te |= v2
			v3 := ge[j+3] & gx[j+3]
			ge[j+3] = v3
			te |= v3
		}
		live &^= dropped(te, g)
	}
	return live
}

func stepKeepClear(e, x *block, live uint64) uint64 {
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m)
		ge := (*[groupWords]uint64)(e[g*groupWords:])
		gx := (*[groupWords]uint64)(x[g*groupWords:])
		var te uint64
		for j := 0; j < groupWords; j += 4 {
			v0 := ge[j] &^ gx[j]
			ge[j] = v0
			te |= v0
			v1 := ge[j+1] &^ gx[j+1]
			ge[j+1] = v1
			te |= v1
			v2 := ge[j+2] &^ gx[j+2]
			ge[j+2] = v2
			te |= v2
			v3 := ge[j+3] &^ gx[j+3]
			ge[j+3] = v3
			te |= v3
		}
		live &^= dropped(te, g)
	}
	return live
}

func stepEmitSet(e, x, in *block, live uint64) uint64 {
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m)
		ge := (*[groupWords]uint64)(e[g*groupWords:])
		gin := (*[groupWords]uint64)(in[g*groupWords:])
		gx := (*[groupWords]uint64)(x[g*groupWords:])
		var te uint64
		for j := 0; j < groupWords; j += 4 {
			v0, p0 := ge[j], gx[j]
			gin[j] |= v0 & p0
			v0 &^= p0
			ge[j] = v0
			te |= v0
			v1, p1 := ge[j+1], gx[j+1]
			gin[j+1] |= v1 & p1
			v1 &^= p1
			ge[j+1] = v1
			te |= v1
			v2, p2 := ge[j+2], gx[j+2]
			gin[j+2] |= v2 & p2
			v2 &^= p2
			ge[j+2] = v2
			te |= v2
			v3, p3 := ge[j+3], gx[j+3]
			gin[j+3] |= v3 & p3
			v3 &^= p3
			ge[j+3] = v3
			te |= v3
		}
		live &^= dropped(te, g)
	}
	return live
}

func stepEmitClear(e, x, in *block, live uint64) uint64 {
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m)
		ge := (*[groupWords]uint64)(e[g*groupWords:])
		gin := (*[groupWords]uint64)(in[g*groupWords:])
		gx := (*[groupWords]uint64)(x[g*groupWords:])
		var te uint64
		for j := 0; j < groupWords; j += 4 {
			v0, p0 := ge[j], gx[j]
			gin[j] |= v0 &^ p0
			v0 &= p0
			ge[j] = v0
			te |= v0
			v1, p1 := ge[j+1], gx[j+1]
			gin[j+1] |= v1 &^ p1
			v1 &= p1
			ge[j+1] = v1
			te |= v1
			v2, p2 := ge[j+2], gx[j+2]
			gin[j+2] |= v2 &^ p2
			v2 &= p2
			ge[j+2] = v2
			te |= v2
			v3, p3 := ge[j+3], gx[j+3]
			gin[j+3] |= v3 &^ p3
			v3 &= p3
			ge[j+3] = v3
			te |= v3
		}
		live &^= dropped(te, g)
	}
	return live
}

func both00(ea, eb, x, in *block, live uint64) (uint64, uint64) {
	la, lb := live, live
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m)
		gea := (*[groupWords]uint64)(ea[g*groupWords:])
		geb := (*[groupWords]uint64)(eb[g*groupWords:])
		gin := (*[groupWords]uint64)(in[g*groupWords:])
		gx := (*[groupWords]uint64)(x[g*groupWords:])
		var ta uint64
		var tb uint64
		for j := 0; j < groupWords; j += 4 {
			a0, b0, p0 := gea[j], geb[j], gx[j]
			gin[j] |= a0 & p0
			a0 &^= p0
			b0 &^= p0
			gea[j], geb[j] = a0, b0
			ta |= a0
			tb |= b0
			a1, b1, p1 := gea[j+1], geb[j+1], gx[j+1]
			gin[j+1] |= a1 & p1
			a1 &^= p1
			b1 &^= p1
			gea[j+1], geb[j+1] = a1, b1
			ta |= a1
			tb |= b1
			a2, b2, p2 := gea[j+2], geb[j+2], gx[j+2]
			gin[j+2] |= a2 & p2
			a2 &^= p2
			b2 &^= p2
			gea[j+2], geb[j+2] = a2, b2
			ta |= a2
			tb |= b2
			a3, b3, p3 := gea[j+3], geb[j+3], gx[j+3]
			gin[j+3] |= a3 & p3
			a3 &^= p3
			b3 &^= p3
			gea[j+3], geb[j+3] = a3, b3
			ta |= a3
			tb |= b3
		}
		la &^= dropped(ta, g)
		lb &^= dropped(tb, g)
	}
	return la, lb
}

func both01(ea, eb, x, in *block, live uint64) (uint64, uint64) {
	la, lb := live, live
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m)
		gea := (*[groupWords]uint64)(ea[g*groupWords:])
		geb := (*[groupWords]uint64)(eb[g*groupWords:])
		gin := (*[groupWords]uint64)(in[g*groupWords:])
		gx := (*[groupWords]uint64)(x[g*groupWords:])
		var ta uint64
		var tb uint64
		for j := 0; j < groupWords; j += 4 {
			a0, b0, p0 := gea[j], geb[j], gx[j]
			gin[j] |= a0&p0 | b0&^p0
			a0 &^= p0
			b0 &= p0
			gea[j], geb[j] = a0, b0
			ta |= a0
			tb |= b0
			a1, b1, p1 := gea[j+1], geb[j+1], gx[j+1]
			gin[j+1] |= a1&p1 | b1&^p1
			a1 &^= p1
			b1 &= p1
			gea[j+1], geb[j+1] = a1, b1
			ta |= a1
			tb |= b1
			a2, b2, p2 := gea[j+2], geb[j+2], gx[j+2]
			gin[j+2] |= a2&p2 | b2&^p2
			a2 &^= p2
			b2 &= p2
			gea[j+2], geb[j+2] = a2, b2
			ta |= a2
			tb |= b2
			a3, b3, p3 := gea[j+3], geb[j+3], gx[j+3]
			gin[j+3] |= a3&p3 | b3&^p3
			a3 &^= p3
			b3 &= p3
			gea[j+3], geb[j+3] = a3, b3
			ta |= a3
			tb |= b3
		}
		la &^= dropped(ta, g)
		lb &^= dropped(tb, g)
	}
	return la, lb
}

func both10(ea, eb, x *block, live uint64) (uint64, uint64) {
	la, lb := live, live
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m)
		gea := (*[groupWords]uint64)(ea[g*groupWords:])
		geb := (*[groupWords]uint64)(eb[g*groupWords:])
		gx := (*[groupWords]uint64)(x[g*groupWords:])
		var ta uint64
		var tb uint64
		for j := 0; j < groupWords; j += 4 {
			a0, b0, p0 := gea[j], geb[j], gx[j]
			a0 &= p0
			b0 &^= p0
			gea[j], geb[j] = a0, b0
			ta |= a0
			tb |= b0
			a1, b1, p1 := gea[j+1], geb[j+1], gx[j+1]
			a1 &= p1
			b1 &^= p1
			gea[j+1], geb[j+1] = a1, b1
			ta |= a1
			tb |= b1
			a2, b2, p2 := gea[j+2], geb[j+2], gx[j+2]
			a2 &= p2
			b2 &^= p2
			gea[j+2], geb[j+2] = a2, b2
			ta |= a2
			tb |= b2
			a3, b3, p3 := gea[j+3], geb[j+3], gx[j+3]
			a3 &= p3
			b3 &^= p3
			gea[j+3], geb[j+3] = a3, b3
			ta |= a3
			tb |= b3
		}
		la &^= dropped(ta, g)
		lb &^= dropped(tb, g)
	}
	return la, lb
}

func both11(ea, eb, x, in *block, live uint64) (uint64, uint64) {
	la, lb := live, live
	for m := live; m != 0; m &= m - 1 {
		g := bits.TrailingZeros64(m)
		gea := (*[groupWords]uint64)(ea[g*groupWords:])
		geb := (*[groupWords]uint64)(eb[g*groupWords:])
		gin := (*[groupWords]uint64)(in[g*groupWords:])
		gx := (*[groupWords]uint64)(x[g*groupWords:])
		var ta uint64
		var tb uint64
		for j := 0; j < groupWords; j += 4 {
			a0, b0, p0 := gea[j], geb[j], gx[j]
			gin[j] |= b0 &^ p0
			a0 &= p0
			b0 &= p0
			gea[j], geb[j] = a0, b0
			ta |= a0
			tb |= b0
			a1, b1, p1 := gea[j+1], geb[j+1], gx[j+1]
			gin[j+1] |= b1 &^ p1
			a1 &= p1
			b1 &= p1
			gea[j+1], geb[j+1] = a1, b1
			ta |= a1
			tb |= b1
			a2, b2, p2 := gea[j+2], geb[j+2], gx[j+2]
			gin[j+2] |= b2 &^ p2
			a2 &= p2
			b2 &= p2
			gea[j+2], geb[j+2] = a2, b2
			ta |= a2
			tb |= b2
			a3, b3, p3 := gea[j+3], geb[j+3], gx[j+3]
			gin[j+3] |= b3 &^ p3
			a3 &= p3
			b3 &= p3
			gea[j+3], geb[j+3] = a3, b3
			ta |= a3
			tb |= b3
		}
		la &^= dropped(ta, g)
		lb &^= dropped(tb, g)
	}
	return la, lb
}
