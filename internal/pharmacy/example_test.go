package pharmacy_test

import (
	"context"
	"fmt"

	"github.com/cdpkit/cdpkit/internal/pharmacy"
)

// Run the story on a small chain and read the campaign's audience off the
// report.
func ExampleRun() {
	rep, err := pharmacy.Run(context.Background(), pharmacy.Config{Members: 2000, Seed: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := rep.Audience
	fmt.Println(a.Expr)
	for _, step := range a.Funnel {
		fmt.Printf("%-24s %d\n", step.Name, step.Count)
	}
	fmt.Printf("campaign %d, hold-out %d\n", a.Campaign, a.Holdout)
	// Output:
	// tag("chronic") && tag("refill_due_7d") && !active("contacted", "7d") && !tag("lapsed")
	// chronic                  1024
	// refill due in 7 days     135
	// not contacted in 7 days  114
	// not lapsed               114
	// campaign 101, hold-out 13
}
