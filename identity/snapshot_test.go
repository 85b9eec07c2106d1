package identity

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func snapshotBytes(t testing.TB, r *Resolver) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, r.WriteSnapshot(&buf))
	return buf.Bytes()
}

// busyResolver builds a graph with every kind of history: merges, refused
// links, a split, a blocked identifier, an erasure.
func busyResolver(t testing.TB, seed uint64, n int) (*Resolver, Config, *rand.Rand) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	cfg := genConfig(rng)
	obs := genObservations(rng, n, "e", t0)
	r, err := New(cfg)
	require.NoError(t, err)
	for i, o := range obs {
		if _, err := r.Observe(o); err != nil {
			require.ErrorIs(t, err, ErrNoIdentifier) // only the blocked identifier
		}
		switch {
		case i == n/3:
			_, err := r.SplitObservation(obs[i/2].EventID)
			require.NoError(t, err)
		case i == n/2:
			_, err := r.SplitIdentifier(obs[i].Identifiers[0], true)
			require.NoError(t, err)
		case i == 2*n/3:
			p, err := r.Lookup(obs[i].Identifiers[len(obs[i].Identifiers)-1])
			if err == nil {
				_, err = r.Erase(p)
				require.NoError(t, err)
			}
		}
	}
	return r, cfg, rng
}

func TestSnapshotRestoreEqualsNeverStopped(t *testing.T) {
	for seed := range uint64(20) {
		r, cfg, rng := busyResolver(t, seed, 120)
		snap := snapshotBytes(t, r)
		restored, err := RestoreSnapshot(bytes.NewReader(snap), cfg)
		require.NoError(t, err, "seed %d", seed)

		assert.Equal(t, partition(t, r), partition(t, restored))
		assert.Equal(t, outcomes(r), outcomes(restored))
		assert.Equal(t, snap, snapshotBytes(t, restored), "a restored graph writes the same snapshot")
		for p := range r.Persons() {
			want, err := r.Explain(p)
			require.NoError(t, err)
			got, err := restored.Explain(p)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		rs, ws := restored.Stats(), r.Stats()
		assert.Equal(t, []int{ws.Persons, ws.Identifiers, ws.Observations}, []int{rs.Persons, rs.Identifiers, rs.Observations})
		assert.Equal(t, strs(r.Blocked()), strs(restored.Blocked()))

		// The same later history on both gives the same graph, byte for byte.
		later := genObservations(rng, 60, "l", t0.AddDate(1, 0, 0))
		for i, o := range later {
			for _, x := range []*Resolver{r, restored} {
				_, err1 := x.Observe(o)
				if err1 != nil {
					require.ErrorIs(t, err1, ErrNoIdentifier)
				}
				if i == 30 {
					_, err := x.SplitObservation(later[10].EventID)
					require.NoError(t, err)
				}
			}
		}
		assert.Equal(t, snapshotBytes(t, r), snapshotBytes(t, restored), "seed %d", seed)
	}
}

// frames splits a snapshot into its frames: tag and byte range.
type frame struct {
	tag        string
	start, end int
}

func frames(t *testing.T, snap []byte) []frame {
	var out []frame
	for off := 12; off < len(snap); {
		size := int(binary.LittleEndian.Uint32(snap[off+4:]))
		out = append(out, frame{string(snap[off : off+4]), off, off + 8 + size + 4})
		off += 8 + size + 4
	}
	require.NotEmpty(t, out)
	return out
}

func TestSnapshotCorruptionNamesThePart(t *testing.T) {
	r, cfg, _ := busyResolver(t, 42, 80)
	snap := snapshotBytes(t, r)
	seen := map[string]bool{}
	for _, f := range frames(t, snap) {
		seen[f.tag] = true
		for _, at := range []int{f.start + 1, f.start + 9, f.end - 5, f.end - 1} {
			bad := bytes.Clone(snap)
			bad[at] ^= 0x20
			_, err := RestoreSnapshot(bytes.NewReader(bad), cfg)
			var ce *CorruptError
			require.ErrorAs(t, err, &ce, "%s byte %d", f.tag, at)
			if at == f.start+1 {
				continue // a broken tag is an unknown frame
			}
			assert.Equal(t, partNames[f.tag], ce.Part, "flip at %d in %s", at, f.tag)
			assert.ErrorContains(t, err, "checksum mismatch")
		}
	}
	for _, tag := range partOrder {
		assert.True(t, seen[tag], "the snapshot has a %s frame", tag)
	}

	cases := map[string][]byte{
		"truncated":   snap[:len(snap)-3],
		"no trailer":  snap[:frames(t, snap)[len(frames(t, snap))-1].start],
		"bad magic":   append([]byte("XDPKITID"), snap[8:]...),
		"bad version": append(append(bytes.Clone(snap[:8]), 9, 0, 0, 0), snap[12:]...),
		"trailing":    append(bytes.Clone(snap), 0),
		"empty":       nil,
	}
	for name, b := range cases {
		_, err := RestoreSnapshot(bytes.NewReader(b), cfg)
		var ce *CorruptError
		assert.ErrorAs(t, err, &ce, name)
	}

	// A frame dropped whole passes every checksum but not the trailer.
	fs := frames(t, snap)
	for i, f := range fs {
		if f.tag == "IDNT" || f.tag == "EVID" {
			bad := append(bytes.Clone(snap[:f.start]), snap[f.end:]...)
			_, err := RestoreSnapshot(bytes.NewReader(bad), cfg)
			var ce *CorruptError
			require.ErrorAs(t, err, &ce, "without frame %d (%s)", i, f.tag)
			break
		}
	}
}

func TestSnapshotConfigMismatch(t *testing.T) {
	r, cfg, _ := busyResolver(t, 7, 30)
	snap := snapshotBytes(t, r)
	change := map[string]func(*Config){
		"limit":    func(c *Config) { c.Kinds[0].Limit = 2 },
		"window":   func(c *Config) { c.Kinds[3].Window = time.Hour },
		"name":     func(c *Config) { c.Kinds[1].Name = "mobile" },
		"order":    func(c *Config) { c.Kinds[0], c.Kinds[1] = c.Kinds[1], c.Kinds[0] },
		"kinds":    func(c *Config) { c.Kinds = append(c.Kinds, Kind{Name: "fax"}) },
		"blocked":  func(c *Config) { c.Kinds[4].Blocked = []string{"k1"} },
		"pattern":  func(c *Config) { c.Kinds[4].BlockedPatterns = []string{"^x"} },
		"caps":     func(c *Config) { c.MaxIdentifiers = 99 },
		"junk":     func(c *Config) { c.Kinds[4].KeepDefaultBlocked = true },
		"perscope": func(c *Config) { c.Kinds[2].LimitPerScope = false },
	}
	for name, f := range change {
		c := cfg
		c.Kinds = append([]Kind(nil), cfg.Kinds...)
		f(&c)
		_, err := RestoreSnapshot(bytes.NewReader(snap), c)
		assert.ErrorIs(t, err, ErrConfigMismatch, name)
	}
	cfg.SizeHint = 1 << 16 // not part of the graph
	_, err := RestoreSnapshot(bytes.NewReader(snap), cfg)
	assert.NoError(t, err)
}

func TestSaveSnapshotIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "identity.snap")
	r, cfg, _ := busyResolver(t, 3, 50)
	require.NoError(t, r.SaveSnapshot(path))
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "personal data: owner only")

	_, err = r.Observe(Observation{EventID: "more", Time: t0, Identifiers: []Identifier{id("card", "new")}})
	require.NoError(t, err)
	require.NoError(t, r.SaveSnapshot(path))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")

	loaded, err := LoadSnapshot(path, cfg)
	require.NoError(t, err)
	assert.Equal(t, snapshotBytes(t, r), snapshotBytes(t, loaded))
	assert.NotEqual(t, first, snapshotBytes(t, loaded))

	err = r.SaveSnapshot(filepath.Join(dir, "missing", "x.snap"))
	assert.Error(t, err)
	_, err = LoadSnapshot(filepath.Join(dir, "missing.snap"), cfg)
	assert.ErrorIs(t, err, os.ErrNotExist)

	// A corrupt file on disk is reported with its path and part.
	bad := bytes.Clone(first)
	bad[len(bad)/2] ^= 1
	require.NoError(t, os.WriteFile(path, bad, 0o600))
	_, err = LoadSnapshot(path, cfg)
	var ce *CorruptError
	assert.ErrorAs(t, err, &ce)
	assert.ErrorContains(t, err, path)
}

// fuzzSeeds are snapshots for the fuzzer to start from.
func fuzzSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, seed := range []uint64{1, 2} {
		r, _, _ := busyResolver(t, seed, 25)
		out = append(out, snapshotBytes(t, r))
	}
	return out
}

func FuzzRestoreSnapshot(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	cfg := genConfig(rand.New(rand.NewPCG(1, 2))) // the config busyResolver(1) used
	f.Fuzz(func(t *testing.T, data []byte) {
		// Mutations rarely keep a checksum right; trying each input also
		// with its checksums repaired fuzzes the decoding behind them.
		for _, in := range [][]byte{data, repairChecksums(data)} {
			restoreFuzzed(t, in, cfg)
			restoreFuzzed(t, in, genConfig(rand.New(rand.NewPCG(2, 3))))
		}
	})
}

// repairChecksums rewrites the CRC of every frame it can find.
func repairChecksums(data []byte) []byte {
	out := bytes.Clone(data)
	for off := 12; off+8 <= len(out); {
		size := int(binary.LittleEndian.Uint32(out[off+4:]))
		end := off + 8 + size
		if size > frameMaxSize || end+4 > len(out) {
			break
		}
		binary.LittleEndian.PutUint32(out[end:], crc32Castagnoli(out[off:end]))
		off = end + 4
	}
	return out
}

func restoreFuzzed(t *testing.T, data []byte, c Config) {
	{
		{
			r, err := RestoreSnapshot(bytes.NewReader(data), c)
			if err != nil {
				var ce *CorruptError
				if !errors.As(err, &ce) && !errors.Is(err, ErrConfigMismatch) {
					t.Fatalf("error neither corruption nor config mismatch: %v", err)
				}
				return
			}
			// Whatever was accepted must be a working graph.
			snap := snapshotBytes(t, r)
			for p := range r.Persons() {
				if _, err := r.Explain(p); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := r.Observe(Observation{EventID: "f", Time: t0, Identifiers: []Identifier{id("card", "c1"), id("cookie", "k1")}}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.SplitObservation("f"); err != nil {
				t.Fatal(err)
			}
			r.mu.RLock()
			err = r.check()
			r.mu.RUnlock()
			if err != nil {
				t.Fatal(err)
			}
			again, err := RestoreSnapshot(bytes.NewReader(snap), c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(snap, snapshotBytes(t, again)) {
				t.Fatal("snapshot does not round-trip")
			}
		}
	}
}

// TestWriteFuzzSeeds refreshes the committed seed corpus under testdata
// when IDENTITY_WRITE_SEEDS=1 (after a format change).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("IDENTITY_WRITE_SEEDS") != "1" {
		t.Skip("set IDENTITY_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzRestoreSnapshot")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRestoreSnapshot")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i, s := range fuzzSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(s)))
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644))
	}
}

// FuzzObserve drives a resolver with observations, splits, erasures and
// unblocks decoded from the input, checking every invariant after each
// step; the same steps on a second resolver (another hash seed) must give
// the same snapshot.
func FuzzObserve(f *testing.F) {
	f.Add([]byte("\x00\x03\x00a1\x02b\x05\x001\x00a1\x09c\x06\x01"))
	f.Add([]byte("\x01\x02\x02\x0b+86 138-0013-8000\x00\x02C1\x07\x00\x02\x0213800138000\x08\x00"))
	f.Add([]byte("\x02\x04\x04\x05oA1\x04\x05oA2\x01\x02U\x09\x03d-1\x06\x00\x07\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Config{Kinds: DefaultKinds(), MaxIdentifiers: 6, MaxMerges: 3}
		run := func() *Resolver {
			r, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			in := data
			next := func() byte {
				if len(in) == 0 {
					return 0
				}
				b := in[0]
				in = in[1:]
				return b
			}
			var events []string
			var seen []Identifier
			for step := 0; len(in) > 0 && step < 64; step++ {
				switch op := next() % 12; {
				case op < 8:
					o := Observation{EventID: fmt.Sprintf("f%d", step), Source: "fuzz", Time: t0.Add(time.Duration(next()) * 7 * time.Hour)}
					for range 1 + next()%4 {
						k := cfg.Kinds[int(next())%len(cfg.Kinds)]
						n := int(next() % 16)
						n = min(n, len(in))
						x := Identifier{Kind: k.Name, Value: string(in[:n])}
						in = in[n:]
						if k.Scoped {
							x.Scope = fmt.Sprintf("wx%d", next()%3)
						}
						o.Identifiers = append(o.Identifiers, x)
					}
					res, err := r.Observe(o)
					if err == nil {
						events = append(events, o.EventID)
						seen = append(seen, o.Identifiers...)
					} else if !errors.Is(err, ErrNoIdentifier) {
						t.Fatal(err)
					}
					_ = res
				case op == 8 && len(events) > 0:
					if _, err := r.SplitObservation(events[int(next())%len(events)]); err != nil && !errors.Is(err, ErrUnknownEvent) {
						t.Fatal(err)
					}
				case op == 9 && len(seen) > 0:
					x := seen[int(next())%len(seen)]
					if _, err := r.SplitIdentifier(x, next()%2 == 0); err != nil && !errors.Is(err, ErrNotFound) &&
						!errors.Is(err, ErrBlocked) && !errors.Is(err, ErrInvalid) {
						t.Fatal(err)
					}
				case op == 10 && len(seen) > 0:
					if p, err := r.Lookup(seen[int(next())%len(seen)]); err == nil {
						if _, err := r.Erase(p); err != nil {
							t.Fatal(err)
						}
					}
				case op == 11 && len(seen) > 0:
					_ = r.Unblock(seen[int(next())%len(seen)])
				}
				r.mu.RLock()
				err := r.check()
				r.mu.RUnlock()
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
			}
			return r
		}
		a, b := run(), run()
		snap := snapshotBytes(t, a)
		if !bytes.Equal(snap, snapshotBytes(t, b)) {
			t.Fatal("the same steps gave different graphs")
		}
		restored, err := RestoreSnapshot(bytes.NewReader(snap), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(snap, snapshotBytes(t, restored)) {
			t.Fatal("snapshot does not round-trip")
		}
	})
}

func crc32Castagnoli(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
