package rfm

import (
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"sync"
)

// Method is how values are cut into bins 1..N.
type Method uint8

const (
	// RankQuantiles ranks members by value, ties broken by member ID
	// (lower ID first), and cuts the ranking the way SQL's NTILE(N) does:
	// bins as equal as possible, the first n mod N bins one member larger.
	// Deterministic, equal-sized, but two members with the same value may
	// land in neighbouring bins. It equals
	// NTILE(N) OVER (ORDER BY value, member) (value DESC for R).
	RankQuantiles Method = iota
	// ValueQuantiles keeps ties together: every member gets the bin that
	// RankQuantiles gives the first member (in rank order) with the same
	// value. Bins may be uneven, or empty when one value is very common.
	ValueQuantiles
	// Thresholds cuts at N-1 ascending values given by the host: a value v
	// scores 1 + (number of thresholds t with v >= t); for a reversed
	// dimension (R) it scores N - (that number). So for R with
	// thresholds [30 90 180 365], recency 0..29 days scores 5 and 365 or
	// more scores 1.
	Thresholds
)

// String returns the method's name as the command line spells it.
func (m Method) String() string {
	switch m {
	case RankQuantiles:
		return "rank"
	case ValueQuantiles:
		return "value"
	case Thresholds:
		return "thresholds"
	}
	return fmt.Sprintf("Method(%d)", m)
}

// BinOptions configures Bin.
type BinOptions struct {
	Bins   int // 1..255; 0 means 5
	Method Method
	// Reverse makes low values score high (recency: recent is high). For
	// the quantile methods it ranks by value descending, ties still by
	// member ID ascending.
	Reverse    bool
	Thresholds []int64 // for Method Thresholds: Bins-1 ascending values
}

// Bin scores values[i] into 1..Bins for every i whose value is not
// NoValue (those score 0). It takes O(n) time: a histogram of the values'
// top bits finds the cut values (a radix select), then one pass bins every
// member against them; no comparison sort of the whole column.
func Bin(values []int64, o BinOptions) ([]uint8, error) {
	if o.Bins == 0 {
		o.Bins = 5
	}
	if o.Bins < 1 || o.Bins > 255 {
		return nil, fmt.Errorf("bins %d out of range 1..255: %w", o.Bins, ErrConfig)
	}
	out := make([]uint8, len(values))
	switch o.Method {
	case Thresholds:
		if len(o.Thresholds) != o.Bins-1 {
			return nil, fmt.Errorf("%d thresholds for %d bins, want %d: %w", len(o.Thresholds), o.Bins, o.Bins-1, ErrConfig)
		}
		for i := 1; i < len(o.Thresholds); i++ {
			if o.Thresholds[i] <= o.Thresholds[i-1] {
				return nil, fmt.Errorf("thresholds not strictly ascending at %d: %w", i, ErrConfig)
			}
		}
		binThresholds(values, o, out)
		return out, nil
	case RankQuantiles, ValueQuantiles:
	default:
		return nil, fmt.Errorf("unknown method %d: %w", o.Method, ErrConfig)
	}
	keys := values
	if o.Reverse {
		// Negating keeps NoValue apart: no real value maps to it, and
		// -(MinInt64+1) = MaxInt64 still fits.
		keys = make([]int64, len(values))
		parallel(len(values), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if v := values[i]; v == NoValue {
					keys[i] = NoValue
				} else {
					keys[i] = -v
				}
			}
		})
	}
	binQuantiles(keys, o.Bins, o.Method, out)
	return out, nil
}

func binThresholds(values []int64, o BinOptions, out []uint8) {
	ts := o.Thresholds
	parallel(len(values), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := values[i]
			if v == NoValue {
				continue
			}
			above := 0 // thresholds t with v >= t
			for above < len(ts) && v >= ts[above] {
				above++
			}
			if o.Reverse {
				out[i] = uint8(o.Bins - above)
			} else {
				out[i] = uint8(1 + above)
			}
		}
	})
}

// ntileStarts returns, for k = 1..bins-1, the 0-based rank at which bin
// k+1 starts when n ranked members are cut as NTILE(bins) does.
func ntileStarts(n, bins int) []int {
	q, r := n/bins, n%bins
	starts := make([]int, bins-1)
	for k := 1; k < bins; k++ {
		starts[k-1] = k*q + min(k, r)
	}
	return starts
}

// tableSpan is the widest value range binned through a lookup table
// (recency in days, frequency) instead of a search per member.
const tableSpan = 1 << 20

func binQuantiles(keys []int64, bins int, method Method, out []uint8) {
	n := 0
	lo, hi := int64(maxInt64), int64(minInt64)
	for _, v := range keys {
		if v != NoValue {
			n++
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if n == 0 {
		return
	}
	starts := ntileStarts(n, bins)
	// The bin boundaries that fall inside the ranking; the rest are empty
	// bins past the last member (n < bins).
	var inside []int
	for _, s := range starts {
		if s < n {
			inside = append(inside, s)
		}
	}
	var cuts, vals []int64 // value quantiles: cut values; rank: opener values
	var ids []uint32       // rank: opener member IDs
	if method == ValueQuantiles {
		// A member is in bin k+1 or above when its value is greater than the
		// value ranked just before bin k+1 starts: then every member before
		// its tie group is at least that many.
		pos := make([]int, len(inside))
		for i, s := range inside {
			pos[i] = s - 1
		}
		cuts, _ = selectRanks(keys, pos)
	} else {
		// RankQuantiles: find the (value, member) pair that opens each bin.
		var less []int
		vals, less = selectRanks(keys, inside)
		ids = nthWithValue(keys, vals, less, inside)
		cuts = vals
	}
	// base(v) = 1 + number of cuts strictly below v. For ranks, a member
	// whose value equals an opener's also passes the openers of that value
	// with an ID at most its own.
	if uint64(hi)-uint64(lo) < tableSpan {
		tab := make([]uint16, uint64(hi)-uint64(lo)+1)
		j := 0
		for i := range tab {
			v := lo + int64(i)
			for j < len(cuts) && cuts[j] < v {
				j++
			}
			tab[i] = uint16(1 + j)
			if ids != nil && j < len(cuts) && cuts[j] == v {
				tab[i] |= 1 << 8
			}
		}
		parallel(len(keys), func(a, b int) {
			for i := a; i < b; i++ {
				v := keys[i]
				if v == NoValue {
					continue
				}
				t := tab[v-lo]
				bin := int(t & 0xff)
				if t>>8 != 0 {
					bin += openersAtOrBefore(vals, ids, bin-1, v, uint32(i))
				}
				out[i] = uint8(bin)
			}
		})
		return
	}
	parallel(len(keys), func(a, b int) {
		for i := a; i < b; i++ {
			v := keys[i]
			if v == NoValue {
				continue
			}
			j, _ := slices.BinarySearch(cuts, v) // cuts strictly below v
			if ids != nil {
				j += openersAtOrBefore(vals, ids, j, v, uint32(i))
			}
			out[i] = uint8(1 + j)
		}
	})
}

// openersAtOrBefore counts the bin openers from index j on that have
// value v and a member ID at most id.
func openersAtOrBefore(vals []int64, ids []uint32, j int, v int64, id uint32) int {
	c := 0
	for ; j < len(vals) && vals[j] == v && ids[j] <= id; j++ {
		c++
	}
	return c
}

// nthWithValue returns, for each boundary k, the member ID ranked at
// positions[k]: the (positions[k]-less[k])-th member, in ID order, whose
// key equals vals[k]. Chunks of members count the target values in
// parallel; then only the chunk holding each wanted member is scanned.
func nthWithValue(keys, vals []int64, less, positions []int) []uint32 {
	ids := make([]uint32, len(vals))
	if len(vals) == 0 {
		return ids
	}
	targets := slices.Compact(slices.Clone(vals)) // distinct, ascending
	const chunk = 1 << 16
	chunks := (len(keys) + chunk - 1) / chunk
	counts := make([][]int, chunks) // per chunk, per target
	eachTask(chunks, func(c int) {
		cnt := make([]int, len(targets))
		tmin, tmax := targets[0], targets[len(targets)-1]
		for _, v := range keys[c*chunk : min((c+1)*chunk, len(keys))] {
			if v < tmin || v > tmax || v == NoValue {
				continue
			}
			if t, ok := slices.BinarySearch(targets, v); ok {
				cnt[t]++
			}
		}
		counts[c] = cnt
	})
	for k, v := range vals {
		t, _ := slices.BinarySearch(targets, v)
		need := positions[k] - less[k] // 0-based among members with value v
		c := 0
		for ; c < chunks && need >= counts[c][t]; c++ {
			need -= counts[c][t]
		}
		for i := c * chunk; i < min((c+1)*chunk, len(keys)); i++ {
			if keys[i] == v {
				if need == 0 {
					ids[k] = uint32(i)
					break
				}
				need--
			}
		}
	}
	return ids
}

// selectLeaf is the size below which selectRanks sorts instead of
// histogramming.
const selectLeaf = 1 << 12

// selectRanks returns, for each 0-based rank in ascending ranks, the value
// at that rank among the keys that are not NoValue, and the number of
// keys strictly less than that value.
//
// It is a radix select: a histogram over the top 16 bits of (key - min)
// locates each rank's bucket; buckets of one value are answered at once,
// the others are gathered and selected again, so each level either
// narrows the value span by 2^16 or shrinks the data to the few buckets
// that hold a rank.
func selectRanks(keys []int64, ranks []int) (vals []int64, less []int) {
	vals = make([]int64, len(ranks))
	less = make([]int, len(ranks))
	if len(ranks) == 0 {
		return vals, less
	}
	var sub []int64
	present := 0
	for _, v := range keys {
		if v != NoValue {
			present++
		}
	}
	if present <= selectLeaf {
		sub = make([]int64, 0, present)
		for _, v := range keys {
			if v != NoValue {
				sub = append(sub, v)
			}
		}
		selectSorted(sub, ranks, vals, less, 0)
		return vals, less
	}
	selectRadix(keys, true, ranks, vals, less, 0)
	return vals, less
}

// selectSorted answers ranks on a small slice by sorting it.
func selectSorted(sub []int64, ranks []int, vals []int64, less []int, offset int) {
	slices.Sort(sub)
	for i, r := range ranks {
		v := sub[r]
		vals[i] = v
		first, _ := slices.BinarySearch(sub, v)
		less[i] = offset + first
	}
}

// selectRadix answers ranks (relative to keys) into vals and less, adding
// offset to less. skipNoValue says whether keys may hold NoValue.
func selectRadix(keys []int64, skipNoValue bool, ranks []int, vals []int64, less []int, offset int) {
	lo, hi := int64(maxInt64), int64(minInt64)
	for _, v := range keys {
		if skipNoValue && v == NoValue {
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	span := uint64(hi) - uint64(lo)
	shift := max(0, bits.Len64(span)-16)
	nb := int(span>>shift) + 1
	counts := histogram(keys, skipNoValue, lo, shift, nb)
	// cum[b] = keys in buckets below b
	cum := make([]int, nb+1)
	for b, c := range counts {
		cum[b+1] = cum[b] + c
	}
	bucketOf := make([]int, len(ranks))
	for i, r := range ranks {
		// the bucket b with cum[b] <= r < cum[b+1]
		bucketOf[i] = sort.Search(len(cum), func(x int) bool { return cum[x] > r }) - 1
	}
	if shift == 0 {
		for i, b := range bucketOf {
			vals[i] = lo + int64(b)
			less[i] = offset + cum[b]
		}
		return
	}
	// Gather the keys of every bucket that holds a rank in one pass, then
	// refine each on the keys it holds.
	slot := make([]int32, nb)
	for i := range slot {
		slot[i] = -1
	}
	var subs [][]int64
	for _, b := range bucketOf {
		if slot[b] < 0 {
			slot[b] = int32(len(subs))
			subs = append(subs, make([]int64, 0, counts[b]))
		}
	}
	for _, v := range keys {
		if skipNoValue && v == NoValue {
			continue
		}
		if s := slot[(uint64(v)-uint64(lo))>>shift]; s >= 0 {
			subs[s] = append(subs[s], v)
		}
	}
	for i := 0; i < len(ranks); {
		b := bucketOf[i]
		j := i
		for j < len(ranks) && bucketOf[j] == b {
			j++
		}
		sub := subs[slot[b]]
		subRanks := make([]int, j-i)
		for k := i; k < j; k++ {
			subRanks[k-i] = ranks[k] - cum[b]
		}
		if len(sub) <= selectLeaf {
			selectSorted(sub, subRanks, vals[i:j], less[i:j], offset+cum[b])
		} else {
			selectRadix(sub, false, subRanks, vals[i:j], less[i:j], offset+cum[b])
		}
		i = j
	}
}

// histogram counts keys per bucket (key-lo)>>shift, in parallel.
func histogram(keys []int64, skipNoValue bool, lo int64, shift, nb int) []int {
	var mu sync.Mutex
	total := make([]int, nb)
	parallel(len(keys), func(a, b int) {
		counts := make([]int, nb)
		for _, v := range keys[a:b] {
			if skipNoValue && v == NoValue {
				continue
			}
			counts[(uint64(v)-uint64(lo))>>shift]++
		}
		mu.Lock()
		for i, c := range counts {
			total[i] += c
		}
		mu.Unlock()
	})
	return total
}
