package loyalty

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// byteStore hides that a MemStore is one, so a Ledger on it takes the
// path every other store takes: decode the account, apply, encode,
// commit.
type byteStore struct{ MultiStore }

// outcomeOf is an operation's result in a form two ledgers can compare.
type outcomeOf struct {
	R   *Receipt
	Err string
}

func applyAll(t *testing.T, l *Ledger, ops []Op) []outcomeOf {
	t.Helper()
	out := make([]outcomeOf, len(ops))
	for i, op := range ops {
		r, err := l.Apply(context.Background(), op)
		out[i].R = r
		if err != nil {
			out[i].Err = err.Error()
		}
	}
	return out
}

// sameLedgers checks two ledgers hold the same: balances, entries and
// stored accounts of every member, and clean audits.
func sameLedgers(t *testing.T, want, got *Ledger, members uint32, asOf time.Time) {
	t.Helper()
	ctx := context.Background()
	for m := range members {
		assert.Equal(t, balanceAt(t, want, m, asOf), balanceAt(t, got, m, asOf), "member %d", m)
		assert.Equal(t, entriesOf(t, want, m), entriesOf(t, got, m), "member %d", m)
		w, err := want.store.Load(ctx, m, "", "")
		require.NoError(t, err)
		g, err := got.store.Load(ctx, m, "", "")
		require.NoError(t, err)
		assert.Equal(t, w.Account, g.Account, "member %d stored account", m)
	}
	rw, err := want.Audit(ctx)
	require.NoError(t, err)
	rg, err := got.Audit(ctx)
	require.NoError(t, err)
	assert.True(t, rw.OK(), "%v", rw.Problems)
	assert.Equal(t, rw, rg)
}

// TestFastPathMatchesStorePath: a Ledger on a MemStore keeps accounts
// decoded and changes them in place; the same random operations applied
// through the path every other store takes (decode, apply, encode,
// commit) must give the same receipts and errors, and leave the same
// records. Failed operations are frequent in the mix (insufficient
// points, refunds past their window, late or merged members, conflicts),
// so this also checks that a failure leaves a kept account untouched.
func TestFastPathMatchesStorePath(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0xfa57))
			p, err := NewProgram(propertyConfig(rng))
			require.NoError(t, err)
			ops := randomOps(rng, 600)
			fast := NewLedger(p, NewMemStore(), nil)
			slow := NewLedger(p, byteStore{NewMemStore()}, nil)
			ctx := context.Background()
			failed := 0
			for i, op := range ops {
				r1, err1 := slow.Apply(ctx, op)
				r2, err2 := fast.Apply(ctx, op)
				require.Equal(t, fmt.Sprint(err1), fmt.Sprint(err2), "op %d %s %s", i, op.Kind(), op.TxID())
				require.Equal(t, r1, r2, "op %d %s %s", i, op.Kind(), op.TxID())
				if err1 != nil {
					failed++
				}
				// After every operation, the member's stored account is the
				// same: a failure changed nothing in place.
				for _, m := range []uint32{op.MemberID()} {
					w, err := slow.store.Load(ctx, m, "", "")
					require.NoError(t, err)
					g, err := fast.store.Load(ctx, m, "", "")
					require.NoError(t, err)
					require.Equal(t, w.Account, g.Account, "op %d %s %s: member %d", i, op.Kind(), op.TxID(), m)
				}
			}
			t.Logf("%d of %d operations failed", failed, len(ops))
			require.Greater(t, failed, 20, "the mix exercises failures")
			sameLedgers(t, slow, fast, 6, ops[len(ops)-1].Time().AddDate(0, 1, 0))
			for _, op := range ops {
				r1, ok1, err1 := slow.Receipt(ctx, op.TxID())
				r2, ok2, err2 := fast.Receipt(ctx, op.TxID())
				require.NoError(t, err1)
				require.NoError(t, err2)
				assert.Equal(t, ok1, ok2)
				assert.Equal(t, r1, r2, "receipt of %s", op.TxID())
			}
		})
	}
}

// TestApplyBatchMatchesApply: a batch gives every operation the outcome
// Apply gives it one by one, whatever the number of workers, with or
// without receipts, on a MemStore and on the store path.
func TestApplyBatchMatchesApply(t *testing.T) {
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 0xba7c))
		p, err := NewProgram(propertyConfig(rng))
		require.NoError(t, err)
		ops := randomOps(rng, 500)
		seq := NewLedger(p, NewMemStore(), nil)
		want := applyAll(t, seq, ops)
		var wantRes BatchResult
		for i, o := range want {
			switch {
			case o.Err != "":
				wantRes.Failed = append(wantRes.Failed, &BatchError{Index: i})
			case o.R.Replayed:
				wantRes.Replayed++
			case !o.R.Recorded:
				wantRes.Unchanged++
			default:
				wantRes.Recorded++
				wantRes.Events += len(o.R.Events)
			}
		}
		for _, workers := range []int{1, 3} {
			for _, receipts := range []bool{false, true} {
				for _, store := range []string{"mem", "store path"} {
					t.Run(fmt.Sprintf("%d/workers=%d/receipts=%v/%s", seed, workers, receipts, store), func(t *testing.T) {
						var s Store = NewMemStore()
						if store != "mem" {
							s = byteStore{NewMemStore()}
						}
						var (
							mu     sync.Mutex
							events []Event
						)
						l := NewLedger(p, s, &Options{Notifier: NotifierFunc(func(e Event) {
							mu.Lock()
							events = append(events, e)
							mu.Unlock()
						})})
						got := make([]outcomeOf, len(ops))
						opts := &BatchOptions{Workers: workers}
						if receipts {
							opts.Done = func(i int, r *Receipt, err error) {
								got[i].R = r
								if err != nil {
									got[i].Err = err.Error()
								}
							}
						}
						res, err := l.ApplyBatch(context.Background(), ops, opts)
						require.NoError(t, err)
						assert.Equal(t, wantRes.Recorded, res.Recorded)
						assert.Equal(t, wantRes.Replayed, res.Replayed)
						assert.Equal(t, wantRes.Unchanged, res.Unchanged)
						assert.Equal(t, wantRes.Events, res.Events)
						assert.Len(t, events, res.Events, "every event notified")
						require.Len(t, res.Failed, len(wantRes.Failed))
						for k, f := range res.Failed {
							assert.Equal(t, wantRes.Failed[k].Index, f.Index)
							assert.Equal(t, want[f.Index].Err, f.Err.Error(), "op %d", f.Index)
							assert.ErrorContains(t, f, fmt.Sprintf("operation %d: ", f.Index))
						}
						if receipts {
							assert.Equal(t, want, got)
						}
						sameLedgers(t, seq, l, 6, ops[len(ops)-1].Time().AddDate(0, 1, 0))
						for _, e := range events {
							assert.Equal(t, p.Location(), e.At.Location(), "events in the programme's zone")
						}
					})
				}
			}
		}
	}
}

// TestApplyBatchByHand: three members, an order each, a redemption too
// large, and a merge in the middle that must see the operations before
// it and none after.
func TestApplyBatchByHand(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	ctx := context.Background()
	at := sh("2025-03-01 10:00")
	ops := []Op{
		order("a", 1, at, "A", line("otc", 10000)),       // 100 points to member 1
		order("b", 2, at, "B", line("otc", 5000)),        // 50 to member 2
		Redeem{Tx: "r", Member: 2, At: at, Points: 80},   // too many
		Merge{Tx: "m", Member: 1, From: 2, At: at},       // member 1 now holds 150
		Redeem{Tx: "r2", Member: 1, At: at, Points: 120}, // fine after the merge
		order("c", 3, at, "C", line("otc", 100)),
		order("a", 1, at, "A", line("otc", 10000)), // a replay
		order("b2", 2, at, "B2", line("otc", 100)), // member 2 is closed
	}
	res, err := l.ApplyBatch(ctx, ops, &BatchOptions{Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, 5, res.Recorded)
	assert.Equal(t, 1, res.Replayed)
	require.Len(t, res.Failed, 2)
	assert.Equal(t, 2, res.Failed[0].Index)
	assert.ErrorIs(t, res.Failed[0], ErrInsufficientPoints)
	assert.Equal(t, 7, res.Failed[1].Index)
	assert.ErrorIs(t, res.Failed[1], ErrMerged)
	assert.Equal(t, int64(30), balanceAt(t, l, 1, at).Available)
	assert.Equal(t, int64(1), balanceAt(t, l, 3, at).Available)
	requireAudit(t, l)
}

// TestApplyBatchCancelled: a cancelled context stops the batch with its
// error; what was applied is counted and stays applied.
func TestApplyBatchCancelled(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	ops := make([]Op, 5000)
	for i := range ops {
		ops[i] = order(fmt.Sprint(i), uint32(i%7), sh("2025-03-01"), fmt.Sprint(i), line("otc", 100))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64 // Done is called from both workers
	res, err := l.ApplyBatch(ctx, ops, &BatchOptions{Workers: 2, Done: func(int, *Receipt, error) {
		if n.Add(1) == 100 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, res.Recorded+len(res.Failed), len(ops))
	applied := 0
	for m := range uint32(7) {
		applied += int(balanceAt(t, l, m, sh("2025-03-02")).Lifetime)
	}
	assert.Equal(t, res.Recorded, applied, "one point per recorded order")
	requireAudit(t, l)

	// Applying the batch again finishes it: what was done is replayed.
	res2, err := l.ApplyBatch(context.Background(), ops, nil)
	require.NoError(t, err)
	assert.Equal(t, res.Recorded, res2.Replayed)
	assert.Equal(t, len(ops), res2.Recorded+res2.Replayed)
	assert.Empty(t, res2.Failed)
}

// TestSameTxAcrossMembersConcurrently: one transaction ID applied to two
// members at once is recorded once; the other call gets a conflict.
func TestSameTxAcrossMembersConcurrently(t *testing.T) {
	for range 50 {
		l := newTestLedger(t, baseConfig())
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for k := range 2 {
			wg.Go(func() {
				_, errs[k] = l.Apply(context.Background(), order("same", uint32(k), sh("2025-03-01"), "O", line("otc", 100)))
			})
		}
		wg.Wait()
		ok := slices.IndexFunc(errs, func(err error) bool { return err == nil })
		require.GreaterOrEqual(t, ok, 0, "one of them is recorded: %v", errs)
		var ce *ConflictError
		require.True(t, errors.As(errs[1-ok], &ce), "the other conflicts: %v", errs[1-ok])
		assert.Equal(t, uint32(ok), ce.Member)
		requireAudit(t, l)
	}
}

// TestDocKeyBytes: the fast path builds document keys without strings;
// they must be the keys every other path uses.
func TestDocKeyBytes(t *testing.T) {
	at := sh("2025-03-01")
	ops := []Op{
		Order{Tx: "a", OrderID: "SO-1", At: at}, Refund{Tx: "b", OrderID: "SO-1", At: at}, Redeem{Tx: "c", At: at},
		Reverse{Tx: "d", Of: "c", At: at}, Adjust{Tx: "e", At: at}, Settle{At: at}, Evaluate{At: at},
		BuyCard{Tx: "f", At: at}, RenewCard{Tx: "g", At: at}, CancelCard{Tx: "h", At: at}, TopUp{Tx: "i", At: at},
		Spend{Tx: "j", At: at}, RefundSpend{Tx: "k", Spend: "j", At: at}, Withdraw{Tx: "l", At: at}, Merge{Tx: "m", At: at},
	}
	require.Len(t, ops, int(opKinds)-1, "every kind of operation")
	for _, op := range ops {
		assert.Equal(t, op.docKey(), string(appendDocKey([]byte("x"), op)[1:]), "%s", op.Kind())
		h := op.head()
		assert.Equal(t, opHead{op.Kind(), op.TxID(), op.MemberID(), op.Time()}, h, "%s", op.Kind())
	}
}

// TestMonotonicTimes: operation times that carry a monotonic clock
// reading (from time.Now) give the same results on both paths, though
// the fast path keeps accounts decoded between operations.
func TestMonotonicTimes(t *testing.T) {
	c := baseConfig()
	c.Earning.PendingDays = 1
	c.Expiry = ExpiryPolicy{Months: 1}
	p, err := NewProgram(c)
	require.NoError(t, err)
	now := time.Now()
	require.NotEqual(t, now.String(), now.Round(0).String(), "time.Now carries a monotonic reading")
	ops := []Op{
		order("a", 1, now, "A", line("otc", 10000)),
		Redeem{Tx: "r1", Member: 1, At: now.Add(time.Hour), Points: 10},
		Redeem{Tx: "r2", Member: 1, At: now.AddDate(0, 0, 1), Points: 10},
		Settle{Member: 1, At: now.AddDate(0, 0, 2)},
		order("b", 1, now.AddDate(0, 0, 40), "B", line("otc", 5000)),
	}
	fast := NewLedger(p, NewMemStore(), nil)
	slow := NewLedger(p, byteStore{NewMemStore()}, nil)
	assert.Equal(t, applyAll(t, slow, ops), applyAll(t, fast, ops))
	sameLedgers(t, slow, fast, 2, now.AddDate(0, 2, 0))
}
