package loyalty

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every expected number below is worked out by hand in the comment beside
// it, from the programme's rules, not taken from the code's output.

func TestScenarioRoundingOfFen(t *testing.T) {
	c := baseConfig()
	c.Earning.ExcludedCategories = []string{"rx"}
	c.Tiers = []Tier{{Name: "silver"}, {Name: "gold", Threshold: 1, Multiplier: 15000}}
	c.Growth = GrowthRules{PerOrder: 1} // any order makes gold, for the multiplier case
	l := newTestLedger(t, c)
	at := sh("2025-03-01 10:00")

	cases := []struct {
		name  string
		lines []Line
		want  int64
	}{
		// 12345 fen = 123.45 yuan → floor(123.45 × 1) = 123.
		{"fractional yuan rounds down", []Line{line("otc", 12345)}, 123},
		// 50 + 50 fen in one category = 100 fen = 1 yuan → 1 point; rounding
		// each line first would give 0 + 0.
		{"lines summed before rounding", []Line{line("otc", 50), line("otc", 50)}, 1},
		// 99 fen → floor(0.99) = 0.
		{"under a yuan earns nothing", []Line{line("otc", 99)}, 0},
		// rx is excluded: only 2050 fen counts → floor(20.5) = 20.
		{"excluded category", []Line{line("rx", 10000), line("otc", 2050)}, 20},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := uint32(100 + i)
			r := mustApply(t, l, order("round-"+tc.name, m, at, "o1", tc.lines...))
			assert.Equal(t, tc.want, r.Sum(EntryEarn, func(e Entry) int64 { return e.Points }))
		})
	}

	// Member 1 is silver for the first order and gold (1.5×) after it:
	// 12345 fen at 1.5× → floor(123.45 × 1.5) = floor(185.175) = 185.
	mustApply(t, l, order("m1-o1", 1, at, "o1", line("otc", 100)))
	r := mustApply(t, l, order("m1-o2", 1, at, "o2", line("otc", 12345)))
	assert.Equal(t, int64(185), r.Sum(EntryEarn, func(e Entry) int64 { return e.Points }))

	// 2 points per yuan on 199 fen: floor(1.99 × 2) = floor(3.98) = 3.
	c2 := baseConfig()
	c2.Earning.PointsPerYuan = 2
	l2 := newTestLedger(t, c2)
	r = mustApply(t, l2, order("x", 1, at, "o", line("otc", 199)))
	assert.Equal(t, int64(3), r.After.Available)
	requireAudit(t, l)
	requireAudit(t, l2)
}

func TestScenarioMultipliersStack(t *testing.T) {
	c := baseConfig()
	c.Earning.ChannelMultipliers = map[string]Multiplier{"app": 20000}
	c.Earning.Campaigns = []Campaign{
		{Name: "618", From: "2025-06-01", To: "2025-06-19", Multiplier: 30000, Categories: []string{"otc"}},
		{Name: "app-week", From: "2025-06-18T00:00:00+08:00", To: "2025-06-25T00:00:00+08:00", Channels: []string{"app"}, Multiplier: 15000},
	}
	l := newTestLedger(t, c)
	// 2025-06-18 in the app, otc line 1000 fen: channel 2 × 618 3 × app-week
	// 1.5 = 9 → 10 yuan × 9 = 90; food line 1000 fen: 2 × 1.5 = 3 → 30.
	r := mustApply(t, l, Order{Tx: "t", Member: 1, At: sh("2025-06-18 09:00"), OrderID: "o", Channel: "app",
		Lines: []Line{line("otc", 1000), line("food", 1000)}})
	assert.Equal(t, int64(120), r.After.Available)
	// 2025-06-19 00:00 the 618 campaign has ended (To is exclusive):
	// otc 10 yuan × 2 × 1.5 = 30.
	r = mustApply(t, l, Order{Tx: "t2", Member: 2, At: sh("2025-06-19 00:00"), OrderID: "o", Channel: "app",
		Lines: []Line{line("otc", 1000)}})
	assert.Equal(t, int64(30), r.After.Available)
}

func TestScenarioPendingThenAvailable(t *testing.T) {
	c := baseConfig()
	c.Earning.PendingDays = 7
	l := newTestLedger(t, c)
	r := mustApply(t, l, order("o1", 1, sh("2025-03-01 10:00"), "o1", line("otc", 10000)))
	// 100 yuan → 100 points, pending until 2025-03-08 10:00.
	assert.Equal(t, Totals{Pending: 100, Lifetime: 100, Tier: "member"}, r.After)

	b := balanceAt(t, l, 1, sh("2025-03-08 09:59:59"))
	assert.Equal(t, int64(0), b.Available)
	assert.Equal(t, int64(100), b.Pending)
	b = balanceAt(t, l, 1, sh("2025-03-08 10:00"))
	assert.Equal(t, int64(100), b.Available)
	assert.Equal(t, int64(0), b.Pending)

	// Pending points cannot be spent.
	_, err := l.Apply(context.Background(), Redeem{Tx: "r1", Member: 1, At: sh("2025-03-05 12:00"), Points: 50})
	require.ErrorIs(t, err, ErrInsufficientPoints)

	// Settling at maturity records it.
	r = mustApply(t, l, Settle{Member: 1, At: sh("2025-03-08 10:00")})
	require.Len(t, r.Entries, 1)
	assert.Equal(t, EntryMature, r.Entries[0].Kind)
	assert.Equal(t, int64(100), r.Entries[0].Points)
	assert.Equal(t, int64(-100), r.Entries[0].Pending)
	mustApply(t, l, Redeem{Tx: "r1", Member: 1, At: sh("2025-03-08 10:00"), Points: 50})
	assert.Equal(t, int64(50), balanceAt(t, l, 1, sh("2025-03-09")).Available)
	requireAudit(t, l)
}

func TestScenarioRedeemMoreThanAvailable(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	mustApply(t, l, order("o1", 1, sh("2025-03-01 10:00"), "o1", line("otc", 10000)))
	_, err := l.Apply(context.Background(), Redeem{Tx: "r1", Member: 1, At: sh("2025-03-02"), Points: 150})
	var ie *InsufficientError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, &InsufficientError{Member: 1, Requested: 150, Available: 100, Err: ErrInsufficientPoints}, ie)
	var oe *OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "r1", oe.Tx)

	// Nothing was recorded: balance intact, and the ID is free for a retry.
	assert.Equal(t, int64(100), balanceAt(t, l, 1, sh("2025-03-02")).Available)
	_, ok, err := l.Receipt(context.Background(), "r1")
	require.NoError(t, err)
	assert.False(t, ok)
	mustApply(t, l, order("o2", 1, sh("2025-03-03"), "o2", line("otc", 5000)))
	r := mustApply(t, l, Redeem{Tx: "r1", Member: 1, At: sh("2025-03-04"), Points: 150})
	assert.Equal(t, int64(0), r.After.Available) // 100 + 50 − 150
	requireAudit(t, l)
}

func TestScenarioFIFOByExpiryAcrossLots(t *testing.T) {
	c := baseConfig()
	c.Expiry = ExpiryPolicy{Months: 12, EndOf: EndOfMonth}
	l := newTestLedger(t, c)
	// Lot 1 from an order of 2025-05-01 expires 2026-06-01 00:00; lot 2,
	// an offline order of 2025-02-01 that arrived later, expires
	// 2026-03-01 00:00; lot 3 (2025-05-20) also expires 2026-06-01.
	mustApply(t, l, order("x", 1, sh("2025-05-01 10:00"), "x", line("otc", 10000)))
	mustApply(t, l, order("y", 1, sh("2025-02-01 10:00"), "y", line("otc", 10000)))
	mustApply(t, l, order("z", 1, sh("2025-05-20 10:00"), "z", line("otc", 10000)))
	// Redeem 250: lot 2 (earliest expiry) 100, then lot 1 100 (same expiry
	// as lot 3, older), then lot 3 50.
	r := mustApply(t, l, Redeem{Tx: "r", Member: 1, At: sh("2025-06-01"), Points: 250})
	var got [][2]int64
	for _, e := range r.Entries {
		got = append(got, [2]int64{int64(e.Lot), e.Points})
	}
	assert.Equal(t, [][2]int64{{2, -100}, {1, -100}, {3, -50}}, got)
	b := balanceAt(t, l, 1, sh("2025-06-01"))
	assert.Equal(t, []Expiring{{At: sh("2026-06-01"), Points: 50}}, b.Expiring)
	requireAudit(t, l)
}

func TestScenarioPartialRefundAfterPartialRedemption(t *testing.T) {
	for _, allowNegative := range []bool{false, true} {
		t.Run(map[bool]string{false: "debt", true: "negative"}[allowNegative], func(t *testing.T) {
			c := baseConfig()
			c.AllowNegative = allowNegative
			l := newTestLedger(t, c)
			// O1: otc 200 yuan + food 100 yuan → 300 points in lot 1.
			mustApply(t, l, order("o1", 1, sh("2025-03-01"), "O1", line("otc", 20000), line("food", 10000)))
			// Spend 250: lot 1 has 50 available, 250 spent.
			mustApply(t, l, Redeem{Tx: "r1", Member: 1, At: sh("2025-03-02"), Points: 250})
			// Refund the food line: what is left earns floor(200) = 200, so
			// 300 − 200 = 100 points are reversed: 50 from lot 1, and 50 of
			// its spent points clawed back — no other lot has any, so 50
			// become debt.
			r := mustApply(t, l, Refund{Tx: "f1", Member: 1, At: sh("2025-03-03"), OrderID: "O1", Lines: []Line{line("food", 10000)}})
			wantAvail := int64(0)
			if allowNegative {
				wantAvail = -50
			}
			assert.Equal(t, Totals{Available: wantAvail, Debt: 50, Lifetime: 200, Tier: "member"}, r.After)
			assert.Equal(t, int64(-100), r.Sum(EntryReverse, func(e Entry) int64 { return e.Lifetime }))
			assert.Equal(t, int64(50), r.Sum(EntryDebt, func(e Entry) int64 { return e.Debt }))

			// The next 80 points pay the debt first: 80 − 50 = 30 left.
			r = mustApply(t, l, order("o2", 1, sh("2025-03-04"), "O2", line("otc", 8000)))
			assert.Equal(t, int64(30), r.After.Available)
			assert.Equal(t, int64(0), r.After.Debt)
			assert.Equal(t, int64(-50), r.Sum(EntryRepay, func(e Entry) int64 { return e.Points }))

			// Refund the rest of O1 (otc 200 yuan): 200 more reversed, all
			// from lot 1's spent points (lot 1 is empty). Capacity: spent
			// 250 + clawed out 0 − already clawed 50 = 200. Lot 2 has 30, so
			// 170 becomes debt.
			r = mustApply(t, l, Refund{Tx: "f2", Member: 1, At: sh("2025-03-05"), OrderID: "O1", Lines: []Line{line("otc", 20000)}})
			assert.Equal(t, int64(170), r.After.Debt)
			// Lifetime: 300 − 100 + 80 − 200 = 80.
			assert.Equal(t, int64(80), r.After.Lifetime)
			// Refunding more than was paid fails and changes nothing.
			_, err := l.Apply(context.Background(), Refund{Tx: "f3", Member: 1, At: sh("2025-03-05"), OrderID: "O1", Lines: []Line{line("otc", 1)}})
			require.ErrorIs(t, err, ErrRefundTooLarge)
			requireAudit(t, l)
		})
	}
}

func TestScenarioRefundOfOrderPaidWithPoints(t *testing.T) {
	c := baseConfig()
	c.Expiry = ExpiryPolicy{Months: 12, EndOf: EndOfDay}
	l := newTestLedger(t, c)
	// Lot 1: 100 points, expires 2026-01-11 00:00 (2025-01-10 + 12 months,
	// end of day). Lot 2: 100 points, expires 2026-01-21 00:00.
	mustApply(t, l, order("e1", 1, sh("2025-01-10 10:00"), "E1", line("otc", 10000)))
	mustApply(t, l, order("e2", 1, sh("2025-01-20 10:00"), "E2", line("otc", 10000)))
	// O3 pays 50 yuan cash and 150 points: 100 from lot 1, 50 from lot 2;
	// it earns 50 points (lot 3).
	o3 := order("o3", 1, sh("2025-02-01 10:00"), "O3", line("otc", 5000))
	o3.PointsUsed = 150
	r := mustApply(t, l, o3)
	assert.Equal(t, int64(100), r.After.Available) // 200 − 150 + 50

	// Give back 60 of the points: restored last-taken first, so lot 2 gets
	// its 50 back and lot 1 gets 10, each with its own expiry.
	r = mustApply(t, l, Refund{Tx: "f1", Member: 1, At: sh("2025-02-02"), OrderID: "O3", Points: 60})
	assert.Equal(t, int64(160), r.After.Available)
	b := balanceAt(t, l, 1, sh("2025-02-02"))
	assert.Equal(t, []Expiring{{At: sh("2026-01-11"), Points: 10}, {At: sh("2026-01-21"), Points: 100}, {At: sh("2026-02-02"), Points: 50}}, b.Expiring)

	// Refund the cash part and the other 90 points on 2026-01-15, after lot
	// 1 expired: lot 3's 50 points are reversed; lot 1's 10 remaining
	// expired at 2026-01-11 (settle), and the 90 points restored to lot 1
	// come back expired. Left: lot 2's 100.
	r = mustApply(t, l, Refund{Tx: "f2", Member: 1, At: sh("2026-01-15"), OrderID: "O3", Lines: []Line{line("otc", 5000)}, Points: 90})
	assert.Equal(t, int64(100), r.After.Available)
	var restored, reexpired int64
	for _, e := range r.Entries {
		if e.Kind == EntryRestore {
			restored += e.Points
		}
		if e.Kind == EntryExpire && e.Lot == 1 {
			reexpired -= e.Points
		}
	}
	assert.Equal(t, int64(90), restored)
	assert.Equal(t, int64(100), reexpired) // 10 by settlement + 90 restored
	requireAudit(t, l)
}

func TestScenarioExpiryAtBoundaryInstant(t *testing.T) {
	c := baseConfig()
	c.Expiry = ExpiryPolicy{Months: 12, EndOf: EndOfMonth}
	l := newTestLedger(t, c)
	// Earned 2024-02-29 15:00 Shanghai; + 12 months = 2025-02-28 (clamped);
	// end of that month = 2025-03-01 00:00 +08:00 = 2025-02-28 16:00 UTC.
	mustApply(t, l, order("o", 1, sh("2024-02-29 15:00"), "o", line("otc", 10000)))
	boundary := time.Date(2025, 2, 28, 16, 0, 0, 0, time.UTC)
	assert.Equal(t, int64(100), balanceAt(t, l, 1, boundary.Add(-time.Nanosecond)).Available)
	assert.Equal(t, int64(0), balanceAt(t, l, 1, boundary).Available)
	_, err := l.Apply(context.Background(), Redeem{Tx: "late", Member: 1, At: boundary, Points: 1})
	require.ErrorIs(t, err, ErrInsufficientPoints)
	mustApply(t, l, Redeem{Tx: "just-in-time", Member: 1, At: boundary.Add(-time.Nanosecond), Points: 1})
	r := mustApply(t, l, Settle{Member: 1, At: boundary})
	assert.Equal(t, int64(-99), r.Sum(EntryExpire, func(e Entry) int64 { return e.Points }))
	// The run is idempotent for its as-of time.
	r2 := mustApply(t, l, Settle{Member: 1, At: boundary})
	assert.True(t, r2.Replayed)
	assert.Equal(t, r.Entries, r2.Entries)
	requireAudit(t, l)

	// The zone decides the day: 2025-01-01 01:00 in Shanghai is still
	// 2024-12-31 in UTC. With 12 months to the end of the year, Shanghai
	// gives end of 2026 → 2027-01-01 00:00 +08:00; UTC gives end of 2025
	// → 2026-01-01 00:00 UTC.
	earned := sh("2025-01-01 01:00")
	cy := baseConfig()
	cy.Expiry = ExpiryPolicy{Months: 12, EndOf: EndOfYear}
	py, err := NewProgram(cy)
	require.NoError(t, err)
	assert.True(t, py.ExpiresAt(earned).Equal(sh("2027-01-01 00:00")))
	cy.Location = time.UTC
	pu, err := NewProgram(cy)
	require.NoError(t, err)
	assert.True(t, pu.ExpiresAt(earned).Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
}

func TestScenarioExpiringSoonNotice(t *testing.T) {
	c := baseConfig()
	c.Expiry = ExpiryPolicy{Months: 1, EndOf: EndOfMonth, NoticeDays: 7}
	var got []Event
	p, err := NewProgram(c)
	require.NoError(t, err)
	l := NewLedger(p, NewMemStore(), &Options{Notifier: NotifierFunc(func(e Event) { got = append(got, e) })})
	// Earned 2025-03-10: expires end of April = 2025-05-01 00:00; the
	// notice window opens 7 days before, 2025-04-24 00:00.
	mustApply(t, l, order("o1", 1, sh("2025-03-10"), "o1", line("otc", 10000)))
	mustApply(t, l, order("o2", 1, sh("2025-03-20"), "o2", line("otc", 5000)))
	r := mustApply(t, l, Settle{Member: 1, At: sh("2025-04-23 23:59:59")})
	assert.False(t, r.Recorded)
	assert.Empty(t, got)
	r = mustApply(t, l, Settle{Member: 1, At: sh("2025-04-24")})
	require.Len(t, got, 1)
	assert.Equal(t, EventPointsExpiringSoon, got[0].Kind)
	assert.Equal(t, int64(150), got[0].Points) // both lots share the instant
	assert.True(t, got[0].ExpiresAt.Equal(sh("2025-05-01")))
	assert.Equal(t, r.Events, got)
	// Once per lot: a later settle raises nothing more.
	mustApply(t, l, Settle{Member: 1, At: sh("2025-04-25")})
	assert.Len(t, got, 1)
}

func tierConfig(policy string, retention int) Config {
	c := baseConfig()
	c.Tiers = []Tier{{Name: "silver"}, {Name: "gold", Threshold: 1000}, {Name: "platinum", Threshold: 3000}, {Name: "black", Threshold: 6000}}
	c.Growth = GrowthRules{PerYuan: 1, Window: WindowRolling, Months: 12, RetentionMonths: retention, Downgrade: policy}
	return c
}

func TestScenarioTierUpgradeMidPeriod(t *testing.T) {
	var events []Event
	p, err := NewProgram(tierConfig(DowngradeOneTier, 0))
	require.NoError(t, err)
	l := NewLedger(p, NewMemStore(), &Options{Notifier: NotifierFunc(func(e Event) { events = append(events, e) })})
	// 600 yuan → growth 600: still silver.
	r := mustApply(t, l, order("a", 1, sh("2025-03-10 10:00"), "a", line("otc", 60000)))
	assert.Equal(t, "silver", r.After.Tier)
	// 500 more a month later → 1100 ≥ 1000: gold at once, mid-period.
	r = mustApply(t, l, order("b", 1, sh("2025-04-10 10:00"), "b", line("otc", 50000)))
	assert.Equal(t, "gold", r.After.Tier)
	assert.Equal(t, int64(1100), r.After.Growth)
	require.Len(t, events, 1)
	assert.Equal(t, Event{Kind: EventTierChanged, Member: 1, Tx: "b", At: sh("2025-04-10 10:00"), FromTier: "silver", ToTier: "gold"}, events[0])
	// 6000 yuan in one order jumps straight to black (7100).
	r = mustApply(t, l, order("c", 1, sh("2025-04-11 10:00"), "c", line("otc", 600000)))
	assert.Equal(t, "black", r.After.Tier)
	requireAudit(t, l)
}

func TestScenarioTierDowngradeAtEvaluation(t *testing.T) {
	// Common history: 7000 yuan on 2025-03-10 (growth 7000 → black), then
	// 5000 yuan of it refunded on 2025-03-20 (growth 2000: supports gold).
	// A refund never downgrades by itself.
	setup := func(t *testing.T, policy string, retention int) *Ledger {
		l := newTestLedger(t, tierConfig(policy, retention))
		mustApply(t, l, order("o", 1, sh("2025-03-10 10:00"), "O", line("otc", 700000)))
		r := mustApply(t, l, Refund{Tx: "f", Member: 1, At: sh("2025-03-20"), OrderID: "O", Lines: []Line{line("otc", 500000)}})
		require.Equal(t, "black", r.After.Tier)
		require.Equal(t, int64(2000), r.After.Growth)
		return l
	}
	eval := func(t *testing.T, l *Ledger, at time.Time) string {
		return mustApply(t, l, Evaluate{Member: 1, At: at}).After.Tier
	}

	t.Run("one tier", func(t *testing.T) {
		l := setup(t, DowngradeOneTier, 0)
		assert.Equal(t, "platinum", eval(t, l, sh("2025-06-01"))) // black − 1
		assert.Equal(t, "platinum", eval(t, l, sh("2025-06-01"))) // same as-of: a replay
		assert.Equal(t, "gold", eval(t, l, sh("2025-07-01")))     // platinum − 1 = gold, supported
		assert.Equal(t, "gold", eval(t, l, sh("2025-08-01")))     // 2000 ≥ 1000: stays
		requireAudit(t, l)
	})
	t.Run("to supported", func(t *testing.T) {
		l := setup(t, DowngradeToSupported, 0)
		assert.Equal(t, "gold", eval(t, l, sh("2025-06-01"))) // straight to what 2000 supports
		requireAudit(t, l)
	})
	t.Run("retention", func(t *testing.T) {
		l := setup(t, DowngradeOneTier, 12)
		// Black since 2025-03-10 10:00, kept until 2026-03-10 10:00.
		assert.Equal(t, "black", eval(t, l, sh("2025-06-01")))
		assert.Equal(t, "black", eval(t, l, sh("2026-03-10 00:00")))
		// 2026-03-11 00:00: retention over; the window is the 12 months
		// ending 2026-03-10, i.e. from 2025-03-11, which no longer holds
		// the order: growth 0 supports silver, one tier down → platinum.
		assert.Equal(t, "platinum", eval(t, l, sh("2026-03-11 00:00")))
		b := balanceAt(t, l, 1, sh("2026-03-11"))
		assert.Equal(t, int64(0), b.Growth)
		assert.True(t, b.TierSince.Equal(sh("2026-03-11")))
		requireAudit(t, l)
	})
	t.Run("calendar year", func(t *testing.T) {
		c := tierConfig(DowngradeToSupported, 0)
		c.Growth.Window, c.Growth.Months = WindowCalendarYear, 0
		l := newTestLedger(t, c)
		// 1200 yuan in 2025 → gold. Evaluating at 2026-01-01 00:00 looks at
		// 2025 (the year that just ended): gold stays. At 2027-01-01 it
		// looks at 2026, with nothing: silver.
		mustApply(t, l, order("o", 1, sh("2025-12-31 23:00"), "O", line("otc", 120000)))
		assert.Equal(t, "gold", eval(t, l, sh("2026-01-01 00:00")))
		assert.Equal(t, "silver", eval(t, l, sh("2027-01-01 00:00")))
		requireAudit(t, l)
	})
}

func cardConfig() Config {
	c := baseConfig()
	c.Cards = []CardProduct{{ID: "annual", Name: "Plus", Fee: 19900, Months: 12, CoolingOffDays: 7, PointsMultiplier: 20000}}
	return c
}

func TestScenarioGuaranteeRefund(t *testing.T) {
	savingsOrder := func(tx string, at time.Time, savings int64) Order {
		o := order(tx, 1, at, tx, line("otc", 1000))
		o.Savings = savings
		return o
	}
	t.Run("no refunds", func(t *testing.T) {
		var events []Event
		p, err := NewProgram(cardConfig())
		require.NoError(t, err)
		l := NewLedger(p, NewMemStore(), &Options{Notifier: NotifierFunc(func(e Event) { events = append(events, e) })})
		mustApply(t, l, BuyCard{Tx: "buy", Member: 1, At: sh("2025-01-01 00:00"), Product: "annual"})
		r := mustApply(t, l, savingsOrder("o1", sh("2025-03-01"), 5000))
		// Card active: 10 yuan × 2 = 20 points.
		assert.Equal(t, int64(20), r.After.Available)
		mustApply(t, l, savingsOrder("o2", sh("2025-09-01"), 8000))
		// Period ends 2026-01-01 00:00. Savings 5000 + 8000 = 13000; the
		// guarantee is 19900 − 13000 = 6900 fen.
		r = mustApply(t, l, Settle{Member: 1, At: sh("2026-01-01")})
		assert.Equal(t, int64(6900), r.Sum(EntryGuarantee, func(e Entry) int64 { return e.Amount }))
		require.Len(t, events, 1)
		assert.Equal(t, Event{Kind: EventCardGuaranteeDue, Member: 1, Tx: r.Tx, At: sh("2026-01-01"), Card: "annual",
			PeriodEnd: sh("2026-01-01"), Fee: 19900, Savings: 13000, Refund: 6900}, events[0])
		// After the period: no multiplier, no savings credited.
		r = mustApply(t, l, savingsOrder("o3", sh("2026-01-02"), 3000))
		assert.Equal(t, int64(20+20+10), r.After.Available)
		requireAudit(t, l)
	})
	t.Run("with refunded orders", func(t *testing.T) {
		l := newTestLedger(t, cardConfig())
		mustApply(t, l, BuyCard{Tx: "buy", Member: 1, At: sh("2025-01-01 00:00"), Product: "annual"})
		mustApply(t, l, savingsOrder("o1", sh("2025-03-01"), 5000))
		mustApply(t, l, savingsOrder("o2", sh("2025-09-01"), 8000))
		// o2 returned in full before the period ends: savings 5000 → the
		// guarantee is 19900 − 5000 = 14900.
		mustApply(t, l, Refund{Tx: "f2", Member: 1, At: sh("2025-09-05"), OrderID: "o2", Lines: []Line{line("otc", 1000)}, Savings: 8000})
		r := mustApply(t, l, Settle{Member: 1, At: sh("2026-01-01")})
		assert.Equal(t, int64(14900), r.Sum(EntryGuarantee, func(e Entry) int64 { return e.Amount }))
		// o1 returned after settlement: savings 0, so 19900 is owed in all,
		// 5000 more than paid out.
		r = mustApply(t, l, Refund{Tx: "f1", Member: 1, At: sh("2026-01-10"), OrderID: "o1", Savings: 5000})
		assert.Equal(t, int64(5000), r.Sum(EntryGuarantee, func(e Entry) int64 { return e.Amount }))
		require.Len(t, r.Events, 1)
		assert.Equal(t, int64(5000), r.Events[0].Refund)
		requireAudit(t, l)
	})
	t.Run("savings above fee", func(t *testing.T) {
		l := newTestLedger(t, cardConfig())
		mustApply(t, l, BuyCard{Tx: "buy", Member: 1, At: sh("2025-01-01"), Product: "annual"})
		mustApply(t, l, savingsOrder("o1", sh("2025-03-01"), 25000))
		r := mustApply(t, l, Settle{Member: 1, At: sh("2026-01-01")})
		// 19900 − 25000 < 0: nothing owed, no event, but the period closes.
		assert.Equal(t, int64(0), r.Sum(EntryGuarantee, func(e Entry) int64 { return e.Amount }))
		assert.Empty(t, r.Events)
		assert.Equal(t, "settled", balanceAt(t, l, 1, sh("2026-01-01")).Cards[0].Status)
	})
	t.Run("renew and cancel", func(t *testing.T) {
		l := newTestLedger(t, cardConfig())
		mustApply(t, l, BuyCard{Tx: "buy", Member: 1, At: sh("2025-01-01 00:00"), Product: "annual"})
		_, err := l.Apply(context.Background(), BuyCard{Tx: "buy2", Member: 1, At: sh("2025-02-01"), Product: "annual"})
		require.ErrorIs(t, err, ErrCardActive)
		// Renewing early starts the next period when this one ends.
		mustApply(t, l, RenewCard{Tx: "renew", Member: 1, At: sh("2025-12-01")})
		_, err = l.Apply(context.Background(), RenewCard{Tx: "renew2", Member: 1, At: sh("2025-12-02")})
		require.ErrorIs(t, err, ErrCardActive)
		b := balanceAt(t, l, 1, sh("2025-12-01"))
		require.Len(t, b.Cards, 2)
		assert.True(t, b.Cards[1].Start.Equal(sh("2026-01-01")))
		assert.True(t, b.Cards[1].End.Equal(sh("2027-01-01")))
		// Cancelling on 2025-12-15, long after the cooling-off week: the
		// running period refunds nothing, the unstarted renewal its full
		// fee.
		r := mustApply(t, l, CancelCard{Tx: "cancel", Member: 1, At: sh("2025-12-15")})
		assert.Equal(t, int64(19900), r.Sum(EntryCardCancel, func(e Entry) int64 { return e.Amount }))
		// A new card bought and cancelled within 7 days after saving 3000
		// refunds 19900 − 3000 = 16900.
		mustApply(t, l, BuyCard{Tx: "buy3", Member: 1, At: sh("2026-02-01"), Product: "annual"})
		o := order("o", 1, sh("2026-02-03"), "o", line("otc", 1000))
		o.Savings = 3000
		mustApply(t, l, o)
		r = mustApply(t, l, CancelCard{Tx: "cancel2", Member: 1, At: sh("2026-02-07 23:59")})
		assert.Equal(t, int64(16900), r.Sum(EntryCardCancel, func(e Entry) int64 { return e.Amount }))
		requireAudit(t, l)
	})
}

func TestScenarioStoredValue(t *testing.T) {
	c := baseConfig()
	c.StoredValue = StoredValueRules{
		Bonuses:                []TopUpBonus{{Min: 50000, Bonus: 3000}, {Min: 100000, Bonus: 10000}},
		SpendOrder:             SpendProportional,
		ForfeitBonusOnWithdraw: true,
	}
	l := newTestLedger(t, c)
	// Pay 1000 yuan, get 1100: principal 100000, bonus 10000.
	r := mustApply(t, l, TopUp{Tx: "t1", Member: 1, At: sh("2025-01-01"), Amount: 100000})
	assert.Equal(t, [2]int64{100000, 10000}, [2]int64{r.After.Principal, r.After.Bonus})
	// Spend 30000 proportionally: principal floor(30000 × 100000 / 110000)
	// = floor(27272.7) = 27272, bonus 2728.
	r = mustApply(t, l, Spend{Tx: "s1", Member: 1, At: sh("2025-01-02"), Amount: 30000})
	assert.Equal(t, [2]int64{72728, 7272}, [2]int64{r.After.Principal, r.After.Bonus})
	// Refund 15000: principal floor(15000 × 27272 / 30000) = 13636, bonus
	// 1364; the second 15000: principal 27272 − 13636 = 13636, bonus 1364.
	r = mustApply(t, l, RefundSpend{Tx: "rs1", Member: 1, At: sh("2025-01-03"), Spend: "s1", Amount: 15000})
	assert.Equal(t, [2]int64{13636, 1364}, [2]int64{r.Entries[0].Principal, r.Entries[0].Bonus})
	r = mustApply(t, l, RefundSpend{Tx: "rs2", Member: 1, At: sh("2025-01-03"), Spend: "s1", Amount: 15000})
	assert.Equal(t, [2]int64{100000, 10000}, [2]int64{r.After.Principal, r.After.Bonus})
	_, err := l.Apply(context.Background(), RefundSpend{Tx: "rs3", Member: 1, At: sh("2025-01-03"), Spend: "s1", Amount: 1})
	require.ErrorIs(t, err, ErrRefundTooLarge)
	// Withdraw 40000 of principal: bonus forfeited floor(40000 × 10000 /
	// 100000) = 4000.
	r = mustApply(t, l, Withdraw{Tx: "w1", Member: 1, At: sh("2025-01-04"), Amount: 40000})
	assert.Equal(t, [2]int64{60000, 6000}, [2]int64{r.After.Principal, r.After.Bonus})
	// Bonus is never paid out.
	_, err = l.Apply(context.Background(), Withdraw{Tx: "w2", Member: 1, At: sh("2025-01-04"), Amount: 60001})
	require.ErrorIs(t, err, ErrInsufficientFunds)
	_, err = l.Apply(context.Background(), Spend{Tx: "s2", Member: 1, At: sh("2025-01-04"), Amount: 66001})
	require.ErrorIs(t, err, ErrInsufficientFunds)
	requireAudit(t, l)

	for _, tc := range []struct {
		order      string
		wantP, wnB int64
	}{
		// 1100 yuan top-up balance (100000 + 10000), spend 30000:
		{SpendPrincipalFirst, 30000, 0},
		{SpendBonusFirst, 20000, 10000},
	} {
		c.StoredValue.SpendOrder = tc.order
		l := newTestLedger(t, c)
		mustApply(t, l, TopUp{Tx: "t", Member: 1, At: sh("2025-01-01"), Amount: 100000})
		r := mustApply(t, l, Spend{Tx: "s", Member: 1, At: sh("2025-01-02"), Amount: 30000})
		assert.Equal(t, [2]int64{-tc.wantP, -tc.wnB}, [2]int64{r.Entries[0].Principal, r.Entries[0].Bonus}, tc.order)
	}
}

func TestScenarioIdempotentReplaysAndConflicts(t *testing.T) {
	var notified int
	p, err := NewProgram(baseConfig())
	require.NoError(t, err)
	l := NewLedger(p, NewMemStore(), &Options{Notifier: NotifierFunc(func(Event) { notified++ })})
	ctx := context.Background()
	o := order("t1", 1, sh("2025-03-01 10:00"), "O1", line("otc", 10000))
	first := mustApply(t, l, o)
	mustApply(t, l, order("t2", 1, sh("2025-03-02"), "O2", line("otc", 5000)))

	// Same ID, same content (the time written in another zone is the same
	// instant): the original receipt, nothing applied twice.
	o.At = o.At.UTC()
	again := mustApply(t, l, o)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.Entries, again.Entries)
	assert.Equal(t, first.After, again.After) // the original result, not today's balance
	assert.Equal(t, int64(150), balanceAt(t, l, 1, sh("2025-03-03")).Available)

	// Same ID, other content: a typed conflict, nothing applied.
	for name, op := range map[string]Op{
		"other amount": order("t1", 1, sh("2025-03-01 10:00"), "O1", line("otc", 10001)),
		"other member": order("t1", 2, sh("2025-03-01 10:00"), "O1", line("otc", 10000)),
		"other kind":   Redeem{Tx: "t1", Member: 1, At: sh("2025-03-01 10:00"), Points: 1},
	} {
		_, err := l.Apply(ctx, op)
		var ce *ConflictError
		require.ErrorAs(t, err, &ce, name)
		assert.Equal(t, &ConflictError{Tx: "t1", Member: 1, Op: OpOrder}, ce, name)
		assert.ErrorIs(t, err, ErrConflict, name)
	}
	assert.Equal(t, int64(150), balanceAt(t, l, 1, sh("2025-03-03")).Available)

	// The same order ID under a new transaction ID is a duplicate order.
	_, err = l.Apply(ctx, order("t3", 1, sh("2025-03-01 10:00"), "O1", line("otc", 10000)))
	require.ErrorIs(t, err, ErrDuplicateOrder)

	// A refund replayed does not reverse twice.
	f := Refund{Tx: "f1", Member: 1, At: sh("2025-03-04"), OrderID: "O1", Lines: []Line{line("otc", 5000)}}
	mustApply(t, l, f)
	assert.True(t, mustApply(t, l, f).Replayed)
	assert.Equal(t, int64(100), balanceAt(t, l, 1, sh("2025-03-05")).Available) // 150 − 50
	// Notifications are not repeated on replay (this programme raises
	// none at all).
	assert.Zero(t, notified)
	requireAudit(t, l)
}

func TestReverseRedemption(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	mustApply(t, l, order("o", 1, sh("2025-03-01"), "o", line("otc", 10000)))
	mustApply(t, l, Redeem{Tx: "r", Member: 1, At: sh("2025-03-02"), Points: 70, Reason: "gift"})
	r := mustApply(t, l, Reverse{Tx: "rv", Member: 1, At: sh("2025-03-03"), Of: "r"})
	assert.Equal(t, int64(100), r.After.Available)
	_, err := l.Apply(context.Background(), Reverse{Tx: "rv2", Member: 1, At: sh("2025-03-03"), Of: "r"})
	require.ErrorIs(t, err, ErrAlreadyReversed)
	_, err = l.Apply(context.Background(), Reverse{Tx: "rv3", Member: 1, At: sh("2025-03-03"), Of: "nope"})
	require.ErrorIs(t, err, ErrUnknownTx)
	requireAudit(t, l)
}

func TestAdjust(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	r := mustApply(t, l, Adjust{Tx: "a1", Member: 1, At: sh("2025-03-01"), Points: 40, Reason: "apology"})
	assert.Equal(t, Totals{Available: 40, Lifetime: 40, Tier: "member"}, r.After)
	r = mustApply(t, l, Adjust{Tx: "a2", Member: 1, At: sh("2025-03-01"), Points: -15, Reason: "correction"})
	assert.Equal(t, int64(25), r.After.Available)
	_, err := l.Apply(context.Background(), Adjust{Tx: "a3", Member: 1, At: sh("2025-03-01"), Points: -26, Reason: "x"})
	require.ErrorIs(t, err, ErrInsufficientPoints)
	requireAudit(t, l)
}

func TestInvalidOps(t *testing.T) {
	l := newTestLedger(t, cardConfig())
	at := sh("2025-01-01")
	for name, op := range map[string]Op{
		"empty tx":         Redeem{Member: 1, At: at, Points: 1},
		"zero time":        Redeem{Tx: "x", Member: 1, Points: 1},
		"negative paid":    order("x", 1, at, "o", line("otc", -1)),
		"no order id":      order("x", 1, at, "", line("otc", 1)),
		"zero redeem":      Redeem{Tx: "x", Member: 1, At: at},
		"unknown card":     BuyCard{Tx: "x", Member: 1, At: at, Product: "gold"},
		"empty refund":     Refund{Tx: "x", Member: 1, At: at, OrderID: "o"},
		"zero adjust":      Adjust{Tx: "x", Member: 1, At: at},
		"year 2300":        TopUp{Tx: "x", Member: 1, At: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), Amount: 1},
		"negative top-up":  TopUp{Tx: "x", Member: 1, At: at, Amount: -5},
		"refund no spend":  RefundSpend{Tx: "x", Member: 1, At: at, Amount: 5},
		"huge points used": Order{Tx: "x", Member: 1, At: at, OrderID: "o", PointsUsed: 1e14},
	} {
		_, err := l.Apply(context.Background(), op)
		require.ErrorIs(t, err, ErrInvalidOp, name)
		var oe *OpError
		require.True(t, errors.As(err, &oe), name)
		assert.NotEmpty(t, oe.Msg, name)
	}
	_, err := l.Apply(context.Background(), Refund{Tx: "x", Member: 1, At: at, OrderID: "nope", Points: 1})
	require.ErrorIs(t, err, ErrUnknownOrder)
	_, err = l.Apply(context.Background(), CancelCard{Tx: "x", Member: 1, At: at})
	require.ErrorIs(t, err, ErrNoCard)
}
