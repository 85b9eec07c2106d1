package loyalty

import (
	"context"
	"testing"
	"time"
	_ "time/tzdata" // tests need Asia/Shanghai whatever the machine has

	"github.com/stretchr/testify/require"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// sh reads a Shanghai wall-clock time "2006-01-02 15:04[:05]".
func sh(s string) time.Time {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, shanghai); err == nil {
			return t
		}
	}
	panic("bad test time " + s)
}

// baseConfig: 1 point per yuan, no pending, no expiry, one tier.
func baseConfig() Config {
	return Config{Name: "test", Location: shanghai, Earning: EarningRules{PointsPerYuan: 1}}
}

func newTestLedger(t testing.TB, c Config) *Ledger {
	t.Helper()
	p, err := NewProgram(c)
	require.NoError(t, err)
	return NewLedger(p, NewMemStore(), nil)
}

func mustApply(t testing.TB, l *Ledger, op Op) *Receipt {
	t.Helper()
	r, err := l.Apply(context.Background(), op)
	require.NoError(t, err, "apply %s %s", op.Kind(), op.TxID())
	return r
}

func balanceAt(t testing.TB, l *Ledger, m uint32, at time.Time) Balance {
	t.Helper()
	b, err := l.Balance(context.Background(), m, at)
	require.NoError(t, err)
	return b
}

func requireAudit(t testing.TB, l *Ledger) {
	t.Helper()
	rep, err := l.Audit(context.Background())
	require.NoError(t, err)
	require.True(t, rep.OK(), "audit problems: %v", rep.Problems)
}

func order(tx string, m uint32, at time.Time, id string, lines ...Line) Order {
	return Order{Tx: tx, Member: m, At: at, OrderID: id, Channel: "store", Lines: lines}
}

func line(cat string, fen int64) Line { return Line{Category: cat, Paid: fen} }

func entriesOf(t testing.TB, l *Ledger, m uint32) []Entry {
	t.Helper()
	var es []Entry
	for e, err := range l.Entries(context.Background(), m) {
		require.NoError(t, err)
		es = append(es, e)
	}
	return es
}

// accountOf decodes a member's stored account (nil if none).
func accountOf(t testing.TB, l *Ledger, m uint32) *account {
	t.Helper()
	ld, err := l.store.Load(context.Background(), m, "", "")
	require.NoError(t, err)
	if ld.Account == nil {
		return nil
	}
	a, err := decodeAccount(ld.Account)
	require.NoError(t, err)
	return a
}

// kinds lists the entries' kinds, for comparing with a hand-written list.
func kinds(es []Entry) []EntryKind {
	var ks []EntryKind
	for _, e := range es {
		ks = append(ks, e.Kind)
	}
	return ks
}
