package synth

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSortOrdersMatchesStableSort checks the run-wise insertion sort and
// merge against a plain stable sort by time, on runs that are sorted,
// nearly sorted, reversed, empty and longer than the insertion limit.
func TestSortOrdersMatchesStableSort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := range 500 {
		var w orderWalk
		for range r.IntN(6) {
			n := r.IntN(5)
			if r.IntN(4) == 0 {
				n = 60 + r.IntN(200)
			}
			base := int64(r.IntN(1000))
			for k := range n {
				var sec int64
				switch trial % 3 {
				case 0: // nearly sorted, with ties
					sec = base + int64(k)*10 + int64(r.IntN(25))
				case 1: // reversed
					sec = base + int64(n-k)*7
				default: // anything, many ties
					sec = int64(r.IntN(50))
				}
				w.orders = append(w.orders, genOrder{sec: sec, amount: int64(len(w.orders))})
			}
			w.runs = append(w.runs, len(w.orders))
		}
		want := slices.Clone(w.orders)
		slices.SortStableFunc(want, func(a, b genOrder) int { return cmp.Compare(a.sec, b.sec) })
		w.sortOrders()
		if !assert.Equal(t, want, w.orders, "trial %d, runs %v", trial, w.runs) {
			return
		}
	}
}
