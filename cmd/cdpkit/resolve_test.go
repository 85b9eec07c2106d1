package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The scenario of testdata/resolve/obs.jsonl, worked out by hand under the
// default kinds:
//
//	e1 card M1 + phone            → creates person 0
//	e2 OpenID + the same phone    → attaches to 0
//	e3 Taobao tb1 alone           → creates person 1
//	e4 tb1 + card M1              → merges 1 into 0 (the oldest survives)
//	e5 card M2 + the same phone   → person 0 already has a card (limit 1):
//	                                the phone is dropped, M2 creates person 2
//	e6 card "null"                → blocked junk: no usable identifier
//	line 7                        → not JSON: reported, skipped
//	e8 fax (undeclared) + device  → fax set aside and reported; the device
//	                                (gen's device_id, an alias) creates 3
var wantEventPersons = "event,person\ne1,0\ne2,0\ne3,0\ne4,0\ne5,2\ne6,\ne8,3\n"

func TestResolveJSONLines(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log.jsonl")
	code, out, errOut := runCmd(t, "", "resolve", "--tz", "Asia/Shanghai", "--log", log, "testdata/resolve/obs.jsonl")
	assert.Equal(t, 1, code, "bad lines make the exit code 1: %s", errOut)
	assert.Equal(t, wantEventPersons, out)
	assert.Contains(t, errOut, "testdata/resolve/obs.jsonl:7: ")
	assert.Contains(t, errOut, `testdata/resolve/obs.jsonl:8: identifier 1: kind "fax" is not declared`)
	assert.Contains(t, errOut, "resolve: 7 observations, 3 persons (4 created, 1 merged away by 1 observations)")
	assert.Contains(t, errOut, "resolve: 1 identifiers dropped to respect limits: member_card 1")
	assert.Contains(t, errOut, "resolve: 1 values rejected (1 blocked, 0 invalid); 1 observations had no usable identifier")
	assert.Contains(t, errOut, "identifiers of undeclared kinds set aside: fax 1")
	assert.Contains(t, errOut, "bytes per identifier")
	assert.Contains(t, errOut, "cdpkit resolve: 2 problems in testdata/resolve/obs.jsonl")

	entries := readLog(t, log)
	require.Len(t, entries, 3)
	assert.Equal(t, logEntry{Line: 4, Event: "e4", Op: "merge", Person: pid(0), Merged: pids(1)}, entries[0])
	assert.Equal(t, logEntry{Line: 5, Event: "e5", Op: "drop", Person: pid(2),
		ID: &logID{Kind: "phone", Value: "13800138000"}, Limits: []string{"member_card"}}, entries[1])
	assert.Equal(t, 6, entries[2].Line)
	assert.Equal(t, "reject", entries[2].Op)
	assert.Equal(t, &logID{Kind: "member_card", Value: "null"}, entries[2].ID)
	assert.Contains(t, entries[2].Reason, "blocked")
	assert.Nil(t, entries[2].Person, "a rejected value of an observation without a person names none")
}

func TestResolveCSV(t *testing.T) {
	code, out, errOut := runCmd(t, "", "resolve", "--tz", "Asia/Shanghai", "testdata/resolve/obs.csv")
	assert.Equal(t, 1, code, errOut)
	assert.Equal(t, wantEventPersons, out, "the CSV form of the same observations gives the same persons")
	assert.Contains(t, errOut, `testdata/resolve/obs.csv:12: time "yesterday"`)
	assert.Contains(t, errOut, `testdata/resolve/obs.csv:13: identifier 1: kind "fax" is not declared`)
}

func TestResolveStdinAndByIdentifier(t *testing.T) {
	in := `{"event":1,"time":"2025-03-01T10:00:00Z","ids":[{"kind":"member_card","value":"M1"},{"kind":"phone","value":"+86 138-0013-8000"}]}
{"event":2,"time":"2025-03-01T11:00:00Z","ids":[{"kind":"wechat_openid","value":"oA","scope":"wxapp"},{"kind":"phone","value":"13800138000"}]}
{"event":3,"time":"2025-03-01T12:00:00Z","ids":[{"kind":"taobao_id","value":"tb1"}]}
{"event":4,"time":"2025-03-01T13:00:00Z","ids":[{"kind":"taobao_id","value":"tb1"},{"kind":"member_card","value":"M1"}]}
{"event":5,"time":"2025-03-01T14:00:00Z","ids":[{"kind":"member_card","value":"M2"},{"kind":"phone","value":"13800138000"}]}
`
	code, out, errOut := runCmd(t, in, "resolve", "--by", "identifier", "-")
	require.Equal(t, 0, code, errOut)
	// Identifiers of each live person in priority order, values normalised.
	assert.Equal(t, "kind,value,scope,person\n"+
		"member_card,M1,,0\nphone,13800138000,,0\nwechat_openid,oA,wxapp,0\ntaobao_id,tb1,,0\n"+
		"member_card,M2,,2\n", out)
}

func TestResolveKindsFile(t *testing.T) {
	// Under testdata/resolve/kinds.json only cards, phones and devices are
	// declared: e3's Taobao ID is set aside, leaving it no identifier; the
	// rest resolves as with the defaults.
	code, out, errOut := runCmd(t, "", "resolve", "--kinds", "testdata/resolve/kinds.json", "testdata/resolve/obs.jsonl")
	assert.Equal(t, 1, code)
	assert.Equal(t, "event,person\ne1,0\ne2,0\ne3,\ne4,0\ne5,1\ne6,\ne8,2\n", out)
	assert.Contains(t, errOut, `obs.jsonl:2: identifier 1: kind "wechat_openid" is not declared`)
	assert.Contains(t, errOut, "resolve: 7 observations, 3 persons (3 created, 0 merged away")

	code, _, errOut = runCmd(t, "", "resolve", "--kinds", "testdata/resolve/kinds_bad.json", "testdata/resolve/obs.jsonl")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `testdata/resolve/kinds_bad.json:5: kind "phone": unknown normalize "mobile"`)
}

func TestResolvePrintKinds(t *testing.T) {
	code, out, errOut := runCmd(t, "", "resolve", "--print-kinds")
	require.Equal(t, 0, code, errOut)
	var f kindsFile
	require.NoError(t, json.Unmarshal([]byte(out), &f))
	names := []string{}
	for _, k := range f.Kinds {
		names = append(names, k.Name)
	}
	assert.Equal(t, []string{"member_card", "wechat_unionid", "phone", "alipay_uid", "insurer_id", "wechat_openid",
		"email", "taobao_id", "jd_id", "meituan_id", "device_id"}, names)
	assert.Equal(t, kindJSON{Name: "device_id", Normalize: "lower", Limit: 5, Window: "90d"}, f.Kinds[10])
	assert.Equal(t, kindJSON{Name: "phone", Normalize: "cn_mobile", Limit: 2}, f.Kinds[2])

	// What it prints reads back to the same configuration.
	path := filepath.Join(t.TempDir(), "kinds.json")
	require.NoError(t, os.WriteFile(path, []byte(out), 0o644))
	code, again, errOut := runCmd(t, "", "resolve", "--print-kinds", "--kinds", path)
	require.Equal(t, 0, code, errOut)
	assert.JSONEq(t, out, again)
	code, persons, errOut := runCmd(t, "", "resolve", "--kinds", path, "testdata/resolve/obs.jsonl")
	assert.Equal(t, 1, code, errOut)
	assert.Equal(t, wantEventPersons, persons)
}

func TestResolveSnapshotContinues(t *testing.T) {
	dir := t.TempDir()
	all, err := os.ReadFile("testdata/resolve/obs.jsonl")
	require.NoError(t, err)
	lines := strings.SplitAfter(string(all), "\n")
	snap := filepath.Join(dir, "resolver.snap")
	code, _, errOut := runCmd(t, strings.Join(lines[:4], ""), "resolve", "--snapshot", snap, "-")
	require.Equal(t, 0, code, errOut)
	code, out, _ := runCmd(t, strings.Join(lines[4:], ""), "resolve", "--from", snap, "--by", "identifier", "-")
	assert.Equal(t, 1, code)
	_, whole, _ := runCmd(t, "", "resolve", "--by", "identifier", "testdata/resolve/obs.jsonl")
	assert.Equal(t, whole, out, "resolving in two runs through a snapshot gives the persons of one run")

	code, _, errOut = runCmd(t, "", "resolve", "--from", snap, "--kinds", "testdata/resolve/kinds.json", "testdata/resolve/obs.jsonl")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "pass the --kinds the snapshot was written with")
}

func TestResolveTruth(t *testing.T) {
	code, _, errOut := runCmd(t, "", "resolve", "--truth", "testdata/resolve/obs.jsonl")
	assert.Equal(t, 1, code)
	// Scored: e1-e5 and e8. The resolver keeps member 2's card apart, so
	// every pair it joins is one member: precision 1, recall 1 (member
	// 1's four observations are together). A union-find without limits
	// joins e5 through the shared phone: of the 10 pairs of its 5
	// observations only the 6 of member 1 are right.
	assert.Contains(t, errOut, "truth: 6 observations of 3 true members scored (1 resolved to no person)")
	assert.Contains(t, errOut, "truth: resolver          3 persons, pairwise precision 1.0000, recall 1.0000; 0 persons mix members (largest: 1 members), 0 members split")
	assert.Contains(t, errOut, "truth: union-find        2 persons, pairwise precision 0.6000, recall 1.0000; 1 persons mix members (largest: 2 members), 0 members split")
}

func TestScorePartition(t *testing.T) {
	// Items: persons A A A B B, members 1 1 2 2 2.
	// Pairs together: A 3, B 1 = 4; of them one member: A's (1,1) and B's
	// (2,2) = 2 → precision 0.5. Pairs of one member: 1 → 1, 2 → 3 = 4; of
	// them together: 2 → recall 0.5.
	s := scorePartition([]uint32{7, 7, 7, 9, 9}, []uint32{1, 1, 2, 2, 2})
	assert.Equal(t, partitionScore{items: 5, persons: 2, members: 2, precision: 0.5, recall: 0.5, mixed: 1, largest: 2, split: 1}, s)
	s = scorePartition([]uint32{1, 2, 3}, []uint32{1, 2, 3})
	assert.Equal(t, 1.0, s.precision)
	assert.Equal(t, 1.0, s.recall)
}

func TestResolveOnGeneratedData(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runCmd(t, "", "gen", "-members", "400", "-seed", "3", dir)
	require.Equal(t, 0, code, errOut)
	code, out, errOut := runCmd(t, "", "resolve", "--truth", "--sort", filepath.Join(dir, "observations.jsonl"))
	require.Equal(t, 0, code, "the default kinds read everything cdpkit gen writes: %s", errOut)
	rows := strings.Count(out, "\n") - 1
	data, err := os.ReadFile(filepath.Join(dir, "observations.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, strings.Count(string(data), "\n"), rows, "one assignment per observation")
	assert.Contains(t, errOut, "truth: resolver")
	assert.NotContains(t, errOut, "set aside")
}

func TestResolveUsage(t *testing.T) {
	code, _, errOut := runCmd(t, "", "resolve")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "want one observations file")
	code, _, errOut = runCmd(t, "", "resolve", "--by", "phone", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--by "phone"`)
	code, _, errOut = runCmd(t, "", "resolve", "--format", "xml", "testdata/resolve/obs.jsonl")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--format "xml"`)
	code, out, _ := runCmd(t, "", "resolve", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "usage: cdpkit resolve")
	assert.Contains(t, out, "-kinds")
}

func TestFlexString(t *testing.T) {
	// What encoding/json makes of the same values: strings decoded,
	// invalid UTF-8 replaced, numbers as written.
	for in, want := range map[string]string{
		`"M1"`: "M1", `"a\u00e9\n"`: "aé\n", "\"\xff\"": "\ufffd", `"慢病"`: "慢病",
		`17`: "17", `-5`: "-5", `1e3`: "1e3", `null`: "", `""`: "",
	} {
		var got struct{ V flexString }
		require.NoError(t, json.Unmarshal([]byte(`{"V":`+in+`}`), &got), in)
		assert.Equal(t, want, string(got.V), in)
	}
	for _, in := range []string{`true`, `[1]`, `{"a":1}`} {
		var got struct{ V flexString }
		assert.Error(t, json.Unmarshal([]byte(`{"V":`+in+`}`), &got), in)
	}
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "36h": 36 * time.Hour, "1h30m": 90 * time.Minute} {
		got, err := parseWindow(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, in, formatWindow(got))
	}
	for _, in := range []string{"", "0d", "-3d", "xd", "soon", "-1h"} {
		_, err := parseWindow(in)
		assert.Error(t, err, in)
	}
}

func pid(p identity.PersonID) *identity.PersonID { return &p }

func pids(ps ...identity.PersonID) []identity.PersonID { return ps }

func readLog(t *testing.T, path string) []logEntry {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []logEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e logEntry
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		out = append(out, e)
	}
	return out
}
