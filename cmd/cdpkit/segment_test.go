package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tagIndex writes the index of testdata/tags (see wantTagsCSV) and the
// tags as a CSV table, and returns their paths. Members 1, 2, 3 and 5:
// active {1,2,5}, value high {1} mid {2,5} low {3}, chronic {1,3},
// contacted_7d {3}, call_list {1}, omni {1,5}; orders_90d 5, 1, 0 and none;
// spend_365d 620000, 150000, 20000, 100000.
func tagIndex(t *testing.T) (index, table string) {
	t.Helper()
	dir := t.TempDir()
	index, table = filepath.Join(dir, "tags.snap"), filepath.Join(dir, "tags.csv")
	code, _, errOut := runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules.txt", "--index", index, "--out", table,
		"testdata/tags/members.csv")...)
	require.Equal(t, 0, code, errOut)
	return index, table
}

func TestSegmentCount(t *testing.T) {
	index, table := tagIndex(t)
	for _, c := range []struct {
		expr string
		want string
	}{
		{"active && !chronic", "2"},                              // 2, 5
		{`call_list || value == "high"`, "1"},                    // 1
		{"orders_90d >= 1", "2"},                                 // 1, 2
		{"!has(orders_90d)", "1"},                                // 5
		{`value in ["mid", "low"] && !tag("contacted_7d")`, "2"}, // 2, 5
		{"between(spend_365d, 100000, 150000)", "2"},             // 2, 5
	} {
		code, out, errOut := runCmd(t, "", "segment", "count", "--index", index, c.expr)
		require.Equal(t, 0, code, "%s: %s", c.expr, errOut)
		assert.Equal(t, c.want+"\n", out, c.expr)
	}
	// The tag columns of tags eval's CSV make the same audiences.
	code, out, errOut := runCmd(t, "", "segment", "count", "--table", table, `active && !chronic && value == "mid"`)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "2\n", out)
	assert.Contains(t, errOut, "tags: active, chronic, contacted_7d, call_list, omni; enums: value (3 values)")
}

func TestSegmentCountTopSum(t *testing.T) {
	index, _ := tagIndex(t)
	code, out, errOut := runCmd(t, "", "segment", "count", "--index", index, "--top", "value", "--sum", "spend_365d", "active")
	require.Equal(t, 0, code, errOut)
	// active: members 1 (high, 620000), 2 (mid, 150000), 5 (mid, 100000).
	assert.Equal(t, `count 3 of 4 members (75.0%)
top value:
  mid   2  66.7%
  high  1  33.3%
sum spend_365d: 3 members with a value, sum 870000, mean 290000.00, min 100000, max 620000
`, out)

	code, out, errOut = runCmd(t, "", "segment", "count", "--index", index, "--json", "--top", "value", "-n", "1", "--sum", "orders_90d", "active")
	require.Equal(t, 0, code, errOut)
	var rep countReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, countReport{Count: 3, Members: 4, Top: map[string][]valueJSON{"value": {{"mid", 2}}},
		Sum: map[string]sumJSON{"orders_90d": {Count: 2, Sum: 6, Mean: 3, Min: 1, Max: 5}}}, rep)

	code, _, errOut = runCmd(t, "", "segment", "count", "--index", index, "--top", "active", "active")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--top active")
}

func TestSegmentExport(t *testing.T) {
	index, _ := tagIndex(t)
	code, out, errOut := runCmd(t, "", "segment", "export", "--index", index, "active")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "1\n2\n5\n", out)
	assert.Contains(t, errOut, "segment export: 3 members to standard output")

	dir := t.TempDir()
	path := filepath.Join(dir, "active.roaring")
	code, _, errOut = runCmd(t, "", "segment", "export", "--index", index, "--format", "roaring", "--out", path, "active || omni")
	require.Equal(t, 0, code, errOut)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	bm := roaring.New()
	_, err = bm.ReadFrom(bytes.NewReader(data))
	require.NoError(t, err, "roaring/v2 reads the portable format")
	assert.Equal(t, []uint32{1, 2, 5}, bm.ToArray())
}

func TestSegmentExportSplit(t *testing.T) {
	_, table := tagIndex(t)
	dir := t.TempDir()
	for _, c := range []struct {
		split string
		arms  []segment.Arm
	}{
		{"campaign=90,holdout=10", []segment.Arm{{Name: "campaign", Weight: 90}, {Name: "holdout", Weight: 10}}},
		{"1,1,2", []segment.Arm{{Name: "arm1", Weight: 1}, {Name: "arm2", Weight: 1}, {Name: "arm3", Weight: 2}}},
	} {
		out := filepath.Join(dir, "audience.txt")
		code, _, errOut := runCmd(t, "", "segment", "export", "--table", table, "--split", c.split, "--salt", "exp-7", "--out", out, "!contacted_7d")
		require.Equal(t, 0, code, errOut)
		// The arms partition the audience {1, 2, 5}, each member in the arm
		// the split assigns it.
		s, err := segment.NewSplit("exp-7", c.arms...)
		require.NoError(t, err)
		var all []uint32
		for _, arm := range c.arms {
			name := filepath.Join(dir, "audience."+arm.Name+".txt")
			data, err := os.ReadFile(name)
			require.NoError(t, err, name)
			for f := range strings.FieldsSeq(string(data)) {
				id, err := strconv.ParseUint(f, 10, 32)
				require.NoError(t, err)
				assert.Equal(t, arm.Name, s.AssignName(uint32(id)), "member %d", id)
				all = append(all, uint32(id))
			}
			assert.Contains(t, errOut, "arm "+arm.Name+": ")
		}
		slices.Sort(all)
		assert.Equal(t, []uint32{1, 2, 5}, all, c.split)
	}
	code, _, errOut := runCmd(t, "", "segment", "export", "--table", table, "--split", "90,10", "--out", "x", "active")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--split needs --salt")
	code, _, errOut = runCmd(t, "", "segment", "export", "--table", table, "--split", "90,10", "--salt", "s", "active")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "give --out")
	code, _, errOut = runCmd(t, "", "segment", "export", "--table", table, "--split", "a=90,a=10", "--salt", "s", "--out", "x", "active")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `arm "a" twice`)
	code, _, errOut = runCmd(t, "", "segment", "export", "--table", table, "--split", "100", "--salt", "s", "--out", "x", "active")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "at least two arms")
}

// caretColumn checks that stderr shows "expression L:C: …", then the
// expression's line L, then a caret under column C, and returns L and C.
func caretColumn(t *testing.T, stderr, expr string) (int, int) {
	t.Helper()
	m := regexp.MustCompile(`expression (\d+):(\d+): .*\n  (.*)\n  ( *)\^\n`).FindStringSubmatch(stderr)
	require.NotNil(t, m, stderr)
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	assert.Equal(t, strings.Split(expr, "\n")[line-1], m[3])
	assert.Equal(t, col-1, len(m[4]), "the caret is under column %d", col)
	return line, col
}

func TestSegmentExpressionErrors(t *testing.T) {
	index, _ := tagIndex(t)
	// A misspelt field: the error points into the expression.
	expr := `active && valu == "mid"`
	code, _, errOut := runCmd(t, "", "segment", "count", "--index", index, expr)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown field "valu"`)
	caretColumn(t, errOut, expr)

	// A syntax error at the end of the first line.
	expr = "active &&"
	code, _, errOut = runCmd(t, "", "segment", "count", "--index", index, expr)
	assert.Equal(t, 2, code)
	line, col := caretColumn(t, errOut, expr)
	assert.Equal(t, 1, line)
	assert.Equal(t, 10, col)

	// A kind mismatch on the second line of an expression file.
	file := filepath.Join(t.TempDir(), "audience.cel")
	expr = "active &&\n  spend_365d >= \"big\""
	require.NoError(t, os.WriteFile(file, []byte(expr), 0o644))
	code, _, errOut = runCmd(t, "", "segment", "count", "--index", index, "--expr-file", file)
	assert.Equal(t, 2, code)
	line, _ = caretColumn(t, errOut, expr)
	assert.Equal(t, 2, line)

	// active() needs an as-of day.
	code, _, errOut = runCmd(t, "", "segment", "count", "--index", index, `active("purchase", "7d")`)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "unknown field")
}

func TestSegmentActivityNeedsAsOf(t *testing.T) {
	dir := t.TempDir()
	ix := segment.New(nil)
	day, _ := segment.ParseDay("2025-03-01")
	require.NoError(t, ix.Update(func(tx *segment.Tx) error {
		if err := tx.Declare("purchase", segment.KindEvent); err != nil {
			return err
		}
		if err := tx.RecordActivityDay("purchase", day, 1, 2); err != nil {
			return err
		}
		return tx.RecordActivityDay("purchase", day-10, 3)
	}))
	path := filepath.Join(dir, "ix.snap")
	require.NoError(t, ix.View().SaveFile(path))
	code, _, errOut := runCmd(t, "", "segment", "count", "--index", path, `active("purchase", "7d")`)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "give --as-of YYYY-MM-DD")
	// The 7 days ending 2025-03-05 hold 03-01 (members 1, 2), not 02-19 (3).
	code, out, errOut := runCmd(t, "", "segment", "count", "--index", path, "--as-of", "2025-03-05", `active("purchase", "7d")`)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "2\n", out)
}

func TestSegmentTable(t *testing.T) {
	dir := t.TempDir()
	table := filepath.Join(dir, "members.csv")
	require.NoError(t, os.WriteFile(table, []byte(`member,vip,tier,spend,city,note
1,true,gold,500,上海,
2,false,silver,120,北京,x
3,TRUE,gold,,上海,
3,true,gold,1,上海,
x,true,gold,1,上海,
7,yes,bronze,70,广州,
`), 0o644))
	// vip: true/false/TRUE, and "yes" makes it an enum of 4 values; tier and city
	// enums; spend an int (empty: no value); note an enum of one value.
	code, out, errOut := runCmd(t, "", "segment", "count", "--table", table, "--top", "city", `tier == "gold"`)
	assert.Equal(t, 1, code, "skipped rows make the exit code 1")
	assert.Equal(t, "count 2 of 4 members (50.0%)\ntop city:\n  上海  2  100.0%\n", out)
	assert.Contains(t, errOut, "members.csv:5: member 3 seen before on line 4 (row skipped)")
	assert.Contains(t, errOut, `members.csv:6: member ID "x"`)
	assert.Contains(t, errOut, "ints: spend")
	assert.Contains(t, errOut, "enums: vip (4 values)")

	// --types makes vip a tag (yes counts as true) and leaves note out.
	code, out, errOut = runCmd(t, "", "segment", "count", "--table", table, "--types", "vip=tag,note=skip", "vip && spend >= 100")
	assert.Equal(t, 1, code)
	assert.Equal(t, "1\n", out, errOut) // member 1; 3 has no spend, 7 spends 70
	code, _, errOut = runCmd(t, "", "segment", "count", "--table", table, "--types", "note=skip", `note == "x"`)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown field "note"`)
	code, _, errOut = runCmd(t, "", "segment", "count", "--table", table, "--types", "tier=int", `tier > 1`)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `column "tier": "gold" is not a whole number (cell left empty)`)
	code, _, errOut = runCmd(t, "", "segment", "count", "--table", table, "--types", "nope=int", "vip")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--types names "nope"`)
}

func TestSegmentUsage(t *testing.T) {
	index, table := tagIndex(t)
	for _, args := range [][]string{
		{"segment", "count", "active"},
		{"segment", "count", "--index", index, "--table", table, "active"},
		{"segment", "count", "--index", index},
		{"segment", "count", "--index", index, "a", "b"},
		{"segment", "export", "--index", index, "--format", "parquet", "active"},
		{"segment", "count", "--index", index, "--as-of", "soon", "active"},
		{"segment", "count", "--table", table, "--types", "active", "active"},
	} {
		code, _, errOut := runCmd(t, "", args...)
		assert.Equal(t, 2, code, "%v: %s", args, errOut)
	}
	code, _, errOut := runCmd(t, "", "segment", "count", "--index", "missing.snap", "active")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "missing.snap")
	code, out, _ := runCmd(t, "", "help", "segment", "export")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "usage: cdpkit segment export")
	assert.Contains(t, out, "-split")
}
