package loyalty

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refLedger is a deliberately naive model of points lots: a slice scanned
// and re-sorted on every call, expiry computed with plain month
// arithmetic. The ledger must agree with it on every balance and every
// redemption's choice of lots.
type refLedger struct {
	loc     *time.Location
	months  int
	lots    []refLot
	redeems map[string][]refAlloc
	// redeemed is when each redemption was made: it can be reversed
	// until refundDays days later.
	redeemed   map[string]time.Time
	refundDays int
}

type refLot struct {
	id      uint32
	expires time.Time
	avail   int64
}

type refAlloc struct {
	lot uint32
	n   int64
}

// expiry: end of the month that is `months` months after the earning
// month. The day of the month cannot matter for end-of-month expiry.
func (r *refLedger) expiry(at time.Time) time.Time {
	y, m, _ := at.In(r.loc).Date()
	return time.Date(y, m+time.Month(r.months)+1, 1, 0, 0, 0, 0, r.loc)
}

func (r *refLedger) earn(at time.Time, n int64) {
	r.lots = append(r.lots, refLot{id: uint32(len(r.lots) + 1), expires: r.expiry(at), avail: n})
}

func (r *refLedger) balance(at time.Time) int64 {
	var s int64
	for _, l := range r.lots {
		if at.Before(l.expires) {
			s += l.avail
		}
	}
	return s
}

func (r *refLedger) redeem(tx string, at time.Time, n int64) ([]refAlloc, bool) {
	if r.balance(at) < n {
		return nil, false
	}
	idx := make([]int, len(r.lots))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return r.lots[idx[a]].expires.Before(r.lots[idx[b]].expires) })
	var as []refAlloc
	for _, i := range idx {
		l := &r.lots[i]
		if n == 0 {
			break
		}
		if !at.Before(l.expires) || l.avail == 0 {
			continue
		}
		k := min(n, l.avail)
		l.avail -= k
		n -= k
		as = append(as, refAlloc{l.id, k})
	}
	r.redeems[tx] = as
	r.redeemed[tx] = at
	return as, true
}

// reverse undoes redemption tx at time at, unless its window has closed
// (times only move forward in this test, so at is the ledger's clock).
func (r *refLedger) reverse(tx string, at time.Time) bool {
	if !at.Before(r.redeemed[tx].In(r.loc).AddDate(0, 0, r.refundDays)) {
		return false
	}
	for _, a := range r.redeems[tx] {
		r.lots[a.lot-1].avail += a.n // an expired lot's points stay invisible to balance
	}
	delete(r.redeems, tx)
	return true
}

func (r *refLedger) expiring(at time.Time) []Expiring {
	var out []Expiring
	for _, l := range r.lots {
		if !at.Before(l.expires) || l.avail == 0 {
			continue
		}
		j := slices.IndexFunc(out, func(e Expiring) bool { return e.At.Equal(l.expires) })
		if j < 0 {
			out = append(out, Expiring{At: l.expires})
			j = len(out) - 1
		}
		out[j].Points += l.avail
	}
	slices.SortFunc(out, func(a, b Expiring) int { return a.At.Compare(b.At) })
	return out
}

func TestLotsAgainstNaiveReference(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			c := baseConfig()
			months := 1 + rng.IntN(12)
			c.Expiry = ExpiryPolicy{Months: months, EndOf: EndOfMonth}
			// A short refund window, so lots are compacted away as the
			// test goes and reversals past it are refused.
			c.History.RefundDays = 30 + rng.IntN(60)
			l := newTestLedger(t, c)
			ref := &refLedger{loc: shanghai, months: months, redeems: map[string][]refAlloc{},
				redeemed: map[string]time.Time{}, refundDays: c.History.RefundDays}
			at := sh("2024-01-01")
			var open []string
			for i := range 300 {
				at = at.Add(time.Duration(rng.IntN(40*24)) * time.Hour)
				tx := fmt.Sprintf("t%d", i)
				switch k := rng.IntN(10); {
				case k < 4:
					n := int64(1 + rng.IntN(500))
					mustApply(t, l, Adjust{Tx: tx, Member: 1, At: at, Points: n, Reason: "earn"})
					ref.earn(at, n)
				case k < 8:
					n := int64(1 + rng.IntN(800))
					r, err := l.Apply(context.Background(), Redeem{Tx: tx, Member: 1, At: at, Points: n})
					want, ok := ref.redeem(tx, at, n)
					if !ok {
						require.True(t, errors.Is(err, ErrInsufficientPoints), "step %d: want insufficient, got %v", i, err)
						continue
					}
					require.NoError(t, err, "step %d", i)
					var got []refAlloc
					for _, e := range r.Entries {
						if e.Kind == EntryRedeem {
							got = append(got, refAlloc{e.Lot, -e.Points})
						}
					}
					require.Equal(t, want, got, "step %d: lots consumed", i)
					open = append(open, tx)
				case k < 9 && len(open) > 0:
					j := rng.IntN(len(open))
					_, err := l.Apply(context.Background(), Reverse{Tx: tx, Member: 1, At: at, Of: open[j]})
					if ref.reverse(open[j], at) {
						require.NoError(t, err, "step %d", i)
					} else {
						var we *WindowError
						require.ErrorAs(t, err, &we, "step %d", i)
						require.ErrorIs(t, err, ErrRefundWindowClosed, "step %d", i)
					}
					open = slices.Delete(open, j, j+1)
				default:
					mustApply(t, l, Settle{Member: 1, At: at})
				}
				b := balanceAt(t, l, 1, at)
				require.Equal(t, ref.balance(at), b.Available, "step %d", i)
				want := ref.expiring(at)
				require.Equal(t, len(want), len(b.Expiring), "step %d", i)
				for j := range want {
					assert.True(t, want[j].At.Equal(b.Expiring[j].At), "step %d", i)
					assert.Equal(t, want[j].Points, b.Expiring[j].Points, "step %d", i)
				}
			}
			requireAudit(t, l)
		})
	}
}

// TestRefundsSumToFullRefund: however an order is refunded in pieces,
// the points reversed and the growth removed add up to what a single full
// refund takes, and a full refund leaves nothing of the order.
func TestRefundsSumToFullRefund(t *testing.T) {
	c := baseConfig()
	c.Earning.ExcludedCategories = []string{"rx"}
	c.Earning.Campaigns = []Campaign{{Name: "x", From: "2025-01-01", To: "2026-01-01", Categories: []string{"otc"}, Multiplier: 13300}}
	c.Growth = GrowthRules{PerYuan: 3, PerOrder: 10}
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 11))
		l := newTestLedger(t, c)
		cats := []string{"otc", "food", "rx"}
		var lines []Line
		for range 1 + rng.IntN(5) {
			lines = append(lines, line(cats[rng.IntN(3)], int64(rng.IntN(100000))))
		}
		mustApply(t, l, order("o", 1, sh("2025-05-01"), "O", lines...))
		left := map[string]int64{}
		for _, ln := range lines {
			left[ln.Category] += ln.Paid
		}
		i := 0
		for len(left) > 0 {
			cat := cats[rng.IntN(3)]
			if left[cat] == 0 {
				delete(left, cat)
				continue
			}
			n := 1 + rng.Int64N(left[cat])
			left[cat] -= n
			mustApply(t, l, Refund{Tx: fmt.Sprint("f", i), Member: 1, At: sh("2025-05-02"), OrderID: "O", Lines: []Line{line(cat, n)}})
			i++
		}
		b := balanceAt(t, l, 1, sh("2025-05-03"))
		assert.Equal(t, Totals{Tier: "member"}, b.Totals, "seed %d lines %v", seed, lines)
		requireAudit(t, l)
	}
}
