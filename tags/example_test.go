package tags_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// A pharmacy chain tags its members and keeps the tags in a segment.Index.
func Example() {
	schema, err := tags.NewSchema(
		tags.Field{Name: "orders_90d", Type: tags.Int, Index: tags.AsInt},
		tags.Field{Name: "spend_365d", Type: tags.Int, Index: tags.AsInt, Doc: "fen"},
		tags.Field{Name: "channels", Type: tags.StringList},
		tags.Field{Name: "rx_categories", Type: tags.CountMap},
		tags.Field{Name: "last_order_at", Type: tags.Timestamp, Index: tags.AsDay},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	set := tags.NewSet(schema, nil)
	err = set.Define(
		tags.Definition{Name: "active", Category: "lifecycle", Owner: "crm",
			Rule: `orders_90d >= 3 || days_since(last_order_at) <= 30`},
		tags.Definition{Name: "value", Category: "value", Cases: []tags.Case{
			{When: "spend_365d >= 500000", Value: "high"},
			{When: "spend_365d >= 100000", Value: "mid"},
		}, Default: "low"},
		tags.Definition{Name: "chronic", Category: "health/chronic",
			Rule: `"diabetes" in rx_categories || "hypertension" in rx_categories`},
		tags.Definition{Name: "contacted_7d", Manual: true},
		tags.Definition{Name: "call_list", Rule: `has_tag("chronic") && !has_tag("contacted_7d")`},
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	shanghai, _ := tags.LoadLocation("Asia/Shanghai")
	clock := tags.Clock{AsOf: time.Date(2024, 3, 10, 9, 0, 0, 0, shanghai), Location: shanghai}
	var members []*tags.Record
	for id, row := range []string{
		`{"orders_90d": 5, "spend_365d": 620000, "rx_categories": {"diabetes": 4}}`,
		`{"orders_90d": 1, "spend_365d": 150000, "last_order_at": "2024-03-01T10:00:00+08:00"}`,
		`{"orders_90d": 0, "spend_365d": 20000, "rx_categories": {"hypertension": 1}}`,
	} {
		rec := schema.NewRecord(uint32(id + 1))
		if err := rec.SetJSON([]byte(row)); err != nil {
			fmt.Println(err)
			return
		}
		members = append(members, rec)
	}

	ix := segment.New(&segment.Options{Location: shanghai})
	ctx := context.Background()
	if _, err := schema.LoadIndex(ctx, ix, slices.Values(members), shanghai); err != nil {
		fmt.Println(err)
		return
	}
	_ = ix.Update(func(tx *segment.Tx) error { return set.Assign(tx, "contacted_7d", "", 3) })
	res, err := set.Refresh(ctx, ix, clock, slices.Values(members), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range res.Stats() {
		fmt.Printf("%-9s %-9s tagged %d, missing %d\n", st.Tag, st.Path, st.Tagged, st.Missing)
	}
	callList, _ := ix.View().Tag("call_list")
	fmt.Println("call list:", callList.ToArray())
	// Output:
	// active    push-down tagged 2, missing 1
	// chronic   compiled  tagged 2, missing 1
	// call_list compiled  tagged 1, missing 0
	// value     push-down tagged 3, missing 0
	// call list: [1]
}

// One rule, one record: compile against a schema and evaluate at a Clock.
func ExampleEvaluator_Bool() {
	schema, _ := tags.NewSchema(
		tags.Field{Name: "orders_90d", Type: tags.Int},
		tags.Field{Name: "channels", Type: tags.StringList},
	)
	rule, err := schema.Compile("omni_buyer", `orders_90d >= 3 && "miniapp" in channels`)
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := schema.NewRecord(42)
	_ = rec.Set("orders_90d", 4)
	_ = rec.Set("channels", []string{"store", "miniapp"})
	ev, _ := tags.NewEvaluator(tags.Clock{AsOf: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	ok, err := ev.Bool(rule, rec)
	fmt.Println(ok, err)

	empty := schema.NewRecord(43)
	ok, err = ev.Bool(rule, empty)
	fmt.Println(ok, err)
	// Output:
	// true <nil>
	// false no value for field orders_90d
}

// A typo is caught when the rule is compiled, with its position.
func ExampleSchema_Compile() {
	schema, _ := tags.NewSchema(tags.Field{Name: "spend_365d", Type: tags.Int})
	_, err := schema.Compile("big_spender", "spend_356d >= 500000")
	fmt.Println(err)
	_, err = schema.Compile("big_spender", "spend_365d >= 5000.0")
	fmt.Println(err)
	// Output:
	// rule "big_spender": 1:1: undeclared reference to 'spend_356d' (did you mean 'spend_365d'?)
	// rule "big_spender": 1:12: found no matching overload for '_>=_' applied to '(int, double)'
}

// Explain answers "why is this member (not) tagged?".
func ExampleSet_Explain() {
	schema, _ := tags.NewSchema(
		tags.Field{Name: "orders_90d", Type: tags.Int},
		tags.Field{Name: "last_order_at", Type: tags.Timestamp},
	)
	set := tags.NewSet(schema, nil)
	_ = set.Define(tags.Definition{Name: "at_risk",
		Rule: `orders_90d == 0 && days_since(last_order_at) > 60`})
	rec := schema.NewRecord(7)
	_ = rec.SetJSON([]byte(`{"orders_90d": 0, "last_order_at": "2023-12-01T20:00:00+08:00"}`))
	shanghai, _ := tags.LoadLocation("Asia/Shanghai")
	clock := tags.Clock{AsOf: time.Date(2024, 3, 10, 9, 0, 0, 0, shanghai), Location: shanghai}
	e, _ := set.Explain(nil, clock, "at_risk", rec)
	fmt.Print(e)
	// Output:
	// tag "at_risk", member 7, as of 2024-03-10T09:00:00+08:00: tagged [compiled]
	//   rule:
	//     orders_90d == 0 && days_since(last_order_at) > 60 = true
	//       orders_90d == 0 = true
	//         orders_90d = 0
	//       days_since(last_order_at) > 60 = true
	//         days_since(last_order_at) = 100
	//           last_order_at = 2023-12-01T20:00:00+08:00
}
