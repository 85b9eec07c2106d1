package segment

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
)

// The micro-benchmarks run on one fixture of benchMembers members (4M by
// default, SEGMENT_BENCH_MEMBERS to change): ten random tags of densities
// from 50% to 0.1%, and int attributes of spend in fen: uniform over 24 bits
// and log-normal.
// Scenario benchmarks against DuckDB and others live in bench/.

type benchFixture struct {
	ix    *Index
	words [][]uint64 // the tags as plain bit columns, for the floor
	n     int
}

var (
	benchOnce sync.Once
	bench     *benchFixture
)

func benchMembers() int {
	if s := os.Getenv("SEGMENT_BENCH_MEMBERS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 1 << 22
}

func fixture(b *testing.B) *benchFixture {
	benchOnce.Do(func() {
		n := benchMembers()
		rng := rand.New(rand.NewPCG(1, 1))
		f := &benchFixture{ix: New(nil), n: n}
		densities := []float64{0.5, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.001}
		spend := make([]int64, n)
		skew := make([]int64, n)
		for i := range spend {
			spend[i] = rng.Int64N(10_000_000)
			// Spend as shops see it: log-normal around ¥80, a long tail.
			skew[i] = min(int64(math.Exp(9+1.5*rng.NormFloat64())), 100_000_000)
		}
		err := f.ix.Update(func(tx *Tx) error {
			for i, d := range densities {
				w := make([]uint64, (n+63)/64)
				for j := range n {
					if rng.Float64() < d {
						w[j/64] |= 1 << (j % 64)
					}
				}
				f.words = append(f.words, w)
				name := "t" + strconv.Itoa(i)
				if err := tx.Declare(name, KindTag); err != nil {
					return err
				}
				if err := tx.ReplaceTagWords(name, w); err != nil {
					return err
				}
			}
			if err := tx.Declare("spend", KindInt); err != nil {
				return err
			}
			if err := tx.Declare("spend_skew", KindInt); err != nil {
				return err
			}
			if err := tx.ReplaceIntColumn("spend_skew", skew, nil); err != nil {
				return err
			}
			return tx.ReplaceIntColumn("spend", spend, nil)
		})
		if err != nil {
			panic(err)
		}
		bench = f
	})
	return bench
}

// BenchmarkFloorAnd2 is the memory-bandwidth floor the next benchmark is
// judged against: AND and popcount over two plain []uint64 columns.
func BenchmarkFloorAnd2(b *testing.B) {
	f := fixture(b)
	x, y := f.words[0], f.words[1]
	b.ReportAllocs()
	b.SetBytes(int64(16 * len(x)))
	var n int
	for b.Loop() {
		n = 0
		for i := range x {
			n += bits.OnesCount64(x[i] & y[i])
		}
	}
	_ = n
}

func BenchmarkCountAnd2Dense(b *testing.B) {
	f := fixture(b)
	v := f.ix.View()
	p := And(Tag("t0"), Tag("t1"))
	b.ReportAllocs()
	b.SetBytes(int64(f.n / 4))
	for b.Loop() {
		if _, err := v.Count(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCount10Term(b *testing.B) {
	f := fixture(b)
	v := f.ix.View()
	p := MustCompile(`t0 && (t1 || t2) && !t3 && (t4 || t5 || t6) && !(t7 && t8) && !t9`, v)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Count(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBSIRangeCount(b *testing.B) {
	f := fixture(b)
	v := f.ix.View()
	p := Between("spend", 2_500_000, 7_499_999)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Count(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBSIRangeSkewed ranges over log-normal spend, whose high planes
// are sparse.
func BenchmarkBSIRangeSkewed(b *testing.B) {
	f := fixture(b)
	v := f.ix.View()
	p := Between("spend_skew", 50_000, 200_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Count(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBSIRangeAndTag(b *testing.B) {
	f := fixture(b)
	v := f.ix.View()
	p := And(Tag("t4"), Cmp("spend", Ge, 5_000_000))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Count(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIntStats(b *testing.B) {
	f := fixture(b)
	v := f.ix.View()
	p := Tag("t2")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.IntStats(p, "spend"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBitmap10Term(b *testing.B) {
	f := fixture(b)
	v := f.ix.View()
	p := MustCompile(`t0 && (t1 || t2) && !t3 && (t4 || t5 || t6) && !(t7 && t8) && !t9`, v)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Bitmap(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	f := fixture(b)
	v := f.ix.View()
	src := `t0 && (t1 || t2) && !t3 && spend >= 50000 && between(spend, 1, 9000000) && !(t7 && t8)`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(src, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReplaceIntColumn(b *testing.B) {
	f := fixture(b)
	vals := make([]int64, f.n)
	for i := range vals {
		vals[i] = int64(i % 10_000_000)
	}
	b.ReportAllocs()
	for b.Loop() {
		err := f.ix.Update(func(tx *Tx) error {
			if err := tx.Declare("bench_int", KindInt); err != nil {
				return err
			}
			return tx.ReplaceIntColumn("bench_int", vals, nil)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTxSingleWrites is the streaming path: 100 single-member writes
// to a dense tag and an int per transaction, each copying the chunks it
// touches once.
func BenchmarkTxSingleWrites(b *testing.B) {
	f := fixture(b)
	rng := rand.New(rand.NewPCG(2, 2))
	b.ReportAllocs()
	for b.Loop() {
		err := f.ix.Update(func(tx *Tx) error {
			for range 100 {
				id := rng.Uint32N(uint32(f.n))
				if err := tx.AddTag("t0", id); err != nil {
					return err
				}
				if err := tx.SetInt("spend", id, rng.Int64N(10_000_000)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
