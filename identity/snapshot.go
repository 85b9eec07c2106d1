package identity

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
)

// Snapshot format, version 1. After an 8-byte magic and a 4-byte version,
// the file is a sequence of frames:
//
//	tag [4]byte | payload length uint32 LE | payload | CRC-32C uint32 LE
//
// The CRC (Castagnoli) covers tag, length and payload. A payload is a
// uvarint element count and the elements. Frames come in this order, data
// parts split over as many frames as needed (about 1 MiB each):
//
//	CONF  the config the graph was built under (kinds, limits, caps)
//	NSPC  scopes: kind, scope, for namespaces past the unscoped ones
//	SRCS  sources, past the empty one
//	IDNT  identifiers, live ones in number order, renumbered densely:
//	      namespace, value, holder (0 none, 1 blocked, 2+person), last seen
//	PERS  every issued person: state, and birth (record ordinal),
//	      merges, alias target and group flag as the state needs
//	EVID  live records in log order: source, time, n, n×(status, id),
//	      violation mask when n ≥ 2, event ID
//	END!  the counts of each part, so a lost frame is noticed
//
// Values are uvarints; strings and bytes are a uvarint length and the
// bytes. Everything the resolver derives (lookup table, lists, counters,
// event index) is rebuilt on restore, and checked.

const (
	snapMagic    = "CDPKITID"
	snapVersion  = 1
	frameTarget  = 1 << 20
	frameMaxSize = 1 << 24
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var partNames = map[string]string{
	"CONF": "config", "NSPC": "scopes", "SRCS": "sources", "IDNT": "identifiers",
	"PERS": "persons", "EVID": "evidence", "END!": "trailer",
}

var partOrder = []string{"CONF", "NSPC", "SRCS", "IDNT", "PERS", "EVID", "END!"}

type snapWriter struct {
	w     io.Writer
	tag   string
	buf   []byte
	count int
	n     int64
	err   error
}

func (sw *snapWriter) begin(tag string) {
	sw.flush()
	sw.tag = tag
}

// done ends an element, flushing a full frame.
func (sw *snapWriter) done() {
	sw.count++
	if len(sw.buf) >= frameTarget {
		sw.flush()
	}
}

func (sw *snapWriter) flush() {
	if sw.count == 0 || sw.err != nil {
		sw.buf, sw.count = sw.buf[:0], 0
		return
	}
	var head [4 + 4 + binary.MaxVarintLen64]byte
	copy(head[:4], sw.tag)
	cnt := binary.AppendUvarint(head[8:8], uint64(sw.count))
	binary.LittleEndian.PutUint32(head[4:8], uint32(len(cnt)+len(sw.buf)))
	frame := head[:8+len(cnt)]
	crc := crc32.Update(0, castagnoli, frame)
	crc = crc32.Update(crc, castagnoli, sw.buf)
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], crc)
	for _, b := range [][]byte{frame, sw.buf, tail[:]} {
		if sw.err != nil {
			break
		}
		var n int
		n, sw.err = sw.w.Write(b)
		sw.n += int64(n)
	}
	sw.buf, sw.count = sw.buf[:0], 0
}

func (sw *snapWriter) uv(v uint64)    { sw.buf = binary.AppendUvarint(sw.buf, v) }
func (sw *snapWriter) str(s string)   { sw.uv(uint64(len(s))); sw.buf = append(sw.buf, s...) }
func (sw *snapWriter) bytes(b []byte) { sw.uv(uint64(len(b))); sw.buf = append(sw.buf, b...) }

// WriteSnapshot writes the whole graph — identifiers, persons, aliases,
// evidence, the block list — to w. It holds the read lock, so lookups go
// on meanwhile and mutations wait. Erased data is not written.
func (r *Resolver) WriteSnapshot(w io.Writer) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, err := io.WriteString(w, snapMagic); err != nil {
		return fmt.Errorf("write identity snapshot: %w", err)
	}
	var ver [4]byte
	binary.LittleEndian.PutUint32(ver[:], snapVersion)
	if _, err := w.Write(ver[:]); err != nil {
		return fmt.Errorf("write identity snapshot: %w", err)
	}
	sw := &snapWriter{w: w}

	sw.begin("CONF")
	r.cfg.encode(sw)
	sw.done()

	sw.begin("NSPC")
	for ns := len(r.cfg.kinds); ns < len(r.nsKind); ns++ {
		sw.uv(uint64(r.nsKind[ns]))
		sw.str(r.nsScope[ns])
		sw.done()
	}
	sw.begin("SRCS")
	for _, s := range r.sources[1:] {
		sw.str(s)
		sw.done()
	}

	// Identifiers are renumbered past erased ones: rank over a bitset.
	n := r.ids.len()
	erased := make([]uint64, (n+63)/64)
	rank := make([]uint32, len(erased)+1)
	for x := range n {
		if r.ids.at(x).person == erasedIdent {
			erased[x/64] |= 1 << (x % 64)
		}
	}
	for i, w := range erased {
		rank[i+1] = rank[i] + uint32(64-bits.OnesCount64(w))
		if uint32(i+1)*64 > n {
			rank[i+1] -= uint32(i+1)*64 - n
		}
	}
	newID := func(x uint32) uint32 {
		return rank[x/64] + uint32(bits.OnesCount64(^erased[x/64]&(1<<(x%64)-1)))
	}
	sw.begin("IDNT")
	nIDs := 0
	var buf [maxValueLen]byte
	for x := range n {
		xi := r.ids.at(x)
		if xi.person == erasedIdent {
			continue
		}
		sw.uv(uint64(xi.ns()))
		sw.bytes(r.arena.get(xi.arenaOff(), buf[:]))
		switch xi.person {
		case noPerson:
			sw.uv(0)
		case blockedIdent:
			sw.uv(1)
		default:
			sw.uv(2 + uint64(xi.person))
		}
		sw.uv(uint64(r.seen(x)))
		sw.done()
		nIDs++
	}

	// Births are written as record ordinals.
	var live []uint32
	for off := r.log.skipPad(0); off < r.log.end; off = r.log.following(off) {
		if r.log.rec(off).tag() == tagLive {
			live = append(live, off)
		}
	}
	ordinal := func(off uint32) uint64 {
		i, _ := slices.BinarySearch(live, off)
		return uint64(i)
	}
	sw.begin("PERS")
	for p := range r.persons.len() {
		pp := r.persons.at(p)
		st := pp.status()
		sw.uv(uint64(st))
		switch st {
		case stateLive:
			sw.uv(ordinal(pp.born))
			sw.uv(uint64(pp.merges()))
		case stateAlias:
			sw.uv(ordinal(pp.born))
			sw.uv(uint64(pp.link))
			inGroup := uint64(0)
			if r.sibOf(p) != p {
				inGroup = 1
			}
			sw.uv(inGroup)
		}
		sw.done()
	}

	sw.begin("EVID")
	for _, off := range live {
		rc := r.log.rec(off)
		sw.uv(uint64(rc.source()))
		sw.uv(uint64(rc.time()))
		sw.uv(uint64(rc.n()))
		for _, e := range rc.entries() {
			sw.uv(uint64(entryStatus(e)))
			if entryStatus(e) == stRemoved {
				sw.uv(0)
			} else {
				sw.uv(uint64(newID(entryID(e))))
			}
		}
		if rc.n() >= 2 {
			sw.uv(uint64(r.viol[off]))
		}
		sw.bytes(rc.eventID())
		sw.done()
	}

	sw.begin("END!")
	for _, v := range []int{len(r.nsKind), len(r.sources), nIDs, int(r.persons.len()), len(live)} {
		sw.uv(uint64(v))
	}
	sw.done()
	sw.flush()
	if sw.err != nil {
		return fmt.Errorf("write identity snapshot: %w", sw.err)
	}
	return nil
}

func (c *compiled) encode(sw *snapWriter) {
	sw.uv(uint64(c.maxIDs))
	sw.uv(uint64(c.maxMerges))
	sw.uv(uint64(len(c.kinds)))
	for i := range c.kinds {
		k := &c.kinds[i]
		sw.str(k.Name)
		var flags uint64
		if k.Scoped {
			flags |= 1
		}
		if k.LimitPerScope {
			flags |= 2
		}
		if k.KeepDefaultBlocked {
			flags |= 4
		}
		sw.uv(flags)
		sw.uv(uint64(k.Limit))
		sw.uv(uint64(k.window))
		sw.uv(uint64(len(k.blockedNm)))
		for _, b := range k.blockedNm {
			sw.str(b)
		}
		sw.uv(uint64(len(k.BlockedPatterns)))
		for _, p := range k.BlockedPatterns {
			sw.str(p)
		}
	}
}

// SaveSnapshot writes a snapshot to path atomically: to a temporary file
// in the same directory, synced, then renamed over path, so a crash leaves
// either the old snapshot or the new one. The file is readable by its
// owner only, since it holds personal data.
func (r *Resolver) SaveSnapshot(path string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save identity snapshot: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = r.WriteSnapshot(bw); err != nil {
		return fmt.Errorf("save identity snapshot %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("save identity snapshot %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("save identity snapshot %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("save identity snapshot %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save identity snapshot %s: %w", path, err)
	}
	// Make the rename itself durable; not every file system can sync a
	// directory, and the data is already safe, so failure is ignored.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// LoadSnapshot restores a Resolver from a file written by SaveSnapshot.
func LoadSnapshot(path string, cfg Config) (*Resolver, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load identity snapshot: %w", err)
	}
	defer f.Close()
	r, err := RestoreSnapshot(f, cfg)
	if err != nil {
		return nil, fmt.Errorf("load identity snapshot %s: %w", path, err)
	}
	return r, nil
}

// snapReader reads frames and decodes their elements.
type snapReader struct {
	r       *bufio.Reader
	off     int64 // of the next frame
	tag     string
	start   int64 // of the current payload
	payload []byte
	pos     int
}

func (sr *snapReader) corrupt(part string, err error) error {
	return &CorruptError{Part: part, Offset: sr.start + int64(sr.pos), Err: err}
}

func (sr *snapReader) fail(format string, args ...any) error {
	return sr.corrupt(partNames[sr.tag], fmt.Errorf(format, args...))
}

// next reads the next frame and returns its tag and element count.
func (sr *snapReader) next() (string, int, error) {
	var head [8]byte
	sr.start, sr.pos = sr.off, 0
	if _, err := io.ReadFull(sr.r, head[:]); err != nil {
		return "", 0, sr.corrupt("frame header", fmt.Errorf("truncated: %w", err))
	}
	tag := string(head[:4])
	part, ok := partNames[tag]
	if !ok {
		return "", 0, sr.corrupt("frame header", fmt.Errorf("unknown frame tag %q", tag))
	}
	size := binary.LittleEndian.Uint32(head[4:])
	if size > frameMaxSize {
		return "", 0, sr.corrupt(part, fmt.Errorf("frame of %d bytes, at most %d", size, frameMaxSize))
	}
	if cap(sr.payload) < int(size) {
		sr.payload = make([]byte, size)
	}
	sr.payload = sr.payload[:size]
	if _, err := io.ReadFull(sr.r, sr.payload); err != nil {
		return "", 0, sr.corrupt(part, fmt.Errorf("truncated: %w", err))
	}
	var tail [4]byte
	if _, err := io.ReadFull(sr.r, tail[:]); err != nil {
		return "", 0, sr.corrupt(part, fmt.Errorf("truncated checksum: %w", err))
	}
	crc := crc32.Update(0, castagnoli, head[:])
	crc = crc32.Update(crc, castagnoli, sr.payload)
	if crc != binary.LittleEndian.Uint32(tail[:]) {
		return "", 0, sr.corrupt(part, errors.New("checksum mismatch"))
	}
	sr.start = sr.off + 8
	sr.off += 8 + int64(size) + 4
	sr.tag = tag
	n, err := sr.uv(maxIdents)
	if err != nil {
		return "", 0, err
	}
	if n == 0 {
		return "", 0, sr.fail("empty frame")
	}
	return tag, int(n), nil
}

func (sr *snapReader) uv(max uint64) (uint64, error) {
	v, n := binary.Uvarint(sr.payload[sr.pos:])
	if n <= 0 {
		return 0, sr.fail("bad or truncated number")
	}
	if v > max {
		return 0, sr.fail("value %d above %d", v, max)
	}
	sr.pos += n
	return v, nil
}

func (sr *snapReader) bytes(max int) ([]byte, error) {
	n, err := sr.uv(uint64(max))
	if err != nil {
		return nil, err
	}
	if int(n) > len(sr.payload)-sr.pos {
		return nil, sr.fail("string of %d bytes past the frame end", n)
	}
	b := sr.payload[sr.pos : sr.pos+int(n)]
	sr.pos += int(n)
	return b, nil
}

func (sr *snapReader) endFrame() error {
	if sr.pos != len(sr.payload) {
		return sr.fail("%d bytes left over", len(sr.payload)-sr.pos)
	}
	return nil
}

// RestoreSnapshot reads a snapshot written by WriteSnapshot into a new
// Resolver for cfg, which must declare the same kinds, limits, windows,
// block lists and caps as the snapshot was written under (normalisers are
// code and cannot be compared; keep them the same). Corruption is rejected
// with a *CorruptError naming the part; a config difference with an error
// matching ErrConfigMismatch. Restoring and then making the same
// observations gives the same persons as never having stopped.
func RestoreSnapshot(rd io.Reader, cfg Config) (*Resolver, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(rd, 1<<20)
	var head [12]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return nil, &CorruptError{Part: "header", Err: fmt.Errorf("truncated: %w", err)}
	}
	if string(head[:8]) != snapMagic {
		return nil, &CorruptError{Part: "header", Err: errors.New("not an identity snapshot")}
	}
	if v := binary.LittleEndian.Uint32(head[8:]); v != snapVersion {
		return nil, &CorruptError{Part: "header", Offset: 8, Err: fmt.Errorf("version %d, want %d", v, snapVersion)}
	}
	d := &decoder{r: newResolver(c), sr: &snapReader{r: br, off: 12}, stage: -1}
	if err := d.run(); err != nil {
		return nil, err
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, &CorruptError{Part: "trailer", Offset: d.sr.off, Err: errors.New("data after the end")}
	}
	return d.r, nil
}

type decoder struct {
	r      *Resolver
	sr     *snapReader
	ordOff []uint32 // record ordinal → offset
	stage  int
}

func (d *decoder) run() error {
	r, sr := d.r, d.sr
	r.table.slots = makeSlots(slotsFor(0))
	for {
		tag, count, err := sr.next()
		if err != nil {
			return err
		}
		stage := slices.Index(partOrder, tag)
		switch {
		case stage < d.stage, (d.stage < 0) != (stage == 0):
			return sr.fail("frame out of order")
		case tag == "CONF" && count != 1, tag == "END!" && count != 1:
			return sr.fail("%d elements, want 1", count)
		}
		d.stage = stage
		for range count {
			if err := d.element(tag); err != nil {
				return err
			}
		}
		if err := sr.endFrame(); err != nil {
			return err
		}
		if tag == "END!" {
			return d.finish()
		}
	}
}

func (d *decoder) element(tag string) error {
	r, sr := d.r, d.sr
	switch tag {
	case "CONF":
		return d.config()
	case "NSPC":
		k, err := sr.uv(uint64(len(r.cfg.kinds) - 1))
		if err != nil {
			return err
		}
		scope, err := sr.bytes(maxValueLen)
		if err != nil {
			return err
		}
		if !r.cfg.kinds[k].Scoped || len(scope) == 0 {
			return sr.fail("scope %q for kind %q", scope, r.cfg.kinds[k].Name)
		}
		if r.ns(uint16(k), string(scope), false) != noNS {
			return sr.fail("scope %q of kind %q twice", scope, r.cfg.kinds[k].Name)
		}
		if r.ns(uint16(k), string(scope), true) == noNS {
			return sr.fail("too many scopes")
		}
	case "SRCS":
		s, err := sr.bytes(1 << 16)
		if err != nil {
			return err
		}
		if _, dup := r.srcIndex[string(s)]; dup {
			return sr.fail("source %q twice", s)
		}
		if _, ok := r.source(string(s)); !ok {
			return sr.fail("too many sources")
		}
	case "IDNT":
		ns, err := sr.uv(uint64(len(r.nsKind) - 1))
		if err != nil {
			return err
		}
		v, err := sr.bytes(maxValueLen)
		if err != nil {
			return err
		}
		holder, err := sr.uv(2 + uint64(erasedIdent) - 1)
		if err != nil {
			return err
		}
		seen, err := sr.uv(1<<32 - 1)
		if err != nil {
			return err
		}
		if len(v) == 0 {
			return sr.fail("empty value")
		}
		if r.ids.len() >= maxIdents {
			return sr.fail("too many identifiers")
		}
		kind := r.nsKind[ns]
		h := r.hashKey(kind, r.nsScope[ns], v)
		found, hint := r.findSlot(uint32(ns), h, v)
		if found != noIdent {
			return sr.fail("identifier %s:%q twice", r.cfg.kinds[kind].Name, v)
		}
		x := r.newIdent(uint32(ns), h, v, hint)
		xi := r.ids.at(x)
		r.touch(x, uint32(seen), true)
		switch holder {
		case 0:
		case 1:
			xi.person = blockedIdent
			r.blocked[x] = struct{}{}
		default:
			xi.person = uint32(holder - 2) // checked and attached in finish
		}
	case "PERS":
		st, err := sr.uv(uint64(stateRetired))
		if err != nil {
			return err
		}
		if r.persons.len() >= erasedIdent-1 {
			return sr.fail("too many persons")
		}
		p := person{ev: noRec, link: noIdent}
		p.setStatus(personState(st))
		switch personState(st) {
		case stateLive:
			born, err := sr.uv(1<<32 - 2)
			if err != nil {
				return err
			}
			merges, err := sr.uv(maxCapMerges)
			if err != nil {
				return err
			}
			p.born = uint32(born)
			p.setMerges(int(merges))
			r.livePersons++
		case stateAlias:
			born, err := sr.uv(1<<32 - 2)
			if err != nil {
				return err
			}
			link, err := sr.uv(uint64(erasedIdent) - 1)
			if err != nil {
				return err
			}
			inGroup, err := sr.uv(1)
			if err != nil {
				return err
			}
			p.born, p.link = uint32(born), uint32(link)
			if inGroup == 1 {
				p.n = 1 // marks group membership until finish
			}
		}
		r.persons.push(p)
		r.counts.grow(r.persons.len() - 1)
	case "EVID":
		return d.record()
	case "END!":
		want := []int{len(r.nsKind), len(r.sources), int(r.ids.len()), int(r.persons.len()), len(d.ordOff)}
		for i, w := range want {
			v, err := sr.uv(1 << 40)
			if err != nil {
				return err
			}
			if v != uint64(w) {
				return sr.fail("%s: %d in the trailer, %d read", partNames[partOrder[i+1]], v, w)
			}
		}
	}
	return nil
}

func (d *decoder) config() error {
	r, sr := d.r, d.sr
	c := r.cfg
	mismatch := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrConfigMismatch)
	}
	maxIDs, err := sr.uv(maxCapIdentifiers)
	if err != nil {
		return err
	}
	maxMerges, err := sr.uv(maxCapMerges)
	if err != nil {
		return err
	}
	n, err := sr.uv(maxKinds)
	if err != nil {
		return err
	}
	if int(maxIDs) != c.maxIDs {
		return mismatch("MaxIdentifiers %d in the snapshot, %d in the config", maxIDs, c.maxIDs)
	}
	if int(maxMerges) != c.maxMerges {
		return mismatch("MaxMerges %d in the snapshot, %d in the config", maxMerges, c.maxMerges)
	}
	if int(n) != len(c.kinds) {
		return mismatch("%d kinds in the snapshot, %d in the config", n, len(c.kinds))
	}
	for i := range c.kinds {
		k := &c.kinds[i]
		name, err := sr.bytes(1 << 16)
		if err != nil {
			return err
		}
		flags, err := sr.uv(7)
		if err != nil {
			return err
		}
		limit, err := sr.uv(maxCapIdentifiers)
		if err != nil {
			return err
		}
		window, err := sr.uv(1<<32 - 1)
		if err != nil {
			return err
		}
		if string(name) != k.Name {
			return mismatch("kind %d is %q in the snapshot, %q in the config", i, name, k.Name)
		}
		if flags != boolBits(k.Scoped, k.LimitPerScope, k.KeepDefaultBlocked) || int(limit) != k.Limit || uint32(window) != k.window {
			return mismatch("kind %q: scope, limit or window differ", k.Name)
		}
		for _, list := range [][]string{k.blockedNm, k.BlockedPatterns} {
			m, err := sr.uv(1 << 24)
			if err != nil {
				return err
			}
			if int(m) != len(list) {
				return mismatch("kind %q: block lists differ", k.Name)
			}
			for _, want := range list {
				got, err := sr.bytes(1 << 16)
				if err != nil {
					return err
				}
				if string(got) != want {
					return mismatch("kind %q: block lists differ", k.Name)
				}
			}
		}
	}
	return nil
}

func boolBits(bs ...bool) uint64 {
	var v uint64
	for i, b := range bs {
		if b {
			v |= 1 << i
		}
	}
	return v
}

func (d *decoder) record() error {
	r, sr := d.r, d.sr
	src, err := sr.uv(uint64(len(r.sources) - 1))
	if err != nil {
		return err
	}
	t, err := sr.uv(1<<32 - 1)
	if err != nil {
		return err
	}
	n, err := sr.uv(maxObsIdentifiers)
	if err != nil {
		return err
	}
	if n == 0 {
		return sr.fail("observation without identifiers")
	}
	if r.ids.len() == 0 {
		return sr.fail("observation before any identifier")
	}
	ents := make([]uint32, n)
	owner := noPerson
	for i := range ents {
		st, err := sr.uv(stRemoved)
		if err != nil {
			return err
		}
		id, err := sr.uv(uint64(r.ids.len()) - 1)
		if err != nil {
			return err
		}
		x := uint32(id)
		switch st {
		case stRemoved:
			if id != 0 {
				return sr.fail("removed entry keeps identifier %d", id)
			}
		case stLinked, stDropped:
			holder := r.ids.at(x).person
			if holder == blockedIdent {
				return sr.fail("blocked identifier %d in evidence", id)
			}
			if st == stLinked {
				if holder == noPerson || holder >= r.persons.len() || r.persons.at(holder).status() != stateLive {
					return sr.fail("linked identifier %d of no live person", id)
				}
				if owner != noPerson && owner != holder {
					return sr.fail("observation links persons %d and %d", owner, holder)
				}
				owner = holder
			}
		}
		ents[i] = mkEntry(uint32(st), x)
	}
	var viol uint64
	if n >= 2 {
		if viol, err = sr.uv(1<<32 - 1); err != nil {
			return err
		}
	}
	ev, err := sr.bytes(maxEventIDLen)
	if err != nil {
		return err
	}
	if owner == noPerson {
		return sr.fail("observation links no identifier")
	}
	evs := string(ev)
	words := recWords(int(n), evs)
	off := r.log.alloc(words)
	if off == noRec {
		return sr.fail("evidence log full")
	}
	rc := r.log.view(off, words)
	writeRec(rc, int(n), uint32(src), uint32(t), evs)
	copy(rc.entries(), ents)
	r.setViol(off, uint32(viol))
	r.log.live++
	d.ordOff = append(d.ordOff, off)
	r.appendEvidence(owner, off)
	for _, e := range ents {
		if entryStatus(e) == stDropped {
			r.dropRefs[entryID(e)] = append(r.dropRefs[entryID(e)], off)
		}
	}
	if len(ev) > 0 {
		r.eventInsert(off, r.eventHash(ev))
	}
	return nil
}

// finish links what the parts reference and checks the whole.
func (d *decoder) finish() error {
	r := d.r
	fail := func(part string, format string, args ...any) error {
		return &CorruptError{Part: part, Offset: d.sr.start, Err: fmt.Errorf(format, args...)}
	}
	np := r.persons.len()
	for p := range np {
		pp := r.persons.at(p)
		switch pp.status() {
		case stateLive, stateAlias:
			if int(pp.born) >= len(d.ordOff) {
				return fail("persons", "person %d born at record %d of %d", p, pp.born, len(d.ordOff))
			}
			pp.born = d.ordOff[pp.born]
		}
		if pp.status() == stateAlias && pp.link >= np {
			return fail("persons", "person %d aliases unknown person %d", p, pp.link)
		}
	}
	roots, err := r.roots()
	if err != nil {
		return fail("persons", "%v", err)
	}
	for p := range np {
		pp := r.persons.at(p)
		if pp.status() != stateAlias || pp.n != 1 {
			continue
		}
		pp.n = 0
		q := roots[p]
		if r.persons.at(q).status() != stateLive {
			return fail("persons", "person %d is merged into person %d, which is not live", p, q)
		}
		r.setSib(p, r.sibOf(q))
		r.setSib(q, p)
	}
	for x := range r.ids.len() {
		xi := r.ids.at(x)
		p := xi.person
		if p >= erasedIdent {
			continue
		}
		if p >= np || r.persons.at(p).status() != stateLive {
			return fail("identifiers", "identifier %d held by person %d, which is not live", x, p)
		}
		if r.persons.at(p).n == maxCapIdentifiers {
			return fail("identifiers", "person %d holds too many identifiers", p)
		}
		xi.person = noPerson
		r.attach(p, x)
	}
	for p := range np {
		pp := r.persons.at(p)
		if pp.status() == stateLive && (pp.n == 0 || pp.ev == noRec) {
			return fail("persons", "live person %d has no identifiers or no evidence", p)
		}
	}
	if err := r.check(); err != nil {
		return fail("evidence", "%v", err)
	}
	return nil
}
