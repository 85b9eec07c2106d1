package identity

import (
	"encoding/binary"
	"unsafe"
)

// The resolver keeps its state in a few dense structures rather than maps
// of small objects, so that 10M members cost a few hundred megabytes and
// the garbage collector has almost nothing to scan:
//
//   - identifiers: a chunked array of 20-byte ident records, indexed by a
//     dense identifier number;
//   - their values: a chunked byte arena, one length byte and the bytes,
//     digits and UUIDs packed;
//   - a lookup table: open addressing over 6-byte slots holding a 16-bit
//     fingerprint of the hash and the identifier number;
//   - persons: a chunked array of 20-byte person records, indexed by
//     PersonID, and a chunked array of per-person limit counters;
//   - evidence: a chunked log of packed uint32 records (see record.go),
//     addressed by word offset, with an open-addressing index by event ID.
//
// Chunks are fixed-size, so growth never copies what is stored and slack
// is at most one chunk per structure.

const (
	noIdent  = ^uint32(0)
	noPerson = ^uint32(0)
	noRec    = ^uint32(0)

	// Special values of ident.person.
	blockedIdent = noPerson - 1 // on the host's block list (SplitIdentifier with block)
	erasedIdent  = noPerson - 2 // erased; the slot is dead until the next restore

	maxIdents = 1 << 30 // a record keeps two status bits above the identifier number
)

const chunkBits = 16

// chunked is a growable array in fixed chunks of 1<<chunkBits elements.
type chunked[T any] struct {
	chunks [][]T
	n      uint32
}

func (c *chunked[T]) at(i uint32) *T { return &c.chunks[i>>chunkBits][i&(1<<chunkBits-1)] }

func (c *chunked[T]) push(v T) uint32 {
	if last := len(c.chunks) - 1; last >= 0 {
		if ch := &c.chunks[last]; len(*ch) < cap(*ch) {
			*ch = append(*ch, v)
			c.n++
			return c.n - 1
		}
	}
	return c.pushGrow(v)
}

func (c *chunked[T]) pushGrow(v T) uint32 {
	i := c.n
	last := len(c.chunks) - 1
	if last < 0 || len(c.chunks[last]) == 1<<chunkBits {
		c.chunks = append(c.chunks, nil)
		last++
	}
	c.chunks[last] = growChunk(c.chunks[last], 1, 1<<chunkBits, last > 0)
	c.chunks[last] = append(c.chunks[last], v)
	c.n++
	return i
}

// growChunk makes room for n more elements in a chunk that holds at most
// size. The first chunk of a structure doubles its capacity, so small
// resolvers stay small; later ones (later set) are allocated whole, since
// a resolver that filled one chunk will fill more, and doubling would
// write each element about twice.
func growChunk[T any](c []T, n, size int, later bool) []T {
	if len(c)+n <= cap(c) {
		return c
	}
	nc := max(2*cap(c), 64, len(c)+n)
	if later {
		nc = max(size, len(c)+n)
	}
	nc = min(nc, max(size, len(c)+n))
	g := make([]T, len(c), nc)
	copy(g, c)
	return g
}

func (c *chunked[T]) len() uint32 { return c.n }

func (c *chunked[T]) bytes() int64 {
	var zero T
	var n int64
	for _, ch := range c.chunks {
		n += int64(cap(ch))
	}
	return n * int64(unsafe.Sizeof(zero))
}

// ident is one stored identifier. When an observation last linked it
// matters only to windowed limits, so that time is kept in the arena after
// the values of windowed kinds rather than here for every identifier.
type ident struct {
	off    uint32 // low 32 bits of the value's arena offset
	meta   uint32 // high 8 bits of the arena offset (packedBit included), then the namespace (24 bits)
	person uint32 // the person holding it, noPerson, blockedIdent or erasedIdent
	next   uint32 // the next identifier of the same person (circular list)
}

const maxNamespaces = 1 << 24

func (x *ident) ns() uint32       { return x.meta & (maxNamespaces - 1) }
func (x *ident) arenaOff() uint64 { return uint64(x.meta>>24)<<32 | uint64(x.off) }
func (x *ident) attached() bool   { return x.person < erasedIdent }
func (x *ident) setArena(off uint64) {
	x.off = uint32(off)
	x.meta = x.meta&(maxNamespaces-1) | uint32(off>>32)<<24
}

// person is one person, live or not.
//
// The persons of one group — a live person and the aliases merged into it
// — form a circular list kept in Resolver.sibs, since most persons are
// never merged.
type person struct {
	born  uint32 // the record that created it; older persons have lower offsets
	ev    uint32 // the last record of its circular evidence list, or noRec
	link  uint32 // live: an identifier of its circular list (or noIdent); alias: the person it went to
	n     uint16 // identifiers held
	state uint16 // top 2 bits: personState; low 14 bits: persons merged into it
}

type personState uint16

const (
	stateLive    personState = 0
	stateAlias   personState = 1 // merged into another person, or moved by a split; link says where
	stateErased  personState = 2
	stateRetired personState = 3 // split left nothing of it
)

func (p *person) status() personState     { return personState(p.state >> 14) }
func (p *person) merges() int             { return int(p.state & (1<<14 - 1)) }
func (p *person) setStatus(s personState) { p.state = p.state&(1<<14-1) | uint16(s)<<14 }
func (p *person) setMerges(m int)         { p.state = p.state&^(1<<14-1) | uint16(m) }

// arena holds identifier values: a length byte, the bytes, and for
// windowed kinds 4 bytes of last-seen time, never straddling a chunk.
//
// Two common shapes are packed, which the offset add returns marks with
// packedBit (offsets need 39 bits: at most maxIdents entries of at most
// 260 bytes):
//
//   - ASCII digits only, 1 to 127 of them (phone, member card and Alipay
//     numbers), as 4-bit digits, two to a byte, the first in the low
//     nibble; the length byte counts digits, leading zeros included;
//   - a canonical lower-case UUID (8-4-4-4-12 hex digits, as device IDs
//     are after NormalizeLower), as its 16 bytes, under length byte
//     uuidLen.
//
// The bytes read back are always the bytes stored.
type arena struct {
	chunks [][]byte
}

const (
	arenaChunk = 1 << 22
	packedBit  = uint64(1) << 39
	maxDigits  = 127
	uuidLen    = 0x80 // the length byte of a packed UUID; digit counts stay below it
	uuidText   = 36
)

// packedSize is how many bytes value v takes after its length byte when
// packed, and the length byte; ok is false when v is kept as it is.
func packedSize(v []byte) (size int, lenByte byte, ok bool) {
	if len(v) >= 1 && len(v) <= maxDigits && allDigits(v) {
		return (len(v) + 1) / 2, byte(len(v)), true
	}
	if isUUID(v) {
		return 16, uuidLen, true
	}
	return 0, 0, false
}

// allDigits reports whether v holds ASCII digits only.
func allDigits(v []byte) bool {
	for _, c := range v {
		if c-'0' > 9 {
			return false
		}
	}
	return true
}

// isUUID reports whether v is a UUID in canonical lower-case text form.
func isUUID(v []byte) bool {
	if len(v) != uuidText {
		return false
	}
	for i, c := range v {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if hexVal(c) > 15 {
				return false
			}
		}
	}
	return true
}

// hexVal is the value of lower-case hex digit c, or 0xFF.
func hexVal(c byte) byte {
	switch {
	case c-'0' <= 9:
		return c - '0'
	case c-'a' <= 5:
		return c - 'a' + 10
	}
	return 0xFF
}

// pack writes v's packed form to dst, which is zero and packedSize long.
func pack(dst []byte, lenByte byte, v []byte) {
	if lenByte == uuidLen {
		j := 0
		for i := 0; i < uuidText; i++ {
			if v[i] == '-' {
				continue
			}
			dst[j/2] |= hexVal(v[i]) << (4 * (j % 2))
			j++
		}
		return
	}
	for i, c := range v {
		dst[i/2] |= (c - '0') << (4 * (i % 2))
	}
}

// unpack appends the text that packed bytes src under lenByte stand for.
func unpack(dst []byte, lenByte byte, src []byte) []byte {
	const hex = "0123456789abcdef"
	if lenByte == uuidLen {
		for j := 0; j < 32; j++ {
			if j == 8 || j == 12 || j == 16 || j == 20 {
				dst = append(dst, '-')
			}
			dst = append(dst, hex[src[j/2]>>(4*(j%2))&0xF])
		}
		return dst
	}
	for i := 0; i < int(lenByte); i++ {
		dst = append(dst, '0'+src[i/2]>>(4*(i%2))&0xF)
	}
	return dst
}

// storedSize is how many bytes follow the length byte b of an entry.
func storedSize(b byte, packed bool) int {
	switch {
	case !packed:
		return int(b)
	case b == uuidLen:
		return 16
	}
	return (int(b) + 1) / 2
}

// add stores v with extra zero bytes after it and returns its offset,
// with packedBit set if v is packed.
func (a *arena) add(v []byte, extra int) uint64 {
	size, lenByte, packed := packedSize(v)
	if !packed {
		size, lenByte = len(v), byte(len(v))
	}
	need := 1 + size + extra
	last := len(a.chunks) - 1
	if last < 0 || len(a.chunks[last])+need > cap(a.chunks[last]) {
		if last < 0 || len(a.chunks[last])+need > arenaChunk {
			a.chunks = append(a.chunks, nil)
			last++
		}
		a.chunks[last] = growChunk(a.chunks[last], need, arenaChunk, last > 0)
	}
	c := a.chunks[last]
	n := len(c)
	off := uint64(last)*arenaChunk + uint64(n)
	c = c[:n+need] // zero past the value: nothing is written past a chunk's length
	c[n] = lenByte
	if packed {
		pack(c[n+1:n+1+size], lenByte, v)
		off |= packedBit
	} else {
		copy(c[n+1:], v)
	}
	a.chunks[last] = c
	return off
}

// entry returns the length byte and the stored bytes of the entry at off.
func (a *arena) entry(off uint64) (byte, []byte) {
	o := off &^ packedBit
	c := a.chunks[o/arenaChunk]
	i := o % arenaChunk
	n := uint64(storedSize(c[i], off&packedBit != 0))
	return c[i], c[i+1 : i+1+n : i+1+n]
}

// get returns the value at off: the arena's own bytes, or for a packed
// value its text appended to dst[:0].
func (a *arena) get(off uint64, dst []byte) []byte {
	b, v := a.entry(off)
	if off&packedBit == 0 {
		return v
	}
	return unpack(dst[:0], b, v)
}

// equal reports whether the value at off is v, without unpacking it.
func (a *arena) equal(off uint64, v []byte) bool {
	b, stored := a.entry(off)
	if off&packedBit == 0 {
		return string(stored) == string(v)
	}
	size, lenByte, ok := packedSize(v)
	if !ok || lenByte != b || size != len(stored) {
		return false
	}
	var buf [maxDigits]byte
	p := buf[:size]
	pack(p, lenByte, v)
	return string(p) == string(stored)
}

// lenAt returns the length byte of the value at off.
func (a *arena) lenAt(off uint64) byte {
	off &^= packedBit
	return a.chunks[off/arenaChunk][off%arenaChunk]
}

// extra returns the n bytes kept after the value at off.
func (a *arena) extra(off uint64, n int) []byte {
	o := off &^ packedBit
	c := a.chunks[o/arenaChunk]
	i := o%arenaChunk + 1 + uint64(storedSize(c[o%arenaChunk], off&packedBit != 0))
	return c[i : i+uint64(n) : i+uint64(n)]
}

// wipe zeroes a value and its extra bytes, so an erased identifier cannot
// be read back from memory or a heap dump.
func (a *arena) wipe(off uint64, extra int) {
	clear(a.extra(off, extra))
	_, v := a.entry(off)
	clear(v)
	off &^= packedBit
	a.chunks[off/arenaChunk][off%arenaChunk] = 0
}

func (a *arena) bytes() int64 {
	var n int64
	for _, c := range a.chunks {
		n += int64(cap(c))
	}
	return n
}

// idTable maps a hash of (kind, scope, value) to an identifier number.
// Each slot is fingerprint<<32 | (id+1); 0 is empty.
type idTable struct {
	slots slotArray
	used  int    // live entries and tombstones
	live  int    // at most maxIdents, so a size fits in 32 bits (see home)
	gen   uint32 // bumped by every rebuild, which moves entries
}

const tombSlot = uint64(0xFFFFFFFF) // fingerprint 0, id+1 = 0xFFFFFFFF, never a real id

// slotArray holds the lookup table's slots in 6 bytes each: id+1 in 32
// bits and a 16-bit fingerprint of the hash (fp). A fingerprint that
// matches by chance costs one value comparison, which on a probe
// sequence of a few slots happens about once in 20,000 lookups; the 2
// bytes a slot saves are about 3 bytes per identifier. Two bytes of
// padding at the end let every slot be read with one 8-byte load.
type slotArray []byte

const slotBytes = 6

func makeSlots(n int) slotArray { return make(slotArray, slotBytes*n+2) }

func (t slotArray) len() int { return (len(t) - 2) / slotBytes }

// at returns slot i as fingerprint<<32 | (id+1).
func (t slotArray) at(i int) uint64 {
	return binary.LittleEndian.Uint64(t[slotBytes*i:]) & (1<<48 - 1)
}

func (t slotArray) set(i int, s uint64) {
	b := t[slotBytes*i : slotBytes*i+slotBytes : slotBytes*i+slotBytes]
	binary.LittleEndian.PutUint32(b, uint32(s))
	binary.LittleEndian.PutUint16(b[4:], uint16(s>>32))
}

// fp is the fingerprint slots keep of hash h: its high 16 bits, so it is
// independent of the home slot, which its low 32 bits choose.
func fp(h uint64) uint32 { return uint32(h >> 48) }

// slotsFor is the table size that holds n entries at a load of at most
// 0.7. Sizes need not be powers of two (see home), so a size hint costs
// about 6/0.7 ≈ 8.6 bytes per identifier rather than up to twice that.
// No more than maxIdents are ever stored, which also keeps sizes below
// 1<<32 as home needs.
func slotsFor(n int) int {
	return max(1024, (min(n, maxIdents)*10+6)/7)
}

// home is the first slot of h's probe sequence: the low 32 bits of h
// scaled to the table's size by a multiply-high ("fastrange"), which,
// unlike a mask, works for any size. The fingerprint is from h's high
// bits (fp), so slot and fingerprint stay independent.
func (t *idTable) home(h uint64) int { return homeIn(h, t.slots.len()) }

func homeIn(h uint64, size int) int { return int(uint64(uint32(h)) * uint64(size) >> 32) }

// grownSize is the size of a rebuilt table that is to hold live entries:
// the same size while they fill at most 0.6 of it, else 1.5 times larger
// until they do. Rebuilds run when live entries and tombstones reach 0.8
// (tableInsert), so the load after growth stays between 0.53 and 0.8.
func grownSize(size, live int) int {
	for (live+1)*10 > size*6 {
		size += size / 2
	}
	return size
}

// fmix64 is MurmurHash3's finaliser: it spreads the bits of a combined key.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// counterTable holds stride limit counters per person, in chunks of
// 1<<chunkBits persons. A byte each suffices: limits are at most 255, and
// a person never holds more of a kind than its limit, except where it
// already did before rules were tightened — which counters saturating
// would not change.
type counterTable struct {
	stride uint32
	chunks [][]uint8
}

func (t *counterTable) of(p uint32) []uint8 {
	if t.stride == 0 {
		return nil
	}
	c := t.chunks[p>>chunkBits]
	i := (p & (1<<chunkBits - 1)) * t.stride
	return c[i : i+t.stride : i+t.stride]
}

// grow makes room for person p, the next person.
func (t *counterTable) grow(p uint32) {
	if t.stride == 0 {
		return
	}
	if int(p>>chunkBits) == len(t.chunks) {
		t.chunks = append(t.chunks, nil)
	}
	last := len(t.chunks) - 1
	c := growChunk(t.chunks[last], int(t.stride), (1<<chunkBits)*int(t.stride), last > 0)
	t.chunks[last] = append(c, make([]uint8, t.stride)...)
}

func (t *counterTable) bytes() int64 {
	var n int64
	for _, c := range t.chunks {
		n += int64(cap(c))
	}
	return n
}
