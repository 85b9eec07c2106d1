package cdpkit_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/cdpkit/cdpkit"
	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// A pharmacy sees three customers at its tills and in its mini program,
// tags its chronic patients whose medicine runs out within a week, and
// counts them.
func Example() {
	ctx := context.Background()
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	schema, err := tags.NewSchema(tags.Field{Name: "age", Type: tags.Int, Index: tags.AsInt})
	if err != nil {
		log.Fatal(err)
	}
	e, err := cdpkit.New(cdpkit.Config{Location: shanghai, Attributes: schema, Categories: []string{"rx_diabetes"}})
	if err != nil {
		log.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2025, 3, d, 10, 0, 0, 0, shanghai) }
	card := func(v string) []identity.Identifier {
		return []identity.Identifier{{Kind: identity.KindMemberCard, Value: v}}
	}

	// The till sees a card with a phone; the mini program the same
	// phone with a WeChat UnionID: one person.
	for _, o := range []identity.Observation{
		{EventID: "pos-1", Source: "pos", Time: day(1), Identifiers: append(card("M001"), identity.Identifier{Kind: identity.KindPhone, Value: "13800138000"})},
		{EventID: "mp-1", Source: "wechat", Time: day(1), Identifiers: []identity.Identifier{{Kind: identity.KindPhone, Value: "+86 138 0013 8000"}, {Kind: identity.KindUnionID, Value: "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"}}},
		{EventID: "pos-2", Source: "pos", Time: day(1), Identifiers: card("M002")},
	} {
		if _, err := e.Observe(ctx, o); err != nil {
			log.Fatal(err)
		}
	}
	// Orders name the person by identifiers; a 30-day supply of
	// metformin bought on March 2 runs out on April 1.
	for _, o := range []cdpkit.Order{
		{ID: "S1", Identifiers: card("M001"), Time: day(2), Lines: []cdpkit.Line{{Category: "rx_diabetes", Amount: 8900, DaysSupply: 30}}},
		{ID: "S2", Identifiers: card("M002"), Time: day(5), Lines: []cdpkit.Line{{Category: "otc_cold", Amount: 2500}}},
		{ID: "S3", Identifiers: card("M003"), Time: day(6), Amount: 1200}, // a new card: a new person
	} {
		if _, err := e.RecordOrder(ctx, o); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := e.SetAttributes(ctx, 0, day(6), map[string]any{"age": 61}); err != nil {
		log.Fatal(err)
	}
	err = e.DefineTags(
		tags.Definition{Name: "chronic", Rule: `due_days_rx_diabetes > -30`},
		tags.Definition{Name: "refill_due", Rule: `has_tag("chronic") && refill_due_days <= 7`},
	)
	if err != nil {
		log.Fatal(err)
	}
	res, err := e.RefreshTags(ctx, day(26))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("persons:", res.Persons)
	for _, expr := range []string{
		`tag("refill_due")`,
		`tag("refill_due") && age >= 60`,
		`active("purchase", "30d") && !tag("chronic")`,
	} {
		n, err := e.Count(expr)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-45s %d\n", expr, n)
	}
	arms, err := e.Split(`active("purchase", "30d")`, "spring", segment.Arm{Name: "campaign", Weight: 90}, segment.Arm{Name: "holdout", Weight: 10})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("campaign:", arms[0].GetCardinality(), "holdout:", arms[1].GetCardinality())
	// Output:
	// persons: 3
	// tag("refill_due")                             1
	// tag("refill_due") && age >= 60                1
	// active("purchase", "30d") && !tag("chronic")  2
	// campaign: 3 holdout: 0
}
