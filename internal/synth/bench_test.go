package synth

import "testing"

// BenchmarkOrders measures generation speed per order; the issue aims at
// 5M orders a second per core.
func BenchmarkOrders(b *testing.B) {
	g, err := New(Config{Members: 10_000_000})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for o := range g.Orders() {
		_ = o
		if !b.Loop() {
			break
		}
	}
}

// BenchmarkObservations measures generation speed per observation.
func BenchmarkObservations(b *testing.B) {
	g, err := New(Config{Members: 10_000_000})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for o := range g.Observations() {
		_ = o
		if !b.Loop() {
			break
		}
	}
}
