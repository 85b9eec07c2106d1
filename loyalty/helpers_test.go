package loyalty

import (
	"context"
	"hash/maphash"
	"slices"
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

// Tests that tamper with a MemStore reach its records through these.

// rawAccount returns member m's account as stored.
func (s *MemStore) rawAccount(m uint32) []byte {
	ld, err := s.Load(context.Background(), m, "", "")
	if err != nil {
		panic(err)
	}
	return ld.Account
}

// setRawAccount replaces member m's account with b.
func (s *MemStore) setRawAccount(m uint32, b []byte) {
	defer s.lockMembers(m)()
	ma := s.memberForWrite(m)
	ma.acct, ma.state = nil, b
}

// dropLastEntry forgets member m's last entry.
func (s *MemStore) dropLastEntry(m uint32) {
	defer s.lockMembers(m)()
	ma := s.member(m)
	ma.eoff = slices.Clip(ma.eoff[:len(ma.eoff)-1])
}

// memberRecords is a copy of a member's account and entries.
type memberRecords struct {
	state []byte
	eoff  []uint32
}

func (s *MemStore) saveMember(m uint32) memberRecords {
	defer s.lockMembers(m)()
	ma := s.member(m)
	return memberRecords{state: ma.stateBytes(), eoff: slices.Clone(ma.eoff)}
}

func (s *MemStore) restoreMember(m uint32, r memberRecords) {
	defer s.lockMembers(m)()
	ma := s.member(m)
	ma.acct, ma.state, ma.eoff = nil, r.state, r.eoff
}

// allRecords returns every record the store holds: transaction records,
// accounts, entries and documents.
func (s *MemStore) allRecords() [][]byte {
	var out [][]byte
	for i := range s.txs {
		t := &s.txs[i]
		for _, pos := range t.idx {
			_, rec := t.log.cs.keyed(pos)
			out = append(out, rec)
		}
		for _, pos := range t.over {
			_, rec := t.log.cs.keyed(pos)
			out = append(out, rec)
		}
	}
	for r, err := range s.Accounts(context.Background()) {
		if err != nil {
			panic(err)
		}
		out = append(out, r.Account)
		for e, err := range s.Entries(context.Background(), r.Member, 0) {
			if err != nil {
				panic(err)
			}
			out = append(out, e)
		}
		ma := s.member(r.Member)
		for _, v := range ma.dix {
			if v != 0 {
				_, d := s.stripe(r.Member).log.cs.keyed(uint32(v) - 1)
				out = append(out, d)
			}
		}
	}
	return out
}

// removeTx forgets the record of tx, for tests that tamper with a store.
func (s *MemStore) removeTx(tx string) {
	t, h := s.txShard(tx)
	t.mu.Lock()
	defer t.mu.Unlock()
	if pos, ok := t.idx[h]; ok && pos != txPending {
		if id, _ := t.log.cs.keyed(pos); string(id) == tx {
			delete(t.idx, h)
			// A record whose ID has the same hash moves up from over.
			for id2, pos2 := range t.over {
				if maphash.String(s.seed, id2) == h {
					t.idx[h] = pos2
					delete(t.over, id2)
					break
				}
			}
			return
		}
	}
	delete(t.over, tx)
}
