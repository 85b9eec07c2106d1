package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fuzzSeed(f *testing.F, path string) []byte {
	f.Helper()
	data, err := os.ReadFile(path)
	require.NoError(f, err)
	return data
}

// FuzzObservations reads arbitrary bytes as an observations file, in both
// formats: every observation read comes from a line of the input, in
// order, and resolving whatever was read never panics and exits 0 or 1.
func FuzzObservations(f *testing.F) {
	f.Add(fuzzSeed(f, "testdata/resolve/obs.jsonl"), false)
	f.Add(fuzzSeed(f, "testdata/resolve/obs.csv"), true)
	f.Add([]byte("event,time,kind,value\n,2025-01-01,phone,1\n,2025-01-01,phone,2\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, isCSV bool) {
		format := "jsonl"
		if isCSV {
			format = "csv"
		}
		rd, err := newObsReader(strings.NewReader(string(data)), "in", format, time.UTC)
		if err != nil {
			return // a CSV file without the required header
		}
		lines := strings.Count(string(data), "\n") + 1
		last := 0
		chunks, readErr := rd.chunks(context.Background(), 3, nil)
		for c := range chunks {
			<-c.ready
			for _, rec := range c.recs {
				assert.Greater(t, rec.line, last, "observations come in file order")
				assert.LessOrEqual(t, rec.line, lines)
				assert.False(t, rec.obs.Time.IsZero())
				last = rec.line
			}
			for _, m := range c.msgs {
				assert.LessOrEqual(t, m.line, lines)
			}
		}
		_ = readErr()
		code, _, _ := runCmd(t, string(data), "resolve", "--format", format, "--truth", "-")
		assert.Contains(t, []int{0, 1}, code)
	})
}

// FuzzKinds reads arbitrary bytes as a kinds file; what it accepts prints
// back as a kinds file that reads to the same configuration.
func FuzzKinds(f *testing.F) {
	f.Add(fuzzSeed(f, "testdata/resolve/kinds.json"))
	f.Add(fuzzSeed(f, "testdata/resolve/kinds_bad.json"))
	def, err := defaultKinds().kindsJSON()
	require.NoError(f, err)
	f.Add(def)
	f.Fuzz(func(t *testing.T, data []byte) {
		kc, err := parseKinds("kinds.json", data)
		if err != nil {
			assert.True(t, strings.HasPrefix(err.Error(), "kinds.json"), "errors name the file: %v", err)
			return
		}
		out, err := kc.kindsJSON()
		require.NoError(t, err)
		again, err := parseKinds("kinds.json", out)
		require.NoError(t, err, "%s", out)
		out2, err := again.kindsJSON()
		require.NoError(t, err)
		assert.Equal(t, string(out), string(out2))
	})
}

func BenchmarkParseObservation(b *testing.B) {
	line := []byte(`{"event":1966082,"source":"store_pos","time":"2024-11-10T14:35:04+08:00","ids":[{"kind":"member_card","value":"600000104729"},{"kind":"phone","value":"+86 139-1234-5679"},{"kind":"wechat_openid","value":"oX7ab-Q2pLm9sK1vT3wY8zR4nC6d","scope":"wx5f3c8e2a9b1d7c40"}],"true_member":35}`)
	o := &obsReader{path: "b", loc: time.UTC}
	c := &obsChunk{}
	var j obsJSON
	b.ReportAllocs()
	for b.Loop() {
		var rec obsRecord
		if !o.parseJSON(line, 1, &j, &rec, c) {
			b.Fatal(c.msgs)
		}
	}
}
