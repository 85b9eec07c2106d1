package main

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRFMCommand runs testdata/tx.csv as of 2024-03-31 in Shanghai.
// Members in order of appearance: alice, bob, carol.
//
//	alice: Mar 1 (two orders, one day), Mar 10 online; 5.00 refunded → 55.00
//	bob:   one order of two lines on Mar 31 → 4.00
//	carol: 2024-02-29 16:30 UTC = Mar 1 00:30 in Shanghai → 0.50
//	dave:  a bad month and a negative amount without a link: skipped
//	erin:  three decimals: skipped
//
// Three buyers in 5 bins: NTILE gives bins 1, 2, 3.
//
//	R by (recency desc, member): carol 30, alice 21, bob 0   → 1, 2, 3
//	F by (orders, member):       bob 1, carol 1, alice 3      → 1, 2, 3
//	M:                           carol 0.50, bob 4, alice 55  → 1, 2, 3
//
// Grid: alice R2 F3 At Risk, bob R3 F1 About To Sleep, carol R1 F2
// Hibernating. Classes against the means (recency 17, orders 5/3,
// spend 19.83): alice R low F high M high 重要保持; bob R high, F and M
// low 一般发展; carol all low 一般挽留.
func TestRFMCommand(t *testing.T) {
	code, out, errs := runCmd(t, "", "rfm", "--tz", "Asia/Shanghai", "testdata/tx.csv")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, `testdata/tx.csv:9: time "2024-13-01"`)
	assert.Contains(t, errs, "testdata/tx.csv:10: negative amount without a linked order")
	assert.Contains(t, errs, `testdata/tx.csv:11: amount "1.005"`)
	assert.Contains(t, errs, "read 10 rows, skipped 3; 6 transactions of 3 members")

	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	assert.Equal(t, []string{"member", "first", "last", "recency", "orders", "days", "monetary", "r", "f", "m", "rfm", "segment", "class"}, rows[0])
	assert.Equal(t, []string{"alice", "2024-03-01", "2024-03-10", "21", "3", "2", "55.00", "2", "3", "3", "233", "At Risk", "重要保持"}, rows[1])
	assert.Equal(t, []string{"bob", "2024-03-31", "2024-03-31", "0", "1", "1", "4.00", "3", "1", "2", "312", "About To Sleep", "一般发展"}, rows[2])
	assert.Equal(t, []string{"carol", "2024-03-01", "2024-03-01", "30", "1", "1", "0.50", "1", "2", "1", "121", "Hibernating", "一般挽留"}, rows[3])

	// In UTC carol bought on Feb 29 and the as-of day is still Mar 31.
	code, out, _ = runCmd(t, "", "rfm", "--json", "--as-of", "2024-03-31", "testdata/tx.csv")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	var carol map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &carol))
	assert.Equal(t, "2024-02-29", carol["first"])
	assert.Equal(t, float64(31), carol["recency"])
	assert.Equal(t, "0.50", carol["monetary"])
}

func TestRFMCommandWindowAndThresholds(t *testing.T) {
	// Window from Mar 5: alice keeps Mar 10 (30.00, refund 5.00), carol
	// and alice's Mar 1 orders fall out.
	code, out, errs := runCmd(t, "", "rfm", "--tz", "Asia/Shanghai", "--from", "2024-03-05", "--as-of", "2024-03-31",
		"--method", "thresholds", "--bins", "3", "--r-thresholds", "7,14", "--f-thresholds", "2,3", "--m-thresholds", "10,50", "testdata/tx.csv")
	require.Equal(t, 0, code, errs)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	// alice: recency 21 ≥ 14 → R 1; 1 order → F 1; 25.00 ≥ 10 → M 2.
	// Class: both have 1 order, so F is at the mean, which counts as
	// high; R 21 > mean 10.5 is low; M 25.00 > mean 14.50 is high.
	assert.Equal(t, []string{"alice", "2024-03-10", "2024-03-10", "21", "1", "1", "25.00", "1", "1", "2", "112", "", "重要保持"}, rows[1])
	// bob: recency 0 → R 3; 1 order → F 1; 4.00 → M 1
	assert.Equal(t, "311", rows[2][10])
	assert.Equal(t, "", rows[2][11], "no grid names with 3 bins")
}

func TestRFMCommandErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no file":       {"rfm"},
		"bad method":    {"rfm", "--method", "median", "testdata/tx.csv"},
		"missing cuts":  {"rfm", "--method", "thresholds", "testdata/tx.csv"},
		"bad cuts":      {"rfm", "--method", "thresholds", "--r-thresholds", "9,1,2,3", "--f-thresholds", "1,2,3,4", "--m-thresholds", "1,2,3,4", "testdata/tx.csv"},
		"bad tz":        {"rfm", "--tz", "Mars/Olympus", "testdata/tx.csv"},
		"bad as-of":     {"rfm", "--as-of", "31/03/2024", "testdata/tx.csv"},
		"bad frequency": {"rfm", "--frequency", "weekly", "testdata/tx.csv"},
		"bad format":    {"rfm", "--format", "xlsx", "testdata/tx.csv"},
	} {
		code, _, errs := runCmd(t, "", args...)
		assert.Equal(t, 2, code, "%s: %s", name, errs)
	}
	code, _, errs := runCmd(t, "", "rfm", "testdata/missing.csv")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "missing.csv")
	code, _, errs = runCmd(t, "", "rfm", "testdata/noheader.csv")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, `testdata/noheader.csv:1: header has no "amount" column`)
}

func TestUnknownMembers(t *testing.T) {
	code, out, errs := runCmd(t, "", "rfm", "--members", "testdata/members.txt", "testdata/tx.csv")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, `testdata/tx.csv:6: unknown member "bob"`)
	assert.Contains(t, out, "alice,")
	assert.NotContains(t, out, "bob,")
}
