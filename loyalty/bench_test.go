package loyalty

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkApplyOrderMem is the in-memory cost of one order (earn, growth,
// tier check, account rewrite, commit) on members that already have a
// short history.
func BenchmarkApplyOrderMem(b *testing.B) {
	c := baseConfig()
	c.Expiry = ExpiryPolicy{Months: 12, EndOf: EndOfMonth}
	c.Tiers = []Tier{{Name: "silver"}, {Name: "gold", Threshold: 1000, Multiplier: 12000}}
	c.Growth = GrowthRules{PerYuan: 1}
	l := newTestLedger(b, c)
	ctx := context.Background()
	at := sh("2025-03-01")
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		tx := strconv.Itoa(i)
		if _, err := l.Apply(ctx, Order{Tx: tx, Member: uint32(i % 10000), At: at.Add(time.Duration(i) * time.Second),
			OrderID: tx, Lines: []Line{{Category: "otc", Paid: 12345}}}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkApplyParallelMem runs orders and redemptions from all cores.
func BenchmarkApplyParallelMem(b *testing.B) {
	l := newTestLedger(b, baseConfig())
	ctx := context.Background()
	at := sh("2025-03-01")
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			tx := strconv.FormatInt(i, 10)
			var op Op = Order{Tx: tx, Member: uint32(i % 10000), At: at, OrderID: tx, Lines: []Line{{Category: "otc", Paid: 5000}}}
			if i%4 == 0 {
				op = Redeem{Tx: tx, Member: uint32(i % 10000), At: at, Points: 1}
			}
			if _, err := l.Apply(ctx, op); err != nil && i%4 != 0 {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBalance(b *testing.B) {
	c := baseConfig()
	c.Expiry = ExpiryPolicy{Months: 12, EndOf: EndOfMonth}
	l := newTestLedger(b, c)
	ctx := context.Background()
	at := sh("2025-01-01")
	for i := range 50 {
		mustApply(b, l, order(strconv.Itoa(i), 1, at.AddDate(0, 0, i), strconv.Itoa(i), line("otc", 10000)))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Balance(ctx, 1, at.AddDate(0, 3, 0)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyWithHistory is one order on a member who has already
// placed `history` orders, one a day, spending their points every week:
// compacted, the account holds only the lots a refund can still reach
// and a growth window's days, so the cost stays flat as history grows;
// kept whole (NoCompaction), it grows with every order ever placed.
func BenchmarkApplyWithHistory(b *testing.B) {
	c := baseConfig()
	c.Expiry = ExpiryPolicy{Months: 12, EndOf: EndOfMonth}
	c.Tiers = []Tier{{Name: "silver"}, {Name: "gold", Threshold: 10000, Multiplier: 12000}}
	c.Growth = GrowthRules{PerYuan: 1}
	c.History = HistoryRules{RefundDays: 30, LateDays: 30}
	p, err := NewProgram(c)
	if err != nil {
		b.Fatal(err)
	}
	start := sh("2000-01-01 10:00")
	for _, mode := range []struct {
		name string
		opts *Options
		max  int
	}{{"compacted", nil, 10000}, {"full", &Options{NoCompaction: true}, 3000}} {
		for _, history := range []int{100, 1000, 3000, 10000} {
			if history > mode.max {
				continue // building it would take minutes
			}
			b.Run(fmt.Sprintf("%s/history=%d", mode.name, history), func(b *testing.B) {
				l := NewLedger(p, NewMemStore(), mode.opts)
				ctx := context.Background()
				day := 0
				next := func() {
					at := start.AddDate(0, 0, day)
					tx := strconv.Itoa(day)
					if _, err := l.Apply(ctx, Order{Tx: tx, Member: 1, At: at, OrderID: tx, Lines: []Line{{Category: "otc", Paid: 4000}}}); err != nil {
						b.Fatal(err)
					}
					if day%7 == 6 {
						bal, err := l.Balance(ctx, 1, at)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := l.Apply(ctx, Redeem{Tx: "r" + tx, Member: 1, At: at.Add(time.Hour), Points: bal.Available}); err != nil {
							b.Fatal(err)
						}
					}
					day++
				}
				for range history {
					next()
				}
				b.ReportAllocs()
				for b.Loop() {
					next()
				}
				ld, err := l.store.Load(ctx, 1, "", "")
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(ld.Account)), "account-bytes")
			})
		}
	}
}
