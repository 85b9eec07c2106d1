package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	exampleProgram = "../../loyalty/testdata/program.json"
	exampleEvents  = "../../loyalty/testdata/events.jsonl"
)

// The example events, worked out by hand from the example programme
// (1 point per yuan, 7 pending days, app 1.5×, card 1.1×, growth 1 per
// yuan + 10 per order, 12-month rolling window):
//
//   - member 1 buys plus-annual (fee 199.00) on 2025-01-05 09:00; order
//     SO-1001: otc 456.80 → floor(456.80 × 1.1) = 502 points, growth 456 +
//     10; rx_insurance earns nothing. Savings 35.00.
//   - SO-1002 (88.00, 200 points used, savings 8.00) earns floor(88 × 1.1)
//     = 96, and is refunded in full two days later: the 96 pending points
//     and 98 growth go, the 200 points return to the first lot, savings
//     back to 35.00. Member 1 ends with 502 points.
//   - The card period ends 2026-01-05 09:00: guarantee 199.00 − 35.00 =
//     164.00. The 502 points expire 2026-02-01 (end of the month 12 months
//     on), inside the 30-day notice window at the last settle.
//   - member 2: APP-2001 1299.00 in the app → floor(1299 × 1.5) = 1948
//     points; growth 1309 ≥ 1000 → gold. Line 9 redeems 5000: refused.
//     Line 10 redeems 500 → 1448. Top-up 1000.00 gets 100.00 bonus; the
//     250.00 spend comes from principal first → 750.00 + 100.00.
//   - growth at 2026-01-05: the window starts 2025-01-06, so member 1's
//     2025-01-05 order is out (0) and member 2's 2025-01-06 order is in.
func TestLoyaltyReplayExample(t *testing.T) {
	code, out, errOut := runCmd(t, "", "loyalty", "replay", "--program", exampleProgram, exampleEvents)
	assert.Equal(t, 1, code, "line 9 fails")
	assert.Contains(t, errOut, "events.jsonl:9: redeem tx \"x-1\" member 2: points: member 2: requested 5000, available 1948: insufficient points")
	assert.Contains(t, errOut, "1 of 12 lines of "+exampleEvents+" failed")

	for _, want := range []string{
		"2025-01-06 19:30 member 2 tier_changed silver→gold (tx t-2)",
		"2026-01-05 09:00 member 1 points_expiring_soon 502 points at 2026-02-01 00:00",
		"2026-01-05 09:00 member 1 card_guarantee_due plus-annual fee 199.00 savings 35.00 refund 164.00",
		"balances as of 2026-01-05T09:00:00+08:00:",
		"member 1: tier silver (growth 0)  points 502 available, 0 pending, 502 lifetime",
		"  expiring 2026-02-01 00:00: 502",
		"  card plus-annual 2025-01-05 09:00..2026-01-05 09:00 settled fee 199.00 savings 35.00 guarantee 164.00",
		"member 2: tier gold (growth 1309, since 2025-01-06 19:30)  points 1448 available, 0 pending, 1948 lifetime  stored value 750.00 + 100.00 bonus",
	} {
		assert.Contains(t, out, want)
	}
}

func TestLoyaltyReplayLedgerAndJSON(t *testing.T) {
	code, out, _ := runCmd(t, "", "loyalty", "replay", "--program", exampleProgram, "--ledger", "--as-of", "2025-02-17T00:00:00+08:00", exampleEvents)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "2025-02-16 09:00 #")
	assert.Contains(t, out, "restore r-1 lot=1 points=+200 ref=SO-1002")

	code, out, _ = runCmd(t, "", "loyalty", "replay", "--program", exampleProgram, "--json", "--ledger", exampleEvents)
	assert.Equal(t, 1, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	var m2 struct {
		Member    uint32 `json:"member"`
		Available int64  `json:"available"`
		Tier      string `json:"tier"`
		Ledger    []struct {
			Kind string `json:"kind"`
		} `json:"ledger"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &m2))
	assert.Equal(t, uint32(2), m2.Member)
	assert.Equal(t, int64(1448), m2.Available)
	assert.Equal(t, "gold", m2.Tier)
	assert.Equal(t, "earn", m2.Ledger[0].Kind)
}

func TestLoyaltyReplayDurableResume(t *testing.T) {
	db := filepath.Join(t.TempDir(), "l.db")
	code, first, _ := runCmd(t, "", "loyalty", "replay", "--program", exampleProgram, "--db", db, exampleEvents)
	assert.Equal(t, 1, code)
	// Again on the same file: every line is a replay; balances unchanged.
	code, second, errOut := runCmd(t, "", "loyalty", "replay", "--program", exampleProgram, "--db", db, exampleEvents)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "0 recorded")
	_, after, _ := strings.Cut(first, "balances as of")
	_, after2, _ := strings.Cut(second, "balances as of")
	assert.Equal(t, after, after2)
}

func TestLoyaltyReplayErrors(t *testing.T) {
	code, _, errOut := runCmd(t, "", "loyalty", "replay", exampleEvents)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--program is required")

	code, _, _ = runCmd(t, "", "loyalty", "replay", "--program", exampleProgram, "--as-of", "yesterday", exampleEvents)
	assert.Equal(t, 2, code)

	bad := filepath.Join(t.TempDir(), "p.json")
	require.NoError(t, os.WriteFile(bad, []byte("{\n  \"tiers\": [{\"name\": \"a\", \"threshold\": 5}]\n}"), 0o644))
	code, _, errOut = runCmd(t, "", "loyalty", "replay", "--program", bad, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "p.json: invalid loyalty programme: tiers[0] (a): the base tier's threshold must be 0, not 5")

	require.NoError(t, os.WriteFile(bad, []byte("{\n  \"tiers\": [,]\n}"), 0o644))
	code, _, errOut = runCmd(t, "", "loyalty", "replay", "--program", bad, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "p.json:2:")

	// Bad lines are named and the rest still applies.
	stdin := `{"op":"adjust","tx":"a","member":1,"at":"2025-01-01T00:00:00Z","points":10,"reason":"x"}
{"op":"adjust","tx":"b","member":1,"at":"2025-01-01T00:00:00Z","points":10,"reasn":"x"}
not json
# a comment

{"op":"teleport","tx":"c","member":1}
{"op":"adjust","tx":"d","member":1,"at":"2025-01-02T00:00:00Z","points":5,"reason":"y"}
`
	code, out, errOut := runCmd(t, stdin, "loyalty", "replay", "--program", exampleProgram, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "stdin:2: adjust: json: unknown field \"reasn\"")
	assert.Contains(t, errOut, "stdin:3: ")
	assert.Contains(t, errOut, "stdin:6: unknown op \"teleport\"")
	assert.Contains(t, out, "points 15 available")
}

// The merge example, worked out by hand from the example programme:
// member 7's SO-1 (300.00) earns 300 pending points and growth 310;
// member 8's SO-2 (800.00) 800 and 810. The merge on 2025-03-05 brings
// member 8's lot and growth: 1120 ≥ 1000, gold at once. Refunding 200.00
// of SO-2 through member 7 reverses 200 pending points of the moved lot
// and 200 growth: 900 points (matured by 2025-03-10), growth 920. Line 6
// names the merged member and fails.
func TestLoyaltyReplayMerge(t *testing.T) {
	code, out, errOut := runCmd(t, "", "loyalty", "replay", "--program", exampleProgram, "--ledger",
		"--as-of", "2025-03-10T00:00:00+08:00", "../../loyalty/testdata/merge.jsonl")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "merge.jsonl:6: refund tx \"m-4\" member 8: member: member 8 was merged into member 7: account merged into another")
	for _, want := range []string{
		"2025-03-05 10:00 member 7 tier_changed silver→gold (tx mg-1)",
		"member 7: tier gold (growth 920, since 2025-03-05 10:00)  points 900 available, 0 pending, 900 lifetime  merged from 8",
		"#3 merge_in mg-1 lot=2 pending=+800 earned=800 peer_lot=1 ref=8",
		"member 8: merged into member 7",
		"#3 merge_out mg-1 lot=1 pending=-800 earned=800 peer_lot=2 ref=7",
	} {
		assert.Contains(t, out, want)
	}
}
