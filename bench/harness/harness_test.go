package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		want, got Answer
		err       string // substring; empty for equal
	}{
		{"equal counts", Answer{Count: 3}, Answer{Count: 3}, ""},
		{"count differs", Answer{Count: 3}, Answer{Count: 4}, "count 4, want 3"},
		{"members unchecked when reference has none", Answer{Count: 2}, Answer{Count: 2, Members: []uint32{9, 1}}, ""},
		{"same members", Answer{Count: 3, Members: []uint32{1, 5, 9}}, Answer{Count: 3, Members: []uint32{1, 5, 9}}, ""},
		{"member missing", Answer{Count: 3, Members: []uint32{1, 5, 9}}, Answer{Count: 3, Members: []uint32{1, 6, 9}}, "member 5 missing"},
		{"extra member at the end", Answer{Count: 2, Members: []uint32{1, 5}}, Answer{Count: 2, Members: []uint32{1, 5, 7}}, "member 7 not expected"},
		{"missing at the end", Answer{Count: 2, Members: []uint32{1, 5}}, Answer{Count: 2, Members: []uint32{1}}, "member 5 missing"},
		{"unsorted members", Answer{Count: 2, Members: []uint32{1, 5}}, Answer{Count: 2, Members: []uint32{5, 1}}, "increasing order"},
		{"no member list", Answer{Count: 2, Members: []uint32{1, 5}}, Answer{Count: 2}, "no member list"},
		{"same values", Answer{Values: []int64{5, -1, 3}}, Answer{Values: []int64{5, -1, 3}}, ""},
		{"value differs", Answer{Values: []int64{5, -1, 3}}, Answer{Values: []int64{5, 1, 3}}, "value 1 is 1, want -1"},
		{"value count differs", Answer{Values: []int64{5}}, Answer{Values: []int64{5, 1}}, "2 values, want 1"},
		// {0,2} {1} {3} under two labellings.
		{"partition relabelled", Answer{Partition: []uint32{7, 8, 7, 9}}, Answer{Partition: []uint32{0, 1, 0, 2}}, ""},
		{"partition with large labels", Answer{Partition: []uint32{1 << 31, 8, 1 << 31, 9}}, Answer{Partition: []uint32{0, 1, 0, 2}}, ""},
		// got splits {0,2}.
		{"partition split", Answer{Partition: []uint32{7, 8, 7, 9}}, Answer{Partition: []uint32{0, 1, 3, 2}}, "items 0 and 2 are apart"},
		// got joins {1} and {3}.
		{"partition joined", Answer{Partition: []uint32{7, 8, 7, 9}}, Answer{Partition: []uint32{0, 1, 0, 1}}, "items 1 and 3 are in one group"},
		// got joins everything: item 1 has want's new label 8 but got's old label 0.
		{"partition all in one", Answer{Partition: []uint32{7, 8}}, Answer{Partition: []uint32{0, 0}}, "items 0 and 1 are in one group"},
		{"partition length", Answer{Partition: []uint32{7, 8}}, Answer{Partition: []uint32{0}}, "1 items partitioned, want 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.want, tt.got)
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

// fakeImpl counts calls and answers with the count its answer function
// gives for the call number.
type fakeImpl struct {
	name  string
	calls int
	log   *[]string
	count func(call int) int64
}

func (f *fakeImpl) impl() Impl {
	return Impl{Name: f.name, Run: func(context.Context) (Answer, error) {
		f.calls++
		*f.log = append(*f.log, f.name)
		return Answer{Count: f.count(f.calls)}, nil
	}}
}

func constant(n int64) func(int) int64 { return func(int) int64 { return n } }

// slowOpts makes every run a single operation: MinRunTime below any
// measurable time keeps ops at 1.
var slowOpts = Options{Runs: 3, MinRunTime: time.Nanosecond}

func TestRunnerRotatesAndReports(t *testing.T) {
	var log []string
	a := &fakeImpl{name: "cdpkit", log: &log, count: constant(7)}
	b := &fakeImpl{name: "duckdb", log: &log, count: constant(7)}
	c := &fakeImpl{name: "scan", log: &log, count: constant(7)}
	var emitted []Result
	r := NewRunner(slowOpts, func(res Result) { emitted = append(emitted, res) })
	err := r.Run(context.Background(), Case{Suite: "s", Name: "c", Members: 10, Impls: []Impl{a.impl(), b.impl(), c.impl()}})
	require.NoError(t, err)
	assert.Empty(t, r.Failures())
	// Warm-up in declared order, then three rounds rotated by one each.
	assert.Equal(t, []string{
		"cdpkit", "duckdb", "scan",
		"cdpkit", "duckdb", "scan",
		"duckdb", "scan", "cdpkit",
		"scan", "cdpkit", "duckdb",
	}, log)
	require.Len(t, emitted, 3)
	for i, name := range []string{"cdpkit", "duckdb", "scan"} {
		res := emitted[i]
		assert.Equal(t, name, res.Impl)
		assert.Equal(t, "s", res.Suite)
		assert.Equal(t, "c", res.Case)
		assert.Equal(t, 10, res.Members)
		assert.Equal(t, 3, res.Runs)
		assert.Equal(t, 1, res.Ops)
		assert.LessOrEqual(t, res.MinNS, res.MedianNS)
		assert.LessOrEqual(t, res.MedianNS, res.MaxNS)
	}
	assert.Equal(t, emitted, r.Results())
}

func TestRunnerDropsMismatchedPeer(t *testing.T) {
	var log []string
	ref := &fakeImpl{name: "cdpkit", log: &log, count: constant(7)}
	wrong := &fakeImpl{name: "duckdb", log: &log, count: constant(8)}
	// Right at warm-up, wrong on its second timed run.
	drift := &fakeImpl{name: "scan", log: &log, count: func(call int) int64 {
		if call == 3 {
			return 6
		}
		return 7
	}}
	r := NewRunner(slowOpts, nil)
	err := r.Run(context.Background(), Case{Suite: "s", Name: "c", Members: 10, Impls: []Impl{ref.impl(), wrong.impl(), drift.impl()}})
	require.NoError(t, err)
	require.Len(t, r.Failures(), 2)
	var mm *MismatchError
	require.True(t, errors.As(r.Failures()[0], &mm))
	assert.Equal(t, "duckdb", mm.Impl)
	assert.Equal(t, "cdpkit", mm.Ref)
	assert.Contains(t, mm.Error(), "count 8, want 7")
	require.True(t, errors.As(r.Failures()[1], &mm))
	assert.Equal(t, "scan", mm.Impl)
	assert.Equal(t, 1, wrong.calls, "a peer wrong at warm-up is not timed")
	assert.Equal(t, 3, drift.calls, "a peer wrong in a timed run is dropped at once")
	res := r.Results()
	require.Len(t, res, 1)
	assert.Equal(t, "cdpkit", res[0].Impl)
}

func TestRunnerChecksFullAnswer(t *testing.T) {
	members := func(m ...uint32) func(context.Context) (Answer, error) {
		return func(context.Context) (Answer, error) { return Answer{Count: int64(len(m)), Members: m}, nil }
	}
	count2 := func(context.Context) (Answer, error) { return Answer{Count: 2}, nil }
	r := NewRunner(slowOpts, nil)
	err := r.Run(context.Background(), Case{Suite: "s", Name: "c", Members: 10, Impls: []Impl{
		{Name: "cdpkit", Run: count2, Full: members(1, 4)},
		{Name: "scan", Run: count2, Full: members(1, 4)},
		{Name: "duckdb", Run: count2, Full: members(1, 5)},
	}})
	require.NoError(t, err)
	require.Len(t, r.Failures(), 1)
	assert.Contains(t, r.Failures()[0].Error(), "duckdb disagrees with cdpkit: member 4 missing")
	assert.Len(t, r.Results(), 2)
}

func TestRunnerReferenceError(t *testing.T) {
	calls := 0
	r := NewRunner(slowOpts, nil)
	err := r.Run(context.Background(), Case{Suite: "s", Name: "c", Members: 10, Impls: []Impl{
		{Name: "cdpkit", Run: func(context.Context) (Answer, error) { return Answer{}, errors.New("boom") }},
		{Name: "scan", Run: func(context.Context) (Answer, error) { calls++; return Answer{}, nil }},
	}})
	require.NoError(t, err)
	require.Len(t, r.Failures(), 1)
	assert.Contains(t, r.Failures()[0].Error(), "s/c at 10 members: cdpkit: boom")
	assert.Zero(t, calls, "without the reference no peer can be checked")
	assert.Empty(t, r.Results())
}

func TestRunnerCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := NewRunner(slowOpts, nil)
	err := r.Run(ctx, Case{Suite: "s", Name: "c", Members: 10, Impls: []Impl{
		{Name: "cdpkit", Run: func(context.Context) (Answer, error) { cancel(); return Answer{}, nil }},
		{Name: "scan", Run: func(context.Context) (Answer, error) { return Answer{}, nil }},
	}})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestPlan(t *testing.T) {
	r := NewRunner(Options{Budget: time.Second, MinRuns: 3, MaxRuns: 15, MinRunTime: 20 * time.Millisecond}, nil)
	tests := []struct {
		name      string
		warm      time.Duration
		ops, runs int
	}{
		{"quick work is repeated within a run", time.Millisecond, 20, 15},
		{"budget sets the runs", 200 * time.Millisecond, 1, 5},
		{"at least MinRuns when affordable", 800 * time.Millisecond, 1, 3},
		{"one run when MinRuns would take over four budgets", 2 * time.Second, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, runs := r.plan(tt.warm)
			assert.Equal(t, tt.ops, ops)
			assert.Equal(t, tt.runs, runs)
		})
	}
}

func TestLoads(t *testing.T) {
	var emitted []Result
	r := NewRunner(slowOpts, func(res Result) { emitted = append(emitted, res) })
	var keep [][]byte
	ok, err := r.Loads(context.Background(), "s", 10, []Load{
		{Impl: "cdpkit", Run: func(context.Context) (Answer, error) {
			keep = append(keep, make([]byte, 8<<20))
			return Answer{Count: 10}, nil
		}},
		{Impl: "duckdb", Run: func(context.Context) (Answer, error) { return Answer{Count: 10}, nil }, Held: func() int64 { return 12345 }},
		{Impl: "scan", Run: func(context.Context) (Answer, error) { return Answer{Count: 9}, nil }},
		{Impl: "memfloor", Run: func(context.Context) (Answer, error) { return Answer{}, errors.New("out of memory") }},
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"cdpkit": true, "duckdb": true}, ok)
	require.Len(t, emitted, 2)
	assert.Equal(t, "load", emitted[0].Case)
	assert.InDelta(t, 8<<20, emitted[0].Bytes, 1<<20, "an 8 MiB load holds 8 MiB, give or take other garbage")
	assert.Equal(t, int64(12345), emitted[1].Bytes)
	assert.Equal(t, 1, emitted[1].Runs)
	require.Len(t, r.Failures(), 2)
	assert.Contains(t, r.Failures()[0].Error(), "scan disagrees with cdpkit: count 9, want 10")
	assert.Contains(t, r.Failures()[1].Error(), "memfloor: out of memory")
	assert.Len(t, keep, 1)
}

func sample() []Result {
	return []Result{
		{Suite: "segment", Case: "and2_count", Members: 1000, Impl: "cdpkit", MedianNS: 1000, MinNS: 900, MaxNS: 1100, Runs: 5, Ops: 100, Bytes: 0},
		{Suite: "segment", Case: "and2_count", Members: 1000, Impl: "memfloor", MedianNS: 1500, MinNS: 1400, MaxNS: 1600, Runs: 5, Ops: 100},
		{Suite: "segment", Case: "expr10_count", Members: 1000, Impl: "cdpkit", MedianNS: 2000, MinNS: 2000, MaxNS: 2000, Runs: 5, Ops: 100},
		{Suite: "segment", Case: "expr10_count", Members: 1000, Impl: "duckdb", MedianNS: 100_000, MinNS: 90_000, MaxNS: 200_000, Runs: 5, Ops: 1, Bytes: 2 << 20},
		{Suite: "segment", Case: "expr10_count", Members: 1_000_000, Impl: "cdpkit", MedianNS: 200_000, MinNS: 200_000, MaxNS: 200_000, Runs: 5, Ops: 1},
		{Suite: "segment", Case: "expr10_count", Members: 1_000_000, Impl: "duckdb", MedianNS: 3_000_000, MinNS: 3_000_000, MaxNS: 3_000_000, Runs: 5, Ops: 1},
		{Suite: "loyalty", Case: "durable_tx", Members: 1000, Impl: "cdpkit", MedianNS: 50_000, MinNS: 40_000, MaxNS: 60_000, Runs: 3, Ops: 1000},
	}
}

func TestJSONContract(t *testing.T) {
	var b bytes.Buffer
	for _, r := range sample() {
		require.NoError(t, WriteJSON(&b, r))
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, len(sample()))
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &raw))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	// The field names DESIGN.md's benchmark contract fixes.
	assert.ElementsMatch(t, []string{"suite", "case", "members", "impl", "median_ns", "min_ns", "max_ns", "runs", "ops", "bytes"}, keys)
	back, err := ReadJSON(&b, "results.jsonl")
	require.NoError(t, err)
	assert.Equal(t, sample(), back)
}

func TestReadJSONErrors(t *testing.T) {
	_, err := ReadJSON(strings.NewReader("\n{\"suite\":\"s\"}\n"), "r.jsonl")
	assert.ErrorContains(t, err, "r.jsonl:2: result lacks")
	_, err = ReadJSON(strings.NewReader(`{"suite":"s","case":"c","members":1,"impl":"x","runs":1,"colour":1}`), "r.jsonl")
	assert.ErrorContains(t, err, "r.jsonl:1:")
	_, err = ReadJSON(strings.NewReader(`{"suite":`), "r.jsonl")
	assert.ErrorContains(t, err, "r.jsonl:1:")
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, sample()))
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 1+len(sample()))
	assert.Contains(t, lines[0], "peer/cdpkit")
	// memfloor 1500 ns over cdpkit 1000 ns.
	assert.Contains(t, lines[2], "memfloor")
	assert.Contains(t, lines[2], "1.50×")
	// duckdb 100 µs over 2 µs, and 3 ms over 200 µs at 1M.
	assert.Contains(t, lines[4], "50.0×")
	assert.Contains(t, lines[6], "15.0×")
	assert.Contains(t, lines[5], "1M")
}

func TestGroupReplacesLaterResults(t *testing.T) {
	rs := sample()
	newer := rs[1]
	newer.MedianNS = 3000
	keys, rows := group(append(rs, newer))
	assert.Len(t, keys, 4)
	assert.Len(t, rows[keys[0]], 2)
	assert.Equal(t, int64(3000), rows[keys[0]][1].MedianNS)
}

func TestFormat(t *testing.T) {
	assert.Equal(t, "999 ns", FormatNS(999))
	assert.Equal(t, "1.00 µs", FormatNS(1000))
	assert.Equal(t, "12.3 ms", FormatNS(12_345_678))
	assert.Equal(t, "123 ms", FormatNS(123_456_789))
	assert.Equal(t, "2.50 s", FormatNS(2_500_000_000))
	assert.Equal(t, "512 B", FormatBytes(512))
	assert.Equal(t, "1.50 KiB", FormatBytes(1536))
	assert.Equal(t, "12.5 MiB", FormatBytes(12_500_000/1_000_000*1<<20+1<<19))
	assert.Equal(t, "2.00 GiB", FormatBytes(2<<30))
	assert.Equal(t, "10M", FormatCount(10_000_000))
	assert.Equal(t, "1.5M", FormatCount(1_500_000))
	assert.Equal(t, "1k", FormatCount(1000))
	assert.Equal(t, "1234", FormatCount(1234))
	assert.Equal(t, "100G", FormatCount(100_000_000_000))
	assert.Equal(t, "25.0×", FormatRatio(25))
	assert.Equal(t, "0.50×", FormatRatio(0.5))
	assert.Equal(t, "0.050×", FormatRatio(0.05))
	assert.Equal(t, "1 µs", decadeTime(3))
	assert.Equal(t, "10 ms", decadeTime(7))
	assert.Equal(t, "100 s", decadeTime(11))
}

func TestSVG(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteSVG(&b, "cdpkit <bench> & peers", sample()))
	out := b.String()
	assert.NotContains(t, out, "<script")
	assert.Contains(t, out, "cdpkit &lt;bench&gt; &amp; peers")
	// Well-formed XML.
	dec := xml.NewDecoder(strings.NewReader(out))
	elems := map[string]int{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok {
			elems[se.Name.Local]++
		}
	}
	assert.Equal(t, 1, elems["svg"])
	// A point per result; a line only for series with two sizes or more
	// (expr10_count's cdpkit and duckdb).
	assert.Equal(t, len(sample()), elems["circle"])
	assert.Equal(t, 2, elems["path"])
	for _, panel := range []string{"and2_count", "expr10_count", "durable_tx", ">segment<", ">loyalty<"} {
		assert.Contains(t, out, panel)
	}
}

func TestGoals(t *testing.T) {
	rs := sample()
	tests := []struct {
		goal     Goal
		measured string
		met, ok  bool
	}{
		{Goal{Suite: "segment", Case: "expr10_count", Peer: "duckdb", MinRatio: 20}, "15.0× at 1M", false, true},
		{Goal{Suite: "segment", Case: "expr10_count", Peer: "duckdb", MinRatio: 10}, "15.0× at 1M", true, true},
		{Goal{Suite: "segment", Case: "and2_count", Peer: "memfloor", MinRatio: 0.5}, "1.50× at 1k", true, true},
		{Goal{Suite: "loyalty", Case: "durable_tx", MaxNS: 100_000}, "50.0 µs/op at 1k", true, true},
		{Goal{Suite: "loyalty", Case: "durable_tx", MaxNS: 10_000}, "50.0 µs/op at 1k", false, true},
		{Goal{Suite: "rfm", Case: "rfm_scores", Peer: "duckdb", MinRatio: 1}, "", false, false},
	}
	for _, tt := range tests {
		measured, met, ok := tt.goal.Evaluate(rs)
		assert.Equal(t, tt.measured, measured, "%+v", tt.goal)
		assert.Equal(t, tt.met, met, "%+v", tt.goal)
		assert.Equal(t, tt.ok, ok, "%+v", tt.goal)
	}
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	m := Machine{CPU: "Test CPU | 2 GHz", Cores: 2, GOMAXPROCS: 2, MemBytes: 24 << 30, Go: "go1.26", OS: "linux", Arch: "amd64",
		Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Extra: []string{"DuckDB v1.5.6"}}
	require.NoError(t, WriteMarkdown(&b, Report{
		Command: "go run ./cmd/cdpbench -suite segment",
		Machine: m,
		Results: sample(),
		Goals:   []Goal{{Suite: "segment", Case: "expr10_count", Peer: "duckdb", MinRatio: 20, Text: "≥ 20× faster than DuckDB"}},
		Cases:   []CaseDoc{{Suite: "segment", Case: "and2_count", Text: "a 2-way AND"}},
		SVG:     "BENCHMARKS.svg",
		Note:    "preliminary",
	}))
	out := b.String()
	for _, want := range []string{
		"go run ./cmd/cdpbench -suite segment",
		"> **Note:** preliminary",
		"| CPU | Test CPU \\| 2 GHz |",
		"| memory | 24.0 GiB |",
		"| peer | DuckDB v1.5.6 |",
		"2026-01-02 03:04 UTC",
		"| segment/expr10_count | ≥ 20× faster than DuckDB | 15.0× at 1M | **no** |",
		"![median time per operation against members, log–log, a panel per case](BENCHMARKS.svg)",
		"### segment",
		"### loyalty",
		"| expr10_count | 1M | duckdb | 3.00 ms | 3.00 ms | 3.00 ms | 5 × 1 | 15.0× | 0 B |",
		"- **and2_count**: a 2-way AND",
	} {
		assert.Contains(t, out, want)
	}
}

func TestProgressWithoutTerminal(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false)
	task := p.Start("gen", 100)
	for range 100 {
		task.Add(1)
	}
	task.Done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	// 0%, each tenth from 10% to 90%, and the final line.
	require.Len(t, lines, 11)
	assert.True(t, strings.HasPrefix(lines[0], "gen:   0%"))
	assert.True(t, strings.HasPrefix(lines[5], "gen:  50%"))
	assert.True(t, strings.HasPrefix(lines[10], "gen: done in"))
	var nilP *Progress
	nilP.Start("x", 1).Add(1) // a nil Progress ignores everything
	nilP.Note("x")
}

func TestHeapSampler(t *testing.T) {
	base := settledHeap()
	s := startHeapSampler()
	buf := make([]byte, 64<<20)
	buf[len(buf)-1] = 1
	peak := s.stop()
	assert.GreaterOrEqual(t, peak-base, int64(64<<20))
	assert.Equal(t, byte(1), buf[len(buf)-1])
}

func TestRunnerPerRun(t *testing.T) {
	calls := 0
	r := NewRunner(Options{Runs: 4, MinRunTime: time.Hour}, nil)
	require.Equal(t, 5, r.MaxRuns())
	err := r.Run(context.Background(), Case{Suite: "s", Name: "tx", Members: 10, Impls: []Impl{{
		Name: "cdpkit", PerRun: 250,
		Run: func(context.Context) (Answer, error) {
			calls++
			time.Sleep(time.Millisecond)
			return Answer{Count: 250}, nil
		},
	}}})
	require.NoError(t, err)
	assert.Equal(t, 5, calls, "a batch is never repeated within a run, whatever MinRunTime says")
	res := r.Results()
	require.Len(t, res, 1)
	assert.Equal(t, 250, res[0].Ops)
	assert.Equal(t, 4, res[0].Runs)
	// At least a millisecond per 250 operations.
	assert.GreaterOrEqual(t, res[0].MinNS, int64(time.Millisecond)/250)
}

// Skipped peers are neither loaded nor run; the reference runs whatever
// -skip says.
func TestSkip(t *testing.T) {
	var log []string
	a := &fakeImpl{name: "cdpkit", log: &log, count: constant(7)}
	b := &fakeImpl{name: "duckdb", log: &log, count: constant(7)}
	c := &fakeImpl{name: "unionfind", log: &log, count: constant(7)}
	opts := slowOpts
	opts.Skip = []string{"duckdb", "cdpkit"}
	var emitted []Result
	r := NewRunner(opts, func(res Result) { emitted = append(emitted, res) })
	loaded, err := r.Loads(context.Background(), "s", 10, []Load{
		{Impl: "cdpkit", Run: func(context.Context) (Answer, error) { return Answer{Count: 10}, nil }},
		{Impl: "duckdb", Run: func(context.Context) (Answer, error) {
			t.Error("a skipped load ran")
			return Answer{}, nil
		}},
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"cdpkit": true}, loaded)
	require.NoError(t, r.Run(context.Background(), Case{Suite: "s", Name: "c", Members: 10, Impls: []Impl{a.impl(), b.impl(), c.impl()}}))
	assert.Zero(t, b.calls)
	assert.Equal(t, 4, a.calls, "warm-up and three timed runs")
	assert.Equal(t, 4, c.calls)
	var impls []string
	for _, res := range emitted {
		impls = append(impls, res.Case+":"+res.Impl)
	}
	assert.Equal(t, []string{"load:cdpkit", "c:cdpkit", "c:unionfind"}, impls)
	assert.Empty(t, r.Failures())
}
