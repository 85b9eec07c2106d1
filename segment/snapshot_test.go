package segment

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sameIndex checks that two views hold the same fields, data and segments.
func sameIndex(t *testing.T, a, b *View) {
	t.Helper()
	require.Equal(t, a.Fields(), b.Fields())
	assert.Equal(t, a.Version(), b.Version())
	assert.True(t, a.Members().Equals(b.Members()), "members")
	for _, f := range a.Fields() {
		switch f.Kind {
		case KindTag:
			x, _ := a.Tag(f.Name)
			y, _ := b.Tag(f.Name)
			assert.True(t, x.Equals(y), "tag %s", f.Name)
		case KindEnum:
			xs, _ := a.EnumValues(f.Name)
			ys, _ := b.EnumValues(f.Name)
			require.Equal(t, xs, ys)
			for _, val := range xs {
				x, _ := a.EnumValue(f.Name, val)
				y, _ := b.EnumValue(f.Name, val)
				assert.True(t, x.Equals(y), "enum %s=%s", f.Name, val)
			}
		case KindInt:
			n := int(a.st.members.chunks()) * chunkSize
			xc, xp, _ := a.IntColumn(f.Name, n)
			yc, yp, _ := b.IntColumn(f.Name, n)
			assert.True(t, slices.Equal(xc, yc), "int %s", f.Name)
			assert.True(t, xp.Equals(yp), "int %s presence", f.Name)
		case KindEvent:
			xd, _ := a.ActivityDays(f.Name)
			yd, _ := b.ActivityDays(f.Name)
			require.Equal(t, xd, yd)
			for _, d := range xd {
				x, _ := a.Activity(f.Name, d.Start(a.Location()))
				y, _ := b.Activity(f.Name, d.Start(b.Location()))
				assert.True(t, x.Equals(y), "event %s day %s", f.Name, d)
			}
		}
	}
	assert.Equal(t, a.Segments(), b.Segments())
	for _, s := range a.Segments() {
		x, _ := a.SegmentPlan(s)
		y, _ := b.SegmentPlan(s)
		assert.Equal(t, x.String(), y.String())
	}
}

func snapshotFixture(t testing.TB) *Index {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 9))
	ix, _ := refData(t, rng, 70000)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.SaveSegment("a", And(Tag("dense"), Cmp("small", Lt, 0))))
		return tx.SaveSegment("b", Or(Ref("a"), Active("buy", 7), Enum("tier", "gold")))
	}))
	return ix
}

func TestSnapshotRoundTrip(t *testing.T) {
	ix := snapshotFixture(t)
	v := ix.View()
	var buf bytes.Buffer
	n, err := v.WriteTo(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(buf.Len()), n)

	back, err := ReadSnapshot(bytes.NewReader(buf.Bytes()), nil)
	require.NoError(t, err)
	sameIndex(t, v, back.View())
	assert.Equal(t, "UTC", back.Location().String())

	// The loaded index keeps working: counts agree and writes continue the
	// version sequence.
	at := v.AtDay(19810)
	for _, p := range []*Plan{Ref("b"), Not(Tag("clustered")), Between("wide", -1<<60, 1<<60)} {
		want, err := at.Count(p)
		require.NoError(t, err)
		got, err := back.View().AtDay(19810).Count(p)
		require.NoError(t, err)
		assert.Equal(t, want, got, p.String())
	}
	require.NoError(t, back.Update(func(tx *Tx) error { return tx.AddTag("dense", 5) }))
	assert.Equal(t, v.Version()+1, back.View().Version())

	// An empty index round-trips too.
	buf.Reset()
	_, err = New(nil).View().WriteTo(&buf)
	require.NoError(t, err)
	empty, err := ReadSnapshot(&buf, nil)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), empty.View().MemberCount())
}

func TestSnapshotLocation(t *testing.T) {
	ix := New(&Options{Location: shanghai}) // a fixed zone LoadLocation cannot find
	var buf bytes.Buffer
	_, err := ix.View().WriteTo(&buf)
	require.NoError(t, err)
	_, err = ReadSnapshot(bytes.NewReader(buf.Bytes()), nil)
	assert.ErrorContains(t, err, "pass Options.Location")
	back, err := ReadSnapshot(bytes.NewReader(buf.Bytes()), &Options{Location: shanghai})
	require.NoError(t, err)
	assert.Equal(t, shanghai, back.Location())
}

func TestSaveFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "index.seg")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	ix := smallIndex(t)
	require.NoError(t, ix.View().SaveFile(path))
	back, err := LoadFile(path, &Options{Location: shanghai})
	require.NoError(t, err)
	sameIndex(t, ix.View(), back.View())
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "no temporary file left behind")

	err = ix.View().SaveFile(filepath.Join(dir, "missing", "x.seg"))
	assert.Error(t, err)
	_, err = LoadFile(filepath.Join(dir, "nope.seg"), nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestSnapshotRejectsCorruption flips bytes all over a snapshot and cuts it
// at many lengths: every variant must be refused with a SnapshotError that
// wraps ErrCorrupt, and none may panic.
func TestSnapshotRejectsCorruption(t *testing.T) {
	ix := smallIndex(t)
	require.NoError(t, ix.Update(func(tx *Tx) error { return tx.SaveSegment("s", Tag("vip")) }))
	var buf bytes.Buffer
	_, err := ix.View().WriteTo(&buf)
	require.NoError(t, err)
	good := buf.Bytes()
	opts := &Options{Location: shanghai}
	_, err = ReadSnapshot(bytes.NewReader(good), opts)
	require.NoError(t, err)

	step := 1
	if raceEnabled {
		step = 5 // every byte takes long under the race detector
	}
	for i := 0; i < len(good); i += step {
		bad := slices.Clone(good)
		bad[i] ^= 0x10
		_, err := ReadSnapshot(bytes.NewReader(bad), opts)
		var se *SnapshotError
		require.ErrorAs(t, err, &se, "flipped byte %d", i)
		require.ErrorIs(t, err, ErrCorrupt, "flipped byte %d", i)
	}
	for n := 0; n < len(good); n += step {
		_, err := ReadSnapshot(bytes.NewReader(good[:n]), opts)
		require.ErrorIs(t, err, ErrCorrupt, "cut at %d", n)
	}
	_, err = ReadSnapshot(bytes.NewReader(append(slices.Clone(good), 0)), opts)
	var se *SnapshotError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "end", se.Part)
}

func TestSnapshotErrorsNameThePart(t *testing.T) {
	ix := smallIndex(t)
	var buf bytes.Buffer
	_, err := ix.View().WriteTo(&buf)
	require.NoError(t, err)
	good := buf.Bytes()
	m, body := splitSnapshot(t, good)
	opts := &Options{Location: shanghai}

	// Cut inside the part for plane 1 of "age".
	idx := partIndex(t, m, func(p manifestPart) bool { return p.Field == "age" && p.Role == "plane" && p.Plane == 1 })
	off := partOffset(m, idx)
	_, err = ReadSnapshot(bytes.NewReader(append(headerFor(t, m), body[:off+5]...)), opts)
	assert.EqualError(t, err, `snapshot part `+strconv.Itoa(idx)+` (int "age" plane 1): truncated: corrupt data`)

	// Damage a byte inside the tag's bitmap.
	idx = partIndex(t, m, func(p manifestPart) bool { return p.Role == "tag" })
	bad := slices.Clone(body)
	bad[partOffset(m, idx)+9] ^= 1
	_, err = ReadSnapshot(bytes.NewReader(append(headerFor(t, m), bad...)), opts)
	assert.EqualError(t, err, `snapshot part `+strconv.Itoa(idx)+` (tag "vip"): checksum mismatch: corrupt data`)

	_, err = ReadSnapshot(bytes.NewReader([]byte("PK\x03\x04 not a snapshot")), opts)
	assert.EqualError(t, err, "snapshot header: not a cdpkit segment snapshot: corrupt data")
}

// Manifests that pass their checksum but contradict themselves or the
// data: what a buggy or hostile writer could produce.
func TestSnapshotRejectsInconsistentManifest(t *testing.T) {
	ix := smallIndex(t)
	var buf bytes.Buffer
	_, err := ix.View().WriteTo(&buf)
	require.NoError(t, err)
	m, body := splitSnapshot(t, buf.Bytes())
	opts := &Options{Location: shanghai}
	cases := map[string]struct {
		edit func(m *manifest)
		want string
	}{
		"unknown kind":     {func(m *manifest) { m.Fields[0].Kind = "blob" }, `unknown kind "blob"`},
		"duplicate field":  {func(m *manifest) { m.Fields = append(m.Fields, m.Fields[0]) }, "twice"},
		"format":           {func(m *manifest) { m.Format = 2 }, "format 2"},
		"undeclared field": {func(m *manifest) { m.Parts[1].Field = "ghost" }, `field "ghost" is not declared`},
		"wrong role":       {func(m *manifest) { m.Parts[1].Role = "day" }, "part for"},
		"card mismatch": {func(m *manifest) {
			m.Parts[1].Card++
		}, "manifest says"},
		"bad segment": {func(m *manifest) {
			m.Segments = []manifestSegment{{Name: "x", Expr: "tag(\"nope\")"}}
		}, `unknown field "nope"`},
		"segment cycle": {func(m *manifest) {
			m.Segments = []manifestSegment{{Name: "x", Expr: `segment("y")`}, {Name: "y", Expr: `segment("x")`}}
		}, "cycle"},
		"plane outside exist": {func(m *manifest) {
			// Relabel vip's bitmap (0, 2, 4, 70000) as a plane of age,
			// which member 4 has no value of.
			i := partIndexM(*m, func(p manifestPart) bool { return p.Field == "vip" && p.Role == "tag" })
			m.Parts[i].Field, m.Parts[i].Role, m.Parts[i].Plane = "age", "plane", 6
		}, "bits of members without a value"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mm := cloneManifest(t, m)
			tc.edit(&mm)
			_, err := ReadSnapshot(bytes.NewReader(append(headerFor(t, mm), body...)), opts)
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func splitSnapshot(t *testing.T, data []byte) (manifest, []byte) {
	t.Helper()
	mlen := binary.LittleEndian.Uint32(data[8:])
	var m manifest
	require.NoError(t, json.Unmarshal(data[12:12+mlen], &m))
	return m, data[12+mlen+4:]
}

func headerFor(t *testing.T, m manifest) []byte {
	t.Helper()
	js, err := json.Marshal(m)
	require.NoError(t, err)
	out := append(snapshotMagic[:0:0], snapshotMagic[:]...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(js)))
	out = append(out, js...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(js, castagnoli))
}

func cloneManifest(t *testing.T, m manifest) manifest {
	js, err := json.Marshal(m)
	require.NoError(t, err)
	var c manifest
	require.NoError(t, json.Unmarshal(js, &c))
	return c
}

func partIndex(t *testing.T, m manifest, pred func(manifestPart) bool) int {
	t.Helper()
	i := partIndexM(m, pred)
	require.GreaterOrEqual(t, i, 0)
	return i
}

func partIndexM(m manifest, pred func(manifestPart) bool) int {
	return slices.IndexFunc(m.Parts, pred)
}

func partOffset(m manifest, idx int) int {
	off := 0
	for _, p := range m.Parts[:idx] {
		off += int(p.Len) + 4
	}
	return off
}

func TestPortableMatchesRoaring(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := map[string]*roaring.Bitmap{
		"empty":  roaring.New(),
		"one":    roaring.BitmapOf(1 << 31),
		"sparse": roaring.New(),
		"dense":  roaring.New(),
		"runs":   roaring.New(),
		"full":   roaring.New(),
		"mixed":  roaring.New(),
		"mid":    roaring.New(), // held as bits, written as arrays
	}
	for range 9000 {
		shapes["mid"].Add(rng.Uint32N(3 << 16))
	}
	for range 3000 {
		shapes["sparse"].Add(rng.Uint32())
	}
	for range 200000 {
		shapes["dense"].Add(rng.Uint32N(300000))
	}
	shapes["runs"].AddRange(10, 70000)
	shapes["runs"].AddRange(200000, 200001)
	shapes["full"].AddRange(1<<16, 3<<16)
	shapes["mixed"].Or(shapes["sparse"])
	shapes["mixed"].Or(shapes["dense"])
	shapes["mixed"].Or(shapes["full"])
	for name, rb := range shapes {
		t.Run(name, func(t *testing.T) {
			b := bitmapFromRoaring(1, rb)
			var buf bytes.Buffer
			n, err := b.writePortable(&buf)
			require.NoError(t, err)
			assert.Equal(t, b.portableSize(), n)
			assert.Equal(t, int64(buf.Len()), n)
			// roaring/v2 reads what we write ...
			back := roaring.New()
			_, err = back.ReadFrom(bytes.NewReader(buf.Bytes()))
			require.NoError(t, err)
			assert.True(t, rb.Equals(back))
			// ... and writes the same bytes as ours for the same
			// containers (no runs).
			theirs, err := b.toRoaring().ToBytes()
			require.NoError(t, err)
			assert.True(t, bytes.Equal(theirs, buf.Bytes()), "roaring/v2 writes other bytes")
			// We read its bytes with run containers.
			withRuns := rb.Clone()
			withRuns.RunOptimize()
			rbytes, err := withRuns.ToBytes()
			require.NoError(t, err)
			ours, err := readPortable(rbytes)
			require.NoError(t, err)
			assert.True(t, rb.Equals(ours.toRoaring()))
			assert.Equal(t, rb.GetCardinality(), ours.card())
		})
	}
}

func TestExportIsPortable(t *testing.T) {
	v := smallIndex(t).View()
	var buf bytes.Buffer
	_, err := v.Export(&buf, Or(Tag("vip"), Enum("tier", "silver")))
	require.NoError(t, err)
	rb := roaring.New()
	_, err = rb.FromBuffer(buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, []uint32{0, 1, 2, 4, 70000}, rb.ToArray())
	_, err = v.Export(&buf, Tag("nope"))
	assert.ErrorIs(t, err, ErrUnknownField)
}

func FuzzReadSnapshot(f *testing.F) {
	ix := smallIndex(f)
	var buf bytes.Buffer
	if _, err := ix.View().WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:20])
	opts := &Options{Location: shanghai}
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := ReadSnapshot(bytes.NewReader(data), opts)
		if err != nil {
			var se *SnapshotError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a SnapshotError: %v", err)
			}
			return
		}
		// Whatever loads writes back byte for byte.
		var out bytes.Buffer
		if _, err := ix.View().WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		again, err := ReadSnapshot(bytes.NewReader(out.Bytes()), opts)
		if err != nil {
			t.Fatalf("rewritten snapshot does not load: %v", err)
		}
		var out2 bytes.Buffer
		again.View().WriteTo(&out2)
		if !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatal("snapshot does not round-trip")
		}
	})
}

func FuzzReadPortable(f *testing.F) {
	for _, rb := range []*roaring.Bitmap{roaring.BitmapOf(1, 2, 3, 1<<20), roaring.New()} {
		b, _ := rb.ToBytes()
		f.Add(b)
		rb.AddRange(100, 5000)
		rb.RunOptimize()
		b, _ = rb.ToBytes()
		f.Add(b)
	}
	dense := roaring.New()
	dense.AddRange(0, 70000)
	dense.Remove(3)
	b, _ := dense.ToBytes()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		bm, err := readPortable(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		// What we accept, roaring/v2 reads as the same set.
		rb := roaring.New()
		if _, err := rb.ReadFrom(bytes.NewReader(data)); err != nil {
			t.Fatalf("we accept bytes roaring rejects: %v", err)
		}
		if !rb.Equals(bm.toRoaring()) {
			t.Fatal("we decode a different set than roaring")
		}
	})
}
