package loyalty_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/cdpkit/cdpkit/loyalty"
)

// A programme from JSON, an in-memory store, an order, a redemption and a
// refund. With a durable store, replace NewMemStore by boltstore.Open.
func Example() {
	program, err := loyalty.ParseProgram([]byte(`{
		"time_zone": "Asia/Shanghai",
		"earning": {"points_per_yuan": 1, "excluded_categories": ["rx_insurance"]},
		"expiry": {"months": 12, "end_of": "month"},
		"tiers": [{"name": "silver", "threshold": 0}, {"name": "gold", "threshold": 500, "multiplier": 1.5}],
		"growth": {"per_yuan": 1}
	}`))
	if err != nil {
		log.Fatal(err)
	}
	ledger := loyalty.NewLedger(program, loyalty.NewMemStore(), &loyalty.Options{
		Notifier: loyalty.NotifierFunc(func(e loyalty.Event) {
			fmt.Printf("event: member %d %s %s→%s\n", e.Member, e.Kind, e.FromTier, e.ToTier)
		}),
	})
	ctx := context.Background()
	at := time.Date(2025, 3, 8, 10, 30, 0, 0, program.Location())

	// 456.80 yuan of OTC drugs earn 456 points (rounded down); the
	// prescription paid by insurance earns neither points nor growth.
	r, err := ledger.Apply(ctx, loyalty.Order{Tx: "pos-7781", Member: 42, At: at, OrderID: "SO-1",
		Lines: []loyalty.Line{{Category: "otc", Paid: 45680}, {Category: "rx_insurance", Paid: 12000}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("earned:", r.After.Available, "tier:", r.After.Tier)

	// A second order lifts growth to 556: gold at once.
	r, _ = ledger.Apply(ctx, loyalty.Order{Tx: "pos-7790", Member: 42, At: at.Add(time.Hour), OrderID: "SO-2",
		Lines: []loyalty.Line{{Category: "otc", Paid: 10000}}})
	fmt.Println("after second order:", r.After.Available, r.After.Tier)

	// Redeeming too much is refused with a typed error, and records nothing.
	_, err = ledger.Apply(ctx, loyalty.Redeem{Tx: "gift-1", Member: 42, At: at.Add(2 * time.Hour), Points: 1000})
	var short *loyalty.InsufficientError
	if errors.As(err, &short) {
		fmt.Println("refused: available", short.Available)
	}

	// The same transaction ID again is a replay, not a second order.
	r, _ = ledger.Apply(ctx, loyalty.Order{Tx: "pos-7790", Member: 42, At: at.Add(time.Hour), OrderID: "SO-2",
		Lines: []loyalty.Line{{Category: "otc", Paid: 10000}}})
	fmt.Println("replayed:", r.Replayed)

	b, _ := ledger.Balance(ctx, 42, at.AddDate(0, 1, 0))
	fmt.Println("balance:", b.Available, "expiring:", b.Expiring[0].Points, "at", b.Expiring[0].At.Format(time.DateOnly))
	// Output:
	// earned: 456 tier: silver
	// event: member 42 tier_changed silver→gold
	// after second order: 556 gold
	// refused: available 556
	// replayed: true
	// balance: 556 expiring: 556 at 2026-04-01
}

// OneID found that members 7 and 8 are one person: merge 8 into 7, then
// refund one of 8's old orders through 7. Anything still addressed to 8
// is refused with the survivor's ID.
func Example_merge() {
	program, err := loyalty.ParseProgram([]byte(`{
		"time_zone": "Asia/Shanghai",
		"earning": {"points_per_yuan": 1},
		"tiers": [{"name": "silver", "threshold": 0}, {"name": "gold", "threshold": 1000}],
		"growth": {"per_yuan": 1},
		"history": {"refund_days": 30}
	}`))
	if err != nil {
		log.Fatal(err)
	}
	ledger := loyalty.NewLedger(program, loyalty.NewMemStore(), nil)
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, program.Location())
	for _, op := range []loyalty.Op{
		loyalty.Order{Tx: "pos-1", Member: 7, At: at, OrderID: "SO-1", Lines: []loyalty.Line{{Category: "otc", Paid: 60000}}},
		loyalty.Order{Tx: "app-9", Member: 8, At: at, OrderID: "APP-9", Lines: []loyalty.Line{{Category: "otc", Paid: 50000}}},
	} {
		if _, err := ledger.Apply(ctx, op); err != nil {
			log.Fatal(err)
		}
	}

	// The transaction ID makes the merge safe to retry after a crash.
	r, err := ledger.Apply(ctx, loyalty.Merge{Tx: "oneid-merge-8-into-7", Member: 7, From: 8, At: at.Add(time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after merge:", r.After.Available, "points,", r.After.Tier)

	// Member 8's order, returned in part, is refunded through member 7.
	r, err = ledger.Apply(ctx, loyalty.Refund{Tx: "ret-1", Member: 7, At: at.AddDate(0, 0, 2), OrderID: "APP-9",
		Lines: []loyalty.Line{{Category: "otc", Paid: 20000}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after refund:", r.After.Available, "points")

	_, err = ledger.Apply(ctx, loyalty.Redeem{Tx: "gift-1", Member: 8, At: at.AddDate(0, 0, 3), Points: 10})
	var merged *loyalty.MergedError
	if errors.As(err, &merged) {
		fmt.Println("member 8 now lives in member", merged.Into)
	}
	// Output:
	// after merge: 1100 points, gold
	// after refund: 900 points
	// member 8 now lives in member 7
}

// Replaying history: a day's orders of three members in one batch, spread
// over all cores without a receipt each. Bad operations are reported by
// position and the rest are applied; running the batch again changes
// nothing.
func ExampleLedger_ApplyBatch() {
	program, err := loyalty.NewProgram(loyalty.Config{
		TimeZone: "Asia/Shanghai",
		Earning:  loyalty.EarningRules{PointsPerYuan: 1},
		Tiers:    []loyalty.Tier{{Name: "silver"}, {Name: "gold", Threshold: 300}},
		Growth:   loyalty.GrowthRules{PerYuan: 1},
	})
	if err != nil {
		log.Fatal(err)
	}
	// A Notifier, if set, is called from the batch's workers: each
	// member's events from one worker, in order.
	ledger := loyalty.NewLedger(program, loyalty.NewMemStore(), nil)
	day := time.Date(2025, 3, 8, 9, 0, 0, 0, program.Location())
	var ops []loyalty.Op
	for i, paid := range []int64{12000, 25000, 8000, 20000, 5000, 3000} {
		id := fmt.Sprintf("SO-%d", i)
		ops = append(ops, loyalty.Order{Tx: "pos-" + id, Member: uint32(i % 3), At: day.Add(time.Duration(i) * time.Hour),
			OrderID: id, Lines: []loyalty.Line{{Category: "otc", Paid: paid}}})
	}
	ops = append(ops, loyalty.Redeem{Tx: "gift-1", Member: 2, At: day.Add(8 * time.Hour), Points: 500})

	ctx := context.Background()
	res, err := ledger.ApplyBatch(ctx, ops, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recorded:", res.Recorded)
	for _, f := range res.Failed {
		fmt.Println("failed:", f.Index, errors.Is(f, loyalty.ErrInsufficientPoints))
	}
	for m := range uint32(3) {
		b, _ := ledger.Balance(ctx, m, day.AddDate(0, 0, 1))
		fmt.Printf("member %d: %d points, %s\n", m, b.Available, b.Tier)
	}
	again, _ := ledger.ApplyBatch(ctx, ops, nil)
	fmt.Println("again:", again.Recorded, "recorded,", again.Replayed, "replayed")
	// Output:
	// recorded: 6
	// failed: 6 true
	// member 0: 320 points, gold
	// member 1: 300 points, gold
	// member 2: 110 points, silver
	// again: 0 recorded, 6 replayed
}
