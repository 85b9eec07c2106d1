package segment

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
)

// Evaluation binds a Plan to a version of the index, giving a tree of
// xnodes that point at bitmaps, then runs the tree one 64Ki-member chunk at
// a time: each operator combines the children's chunks in scratch words
// that stay in L1/L2 cache, so a ten-term expression reads each input
// chunk once and writes no intermediate bitmap. Chunks are independent and
// split across cores.

type xkind uint8

const (
	xEmpty xkind = iota
	xLeaf        // one bitmap
	xOr          // union of kids
	xAnd         // intersection of kids, less the union of neg
	xRange       // members of a BSI whose value lies in a union of ranges
)

type xnode struct {
	kind     xkind
	bm       *bitmap    // xLeaf
	kids     []*xnode   // xOr: operands; xAnd: positive operands, smallest first
	neg      []*xnode   // xAnd: negated operands
	disjoint bool       // xOr of leaves that cannot overlap (values of one enum)
	num      *bsi       // xRange
	ranges   []valRange // xRange: sorted, disjoint, non-adjacent
	comp     []valRange // xRange: the complement of ranges, when shorter
	est      uint64     // upper bound on the cardinality, for ordering
}

var emptyNode = &xnode{kind: xEmpty}

// binder turns a plan into an xnode tree against one state.
type binder struct {
	st        *state
	asOf      Day
	hasAsOf   bool
	checkOnly bool // windows without an as-of bind to empty instead of failing
	stack     []string
	universe  *xnode
}

func newBinder(st *state, asOf Day, hasAsOf bool) *binder {
	b := &binder{st: st, asOf: asOf, hasAsOf: hasAsOf}
	b.universe = leaf(st.members)
	return b
}

func leaf(bm *bitmap) *xnode {
	if bm.card() == 0 {
		return emptyNode
	}
	return &xnode{kind: xLeaf, bm: bm, est: bm.n}
}

// checkPlan checks p against st's fields and saved segments.
func checkPlan(st *state, p *Plan) error {
	if err := p.valid(); err != nil {
		return err
	}
	b := newBinder(st, 0, false)
	b.checkOnly = true
	_, err := b.bind(p)
	return err
}

func (b *binder) field(p *Plan, kinds ...Kind) (*field, error) {
	f, ok := b.st.fields[p.name]
	if !ok {
		return nil, p.errorf(&FieldError{Field: p.name, Err: ErrUnknownField}, "unknown field %q", p.name)
	}
	if !slices.Contains(kinds, f.kind) {
		return nil, p.errorf(&FieldError{Field: p.name, Kind: f.kind, Want: kinds[0], Err: ErrKindMismatch},
			"%q is %s %s, not %s", p.name, article(f.kind), f.kind, kindList(kinds))
	}
	return f, nil
}

func article(k Kind) string {
	if k == KindEnum || k == KindInt || k == KindEvent {
		return "an"
	}
	return "a"
}

func kindList(kinds []Kind) string {
	s := ""
	for i, k := range kinds {
		if i > 0 {
			s += " or "
		}
		s += article(k) + " " + k.String()
	}
	return s
}

func (b *binder) bind(p *Plan) (*xnode, error) {
	switch p.kind {
	case pAll:
		return b.universe, nil
	case pNone:
		return emptyNode, nil
	case pTag:
		f, err := b.field(p, KindTag)
		if err != nil {
			return nil, err
		}
		return leaf(f.tag), nil
	case pEnum:
		f, err := b.field(p, KindEnum)
		if err != nil {
			return nil, err
		}
		x := &xnode{kind: xOr, disjoint: true}
		for _, v := range p.values {
			if bm := f.enum[v]; bm.card() > 0 {
				x.kids = append(x.kids, leaf(bm))
			}
		}
		return x, nil
	case pHas:
		f, err := b.field(p, KindEnum, KindInt)
		if err != nil {
			return nil, err
		}
		if f.kind == KindInt {
			return leaf(f.num.exist), nil
		}
		x := &xnode{kind: xOr, disjoint: true}
		for _, v := range sortedKeys(f.enum) {
			x.kids = append(x.kids, leaf(f.enum[v]))
		}
		return x, nil
	case pCmp, pBetween, pIntIn:
		f, err := b.field(p, KindInt)
		if err != nil {
			return nil, err
		}
		return rangeNode(f.num, planRanges(p)), nil
	case pActive:
		f, err := b.field(p, KindEvent)
		if err != nil {
			return nil, err
		}
		last, ok := p.until, p.fixed
		if !ok {
			if !b.hasAsOf {
				if b.checkOnly {
					return emptyNode, nil
				}
				return nil, p.errorf(ErrNoAsOf, "active(%q) on a view without an as-of day", p.name)
			}
			last = b.asOf
		}
		first := last - Day(p.days) + 1
		x := &xnode{kind: xOr}
		if p.days <= len(f.days) {
			for d := first; d <= last; d++ {
				if bm := f.days[d]; bm != nil {
					x.kids = append(x.kids, leaf(bm))
				}
			}
		} else {
			for _, d := range sortedKeys(f.days) {
				if d >= first && d <= last {
					x.kids = append(x.kids, leaf(f.days[d]))
				}
			}
		}
		return x, nil
	case pRef:
		s, ok := b.st.segments[p.name]
		if !ok {
			return nil, p.errorf(ErrUnknownSegment, "unknown segment %q", p.name)
		}
		if slices.Contains(b.stack, p.name) {
			return nil, p.errorf(ErrCycle, "segment %s", formatPath(append(slices.Clone(b.stack), p.name)))
		}
		b.stack = append(b.stack, p.name)
		x, err := b.bind(s.plan)
		b.stack = b.stack[:len(b.stack)-1]
		if err != nil {
			return nil, fmt.Errorf("in segment %q: %w", p.name, err)
		}
		return x, nil
	case pAnd, pOr:
		x := &xnode{kind: xAnd}
		if p.kind == pOr {
			x.kind = xOr
		}
		for _, k := range p.kids {
			kx, err := b.bind(k)
			if err != nil {
				return nil, err
			}
			x.kids = append(x.kids, kx)
		}
		if x.kind == xAnd && len(x.kids) == 0 {
			return b.universe, nil
		}
		return x, nil
	case pNot:
		kx, err := b.bind(p.kids[0])
		if err != nil {
			return nil, err
		}
		return &xnode{kind: xAnd, kids: []*xnode{b.universe}, neg: []*xnode{kx}}, nil
	}
	return nil, fmt.Errorf("plan kind %d: %w", p.kind, ErrInvalid)
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// planRanges turns an int condition into a union of value ranges.
func planRanges(p *Plan) []valRange {
	const lo, hi = math.MinInt64, math.MaxInt64
	switch p.kind {
	case pBetween:
		if p.a > p.b {
			return nil
		}
		return []valRange{{p.a, p.b}}
	case pIntIn:
		var out []valRange
		for _, v := range p.ints {
			if n := len(out); n > 0 && out[n-1].hi != hi && out[n-1].hi+1 == v {
				out[n-1].hi = v
				continue
			}
			out = append(out, valRange{v, v})
		}
		return out
	}
	a := p.a
	switch p.op {
	case Eq:
		return []valRange{{a, a}}
	case Ne:
		var out []valRange
		if a != lo {
			out = append(out, valRange{lo, a - 1})
		}
		if a != hi {
			out = append(out, valRange{a + 1, hi})
		}
		return out
	case Lt:
		if a == lo {
			return nil
		}
		return []valRange{{lo, a - 1}}
	case Le:
		return []valRange{{lo, a}}
	case Gt:
		if a == hi {
			return nil
		}
		return []valRange{{a + 1, hi}}
	case Ge:
		return []valRange{{a, hi}}
	}
	return nil
}

func rangeNode(s *bsi, rs []valRange) *xnode {
	if len(rs) == 0 || s.exist.card() == 0 {
		return emptyNode
	}
	if len(rs) == 1 && rs[0] == (valRange{math.MinInt64, math.MaxInt64}) {
		return leaf(s.exist)
	}
	x := &xnode{kind: xRange, num: s, ranges: rs, est: s.exist.n}
	// x != 5 is two ranges but one scan of its complement, less exist.
	if comp := complementRanges(rs); len(comp) < len(rs) {
		x.comp = comp
	}
	return x
}

// intersectRanges and unionRanges combine sorted disjoint range lists.
func intersectRanges(a, b []valRange) []valRange {
	var out []valRange
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].lo, b[j].lo), min(a[i].hi, b[j].hi)
		if lo <= hi {
			out = append(out, valRange{lo, hi})
		}
		if a[i].hi < b[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

func unionRanges(a, b []valRange) []valRange {
	all := append(slices.Clone(a), b...)
	slices.SortFunc(all, func(x, y valRange) int { return cmp.Compare(x.lo, y.lo) })
	var out []valRange
	for _, r := range all {
		if n := len(out); n > 0 && (r.lo <= out[n-1].hi || out[n-1].hi != math.MaxInt64 && r.lo == out[n-1].hi+1) {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// complementRanges returns the ranges of int64 not in rs.
func complementRanges(rs []valRange) []valRange {
	var out []valRange
	next := int64(math.MinInt64)
	open := true
	for _, r := range rs {
		if r.lo > next {
			out = append(out, valRange{next, r.lo - 1})
		}
		if r.hi == math.MaxInt64 {
			open = false
			break
		}
		next = r.hi + 1
	}
	if open {
		out = append(out, valRange{next, math.MaxInt64})
	}
	return out
}

// optimize rewrites a bound tree into the form the evaluator runs:
// nested ANDs and ORs flattened, NOT folded into AND as AND-NOT, empty and
// universal operands short-circuited, comparisons on one attribute merged
// into one range scan, and AND operands ordered by estimated cardinality so
// the smallest bounds the work.
func optimize(x *xnode, universe *xnode) *xnode {
	switch x.kind {
	case xOr:
		var kids []*xnode
		disjoint := x.disjoint
		for _, k := range x.kids {
			k = optimize(k, universe)
			switch {
			case k.kind == xEmpty:
				continue
			case isUniverse(k, universe):
				return universe
			case k.kind == xOr:
				kids = append(kids, k.kids...)
				disjoint = false
			default:
				kids = append(kids, k)
			}
		}
		kids = mergeRanges(kids, unionRanges)
		kids = dedupe(kids)
		switch len(kids) {
		case 0:
			return emptyNode
		case 1:
			return kids[0]
		}
		var est uint64
		for _, k := range kids {
			est += k.est
		}
		return &xnode{kind: xOr, kids: kids, disjoint: disjoint, est: min(est, universe.est)}
	case xAnd:
		var pos, neg []*xnode
		var collect func(x *xnode) bool
		collect = func(x *xnode) bool {
			for _, k := range x.kids {
				k = optimize(k, universe)
				switch {
				case k.kind == xEmpty:
					return false
				case k.kind == xAnd:
					if !collect(k) {
						return false
					}
				default:
					pos = append(pos, k)
				}
			}
			for _, k := range x.neg {
				k = optimize(k, universe)
				switch {
				case k.kind == xEmpty:
				case isUniverse(k, universe):
					return false
				case k.kind == xOr:
					neg = append(neg, k.kids...)
				default:
					neg = append(neg, k)
				}
			}
			return true
		}
		if !collect(x) {
			return emptyNode
		}
		// Every bitmap of the index lies within the universe, so the
		// universe is only needed when nothing else is positive.
		var kept []*xnode
		for _, k := range pos {
			if !isUniverse(k, universe) {
				kept = append(kept, k)
			}
		}
		if len(kept) == 0 {
			kept = []*xnode{universe}
		}
		pos = dedupe(mergeRanges(kept, intersectRanges))
		neg = foldNegatedRanges(pos, dedupe(neg))
		for _, n := range neg {
			for _, p := range pos {
				if n == p || (n.kind == xLeaf && p.kind == xLeaf && n.bm == p.bm) {
					return emptyNode
				}
			}
		}
		for _, p := range pos {
			if p.kind == xEmpty {
				return emptyNode
			}
		}
		slices.SortStableFunc(pos, func(a, b *xnode) int { return cmp.Compare(a.est, b.est) })
		// Large negations first: they clear the most.
		slices.SortStableFunc(neg, func(a, b *xnode) int { return cmp.Compare(b.est, a.est) })
		if len(pos) == 1 && len(neg) == 0 {
			return pos[0]
		}
		return &xnode{kind: xAnd, kids: pos, neg: neg, est: pos[0].est}
	}
	return x
}

// foldNegatedRanges folds the negations of an AND that only narrow a
// positive range of the same attribute into it and returns the rest: both
// hold only members with a value, so !(x < 18) && x <= 35 is one range
// scan of [18, 35], and has(x) && !(x < 18) is x >= 18. pos is updated in
// place; a range emptied this way becomes the empty node.
func foldNegatedRanges(pos, neg []*xnode) []*xnode {
	return slices.DeleteFunc(neg, func(n *xnode) bool {
		for i, p := range pos {
			switch {
			case p.kind == xRange && n.kind == xRange && n.num == p.num:
				pos[i] = rangeNode(p.num, intersectRanges(p.ranges, complementRanges(n.ranges)))
			case p.kind == xRange && n.kind == xLeaf && n.bm == p.num.exist:
				pos[i] = emptyNode
			case p.kind == xLeaf && n.kind == xRange && p.bm == n.num.exist:
				pos[i] = rangeNode(n.num, complementRanges(n.ranges))
			default:
				continue
			}
			return true
		}
		return false
	})
}

func isUniverse(x, universe *xnode) bool {
	return x == universe || (x.kind == xLeaf && universe.kind == xLeaf && x.bm == universe.bm)
}

// mergeRanges combines range nodes over the same attribute with combine.
func mergeRanges(kids []*xnode, combine func(a, b []valRange) []valRange) []*xnode {
	var out []*xnode
	for _, k := range kids {
		if k.kind != xRange {
			out = append(out, k)
			continue
		}
		merged := false
		for i, o := range out {
			if o.kind == xRange && o.num == k.num {
				out[i] = rangeNode(k.num, combine(o.ranges, k.ranges))
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, k)
		}
	}
	return out
}

func dedupe(xs []*xnode) []*xnode {
	var out []*xnode
	for _, x := range xs {
		dup := false
		for _, o := range out {
			if o == x || (o.kind == xLeaf && x.kind == xLeaf && o.bm == x.bm) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}

// prepared is a plan bound to a view and optimised, ready to run. It is
// never written after prepare returns it, so queries share it.
type prepared struct {
	root     *xnode
	universe *xnode
	nchunks  int
	cost     int // passes over a chunk's words per chunk, at most: see planCost
}

// prepare binds and optimises p against v, or returns the tree an earlier
// query on the same version and as-of day built: a host that asks the same
// audience again and again (a dashboard, an operator editing a count) then
// pays no binding, no planning and no allocation per query.
func (v *View) prepare(p *Plan) (*prepared, error) {
	key := prepKey{p: p, asOf: v.asOf, hasAsOf: v.hasAsOf}
	if pr := v.st.prep.get(key); pr != nil {
		return pr, nil
	}
	if err := p.valid(); err != nil {
		return nil, err
	}
	b := newBinder(v.st, v.asOf, v.hasAsOf)
	x, err := b.bind(p)
	if err != nil {
		return nil, err
	}
	root := optimize(x, b.universe)
	pr := &prepared{root: root, universe: b.universe, nchunks: v.st.members.chunks(), cost: planCost(root)}
	v.st.prep.put(key, pr)
	return pr, nil
}

// planCost bounds the work of evaluating x on one chunk, in passes over
// the chunk's words: one per bitmap read, one per bit plane of a range
// scan and two for its exist and sign planes. Chunks held as arrays or
// skipped by an empty operand cost less; the bound decides whether a query
// is worth spreading over cores.
func planCost(x *xnode) int {
	switch x.kind {
	case xLeaf:
		return 1
	case xRange:
		return len(x.num.planes) + 2
	}
	n := 0
	for _, k := range x.kids {
		n += planCost(k)
	}
	for _, k := range x.neg {
		n += planCost(k)
	}
	return n
}

// prepCache holds the plans prepared against one published state. A plan
// is immutable and the state is too, so an entry never goes stale; it lives
// as long as the state, and so pins no bitmap of an older version. A nil
// cache (the state a transaction is still writing) caches nothing.
// Safe for concurrent use.
type prepCache struct {
	mu sync.Mutex
	m  map[prepKey]*prepared
}

type prepKey struct {
	p       *Plan
	asOf    Day
	hasAsOf bool
}

// prepCacheMax bounds the plans a state keeps: a host that compiles a new
// plan per request would otherwise grow the cache without end. When full
// it starts over, which costs one prepare per plan still in use.
const prepCacheMax = 256

func (c *prepCache) get(k prepKey) *prepared {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	pr := c.m[k]
	c.mu.Unlock()
	return pr
}

func (c *prepCache) put(k prepKey, pr *prepared) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= prepCacheMax {
		c.m = make(map[prepKey]*prepared)
	}
	c.m[k] = pr
	c.mu.Unlock()
}

// cres is one chunk of a result: bits, a sorted array, or empty.
type cres struct {
	w   *words
	arr []uint16
	n   int  // cardinality, -1 when not yet counted (bits only)
	own bool // w or arr is the runner's scratch: the holder returns it and may write it
}

func (c cres) empty() bool { return c.n == 0 || (c.w == nil && len(c.arr) == 0) }

func (c cres) card() int {
	switch {
	case c.w == nil:
		return len(c.arr)
	case c.n >= 0:
		return c.n
	default:
		return popcount(c.w)
	}
}

func (c cres) contains(x uint16) bool {
	if c.w != nil {
		return c.w[x>>6]&(1<<(x&63)) != 0
	}
	_, ok := slices.BinarySearch(c.arr, x)
	return ok
}

func containerRes(c *container) cres {
	switch {
	case c == nil:
		return cres{}
	case c.w != nil:
		return cres{w: c.w, n: int(c.n)}
	default:
		return cres{arr: c.arr, n: int(c.n)}
	}
}

// runner holds one goroutine's scratch for evaluating chunks.
type runner struct {
	free []*words
	arrs [][]uint16
	cp   chunkPlanes
	tmp  []*words      // scratch lent to cp for the chunk in progress
	lend func() *words // r.lendTmp, bound once
}

// lendTmp returns scratch words that the chunk in progress may hold until
// reclaim.
func (r *runner) lendTmp() *words {
	w := r.get()
	r.tmp = append(r.tmp, w)
	return w
}

// loadPlanes loads chunk k of s into r.cp with lent scratch.
func (r *runner) loadPlanes(s *bsi, k int) bool {
	if r.lend == nil {
		r.lend = r.lendTmp
	}
	r.tmp = r.tmp[:0]
	return r.cp.load(s, k, r.lend)
}

// reclaim takes back the scratch lent for the chunk in progress.
func (r *runner) reclaim() {
	r.free = append(r.free, r.tmp...)
	r.tmp = r.tmp[:0]
}

func (r *runner) get() *words {
	if n := len(r.free); n > 0 {
		w := r.free[n-1]
		r.free = r.free[:n-1]
		return w
	}
	return new(words)
}

func (r *runner) getArr() []uint16 {
	if n := len(r.arrs); n > 0 {
		a := r.arrs[n-1]
		r.arrs = r.arrs[:n-1]
		return a[:0]
	}
	return make([]uint16, 0, arrayMax)
}

func (r *runner) release(c cres) {
	if !c.own {
		return
	}
	if c.w != nil {
		r.free = append(r.free, c.w)
	} else if cap(c.arr) >= arrayMax {
		r.arrs = append(r.arrs, c.arr)
	}
}

// ownWords returns c as bits the runner may write, copying if need be.
func (r *runner) ownWords(c cres) cres {
	if c.own && c.w != nil {
		return c
	}
	w := r.get()
	if c.w != nil {
		*w = *c.w
	} else {
		clear(w[:])
		for _, v := range c.arr {
			w[v>>6] |= 1 << (v & 63)
		}
	}
	r.release(c)
	return cres{w: w, n: c.card(), own: true}
}

// eval evaluates x on chunk k.
func (r *runner) eval(x *xnode, k int) cres {
	switch x.kind {
	case xLeaf:
		return containerRes(x.bm.chunk(k))
	case xOr:
		return r.evalOr(x, k)
	case xAnd:
		c, _ := r.evalAnd(x, k, false)
		return c
	case xRange:
		return r.evalRange(x, k)
	}
	return cres{}
}

// count returns the cardinality of x on chunk k, fusing the last operation
// of an AND with the popcount so the result is never stored.
func (r *runner) count(x *xnode, k int) int {
	switch x.kind {
	case xLeaf:
		if c := x.bm.chunk(k); c != nil {
			return int(c.n)
		}
		return 0
	case xAnd:
		_, n := r.evalAnd(x, k, true)
		return n
	case xRange:
		return r.countRangeWithin(x, k, nil)
	case xOr:
		if x.disjoint {
			n := 0
			for _, kid := range x.kids {
				n += r.count(kid, k)
			}
			return n
		}
	}
	c := r.eval(x, k)
	n := c.card()
	r.release(c)
	return n
}

func (r *runner) evalOr(x *xnode, k int) cres {
	var acc cres
	have := false
	for _, kid := range x.kids {
		c := r.eval(kid, k)
		if c.empty() {
			r.release(c)
			continue
		}
		if c.w == fullWords {
			r.release(acc)
			return c
		}
		if !have {
			acc, have = c, true
			continue
		}
		if !acc.own || acc.w == nil {
			if acc.w != nil && c.w != nil {
				// Both borrowed bits: OR into fresh scratch in one pass.
				w := r.get()
				or2(w, acc.w, c.w)
				r.release(c)
				acc = cres{w: w, n: -1, own: true}
				continue
			}
			acc = r.ownWords(acc)
		}
		if c.w != nil {
			orInto2(acc.w, c.w)
		} else {
			for _, v := range c.arr {
				acc.w[v>>6] |= 1 << (v & 63)
			}
		}
		acc.n = -1
		r.release(c)
	}
	return acc
}

// evalAnd evaluates an AND (with AND-NOTs) on chunk k. With countOnly it
// returns just the cardinality, fusing the last step with the popcount.
func (r *runner) evalAnd(x *xnode, k int, countOnly bool) (cres, int) {
	return r.evalAndFrom(x, k, nil, countOnly)
}

// evalAndFrom evaluates an AND on chunk k; with a start it evaluates
// start ∩ the AND, beginning from start (which it does not release), so an
// outer intersection narrows the inner one from its first step.
func (r *runner) evalAndFrom(x *xnode, k int, start *cres, countOnly bool) (cres, int) {
	// A positive leaf with nothing in this chunk empties it: check them
	// all before touching any words.
	for _, p := range x.kids {
		if p.kind == xLeaf && p.bm.chunk(k) == nil {
			return cres{}, 0
		}
	}
	var acc cres
	first := 1
	if start != nil {
		acc = *start
		acc.own = false
		first = 0
	} else {
		acc = r.eval(x.kids[0], k)
	}
	if acc.empty() {
		r.release(acc)
		return cres{}, 0
	}
	steps := len(x.kids) - 1 + len(x.neg)
	for i := first; i <= steps; i++ {
		var kid *xnode
		negate := i >= len(x.kids)
		if negate {
			kid = x.neg[i-len(x.kids)]
		} else {
			kid = x.kids[i]
		}
		last := countOnly && i == steps
		var c cres
		if kid.kind == xRange && !negate && last {
			n := r.countRangeWithin(kid, k, &acc)
			r.release(acc)
			return cres{}, n
		}
		if kid.kind == xRange {
			c = r.evalRangeWithin(kid, k, &acc)
			if !negate {
				// The range was walked within acc, so it is the
				// intersection already.
				r.release(acc)
				if last {
					n := c.card()
					r.release(c)
					return cres{}, n
				}
				acc = c
				if acc.empty() {
					r.release(acc)
					return cres{}, 0
				}
				continue
			}
		} else if kid.kind == xOr && !negate && allLeaves(kid.kids) {
			var n int
			acc, n = r.andOrLeaves(acc, kid.kids, k, last)
			if last {
				return cres{}, n
			}
			if acc.empty() {
				r.release(acc)
				return cres{}, 0
			}
			continue
		} else if kid.kind == xAnd && negate {
			// acc \ (a ∩ b …) = acc \ (acc ∩ a ∩ b …): walk the inner AND
			// from acc, which it can only narrow.
			c, _ = r.evalAndFrom(kid, k, &acc, false)
		} else {
			c = r.eval(kid, k)
		}
		var n int
		acc, n = r.combine(acc, c, negate, last)
		if last {
			return cres{}, n
		}
		if acc.empty() {
			r.release(acc)
			return cres{}, 0
		}
		// A small result is cheaper to carry as an array: every later step
		// then costs one bit test per member instead of 1024 words.
		if acc.w != nil && acc.n >= 0 && acc.n < arrayMax/4 && i < steps {
			arr := appendBits(r.getArr(), acc.w)
			r.release(acc)
			acc = cres{arr: arr, n: len(arr), own: true}
		}
	}
	if countOnly {
		n := acc.card()
		r.release(acc)
		return cres{}, n
	}
	return acc, acc.card()
}

// andOrLeaves returns acc ∩ (l1 ∪ l2 ∪ …) for leaves on chunk k in one pass
// over the words, without building the union: the common "tag and any of
// these tags" step. It releases acc when it replaces it; with countOnly it
// returns only the count.
func (r *runner) andOrLeaves(acc cres, leaves []*xnode, k int, countOnly bool) (cres, int) {
	var ws []*words
	var arrs [][]uint16
	for _, l := range leaves {
		c := l.bm.chunk(k)
		switch {
		case c == nil:
		case c.w == fullWords:
			if countOnly {
				n := acc.card()
				r.release(acc)
				return cres{}, n
			}
			return acc, 0
		case c.w != nil:
			ws = append(ws, c.w)
		default:
			arrs = append(arrs, c.arr)
		}
	}
	if len(ws) == 0 && len(arrs) == 0 {
		r.release(acc)
		return cres{}, 0
	}
	if acc.w == nil || acc.w == fullWords && len(ws) == 0 {
		if acc.w == fullWords {
			// Full ∩ union of arrays: the union itself.
			u := r.getArr()
			for _, a := range arrs {
				u = unionArr(u, a)
			}
			return r.finish(cres{arr: u, n: len(u), own: true}, countOnly)
		}
		// Keep the members of the array found in any leaf.
		out := acc.arr[:0]
		if !acc.own {
			out = r.getArr()
		}
		for _, v := range acc.arr {
			hit := false
			for _, w := range ws {
				if w[v>>6]&(1<<(v&63)) != 0 {
					hit = true
					break
				}
			}
			for i := 0; !hit && i < len(arrs); i++ {
				_, hit = slices.BinarySearch(arrs[i], v)
			}
			if hit {
				out = append(out, v)
			}
		}
		return r.finish(cres{arr: out, n: len(out), own: true}, countOnly)
	}
	// Members of the arrays that acc holds, read before acc may be
	// overwritten in place.
	var extra []uint16
	for _, a := range arrs {
		for _, v := range a {
			if acc.w[v>>6]&(1<<(v&63)) != 0 {
				extra = append(extra, v)
			}
		}
	}
	if countOnly && len(extra) == 0 {
		n := andUnionCount(acc.w, ws)
		r.release(acc)
		return cres{}, n
	}
	dst := acc.w
	if !acc.own {
		dst = r.get()
	}
	n := andUnion(dst, acc.w, ws)
	for _, v := range extra {
		m := uint64(1) << (v & 63)
		if dst[v>>6]&m == 0 {
			dst[v>>6] |= m
			n++
		}
	}
	return r.finish(cres{w: dst, n: n, own: true}, countOnly)
}

// finish returns c, or with countOnly its cardinality having released it.
func (r *runner) finish(c cres, countOnly bool) (cres, int) {
	if !countOnly {
		return c, 0
	}
	n := c.card()
	r.release(c)
	return cres{}, n
}

// unionArr merges sorted b into sorted a.
func unionArr(a, b []uint16) []uint16 {
	if len(a) == 0 {
		return append(a, b...)
	}
	out := make([]uint16, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// andUnion sets dst = a ∩ (ws[0] ∪ ws[1] ∪ …) and returns its cardinality;
// dst may be a.
func andUnion(dst, a *words, ws []*words) int {
	n := 0
	switch len(ws) {
	case 1:
		return and3(dst, a, ws[0])
	case 2:
		b, c := ws[0], ws[1]
		for i := range dst {
			x := a[i] & (b[i] | c[i])
			dst[i] = x
			n += bits.OnesCount64(x)
		}
	case 3:
		b, c, d := ws[0], ws[1], ws[2]
		for i := range dst {
			x := a[i] & (b[i] | c[i] | d[i])
			dst[i] = x
			n += bits.OnesCount64(x)
		}
	default:
		for i := range dst {
			var u uint64
			for _, w := range ws {
				u |= w[i]
			}
			x := a[i] & u
			dst[i] = x
			n += bits.OnesCount64(x)
		}
	}
	return n
}

// andUnionCount is andUnion's cardinality without storing the result.
func andUnionCount(a *words, ws []*words) int {
	n := 0
	switch len(ws) {
	case 1:
		return popAnd(a, ws[0])
	case 2:
		b, c := ws[0], ws[1]
		for i := range a {
			n += bits.OnesCount64(a[i] & (b[i] | c[i]))
		}
	default:
		for i := range a {
			var u uint64
			for _, w := range ws {
				u |= w[i]
			}
			n += bits.OnesCount64(a[i] & u)
		}
	}
	return n
}

// combine returns acc ∩ c (or acc \ c when negate), releasing c and, when
// it is replaced, acc. With countOnly it returns only the cardinality (and
// releases acc); otherwise the returned count is not meaningful.
func (r *runner) combine(acc, c cres, negate, countOnly bool) (cres, int) {
	defer func() { r.release(c) }()
	done := func(res cres) (cres, int) {
		if countOnly {
			n := res.card()
			r.release(res)
			return cres{}, n
		}
		return res, 0
	}
	if c.empty() {
		if negate {
			return done(acc)
		}
		r.release(acc)
		return cres{}, 0
	}
	if c.w == fullWords {
		if negate {
			r.release(acc)
			return cres{}, 0
		}
		return done(acc)
	}
	if acc.w == fullWords && !negate {
		// Full ∩ c is c; hand c's scratch over instead of releasing it.
		res := c
		c.own = false
		return done(res)
	}
	switch {
	case acc.w == nil && c.w == nil:
		var out []uint16
		if !countOnly {
			if acc.own {
				out = acc.arr[:0] // the merges write behind where they read
			} else {
				out = r.getArr()
			}
		}
		var n int
		if negate {
			out, n = differenceArr(out, acc.arr, c.arr, countOnly)
		} else {
			out, n = intersectArr(out, acc.arr, c.arr, countOnly)
		}
		if countOnly {
			r.release(acc)
			return cres{}, n
		}
		return cres{arr: out, n: n, own: true}, 0
	case acc.w == nil:
		if countOnly {
			n := 0
			for _, v := range acc.arr {
				if (c.w[v>>6]&(1<<(v&63)) != 0) != negate {
					n++
				}
			}
			r.release(acc)
			return cres{}, n
		}
		// Filter the array by the bits, in place when it is scratch.
		out := acc.arr[:0]
		if !acc.own {
			out = r.getArr()
		}
		for _, v := range acc.arr {
			if (c.w[v>>6]&(1<<(v&63)) != 0) != negate {
				out = append(out, v)
			}
		}
		return cres{arr: out, n: len(out), own: true}, 0
	case c.w == nil && !negate:
		// The intersection is the part of c's array set in acc.
		n := 0
		var out []uint16
		if !countOnly {
			out = r.getArr()
		}
		for _, v := range c.arr {
			if acc.w[v>>6]&(1<<(v&63)) != 0 {
				n++
				if !countOnly {
					out = append(out, v)
				}
			}
		}
		r.release(acc)
		if countOnly {
			return cres{}, n
		}
		return cres{arr: out, n: n, own: true}, 0
	case c.w == nil:
		if countOnly {
			n := acc.card()
			for _, v := range c.arr {
				if acc.w[v>>6]&(1<<(v&63)) != 0 {
					n--
				}
			}
			r.release(acc)
			return cres{}, n
		}
		acc = r.ownWords(acc)
		for _, v := range c.arr {
			m := uint64(1) << (v & 63)
			if acc.w[v>>6]&m != 0 {
				acc.w[v>>6] &^= m
				if acc.n > 0 {
					acc.n--
				}
			}
		}
		return acc, 0
	}
	// Bits with bits: the hot path.
	if countOnly {
		var n int
		if negate {
			n = popAndNot(acc.w, c.w)
		} else {
			n = popAnd(acc.w, c.w)
		}
		r.release(acc)
		return cres{}, n
	}
	dst := acc.w
	if !acc.own {
		dst = r.get()
	}
	var n int
	if negate {
		n = andNot3(dst, acc.w, c.w)
	} else {
		n = and3(dst, acc.w, c.w)
	}
	return cres{w: dst, n: n, own: true}, 0
}

// intersectArr and differenceArr combine sorted arrays; out may alias a.
// Arrays of similar length are merged; when one is far shorter each of its
// values is found in the other by binary search, so a handful of members
// against a thousand costs a handful of searches, not a thousand steps.
func intersectArr(out, a, b []uint16, countOnly bool) ([]uint16, int) {
	n := 0
	if len(a)*16 < len(b) || len(b)*16 < len(a) {
		small, large := a, b
		if len(b) < len(a) {
			small, large = b, a
		}
		for _, v := range small {
			i, found := slices.BinarySearch(large, v)
			large = large[i:]
			if found {
				if !countOnly {
					out = append(out, v) // behind the reads even when out aliases a
				}
				n++
			}
		}
		return out, n
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			if !countOnly {
				out = append(out, a[i])
			}
			n++
			i++
			j++
		}
	}
	return out, n
}

func differenceArr(out, a, b []uint16, countOnly bool) ([]uint16, int) {
	n := 0
	if len(a)*16 < len(b) {
		for _, v := range a {
			i, found := slices.BinarySearch(b, v)
			b = b[i:]
			if !found {
				if !countOnly {
					out = append(out, v)
				}
				n++
			}
		}
		return out, n
	}
	j := 0
	for _, v := range a {
		for j < len(b) && b[j] < v {
			j++
		}
		if j < len(b) && b[j] == v {
			continue
		}
		if !countOnly {
			out = append(out, v)
		}
		n++
	}
	return out, n
}

// evalRange evaluates a BSI range node on chunk k.
func (r *runner) evalRange(x *xnode, k int) cres {
	c, _ := r.rangeWithin(x, k, nil, false)
	return c
}

// evalRangeWithin is evalRange among the members of mask only.
func (r *runner) evalRangeWithin(x *xnode, k int, mask *cres) cres {
	c, _ := r.rangeWithin(x, k, mask, false)
	return c
}

// countRangeWithin counts what evalRangeWithin would return. The ranges are
// disjoint, so their counts add up without a bitmap of the result.
func (r *runner) countRangeWithin(x *xnode, k int, mask *cres) int {
	_, n := r.rangeWithin(x, k, mask, true)
	return n
}

// rangeWithin evaluates a BSI range node on chunk k among the members of
// mask only (all members when mask is nil): an AND pushed into the
// bit-plane walk, which then starts from fewer members and settles sooner.
// With countOnly it returns just the count.
func (r *runner) rangeWithin(x *xnode, k int, mask *cres, countOnly bool) (cres, int) {
	s := x.num
	ec := s.exist.chunk(k)
	if ec == nil || (mask != nil && mask.empty()) {
		return cres{}, 0
	}
	var few []uint16 // candidates to test one by one, when few
	switch {
	case mask != nil && mask.w == nil && len(mask.arr) <= sparseRangeMax:
		few = mask.arr
	case ec.w == nil && ec.n <= sparseRangeMax:
		few = ec.arr
	}
	if few != nil {
		// Reading each candidate's value costs less than expanding every
		// plane to words.
		out := r.getArr()
		for _, v := range few {
			if (mask == nil || mask.contains(v)) && ec.contains(v) && inRanges(x.ranges, valueAt(s, k, v)) {
				out = append(out, v)
			}
		}
		if countOnly {
			n := len(out)
			r.release(cres{arr: out, own: true})
			return cres{}, n
		}
		return cres{arr: out, n: len(out), own: true}, len(out)
	}
	r.loadPlanes(s, k)
	defer r.reclaim()
	if mask != nil {
		// Restrict the walk to the mask: exist and sign both, since the
		// negative values are walked from sign.
		m := mask.w
		if m == nil {
			m = r.lendTmp()
			clear(m[:])
			for _, v := range mask.arr {
				m[v>>6] |= 1 << (v & 63)
			}
		}
		e, sg := r.lendTmp(), r.lendTmp()
		for j := range e {
			e[j] = r.cp.exist[j] & m[j]
			sg[j] = r.cp.sign[j] & m[j]
		}
		r.cp.exist, r.cp.sign = e, sg
	}
	if countOnly {
		if x.comp != nil {
			n := popcount(r.cp.exist)
			for _, rg := range x.comp {
				n -= r.cp.rangeInto(nil, rg)
			}
			return cres{}, n
		}
		n := 0
		for _, rg := range x.ranges {
			n += r.cp.rangeInto(nil, rg)
		}
		return cres{}, n
	}
	out := r.get()
	clear(out[:])
	if x.comp != nil {
		for _, rg := range x.comp {
			r.cp.rangeInto(out, rg)
		}
		for j := range out {
			out[j] = r.cp.exist[j] &^ out[j]
		}
	} else {
		for _, rg := range x.ranges {
			r.cp.rangeInto(out, rg)
		}
	}
	return cres{w: out, n: -1, own: true}, 0
}

// sparseRangeMax is the number of values in a chunk below which a range is
// answered member by member.
const sparseRangeMax = 256

func valueAt(s *bsi, k int, x uint16) int64 {
	var m uint64
	for i, p := range s.planes {
		if c := p.chunk(k); c != nil && c.contains(x) {
			m |= 1 << i
		}
	}
	if c := s.sign.chunk(k); c != nil && c.contains(x) {
		return -int64(m)
	}
	return int64(m)
}

func inRanges(rs []valRange, v int64) bool {
	i, _ := slices.BinarySearchFunc(rs, v, func(r valRange, v int64) int {
		switch {
		case r.hi < v:
			return -1
		case r.lo > v:
			return 1
		}
		return 0
	})
	return i < len(rs) && rs[i].lo <= v && v <= rs[i].hi
}

// Word kernels. Unrolled by four so the popcounts of independent words
// overlap; the loops are over fixed-size arrays, so no bounds checks.

func popAnd(a, b *words) int {
	n := 0
	for i := 0; i < chunkWords; i += 4 {
		n += bits.OnesCount64(a[i]&b[i]) + bits.OnesCount64(a[i+1]&b[i+1]) +
			bits.OnesCount64(a[i+2]&b[i+2]) + bits.OnesCount64(a[i+3]&b[i+3])
	}
	return n
}

func popAndNot(a, b *words) int {
	n := 0
	for i := 0; i < chunkWords; i += 4 {
		n += bits.OnesCount64(a[i]&^b[i]) + bits.OnesCount64(a[i+1]&^b[i+1]) +
			bits.OnesCount64(a[i+2]&^b[i+2]) + bits.OnesCount64(a[i+3]&^b[i+3])
	}
	return n
}

func and3(dst, a, b *words) int {
	n := 0
	for i := 0; i < chunkWords; i += 4 {
		x0, x1, x2, x3 := a[i]&b[i], a[i+1]&b[i+1], a[i+2]&b[i+2], a[i+3]&b[i+3]
		dst[i], dst[i+1], dst[i+2], dst[i+3] = x0, x1, x2, x3
		n += bits.OnesCount64(x0) + bits.OnesCount64(x1) + bits.OnesCount64(x2) + bits.OnesCount64(x3)
	}
	return n
}

func andNot3(dst, a, b *words) int {
	n := 0
	for i := 0; i < chunkWords; i += 4 {
		x0, x1, x2, x3 := a[i]&^b[i], a[i+1]&^b[i+1], a[i+2]&^b[i+2], a[i+3]&^b[i+3]
		dst[i], dst[i+1], dst[i+2], dst[i+3] = x0, x1, x2, x3
		n += bits.OnesCount64(x0) + bits.OnesCount64(x1) + bits.OnesCount64(x2) + bits.OnesCount64(x3)
	}
	return n
}

func or2(dst, a, b *words) {
	for i := range dst {
		dst[i] = a[i] | b[i]
	}
}

func orInto2(dst, a *words) {
	for i := range dst {
		dst[i] |= a[i]
	}
}
