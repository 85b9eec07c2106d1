package cdpkit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// laterCalls are what both the engine that kept running and the one
// restored from its snapshot are given after the snapshot.
func laterCalls(t *testing.T, e *Engine) []any {
	t.Helper()
	ctx := context.Background()
	var out []any
	r, err := e.RecordOrder(ctx, Order{ID: "B2", Person: 1, Time: day(3, 16), Channel: "online", Amount: 1000})
	require.NoError(t, err)
	out = append(out, r.Tags, r.Receipt.After)
	r, err = e.RecordOrder(ctx, Order{ID: "A1", Identifiers: []identity.Identifier{card("A")}, Time: day(1, 5), Channel: "store",
		Lines: []Line{{Category: "rx_diabetes", Amount: 12000, DaysSupply: 30}}})
	require.NoError(t, err)
	out = append(out, r.Replayed)
	o, err := e.Observe(ctx, identity.Observation{EventID: "link-bc", Time: day(3, 17), Identifiers: []identity.Identifier{card("B"), phone("13900000003")}})
	require.NoError(t, err)
	out = append(out, o.Result, o.Tags)
	r, err = e.RecordOrder(ctx, Order{ID: "D1", Identifiers: []identity.Identifier{phone("13700000004")}, Time: day(3, 18), Amount: 700,
		Lines: []Line{{Category: "rx_diabetes", Amount: 700, DaysSupply: 60}}})
	require.NoError(t, err)
	out = append(out, r.Person, r.Identity.Created)
	tc, err := e.SetAttributes(ctx, 3, day(3, 18), map[string]any{"age": 70})
	require.NoError(t, err)
	out = append(out, tc)
	res, err := e.RefreshTags(ctx, day(3, 20))
	require.NoError(t, err)
	out = append(out, res.Persons, res.Tags, res.Segments)
	for _, expr := range []string{`tag("refill_week")`, `tag("senior") && tag("diabetic")`, `active("purchase", "30d")`, `rfm_segment == "Champions"`, `segment("regulars")`} {
		bm, err := e.Members(expr)
		require.NoError(t, err)
		out = append(out, expr, bm.ToArray())
	}
	arms, err := e.Split(`true`, "salt", armsOf(90, 10)...)
	require.NoError(t, err)
	out = append(out, arms[0].ToArray(), arms[1].ToArray())
	ex, err := e.ExplainTag(1, "big", day(3, 20))
	require.NoError(t, err)
	out = append(out, ex.String())
	b, err := e.Balance(ctx, 2, day(3, 20))
	require.NoError(t, err)
	out = append(out, b.Totals, b.MergedFrom)
	why, err := e.Explain(2)
	require.NoError(t, err)
	out = append(out, why.Identifiers)
	return out
}

// TestSnapshotRestoreSameAnswers checks that an engine restored from a
// snapshot, given the same later calls, answers exactly as the engine
// that never stopped: tag changes, receipts, replays, merges, counts,
// members, splits, explanations and balances, and then every field of
// the index and every profile.
func TestSnapshotRestoreSameAnswers(t *testing.T) {
	ctx := context.Background()
	e, _ := newScenario(t)
	require.NoError(t, e.SaveSegment("regulars", `orders_total >= 2`))
	_, err := e.PollSegments(ctx)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "snap")
	require.NoError(t, e.Snapshot(ctx, dir))
	fi, err := os.Lstat(dir)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "the snapshot is swapped in as a link")

	r, err := Open(ctx, dir, scenarioConfig(t))
	require.NoError(t, err)
	defer r.Close()
	assertSameEngines(t, e, r, day(3, 15))

	want := laterCalls(t, e)
	got := laterCalls(t, r)
	assert.Equal(t, want, got)
	assertSameEngines(t, e, r, day(3, 20))

	// A second snapshot replaces the first and leaves one directory.
	require.NoError(t, r.Snapshot(ctx, dir))
	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	assert.Len(t, entries, 2, "the link and the directory it points at")
	r2, err := Open(ctx, dir, scenarioConfig(t))
	require.NoError(t, err)
	assertSameEngines(t, r, r2, day(3, 20))
}

func TestSnapshotConfigMismatch(t *testing.T) {
	ctx := context.Background()
	e, _ := newScenario(t)
	dir := filepath.Join(t.TempDir(), "snap")
	require.NoError(t, e.Snapshot(ctx, dir))
	cfg := scenarioConfig(t)
	cfg.Channels = []string{"store", "online", "o2o"}
	_, err := Open(ctx, dir, cfg)
	assert.ErrorIs(t, err, ErrConfigMismatch)
	var se *SnapshotError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "engine", se.Part)

	cfg = scenarioConfig(t)
	cfg.Identity.MaxMerges = 3
	_, err = Open(ctx, dir, cfg)
	assert.ErrorIs(t, err, identity.ErrConfigMismatch)
}

// TestSnapshotCorruption damages each part in turn: the error names it.
func TestSnapshotCorruption(t *testing.T) {
	ctx := context.Background()
	e, _ := newScenario(t)
	dir := filepath.Join(t.TempDir(), "snap")
	require.NoError(t, e.Snapshot(ctx, dir))
	real, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	for _, part := range snapshotParts {
		t.Run(part.name, func(t *testing.T) {
			path := filepath.Join(real, part.file)
			orig, err := os.ReadFile(path)
			require.NoError(t, err)
			defer func() { require.NoError(t, os.WriteFile(path, orig, 0o600)) }()
			for _, damage := range []struct {
				name string
				data []byte
			}{
				{"flipped", flipByte(orig, len(orig)/2)},
				{"truncated", orig[:len(orig)/2]},
			} {
				require.NoError(t, os.WriteFile(path, damage.data, 0o600))
				_, err := Open(ctx, dir, scenarioConfig(t))
				require.Error(t, err, damage.name)
				assert.ErrorIs(t, err, ErrCorrupt, damage.name)
				var se *SnapshotError
				require.ErrorAs(t, err, &se, damage.name)
				assert.Equal(t, part.name, se.Part, damage.name)
			}
		})
	}
	t.Run("manifest", func(t *testing.T) {
		path := filepath.Join(real, manifestFile)
		orig, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, bytes.Replace(orig, []byte("part tags"), []byte("part tagz"), 1), 0o600))
		_, err = Open(ctx, dir, scenarioConfig(t))
		var se *SnapshotError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "manifest", se.Part)
		assert.ErrorIs(t, err, ErrCorrupt)
		require.NoError(t, os.Remove(path))
		_, err = Open(ctx, dir, scenarioConfig(t))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func flipByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x21
	return c
}

// TestSnapshotWithoutLoyalty covers an engine without a programme, host
// attributes or tags.
func TestSnapshotWithoutLoyalty(t *testing.T) {
	ctx := context.Background()
	e, err := New(Config{})
	require.NoError(t, err)
	_, err = e.RecordOrder(ctx, Order{ID: "1", Identifiers: []identity.Identifier{card("Z")}, Time: day(1, 2), Amount: 100})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "s")
	require.NoError(t, e.Snapshot(ctx, dir))
	r, err := Open(ctx, dir, Config{})
	require.NoError(t, err)
	assertSameEngines(t, e, r, day(1, 3))
	p, err := r.Lookup(card("Z"))
	require.NoError(t, err)
	assert.Equal(t, identity.PersonID(0), p)
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(manifestHeader + "\npart engine engine.bin 12 " + strings.Repeat("ab", 32) + "\nsum " + strings.Repeat("00", 32) + "\n"))
	f.Add([]byte("cdpkit snapshot 1\nsum x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err != nil {
			assert.ErrorIs(t, err, ErrCorrupt)
			return
		}
		for name, p := range m.parts {
			assert.NotEmpty(t, name)
			assert.GreaterOrEqual(t, p.size, int64(0))
		}
	})
}

// FuzzReadProfiles feeds the Engine's own decoders — the profile tables,
// the window log and the engine state — arbitrary bytes: they must refuse
// what they cannot read with ErrCorrupt and never panic.
func FuzzReadProfiles(f *testing.F) {
	e, _ := newScenario(&testing.T{})
	for _, part := range []string{"profiles", "windows", "engine"} {
		var buf bytes.Buffer
		require.NoError(f, e.partWriter(part)(&buf))
		f.Add(part, buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, part string, data []byte) {
		x, err := New(scenarioConfig(t))
		require.NoError(t, err)
		x.growTo(3) // the scenario's persons
		d := newDec(bytes.NewReader(data))
		switch part {
		case "profiles":
			readTable(d, x.st.attrs, 3)
			readTable(d, x.st.der, 3)
			err = d.end()
		case "windows":
			readWinLog(d, x.st.win, 3)
			err = d.end()
		default:
			err = x.readEngine(bytes.NewReader(data), 3)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrConfigMismatch) {
			t.Fatalf("%s: %v", part, err)
		}
	})
}

func TestTagsSurviveSnapshot(t *testing.T) {
	ctx := context.Background()
	e, _ := newScenario(t)
	dir := filepath.Join(t.TempDir(), "snap")
	require.NoError(t, e.Snapshot(ctx, dir))
	r, err := Open(ctx, dir, scenarioConfig(t))
	require.NoError(t, err)
	var names []string
	for _, tg := range r.Tags().Tags() {
		names = append(names, tg.Name())
	}
	assert.ElementsMatch(t, []string{"diabetic", "refill_week", "big", "senior", "online_buyer"}, names)
	d, ok := r.Tags().Tag("refill_week")
	require.True(t, ok)
	assert.Equal(t, scenarioTags[1], d.Definition())
	require.NoError(t, r.DefineTags(tags.Definition{Name: "vip", Rule: "spend_total >= 20000"}))
}

func armsOf(weights ...uint32) []segment.Arm {
	var out []segment.Arm
	for i, w := range weights {
		out = append(out, segment.Arm{Name: string(rune('a' + i)), Weight: w})
	}
	return out
}
