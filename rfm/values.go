package rfm

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// NoValue marks a member with no value in a column (no purchase in the
// window); such a member gets score 0 and no attribute.
const NoValue = math.MinInt64

// Frequency says what counts as one purchase.
type Frequency uint8

const (
	// Orders counts every order (the usual RFM frequency).
	Orders Frequency = iota
	// Days counts distinct purchase days, as the CLV models do: several
	// orders on one day are one purchase.
	Days
)

// Monetary says which money figure M is.
type Monetary uint8

const (
	// Total is net spend in the window: purchases minus refunds.
	Total Monetary = iota
	// Mean is net spend per purchase (per Frequency), rounded to the
	// nearest minor unit, halves away from zero.
	Mean
)

// A Summary is one member's purchases in the window.
type Summary struct {
	Member uint32
	// First and Last are the local midnights of the first and last
	// purchase days; zero when the member bought nothing in the window.
	First, Last time.Time
	Orders      int   // orders in the window
	Days        int   // distinct purchase days in the window
	Spend       int64 // purchases, minor units
	Refunded    int64 // refunds, minor units (positive)
	Monetary    int64 // Spend - Refunded
	// Recency is the number of days from the last purchase day to the
	// as-of day (0 = bought on the as-of day); -1 with no purchase.
	Recency  int
	Channels []int // orders per channel, indexed by Channel
}

// Member returns member m's summary (the zero Summary with Recency -1
// for a member past Len).
func (s *Summaries) Member(m uint32) Summary {
	if uint64(m) >= uint64(s.Len()) {
		return Summary{Member: m, Recency: -1}
	}
	sum := Summary{
		Member:   m,
		Orders:   int(s.orders[m]),
		Days:     int(s.days[m]),
		Spend:    s.spend[m],
		Refunded: s.refunded[m],
		Monetary: s.spend[m] - s.refunded[m],
		Recency:  -1,
		Channels: make([]int, s.nChannels),
	}
	for c := range s.nChannels {
		sum.Channels[c] = int(s.chans[int(m)*s.nChannels+c])
	}
	if s.orders[m] > 0 {
		sum.First = dateOf(s.firstDay[m], s.loc)
		sum.Last = dateOf(s.lastDay[m], s.loc)
		sum.Recency = int(s.asOfDay - s.lastDay[m])
	}
	return sum
}

// Buyers returns the number of members with at least one purchase in the
// window.
func (s *Summaries) Buyers() int {
	n := 0
	for _, o := range s.orders {
		if o > 0 {
			n++
		}
	}
	return n
}

// ChannelOrders returns the number of orders member m placed on channel c.
func (s *Summaries) ChannelOrders(m uint32, c Channel) int {
	if uint64(m) >= uint64(s.Len()) || int(c) >= s.nChannels {
		return 0
	}
	return int(s.chans[int(m)*s.nChannels+int(c)])
}

// Recency returns, per member, days from the last purchase day to the
// as-of day, or NoValue for a member with no purchase.
func (s *Summaries) Recency() []int64 {
	out := make([]int64, s.Len())
	asOf := s.asOfDay
	parallel(len(out), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if s.orders[i] == 0 {
				out[i] = NoValue
			} else {
				out[i] = int64(asOf - s.lastDay[i])
			}
		}
	})
	return out
}

// Frequency returns, per member, the number of purchases counted as f, or
// NoValue for a member with no purchase.
func (s *Summaries) Frequency(f Frequency) []int64 {
	out := make([]int64, s.Len())
	col := s.orders
	if f == Days {
		col = s.days
	}
	parallel(len(out), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if col[i] == 0 {
				out[i] = NoValue
			} else {
				out[i] = int64(col[i])
			}
		}
	})
	return out
}

// Monetary returns, per member, net spend as m (per purchase counted as f
// for Mean), or NoValue for a member with no purchase.
func (s *Summaries) Monetary(m Monetary, f Frequency) []int64 {
	out := make([]int64, s.Len())
	col := s.orders
	if f == Days {
		col = s.days
	}
	parallel(len(out), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			switch {
			case col[i] == 0:
				out[i] = NoValue
			case m == Mean:
				out[i] = divRound(s.spend[i]-s.refunded[i], int64(col[i]))
			default:
				out[i] = s.spend[i] - s.refunded[i]
			}
		}
	})
	return out
}

// divRound divides a by b > 0, rounding halves away from zero.
func divRound(a, b int64) int64 {
	if a >= 0 {
		return (a + b/2) / b
	}
	return -((-a + b/2) / b)
}

// parallelMin is the smallest range worth a goroutine.
const parallelMin = 1 << 16

// parallel runs fn over [0, n) split into GOMAXPROCS contiguous ranges.
func parallel(n int, fn func(lo, hi int)) {
	k := runtime.GOMAXPROCS(0)
	if n < 2*parallelMin || k == 1 {
		fn(0, n)
		return
	}
	k = min(k, n/parallelMin)
	var wg sync.WaitGroup
	for i := range k {
		lo, hi := n*i/k, n*(i+1)/k
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// eachTask runs fn(0..n-1) on up to GOMAXPROCS workers that take tasks in
// turn, for coarse tasks of uneven cost.
func eachTask(n int, fn func(i int)) {
	k := min(runtime.GOMAXPROCS(0), n)
	if k <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
