package rfm

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// benchBatch makes n transactions of members 0..members-1, member by
// member, each member's in time order (as internal/synth walks them),
// over 2024 in Shanghai.
func benchBatch(members, n int) *Batch {
	rng := rand.New(rand.NewPCG(1, 1))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, shanghai).Unix()
	b := &Batch{
		Member:  make([]uint32, n),
		Time:    make([]int64, n),
		Amount:  make([]int64, n),
		Channel: make([]Channel, n),
	}
	per := n / members
	for i := range n {
		m := min(i/per, members-1)
		b.Member[i] = uint32(m)
		b.Time[i] = start + int64(i%per)*(365*86400/int64(per)) + rng.Int64N(86400)
		b.Amount[i] = 100 + rng.Int64N(50_000)
		b.Channel[i] = Channel(rng.IntN(2))
	}
	return b
}

func BenchmarkAddBatch(b *testing.B) {
	const members, n = 100_000, 1_000_000
	batch := benchBatch(members, n)
	cfg := Config{Location: shanghai, AsOf: time.Date(2025, 1, 1, 0, 0, 0, 0, shanghai)}
	b.ReportAllocs()
	for b.Loop() {
		s, _ := New(members, cfg)
		if err := s.AddBatch(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/tx")
}

func benchSummaries(b *testing.B, members int) *Summaries {
	s, err := New(members, Config{Location: shanghai, AsOf: time.Date(2025, 1, 1, 0, 0, 0, 0, shanghai)})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.AddBatch(context.Background(), benchBatch(members, members*5)); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkScore(b *testing.B) {
	s := benchSummaries(b, 1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Score(nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGridAssign(b *testing.B) {
	s := benchSummaries(b, 1_000_000)
	sc, _ := s.Score(nil)
	g := Grid()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Assign(sc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBinMoney(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	values := make([]int64, 1_000_000)
	for i := range values {
		values[i] = int64(rng.ExpFloat64() * 30_000)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Bin(values, BinOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitBGNBD(b *testing.B) {
	h := simulateBGNBD(9, BGNBD{R: 0.5, Alpha: 4, A: 0.8, B: 2.5}, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := FitBGNBD(context.Background(), h); err != nil {
			b.Fatal(err)
		}
	}
}
