package cdpkit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/loyalty"
	"github.com/cdpkit/cdpkit/rfm"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// The parts of a snapshot, in the order they are written and read.
var snapshotParts = []struct{ name, file string }{
	{"identity", "identity.snap"},
	{"index", "index.snap"},
	{"summaries", "summaries.snap"},
	{"engine", "engine.bin"},
	{"profiles", "profiles.bin"},
	{"windows", "windows.bin"},
	{"tags", "tags.json"},
	{"loyalty", "loyalty.snap"},
}

const (
	manifestFile   = "MANIFEST"
	manifestHeader = "cdpkit snapshot 1"
	engineMagic    = "CDPKENG\x01"
)

// A loyaltySnapshotter is a ledger store that can be copied into a
// snapshot.
type loyaltySnapshotter interface {
	WriteTo(w io.Writer) (int64, error)
}

// Snapshot writes the whole Engine to dir: the identity graph, the index
// (fields, tags' members, activity, saved segments), the RFM summaries,
// the Engine's own state (attributes, derived fields, windows, merges,
// models, tag definitions) and, for the in-memory store, the ledger. Each
// part is written by its package's own snapshot where it has one, into a
// new directory beside dir, synced, listed in a MANIFEST with its size and
// SHA-256, and then swapped in: dir is a symbolic link, replaced in one
// rename, so a crash leaves the old snapshot or the new one. Writes wait
// while it runs; reads go on.
//
// A durable ledger store (Config.LoyaltyStore) keeps its own file and is
// not copied: Open needs the same store, as it was when the snapshot was
// taken.
func (e *Engine) Snapshot(ctx context.Context, dir string) (err error) {
	if e.closed.Load() {
		return ErrClosed
	}
	e.idMu.Lock()
	defer e.idMu.Unlock()
	if err := e.lock(ctx); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if _, err := e.rederiveDirty(ctx); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("snapshot %s: exists and is not a snapshot link", dir)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".")
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	var manifest bytes.Buffer
	manifest.WriteString(manifestHeader + "\n")
	for _, part := range snapshotParts {
		if err := ctx.Err(); err != nil {
			return err
		}
		write := e.partWriter(part.name)
		if write == nil {
			continue
		}
		size, sum, err := writePart(filepath.Join(tmp, part.file), write)
		if err != nil {
			return &SnapshotError{Dir: dir, Part: part.name, Err: err}
		}
		fmt.Fprintf(&manifest, "part %s %s %d %s\n", part.name, part.file, size, hex.EncodeToString(sum))
	}
	sum := sha256.Sum256(manifest.Bytes())
	fmt.Fprintf(&manifest, "sum %s\n", hex.EncodeToString(sum[:]))
	if _, _, err := writePart(filepath.Join(tmp, manifestFile), func(w io.Writer) error {
		_, err := w.Write(manifest.Bytes())
		return err
	}); err != nil {
		return &SnapshotError{Dir: dir, Part: "manifest", Err: err}
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	return swapLink(dir, tmp)
}

// partWriter returns the function that writes a part, or nil for a part
// this Engine does not have.
func (e *Engine) partWriter(name string) func(io.Writer) error {
	switch name {
	case "identity":
		return e.ids.WriteSnapshot
	case "index":
		return func(w io.Writer) error { _, err := e.ix.View().WriteTo(w); return err }
	case "summaries":
		return func(w io.Writer) error { _, err := e.st.sums.WriteTo(w); return err }
	case "engine":
		return e.writeEngine
	case "profiles":
		return func(w io.Writer) error {
			en := newEnc(w)
			writeTable(en, e.st.attrs)
			writeTable(en, e.st.der)
			return en.flush()
		}
	case "windows":
		return func(w io.Writer) error {
			en := newEnc(w)
			writeWinLog(en, e.st.win)
			return en.flush()
		}
	case "tags":
		return func(w io.Writer) error {
			var defs []tags.Definition
			for _, t := range e.set.Tags() {
				defs = append(defs, t.Definition())
			}
			return json.NewEncoder(w).Encode(defs)
		}
	case "loyalty":
		if s, ok := e.store.(loyaltySnapshotter); ok && e.ledger != nil && e.cfg.LoyaltyStore == nil {
			return func(w io.Writer) error { _, err := s.WriteTo(w); return err }
		}
	}
	return nil
}

// writePart writes a file through fn, syncs it and returns its size and
// SHA-256.
func writePart(path string, fn func(io.Writer) error) (int64, []byte, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, nil, err
	}
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(f, h)}
	if err := fn(cw); err != nil {
		_ = f.Close()
		return 0, nil, err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return 0, nil, err
	}
	if err := f.Close(); err != nil {
		return 0, nil, err
	}
	return cw.n, h.Sum(nil), nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// swapLink points the symbolic link dir at the directory target (a
// sibling), atomically, and removes the directory it pointed at before.
func swapLink(dir, target string) error {
	old, _ := os.Readlink(dir)
	link := target + ".link"
	if err := os.Symlink(filepath.Base(target), link); err != nil {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if err := os.Rename(link, dir); err != nil {
		_ = os.Remove(link)
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if old != "" && old != filepath.Base(target) {
		if !filepath.IsAbs(old) {
			old = filepath.Join(filepath.Dir(dir), old)
		}
		_ = os.RemoveAll(old)
	}
	return nil
}

// engineFingerprint describes everything in the configuration that the
// Engine's parts depend on, so that Open refuses a snapshot written under
// another configuration.
func (e *Engine) engineFingerprint() string {
	var b strings.Builder
	fmt.Fprintf(&b, "location=%s\n", e.cfg.Location)
	for _, f := range e.schema.Fields() {
		fmt.Fprintf(&b, "field=%s:%v:%d:%s\n", f.Name, f.Type, f.Index, f.IndexName)
	}
	fmt.Fprintf(&b, "channels=%v\n", e.cfg.Channels)
	if e.cfg.Program != nil {
		program, _ := json.Marshal(e.cfg.Program.Config())
		fmt.Fprintf(&b, "program=%s\n", program)
	}
	return b.String()
}

// writeEngine writes the Engine's state that no package owns.
func (e *Engine) writeEngine(w io.Writer) error {
	en := newEnc(w)
	en.raw([]byte(engineMagic))
	en.s(e.engineFingerprint())
	st := &e.st
	en.u(uint64(st.persons))
	writeMap := func(m map[uint32]bool) {
		keys := slices.Sorted(mapKeys(m))
		en.u(uint64(len(keys)))
		for _, k := range keys {
			en.u(uint64(k))
		}
	}
	aliases := slices.Sorted(mapKeys(st.alias))
	en.u(uint64(len(aliases)))
	for _, k := range aliases {
		en.u(uint64(k))
		en.u(uint64(st.alias[k]))
	}
	writeMap(st.gone)
	writeMap(st.resplit)
	en.u(uint64(len(st.catNames)))
	for _, c := range st.catNames {
		en.s(c)
	}
	en.time(st.asOf)
	en.bool(st.model != nil)
	if st.model != nil {
		p := st.model.Purchases
		en.f(p.R)
		en.f(p.Alpha)
		en.f(p.A)
		en.f(p.B)
		en.bool(st.model.Spend != nil)
		if g := st.model.Spend; g != nil {
			en.f(g.P)
			en.f(g.Q)
			en.f(g.Gamma)
		}
	}
	en.bool(st.means != nil)
	if st.means != nil {
		m := st.means
		en.f(m.Shrinkage)
		en.i(m.Members.Span)
		en.i(m.Members.Gaps)
		cats := slices.Sorted(mapKeys(m.Categories))
		en.u(uint64(len(cats)))
		for _, c := range cats {
			en.u(uint64(c))
			en.i(m.Categories[c].Span)
			en.i(m.Categories[c].Gaps)
		}
	}
	writeBitmap(en, st.accounts)
	names := slices.Sorted(mapKeys(st.seen))
	en.u(uint64(len(names)))
	for _, name := range names {
		en.s(name)
		writeBitmap(en, st.seen[name])
	}
	return en.flush()
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// readEngine reads what writeEngine wrote into e's state. persons bounds
// the person count (the summaries, already read, hold at least that many).
func (e *Engine) readEngine(r io.Reader, maxRows int) error {
	d := newDec(r)
	if magic := d.raw(len(engineMagic)); d.err == nil && string(magic) != engineMagic {
		return fmt.Errorf("not an engine part: %w", ErrCorrupt)
	}
	fp := d.s()
	if d.err == nil && fp != e.engineFingerprint() {
		return fmt.Errorf("%w: written under\n%s\nopened with\n%s", ErrConfigMismatch, fp, e.engineFingerprint())
	}
	st := &e.st
	persons := d.n(uint64(maxRows), "persons")
	if d.err != nil {
		return d.err
	}
	e.growTo(persons)
	e.issued.Store(uint32(persons))
	person := func(what string) uint32 {
		p := d.u()
		if p >= uint64(persons) {
			d.fail("%s: person %d of %d", what, p, persons)
			return 0
		}
		return uint32(p)
	}
	na := d.n(uint64(persons), "aliases")
	for range na {
		from, to := person("alias"), person("alias target")
		st.alias[from] = to
	}
	readSet := func(m map[uint32]bool, what string) {
		n := d.n(uint64(persons), what)
		for range n {
			m[person(what)] = true
		}
	}
	readSet(st.gone, "erased persons")
	readSet(st.resplit, "split persons")
	nc := d.n(1<<24, "categories")
	for k := range nc {
		name := d.s()
		if d.err == nil && e.categoryID(name) != uint32(k) {
			d.fail("category %q twice", name)
		}
	}
	st.asOf = d.time(e.cfg.Location)
	if d.bool() {
		m := &rfm.Model{Purchases: rfm.BGNBD{R: d.f(), Alpha: d.f(), A: d.f(), B: d.f()}}
		if d.bool() {
			m.Spend = &rfm.GammaGamma{P: d.f(), Q: d.f(), Gamma: d.f()}
		}
		st.model = m
	}
	if d.bool() {
		means := rfm.RepurchaseMeans{Shrinkage: d.f(), Members: rfm.Intervals{Span: d.i(), Gaps: d.i()}, Categories: map[uint32]rfm.Intervals{}}
		n := d.n(1<<24, "category means")
		for range n {
			c := d.u32("category")
			means.Categories[c] = rfm.Intervals{Span: d.i(), Gaps: d.i()}
		}
		st.means = &means
	}
	st.accounts = readBitmap(d, persons, "loyalty accounts")
	ns := d.n(1<<20, "saved segments")
	for range ns {
		name := d.s()
		st.seen[name] = readBitmap(d, persons, "segment "+strconv.Quote(name))
	}
	if err := d.end(); err != nil {
		return err
	}
	if err := checkAliases(st.alias, st.gone); err != nil {
		return err
	}
	if !st.asOf.IsZero() {
		t := st.asOf
		e.asOf.Store(&t)
	}
	return nil
}

// writeBitmap writes a set of persons as a count and increasing deltas.
func writeBitmap(en *enc, bm *roaring.Bitmap) {
	en.u(bm.GetCardinality())
	prev := uint32(0)
	for it := bm.Iterator(); it.HasNext(); {
		v := it.Next()
		en.u(uint64(v - prev))
		prev = v
	}
}

// readBitmap reads what writeBitmap wrote, for persons below persons.
func readBitmap(d *dec, persons int, what string) *roaring.Bitmap {
	bm := roaring.New()
	n := d.n(uint64(persons), what)
	v := uint64(0)
	for k := 0; k < n && d.err == nil; k++ {
		delta := d.u()
		if k > 0 && delta == 0 {
			d.fail("%s: out of order", what)
			break
		}
		if v += delta; v >= uint64(persons) {
			d.fail("%s: person %d of %d", what, v, persons)
			break
		}
		bm.Add(uint32(v))
	}
	return bm
}

// checkAliases refuses alias chains that loop, which a consistent engine
// never writes.
func checkAliases(alias map[uint32]uint32, gone map[uint32]bool) error {
	for start := range alias {
		p := start
		for range len(alias) + 1 {
			q, ok := alias[p]
			if !ok {
				break
			}
			p = q
		}
		if _, ok := alias[p]; ok {
			return fmt.Errorf("alias cycle through person %d: %w", start, ErrCorrupt)
		}
	}
	return nil
}

// A manifest lists a snapshot's parts.
type manifest struct {
	parts map[string]manifestPart
}

type manifestPart struct {
	file string
	size int64
	sum  []byte
}

// parseManifest reads and checks a MANIFEST.
func parseManifest(data []byte) (*manifest, error) {
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("line %d: %s: %w", line, fmt.Sprintf(format, args...), ErrCorrupt)
	}
	if len(data) > 1<<16 {
		return nil, fmt.Errorf("%d bytes: %w", len(data), ErrCorrupt)
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("truncated: %w", ErrCorrupt)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if lines[0] != manifestHeader {
		return nil, bad(1, "header %q, want %q", lines[0], manifestHeader)
	}
	last := lines[len(lines)-1]
	body := text[:len(text)-len(last)-1]
	sumHex, ok := strings.CutPrefix(last, "sum ")
	if !ok {
		return nil, bad(len(lines), "no checksum line")
	}
	want := sha256.Sum256([]byte(body))
	if got, err := hex.DecodeString(sumHex); err != nil || !bytes.Equal(got, want[:]) {
		return nil, bad(len(lines), "checksum does not match")
	}
	m := &manifest{parts: map[string]manifestPart{}}
	for i, line := range lines[1 : len(lines)-1] {
		f := strings.Split(line, " ")
		if len(f) != 5 || f[0] != "part" {
			return nil, bad(i+2, "want: part NAME FILE SIZE SHA256")
		}
		known := slices.ContainsFunc(snapshotParts, func(p struct{ name, file string }) bool { return p.name == f[1] && p.file == f[2] })
		if !known {
			return nil, bad(i+2, "unknown part %q in %q", f[1], f[2])
		}
		if _, dup := m.parts[f[1]]; dup {
			return nil, bad(i+2, "part %q twice", f[1])
		}
		size, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil || size < 0 {
			return nil, bad(i+2, "size %q", f[3])
		}
		sum, err := hex.DecodeString(f[4])
		if err != nil || len(sum) != sha256.Size {
			return nil, bad(i+2, "checksum %q", f[4])
		}
		m.parts[f[1]] = manifestPart{file: f[2], size: size, sum: sum}
	}
	for _, need := range []string{"identity", "index", "summaries", "engine", "profiles", "windows", "tags"} {
		if _, ok := m.parts[need]; !ok {
			return nil, fmt.Errorf("part %q missing: %w", need, ErrCorrupt)
		}
	}
	return m, nil
}

// Open restores an Engine from a snapshot that Snapshot wrote to dir,
// under cfg, which must be the configuration it was written under (the
// same attributes, channels, windows, categories, programme and identity
// kinds; ErrConfigMismatch otherwise). Every part's size and SHA-256 is
// checked against the MANIFEST and every part decoded by its package's
// checking reader; a damaged snapshot is a *SnapshotError naming the
// part, wrapping ErrCorrupt. The restored Engine answers every later call
// as the one that wrote it would have.
func Open(ctx context.Context, dir string, cfg Config) (*Engine, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return nil, &SnapshotError{Dir: dir, Part: "manifest", Err: err}
	}
	m, err := parseManifest(data)
	if err != nil {
		return nil, &SnapshotError{Dir: dir, Part: "manifest", Err: err}
	}
	c, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: c, subs: map[int]func(SegmentChange){}}
	if err := e.init(); err != nil {
		return nil, err
	}
	if c.Program != nil && c.LoyaltyStore == nil {
		if _, ok := m.parts["loyalty"]; !ok {
			return nil, &SnapshotError{Dir: dir, Part: "loyalty", Err: fmt.Errorf("missing for an in-memory ledger: %w", ErrCorrupt)}
		}
	}
	read := func(name string, fn func(io.Reader) error) error {
		p, ok := m.parts[name]
		if !ok {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := readPart(filepath.Join(dir, p.file), p, fn); err != nil {
			return &SnapshotError{Dir: dir, Part: name, Err: err}
		}
		return nil
	}
	steps := []struct {
		name string
		fn   func(io.Reader) error
	}{
		{"identity", func(r io.Reader) (err error) {
			e.ids, err = identity.RestoreSnapshot(r, c.Identity)
			return corrupt(err)
		}},
		{"index", func(r io.Reader) (err error) {
			e.ix, err = segment.ReadSnapshot(r, &segment.Options{Location: c.Location})
			return corrupt(err)
		}},
		{"summaries", func(r io.Reader) (err error) {
			e.st.sums, err = rfm.ReadSummaries(r, c.Location)
			return corrupt(err)
		}},
		{"engine", func(r io.Reader) error { return e.readEngine(r, e.st.sums.Len()) }},
		{"profiles", func(r io.Reader) error {
			d := newDec(r)
			readTable(d, e.st.attrs, e.st.persons)
			readTable(d, e.st.der, e.st.persons)
			return d.end()
		}},
		{"windows", func(r io.Reader) error {
			d := newDec(r)
			readWinLog(d, e.st.win, e.st.persons)
			return d.end()
		}},
		{"tags", func(r io.Reader) error {
			var defs []tags.Definition
			dj := json.NewDecoder(r)
			dj.DisallowUnknownFields()
			if err := dj.Decode(&defs); err != nil {
				return fmt.Errorf("%v: %w", err, ErrCorrupt)
			}
			if len(defs) > 0 {
				if err := e.set.Define(defs...); err != nil {
					return fmt.Errorf("definitions: %w", err)
				}
			}
			return nil
		}},
		{"loyalty", func(r io.Reader) error {
			if c.Program == nil || c.LoyaltyStore != nil {
				return nil
			}
			s, err := readLoyaltyStore(r)
			if err != nil {
				return corrupt(err)
			}
			e.openLedger(s)
			return nil
		}},
	}
	for _, s := range steps {
		if err := read(s.name, s.fn); err != nil {
			return nil, err
		}
	}
	if c.Program != nil && e.ledger == nil {
		e.openLedger(nil)
	}
	if c.LoyaltyStore != nil {
		// A durable store may have moved on since the snapshot; learn
		// its accounts from it.
		if err := e.loadAccounts(ctx); err != nil {
			return nil, err
		}
	}
	if e.ix.Location().String() != c.Location.String() {
		return nil, &SnapshotError{Dir: dir, Part: "index", Err: fmt.Errorf("%w: index days in %s", ErrConfigMismatch, e.ix.Location())}
	}
	if e.st.sums.Len() < e.st.persons {
		return nil, &SnapshotError{Dir: dir, Part: "summaries", Err: fmt.Errorf("%d members for %d persons: %w", e.st.sums.Len(), e.st.persons, ErrCorrupt)}
	}
	e.subscribe()
	return e, nil
}

// corrupt maps a package's corruption sentinel to ErrCorrupt as well.
func corrupt(err error) error {
	if err == nil {
		return nil
	}
	var ic *identity.CorruptError
	if errors.As(err, &ic) || errors.Is(err, segment.ErrCorrupt) || errors.Is(err, rfm.ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// readPart opens a part, checks its size and SHA-256 while fn reads it,
// and reports a mismatch ahead of whatever fn made of the bytes.
func readPart(path string, p manifestPart, fn func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != p.size {
		return fmt.Errorf("%d bytes, manifest says %d: %w", fi.Size(), p.size, ErrCorrupt)
	}
	h := sha256.New()
	ferr := fn(io.TeeReader(io.LimitReader(f, p.size), h))
	// Hash what fn left unread, so the checksum covers the whole file.
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), p.sum) {
		return fmt.Errorf("SHA-256 does not match the manifest: %w", ErrCorrupt)
	}
	return ferr
}

// readLoyaltyStore reads an in-memory ledger store from a snapshot.
func readLoyaltyStore(r io.Reader) (loyalty.Store, error) {
	return loyalty.ReadMemStore(r)
}
