package loyalty

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type applied struct {
	op  Op
	seq uint64 // the receipt's version
}

// RunConcurrent has workers goroutines apply a random mix of orders,
// redemptions and partial refunds on a few shared members and some of
// their own, and returns every operation that succeeded.
func runConcurrent(t testing.TB, l *Ledger, workers, opsEach int, seed uint64) []applied {
	var (
		mu   sync.Mutex
		done []applied
		wg   sync.WaitGroup
	)
	base := sh("2025-03-01")
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			type placed struct {
				member uint32
				id     string
				left   int64
			}
			var orders []placed
			for i := range opsEach {
				m := uint32(rng.IntN(4)) // shared
				if rng.IntN(2) == 0 {
					m = uint32(100 + w) // own
				}
				at := base.Add(time.Duration(i) * time.Minute)
				tx := fmt.Sprintf("w%d-%d", w, i)
				var op Op
				switch k := rng.IntN(10); {
				case k < 5:
					id := "O" + tx
					amount := int64(100 + rng.IntN(50000))
					op = order(tx, m, at, id, line("otc", amount))
					orders = append(orders, placed{m, id, amount})
				case k < 8:
					op = Redeem{Tx: tx, Member: m, At: at, Points: int64(1 + rng.IntN(300))}
				default:
					if len(orders) == 0 {
						continue
					}
					j := rng.IntN(len(orders))
					o := &orders[j]
					if o.left == 0 {
						continue
					}
					n := 1 + rng.Int64N(o.left)
					o.left -= n
					op = Refund{Tx: tx, Member: o.member, At: at, OrderID: o.id, Lines: []Line{line("otc", n)}}
				}
				r, err := l.Apply(context.Background(), op)
				if errors.Is(err, ErrInsufficientPoints) {
					continue
				}
				if !assert.NoError(t, err) {
					return
				}
				if assert.True(t, r.Recorded) {
					mu.Lock()
					done = append(done, applied{op, r.Version})
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return done
}

// checkAgainstSequential replays the successful operations one by one, in
// each member's commit order, on a fresh in-memory ledger and requires the
// same entries and balances.
func checkAgainstSequential(t *testing.T, l *Ledger, done []applied) {
	slices.SortFunc(done, func(a, b applied) int {
		return cmp.Or(cmp.Compare(a.op.MemberID(), b.op.MemberID()), cmp.Compare(a.seq, b.seq))
	})
	seq := NewLedger(l.Program(), NewMemStore(), nil)
	members := map[uint32]bool{}
	for _, a := range done {
		mustApply(t, seq, a.op)
		members[a.op.MemberID()] = true
	}
	asOf := sh("2025-06-01")
	for m := range members {
		got, want := balanceAt(t, l, m, asOf), balanceAt(t, seq, m, asOf)
		assert.Equal(t, want, got, "member %d", m)
		assert.GreaterOrEqual(t, got.Available, int64(0), "member %d", m)
		assert.Equal(t, entriesOf(t, seq, m), entriesOf(t, l, m), "member %d", m)
	}
	requireAudit(t, l)
}

func TestConcurrentOperationsMatchSequentialReplay(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	done := runConcurrent(t, l, 8, 150, 1)
	require.NotEmpty(t, done)
	checkAgainstSequential(t, l, done)
}

// TestConcurrentSameTxID races one transaction ID from many goroutines,
// on the same member and on different ones: exactly one applies, the
// same content replays, other content conflicts.
func TestConcurrentSameTxID(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	var wg sync.WaitGroup
	results := make([]error, 16)
	replayed := make([]bool, 16)
	for i := range results {
		wg.Go(func() {
			m := uint32(1)
			if i%2 == 1 {
				m = uint32(i) // a different member: a conflict
			}
			r, err := l.Apply(context.Background(), order("same", m, sh("2025-03-01"), "O", line("otc", 1000)))
			results[i] = err
			if err == nil {
				replayed[i] = r.Replayed
			}
		})
	}
	wg.Wait()
	fresh, replays, conflicts := 0, 0, 0
	for i, err := range results {
		switch {
		case err == nil && !replayed[i]:
			fresh++
		case err == nil:
			replays++
		case errors.Is(err, ErrConflict):
			conflicts++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	assert.Equal(t, 1, fresh)
	assert.Equal(t, 15, replays+conflicts)
	requireAudit(t, l)
}
