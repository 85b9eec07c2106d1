package loyalty

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSettleAllAndEvaluateAll(t *testing.T) {
	c := tierConfig(DowngradeToSupported, 0)
	c.Expiry = ExpiryPolicy{Months: 1, EndOf: EndOfMonth}
	l := newTestLedger(t, c)
	ctx := context.Background()
	// Three members earn in January 2025 (expiry 2025-03-01 00:00); member
	// 3 reaches gold (1500 yuan).
	mustApply(t, l, order("a", 1, sh("2025-01-10"), "a", line("otc", 10000)))
	mustApply(t, l, order("b", 2, sh("2025-01-11"), "b", line("otc", 20000)))
	mustApply(t, l, order("c", 3, sh("2025-01-12"), "c", line("otc", 150000)))

	sum, err := l.SettleAll(ctx, sh("2025-03-01"))
	require.NoError(t, err)
	assert.Equal(t, RunSummary{Members: 3, Changed: 3}, sum)
	for m := uint32(1); m <= 3; m++ {
		assert.Equal(t, int64(0), balanceAt(t, l, m, sh("2025-03-01")).Available)
	}
	// The same as-of again: every settlement is a replay.
	sum, err = l.SettleAll(ctx, sh("2025-03-01"))
	require.NoError(t, err)
	assert.Equal(t, RunSummary{Members: 3}, sum)

	// 2026-02-01: the 12 months ending 2026-01-31 start 2025-02-01, so
	// member 3's growth is 0 and they go back to silver.
	sum, err = l.EvaluateAll(ctx, sh("2026-02-01"))
	require.NoError(t, err)
	assert.Equal(t, RunSummary{Members: 3, Changed: 1, Events: 1}, sum)
	assert.Equal(t, "silver", balanceAt(t, l, 3, sh("2026-02-01")).Tier)
	requireAudit(t, l)
}

// TestAuditCatchesTampering: the audit is only worth something if it
// fails on a ledger that does not add up.
func TestAuditCatchesTampering(t *testing.T) {
	setup := func() (*Ledger, *MemStore) {
		p, err := NewProgram(baseConfig())
		require.NoError(t, err)
		s := NewMemStore()
		l := NewLedger(p, s, nil)
		mustApply(t, l, order("a", 1, sh("2025-01-10"), "a", line("otc", 10000)))
		mustApply(t, l, Redeem{Tx: "r", Member: 1, At: sh("2025-01-11"), Points: 30})
		requireAudit(t, l)
		return l, s
	}
	problems := func(l *Ledger) []string {
		rep, err := l.Audit(context.Background())
		require.NoError(t, err)
		return rep.Problems
	}

	l, s := setup()
	a, err := decodeAccount(s.rawAccount(1))
	require.NoError(t, err)
	a.Lots[0].Available += 5
	s.setRawAccount(1, a.encode())
	assert.NotEmpty(t, problems(l), "balance edited without an entry")

	l, s = setup()
	s.dropLastEntry(1)
	assert.NotEmpty(t, problems(l), "an operation's last entry lost")

	l, s = setup()
	s.removeTx("r")
	assert.NotEmpty(t, problems(l), "entries without their transaction")

	l, s = setup()
	s.setRawAccount(1, []byte{tagAccount, 0xff})
	assert.NotEmpty(t, problems(l), "corrupt account")
}

func TestReceiptLookup(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	r := mustApply(t, l, order("a", 1, sh("2025-01-10"), "a", line("otc", 10000)))
	got, ok, err := l.Receipt(context.Background(), "a")
	require.NoError(t, err)
	require.True(t, ok)
	r.Replayed = true
	assert.Equal(t, r, got)
	assert.Equal(t, uint64(1), got.Version)
}

// TestReplayOnStorePath checks that a Ledger on a store other than a
// MemStore, which looks a transaction up only when it does not commit
// it, still answers every replay with the original receipt: whether the
// operation would now fail or be recorded again, and for an ID recorded
// on another member.
func TestReplayOnStorePath(t *testing.T) {
	p, err := NewProgram(baseConfig())
	require.NoError(t, err)
	l := NewLedger(p, byteStore{NewMemStore()}, nil)
	ctx := context.Background()
	// 100 yuan → 100 points; redeeming 80 leaves 20.
	order := Order{Tx: "o1", Member: 1, At: sh("2025-03-01 10:00"), OrderID: "A", Lines: []Line{line("otc", 10000)}}
	first := mustApply(t, l, order)
	redeem := Redeem{Tx: "r1", Member: 1, At: sh("2025-03-02 10:00"), Points: 80}
	red := mustApply(t, l, redeem)
	assert.Equal(t, int64(20), red.After.Available)

	// Now the redemption would fail for want of points: its replay is
	// still the original.
	again, err := l.Apply(ctx, redeem)
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, red.Entries, again.Entries)
	assert.Equal(t, int64(20), again.After.Available)

	// The order would be recorded again were it new (its document would
	// refuse it only as a duplicate order): replayed, not re-earned.
	again, err = l.Apply(ctx, order)
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.Entries, again.Entries)

	// The same ID on another member, where it would be recorded: a
	// conflict, and member 2 gets nothing.
	other := order
	other.Member = 2
	_, err = l.Apply(ctx, other)
	var ce *ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, uint32(1), ce.Member)
	assert.Equal(t, int64(0), balanceAt(t, l, 2, sh("2025-03-03")).Available)

	// An adjustment's replay does not adjust twice.
	adjust := Adjust{Tx: "a1", Member: 1, At: sh("2025-03-03 10:00"), Points: 5, Reason: "goodwill"}
	adj := mustApply(t, l, adjust)
	again, err = l.Apply(ctx, adjust)
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, adj.Version, again.Version)
	assert.Equal(t, int64(25), balanceAt(t, l, 1, sh("2025-03-04")).Available)
	requireAudit(t, l)
}
