package suite

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tiny gives the size each suite runs at in short tests, small enough for
// -race on two cores, and the generation chunk: many chunks per run, so
// the parallel generation and its concatenation in member order are
// exercised. The segment suite runs past 65,536 members so that bitmaps
// span several roaring containers.
var tiny = map[string]struct{ members, chunk int }{
	"segment":  {70_000, 0},
	"tags":     {20_000, 4096},
	"identity": {20_000, 4096},
	"rfm":      {20_000, 4096},
	"loyalty":  {20_000, 4096},
}

// runSuite runs one suite at n members with one timed run per
// implementation and returns its results, failing the test on any mismatch
// or implementation error.
func runSuite(t *testing.T, name string, n, chunk int) []harness.Result {
	t.Helper()
	ss, err := Select(name)
	require.NoError(t, err)
	require.Len(t, ss, 1)
	var log bytes.Buffer
	r := harness.NewRunner(harness.Options{Runs: 1, Log: &log}, nil)
	env := &Env{Seed: Seed, Members: n, Runner: r, TempDir: t.TempDir(), Short: true, chunk: chunk}
	require.NoError(t, ss[0].Run(context.Background(), env))
	for _, f := range r.Failures() {
		t.Errorf("%v", f)
	}
	if t.Failed() {
		t.Logf("runner log:\n%s", log.String())
	}
	return r.Results()
}

// impls lists the implementations with a result for a case.
func impls(rs []harness.Result, cas string) []string {
	var out []string
	for _, r := range rs {
		if r.Case == cas {
			out = append(out, r.Impl)
		}
	}
	return out
}

// TestSuites runs every suite at a tiny size: each peer's answer is checked
// against cdpkit's by the runner, and every case the design names must have
// cdpkit and its peers measured.
func TestSuites(t *testing.T) {
	want := map[string]map[string][]string{
		"segment": {
			"load":            {"cdpkit", "duckdb", "memfloor"},
			"and2_count":      {"cdpkit", "memfloor", "scan", "duckdb"},
			"expr10_count":    {"cdpkit", "duckdb", "scan"},
			"bsi_range_count": {"cdpkit", "duckdb", "scan"},
		},
		"tags":     {"load": {"cdpkit"}, "rule_eval": {"cdpkit", "exprlang", "celmap", "closure"}, "refresh20": {"cdpkit", "cdpkit-interp", "closure"}},
		"identity": {"load": {"duckdb"}, "resolve": {"cdpkit", "unionfind", "duckdb"}},
		"rfm":      {"load": {"duckdb"}, "rfm_scores": {"cdpkit", "duckdb"}},
		"loyalty":  {"durable_tx": {"cdpkit"}, "memory_tx": {"cdpkit"}},
	}
	for _, s := range All() {
		t.Run(s.Name, func(t *testing.T) {
			size, ok := tiny[s.Name]
			require.True(t, ok, "no test size for suite %s", s.Name)
			n := size.members
			if !testing.Short() {
				n *= 10
			}
			rs := runSuite(t, s.Name, n, size.chunk)
			for cas, peers := range want[s.Name] {
				got := impls(rs, cas)
				for _, p := range peers {
					assert.Contains(t, got, p, "%s/%s", s.Name, cas)
				}
			}
			for _, r := range rs {
				assert.Equal(t, n, r.Members)
				assert.Equal(t, s.Name, r.Suite)
				assert.Positive(t, r.MedianNS, "%s/%s %s", r.Suite, r.Case, r.Impl)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	ss, err := Select("rfm, segment")
	require.NoError(t, err)
	require.Len(t, ss, 2)
	assert.Equal(t, "segment", ss[0].Name, "suites run in All's order")
	assert.Equal(t, "rfm", ss[1].Name)
	all, err := Select("all")
	require.NoError(t, err)
	assert.Equal(t, []string{"segment", "tags", "identity", "rfm", "loyalty"}, Names())
	assert.Len(t, all, 5)
	_, err = Select("segment,nope")
	assert.ErrorContains(t, err, `unknown suite "nope"`)
}

func TestPeerNormalize(t *testing.T) {
	tests := []struct {
		kind, in, want string
		ok             bool
	}{
		{"phone", "13912345678", "13912345678", true},
		{"phone", "+86 139-1234-5678", "13912345678", true},
		{"phone", "+8613912345678", "13912345678", true},
		{"phone", "0086 13912345678", "13912345678", true},
		{"phone", "139 1234 5678", "13912345678", true},
		{"phone", "86-13912345678", "13912345678", true},
		{"phone", "12912345678", "", false}, // 12x is not a mobile prefix
		{"phone", "1391234567", "", false},  // ten digits
		{"phone", "13800000000", "", false}, // the well-known placeholder
		{"phone", "00000000000", "", false},
		{"phone", "null", "", false},
		{"device_id", "ABCD-ef", "abcd-ef", true},
		{"member_card", " 61234 ", "61234", true},
		{"member_card", "", "", false},
		{"taobao_id", "anonymous", "", false},
		{"jd_id", "undefined", "", false},
		{"jd_id", "-1", "", false},
	}
	for _, tt := range tests {
		got, ok := peerNormalize(tt.kind, tt.in)
		assert.Equal(t, tt.ok, ok, "%s %q", tt.kind, tt.in)
		assert.Equal(t, tt.want, got, "%s %q", tt.kind, tt.in)
	}
}

// TestUnionFindAndDuckDB checks both identity peers on a graph worked out
// by hand: observations {a,b} {b,c} {d} {} {e,a} {f,g} form persons
// {a,b,c,e}, {d} and {f,g}, and the empty observation stays unresolved.
func TestUnionFindAndDuckDB(t *testing.T) {
	const a, b, c, d, e, f, g = 0, 1, 2, 3, 4, 5, 6
	data := &idData{
		off:    []uint32{0, 2, 4, 5, 5, 7, 9},
		nodes:  []uint32{a, b, b, c, d, e, a, f, g},
		nNodes: 7,
	}
	want := harness.Answer{Count: 3, Partition: []uint32{1, 1, 2, noPerson, 1, 3}}
	labels, persons := unionFind(data)
	require.NoError(t, harness.Check(want, harness.Answer{Count: persons, Partition: labels}))

	db, err := openDuck()
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	env := &Env{}
	require.NoError(t, loadDuckIdentity(ctx, env, db, data))
	im := duckResolveImpl(db, data)
	got, err := im.Full(ctx)
	require.NoError(t, err)
	assert.NoError(t, harness.Check(want, got))
}

// TestDuckComponentsLongChain checks that label propagation with pointer
// jumping converges on a path, the worst case for plain propagation, in
// far fewer rounds than the path is long.
func TestDuckComponentsLongChain(t *testing.T) {
	const n = 1000
	data := &idData{off: []uint32{0}}
	// Observation i links nodes i and i+1, with node IDs shuffled so the
	// least label starts in the middle of the path.
	id := func(i int) uint32 { return uint32((i * 7919) % (n + 1)) }
	for i := range n {
		data.nodes = append(data.nodes, id(i), id(i+1))
		data.off = append(data.off, uint32(len(data.nodes)))
	}
	db, err := openDuck()
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	require.NoError(t, loadDuckIdentity(ctx, &Env{}, db, data))
	conn, err := db.db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	rounds, err := duckComponents(ctx, conn)
	require.NoError(t, err)
	t.Logf("%d rounds", rounds)
	assert.Less(t, rounds, 30, "pointer jumping should take O(log n) rounds on a path of %d", n)
	var persons, minLabel int64
	require.NoError(t, conn.QueryRowContext(ctx, "SELECT count(DISTINCT label), min(label) FROM lbl").Scan(&persons, &minLabel))
	assert.Equal(t, int64(1), persons)
	assert.Equal(t, int64(0), minLabel)
}

func TestMemfloorAndWords(t *testing.T) {
	col := make([]bool, 200)
	for _, i := range []int{0, 63, 64, 130, 199} {
		col[i] = true
	}
	w := words(col)
	require.Len(t, w, 4)
	assert.Equal(t, []uint32{0, 63, 64, 130, 199}, wordMembers(w))
	other := make([]bool, 200)
	other[63], other[130], other[131] = true, true, true
	f := &memfloor{a: w, b: words(other)}
	assert.Equal(t, int64(2), f.count())
	assert.Equal(t, []uint32{63, 130}, wordMembers(f.and()))
}

// TestRuleClosureMatchesText checks the hand-written closure against the
// rule's text on members picked to flip each term.
func TestRuleClosureMatchesText(t *testing.T) {
	base := tagRecord{Age: 50, City: "重庆", Channel: "store", Channels: []string{"store"}, Conditions: []string{"diabetes"}, Spend365d: 0}
	recs := []tagRecord{base}
	mod := func(f func(r *tagRecord)) {
		r := base
		f(&r)
		recs = append(recs, r)
	}
	mod(func(r *tagRecord) { r.Channel = "wechat" })                                    // true
	mod(func(r *tagRecord) { r.City = "上海" })                                           // true
	mod(func(r *tagRecord) { r.Channels = []string{"store", "meituan"} })               // true
	mod(func(r *tagRecord) { r.City = "上海"; r.Lapsed = true })                          // false: lapsed
	mod(func(r *tagRecord) { r.City = "上海"; r.Age = 39 })                               // false: age
	mod(func(r *tagRecord) { r.City = "上海"; r.Conditions = []string{} })                // false: no condition, no spend
	mod(func(r *tagRecord) { r.City = "上海"; r.Conditions = nil; r.Spend365d = 100000 }) // true: spend
	want := []bool{false, true, true, true, false, false, false, true}
	d := &tagData{recs: recs}
	for _, mk := range []func(*tagData) (harness.Impl, error){exprImpl, celMapImpl, func(d *tagData) (harness.Impl, error) { return closureImpl(d), nil }} {
		im, err := mk(d)
		require.NoError(t, err)
		ans, err := im.Full(context.Background())
		require.NoError(t, err)
		var got []bool
		for i := range recs {
			got = append(got, contains(ans.Members, uint32(i)))
		}
		assert.Equal(t, want, got, im.Name)
	}
}

func contains(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestContextCancelStopsGeneration(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := harness.NewRunner(harness.Options{Runs: 1}, nil)
	err := segmentSuite().Run(ctx, &Env{Seed: Seed, Members: 200_000, Runner: r})
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}
