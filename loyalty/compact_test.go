package loyalty

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRefundWindow(t *testing.T) {
	c := baseConfig()
	c.History = HistoryRules{RefundDays: 30, LateDays: 20}
	l := newTestLedger(t, c)
	ctx := context.Background()
	// O at 2025-01-01 10:00: refundable until 2025-01-31 10:00, exclusive.
	mustApply(t, l, order("o", 1, sh("2025-01-01 10:00"), "O", line("otc", 10000)))
	r := mustApply(t, l, Refund{Tx: "f1", Member: 1, At: sh("2025-01-31 09:59:59"), OrderID: "O", Lines: []Line{line("otc", 1000)}})
	assert.Equal(t, int64(90), r.After.Available)
	_, err := l.Apply(ctx, Refund{Tx: "f2", Member: 1, At: sh("2025-01-31 10:00"), OrderID: "O", Lines: []Line{line("otc", 1000)}})
	var we *WindowError
	require.ErrorAs(t, err, &we)
	assert.Equal(t, &WindowError{Member: 1, What: `order "O"`, At: sh("2025-01-01 10:00"), Limit: sh("2025-01-31 10:00"), Err: ErrRefundWindowClosed}, we)
	assert.ErrorIs(t, err, ErrRefundWindowClosed)
	assert.Contains(t, err.Error(), `order "O" placed 2025-01-01T10:00:00+08:00, refundable until 2025-01-31T10:00:00+08:00: refund window closed`)

	// The window is measured to the account's clock when that is later:
	// P (2025-01-01) would be refundable on 2025-01-20, but an order on
	// 2025-02-05 already moved the clock past 2025-01-31.
	mustApply(t, l, order("p", 2, sh("2025-01-01 10:00"), "P", line("otc", 10000)))
	mustApply(t, l, order("q", 2, sh("2025-02-05 10:00"), "Q", line("otc", 10000)))
	_, err = l.Apply(ctx, Refund{Tx: "fp", Member: 2, At: sh("2025-01-20"), OrderID: "P", Lines: []Line{line("otc", 1000)}})
	require.ErrorIs(t, err, ErrRefundWindowClosed)

	// A redemption is reversible for the same 30 days.
	mustApply(t, l, Redeem{Tx: "r", Member: 2, At: sh("2025-02-06 00:00"), Points: 10})
	_, err = l.Apply(ctx, Reverse{Tx: "rv", Member: 2, At: sh("2025-03-08 00:00"), Of: "r"})
	require.ErrorAs(t, err, &we)
	assert.Equal(t, `redemption "r"`, we.What)
	mustApply(t, l, Reverse{Tx: "rv", Member: 2, At: sh("2025-03-07 23:59"), Of: "r"})
	requireAudit(t, l)
}

func TestLateOperations(t *testing.T) {
	c := baseConfig()
	c.History = HistoryRules{LateDays: 20}
	l := newTestLedger(t, c)
	ctx := context.Background()
	mustApply(t, l, order("a", 1, sh("2025-03-20 12:00"), "A", line("otc", 10000)))
	// 20 days before the clock, 2025-02-28 12:00, is still accepted (and
	// does not move the clock back); a second earlier is not.
	mustApply(t, l, order("b", 1, sh("2025-02-28 12:00"), "B", line("otc", 10000)))
	_, err := l.Apply(ctx, order("c", 1, sh("2025-02-28 11:59:59"), "C", line("otc", 10000)))
	var we *WindowError
	require.ErrorAs(t, err, &we)
	assert.Equal(t, &WindowError{Member: 1, What: `order "c"`, At: sh("2025-02-28 11:59:59"), Limit: sh("2025-02-28 12:00"), Err: ErrTooLate}, we)
	assert.ErrorIs(t, err, ErrTooLate)
	// Other members have their own clocks.
	mustApply(t, l, order("d", 2, sh("2025-01-01"), "D", line("otc", 10000)))
	// Settling, too, is an operation dated on the account's clock.
	_, err = l.Apply(ctx, Settle{Member: 1, At: sh("2025-01-01")})
	require.ErrorIs(t, err, ErrTooLate)
	requireAudit(t, l)
}

// TestCompactionByHand: a member orders 100 yuan on the 1st of each month
// and spends the 100 points on the 15th. With a 30-day refund window, a
// 10-day lateness limit and a 3-month growth window, the compacted
// account keeps one lot and three growth days; the full one keeps six of
// each, and both give the same answers.
func TestCompactionByHand(t *testing.T) {
	c := tierConfig(DowngradeOneTier, 0)
	c.Growth.Months = 3
	c.History = HistoryRules{RefundDays: 30, LateDays: 10}
	p, err := NewProgram(c)
	require.NoError(t, err)
	compacted := NewLedger(p, NewMemStore(), nil)
	full := NewLedger(p, NewMemStore(), &Options{NoCompaction: true})
	ctx := context.Background()
	both := func(op Op) (*Receipt, error) {
		r1, err1 := compacted.Apply(ctx, op)
		r2, err2 := full.Apply(ctx, op)
		require.Equal(t, err2, err1, "%s %s", op.Kind(), op.TxID())
		require.Equal(t, r2, r1, "%s %s", op.Kind(), op.TxID())
		return r1, err1
	}
	months := []string{"01", "02", "03", "04", "05", "06"}
	for _, m := range months {
		_, err := both(order("o"+m, 1, sh("2025-"+m+"-01 10:00"), "O"+m, line("otc", 10000)))
		require.NoError(t, err)
		_, err = both(Redeem{Tx: "r" + m, Member: 1, At: sh("2025-" + m + "-15 10:00"), Points: 100})
		require.NoError(t, err)
	}
	// Clock 2025-06-15 10:00. Lot k (month k) is empty; its order's window
	// closed 30 days after the 1st, its redemption's 30 days after the
	// 15th: May's at 2025-06-14 10:00, June's not before 2025-07-01. So
	// only lot 6 is held.
	a := accountOf(t, compacted, 1)
	assert.Equal(t, uint32(6), a.LotsIssued)
	require.Len(t, a.Lots, 1)
	assert.Equal(t, uint32(6), a.Lots[0].ID)
	assert.Len(t, accountOf(t, full, 1).Lots, 6)
	// Growth floor: the earliest accepted time is 2025-06-05 10:00; the
	// window ending the day before, 2025-06-04, starts 2025-03-05 (3
	// months back, plus one day). Refundable orders are later than that.
	// So 2025-04-01, 05-01 and 06-01 are held, 100 each.
	assert.Equal(t, civil(2025, 3, 5), a.GrowthFloor)
	assert.Equal(t, []growthDay{{civil(2025, 4, 1), 100}, {civil(2025, 5, 1), 100}, {civil(2025, 6, 1), 100}}, a.Growth)
	assert.Len(t, accountOf(t, full, 1).Growth, 6)

	// June's order can still be refunded: 50 of its points are reversed;
	// all 100 were spent, none are left anywhere, so 50 become debt.
	r, err := both(Refund{Tx: "f6", Member: 1, At: sh("2025-06-20"), OrderID: "O06", Lines: []Line{line("otc", 5000)}})
	require.NoError(t, err)
	assert.Equal(t, Totals{Debt: 50, Lifetime: 550, Tier: "silver", Growth: 250}, r.After)
	// May's cannot, nor May's redemption be reversed.
	_, err = both(Refund{Tx: "f5", Member: 1, At: sh("2025-06-20"), OrderID: "O05", Lines: []Line{line("otc", 5000)}})
	require.ErrorIs(t, err, ErrRefundWindowClosed)
	_, err = both(Reverse{Tx: "v5", Member: 1, At: sh("2025-06-20"), Of: "r05"})
	require.ErrorIs(t, err, ErrRefundWindowClosed)

	assert.Equal(t, balanceAt(t, full, 1, sh("2025-06-21")), balanceAt(t, compacted, 1, sh("2025-06-21")))
	assert.Equal(t, entriesOf(t, full, 1), entriesOf(t, compacted, 1))
	requireAudit(t, compacted)
	requireAudit(t, full)
	ld1, _ := compacted.store.Load(ctx, 1, "", "")
	ld2, _ := full.store.Load(ctx, 1, "", "")
	assert.Less(t, len(ld1.Account), len(ld2.Account)/2)
}

// TestAuditCatchesCompactionTampering: dropping a lot that still holds
// points, or a growth day above the floor, is caught.
func TestAuditCatchesCompactionTampering(t *testing.T) {
	p, err := NewProgram(tierConfig(DowngradeOneTier, 0))
	require.NoError(t, err)
	s := NewMemStore()
	l := NewLedger(p, s, nil)
	mustApply(t, l, order("a", 1, sh("2025-01-10"), "a", line("otc", 10000)))
	mustApply(t, l, order("b", 1, sh("2025-01-11"), "b", line("otc", 10000)))
	requireAudit(t, l)
	edit := func(f func(a *account)) []string {
		orig := s.rawAccount(1)
		defer s.setRawAccount(1, orig)
		a, err := decodeAccount(orig)
		require.NoError(t, err)
		f(a)
		s.setRawAccount(1, a.encode())
		rep, err := l.Audit(context.Background())
		require.NoError(t, err)
		return rep.Problems
	}
	assert.NotEmpty(t, edit(func(a *account) { a.Lots = a.Lots[1:] }), "live lot dropped")
	assert.NotEmpty(t, edit(func(a *account) { a.Growth = a.Growth[1:] }), "growth day dropped above the floor")
	assert.Empty(t, edit(func(a *account) { a.GrowthFloor = civil(2025, 1, 11); a.Growth = a.Growth[1:] }), "floor raised with the day")
	assert.NotEmpty(t, edit(func(a *account) { a.Closed, a.MergedInto = true, 7 }), "closed account holding points")
}
