package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGen(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd(t, "", "gen", "-members", "300", "-seed", "5", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "wrote 300 members")

	members := readCSV(t, filepath.Join(dir, "members.csv"))
	require.Len(t, members, 301)
	assert.Equal(t, []string{"member", "age", "gender", "city", "store", "channel", "channels", "registered_at", "lapsed_at", "conditions"}, members[0])
	assert.Equal(t, "0", members[1][0])

	orders := readCSV(t, filepath.Join(dir, "orders.csv"))
	lines := readCSV(t, filepath.Join(dir, "order_lines.csv"))
	// The lines of each order add up to its amount, to the fen.
	sums := map[string]int64{}
	for _, l := range lines[1:] {
		sums[l[0]] += fen(t, l[5])
	}
	refunds := 0
	for _, o := range orders[1:] {
		assert.Equal(t, sums[o[0]], fen(t, o[5]), "order %s", o[0])
		if o[6] != "" {
			refunds++
			assert.True(t, strings.HasPrefix(o[5], "-"), "refund %s is negative", o[0])
		}
	}
	assert.Positive(t, refunds)

	data, err := os.ReadFile(filepath.Join(dir, "observations.jsonl"))
	require.NoError(t, err)
	var n int
	for line := range strings.Lines(string(data)) {
		var o struct {
			Source string `json:"source"`
			IDs    []struct {
				Kind, Value string
			} `json:"ids"`
			TrueMember *uint32 `json:"true_member"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &o))
		require.NotNil(t, o.TrueMember)
		require.NotEmpty(t, o.Source)
		n++
	}
	assert.Greater(t, n, 300, "every member is observed at least once")

	// The same seed writes the same files.
	dir2 := t.TempDir()
	code, _, errOut = runCmd(t, "", "gen", "-members", "300", "-seed", "5", dir2)
	require.Equal(t, 0, code, errOut)
	for _, f := range []string{"members.csv", "orders.csv", "order_lines.csv", "observations.jsonl"} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(dir2, f))
		assert.Equal(t, a, b, f)
	}
}

func TestGenUsage(t *testing.T) {
	code, _, errOut := runCmd(t, "", "gen")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "want one output directory")
	code, _, errOut = runCmd(t, "", "gen", "-profile", "bakery", t.TempDir())
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown -profile "bakery"`)
	code, _, errOut = runCmd(t, "", "gen", "-members", "-4", t.TempDir())
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "-members must be positive")
}

func TestAppendYuan(t *testing.T) {
	for fen, want := range map[int64]string{0: "0.00", 5: "0.05", 2933: "29.33", -5: "-0.05", -120000: "-1200.00"} {
		assert.Equal(t, want, string(appendYuan(nil, fen)))
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return rows
}

// fen parses a decimal yuan amount written by appendYuan.
func fen(t *testing.T, s string) int64 {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	yuan, cents, ok := strings.Cut(s, ".")
	require.True(t, ok && len(cents) == 2, "amount %q", s)
	y, err := strconv.ParseInt(yuan, 10, 64)
	require.NoError(t, err)
	c, err := strconv.ParseInt(cents, 10, 64)
	require.NoError(t, err)
	if neg {
		return -(y*100 + c)
	}
	return y*100 + c
}
