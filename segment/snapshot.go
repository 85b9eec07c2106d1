package segment

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// A snapshot is one version of an index in a stream:
//
//	magic     8 bytes  "CDPSEG\x00\x01" (format 1)
//	length    uint32   of the manifest, little-endian
//	manifest  JSON     version, location, fields, saved segments, parts
//	crc       uint32   CRC32C (Castagnoli) of the manifest
//	parts              each a bitmap in the portable Roaring format, of the
//	                   length the manifest gives, followed by its CRC32C
//
// Parts are streamed in manifest order, so a reader verifies each as it
// arrives and a damaged or truncated snapshot is rejected naming the part.
var snapshotMagic = [8]byte{'C', 'D', 'P', 'S', 'E', 'G', 0, 1}

const (
	// maxManifest bounds the manifest a reader will buffer.
	maxManifest = 256 << 20
	// maxPart is the largest portable bitmap of 2^32 members: 65536
	// bitmap containers with their headers.
	maxPart = 8 + 65536*(8+8*chunkWords)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type manifest struct {
	Format   int               `json:"format"`
	Version  uint64            `json:"version"`
	Location string            `json:"location"`
	Fields   []manifestField   `json:"fields"`
	Segments []manifestSegment `json:"segments"`
	Parts    []manifestPart    `json:"parts"`
}

type manifestField struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

type manifestSegment struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
}

// manifestPart describes one bitmap: the members bitmap (no field), a tag,
// an enum value, a BSI's exist/sign/plane bitmaps or an event day.
type manifestPart struct {
	Field string `json:"field,omitempty"`
	Role  string `json:"role"` // members, tag, value, exist, sign, plane, day
	Value string `json:"value,omitempty"`
	Plane int    `json:"plane,omitempty"`
	Day   string `json:"day,omitempty"`
	Len   int64  `json:"len"`
	Card  uint64 `json:"card"`

	bm *bitmap
}

func (p *manifestPart) describe(i int) string {
	switch p.Role {
	case "members":
		return fmt.Sprintf("part %d (members)", i)
	case "tag":
		return fmt.Sprintf("part %d (tag %q)", i, p.Field)
	case "value":
		return fmt.Sprintf("part %d (enum %q value %q)", i, p.Field, p.Value)
	case "plane":
		return fmt.Sprintf("part %d (int %q plane %d)", i, p.Field, p.Plane)
	case "exist", "sign":
		return fmt.Sprintf("part %d (int %q %s)", i, p.Field, p.Role)
	case "day":
		return fmt.Sprintf("part %d (event %q day %s)", i, p.Field, p.Day)
	}
	return fmt.Sprintf("part %d (%s %q)", i, p.Role, p.Field)
}

// SnapshotError reports a damaged snapshot, naming the part: "header",
// "manifest", a part such as `part 12 (int "spend" plane 3)`, or "end".
// It wraps ErrCorrupt, or the I/O error that stopped the read.
type SnapshotError struct {
	Part string
	Err  error
}

// Error names the damaged part.
func (e *SnapshotError) Error() string { return fmt.Sprintf("snapshot %s: %v", e.Part, e.Err) }

// Unwrap returns the cause.
func (e *SnapshotError) Unwrap() error { return e.Err }

// WriteTo writes the view as a snapshot to w and returns the bytes
// written. The view does not change while it is written, so a snapshot is
// consistent even while writers carry on.
func (v *View) WriteTo(w io.Writer) (int64, error) {
	st := v.st
	m := manifest{Format: 1, Version: st.version, Location: st.loc.String()}
	addPart := func(p manifestPart, bm *bitmap) {
		p.Len, p.Card, p.bm = bm.portableSize(), bm.card(), bm
		m.Parts = append(m.Parts, p)
	}
	addPart(manifestPart{Role: "members"}, st.members)
	for _, name := range sortedKeys(st.fields) {
		f := st.fields[name]
		m.Fields = append(m.Fields, manifestField{Name: name, Kind: f.kind.String()})
		switch f.kind {
		case KindTag:
			addPart(manifestPart{Field: name, Role: "tag"}, f.tag)
		case KindEnum:
			for _, val := range sortedKeys(f.enum) {
				addPart(manifestPart{Field: name, Role: "value", Value: val}, f.enum[val])
			}
		case KindInt:
			addPart(manifestPart{Field: name, Role: "exist"}, f.num.exist)
			addPart(manifestPart{Field: name, Role: "sign"}, f.num.sign)
			for i, p := range f.num.planes {
				addPart(manifestPart{Field: name, Role: "plane", Plane: i}, p)
			}
		case KindEvent:
			for _, d := range sortedKeys(f.days) {
				addPart(manifestPart{Field: name, Role: "day", Day: d.String()}, f.days[d])
			}
		}
	}
	for _, name := range sortedKeys(st.segments) {
		m.Segments = append(m.Segments, manifestSegment{Name: name, Expr: st.segments[name].plan.String()})
	}
	js, err := json.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("snapshot manifest: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := &countWriter{w: bw}
	cw.Write(snapshotMagic[:])
	cw.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(js))))
	cw.Write(js)
	cw.Write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(js, castagnoli)))
	h := crc32.New(castagnoli)
	for _, p := range m.Parts {
		h.Reset()
		if _, err := p.bm.writePortable(io.MultiWriter(cw, h)); err != nil {
			return cw.n, err
		}
		cw.Write(binary.LittleEndian.AppendUint32(nil, h.Sum32()))
	}
	if cw.err != nil {
		return cw.n, cw.err
	}
	return cw.n, bw.Flush()
}

// countWriter counts bytes and keeps the first error, so WriteTo checks
// once.
type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// SaveFile writes the view as a snapshot to path atomically: to a
// temporary file in the same directory, synced, then renamed over path, so
// a crash leaves either the old snapshot or the new one.
func (v *View) SaveFile(path string) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := v.WriteTo(tmp); err != nil {
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save snapshot %s: %w", path, err)
	}
	// Sync the directory so the rename itself survives a crash.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// LoadFile reads a snapshot written by SaveFile.
func LoadFile(path string, opts *Options) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load snapshot: %w", err)
	}
	defer f.Close()
	ix, err := ReadSnapshot(bufio.NewReaderSize(f, 1<<16), opts)
	if err != nil {
		return nil, fmt.Errorf("load snapshot %s: %w", path, err)
	}
	return ix, nil
}

// ReadSnapshot reads a snapshot into a new index at the snapshot's
// version. Every part's checksum and structure is verified; a damaged or
// truncated snapshot is a *SnapshotError naming the part, and nothing is
// returned. opts.Location overrides the location recorded in the snapshot,
// which must otherwise be loadable by time.LoadLocation.
func ReadSnapshot(r io.Reader, opts *Options) (*Index, error) {
	fail := func(part string, format string, args ...any) error {
		return &SnapshotError{Part: part, Err: fmt.Errorf(format+": %w", append(args, ErrCorrupt)...)}
	}
	ioFail := func(part string, err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(part, "truncated")
		}
		return &SnapshotError{Part: part, Err: err}
	}
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, ioFail("header", err)
	}
	if !bytes.Equal(head[:8], snapshotMagic[:]) {
		if bytes.Equal(head[:6], snapshotMagic[:6]) {
			return nil, fail("header", "format %d.%d is not supported (want 0.1)", head[6], head[7])
		}
		return nil, fail("header", "not a cdpkit segment snapshot")
	}
	mlen := binary.LittleEndian.Uint32(head[8:])
	if mlen > maxManifest {
		return nil, fail("manifest", "length %d past the %d limit", mlen, maxManifest)
	}
	js, err := readN(r, int64(mlen)+4)
	if err != nil {
		return nil, ioFail("manifest", err)
	}
	js, sum := js[:mlen], binary.LittleEndian.Uint32(js[mlen:])
	if crc32.Checksum(js, castagnoli) != sum {
		return nil, fail("manifest", "checksum mismatch")
	}
	var m manifest
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fail("manifest", "%v", err)
	}
	if m.Format != 1 {
		return nil, fail("manifest", "format %d is not supported", m.Format)
	}
	loc, err := snapshotLocation(m.Location, opts)
	if err != nil {
		return nil, &SnapshotError{Part: "manifest", Err: err}
	}
	st := &state{
		version:  m.Version,
		loc:      loc,
		fields:   map[string]*field{},
		members:  &bitmap{},
		segments: map[string]*saved{},
		prep:     &prepCache{},
	}
	for _, mf := range m.Fields {
		kind := kindByName(mf.Kind)
		if kind == 0 {
			return nil, fail("manifest", "field %q has unknown kind %q", mf.Name, mf.Kind)
		}
		if err := validName("field", mf.Name); err != nil {
			return nil, fail("manifest", "%v", err)
		}
		if _, dup := st.fields[mf.Name]; dup {
			return nil, fail("manifest", "field %q twice", mf.Name)
		}
		f := &field{name: mf.Name, kind: kind}
		switch kind {
		case KindEnum:
			f.enum = map[string]*bitmap{}
		case KindInt:
			f.num = &bsi{}
		case KindEvent:
			f.days = map[Day]*bitmap{}
		}
		st.fields[mf.Name] = f
	}
	seen := map[string]bool{}
	unions := map[string]*bitmap{} // per enum, the values read so far
	h := crc32.New(castagnoli)
	for i := range m.Parts {
		p := &m.Parts[i]
		name := p.describe(i)
		if err := placePart(st, p, seen); err != nil {
			return nil, fail(name, "%v", err)
		}
		if p.Len < 8 || p.Len > maxPart {
			return nil, fail(name, "length %d out of range", p.Len)
		}
		data, err := readN(r, p.Len+4)
		if err != nil {
			return nil, ioFail(name, err)
		}
		h.Reset()
		h.Write(data[:p.Len])
		if h.Sum32() != binary.LittleEndian.Uint32(data[p.Len:]) {
			return nil, fail(name, "checksum mismatch")
		}
		bm, err := readPortable(data[:p.Len])
		if err != nil {
			return nil, &SnapshotError{Part: name, Err: err}
		}
		if bm.card() != p.Card {
			return nil, fail(name, "holds %d members, manifest says %d", bm.card(), p.Card)
		}
		if err := storePart(st, p, bm, unions); err != nil {
			return nil, fail(name, "%v", err)
		}
	}
	var extra [1]byte
	if n, _ := r.Read(extra[:]); n > 0 {
		return nil, fail("end", "data after the last part")
	}
	if err := checkState(st); err != nil {
		return nil, fail("manifest", "%v", err)
	}
	for _, ms := range m.Segments {
		p, err := Compile(ms.Expr, nil)
		if err != nil {
			return nil, fail("manifest", "segment %q: %v", ms.Name, err)
		}
		if err := validName("segment", ms.Name); err != nil {
			return nil, fail("manifest", "%v", err)
		}
		st.segments[ms.Name] = &saved{name: ms.Name, plan: p, refs: p.refs()}
	}
	for _, name := range sortedKeys(st.segments) {
		s := st.segments[name]
		if path := st.cyclePath(name, s.plan); path != nil {
			return nil, fail("manifest", "segment %q: %s: %v", name, formatPath(path), ErrCycle)
		}
		if err := checkPlan(st, s.plan); err != nil {
			return nil, fail("manifest", "segment %q: %v", name, err)
		}
	}
	ix := &Index{loc: loc}
	ix.cur.Store(st)
	return ix, nil
}

// readN reads exactly n bytes, growing the buffer as data arrives so that a
// corrupt length costs no more memory than the stream holds.
func readN(r io.Reader, n int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(n, 1<<20)))
	got, err := io.CopyN(&buf, r, n)
	if got < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

func snapshotLocation(name string, opts *Options) (*time.Location, error) {
	if opts != nil && opts.Location != nil {
		return opts.Location, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("location %q: %w (pass Options.Location)", name, err)
	}
	return loc, nil
}

func kindByName(s string) Kind {
	for k := KindTag; k <= KindEvent; k++ {
		if k.String() == s {
			return k
		}
	}
	return 0
}

// placePart checks that a part fits the declared fields and is not a
// duplicate, before its bytes are read.
func placePart(st *state, p *manifestPart, seen map[string]bool) error {
	key := p.Field + "\x00" + p.Role + "\x00" + p.Value + "\x00" + strconv.Itoa(p.Plane) + "\x00" + p.Day
	if seen[key] {
		return errors.New("appears twice")
	}
	seen[key] = true
	if p.Role == "members" {
		if p.Field != "" {
			return errors.New("members part names a field")
		}
		return nil
	}
	f, ok := st.fields[p.Field]
	if !ok {
		return fmt.Errorf("field %q is not declared", p.Field)
	}
	want := map[string]Kind{"tag": KindTag, "value": KindEnum, "exist": KindInt, "sign": KindInt, "plane": KindInt, "day": KindEvent}[p.Role]
	if want == 0 {
		return fmt.Errorf("unknown role %q", p.Role)
	}
	if f.kind != want {
		return fmt.Errorf("%s part for %s field %q", p.Role, f.kind, p.Field)
	}
	switch p.Role {
	case "value":
		if err := validName("enum value", p.Value); err != nil {
			return err
		}
	case "plane":
		if p.Plane < 0 || p.Plane > 63 {
			return fmt.Errorf("plane %d out of range", p.Plane)
		}
	case "day":
		if _, err := ParseDay(p.Day); err != nil {
			return fmt.Errorf("day %q: %v", p.Day, err)
		}
	}
	return nil
}

func storePart(st *state, p *manifestPart, bm *bitmap, unions map[string]*bitmap) error {
	if p.Role == "members" {
		st.members = bm
		return nil
	}
	f := st.fields[p.Field]
	switch p.Role {
	case "tag":
		f.tag = bm
	case "value":
		if bm.card() == 0 {
			return errors.New("empty enum value")
		}
		u := unions[p.Field]
		if !disjoint(bm, u) {
			return errors.New("shares members with another value of the field")
		}
		// A private transaction id: the union's own containers are never
		// shared, and bm's (id 0) are never changed in place.
		orInto(math.MaxUint64, &u, bm)
		unions[p.Field] = u
		f.enum[p.Value] = bm
	case "exist":
		f.num.exist = bm
	case "sign":
		f.num.sign = bm
	case "plane":
		for len(f.num.planes) <= p.Plane {
			f.num.planes = append(f.num.planes, nil)
		}
		f.num.planes[p.Plane] = bm
	case "day":
		d, _ := ParseDay(p.Day)
		if bm.card() > 0 {
			f.days[d] = bm
		}
	}
	return nil
}

// checkState verifies the invariants evaluation relies on: every bitmap
// lies within the members, and a BSI's sign and planes within its exist.
func checkState(st *state) error {
	within := func(what string, bm *bitmap) error {
		if !isSubset(bm, st.members) {
			return fmt.Errorf("%s holds members outside the universe", what)
		}
		return nil
	}
	for _, name := range sortedKeys(st.fields) {
		f := st.fields[name]
		switch f.kind {
		case KindTag:
			if err := within(fmt.Sprintf("tag %q", name), f.tag); err != nil {
				return err
			}
		case KindEnum:
			for val, bm := range f.enum {
				if err := within(fmt.Sprintf("enum %q value %q", name, val), bm); err != nil {
					return err
				}
			}
		case KindInt:
			s := f.num
			if err := within(fmt.Sprintf("int %q", name), s.exist); err != nil {
				return err
			}
			if !isSubset(s.sign, s.exist) {
				return fmt.Errorf("int %q: negative members without a value", name)
			}
			for i, p := range s.planes {
				if !isSubset(p, s.exist) {
					return fmt.Errorf("int %q plane %d: bits of members without a value", name, i)
				}
			}
			s.trim()
		case KindEvent:
			for d, bm := range f.days {
				if err := within(fmt.Sprintf("event %q day %s", name, d), bm); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Export writes the members p matches to w as one bitmap in the portable
// Roaring format, which CRoaring, Java RoaringBitmap, roaring/v2,
// ClickHouse (groupBitmap), StarRocks and Doris (BITMAP) read. It returns
// the bytes written.
func (v *View) Export(w io.Writer, p *Plan) (int64, error) {
	pr, err := v.prepare(p)
	if err != nil {
		return 0, err
	}
	return pr.materialize().writePortable(w)
}
