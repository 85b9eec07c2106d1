package loyalty

import (
	"context"
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
