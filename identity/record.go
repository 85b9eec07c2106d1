package identity

import (
	"encoding/binary"
	"strconv"
)

// Evidence is kept as packed records of uint32 words in a chunked log, one
// record per observation, in arrival order. A record's word offset is also
// its sequence number: offsets only grow, and a person's age is the offset
// of the record that created it.
//
//	w0      tag(2) | identifiers n(8) | event ID length(8) | source(14)
//	        (for tagNumber, the length field holds the ID's high 8 bits)
//	w1      next record of the same person (circular list)
//	w2      observation time, Unix seconds
//	n words status(2) | identifier number(30), in observation order
//	…       event ID bytes, little-endian, padded to a word
//
// Event IDs are most often decimal numbers (order and transaction
// numbers), so an event ID of ASCII digits only is packed, in one of two
// forms. One without leading zeros whose value is below 2^40 (up to 12
// digits, and some of 13) is kept under tag tagNumber as a binary number:
// its high 8 bits in the length field of w0, its low 32 bits in one event
// ID word, so an 11-digit ID takes 1 word rather than 3. Any other is kept
// as 4-bit digits, eight to a word, under tag tagDigits; its length field
// still counts digits, leading zeros included. Either way the bytes read
// back are the bytes stored.
//
// Records never straddle a chunk; a chunk's unused end is skipped. A
// deleted record keeps its size in w0 — for a packed record, as a length
// in bytes that takes as many words — and has everything else
// zeroed. Which limits forced a record's drops (its violation mask) is kept
// beside the log, for the few records that dropped anything.
type evlog struct {
	chunks [][]uint32
	end    uint32 // offset of the next record
	live   int
}

const (
	logChunkBits = 20
	logChunk     = 1 << logChunkBits

	tagDeleted = 0
	tagLive    = 1
	tagNumber  = 2 // live, its event ID a binary number; tag reports it as tagLive
	tagDigits  = 3 // live, its event ID packed as digits; tag reports it as tagLive

	maxNumberID = 1 << 40 // a tagNumber event ID is below this

	// Status of an identifier in a record.
	stLinked  = 0 // linked into the person the observation resolved to
	stDropped = 1 // recorded but not linked, because a limit or cap would break
	stRemoved = 2 // taken out by a split or an erasure; the number is zeroed

	maxLogWords = 1<<32 - logChunk // offsets are uint32; noRec stays free
)

// recWords is the size of a record of n identifiers and event ID ev.
func recWords(n int, ev string) int {
	if _, ok := numberID(ev); ok {
		return 3 + n + 1
	}
	return 3 + n + evWords(len(ev), isDigits(ev))
}

// numberID returns the value of an event ID kept as a binary number: the
// decimal form of a value below maxNumberID, so without leading zeros
// (except "0" itself), which makes the text the number's only spelling.
func numberID(ev string) (uint64, bool) {
	if ev == "" || len(ev) > 13 || (ev[0] == '0' && len(ev) > 1) {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(ev); i++ {
		d := ev[i] - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + uint64(d)
	}
	return v, v < maxNumberID
}

// evWords is the size of an event ID of evLen bytes, or digits if packed.
func evWords(evLen int, digits bool) int {
	if digits {
		return (evLen + 7) / 8
	}
	return (evLen + 3) / 4
}

// isDigits reports whether ev is kept as packed digits: it is not empty
// and holds ASCII digits only.
func isDigits(ev string) bool {
	for i := 0; i < len(ev); i++ {
		if ev[i]-'0' > 9 {
			return false
		}
	}
	return ev != ""
}

// headWords is the size of the record whose first word is h.
func headWords(h uint32) int {
	if h>>30 == tagNumber {
		return 3 + int(h>>22&0xFF) + 1
	}
	return 3 + int(h>>22&0xFF) + evWords(int(h>>14&0xFF), h>>30 == tagDigits)
}

// rec is a view of one record's words.
type rec []uint32

// tag is the record's state: tagLive for a live record, whichever way its
// event ID is kept.
func (r rec) tag() uint32 {
	if t := r[0] >> 30; t < tagNumber {
		return t
	}
	return tagLive
}

// digits reports whether the event ID is kept packed, in either form.
func (r rec) digits() bool { return r[0]>>30 >= tagNumber }

// number returns the event ID of a tagNumber record.
func (r rec) number() (uint64, bool) {
	if r[0]>>30 != tagNumber {
		return 0, false
	}
	return uint64(r[0]>>14&0xFF)<<32 | uint64(r[3+r.n()]), true
}

func (r rec) n() int { return int(r[0] >> 22 & 0xFF) }

// evLen is the event ID's length in bytes.
func (r rec) evLen() int {
	if v, ok := r.number(); ok {
		n := 1
		for ; v >= 10; v /= 10 {
			n++
		}
		return n
	}
	return int(r[0] >> 14 & 0xFF)
}

func (r rec) source() uint32 { return r[0] & (maxSources - 1) }
func (r rec) time() uint32   { return r[2] }

func (r rec) entries() []uint32 { return r[3 : 3+r.n()] }

// evWords returns the words holding the event ID.
func (r rec) evWords() []uint32 { return r[3+r.n():] }

// evByte returns byte i of the event ID, which is not a tagNumber one.
func (r rec) evByte(i int) byte {
	w := r.evWords()
	if r.digits() {
		return '0' + byte(w[i/8]>>(4*(i%8))&0xF)
	}
	return byte(w[i/4] >> (8 * (i % 4)))
}

func (r rec) eventID() []byte {
	if v, ok := r.number(); ok {
		return strconv.AppendUint(nil, v, 10)
	}
	n := r.evLen()
	if r.digits() {
		b := make([]byte, n)
		for i := range b {
			b[i] = r.evByte(i)
		}
		return b
	}
	b := make([]byte, (n+3)/4*4)
	for i, w := range r.evWords() {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b[:n]
}

func (r rec) eventIDEquals(s string) bool {
	if v, ok := r.number(); ok {
		w, ok := numberID(s)
		return ok && w == v
	}
	n := r.evLen()
	if n != len(s) {
		return false
	}
	for i := 0; i < n; i++ {
		if r.evByte(i) != s[i] {
			return false
		}
	}
	return true
}

func entryID(e uint32) uint32     { return e & (maxIdents - 1) }
func entryStatus(e uint32) uint32 { return e >> 30 }
func mkEntry(st, id uint32) uint32 {
	return st<<30 | id
}

// alloc reserves a zeroed record of the given size and returns its
// offset, or noRec when the log is full. Nothing is ever written past a
// chunk's length, so the words a record takes are zero already.
func (l *evlog) alloc(words int) uint32 {
	last := len(l.chunks) - 1
	if last >= 0 {
		if c := l.chunks[last]; len(c)+words <= cap(c) {
			off := uint32(last)<<logChunkBits | uint32(len(c))
			l.chunks[last] = c[:len(c)+words]
			l.end = off + uint32(words)
			return off
		}
	}
	if last < 0 || len(l.chunks[last])+words > logChunk {
		if uint64(len(l.chunks)+1)*logChunk > maxLogWords {
			return noRec
		}
		l.chunks = append(l.chunks, nil)
		last++
	}
	c := growChunk(l.chunks[last], words, logChunk, last > 0)
	off := uint32(last)<<logChunkBits | uint32(len(c))
	l.chunks[last] = c[:len(c)+words]
	l.end = off + uint32(words)
	return off
}

// rec returns the record at off.
func (l *evlog) rec(off uint32) rec {
	c := l.chunks[off>>logChunkBits]
	i := off & (logChunk - 1)
	return rec(c[i : i+uint32(headWords(c[i]))])
}

// word returns the first word of the record at off.
func (l *evlog) word(off uint32) uint32 { return l.chunks[off>>logChunkBits][off&(logChunk-1)] }

// following returns the offset of the record after the one at off,
// skipping padding, or l.end.
func (l *evlog) following(off uint32) uint32 {
	off += uint32(len(l.rec(off)))
	return l.skipPad(off)
}

// skipPad moves off past the unused end of a chunk.
func (l *evlog) skipPad(off uint32) uint32 {
	if off < l.end && int(off&(logChunk-1)) >= len(l.chunks[off>>logChunkBits]) {
		off = (off>>logChunkBits + 1) << logChunkBits
	}
	return off
}

func (l *evlog) bytes() int64 {
	var n int64
	for _, c := range l.chunks {
		n += int64(cap(c)) * 4
	}
	return n
}

// writeRec fills a fresh record, whose words are zero and as many as
// recWords(n, eventID) says.
func writeRec(r rec, n int, source, t uint32, eventID string) {
	evLen := len(eventID)
	if v, ok := numberID(eventID); ok {
		r[0] = tagNumber<<30 | uint32(n)<<22 | uint32(v>>32)<<14 | source
		r[1] = noRec
		r[2] = t
		r[3+n] = uint32(v)
		return
	}
	tag := uint32(tagLive)
	if isDigits(eventID) {
		tag = tagDigits
	}
	r[0] = tag<<30 | uint32(n)<<22 | uint32(evLen)<<14 | source
	r[1] = noRec
	r[2] = t
	words := r.evWords()
	if tag == tagDigits {
		for i := 0; i < evLen; i++ {
			words[i/8] |= uint32(eventID[i]-'0') << (4 * (i % 8))
		}
		return
	}
	i := 0
	for ; i+4 <= evLen; i += 4 {
		words[i/4] = uint32(eventID[i]) | uint32(eventID[i+1])<<8 | uint32(eventID[i+2])<<16 | uint32(eventID[i+3])<<24
	}
	for ; i < evLen; i++ {
		words[i/4] |= uint32(eventID[i]) << (8 * (i % 4))
	}
}

// wipeRec deletes a record, zeroing everything but its size. A digit
// record's length becomes the byte length that takes as many words, so
// the deleted record reads as the size it is.
func wipeRec(r rec) {
	h := r[0]
	if r.digits() {
		h = h&^(0xFF<<14) | uint32(4*len(r.evWords()))<<14
	}
	clear(r)
	r[0] = tagDeleted<<30 | h&(0xFFFF<<14)
}

// view returns the words of a record being written.
func (l *evlog) view(off uint32, words int) rec {
	c := l.chunks[off>>logChunkBits]
	i := off & (logChunk - 1)
	return rec(c[i : i+uint32(words)])
}
