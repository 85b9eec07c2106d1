package loyalty

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// propertyConfig is a programme with short windows everywhere, so that a
// few hundred operations over two years exercise expiry, maturity,
// notices, tiers, cards, refunds at and past the window, late operations
// and compaction.
func propertyConfig(rng *rand.Rand) Config {
	c := baseConfig()
	c.Earning.PendingDays = rng.IntN(4)
	c.Earning.ExcludedCategories = []string{"rx"}
	c.Expiry = ExpiryPolicy{Months: 1 + rng.IntN(3), EndOf: []string{EndOfDay, EndOfMonth}[rng.IntN(2)], NoticeDays: 5}
	c.AllowNegative = rng.IntN(2) == 0
	c.Tiers = []Tier{{Name: "silver"}, {Name: "gold", Threshold: 300, Multiplier: 15000}, {Name: "black", Threshold: 900, Multiplier: 20000}}
	c.Growth = GrowthRules{PerYuan: 1, PerOrder: 5, Months: 1 + rng.IntN(3), RetentionMonths: rng.IntN(2),
		Downgrade: []string{DowngradeOneTier, DowngradeToSupported}[rng.IntN(2)]}
	if rng.IntN(3) == 0 {
		c.Growth.Window, c.Growth.Months = WindowCalendarYear, 0
	}
	c.Cards = []CardProduct{{ID: "month", Fee: 990, Months: 1, CoolingOffDays: 3, PointsMultiplier: 12000}}
	c.StoredValue = StoredValueRules{Bonuses: []TopUpBonus{{Min: 10000, Bonus: 1000}}, SpendOrder: SpendProportional, ForfeitBonusOnWithdraw: true}
	c.History = HistoryRules{RefundDays: 10 + rng.IntN(30), LateDays: 3 + rng.IntN(10)}
	return c
}

// randomOps generates n operations on a few members: mostly in time
// order, some late (a few past the lateness limit), refunds and
// reversals of earlier orders and redemptions (some past their window),
// and merges, after which operations go to the survivor — or, sometimes,
// still to the merged member.
func randomOps(rng *rand.Rand, n int) []Op {
	type placed struct {
		member uint32
		id     string
		cats   map[string]int64
		points int64
	}
	var (
		ops     []Op
		orders  []placed
		redeems []struct {
			member uint32
			tx     string
		}
		spends []struct {
			member uint32
			tx     string
			left   int64
		}
		survivor = map[uint32]uint32{}
	)
	canon := func(m uint32) uint32 {
		for {
			s, ok := survivor[m]
			if !ok {
				return m
			}
			m = s
		}
	}
	to := func(m uint32) uint32 {
		if rng.IntN(10) == 0 {
			return m // a stale ID: refused as merged
		}
		return canon(m)
	}
	now := sh("2024-01-01 09:00")
	for i := range n {
		now = now.Add(time.Duration(rng.IntN(60)) * time.Hour)
		at := now
		if rng.IntN(8) == 0 {
			at = now.Add(-time.Duration(rng.IntN(15*24)) * time.Hour) // late, sometimes too late
		}
		tx := fmt.Sprint("t", i)
		m := canon(uint32(rng.IntN(6)))
		switch k := rng.IntN(100); {
		case k < 30:
			cats := map[string]int64{}
			var lines []Line
			for range 1 + rng.IntN(3) {
				cat := []string{"otc", "food", "rx"}[rng.IntN(3)]
				fen := int64(rng.IntN(40000))
				lines = append(lines, line(cat, fen))
				cats[cat] += fen
			}
			o := Order{Tx: tx, Member: m, At: at, OrderID: "O" + tx, Channel: "store", Lines: lines}
			if rng.IntN(4) == 0 {
				o.PointsUsed = int64(rng.IntN(200))
			}
			if rng.IntN(3) == 0 {
				o.Savings = int64(rng.IntN(500))
			}
			ops = append(ops, o)
			orders = append(orders, placed{m, o.OrderID, cats, o.PointsUsed})
		case k < 45 && len(orders) > 0:
			o := &orders[rng.IntN(len(orders))]
			f := Refund{Tx: tx, Member: to(o.member), At: at, OrderID: o.id}
			for cat, left := range o.cats {
				if left > 0 && rng.IntN(2) == 0 {
					n := 1 + rng.Int64N(left)
					f.Lines = append(f.Lines, line(cat, n))
					o.cats[cat] -= n
				}
			}
			if o.points > 0 && rng.IntN(2) == 0 {
				f.Points = 1 + rng.Int64N(o.points)
				o.points -= f.Points
			}
			if len(f.Lines) == 0 && f.Points == 0 {
				f.Savings = 1
			}
			ops = append(ops, f)
		case k < 55:
			ops = append(ops, Redeem{Tx: tx, Member: m, At: at, Points: int64(1 + rng.IntN(300))})
			redeems = append(redeems, struct {
				member uint32
				tx     string
			}{m, tx})
		case k < 60 && len(redeems) > 0:
			r := redeems[rng.IntN(len(redeems))]
			ops = append(ops, Reverse{Tx: tx, Member: to(r.member), At: at, Of: r.tx})
		case k < 63:
			ops = append(ops, Adjust{Tx: tx, Member: m, At: at, Points: int64(rng.IntN(300) - 100), Reason: "fix"})
		case k < 70:
			ops = append(ops, Settle{Member: m, At: at})
		case k < 75:
			ops = append(ops, Evaluate{Member: m, At: at})
		case k < 78:
			ops = append(ops, BuyCard{Tx: tx, Member: m, At: at, Product: "month"})
		case k < 80:
			ops = append(ops, RenewCard{Tx: tx, Member: m, At: at})
		case k < 81:
			ops = append(ops, CancelCard{Tx: tx, Member: m, At: at})
		case k < 85:
			ops = append(ops, TopUp{Tx: tx, Member: m, At: at, Amount: int64(1000 + rng.IntN(20000))})
		case k < 89:
			amount := int64(1 + rng.IntN(5000))
			ops = append(ops, Spend{Tx: tx, Member: m, At: at, Amount: amount})
			spends = append(spends, struct {
				member uint32
				tx     string
				left   int64
			}{m, tx, amount})
		case k < 92 && len(spends) > 0:
			sp := &spends[rng.IntN(len(spends))]
			ops = append(ops, RefundSpend{Tx: tx, Member: to(sp.member), At: at, Spend: sp.tx, Amount: 1 + rng.Int64N(sp.left)})
		case k < 94:
			ops = append(ops, Withdraw{Tx: tx, Member: m, At: at, Amount: int64(1 + rng.IntN(3000))})
		case k < 97:
			from := canon(uint32(rng.IntN(6)))
			if from != m && rng.IntN(3) == 0 {
				ops = append(ops, Merge{Tx: tx, Member: m, From: from, At: at})
				survivor[from] = m // if the merge is refused (too late), later operations are refused too, alike
			}
		default:
			// Replay an earlier operation: a replay, or a conflict if it
			// was refused and its ID reused… both ledgers must agree.
			if len(ops) > 0 {
				ops = append(ops, ops[rng.IntN(len(ops))])
			}
		}
	}
	return ops
}

// TestCompactionChangesNothing applies the same random operations to a
// compacting ledger and to one that keeps everything: every receipt and
// error, every balance, every ledger entry and the audits are identical,
// while the compacted accounts are smaller.
func TestCompactionChangesNothing(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
			p, err := NewProgram(propertyConfig(rng))
			require.NoError(t, err)
			compacted := NewLedger(p, NewMemStore(), nil)
			full := NewLedger(p, NewMemStore(), &Options{NoCompaction: true})
			ctx := context.Background()
			var last time.Time
			recorded, refused := 0, map[string]int{}
			for i, op := range randomOps(rng, 500) {
				r1, err1 := compacted.Apply(ctx, op)
				r2, err2 := full.Apply(ctx, op)
				require.Equal(t, err2 == nil, err1 == nil, "op %d %s %s: %v / %v", i, op.Kind(), op.TxID(), err2, err1)
				if err1 != nil {
					require.Equal(t, err2.Error(), err1.Error(), "op %d", i)
					for _, sentinel := range []error{ErrRefundWindowClosed, ErrTooLate, ErrMerged} {
						if errors.Is(err1, sentinel) {
							refused[sentinel.Error()]++
						}
					}
					continue
				}
				require.Equal(t, r2, r1, "op %d %s %s", i, op.Kind(), op.TxID())
				if r1.Recorded && !r1.Replayed {
					recorded++
				}
				if op.Time().After(last) {
					last = op.Time()
				}
			}
			t.Logf("%d recorded; refused: %v", recorded, refused)

			var lotsC, lotsF, daysC, daysF int
			for m := range uint32(6) {
				assert.Equal(t, balanceAt(t, full, m, last), balanceAt(t, compacted, m, last), "member %d", m)
				assert.Equal(t, entriesOf(t, full, m), entriesOf(t, compacted, m), "member %d", m)
				if a := accountOf(t, compacted, m); a != nil {
					lotsC, daysC = lotsC+len(a.Lots), daysC+len(a.Growth)
				}
				if a := accountOf(t, full, m); a != nil {
					lotsF, daysF = lotsF+len(a.Lots), daysF+len(a.Growth)
				}
			}
			repC, err := compacted.Audit(ctx)
			require.NoError(t, err)
			repF, err := full.Audit(ctx)
			require.NoError(t, err)
			assert.Equal(t, repF, repC)
			assert.True(t, repC.OK(), "%v", repC.Problems)
			t.Logf("lots held %d vs %d, growth days %d vs %d", lotsC, lotsF, daysC, daysF)
			assert.Less(t, lotsC, lotsF, "compaction dropped no lot")
			assert.Less(t, daysC, daysF, "compaction dropped no growth day")
		})
	}
}
