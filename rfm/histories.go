package rfm

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// Unit is the time unit of the lifetime-value models, in days.
type Unit float64

// The usual units. CDNOW's published estimates are in weeks.
const (
	Day  Unit = 1
	Week Unit = 7
)

// HistoryOptions configures Summaries.Histories.
type HistoryOptions struct {
	Unit Unit // 0 means Day
	// SpendScale divides minor units to give spend in the models: 100 for
	// currency units (yuan, dollars), 0 or 1 for minor units. Gamma-Gamma's
	// γ and the predicted spend and CLV are in these units.
	SpendScale float64
}

// Histories are the buyers' purchase histories as the lifetime-value
// models see them (Fader, Hardie & Lee 2005): purchases are distinct
// purchase days, the first one is the start of the relationship, and
//
//	X  = repeat purchases (purchase days - 1)
//	TX = time from the first to the last purchase day
//	T  = time from the first purchase day to the as-of day
//
// in Unit, with Spend the mean spend per repeat purchase day (purchases
// on the first day excluded, refunds not subtracted), 0 when X is 0.
// The fields are exported so a host can fill Histories from its own data;
// all slices have one entry per customer.
type Histories struct {
	Unit   Unit
	Member []uint32
	X      []int32
	TX, T  []float64
	Spend  []float64
}

// Len returns the number of customers.
func (h *Histories) Len() int { return len(h.X) }

// Customer returns customer i's history.
func (h *Histories) Customer(i int) Customer {
	c := Customer{X: int(h.X[i]), TX: h.TX[i], T: h.T[i]}
	if h.Spend != nil {
		c.Spend = h.Spend[i]
	}
	return c
}

// validate reports the first customer whose history is impossible.
func (h *Histories) validate() error {
	n := len(h.X)
	if len(h.TX) != n || len(h.T) != n || (h.Spend != nil && len(h.Spend) != n) || (h.Member != nil && len(h.Member) != n) {
		return fmt.Errorf("histories of unequal length: %w", ErrConfig)
	}
	for i := range n {
		x, tx, t := h.X[i], h.TX[i], h.T[i]
		if x < 0 || !(tx >= 0) || !(t >= tx) || math.IsInf(t, 0) || (x == 0 && tx != 0) {
			return fmt.Errorf("customer %d: impossible history x=%d t_x=%g T=%g: %w", h.id(i), x, tx, t, ErrConfig)
		}
	}
	return nil
}

func (h *Histories) id(i int) uint32 {
	if h.Member != nil {
		return h.Member[i]
	}
	return uint32(i)
}

// A Customer is one history, for predictions.
type Customer struct {
	X     int     // repeat purchases
	TX, T float64 // last purchase and age, from the first purchase
	Spend float64 // mean spend per repeat purchase
}

// Histories returns the histories of every member with a purchase in the
// window, in member order.
func (s *Summaries) Histories(o HistoryOptions) *Histories {
	unit := float64(o.Unit)
	if unit == 0 {
		unit = 1
	}
	scale := o.SpendScale
	if scale == 0 {
		scale = 1
	}
	n := s.Buyers()
	h := &Histories{
		Unit:   Unit(unit),
		Member: make([]uint32, 0, n),
		X:      make([]int32, 0, n),
		TX:     make([]float64, 0, n),
		T:      make([]float64, 0, n),
		Spend:  make([]float64, 0, n),
	}
	for m := range s.orders {
		if s.orders[m] == 0 {
			continue
		}
		x := int32(s.days[m] - 1)
		h.Member = append(h.Member, uint32(m))
		h.X = append(h.X, x)
		h.TX = append(h.TX, float64(s.lastDay[m]-s.firstDay[m])/unit)
		h.T = append(h.T, float64(s.asOfDay-s.firstDay[m])/unit)
		spend := 0.0
		if x > 0 {
			spend = float64(s.spend[m]-s.firstSpend[m]) / float64(x) / scale
		}
		h.Spend = append(h.Spend, spend)
	}
	return h
}

// rfRows are histories collapsed to distinct (x, t_x, T) with weights,
// with the distinct values of each column indexed so that per-value terms
// are computed once per evaluation.
type rfRows struct {
	xs, txs, ts []float64 // distinct values, ascending
	xi, txi, ti []int32   // per row: index into xs, txs, ts
	w           []float64 // per row: number of customers
	customers   int
}

type rfKey struct {
	x     int32
	tx, t float64
}

func collapseRF(h *Histories) *rfRows {
	if r, ok := collapsePacked(h); ok {
		return r
	}
	return collapseMap(h)
}

// collapseMap collapses any histories through a map.
func collapseMap(h *Histories) *rfRows {
	counts := make(map[rfKey]float64)
	for i := range h.X {
		counts[rfKey{h.X[i], h.TX[i], h.T[i]}]++
	}
	keys := make([]rfKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	// Sorted, so that sums run in one order and fits are reproducible bit
	// for bit.
	slices.SortFunc(keys, func(a, b rfKey) int {
		if a.x != b.x {
			return int(a.x - b.x)
		}
		if a.tx != b.tx {
			if a.tx < b.tx {
				return -1
			}
			return 1
		}
		switch {
		case a.t < b.t:
			return -1
		case a.t > b.t:
			return 1
		}
		return 0
	})
	weights := make([]float64, len(keys))
	for i, k := range keys {
		weights[i] = counts[k]
	}
	return indexRows(keys, weights, len(h.X))
}

// indexRows builds rfRows from distinct keys in ascending order.
func indexRows(keys []rfKey, weights []float64, customers int) *rfRows {
	r := &rfRows{customers: customers, w: weights}
	xIdx, txIdx, tIdx := map[float64]int32{}, map[float64]int32{}, map[float64]int32{}
	for _, k := range keys {
		xIdx[float64(k.x)] = 0
		txIdx[k.tx] = 0
		tIdx[k.t] = 0
	}
	r.xs, r.txs, r.ts = sortedIndex(xIdx), sortedIndex(txIdx), sortedIndex(tIdx)
	for _, k := range keys {
		r.xi = append(r.xi, xIdx[float64(k.x)])
		r.txi = append(r.txi, txIdx[k.tx])
		r.ti = append(r.ti, tIdx[k.t])
	}
	return r
}

// Packed keys: x in the top 20 bits, then t_x and T in whole days, 22
// bits each.
const (
	packDayBits = 22
	packXBits   = 64 - 2*packDayBits
)

// collapsePacked collapses histories whose times are whole days (as
// Summaries.Histories makes them) by radix-sorting packed uint64 keys, an
// order of magnitude faster than a map at millions of customers. It
// reports false for histories it cannot pack.
func collapsePacked(h *Histories) (*rfRows, bool) {
	unit := float64(h.Unit)
	if unit <= 0 {
		unit = 1
	}
	keys := make([]uint64, len(h.X))
	ok := true
	var mu sync.Mutex
	parallel(len(keys), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			tx, t := math.Round(h.TX[i]*unit), math.Round(h.T[i]*unit)
			if float64(tx)/unit != h.TX[i] || float64(t)/unit != h.T[i] || h.X[i] >= 1<<packXBits ||
				tx >= 1<<packDayBits || t >= 1<<packDayBits {
				mu.Lock()
				ok = false
				mu.Unlock()
				return
			}
			keys[i] = uint64(h.X[i])<<(2*packDayBits) | uint64(tx)<<packDayBits | uint64(t)
		}
	})
	if !ok {
		return nil, false
	}
	radixSort(keys)
	var rk []rfKey
	var w []float64
	for i := 0; i < len(keys); {
		j := i
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		k := keys[i]
		rk = append(rk, rfKey{
			x:  int32(k >> (2 * packDayBits)),
			tx: float64(k>>packDayBits&(1<<packDayBits-1)) / unit,
			t:  float64(k&(1<<packDayBits-1)) / unit,
		})
		w = append(w, float64(j-i))
		i = j
	}
	return indexRows(rk, w, len(h.X)), true
}

// radixSort sorts keys ascending: LSD with 16-bit digits, skipping the
// digits in which all keys agree.
func radixSort(keys []uint64) {
	var or, and uint64 = 0, ^uint64(0)
	for _, k := range keys {
		or |= k
		and &= k
	}
	buf := make([]uint64, len(keys))
	src, dst := keys, buf
	for shift := 0; shift < 64; shift += 16 {
		if (or^and)>>shift&0xffff == 0 {
			continue
		}
		var count [1 << 16]int
		for _, k := range src {
			count[k>>shift&0xffff]++
		}
		pos := 0
		for d, c := range count {
			count[d] = pos
			pos += c
		}
		for _, k := range src {
			d := k >> shift & 0xffff
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	if len(keys) > 0 && &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// sortedIndex returns the keys of m ascending and sets m[k] to k's index.
func sortedIndex(m map[float64]int32) []float64 {
	vals := make([]float64, 0, len(m))
	for v := range m {
		vals = append(vals, v)
	}
	slices.Sort(vals)
	for i, v := range vals {
		m[v] = int32(i)
	}
	return vals
}
