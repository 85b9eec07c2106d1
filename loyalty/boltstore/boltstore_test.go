package boltstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/cdpkit/cdpkit/loyalty"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func testProgram(t testing.TB) *loyalty.Program {
	p, err := loyalty.NewProgram(loyalty.Config{
		Location: t0.Location(),
		Earning:  loyalty.EarningRules{PointsPerYuan: 1},
		Expiry:   loyalty.ExpiryPolicy{Months: 12, EndOf: loyalty.EndOfMonth},
		Tiers:    []loyalty.Tier{{Name: "silver"}, {Name: "gold", Threshold: 2000, Multiplier: 15000}},
		Growth:   loyalty.GrowthRules{PerYuan: 1},
	})
	require.NoError(t, err)
	return p
}

func openTemp(t testing.TB) (*Store, string) {
	path := filepath.Join(t.TempDir(), "loyalty.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	return s, path
}

func orderOp(tx string, m uint32, at time.Time, fen int64) loyalty.Order {
	return loyalty.Order{Tx: tx, Member: m, At: at, OrderID: "O-" + tx, Lines: []loyalty.Line{{Category: "otc", Paid: fen}}}
}

func TestReopenKeepsEverything(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	l := loyalty.NewLedger(testProgram(t), s, nil)
	first, err := l.Apply(ctx, orderOp("a", 7, t0, 12345))
	require.NoError(t, err)
	_, err = l.Apply(ctx, loyalty.Redeem{Tx: "b", Member: 7, At: t0.Add(time.Hour), Points: 23})
	require.NoError(t, err)
	_, err = l.Apply(ctx, loyalty.Refund{Tx: "c", Member: 7, At: t0.Add(2 * time.Hour), OrderID: "O-a",
		Lines: []loyalty.Line{{Category: "otc", Paid: 2345}}})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = l.Apply(ctx, orderOp("d", 7, t0, 100))
	require.ErrorIs(t, err, loyalty.ErrClosed)

	s, err = Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	l = loyalty.NewLedger(testProgram(t), s, nil)
	// 123 earned − 23 redeemed − 23 reversed (12345 → 10000 fen: 123 → 100).
	b, err := l.Balance(ctx, 7, t0.Add(3*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, int64(77), b.Available)
	again, err := l.Apply(ctx, orderOp("a", 7, t0, 12345))
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.Entries, again.Entries)
	rep, err := l.Audit(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
	assert.Equal(t, 1, rep.Members)
}

// TestStoreContract checks the Store semantics the Ledger relies on, for
// the bbolt store and the in-memory one alike.
func TestStoreContract(t *testing.T) {
	bs, _ := openTemp(t)
	defer bs.Close()
	for name, s := range map[string]loyalty.Store{"bolt": bs, "mem": loyalty.NewMemStore()} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := &loyalty.Commit{Member: 3, Tx: "t1", TxRecord: []byte("rec"), Account: []byte("acct"),
				DocKey: "o:1", Doc: []byte("doc"), FirstSeq: 0, Entries: [][]byte{[]byte("e0"), []byte("e1")}}
			require.NoError(t, s.Commit(ctx, c))
			ld, err := s.Load(ctx, 3, "t1", "o:1")
			require.NoError(t, err)
			assert.Equal(t, loyalty.Loaded{Tx: []byte("rec"), Account: []byte("acct"), Doc: []byte("doc")}, ld)

			// A duplicate transaction applies nothing.
			dup := &loyalty.Commit{Member: 4, Tx: "t1", TxRecord: []byte("x"), Account: []byte("y")}
			require.ErrorIs(t, s.Commit(ctx, dup), loyalty.ErrTxExists)
			ld, err = s.Load(ctx, 4, "", "")
			require.NoError(t, err)
			assert.Nil(t, ld.Account)

			// Entries are never overwritten.
			over := &loyalty.Commit{Member: 3, Tx: "t2", TxRecord: []byte("r2"), Account: []byte("a2"), FirstSeq: 1, Entries: [][]byte{[]byte("bad")}}
			require.Error(t, s.Commit(ctx, over))
			raw, err := s.Tx(ctx, "t2")
			require.NoError(t, err)
			assert.Nil(t, raw, "refused commit left its tx record")

			require.NoError(t, s.Commit(ctx, &loyalty.Commit{Member: 1, Tx: "t3", TxRecord: []byte("r3"), Account: []byte("a1"),
				FirstSeq: 0, Entries: [][]byte{[]byte("x0")}}))
			require.NoError(t, s.Commit(ctx, &loyalty.Commit{Member: 3, Tx: "t4", TxRecord: []byte("r4"), Account: []byte("acct2"),
				FirstSeq: 2, Entries: [][]byte{[]byte("e2")}}))
			var es []string
			for e, err := range s.Entries(ctx, 3, 1) {
				require.NoError(t, err)
				es = append(es, string(e))
			}
			assert.Equal(t, []string{"e1", "e2"}, es)
			var ms []uint32
			for r, err := range s.Accounts(ctx) {
				require.NoError(t, err)
				ms = append(ms, r.Member)
			}
			assert.Equal(t, []uint32{1, 3}, ms)
		})
	}
}

func TestAccountsWalkManyMembers(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ctx := context.Background()
	l := loyalty.NewLedger(testProgram(t), s, nil)
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for i := range 20 {
				m := uint32(w*20 + i)
				_, err := l.Apply(ctx, orderOp(fmt.Sprint(m), m*3, t0, 1000))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	n := 0
	prev := int64(-1)
	for m, err := range l.Members(ctx) {
		require.NoError(t, err)
		assert.Greater(t, int64(m), prev)
		prev = int64(m)
		n++
	}
	assert.Equal(t, 1280, n) // more than one read chunk
}

// TestConcurrentDurableMatchesSequential: goroutines earn, redeem and
// refund on shared and own members through group commit; replaying the
// successful operations one at a time, in each member's order, on an
// in-memory ledger gives the same entries and balances.
func TestConcurrentDurableMatchesSequential(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	p := testProgram(t)
	l := loyalty.NewLedger(p, s, nil)
	ctx := context.Background()
	type done struct {
		op      loyalty.Op
		version uint64
	}
	var (
		mu  sync.Mutex
		all []done
		wg  sync.WaitGroup
	)
	for w := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for i := range 60 {
				m := uint32(rng.IntN(5))
				if rng.IntN(2) == 0 {
					m = uint32(50 + w)
				}
				tx := fmt.Sprintf("w%d-%d", w, i)
				at := t0.Add(time.Duration(i) * time.Minute)
				var op loyalty.Op
				switch rng.IntN(3) {
				case 0, 1:
					op = orderOp(tx, m, at, int64(100+rng.IntN(300000)))
				default:
					op = loyalty.Redeem{Tx: tx, Member: m, At: at, Points: int64(1 + rng.IntN(2000))}
				}
				r, err := l.Apply(ctx, op)
				if errors.Is(err, loyalty.ErrInsufficientPoints) {
					continue
				}
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				all = append(all, done{op, r.Version})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(all, func(a, b done) int {
		return cmp.Or(cmp.Compare(a.op.MemberID(), b.op.MemberID()), cmp.Compare(a.version, b.version))
	})
	seq := loyalty.NewLedger(p, loyalty.NewMemStore(), nil)
	members := map[uint32]bool{}
	for _, d := range all {
		_, err := seq.Apply(ctx, d.op)
		require.NoError(t, err)
		members[d.op.MemberID()] = true
	}
	for m := range members {
		got, err := l.Balance(ctx, m, t0.AddDate(0, 1, 0))
		require.NoError(t, err)
		want, err := seq.Balance(ctx, m, t0.AddDate(0, 1, 0))
		require.NoError(t, err)
		assert.Equal(t, want, got, "member %d", m)
		assert.GreaterOrEqual(t, got.Available, int64(0))
	}
	rep, err := l.Audit(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
}

func TestCancelledContextBeforeQueueing(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := loyalty.NewLedger(testProgram(t), s, nil)
	_, err := l.Apply(ctx, orderOp("a", 1, t0, 100))
	require.ErrorIs(t, err, context.Canceled)
	r, ok, err := l.Receipt(context.Background(), "a")
	require.NoError(t, err)
	assert.False(t, ok, "%v", r)
}

// TestCommitMultiContract: several members' writes land together or not
// at all, for the bbolt store and the in-memory one alike.
func TestCommitMultiContract(t *testing.T) {
	bs, _ := openTemp(t)
	defer bs.Close()
	for name, s := range map[string]loyalty.MultiStore{"bolt": bs, "mem": loyalty.NewMemStore()} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			one := func(m uint32, first uint64, es ...string) *loyalty.Commit {
				c := &loyalty.Commit{Member: m, Account: []byte(fmt.Sprint("acct", m, first)), FirstSeq: first}
				for _, e := range es {
					c.Entries = append(c.Entries, []byte(e))
				}
				return c
			}
			entries := func(m uint32) []string {
				var out []string
				for e, err := range s.Entries(ctx, m, 0) {
					require.NoError(t, err)
					out = append(out, string(e))
				}
				return out
			}
			a, b := one(10, 0, "a0", "a1"), one(11, 0, "b0")
			a.Tx, a.TxRecord, a.DocKey, a.Doc = "m1", []byte("rec"), "o:x", []byte("doc")
			require.NoError(t, s.CommitMulti(ctx, []*loyalty.Commit{a, b}))
			assert.Equal(t, []string{"a0", "a1"}, entries(10))
			assert.Equal(t, []string{"b0"}, entries(11))
			raw, err := s.Tx(ctx, "m1")
			require.NoError(t, err)
			assert.Equal(t, []byte("rec"), raw)

			// The transaction again: nothing applied.
			c := one(12, 0, "c0")
			c.Tx = "m1"
			require.ErrorIs(t, s.CommitMulti(ctx, []*loyalty.Commit{c, one(13, 0, "d0")}), loyalty.ErrTxExists)
			assert.Empty(t, entries(12))
			assert.Empty(t, entries(13))

			// The second member's sequence number is taken: the first
			// member's writes do not land either.
			c = one(12, 0, "c0")
			c.Tx, c.TxRecord = "m2", []byte("rec2")
			require.Error(t, s.CommitMulti(ctx, []*loyalty.Commit{c, one(11, 0, "bad")}))
			assert.Empty(t, entries(12))
			assert.Equal(t, []string{"b0"}, entries(11))
			raw, err = s.Tx(ctx, "m2")
			require.NoError(t, err)
			assert.Nil(t, raw)

			// One member twice is refused.
			d := one(14, 0, "x")
			d.Tx = "m3"
			require.Error(t, s.CommitMulti(ctx, []*loyalty.Commit{d, one(14, 1, "y")}))
			assert.Empty(t, entries(14))
		})
	}
}

// TestMergeSurvivesReopen: a merge on bbolt, the file reopened, then a
// refund of the loser's order through the survivor and a replay.
func TestMergeSurvivesReopen(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	l := loyalty.NewLedger(testProgram(t), s, nil)
	_, err := l.Apply(ctx, orderOp("b", 2, t0, 30000)) // 300 points for member 2
	require.NoError(t, err)
	_, err = l.Apply(ctx, orderOp("a", 1, t0, 10000)) // 100 for member 1
	require.NoError(t, err)
	m := loyalty.Merge{Tx: "m", Member: 1, From: 2, At: t0.Add(time.Hour)}
	first, err := l.Apply(ctx, m)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	l = loyalty.NewLedger(testProgram(t), s, nil)
	again, err := l.Apply(ctx, m)
	require.NoError(t, err)
	first.Replayed = true
	assert.Equal(t, first, again)
	// Half of O-b refunded through member 1: 150 points reversed.
	r, err := l.Apply(ctx, loyalty.Refund{Tx: "f", Member: 1, At: t0.Add(2 * time.Hour), OrderID: "O-b",
		Lines: []loyalty.Line{{Category: "otc", Paid: 15000}}})
	require.NoError(t, err)
	assert.Equal(t, int64(250), r.After.Available)
	b, err := l.Balance(ctx, 2, t0.Add(3*time.Hour))
	require.NoError(t, err)
	assert.True(t, b.Merged)
	assert.Equal(t, uint32(1), b.MergedInto)
	rep, err := l.Audit(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.Problems)
}

// TestFormatMark: a file of the first format (whose entries are all in
// the first layouts, which are still read) opens and is marked with the
// current one; a file of an unknown format is refused.
func TestFormatMark(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	l := loyalty.NewLedger(testProgram(t), s, nil)
	_, err := l.Apply(ctx, orderOp("a", 1, t0, 12345))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	mark := func(v string) {
		db, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(formatKey, []byte(v)) }))
		require.NoError(t, db.Close())
	}
	read := func() string {
		db, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		defer db.Close()
		var v string
		require.NoError(t, db.View(func(tx *bolt.Tx) error { v = string(tx.Bucket(bucketMeta).Get(formatKey)); return nil }))
		return v
	}
	assert.Equal(t, "cdpkit-loyalty/2", read())

	mark("cdpkit-loyalty/1")
	s, err = Open(path, nil)
	require.NoError(t, err)
	l = loyalty.NewLedger(testProgram(t), s, nil)
	b, err := l.Balance(ctx, 1, t0)
	require.NoError(t, err)
	assert.Equal(t, int64(123), b.Available)
	require.NoError(t, s.Close())
	assert.Equal(t, "cdpkit-loyalty/2", read())

	mark("cdpkit-loyalty/9")
	_, err = Open(path, nil)
	require.ErrorContains(t, err, `file format "cdpkit-loyalty/9"`)
}

// TestGatherLeavesNoCommitBehind: after a burst of concurrent callers has
// taught the committer to expect many commits, a caller left alone, and
// commits queued while Close runs, are still written, with and without
// gathering.
func TestGatherLeavesNoCommitBehind(t *testing.T) {
	for _, gather := range []time.Duration{0, -1, time.Hour} {
		t.Run(fmt.Sprint(gather), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "loyalty.db")
			s, err := Open(path, &Options{MaxGather: gather})
			require.NoError(t, err)
			ctx := context.Background()
			commit := func(m uint32, tx string) error {
				return s.Commit(ctx, &loyalty.Commit{Member: m, Tx: tx, TxRecord: []byte(tx), Account: []byte{byte(m)}})
			}
			var wg sync.WaitGroup
			for m := range uint32(64) {
				wg.Go(func() {
					for i := range 5 {
						assert.NoError(t, commit(m, fmt.Sprintf("burst-%d-%d", m, i)))
					}
				})
			}
			wg.Wait()
			require.NoError(t, commit(100, "alone"))
			// Late callers race Close: each is either refused or durable.
			acked := make([]bool, 32)
			for m := range uint32(32) {
				wg.Go(func() {
					err := commit(200+m, fmt.Sprintf("late-%d", m))
					if !errors.Is(err, loyalty.ErrClosed) && assert.NoError(t, err) {
						acked[m] = true
					}
				})
			}
			require.NoError(t, s.Close())
			wg.Wait()

			s, err = Open(path, nil)
			require.NoError(t, err)
			defer s.Close()
			want := []string{"burst-0-4", "burst-63-0", "alone"}
			for m, ok := range acked {
				if ok {
					want = append(want, fmt.Sprintf("late-%d", m))
				}
			}
			for _, tx := range want {
				v, err := s.Tx(ctx, tx)
				require.NoError(t, err)
				assert.Equal(t, []byte(tx), v, tx)
			}
		})
	}
}
