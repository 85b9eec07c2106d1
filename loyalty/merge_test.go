package loyalty

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every expected number below is worked out by hand in the comment beside
// it. Member 1 is the survivor A, member 2 the loser B unless said
// otherwise.

func TestMergeThenRefundOfLosersOrder(t *testing.T) {
	l := newTestLedger(t, tierConfig(DowngradeOneTier, 0))
	ctx := context.Background()
	// B: O-B1 300 yuan → lot B#1 of 300 points, growth 300 on 2025-03-01;
	// then 120 points redeemed from it: 180 left, 120 spent.
	mustApply(t, l, order("b1", 2, sh("2025-03-01 10:00"), "O-B1", line("otc", 30000)))
	mustApply(t, l, Redeem{Tx: "b-r", Member: 2, At: sh("2025-03-02"), Points: 120})
	// A: O-A1 500 yuan → lot A#1 of 500 points, growth 500.
	mustApply(t, l, order("a1", 1, sh("2025-03-05 10:00"), "O-A1", line("otc", 50000)))

	r := mustApply(t, l, Merge{Tx: "m", Member: 1, From: 2, At: sh("2025-03-10")})
	// A had issued 1 lot, so B#1 becomes A#2. Available 500 + 180 = 680,
	// lifetime 500 + 300 = 800, growth 800: still silver (gold is 1000).
	assert.Equal(t, Totals{Available: 680, Lifetime: 800, Tier: "silver", Growth: 800}, r.After)
	assert.Equal(t, []EntryKind{EntryMergeIn, EntryMergeIn, EntryMergeIn}, kinds(r.Entries))
	assert.Equal(t, Entry{Seq: 2, Tx: "m", Kind: EntryMergeIn, At: sh("2025-03-10"), Lifetime: 300, Ref: "2"}, r.Entries[0])
	assert.Equal(t, Entry{Seq: 3, Tx: "m", Kind: EntryMergeIn, At: sh("2025-03-10"), Lot: 2, Points: 180,
		Matures: sh("2025-03-01 10:00"), Earned: 300, PeerLot: 1, Ref: "2"}, r.Entries[1])
	assert.Equal(t, int64(300), r.Entries[2].Growth)
	assert.Equal(t, int32(civil(2025, 3, 1)), r.Entries[2].GrowthDay)
	// B's side (after its earn, growth and redeem entries 0–2): the same
	// three moves with opposite signs.
	assert.Equal(t, []EntryKind{EntryMergeOut, EntryMergeOut, EntryMergeOut}, kinds(r.FromEntries))
	assert.Equal(t, Entry{Seq: 4, Tx: "m", Kind: EntryMergeOut, At: sh("2025-03-10"), Lot: 1, Points: -180,
		Matures: sh("2025-03-01 10:00"), Earned: 300, PeerLot: 2, Ref: "1"}, r.FromEntries[1])

	// B is closed: an operation addressed to it says where to go.
	_, err := l.Apply(ctx, Refund{Tx: "f0", Member: 2, At: sh("2025-03-12"), OrderID: "O-B1", Lines: []Line{line("otc", 100)}})
	var me *MergedError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, &MergedError{Member: 2, Into: 1}, me)
	assert.ErrorIs(t, err, ErrMerged)
	// An order ID B recorded, sent again to A under a new transaction, is
	// a duplicate, not new points.
	_, err = l.Apply(ctx, order("dup", 1, sh("2025-03-11"), "O-B1", line("otc", 30000)))
	require.ErrorIs(t, err, ErrDuplicateOrder)
	assert.Contains(t, err.Error(), `already recorded by tx "b1" for member 2, merged into this one`)
	b := balanceAt(t, l, 2, sh("2025-03-12"))
	assert.Equal(t, Balance{Member: 2, AsOf: sh("2025-03-12"), Totals: Totals{Tier: "silver"}, Entries: 6, Merged: true, MergedInto: 1}, b)
	assert.Equal(t, []uint32{2}, balanceAt(t, l, 1, sh("2025-03-12")).MergedFrom)

	// Refund 100 of O-B1's 300 yuan, addressed to A: what is left earns
	// 200, so 100 points are reversed, from the moved lot (A#2: 180 → 80),
	// and growth 100 leaves 2025-03-01. Available 580, lifetime 700.
	r = mustApply(t, l, Refund{Tx: "f1", Member: 1, At: sh("2025-03-12"), OrderID: "O-B1", Lines: []Line{line("otc", 10000)}})
	assert.Equal(t, Totals{Available: 580, Lifetime: 700, Tier: "silver", Growth: 700}, r.After)
	assert.Equal(t, Entry{Seq: 5, Tx: "f1", Kind: EntryReverse, At: sh("2025-03-12"), Lot: 2, Points: -100, Lifetime: -100, Ref: "O-B1"}, r.Entries[0])

	// The other 200 yuan: 200 more reversed. A#2 has 80 (all taken); its
	// 120 spent points are clawed back from A#1 (500 → 380).
	r = mustApply(t, l, Refund{Tx: "f2", Member: 1, At: sh("2025-03-13"), OrderID: "O-B1", Lines: []Line{line("otc", 20000)}})
	assert.Equal(t, Totals{Available: 380, Lifetime: 500, Tier: "silver", Growth: 500}, r.After)
	_, err = l.Apply(ctx, Refund{Tx: "f3", Member: 1, At: sh("2025-03-13"), OrderID: "O-B1", Lines: []Line{line("otc", 1)}})
	require.ErrorIs(t, err, ErrRefundTooLarge, "the order's state moved with it")

	// B's gift reversed, addressed to A: its 120 points go back to the
	// lot they came from, A#2 (0 → 120). 380 + 120 = 500: exactly A's own
	// order's points, since all of O-B1 was refunded.
	r = mustApply(t, l, Reverse{Tx: "rv", Member: 1, At: sh("2025-03-14"), Of: "b-r"})
	assert.Equal(t, Entry{Seq: 10, Tx: "rv", Kind: EntryRestore, At: sh("2025-03-14"), Lot: 2, Points: 120, Ref: "b-r"}, r.Entries[0])
	assert.Equal(t, int64(500), r.After.Available)
	requireAudit(t, l)
}

func TestMergeWithBothPaidCards(t *testing.T) {
	l := newTestLedger(t, cardConfig()) // annual: fee 199.00, 12 months, points 2×
	savingsOrder := func(tx string, m uint32, at time.Time, savings int64) Order {
		o := order(tx, m, at, tx, line("otc", 1000))
		o.Savings = savings
		return o
	}
	mustApply(t, l, BuyCard{Tx: "ca", Member: 1, At: sh("2025-01-01"), Product: "annual"}) // 2025-01-01..2026-01-01
	mustApply(t, l, savingsOrder("A1", 1, sh("2025-02-01"), 5000))
	mustApply(t, l, BuyCard{Tx: "cb", Member: 2, At: sh("2025-03-01"), Product: "annual"}) // 2025-03-01..2026-03-01
	mustApply(t, l, savingsOrder("B1", 2, sh("2025-04-01"), 3000))

	r := mustApply(t, l, Merge{Tx: "m", Member: 1, From: 2, At: sh("2025-06-01")})
	// B's period becomes A's period 1, with its fee and savings. Each side
	// had card_fee, earn and savings entries (this programme has no
	// growth), then: totals, B's lot (20 points), the period.
	require.Len(t, r.Entries, 3)
	assert.Equal(t, Entry{Seq: 5, Tx: "m", Kind: EntryCardMergeIn, At: sh("2025-06-01"), Card: 1, Amount: 19900, Savings: 3000, Ref: "2"}, r.Entries[2])
	assert.Equal(t, Entry{Seq: 5, Tx: "m", Kind: EntryCardMergeOut, At: sh("2025-06-01"), Card: 0, Amount: -19900, Savings: -3000, Ref: "1"}, r.FromEntries[2])

	// Both periods run: the order's savings (10.00) go to the one ending
	// first, A's (50.00 → 60.00); 10 yuan at 2× = 20 points.
	r = mustApply(t, l, savingsOrder("A2", 1, sh("2025-06-02"), 1000))
	assert.Equal(t, int64(20), r.Sum(EntryEarn, func(e Entry) int64 { return e.Points }))
	assert.Equal(t, Entry{Seq: 7, Tx: "A2", Kind: EntrySavings, At: sh("2025-06-02"), Card: 0, Amount: 1000, Ref: "A2"}, r.Entries[1])
	// B's order refunded with its savings, addressed to A: B's period
	// (now 1) goes back to 0 savings.
	mustApply(t, l, Refund{Tx: "fB1", Member: 1, At: sh("2025-06-03"), OrderID: "B1", Savings: 3000})
	// Renewing follows the period that ends last, B's: 2026-03-01..2027-03-01.
	mustApply(t, l, RenewCard{Tx: "renew", Member: 1, At: sh("2025-12-01")})

	// 2026-01-01: A's period settles, 199.00 − 60.00 = 139.00 owed.
	r = mustApply(t, l, Settle{Member: 1, At: sh("2026-01-01")})
	require.Len(t, r.Events, 1)
	assert.Equal(t, int64(13900), r.Events[0].Refund)
	// Now only B's period runs: the order's 20.00 savings go to it.
	mustApply(t, l, savingsOrder("A3", 1, sh("2026-01-15"), 2000))
	// 2026-03-01: B's period settles, 199.00 − 20.00 = 179.00 owed.
	r = mustApply(t, l, Settle{Member: 1, At: sh("2026-03-01")})
	require.Len(t, r.Events, 1)
	assert.Equal(t, Event{Kind: EventCardGuaranteeDue, Member: 1, Tx: r.Tx, At: sh("2026-03-01"), Card: "annual",
		PeriodEnd: sh("2026-03-01"), Fee: 19900, Savings: 2000, Refund: 17900}, r.Events[0])

	b := balanceAt(t, l, 1, sh("2026-03-02"))
	require.Len(t, b.Cards, 3)
	assert.Equal(t, []string{"settled", "settled", "active"}, []string{b.Cards[0].Status, b.Cards[1].Status, b.Cards[2].Status})
	assert.Equal(t, []int64{6000, 2000, 0}, []int64{b.Cards[0].Savings, b.Cards[1].Savings, b.Cards[2].Savings})
	assert.True(t, b.Cards[2].Start.Equal(sh("2026-03-01")))
	// Points: A1 20 + B1 20 (B1's lines were not refunded) + A2 20 + A3
	// (only B's card ran, 2×) 20 = 80.
	assert.Equal(t, int64(80), b.Available)
	requireAudit(t, l)
}

func TestMergeWithDebt(t *testing.T) {
	for _, allowNegative := range []bool{false, true} {
		t.Run(map[bool]string{false: "debt", true: "negative"}[allowNegative], func(t *testing.T) {
			c := baseConfig()
			c.AllowNegative = allowNegative
			l := newTestLedger(t, c)
			// B earns 100, spends them, then the order is refunded: 100
			// points reversed, none left to take, so B owes 100.
			mustApply(t, l, order("b1", 2, sh("2025-03-01"), "O-B1", line("otc", 10000)))
			mustApply(t, l, Redeem{Tx: "br", Member: 2, At: sh("2025-03-02"), Points: 100})
			r := mustApply(t, l, Refund{Tx: "bf", Member: 2, At: sh("2025-03-03"), OrderID: "O-B1", Lines: []Line{line("otc", 10000)}})
			require.Equal(t, int64(100), r.After.Debt)
			// A has 60 points.
			mustApply(t, l, order("a1", 1, sh("2025-03-04"), "O-A1", line("otc", 6000)))

			// The merge brings the debt of 100; settling pays 60 of it from
			// A's lot at once: 40 still owed, lifetime 60 + 0.
			r = mustApply(t, l, Merge{Tx: "m", Member: 1, From: 2, At: sh("2025-03-10")})
			want := Totals{Debt: 40, Lifetime: 60, Tier: "member"}
			if allowNegative {
				want.Available = -40
			}
			assert.Equal(t, want, r.After)
			// Entries: the totals (debt +100), B's empty lot (its order can
			// still be refunded), the repayment of 60 from A's lot 1.
			assert.Equal(t, []EntryKind{EntryMergeIn, EntryMergeIn, EntryRepay}, kinds(r.Entries))
			assert.Equal(t, int64(100), r.Entries[0].Debt)
			assert.Equal(t, Entry{Seq: 3, Tx: "m", Kind: EntryRepay, At: sh("2025-03-10"), Lot: 1, Points: -60, Debt: -60}, r.Entries[2])
			assert.Equal(t, int64(-100), r.FromEntries[0].Debt)

			// The next 50 points pay the remaining 40: 10 left.
			r = mustApply(t, l, order("a2", 1, sh("2025-03-11"), "O-A2", line("otc", 5000)))
			assert.Equal(t, Totals{Available: 10, Lifetime: 110, Tier: "member"}, r.After)
			requireAudit(t, l)
		})
	}
}

func TestMergeTier(t *testing.T) {
	t.Run("loser's higher tier is kept with its date", func(t *testing.T) {
		l := newTestLedger(t, tierConfig(DowngradeOneTier, 12))
		// B: 1200 yuan → gold on 2025-01-10 10:00. A: 600 yuan, silver.
		mustApply(t, l, order("b", 2, sh("2025-01-10 10:00"), "B", line("otc", 120000)))
		mustApply(t, l, order("a", 1, sh("2025-02-10 10:00"), "A", line("otc", 60000)))
		r := mustApply(t, l, Merge{Tx: "m", Member: 1, From: 2, At: sh("2025-03-01")})
		// Growth 1800 supports gold, no more: gold, since B reached it.
		assert.Equal(t, "gold", r.After.Tier)
		assert.Equal(t, int64(1800), r.After.Growth)
		require.Len(t, r.Events, 1)
		assert.Equal(t, Event{Kind: EventTierChanged, Member: 1, Tx: "m", At: sh("2025-03-01"), FromTier: "silver", ToTier: "gold"}, r.Events[0])
		assert.True(t, balanceAt(t, l, 1, sh("2025-03-01")).TierSince.Equal(sh("2025-01-10 10:00")))
		// B ends in the base tier, by an entry of its own: B's entries
		// were earn, growth, tier (0–2), then the totals, its lot and its
		// growth day moved (3–5).
		assert.Equal(t, Entry{Seq: 6, Tx: "m", Kind: EntryTier, At: sh("2025-03-01"), FromTier: "gold", ToTier: "silver"}, r.FromEntries[len(r.FromEntries)-1])
		// Retention runs from B's date: 12 months on, 2026-01-10 10:00.
		// Evaluated 2026-02-11 with the window 2025-02-11..2026-02-10 empty:
		// one tier down, silver.
		assert.Equal(t, "gold", mustApply(t, l, Evaluate{Member: 1, At: sh("2026-01-10 09:00")}).After.Tier)
		assert.Equal(t, "silver", mustApply(t, l, Evaluate{Member: 1, At: sh("2026-02-11")}).After.Tier)
		requireAudit(t, l)
	})
	t.Run("merged growth upgrades", func(t *testing.T) {
		l := newTestLedger(t, tierConfig(DowngradeOneTier, 0))
		// 600 + 500 = 1100 ≥ 1000: gold at the merge, since the merge.
		mustApply(t, l, order("a", 1, sh("2025-02-10"), "A", line("otc", 60000)))
		mustApply(t, l, order("b", 2, sh("2025-02-11"), "B", line("otc", 50000)))
		r := mustApply(t, l, Merge{Tx: "m", Member: 1, From: 2, At: sh("2025-03-01")})
		assert.Equal(t, "gold", r.After.Tier)
		assert.True(t, balanceAt(t, l, 1, sh("2025-03-01")).TierSince.Equal(sh("2025-03-01")))
		// B was silver all along: no tier entry on its side.
		assert.NotContains(t, kinds(r.FromEntries), EntryTier)
		requireAudit(t, l)
	})
	t.Run("both gold make platinum", func(t *testing.T) {
		l := newTestLedger(t, tierConfig(DowngradeOneTier, 0))
		// 1500 + 2000 = 3500 ≥ 3000.
		mustApply(t, l, order("a", 1, sh("2025-02-10"), "A", line("otc", 150000)))
		mustApply(t, l, order("b", 2, sh("2025-02-11"), "B", line("otc", 200000)))
		r := mustApply(t, l, Merge{Tx: "m", Member: 1, From: 2, At: sh("2025-03-01")})
		assert.Equal(t, "platinum", r.After.Tier)
		require.Len(t, r.Events, 1)
		assert.Equal(t, "gold", r.Events[0].FromTier)
	})
}

func TestMergeChain(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	ctx := context.Background()
	// C (3) → B (2) → A (1). C's lot 1 becomes B's lot 2 (B had 1), then
	// A's lot 4 (A had 2): offsets 1 and 2 compose to 3.
	mustApply(t, l, order("c1", 3, sh("2025-03-01"), "O-C1", line("otc", 10000)))
	mustApply(t, l, order("b1", 2, sh("2025-03-01"), "O-B1", line("otc", 20000)))
	mustApply(t, l, Merge{Tx: "m1", Member: 2, From: 3, At: sh("2025-03-02")})
	mustApply(t, l, order("a1", 1, sh("2025-03-03"), "O-A1", line("otc", 40000)))
	mustApply(t, l, order("a2", 1, sh("2025-03-03"), "O-A2", line("otc", 80000)))
	r := mustApply(t, l, Merge{Tx: "m2", Member: 1, From: 2, At: sh("2025-03-04")})
	assert.Equal(t, int64(100+200+400+800), r.After.Available)
	var moved []uint32
	for _, e := range r.Entries {
		if e.Lot != 0 {
			moved = append(moved, e.Lot)
		}
	}
	assert.Equal(t, []uint32{3, 4}, moved)
	assert.Equal(t, []uint32{2, 3}, balanceAt(t, l, 1, sh("2025-03-04")).MergedFrom)

	// C's order, refunded through A, reverses from A's lot 4. A's entries
	// so far: two earns, then the totals and two lots merged in (0–4).
	r = mustApply(t, l, Refund{Tx: "f", Member: 1, At: sh("2025-03-05"), OrderID: "O-C1", Lines: []Line{line("otc", 10000)}})
	assert.Equal(t, []Entry{{Seq: 5, Tx: "f", Kind: EntryReverse, At: sh("2025-03-05"), Lot: 4, Points: -100, Lifetime: -100, Ref: "O-C1"}}, r.Entries)
	assert.Equal(t, int64(1400), r.After.Available)

	// An operation on C names B; one on B names A.
	_, err := l.Apply(ctx, Settle{Member: 3, At: sh("2025-03-05")})
	var me *MergedError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint32(2), me.Into)
	_, err = l.Apply(ctx, Settle{Member: me.Into, At: sh("2025-03-05")})
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint32(1), me.Into)
	// The runs over all members skip closed accounts.
	sum, err := l.SettleAll(ctx, sh("2025-03-06"))
	require.NoError(t, err)
	assert.Empty(t, sum.Failed)
	assert.Equal(t, 3, sum.Members)
	requireAudit(t, l)
}

func TestMergeIdempotenceAndRefusals(t *testing.T) {
	p, err := NewProgram(baseConfig())
	require.NoError(t, err)
	var notified []Event
	l := NewLedger(p, NewMemStore(), &Options{Notifier: NotifierFunc(func(e Event) { notified = append(notified, e) })})
	ctx := context.Background()
	mustApply(t, l, order("a", 1, sh("2025-03-01"), "A", line("otc", 10000)))
	mustApply(t, l, order("b", 2, sh("2025-03-01"), "B", line("otc", 20000)))
	m := Merge{Tx: "m", Member: 1, From: 2, At: sh("2025-03-02")}
	first := mustApply(t, l, m)
	require.True(t, first.Recorded)

	// Replayed (the same instant in UTC is the same content): the
	// original receipt, both sides, nothing applied twice.
	m.At = m.At.UTC()
	again := mustApply(t, l, m)
	assert.True(t, again.Replayed)
	first.Replayed = true
	assert.Equal(t, first, again)
	assert.Equal(t, int64(300), balanceAt(t, l, 1, sh("2025-03-03")).Available)

	// The same ID with another loser or survivor is a conflict.
	_, err = l.Apply(ctx, Merge{Tx: "m", Member: 1, From: 3, At: sh("2025-03-02")})
	require.ErrorIs(t, err, ErrConflict)
	// A second merge of the closed loser, or into it, names the survivor.
	var me *MergedError
	_, err = l.Apply(ctx, Merge{Tx: "m2", Member: 1, From: 2, At: sh("2025-03-03")})
	require.ErrorAs(t, err, &me)
	assert.Equal(t, &MergedError{Member: 2, Into: 1}, me)
	_, err = l.Apply(ctx, Merge{Tx: "m3", Member: 2, From: 5, At: sh("2025-03-03")})
	require.ErrorAs(t, err, &me)
	assert.Equal(t, &MergedError{Member: 2, Into: 1}, me)
	// Nothing to merge with itself.
	_, err = l.Apply(ctx, Merge{Tx: "m4", Member: 1, From: 1, At: sh("2025-03-03")})
	require.ErrorIs(t, err, ErrInvalidOp)

	// A loser that never had an account is closed all the same, so a
	// later operation on it is refused instead of opening a new account.
	r := mustApply(t, l, Merge{Tx: "m5", Member: 1, From: 9, At: sh("2025-03-03")})
	assert.Equal(t, []EntryKind{EntryMergeOut}, kinds(r.FromEntries))
	_, err = l.Apply(ctx, order("late", 9, sh("2025-03-04"), "X", line("otc", 100)))
	require.ErrorIs(t, err, ErrMerged)
	assert.True(t, balanceAt(t, l, 9, sh("2025-03-04")).Merged)
	assert.Empty(t, notified, "no events from these merges")

	// A store that cannot commit two members at once refuses merges.
	type plainStore struct{ Store }
	l2 := NewLedger(p, plainStore{NewMemStore()}, nil)
	_, err = l2.Apply(ctx, Merge{Tx: "m", Member: 1, From: 2, At: sh("2025-03-02")})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	requireAudit(t, l)
}

// TestMergeUnderLoad merges members while other goroutines apply
// operations to them (and to the survivors): no deadlock, every
// operation either lands before the merge or is refused as merged (or
// lands on the survivor), and the audit holds.
func TestMergeUnderLoad(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	ctx := context.Background()
	done := make(chan struct{})
	errs := make(chan error, 64)
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				m := uint32((w + i) % 8)
				tx := "w" + string(rune('a'+w)) + "-" + strconv.Itoa(i)
				_, err := l.Apply(ctx, order(tx, m, sh("2025-03-01").Add(time.Duration(i)*time.Minute), tx, line("otc", 1000)))
				if err != nil && !errors.Is(err, ErrMerged) {
					errs <- err
					return
				}
			}
		}()
	}
	// Pairs merge in both directions across stripes: 1←2, 3←4, 2←… is
	// refused (closed), 5←1, 0←3.
	for _, p := range [][2]uint32{{1, 2}, {3, 4}, {5, 1}, {0, 3}, {2, 6}} {
		_, err := l.Apply(ctx, Merge{Tx: "m" + strconv.Itoa(int(p[0])) + strconv.Itoa(int(p[1])), Member: p[0], From: p[1], At: sh("2025-03-01 02:00")})
		if err != nil && !errors.Is(err, ErrMerged) {
			t.Fatal(err)
		}
	}
	for range 4 {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	requireAudit(t, l)
}

// TestAuditCatchesHalfAMerge: a store that kept the survivor's side of a
// merge but not the loser's (its account and entries as before) fails
// the audit, though each account on its own adds up.
func TestAuditCatchesHalfAMerge(t *testing.T) {
	p, err := NewProgram(baseConfig())
	require.NoError(t, err)
	s := NewMemStore()
	l := NewLedger(p, s, nil)
	mustApply(t, l, order("a", 1, sh("2025-03-01"), "A", line("otc", 10000)))
	mustApply(t, l, order("b", 2, sh("2025-03-01"), "B", line("otc", 20000)))
	before := s.saveMember(2)
	mustApply(t, l, Merge{Tx: "m", Member: 1, From: 2, At: sh("2025-03-02")})
	requireAudit(t, l)

	s.restoreMember(2, before)
	rep, err := l.Audit(context.Background())
	require.NoError(t, err)
	require.Len(t, rep.Problems, 1)
	assert.Contains(t, rep.Problems[0], `member 1: merge tx "m": member 2 has 0 of its 2 entries from 1`)
}
