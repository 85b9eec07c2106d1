// Command quickstart is the smallest complete use of cdpkit: declare
// attributes and tags, observe identifiers, record orders, refresh, count
// an audience and split it 90/10 into campaign and hold-out.
package main

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

func main() {
	ctx, loc := context.Background(), time.FixedZone("CST", 8*3600)
	attrs, _ := tags.NewSchema(tags.Field{Name: "age", Type: tags.Int, Index: tags.AsInt})
	e, err := cdpkit.New(cdpkit.Config{Location: loc, Attributes: attrs})
	must(err, e.DefineTags(tags.Definition{Name: "regular", Rule: "orders_90d >= 3"}, tags.Definition{Name: "senior", Rule: "age >= 60"}))
	start := time.Date(2025, 1, 1, 10, 0, 0, 0, loc)
	for i := range 1000 { // 1,000 members, each with a card, a phone, an age and 0-5 orders
		card, phone := identity.Identifier{Kind: "member_card", Value: fmt.Sprint("M", i)}, identity.Identifier{Kind: "phone", Value: fmt.Sprint(13900000000 + i)}
		r, err := e.Observe(ctx, identity.Observation{EventID: fmt.Sprint("reg-", i), Time: start, Identifiers: []identity.Identifier{card, phone}})
		_, err2 := e.SetAttributes(ctx, r.Person, start, map[string]any{"age": 20 + i%60})
		must(err, err2)
		for k := range i % 6 { // orders name the person by phone: identity finds the member
			_, err := e.RecordOrder(ctx, cdpkit.Order{ID: fmt.Sprint(i, "-", k), Identifiers: []identity.Identifier{phone}, Time: start.AddDate(0, 0, 7*k+i%7), Amount: 1000})
			must(err)
		}
	}
	_, err = e.RefreshTags(ctx, start.AddDate(0, 0, 60))
	audience := `tag("regular") && !tag("senior") && active("purchase", "30d")`
	n, err2 := e.Count(audience)
	arms, err3 := e.Split(audience, "q1-coupon", segment.Arm{Name: "campaign", Weight: 90}, segment.Arm{Name: "holdout", Weight: 10})
	must(err, err2, err3)
	fmt.Printf("%s\n%d members: campaign %d, hold-out %d\n", audience, n, arms[0].GetCardinality(), arms[1].GetCardinality())
}

func must(errs ...error) {
	for _, err := range errs {
		if err != nil {
			log.Fatal(err)
		}
	}
}
