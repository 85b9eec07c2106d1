package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"-suite", "nope"}, `unknown suite "nope"`},
		{[]string{"-members", "0"}, `"0" is not a member count`},
		{[]string{"-members", "1.5k5"}, `is not a member count`},
		{[]string{"-members", ","}, "no member count"},
		{[]string{"-runs", "-1"}, "-runs must be"},
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"-skip", "duckdb,cdpkit"}, "cdpkit is the reference every peer is checked against"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		assert.Equal(t, 2, code, "%v", tt.args)
		assert.Contains(t, errb.String(), tt.msg, "%v", tt.args)
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int{"1000": 1000, "10k": 10_000, "1M": 1_000_000, "2.5M": 2_500_000, "1G": 1_000_000_000} {
		got, err := parseCount(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := parseCount("1.0005k")
	assert.Error(t, err)
}

func TestQuoteArgs(t *testing.T) {
	assert.Equal(t, `-suite segment -svg "a b.svg" ""`, quoteArgs([]string{"-suite", "segment", "-svg", "a b.svg", ""}))
}

// TestReportFromSavedResults renders saved JSON lines into the table, the
// chart and BENCHMARKS.md without running anything.
func TestReportFromSavedResults(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "r.jsonl")
	var b bytes.Buffer
	for _, r := range []harness.Result{
		{Suite: "rfm", Case: "rfm_scores", Members: 1000, Impl: "cdpkit", MedianNS: 1000, MinNS: 1000, MaxNS: 1000, Runs: 3, Ops: 1},
		{Suite: "rfm", Case: "rfm_scores", Members: 1000, Impl: "duckdb", MedianNS: 4000, MinNS: 4000, MaxNS: 4000, Runs: 3, Ops: 1},
	} {
		require.NoError(t, harness.WriteJSON(&b, r))
	}
	require.NoError(t, os.WriteFile(in, b.Bytes(), 0o644))
	md, svg := filepath.Join(dir, "BENCHMARKS.md"), filepath.Join(dir, "chart.svg")
	var out, errb bytes.Buffer
	code := run([]string{"-suite", "rfm", "-in", in, "-md", md, "-svg", svg, "-q"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Contains(t, out.String(), "4.00×")
	mdText, err := os.ReadFile(md)
	require.NoError(t, err)
	assert.Contains(t, string(mdText), "| rfm/rfm_scores | faster than DuckDB GROUP BY + NTILE | 4.00× at 1k | yes |")
	assert.Contains(t, string(mdText), "(chart.svg)")
	svgText, err := os.ReadFile(svg)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(svgText), "<svg"))

	code = run([]string{"-in", filepath.Join(dir, "missing.jsonl")}, &out, &errb)
	assert.Equal(t, 1, code)
}

// TestRunJSON runs a suite end to end at a tiny size and reads back its
// JSON lines.
func TestRunJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-suite", "rfm", "-members", "3000", "-runs", "1", "-json", "-q"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	rs, err := harness.ReadJSON(&out, "stdout")
	require.NoError(t, err)
	var impls []string
	for _, r := range rs {
		assert.Equal(t, "rfm", r.Suite)
		assert.Equal(t, 3000, r.Members)
		impls = append(impls, r.Case+"/"+r.Impl)
	}
	assert.ElementsMatch(t, []string{"load/duckdb", "rfm_scores/cdpkit", "rfm_scores/duckdb"}, impls)
	// With -json the table goes to stderr, stdout holding only JSON.
	assert.Contains(t, errb.String(), "peer/cdpkit")
}
