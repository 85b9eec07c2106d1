package segment

import (
	"cmp"
	"iter"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
)

// Check reports whether p is valid against the view's declared fields and
// saved segments: every name exists and is used as its kind. Activity
// windows are checked even when the view has no as-of day.
func (v *View) Check(p *Plan) error { return checkPlan(v.st, p) }

// Count returns the number of members p matches. It never builds the
// result: a single tag is answered from stored cardinalities, a negation as
// the universe less the count of what it negates, and an AND by fusing its
// last step with the popcount, chunk by chunk across cores.
func (v *View) Count(p *Plan) (uint64, error) {
	pr, err := v.prepare(p)
	if err != nil {
		return 0, err
	}
	return pr.count(pr.root), nil
}

func (pr *prepared) count(x *xnode) uint64 {
	switch x.kind {
	case xEmpty:
		return 0
	case xLeaf:
		return x.bm.n
	case xOr:
		if x.disjoint && allLeaves(x.kids) {
			var n uint64
			for _, k := range x.kids {
				n += k.bm.n
			}
			return n
		}
	case xAnd:
		if len(x.kids) == 1 && isUniverse(x.kids[0], pr.universe) {
			// U \ (a ∪ b …) = |U| − |a ∪ b …|, since every set lies in U.
			var negs *xnode
			if len(x.neg) == 1 {
				negs = x.neg[0]
			} else {
				negs = &xnode{kind: xOr, kids: x.neg}
			}
			return x.kids[0].bm.n - pr.count(negs)
		}
	}
	workers := pr.workers()
	if workers <= 1 {
		// Inline rather than through evalChunks, so a small index's count
		// allocates nothing.
		r := getRunner()
		var total uint64
		for k := range pr.nchunks {
			total += uint64(r.count(x, k))
		}
		putRunner(r)
		return total
	}
	counts := make([]uint64, workers)
	evalChunks(pr.nchunks, workers, func(w int, r *runner, lo, hi int) {
		for k := lo; k < hi; k++ {
			counts[w] += uint64(r.count(x, k))
		}
	})
	var total uint64
	for _, n := range counts {
		total += n
	}
	return total
}

// workers is how many goroutines evaluate the plan: one when the work is
// small, where starting and joining goroutines would cost more than it
// saves, otherwise up to GOMAXPROCS, each with at least minWorkPerWorker
// passes over a chunk's words.
func (pr *prepared) workers() int {
	return max(1, min(runtime.GOMAXPROCS(0), pr.nchunks*pr.cost/minWorkPerWorker))
}

// minWorkPerWorker is the least work, in passes over one chunk's 1024
// words, worth a goroutine of its own. Measured on 2 cores: a pass costs
// about 0.5 µs (a dense 2-tag AND count, 1.5 µs for one chunk of it with
// the fixed cost), and starting and joining a second worker costs about
// 2 µs when the core is idle and far more when another process holds it.
// 32 passes (~16 µs) keeps that cost under about an eighth of each
// worker's share: a 2-tag count runs serially up to 16 chunks (1M
// members) and in parallel from 32, a ten-term expression from 4 chunks.
// A variable only so that tests can run the parallel path on a few chunks.
var minWorkPerWorker = 32

// evalChunks calls fn for batches [lo, hi) covering the chunks [0, n), from
// workers numbered w < workers, each with a runner of its own. Workers take
// small batches from a shared counter rather than a fixed share, so a
// worker whose core is busy with another process holds up no one; results
// must therefore not depend on which worker ran a chunk (sums per worker,
// slots per chunk). The calling goroutine is worker 0: it starts on the
// chunks at once, and when the other goroutines are slow to be scheduled
// (other processes on the cores) it simply takes their batches, so the
// query costs little more than running serially.
func evalChunks(n, workers int, fn func(w int, r *runner, lo, hi int)) {
	if workers <= 1 {
		r := getRunner()
		fn(0, r, 0, n)
		putRunner(r)
		return
	}
	batch := max(1, n/(workers*8))
	var next atomic.Int64
	work := func(w int) {
		r := getRunner()
		defer putRunner(r)
		for {
			lo := int(next.Add(int64(batch))) - batch
			if lo >= n {
				return
			}
			fn(w, r, lo, min(lo+batch, n))
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { work(w) })
	}
	work(0)
	wg.Wait()
}

// runners keeps evaluation scratch (a few words per operator, the range
// kernel's blocks) from one query to the next.
var runners = sync.Pool{New: func() any { return new(runner) }}

func getRunner() *runner { return runners.Get().(*runner) }

// putRunner returns r to the pool without its references to the index.
func putRunner(r *runner) {
	r.cp.forget()
	runners.Put(r)
}

func allLeaves(xs []*xnode) bool {
	for _, x := range xs {
		if x.kind != xLeaf {
			return false
		}
	}
	return true
}

// Bitmap returns the members p matches. The caller owns the returned
// bitmap.
func (v *View) Bitmap(p *Plan) (*roaring.Bitmap, error) {
	pr, err := v.prepare(p)
	if err != nil {
		return nil, err
	}
	return pr.materialize().toRoaring(), nil
}

// materialize evaluates the plan into a read-only bitmap.
func (pr *prepared) materialize() *bitmap {
	switch pr.root.kind {
	case xEmpty:
		return &bitmap{}
	case xLeaf:
		return pr.root.bm
	}
	b := &bitmap{c: make([]*container, pr.nchunks)}
	counts := make([]uint64, pr.nchunks)
	evalChunks(pr.nchunks, pr.workers(), func(_ int, r *runner, lo, hi int) {
		for k := lo; k < hi; k++ {
			c := r.eval(pr.root, k)
			b.c[k] = r.keep(c)
			if b.c[k] != nil {
				counts[k] = uint64(b.c[k].n)
			}
		}
	})
	for _, n := range counts {
		b.n += n
	}
	b.trim()
	return b
}

// keep turns a chunk result into an immutable container, taking over the
// runner's scratch when the result is in it.
func (r *runner) keep(c cres) *container {
	if c.empty() {
		r.release(c)
		return nil
	}
	if c.w == nil {
		arr := slices.Clone(c.arr)
		r.release(c)
		return &container{n: int32(len(arr)), arr: arr}
	}
	if c.w == fullWords {
		return fullChunk
	}
	n := c.card()
	if n > arrayLimit && n < chunkSize {
		w := c.w
		if !c.own {
			w = new(words)
			*w = *c.w
		}
		return &container{n: int32(n), w: w}
	}
	out := containerFromWords(0, c.w, n) // an array or the full chunk; keeps nothing
	r.release(c)
	return out
}

// IDs returns the IDs of the members p matches, walked in increasing order
// one chunk at a time, so a long export holds one chunk's worth of memory.
// The walk sees the view's version throughout, whatever writers do.
func (v *View) IDs(p *Plan) (iter.Seq[uint32], error) {
	pr, err := v.prepare(p)
	if err != nil {
		return nil, err
	}
	return func(yield func(uint32) bool) {
		r := getRunner()
		defer putRunner(r)
		var buf []uint32
		for k := range pr.nchunks {
			c := r.eval(pr.root, k)
			buf = appendContainer(buf[:0], uint32(k)<<chunkShift, c.arr, c.w)
			r.release(c)
			for _, id := range buf {
				if !yield(id) {
					return
				}
			}
		}
	}, nil
}

// Page is one page of an audience's member IDs.
type Page struct {
	IDs  []uint32 // increasing
	Next uint32   // where the next page starts (pass as from)
	More bool     // whether members remain at or after Next
}

// Page returns up to limit members that p matches with IDs at or after
// from, in increasing order. Pages are keyed by ID, so paging through a
// view neither skips nor repeats members; paging through successive views
// of a changing index sees each page's own version.
func (v *View) Page(p *Plan, from uint32, limit int) (Page, error) {
	pr, err := v.prepare(p)
	if err != nil {
		return Page{}, err
	}
	var out Page
	if limit <= 0 {
		out.Next, out.More = from, true
		return out, nil
	}
	r := getRunner()
	defer putRunner(r)
	var buf []uint32
	for k := int(from >> chunkShift); k < pr.nchunks; k++ {
		c := r.eval(pr.root, k)
		buf = appendContainer(buf[:0], uint32(k)<<chunkShift, c.arr, c.w)
		r.release(c)
		for _, id := range buf {
			if id < from {
				continue
			}
			if len(out.IDs) == limit {
				out.Next, out.More = id, true
				return out, nil
			}
			out.IDs = append(out.IDs, id)
		}
	}
	return out, nil
}

// ValueCount is one enum value and how many members of an audience have it.
type ValueCount struct {
	Value string
	Count uint64
}

// TopN returns the n values of an enum field most common among the members
// p matches (all values when n <= 0), by count descending and then value;
// values no member of the audience has are left out. Each value costs one
// fused AND-count against the audience, which is evaluated once per chunk.
func (v *View) TopN(p *Plan, enumField string, n int) ([]ValueCount, error) {
	pr, err := v.prepare(p)
	if err != nil {
		return nil, err
	}
	f, err := v.st.field(enumField, KindEnum)
	if err != nil {
		return nil, err
	}
	values := sortedKeys(f.enum)
	bms := make([]*bitmap, len(values))
	for i, val := range values {
		bms[i] = f.enum[val]
	}
	workers := pr.workers()
	perWorker := make([][]uint64, workers)
	for w := range perWorker {
		perWorker[w] = make([]uint64, len(values))
	}
	evalChunks(pr.nchunks, workers, func(w int, r *runner, lo, hi int) {
		counts := perWorker[w]
		for k := lo; k < hi; k++ {
			a := r.eval(pr.root, k)
			if a.empty() {
				r.release(a)
				continue
			}
			for i, bm := range bms {
				if c := bm.chunk(k); c != nil {
					counts[i] += uint64(andCount(a, containerRes(c)))
				}
			}
			r.release(a)
		}
	})
	totals := make([]uint64, len(values))
	for _, counts := range perWorker {
		for i, c := range counts {
			totals[i] += c
		}
	}
	var out []ValueCount
	for i, val := range values {
		if totals[i] > 0 {
			out = append(out, ValueCount{Value: val, Count: totals[i]})
		}
	}
	slices.SortStableFunc(out, func(a, b ValueCount) int { return cmp.Compare(b.Count, a.Count) })
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// andCount returns |a ∩ b| without storing it.
func andCount(a, b cres) int {
	switch {
	case a.empty() || b.empty():
		return 0
	case a.w == fullWords:
		return b.card()
	case b.w == fullWords:
		return a.card()
	case a.w != nil && b.w != nil:
		return popAnd(a.w, b.w)
	case a.w == nil && b.w == nil:
		_, n := intersectArr(nil, a.arr, b.arr, true)
		return n
	case a.w == nil:
		a, b = b, a
	}
	n := 0
	for _, v := range b.arr {
		if a.w[v>>6]&(1<<(v&63)) != 0 {
			n++
		}
	}
	return n
}

// IntStats summarises an int attribute over an audience.
type IntStats struct {
	Count    uint64 // members of the audience that have a value
	Sum      int64
	Min, Max int64 // 0 when Count is 0
}

// Mean returns Sum/Count, or 0 when Count is 0.
func (s IntStats) Mean() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.Sum) / float64(s.Count)
}

// IntStats returns the count, sum, minimum and maximum of an int attribute
// over the members p matches that have a value, computed on the bit planes
// (no value is decoded). A sum that does not fit in int64 is ErrOverflow.
func (v *View) IntStats(p *Plan, field string) (IntStats, error) {
	pr, err := v.prepare(p)
	if err != nil {
		return IntStats{}, err
	}
	f, err := v.st.field(field, KindInt)
	if err != nil {
		return IntStats{}, err
	}
	s := f.num
	workers := pr.workers()
	perWorker := make([]chunkStats, workers)
	for w := range perWorker {
		perWorker[w] = chunkStats{min: math.MaxInt64, max: math.MinInt64}
	}
	evalChunks(pr.nchunks, workers, func(w int, r *runner, lo, hi int) {
		acc := &perWorker[w]
		for k := lo; k < hi; k++ {
			if s.exist.chunk(k) == nil {
				continue
			}
			a := r.eval(pr.root, k)
			if a.empty() {
				r.release(a)
				continue
			}
			r.loadPlanes(s, k)
			r.cp.expandPlanes()
			found, t1, t2 := r.get(), r.get(), r.get()
			if a.w != nil {
				for j := range found {
					found[j] = a.w[j] & r.cp.exist[j]
				}
			} else {
				clear(found[:])
				for _, x := range a.arr {
					found[x>>6] |= r.cp.exist[x>>6] & (1 << (x & 63))
				}
			}
			r.release(a)
			st := r.cp.stats(found, t1, t2)
			r.free = append(r.free, found, t1, t2)
			r.reclaim()
			if st.n == 0 {
				continue
			}
			acc.n += st.n
			acc.sum.add(st.sum)
			acc.min = min(acc.min, st.min)
			acc.max = max(acc.max, st.max)
		}
	})
	total := chunkStats{min: math.MaxInt64, max: math.MinInt64}
	for _, acc := range perWorker {
		total.n += acc.n
		total.sum.add(acc.sum)
		total.min = min(total.min, acc.min)
		total.max = max(total.max, acc.max)
	}
	if total.n == 0 {
		return IntStats{}, nil
	}
	sum, ok := total.sum.int64()
	if !ok {
		return IntStats{}, ErrOverflow
	}
	return IntStats{Count: total.n, Sum: sum, Min: total.min, Max: total.max}, nil
}
