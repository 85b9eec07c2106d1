package loyalty

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProgramExample(t *testing.T) {
	data, err := os.ReadFile("testdata/program.json")
	require.NoError(t, err)
	p, err := ParseProgram(data)
	require.NoError(t, err)
	assert.Equal(t, "Asia/Shanghai", p.Location().String())
	assert.Equal(t, []string{"silver", "gold", "platinum", "black"}, tierNames(p.Tiers()))
	assert.Equal(t, Multiplier(12000), p.Tiers()[1].Multiplier)
	card, ok := p.Card("plus-annual")
	require.True(t, ok)
	assert.Equal(t, int64(19900), card.Fee)

	// Config → JSON → Config gives the same programme.
	out, err := json.Marshal(p.Config())
	require.NoError(t, err)
	p2, err := ParseProgram(out)
	require.NoError(t, err)
	assert.Equal(t, p.Config().Tiers, p2.Config().Tiers)
	assert.Equal(t, p.Config().Earning, p2.Config().Earning)
	assert.Equal(t, p.Config().Expiry, p2.Config().Expiry)
	// Defaults are filled in, and survive the round trip.
	assert.Equal(t, HistoryRules{RefundDays: DefaultRefundDays, LateDays: DefaultLateDays}, p.Config().History)
	assert.Equal(t, p.Config().History, p2.Config().History)
}

func tierNames(ts []Tier) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestProgramValidation(t *testing.T) {
	c := Config{
		TimeZone: "Mars/Olympus",
		Earning: EarningRules{PointsPerYuan: -1, PendingDays: 400,
			Campaigns: []Campaign{{Name: "bad", From: "2025-06-19", To: "2025-06-01", Multiplier: 20000}, {From: "yesterday", To: "2025-01-01"}}},
		Expiry:      ExpiryPolicy{EndOf: "week"},
		Tiers:       []Tier{{Name: "silver", Threshold: 5}, {Name: "gold", Threshold: 5}, {Name: "gold", Threshold: 9}},
		Growth:      GrowthRules{Window: "fortnight", Downgrade: "two_tiers"},
		Cards:       []CardProduct{{ID: "plus", Fee: -1, Months: 0}, {ID: "plus", Months: 1}},
		StoredValue: StoredValueRules{SpendOrder: "random", Bonuses: []TopUpBonus{{Min: 0, Bonus: 5}}},
		History:     HistoryRules{RefundDays: -1, LateDays: 36601},
	}
	_, err := NewProgram(c)
	var pe *ProgramError
	require.ErrorAs(t, err, &pe)
	for _, want := range []string{
		`time_zone "Mars/Olympus"`,
		"earning.points_per_yuan -1",
		"earning.pending_days 400",
		"earning.campaigns[0] (bad): from 2025-06-19 is not before to 2025-06-01",
		"earning.campaigns[1].from",
		"earning.campaigns[1].multiplier: must be positive",
		`expiry.end_of "week"`,
		"tiers[0] (silver): the base tier's threshold must be 0, not 5",
		"tiers[1] (gold): threshold 5 must exceed the previous tier's 5",
		`tiers[2]: duplicate name "gold"`,
		`growth.window "fortnight"`,
		`growth.downgrade "two_tiers"`,
		"cards[0] (plus): negative fee",
		"cards[0] (plus): months 0",
		`cards[1]: duplicate id "plus"`,
		`stored_value.spend_order "random"`,
		"stored_value.bonuses[0]",
		"history.refund_days -1: want 1..36600 (0 for the default 366)",
		"history.late_days 36601",
	} {
		assert.True(t, slicesContainsSub(pe.Problems, want), "missing problem %q in %q", want, pe.Problems)
	}
}

func slicesContainsSub(xs []string, sub string) bool {
	for _, x := range xs {
		if strings.Contains(x, sub) {
			return true
		}
	}
	return false
}

func TestParseProgramErrorsNameThePlace(t *testing.T) {
	_, err := ParseProgram([]byte("{\n  \"earning\": {\"points_per_yuan\": 1,}\n}"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2:")
	_, err = ParseProgram([]byte(`{"earning": {"points_per_yen": 1}}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "points_per_yen")
	_, err = ParseProgram([]byte("{\n\"tiers\": [{\"name\": \"a\", \"threshold\": \"high\"}]}"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2:")
	_, err = ParseProgram([]byte(`{"earning": {"channel_multipliers": {"app": 1.23456}}}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "at most 4 decimals")
}

func TestParseMultiplier(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Multiplier
		ok   bool
	}{
		{"1", 10000, true},
		{"1.5", 15000, true},
		{"0.0001", 1, true},
		{"12.3456", 123456, true},
		{"1000", 10000000, true},
		{"1001", 0, false},
		{"-1", 0, false},
		{"1e2", 0, false},
		{"1.", 0, false},
		{".5", 0, false},
		{"1.23456", 0, false},
		{"", 0, false},
	} {
		got, err := ParseMultiplier(tc.in)
		if !tc.ok {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
		back, err := ParseMultiplier(got.String())
		require.NoError(t, err)
		assert.Equal(t, got, back, "round trip of %s", tc.in)
	}
}

func TestExpiresAt(t *testing.T) {
	for _, tc := range []struct {
		months int
		endOf  string
		earned string
		want   string
	}{
		// + 1 month = 2025-02-15, end of that day.
		{1, EndOfDay, "2025-01-15 10:00", "2025-02-16 00:00"},
		// Jan 31 + 1 month clamps to Feb 28 (2025 is not a leap year).
		{1, EndOfDay, "2025-01-31 23:59", "2025-03-01 00:00"},
		// 2024 is: Jan 31 + 1 month = Feb 29.
		{1, EndOfDay, "2024-01-31 08:00", "2024-03-01 00:00"},
		// + 12 months = 2026-03-15 → end of March.
		{12, EndOfMonth, "2025-03-15 10:00", "2026-04-01 00:00"},
		// + 12 months = 2026-03-15 → end of 2026.
		{12, EndOfYear, "2025-03-15 10:00", "2027-01-01 00:00"},
		// December + 1 month crosses the year.
		{1, EndOfMonth, "2025-12-20 10:00", "2026-02-01 00:00"},
		// Midnight belongs to the day it starts.
		{1, EndOfDay, "2025-01-15 00:00", "2025-02-16 00:00"},
	} {
		c := baseConfig()
		c.Expiry = ExpiryPolicy{Months: tc.months, EndOf: tc.endOf}
		p, err := NewProgram(c)
		require.NoError(t, err)
		got := p.ExpiresAt(sh(tc.earned))
		assert.True(t, got.Equal(sh(tc.want)), "%d %s from %s: got %s want %s", tc.months, tc.endOf, tc.earned, got, tc.want)
	}
	p, err := NewProgram(baseConfig())
	require.NoError(t, err)
	assert.True(t, p.ExpiresAt(sh("2025-01-01")).IsZero(), "months 0 never expires")
}

func TestGrowthWindow(t *testing.T) {
	c := baseConfig()
	c.Growth = GrowthRules{Months: 3}
	p, err := NewProgram(c)
	require.NoError(t, err)
	// The 3 months ending 2025-05-31 start 2025-03-01 (2025-02-28 + 1 day).
	assert.Equal(t, civil(2025, 3, 1), p.windowStart(civil(2025, 5, 31)))
	// Ending 2025-05-15: from 2025-02-16.
	assert.Equal(t, civil(2025, 2, 16), p.windowStart(civil(2025, 5, 15)))
	assert.Equal(t, day(0), civil(1970, 1, 1))
	assert.Equal(t, civil(2025, 5, 15), p.dayOf(time.Date(2025, 5, 14, 16, 0, 0, 0, time.UTC)), "midnight in Shanghai")
}
