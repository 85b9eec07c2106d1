package main

import (
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cdpkit/cdpkit/tags"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testSchema(t testing.TB) *tags.Schema {
	s, err := loadSchema("testdata/tags/schema.json")
	require.NoError(t, err)
	return s
}

// FuzzMemberRecords reads arbitrary bytes as member records: no panic,
// each member once, every skipped record reported.
func FuzzMemberRecords(f *testing.F) {
	f.Add(fuzzSeed(f, "testdata/tags/members.jsonl"), false)
	f.Add(fuzzSeed(f, "testdata/tags/members.csv"), true)
	schema := testSchema(f)
	f.Fuzz(func(t *testing.T, data []byte, isCSV bool) {
		format := "jsonl"
		if isCSV {
			format = "csv"
		}
		in := &memberInput{path: "m", format: format, idKey: "member", loc: time.UTC, schema: schema, bad: &badLines{w: io.Discard, path: "m"}}
		recs, err := in.readRecords(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		seen := map[uint32]bool{}
		for _, r := range recs {
			assert.False(t, seen[r.ID], "member %d twice", r.ID)
			seen[r.ID] = true
		}
	})
}

var fileLine = regexp.MustCompile(`^rules(\.json|\.txt)(:\d+){0,2}: `)

// FuzzRules reads arbitrary bytes as a rules file, in both forms, and
// defines what it reads: no panic, and every problem names the file.
func FuzzRules(f *testing.F) {
	f.Add(fuzzSeed(f, "testdata/tags/rules.txt"), false)
	f.Add(fuzzSeed(f, "testdata/tags/rules.json"), true)
	f.Add(fuzzSeed(f, "testdata/tags/rules_bad.txt"), false)
	f.Add(fuzzSeed(f, "testdata/tags/rules_bad.json"), true)
	schema := testSchema(f)
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		path := "rules.txt"
		if isJSON {
			path = "rules.json"
		}
		src, errs := parseRules(path, data)
		if src != nil {
			errs = append(errs, src.define(tags.NewSet(schema, nil))...)
		}
		for _, err := range errs {
			assert.Regexp(t, fileLine, err.Error())
		}
	})
}

// FuzzSchema reads arbitrary bytes as a schema file.
func FuzzSchema(f *testing.F) {
	f.Add(fuzzSeed(f, "testdata/tags/schema.json"))
	f.Add([]byte(`[{"name":"a","type":"map(string, int)"},{"name":"b","type":"timestamp","index":"day"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSchema("schema.json", data)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "schema.json"), "%v", err)
			return
		}
		assert.Positive(t, s.Len())
	})
}
