package loyalty

import (
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hot path computes calendar days and points rates without the time
// package and math/big; these tests hold it to them.

// TestCalendarAgainstTimePackage compares civil, day.date, daysIn and
// dayOf with the time package over five centuries, across zones with
// daylight saving time and a skipped day (Samoa, 2011-12-30).
func TestCalendarAgainstTimePackage(t *testing.T) {
	ref := func(y int, m time.Month, d int) day {
		return day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	}
	for d := ref(1800, 1, 1); d <= ref(2300, 12, 31); d++ {
		y, m, dd := time.Unix(int64(d)*86400, 0).UTC().Date()
		if gy, gm, gd := d.date(); gy != y || gm != m || gd != dd {
			t.Fatalf("date of day %d: %d-%02d-%02d, want %d-%02d-%02d", d, gy, gm, gd, y, m, dd)
		}
		if got := civil(y, m, dd); got != d {
			t.Fatalf("civil(%d, %d, %d) = %d, want %d", y, m, dd, got, d)
		}
		if want := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day(); dd == 1 && daysIn(y, m) != want {
			t.Fatalf("daysIn(%d, %d) = %d, want %d", y, m, daysIn(y, m), want)
		}
	}
	// Days outside the month normalise as time.Date does.
	for _, c := range [][3]int{{2024, 1, 0}, {2024, 1, 32}, {2024, 2, 30}, {2023, 3, -1}, {1999, 12, 45}} {
		assert.Equal(t, ref(c[0], time.Month(c[1]), c[2]), civil(c[0], time.Month(c[1]), c[2]), "%v", c)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for _, zone := range []string{"Asia/Shanghai", "America/New_York", "Europe/London", "Pacific/Apia", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(zone)
		require.NoError(t, err)
		p := &Program{loc: loc}
		for range 20000 {
			at := time.Unix(rng.Int64N(int64(200*365*86400))-int64(30*365*86400), rng.Int64N(1e9))
			if y, m, d := at.In(loc).Date(); p.dayOf(at) != ref(y, m, d) {
				t.Fatalf("%s %s: day %d, want %d", zone, at, p.dayOf(at), ref(y, m, d))
			}
		}
	}
}

// TestExpiresAtMemo: the remembered expiry of the last day never leaks
// into another day's.
func TestExpiresAtMemo(t *testing.T) {
	for _, endOf := range []string{EndOfDay, EndOfMonth, EndOfYear} {
		c := baseConfig()
		c.Expiry = ExpiryPolicy{Months: 1, EndOf: endOf}
		p, err := NewProgram(c)
		require.NoError(t, err)
		fresh := func(at time.Time) time.Time {
			q, err := NewProgram(c)
			require.NoError(t, err)
			return q.ExpiresAt(at)
		}
		for _, s := range []string{"2025-01-31 23:59:59", "2025-02-01", "2025-02-01 12:00", "2025-01-31 00:00", "2024-02-29 10:00"} {
			at := sh(s)
			assert.Equal(t, fresh(at), p.ExpiresAt(at), "%s %s", endOf, s)
		}
	}
}

// ratRate is the reference: the line's rate as math/big computes it.
func ratRate(p *Program, tier int, channel string, card Multiplier, category string, at time.Time) string {
	return rateString(p.lineRate(tier, channel, card, category, at))
}

// TestRatesAgainstBig draws programmes with random multipliers (huge ones
// included, which leave uint64) and checks rate strings and points
// against math/big.
func TestRatesAgainstBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	mult := func() Multiplier {
		switch rng.IntN(4) {
		case 0:
			return Multiplier(rng.Int64N(3*bp) + 1)
		case 1:
			return Multiplier((rng.Int64N(40) + 1) * bp / 4)
		case 2:
			return Multiplier(rng.Int64N(1000*bp) + 1)
		}
		return Multiplier(rng.Int64N(1<<62) + 1)
	}
	for i := range 1000 {
		c := baseConfig()
		c.Earning.PointsPerYuan = rng.Int64N(10000) + 1
		c.Tiers = []Tier{{Name: "a", Multiplier: mult()}, {Name: "b", Threshold: 1, Multiplier: mult()}}
		c.Earning.ChannelMultipliers = map[string]Multiplier{"app": mult()}
		for k := range rng.IntN(4) {
			c.Earning.Campaigns = append(c.Earning.Campaigns, Campaign{Name: strconv.Itoa(k), From: "2025-01-01", To: "2025-12-31",
				Categories: []string{"otc"}[:rng.IntN(2)], Multiplier: mult()})
		}
		p, err := NewProgram(c)
		require.NoError(t, err)
		at := sh("2025-06-01")
		for _, channel := range []string{"app", "store"} {
			card := Multiplier(0)
			if rng.IntN(2) == 0 {
				card = mult()
			}
			tier := rng.IntN(2)
			want := ratRate(p, tier, channel, card, "otc", at)
			got := p.lineRateString(tier, channel, card, "otc", at)
			require.Equal(t, want, got, "programme %d channel %s", i, channel)
			fen := rng.Int64N(1e13)
			r, ok := new(big.Rat).SetString(want)
			require.True(t, ok)
			assert.Equal(t, pointsFor(fen, c.Earning.PointsPerYuan, r), pointsAt(fen, c.Earning.PointsPerYuan, got), "rate %s fen %d", got, fen)
		}
	}
}

// TestPointsAtOddStrings: rate strings the fast parser refuses still mean
// what math/big reads in them.
func TestPointsAtOddStrings(t *testing.T) {
	for _, s := range []string{"1", "0", "6/5", "06/5", "010", "1.5", "3/6", "+2", "-1/2", "1/0", "x", "", "18446744073709551616/3", "7/18446744073709551617"} {
		want := int64(0)
		if r := parseRate(s); r != nil {
			want = pointsFor(123456, 7, r)
		}
		assert.Equal(t, want, pointsAt(123456, 7, s), "%q", s)
	}
}

// TestEarnsBelowMax: the bound never claims an order safe that earns
// maxPoints or more.
func TestEarnsBelowMax(t *testing.T) {
	c := baseConfig()
	c.Earning.PointsPerYuan = 10000
	c.Tiers = []Tier{{Name: "a", Multiplier: 1000 * bp}}
	c.Earning.Campaigns = []Campaign{{From: "2025-01-01", To: "2026-01-01", Multiplier: 1000 * bp}}
	p, err := NewProgram(c)
	require.NoError(t, err)
	small := []Line{{Paid: 100}}
	assert.True(t, p.earnsBelowMax(small))
	huge := []Line{{Paid: 1e9}}
	// 1e9 fen × 10000 / 100 × 10^6 = 10^17 points: over the limit.
	assert.False(t, p.earnsBelowMax(huge))
	assert.Greater(t, pointsAt(1e9, 10000, p.lineRateString(0, "", 0, "", sh("2025-06-01"))), int64(maxPoints))
}

// TestAddDaysAgainstAddDate: addDays takes a shortcut where the zone
// keeps one offset; it must agree with AddDate everywhere, across
// daylight-saving changes and Samoa's skipped day, whatever span the
// programme remembered last.
func TestAddDaysAgainstAddDate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, zone := range []string{"UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "Pacific/Apia", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(zone)
		require.NoError(t, err)
		p := &Program{loc: loc}
		for range 20000 {
			at := time.Unix(rng.Int64N(int64(60*365*86400))+int64(10*365*86400), rng.Int64N(1e9))
			if rng.IntN(4) == 0 {
				// Near a transition: the start or end of the zone span.
				start, end := at.In(loc).ZoneBounds()
				if !end.IsZero() {
					at = end.Add(time.Duration(rng.Int64N(int64(72*time.Hour))) - 36*time.Hour)
				} else if !start.IsZero() {
					at = start.Add(time.Duration(rng.Int64N(int64(72*time.Hour))) - 36*time.Hour)
				}
			}
			n := []int{-366, -30, -1, 0, 1, 3, 30, 366}[rng.IntN(8)]
			want := at.In(loc).AddDate(0, 0, n)
			if got := p.addDays(at, n); !want.Equal(got) || want.Location() != got.Location() {
				t.Fatalf("%s %s %+d: want %s, got %s", zone, at, n, want, got)
			}
		}
	}
}

// TestWindowStartMemo: remembered window starts are those computed
// afresh, for both kinds of window, days in any order.
func TestWindowStartMemo(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, g := range []GrowthRules{{Months: 12}, {Months: 1}, {Window: WindowCalendarYear}} {
		c := baseConfig()
		c.Growth = g
		p, err := NewProgram(c)
		require.NoError(t, err)
		for range 5000 {
			d := day(rng.IntN(40000) - 5000)
			q, err := NewProgram(c)
			require.NoError(t, err)
			if got, want := p.windowStart(d), q.windowStart(d); got != want {
				t.Fatalf("%+v: windowStart(%d) = %d, want %d", g, d, got, want)
			}
		}
		assert.Equal(t, civil(1970, 1, 1), func() day {
			q, _ := NewProgram(Config{Growth: GrowthRules{Window: WindowCalendarYear}})
			q.windowStart(0)
			return q.windowStart(0)
		}())
	}
}

// TestInstants: an instant's zero value is the zero time, before every
// other; instants order as their times do and survive the records.
func TestInstants(t *testing.T) {
	var zero instant
	assert.True(t, zero.IsZero())
	assert.True(t, zero.Time().IsZero())
	times := []time.Time{sh("1900-01-01"), time.Unix(0, -1), time.Unix(0, 0), time.Unix(0, 1), sh("2025-03-01 10:00:00.123456789"), sh("2199-12-31")}
	for i, a := range times {
		assert.Less(t, zero, instantOf(a))
		assert.True(t, instantOf(a).Time().Equal(a), "%s", a)
		for _, b := range times[i+1:] {
			assert.Less(t, instantOf(a), instantOf(b), "%s < %s", a, b)
		}
	}
	// A lot nobody spent from keeps a zero LastUsed through its record.
	l := newTestLedger(t, baseConfig())
	mustApply(t, l, order("a", 1, sh("2025-03-01"), "A", line("otc", 1000)))
	a := accountOf(t, l, 1)
	require.Len(t, a.Lots, 1)
	assert.True(t, a.Lots[0].LastUsed.IsZero())
	mustApply(t, l, Redeem{Tx: "r", Member: 1, At: sh("2025-03-02"), Points: 3})
	assert.True(t, accountOf(t, l, 1).Lots[0].LastUsed.Time().Equal(sh("2025-03-02")))
}
