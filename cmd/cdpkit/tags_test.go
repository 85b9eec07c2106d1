package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tags of testdata/tags/rules.txt for the members of
// testdata/tags/members.jsonl, as of the end of 2024-03-10 in Shanghai,
// worked out by hand:
//
//	active  m1: 5 orders ≥ 3. m2: 1 order, but its last order (03-01) was
//	        9 days ago ≤ 30. m3: 0 orders, no last order: false || absent
//	        is absent, untagged and counted missing. m5: no order count,
//	        last order 02-09 23:30 is 30 calendar days before 03-10 (2024
//	        is a leap year): absent || true is true.
//	value   620000 → high; 150000 → mid; 20000 → low; 100000 → mid.
//	chronic m1 diabetes, m3 hypertension; m2 and m5 have no rx map
//	        (missing).
//	contacted_7d  manual: member 3 (testdata/tags/manual.csv).
//	call_list     chronic and not contacted: m1 only.
//	omni    m1 2 channels, m5 3: tagged; m3 1: not; m2 none: missing.
//
// Member 4 (a string for an int) and the second member 2 are bad records.
const wantTagsCSV = `member,active,value,chronic,contacted_7d,call_list,omni
1,true,high,true,false,true,true
2,true,mid,false,false,false,false
3,false,low,true,true,false,false
5,true,mid,false,false,false,true
`

var tagsBase = []string{"tags eval", "--schema", "testdata/tags/schema.json", "--as-of", "2024-03-10",
	"--tz", "Asia/Shanghai", "--manual", "testdata/tags/manual.csv"}

func tagsArgsWith(extra ...string) []string {
	args := strings.Fields(tagsBase[0])
	return append(append(args, tagsBase[1:]...), extra...)
}

func TestTagsEvalJSONLines(t *testing.T) {
	for _, rules := range []string{"testdata/tags/rules.txt", "testdata/tags/rules.json"} {
		t.Run(filepath.Base(rules), func(t *testing.T) {
			code, out, errOut := runCmd(t, "", tagsArgsWith("--rules", rules, "testdata/tags/members.jsonl")...)
			assert.Equal(t, 1, code, "bad records make the exit code 1: %s", errOut)
			assert.Equal(t, wantTagsCSV, out)
			assert.Contains(t, errOut, `testdata/tags/members.jsonl:4: member 4: field "orders_90d"`)
			assert.Contains(t, errOut, "testdata/tags/members.jsonl:5: member 2 seen before on line 2 (record skipped)")
			assert.Contains(t, errOut, "as of 2024-03-10T23:59:59+08:00")
			assert.Contains(t, errOut, "2 bad records")
			counts := tagCounts(errOut)
			assert.Equal(t, []string{"push-down", "3", "75.0%", "1", "0"}, counts["active"])
			assert.Equal(t, []string{"push-down", "4", "100.0%", "0", "0"}, counts["value"])
			assert.Equal(t, []string{"compiled", "2", "50.0%", "2", "0"}, counts["chronic"])
			assert.Equal(t, []string{"manual", "1", "25.0%", "-", "-"}, counts["contacted_7d"])
			assert.Equal(t, []string{"compiled", "1", "25.0%", "0", "0"}, counts["call_list"])
			assert.Equal(t, []string{"compiled", "2", "50.0%", "1", "0"}, counts["omni"])
			assert.Contains(t, errOut, "value: high 1, mid 2, low 1")
		})
	}
}

// tagCounts reads the table of counts tags eval prints: tag → the columns
// after it.
func tagCounts(stderr string) map[string][]string {
	out := map[string][]string{}
	for line := range strings.Lines(stderr) {
		f := strings.Fields(line)
		if len(f) == 6 {
			out[f[0]] = f[1:]
		}
	}
	return out
}

func TestTagsEvalCSVMembers(t *testing.T) {
	code, out, errOut := runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules.txt", "testdata/tags/members.csv")...)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, wantTagsCSV, out, "the CSV form of the members gives the same tags")
}

func TestTagsEvalFormats(t *testing.T) {
	code, out, _ := runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules.txt", "--format", "long", "testdata/tags/members.csv")...)
	require.Equal(t, 0, code)
	assert.Equal(t, `member,tag,value
1,active,
1,value,high
1,chronic,
1,call_list,
1,omni,
2,active,
2,value,mid
3,value,low
3,chronic,
3,contacted_7d,
5,active,
5,value,mid
5,omni,
`, out)

	code, out, _ = runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules.txt", "--format", "jsonl", "testdata/tags/members.csv")...)
	require.Equal(t, 0, code)
	assert.Equal(t, `{"member":1,"tags":{"active":true,"value":"high","chronic":true,"call_list":true,"omni":true}}
{"member":2,"tags":{"active":true,"value":"mid"}}
{"member":3,"tags":{"value":"low","chronic":true,"contacted_7d":true}}
{"member":5,"tags":{"active":true,"value":"mid","omni":true}}
`, out)

	// From standard input, with --out.
	dir := t.TempDir()
	in, err := os.ReadFile("testdata/tags/members.csv")
	require.NoError(t, err)
	outFile := filepath.Join(dir, "tags.csv")
	code, out, errOut := runCmd(t, string(in), tagsArgsWith("--rules", "testdata/tags/rules.json", "--out", outFile, "-")...)
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, out)
	got, err := os.ReadFile(outFile)
	require.NoError(t, err)
	assert.Equal(t, wantTagsCSV, string(got))
}

func TestTagsCompileErrors(t *testing.T) {
	code, out, errOut := runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules_bad.txt", "testdata/tags/members.csv")...)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	// Every problem, each at its line of the file; "uses" refers to the
	// broken tags and still compiles, so it reports nothing.
	assert.Equal(t, `testdata/tags/rules_bad.txt:15: tag "both": rule and expr given: only one of them may decide the tag's members
testdata/tags/rules_bad.txt:2: rule senior: 1:1: undeclared reference to 'agee'
  agee >= 65
  ^
testdata/tags/rules_bad.txt:5: rule omni: 1:16: found no matching overload for '_>=_' applied to '(int, double)'
  size(channels) >=
                 ^
testdata/tags/rules_bad.txt:9: rule band case 1: 1:12: found no matching overload for '_<_' applied to '(int, string)'
  orders_90d < "3"
             ^
cdpkit tags eval: testdata/tags/rules_bad.txt: 4 problems
`, errOut)

	code, _, errOut = runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules_bad.json", "testdata/tags/members.csv")...)
	assert.Equal(t, 1, code)
	assert.Equal(t, `testdata/tags/rules_bad.json:2: rule senior: 1:1: undeclared reference to 'agee'
  agee >= 65
  ^
testdata/tags/rules_bad.json:5: rule band case 2: 1:12: found no matching overload for '_<_' applied to '(int, string)'
  orders_90d < "9"
             ^
cdpkit tags eval: testdata/tags/rules_bad.json: 2 problems
`, errOut)
}

func TestTagsFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	cases := []struct {
		name, schema, rules, want string
	}{
		{"schema type", "{\"fields\": [\n {\"name\": \"a\", \"type\": \"int\"},\n {\"name\": \"b\", \"type\": \"float\"}\n]}", "[a]\nrule: a > 1\n",
			`schema.json:3: field "b": type "float": want int`},
		{"schema syntax", "{\"fields\": [\n {\"name\": \"a\" \"type\": \"int\"}\n]}", "[a]\nrule: a > 1\n",
			"schema.json:2:15: invalid character"},
		{"schema binding", "[\n{\"name\": \"a\", \"type\": \"int\"},\n{\"name\": \"s\", \"type\": \"string\", \"index\": \"int\"}\n]", "[x]\nrule: a > 1\n",
			`schema.json:3: schema field "s": AsInt needs an int field, not string`},
		{"rules key", `[{"name": "a", "type": "int"}]`, "[x]\nrule: a > 1\nrule: a > 2\n",
			`rules.txt:3: tag "x": rule given again (first on line 2)`},
		{"rules unknown key", `[{"name": "a", "type": "int"}]`, "[x]\nrul: a > 1\n",
			`rules.txt:2: tag "x": unknown key "rul"`},
		{"rules json unknown key", `[{"name": "a", "type": "int"}]`, "[\n {\"name\": \"x\",\n  \"rul\": \"a > 1\"}\n]",
			`rules.json:3: unknown key "rul"`},
		{"rules twice", `[{"name": "a", "type": "int"}]`, "[x]\nrule: a > 1\n\n[x]\nrule: a > 2\n",
			`rules.txt:4: tag "x" defined again (first on line 1)`},
		{"rules kind", `[{"name": "a", "type": "int"}]`, "[x]\nkind: enum\nrule: a > 1\n",
			`rules.txt:1: tag "x": kind "enum", but rule makes a bool tag`},
		{"rules undeclared value", `[{"name": "a", "type": "int"}]`, "[x]\nvalues: lo, hi\ncase mid: a > 1\n",
			`rules.txt:1: tag "x" case 1: value "mid": value not declared for tag`},
		{"rules cycle", `[{"name": "a", "type": "int"}]`, "[x]\nrule: has_tag(\"y\")\n[y]\nrule: has_tag(\"x\")\n",
			`rules.txt:1: tag dependency cycle`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schema := write("schema.json", c.schema)
			rulesName := "rules.txt"
			if strings.HasPrefix(c.rules, "[\n") {
				rulesName = "rules.json"
			}
			rules := write(rulesName, c.rules)
			code, _, errOut := runCmd(t, "", "tags", "eval", "--schema", schema, "--rules", rules, "--check")
			assert.Equal(t, 1, code, errOut)
			assert.Contains(t, errOut, filepath.Join(dir, c.want))
		})
	}
}

func TestTagsCheck(t *testing.T) {
	code, out, errOut := runCmd(t, "", "tags", "eval", "--schema", "testdata/tags/schema.json", "--rules", "testdata/tags/rules.txt", "--check")
	require.Equal(t, 0, code, errOut)
	rows := map[string]string{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		rows[f[0]] = strings.Join(f[1:], " ")
	}
	// active and value read only indexed fields; chronic reads a map.
	assert.Equal(t, "bool push-down", rows["active"])
	assert.Equal(t, "enum push-down high,mid,low", rows["value"])
	assert.Equal(t, "bool compiled", rows["chronic"])
	assert.Equal(t, "manual manual", rows["contacted_7d"])
}

func TestTagsExplain(t *testing.T) {
	code, out, errOut := runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules.txt",
		"--explain", "5:active", "--explain", "3:contacted_7d", "--explain", "2", "testdata/tags/members.csv")...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `tag "active", member 5, as of 2024-03-10T23:59:59+08:00: tagged [push-down]`)
	assert.Contains(t, out, "days_since(last_order_at) = 30")
	assert.Contains(t, out, `tag "contacted_7d", member 3: tagged (manual tag, from --manual)`)
	// Member alone: every tag, in file order.
	assert.Regexp(t, regexp.MustCompile(`(?s)tag "active", member 2.*tag "value", member 2.*value "mid" \(case 2\).*tag "chronic", member 2.*not tagged, no such attribute\(s\): rx_categories \(missing value\).*tag "omni", member 2`), out)
	assert.NotContains(t, out, "member,", "explaining prints no tag table")

	code, _, errOut = runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules.txt", "--explain", "9:active", "testdata/tags/members.csv")...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "member 9 is not among the records read")
	code, _, errOut = runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules.txt", "--explain", "1:nope", "testdata/tags/members.csv")...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `no tag "nope"`)
}

func TestTagsEvalOnGeneratedMembers(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runCmd(t, "", "gen", "-members", "300", "-seed", "2", dir)
	require.Equal(t, 0, code, errOut)
	schema := filepath.Join(dir, "schema.json")
	require.NoError(t, os.WriteFile(schema, []byte(`{"fields": [
  {"name": "age", "type": "int", "index": "int"},
  {"name": "gender", "type": "string", "index": "enum"},
  {"name": "city", "type": "string", "index": "enum"},
  {"name": "store", "type": "int"},
  {"name": "channel", "type": "string"},
  {"name": "channels", "type": "list"},
  {"name": "registered_at", "type": "timestamp", "index": "day"},
  {"name": "lapsed_at", "type": "timestamp"},
  {"name": "conditions", "type": "list"}
]}`), 0o644))
	rules := filepath.Join(dir, "rules.txt")
	require.NoError(t, os.WriteFile(rules, []byte("[senior]\nrule: age >= 65\n\n[chronic]\nrule: present(conditions) && size(conditions) > 0\n"), 0o644))
	code, out, errOut := runCmd(t, "", "tags", "eval", "--schema", schema, "--rules", rules, "--as-of", "2026-10-01",
		"--tz", "Asia/Shanghai", filepath.Join(dir, "members.csv"))
	require.Equal(t, 0, code, errOut)
	// Checked member by member against the members file itself.
	got, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	rows := readCSV(t, filepath.Join(dir, "members.csv"))
	require.Len(t, got, len(rows))
	assert.Equal(t, []string{"member", "senior", "chronic"}, got[0])
	seniors := 0
	for i, r := range rows[1:] {
		age, err := strconv.Atoi(r[1])
		require.NoError(t, err)
		if age >= 65 {
			seniors++
		}
		assert.Equal(t, []string{r[0], strconv.FormatBool(age >= 65), strconv.FormatBool(r[9] != "")}, got[i+1])
	}
	assert.Positive(t, seniors)
}

func TestTagsUsage(t *testing.T) {
	code, _, errOut := runCmd(t, "", "tags", "eval", "members.jsonl")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--schema and --rules are required")
	code, _, errOut = runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules.txt", "--format", "xml", "x")...)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--format "xml"`)
	code, _, errOut = runCmd(t, "", tagsArgsWith("--rules", "testdata/tags/rules.txt", "--as-of", "tomorrow", "x")...)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--as-of "tomorrow"`)
	code, out, _ := runCmd(t, "", "help", "tags", "eval")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "usage: cdpkit tags eval")
	assert.Contains(t, out, "-explain")
}

func TestCaretLines(t *testing.T) {
	assert.Equal(t, "  a && b\n       ^", caretLines("a && b", 6))
	assert.Equal(t, "  \tx\n  \t^", caretLines("\tx", 2), "tabs are kept so the caret lines up")
	assert.Equal(t, "  tag(\"慢病\") && x\n               ^", caretLines(`tag("慢病") && x`, 12), "wide characters take two cells")
	assert.Equal(t, "  ab\n    ^", caretLines("ab", 3), "a column past the end points just after it")
}
