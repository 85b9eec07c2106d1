package loyalty

import (
	"context"
	"fmt"
	"runtime"
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

// replayOrders returns order i of a replay: members take turns, each
// ordering about every 18 days, so accounts reach the steady state of a
// chain's members — a year of lots, expiring and compacted — after some
// 20 orders each.
func replayOrders(members int) func(i int) Op {
	start := sh("2023-01-01 09:00")
	step := 18 * 24 * time.Hour / time.Duration(members)
	return func(i int) Op {
		tx := strconv.Itoa(i)
		return Order{Tx: tx, Member: uint32(i*7919) % uint32(members), At: start.Add(time.Duration(i) * step), OrderID: tx,
			Channel: "store", Lines: []Line{{Category: "otc", Paid: 12345}}}
	}
}

func replayLedger(tb testing.TB) *Ledger {
	c := baseConfig()
	c.Expiry = ExpiryPolicy{Months: 12, EndOf: EndOfMonth}
	c.Tiers = []Tier{{Name: "silver"}, {Name: "gold", Threshold: 1000, Multiplier: 12000}}
	c.Growth = GrowthRules{PerYuan: 1}
	return newTestLedger(tb, c)
}

// BenchmarkReplay is a replay of orders across 20,000 members on a
// MemStore, one goroutine: Apply with its receipt per order, and
// ApplyBatch (on one worker, and on all cores) without receipts, in
// chunks of 4,096. ns/op is per order, building the order included;
// retained-B/order is the heap the ledger keeps per order applied.
func BenchmarkReplay(b *testing.B) {
	const members, chunk = 20000, 4096
	for _, mode := range []struct {
		name    string
		workers int // 0: Apply
	}{{"Apply", 0}, {"ApplyBatch/workers=1", 1}, {"ApplyBatch/workers=GOMAXPROCS", runtime.GOMAXPROCS(0)}} {
		b.Run(mode.name, func(b *testing.B) {
			l := replayLedger(b)
			next := replayOrders(members)
			ctx := context.Background()
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			n := 0
			ops := make([]Op, 0, chunk)
			b.ReportAllocs()
			for b.Loop() {
				if mode.workers == 0 {
					if _, err := l.Apply(ctx, next(n)); err != nil {
						b.Fatal(err)
					}
					n++
					continue
				}
				// One iteration is one order; a chunk goes in every
				// chunk iterations.
				ops = append(ops, next(n))
				n++
				if len(ops) == chunk {
					res, err := l.ApplyBatch(ctx, ops, &BatchOptions{Workers: mode.workers})
					if err != nil || len(res.Failed) > 0 {
						b.Fatal(err, res.Failed)
					}
					ops = ops[:0]
				}
			}
			if len(ops) > 0 {
				if _, err := l.ApplyBatch(ctx, ops, &BatchOptions{Workers: mode.workers}); err != nil {
					b.Fatal(err)
				}
			}
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "retained-B/order")
			runtime.KeepAlive(l)
		})
	}
}

// BenchmarkDigest is the content digest every operation computes.
func BenchmarkDigest(b *testing.B) {
	var op Op = Order{Tx: "o-123456", Member: 42, At: sh("2025-03-01 10:00"), OrderID: "SO-123456", Channel: "store",
		Lines: []Line{{Category: "otc", Paid: 12345}}}
	var sc scratch
	b.ReportAllocs()
	for b.Loop() {
		sc.digest(op, op.head())
	}
}

// BenchmarkEntryEncode is one earn entry in the current layout.
func BenchmarkEntryEncode(b *testing.B) {
	e := Entry{Seq: 12, Tx: "o-123456", Kind: EntryEarn, At: sh("2025-03-01 10:00"), Lot: 3, Points: 123, Lifetime: 123,
		Expires: sh("2026-04-01"), Ref: "SO-123456"}
	var w wbuf
	b.ReportAllocs()
	for b.Loop() {
		w.b = w.b[:0]
		e.encode(&w)
	}
}

// BenchmarkLineRate is the rate of an order line under a tier, channel
// and campaign multiplier, and the points it earns.
func BenchmarkLineRate(b *testing.B) {
	c := baseConfig()
	c.Tiers = []Tier{{Name: "silver"}, {Name: "gold", Threshold: 1000, Multiplier: 12000}}
	c.Earning.ChannelMultipliers = map[string]Multiplier{"app": 15000}
	c.Earning.Campaigns = []Campaign{{Name: "double", From: "2025-01-01", To: "2026-01-01", Multiplier: 20000}}
	p, err := NewProgram(c)
	if err != nil {
		b.Fatal(err)
	}
	at := sh("2025-06-01")
	b.ReportAllocs()
	for b.Loop() {
		r := p.lineRateString(1, "app", 0, "otc", at)
		if pointsAt(12345, 1, r) != 444 { // 123.45 yuan × 1.2 × 1.5 × 2 = 444.42
			b.Fatal(r)
		}
	}
}

// BenchmarkMemStoreCommit is the in-memory store alone: a commit of a
// typical operation's records through the Store interface.
func BenchmarkMemStoreCommit(b *testing.B) {
	s := NewMemStore()
	ctx := context.Background()
	rec, acct, doc := make([]byte, 60), make([]byte, 120), make([]byte, 100)
	entries := [][]byte{make([]byte, 50), make([]byte, 40)}
	seq := map[uint32]uint64{}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		m := uint32(i % 10000)
		c := &Commit{Member: m, Tx: strconv.Itoa(i), TxRecord: rec, Account: acct, DocKey: "o:" + strconv.Itoa(i), Doc: doc,
			FirstSeq: seq[m], Entries: entries}
		if err := s.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
		seq[m] += 2
		i++
	}
}
