package rfm

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Members 0..9; member 3 has no value. Sorted by (value, member):
// (5,4) (5,8) (10,0) (20,1) (20,2) (20,5) (30,6) (40,7) (50,9).
var handValues = []int64{10, 20, 20, NoValue, 5, 20, 30, 40, 5, 50}

func TestBinHandWorked(t *testing.T) {
	cases := []struct {
		name string
		o    BinOptions
		want []uint8
	}{
		// 9 members in 3 bins of 3.
		{"rank 3", BinOptions{Bins: 3}, []uint8{1, 2, 2, 0, 1, 2, 3, 3, 1, 3}},
		// NTILE(4) over 9: sizes 3,2,2,2; the value-20 tie is split by ID,
		// member 5 going up to bin 3.
		{"rank 4 splits ties by ID", BinOptions{Bins: 4}, []uint8{1, 2, 2, 0, 1, 3, 3, 4, 1, 4}},
		// The tie group of 20 starts at rank 3, in bin 2: all of it is 2.
		{"value 4 keeps ties", BinOptions{Bins: 4, Method: ValueQuantiles}, []uint8{1, 2, 2, 0, 1, 2, 3, 4, 1, 4}},
		// Descending (value, ascending member): (50,9) (40,7) (30,6) | (20,1)
		// (20,2) (20,5) | (10,0) (5,4) (5,8).
		{"rank 3 reversed", BinOptions{Bins: 3, Reverse: true}, []uint8{3, 2, 2, 0, 3, 2, 1, 1, 3, 1}},
		{"thresholds", BinOptions{Bins: 3, Method: Thresholds, Thresholds: []int64{10, 30}}, []uint8{2, 2, 2, 0, 1, 2, 3, 3, 1, 3}},
		{"thresholds reversed", BinOptions{Bins: 3, Method: Thresholds, Thresholds: []int64{10, 30}, Reverse: true}, []uint8{2, 2, 2, 0, 3, 2, 1, 1, 3, 1}},
		// More bins than members: NTILE gives one member per bin, 1..9.
		{"rank 12", BinOptions{Bins: 12}, []uint8{3, 4, 5, 0, 1, 6, 7, 8, 2, 9}},
		{"one bin", BinOptions{Bins: 1}, []uint8{1, 1, 1, 0, 1, 1, 1, 1, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Bin(handValues, c.o)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestBinErrors(t *testing.T) {
	for name, o := range map[string]BinOptions{
		"too many bins":         {Bins: 256},
		"negative bins":         {Bins: -1},
		"thresholds count":      {Bins: 3, Method: Thresholds, Thresholds: []int64{1}},
		"thresholds not rising": {Bins: 3, Method: Thresholds, Thresholds: []int64{5, 5}},
		"unknown method":        {Method: 9},
	} {
		_, err := Bin(handValues, o)
		assert.ErrorIs(t, err, ErrConfig, name)
	}
}

// naiveBin is the reference: a full comparison sort.
func naiveBin(values []int64, o BinOptions) []uint8 {
	type kv struct {
		v  int64
		id int
	}
	var rows []kv
	for i, v := range values {
		if v != NoValue {
			if o.Reverse {
				v = -v
			}
			rows = append(rows, kv{v, i})
		}
	}
	slices.SortFunc(rows, func(a, b kv) int {
		if c := cmp.Compare(a.v, b.v); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	n, bins := len(rows), o.Bins
	ntile := func(rank int) uint8 { // SQL NTILE
		q, r := n/bins, n%bins
		if rank < r*(q+1) {
			return uint8(rank/(q+1) + 1)
		}
		return uint8(r + (rank-r*(q+1))/q + 1)
	}
	out := make([]uint8, len(values))
	for rank, row := range rows {
		if o.Method == ValueQuantiles {
			first := rank
			for first > 0 && rows[first-1].v == row.v {
				first--
			}
			out[row.id] = ntile(first)
		} else {
			out[row.id] = ntile(rank)
		}
	}
	return out
}

func TestBinAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	gens := map[string]func() int64{
		"few values":  func() int64 { return rng.Int64N(7) },
		"days":        func() int64 { return rng.Int64N(3650) },
		"money":       func() int64 { return int64(math.Exp(rng.NormFloat64()*2 + 8)) },
		"wide":        func() int64 { return int64(rng.Uint64()>>1) - rng.Int64N(1<<62) },
		"extremes":    func() int64 { return []int64{math.MinInt64 + 1, math.MaxInt64, 0, -1, 1}[rng.IntN(5)] },
		"one outlier": func() int64 { return map[bool]int64{true: 1 << 60, false: rng.Int64N(100_000)}[rng.IntN(5000) == 0] },
	}
	for name, gen := range gens {
		for _, n := range []int{0, 1, 7, 300, 9000} {
			values := make([]int64, n)
			for i := range values {
				if rng.IntN(10) == 0 {
					values[i] = NoValue
				} else {
					values[i] = gen()
				}
			}
			for _, method := range []Method{RankQuantiles, ValueQuantiles} {
				for _, rev := range []bool{false, true} {
					o := BinOptions{Bins: 1 + rng.IntN(12), Method: method, Reverse: rev}
					got, err := Bin(values, o)
					require.NoError(t, err)
					want := naiveBin(values, o)
					if !slices.Equal(got, want) {
						t.Fatalf("%s n=%d %+v: differs from the sort-based reference", name, n, o)
					}
				}
			}
		}
	}
}

func FuzzBin(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(5), false, false)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255}, uint8(3), true, true)
	f.Fuzz(func(t *testing.T, data []byte, bins uint8, byValue, reverse bool) {
		values := make([]int64, 0, len(data)/8)
		for len(data) >= 8 {
			values = append(values, int64(binary.LittleEndian.Uint64(data)))
			data = data[8:]
		}
		// Repeat the values to reach the radix path as well.
		for len(values) > 0 && len(values) < 4200 {
			values = append(values, values...)
		}
		o := BinOptions{Bins: max(1, int(bins)), Reverse: reverse}
		if byValue {
			o.Method = ValueQuantiles
		}
		got, err := Bin(values, o)
		require.NoError(t, err)
		if !slices.Equal(got, naiveBin(values, o)) {
			t.Fatalf("differs from reference for %d values %+v", len(values), o)
		}
	})
}

func TestScoreSummaries(t *testing.T) {
	// Five members, as of Jan 31: recency 0, 5, 10, 10, 30 days; orders
	// 5, 4, 3, 2, 1; spend 100 each per order.
	s, err := New(6, Config{AsOf: day(2024, 1, 31, time.UTC)})
	require.NoError(t, err)
	last := []int{31, 26, 21, 21, 1}
	for m, d := range last {
		for k := 0; k < 5-m; k++ {
			require.NoError(t, s.Add(&Tx{Member: uint32(m), Time: day(2024, 1, d-k, time.UTC), Amount: 100}))
		}
	}
	sc, err := s.Score(&ScoreConfig{})
	require.NoError(t, err)
	// R by (recency desc, member): (30,4) (10,2) (10,3) (5,1) (0,0) → 1..5
	assert.Equal(t, []uint8{5, 4, 2, 3, 1, 0}, sc.R)
	assert.Equal(t, []uint8{5, 4, 3, 2, 1, 0}, sc.F)
	assert.Equal(t, []uint8{5, 4, 3, 2, 1, 0}, sc.M)
	assert.Equal(t, "555", sc.Code(0))
	assert.Equal(t, "", sc.Code(5))
	r, f, m := sc.Cell(4)
	assert.Equal(t, [3]int{1, 1, 1}, [3]int{r, f, m})

	// Mean spend per order is 100 for all: one tie group in bin 1.
	sc, err = s.Score(&ScoreConfig{Method: ValueQuantiles, Monetary: Mean})
	require.NoError(t, err)
	assert.Equal(t, []uint8{5, 4, 2, 2, 1, 0}, sc.R, "the 10-day tie kept together")
	assert.Equal(t, []uint8{1, 1, 1, 1, 1, 0}, sc.M)

	sc, err = s.Score(&ScoreConfig{Bins: 3, Method: Thresholds,
		RThresholds: []int64{7, 14}, FThresholds: []int64{2, 4}, MThresholds: []int64{200, 400}})
	require.NoError(t, err)
	assert.Equal(t, []uint8{3, 3, 2, 2, 1, 0}, sc.R)
	assert.Equal(t, []uint8{3, 3, 2, 2, 1, 0}, sc.F)
	assert.Equal(t, []uint8{3, 3, 2, 2, 1, 0}, sc.M)

	_, err = s.Score(&ScoreConfig{Method: Thresholds})
	assert.ErrorIs(t, err, ErrConfig)
}
