package segment

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refModel is the naive reference the index is checked against: plain maps
// of per-member slices, scanned member by member.
type refModel struct {
	members map[uint32]bool
	tags    map[string]*refCol[bool]
	enums   map[string]*refCol[string] // "" is no value
	ints    map[string]*refCol[*int64] // nil is no value
	events  map[string]map[Day]*refCol[bool]
	segs    map[string]*Plan
	list    []uint32 // sorted members, rebuilt on demand
}

// refCol is a column indexed by member ID.
type refCol[T any] struct{ v []T }

func (c *refCol[T]) get(id uint32) T {
	var zero T
	if c == nil || int(id) >= len(c.v) {
		return zero
	}
	return c.v[id]
}

func (c *refCol[T]) set(id uint32, x T) {
	if int(id) >= len(c.v) {
		c.v = append(c.v, make([]T, int(id)+1-len(c.v))...)
	}
	c.v[id] = x
}

func (c *refCol[T]) clone() *refCol[T] { return &refCol[T]{slices.Clone(c.v)} }

func newRef() *refModel {
	return &refModel{
		members: map[uint32]bool{}, tags: map[string]*refCol[bool]{},
		enums: map[string]*refCol[string]{}, ints: map[string]*refCol[*int64]{},
		events: map[string]map[Day]*refCol[bool]{}, segs: map[string]*Plan{},
	}
}

func (m *refModel) clone() *refModel {
	c := newRef()
	c.members = maps.Clone(m.members)
	for k, v := range m.tags {
		c.tags[k] = v.clone()
	}
	for k, v := range m.enums {
		c.enums[k] = v.clone()
	}
	for k, v := range m.ints {
		c.ints[k] = v.clone()
	}
	for k, v := range m.events {
		c.events[k] = map[Day]*refCol[bool]{}
		for d, s := range v {
			c.events[k][d] = s.clone()
		}
	}
	c.segs = maps.Clone(m.segs)
	return c
}

func (m *refModel) addMember(id uint32) {
	if !m.members[id] {
		m.members[id] = true
		m.list = nil
	}
}

func (m *refModel) sortedMembers() []uint32 {
	if m.list == nil {
		m.list = slices.Sorted(maps.Keys(m.members))
	}
	return m.list
}

// match evaluates p for one member, straight from the plan's meaning.
func (m *refModel) match(p *Plan, id uint32, asOf Day) bool {
	switch p.kind {
	case pAll:
		return true
	case pNone:
		return false
	case pTag:
		return m.tags[p.name].get(id)
	case pEnum:
		v := m.enums[p.name].get(id)
		return v != "" && slices.Contains(p.values, v)
	case pHas:
		if e, ok := m.enums[p.name]; ok {
			return e.get(id) != ""
		}
		return m.ints[p.name].get(id) != nil
	case pCmp, pBetween, pIntIn:
		pv := m.ints[p.name].get(id)
		if pv == nil {
			return false
		}
		v := *pv
		switch p.kind {
		case pBetween:
			return p.a <= v && v <= p.b
		case pIntIn:
			return slices.Contains(p.ints, v)
		}
		switch p.op {
		case Eq:
			return v == p.a
		case Ne:
			return v != p.a
		case Lt:
			return v < p.a
		case Le:
			return v <= p.a
		case Gt:
			return v > p.a
		case Ge:
			return v >= p.a
		}
	case pActive:
		last := asOf
		if p.fixed {
			last = p.until
		}
		for d := last - Day(p.days) + 1; d <= last; d++ {
			if m.events[p.name][d].get(id) {
				return true
			}
		}
		return false
	case pRef:
		return m.match(m.segs[p.name], id, asOf)
	case pAnd:
		for _, k := range p.kids {
			if !m.match(k, id, asOf) {
				return false
			}
		}
		return true
	case pOr:
		for _, k := range p.kids {
			if m.match(k, id, asOf) {
				return true
			}
		}
		return false
	case pNot:
		return !m.match(p.kids[0], id, asOf)
	}
	panic(fmt.Sprintf("plan kind %d", p.kind))
}

func (m *refModel) eval(p *Plan, asOf Day) []uint32 {
	var out []uint32
	for _, id := range m.sortedMembers() {
		if m.match(p, id, asOf) {
			out = append(out, id)
		}
	}
	return out
}

func ptr(v int64) *int64 { return &v }

// refData fills an index and a reference with the same random data: tags
// of densities from 50% to 0.3%, random and clustered (a whole full chunk),
// one near roaring's array/bitmap threshold, an enum, ints of small, wide
// and extreme ranges with negatives, and 20 days of events.
func refData(t testing.TB, rng *rand.Rand, n uint32) (*Index, *refModel) {
	t.Helper()
	ix := New(nil)
	m := newRef()
	day0 := Day(19800)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		for _, name := range []string{"dense", "sparse", "clustered", "threshold", "empty"} {
			require.NoError(t, tx.Declare(name, KindTag))
			m.tags[name] = &refCol[bool]{}
		}
		require.NoError(t, tx.Declare("tier", KindEnum))
		m.enums["tier"] = &refCol[string]{}
		for _, name := range []string{"small", "wide", "age"} {
			require.NoError(t, tx.Declare(name, KindInt))
			m.ints[name] = &refCol[*int64]{}
		}
		require.NoError(t, tx.Declare("buy", KindEvent))
		m.events["buy"] = map[Day]*refCol[bool]{}

		dense, clustered, threshold := roaring.New(), roaring.New(), roaring.New()
		var sparse []uint32
		tiers := map[string]*roaring.Bitmap{}
		var smallIDs []uint32
		var smallVals []int64
		ages := make([]int64, n)
		agePresent := roaring.New()
		for id := range n {
			m.addMember(id)
			if rng.IntN(2) == 0 {
				dense.Add(id)
				m.tags["dense"].set(id, true)
			}
			if rng.IntN(300) == 0 {
				sparse = append(sparse, id)
				m.tags["sparse"].set(id, true)
			}
			if (id >= chunkSize && id < 2*chunkSize) || (id >= 1000 && id < 1100) {
				clustered.Add(id)
				m.tags["clustered"].set(id, true)
			}
			if rng.IntN(16) == 0 {
				threshold.Add(id)
				m.tags["threshold"].set(id, true)
			}
			if r := rng.IntN(10); r < 6 {
				v := []string{"gold", "silver", "bronze", "gold", "iron", "gold"}[r]
				if tiers[v] == nil {
					tiers[v] = roaring.New()
				}
				tiers[v].Add(id)
				m.enums["tier"].set(id, v)
			}
			if rng.IntN(10) < 7 {
				v := rng.Int64N(2001) - 1000
				smallIDs = append(smallIDs, id)
				smallVals = append(smallVals, v)
				m.ints["small"].set(id, ptr(v))
			}
			if rng.IntN(10) < 9 {
				ages[id] = rng.Int64N(121)
				agePresent.Add(id)
				m.ints["age"].set(id, ptr(ages[id]))
			}
		}
		require.NoError(t, tx.AddMemberRange(0, n))
		require.NoError(t, tx.ReplaceTag("dense", dense))
		require.NoError(t, tx.AddTag("sparse", sparse...))
		require.NoError(t, tx.ReplaceTag("clustered", clustered))
		require.NoError(t, tx.ReplaceTag("threshold", threshold))
		require.NoError(t, tx.ReplaceEnum("tier", tiers))
		require.NoError(t, tx.ReplaceInt("small", smallIDs, smallVals))
		require.NoError(t, tx.ReplaceIntColumn("age", ages, agePresent))
		// Wide values one by one, extremes included, through SetInt.
		for range n / 20 {
			id := rng.Uint32N(n)
			var v int64
			switch rng.IntN(6) {
			case 0:
				v = math.MinInt64
			case 1:
				v = math.MaxInt64
			case 2:
				v = -rng.Int64()
			default:
				v = rng.Int64()
			}
			require.NoError(t, tx.SetInt("wide", id, v))
			m.ints["wide"].set(id, ptr(v))
		}
		for d := range Day(20) {
			// Up to 10% of members a day; duplicates are fine.
			act := make([]uint32, rng.IntN(int(n)/10))
			for i := range act {
				act[i] = rng.Uint32N(n)
			}
			if d%2 == 0 {
				require.NoError(t, tx.RecordActivityDay("buy", day0+d, act...))
			} else {
				require.NoError(t, tx.ReplaceActivityDay("buy", day0+d, roaring.BitmapOf(act...)))
			}
			if len(act) > 0 {
				col := &refCol[bool]{}
				for _, id := range act {
					col.set(id, true)
				}
				m.events["buy"][day0+d] = col
			}
		}
		// A few members far out, in a chunk of their own.
		for _, id := range []uint32{n + 300000, n + 300001, n + 300500} {
			require.NoError(t, tx.AddTag("sparse", id))
			m.tags["sparse"].set(id, true)
			m.members[id] = true
		}
		return nil
	}))
	return ix, m
}

// planGen makes random plans over refData's fields.
type planGen struct {
	rng  *rand.Rand
	segs []string
	day0 Day
}

func (g *planGen) leaf() *Plan {
	r := g.rng
	intField := []string{"small", "wide", "age"}[r.IntN(3)]
	constant := func() int64 {
		switch intField {
		case "small":
			return r.Int64N(2201) - 1100
		case "age":
			return r.Int64N(130) - 5
		}
		switch r.IntN(4) {
		case 0:
			return math.MinInt64 + r.Int64N(2)
		case 1:
			return math.MaxInt64 - r.Int64N(2)
		case 2:
			return 0
		}
		return r.Int64() - r.Int64()
	}
	switch r.IntN(13) {
	case 0:
		return Tag([]string{"dense", "sparse", "clustered", "threshold", "empty"}[r.IntN(5)])
	case 1:
		return Enum("tier", []string{"gold", "silver", "bronze", "iron", "none"}[r.IntN(5)])
	case 2:
		return EnumIn("tier", "silver", []string{"gold", "iron", "none"}[r.IntN(3)])
	case 3:
		return Has([]string{"tier", "small", "wide", "age"}[r.IntN(4)])
	case 4, 5:
		return Cmp(intField, Op(1+r.IntN(6)), constant())
	case 6:
		a, b := constant(), constant()
		if r.IntN(4) > 0 && a > b {
			a, b = b, a
		}
		return Between(intField, a, b)
	case 7:
		vals := make([]int64, 1+r.IntN(5))
		for i := range vals {
			vals[i] = constant()
		}
		if intField == "age" {
			vals = append(vals, vals[0]+1) // adjacent values merge into ranges
		}
		return IntIn(intField, vals...)
	case 8:
		return Active("buy", 1+r.IntN(25))
	case 9:
		return ActiveUntil("buy", 1+r.IntN(8), g.day0+Day(r.IntN(24)))
	case 10:
		if len(g.segs) > 0 {
			return Ref(g.segs[r.IntN(len(g.segs))])
		}
		return Tag("dense")
	case 11:
		return []*Plan{All(), None()}[r.IntN(2)]
	default:
		return Tag([]string{"dense", "threshold"}[r.IntN(2)])
	}
}

func (g *planGen) plan(depth int) *Plan {
	r := g.rng
	if depth == 0 || r.IntN(3) == 0 {
		return g.leaf()
	}
	switch r.IntN(5) {
	case 0:
		return Not(g.plan(depth - 1))
	case 1, 2:
		kids := make([]*Plan, 1+r.IntN(4))
		for i := range kids {
			kids[i] = g.plan(depth - 1)
		}
		return And(kids...)
	default:
		kids := make([]*Plan, 1+r.IntN(4))
		for i := range kids {
			kids[i] = g.plan(depth - 1)
		}
		return Or(kids...)
	}
}

func TestPropertyAgainstReference(t *testing.T) {
	for seed := range uint64(scaled(2)) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			// Just past two chunks: one full chunk, one partial, one far.
			ix, ref := refData(t, rng, 2*chunkSize+1000+uint32(rng.IntN(3000)))
			g := &planGen{rng: rng, day0: 19800}
			// Saved segments built from random plans, some referencing others.
			require.NoError(t, ix.Update(func(tx *Tx) error {
				for i := range 3 {
					name := fmt.Sprint("seg", i)
					p := g.plan(2)
					require.NoError(t, tx.SaveSegment(name, p))
					ref.segs[name] = p
					g.segs = append(g.segs, name)
				}
				return nil
			}))
			asOf := g.day0 + Day(rng.IntN(22))
			v := ix.View().AtDay(asOf)
			for i := range scaled(30) {
				p := g.plan(3)
				want := ref.eval(p, asOf)
				checkPlanAgainst(t, v, p, want, fmt.Sprintf("plan %d: %v", i, p))
			}
		})
	}
}

// scaled returns n, or half of it under the race detector.
func scaled(n int) int {
	if raceEnabled {
		return max(1, n/2)
	}
	return n
}

// checkPlanAgainst compares every way of reading a plan's result with want.
func checkPlanAgainst(t *testing.T, v *View, p *Plan, want []uint32, msg string) {
	t.Helper()
	n, err := v.Count(p)
	require.NoError(t, err, msg)
	if !assert.Equal(t, uint64(len(want)), n, "count of %s", msg) {
		return
	}
	sameIDs(t, want, ids(t, v, p), "ids of %s", msg)
	bm, err := v.Bitmap(p)
	require.NoError(t, err)
	sameIDs(t, want, bm.ToArray(), "bitmap of %s", msg)
	if len(want) > 0 {
		// Pages of a random size, walked to the end, give the same IDs.
		size := 1 + len(want)/3
		var paged []uint32
		from := uint32(0)
		for {
			pg, err := v.Page(p, from, size)
			require.NoError(t, err)
			paged = append(paged, pg.IDs...)
			if !pg.More {
				break
			}
			from = pg.Next
		}
		sameIDs(t, want, paged, "pages of %s", msg)
	}
}

// sameIDs is assert.Equal for ID lists, without reflection on the happy
// path (it dominates the run time under -race otherwise).
func sameIDs(t *testing.T, want, got []uint32, msgAndArgs ...any) bool {
	t.Helper()
	if slices.Equal(want, got) {
		return true
	}
	return assert.Equal(t, want, got, msgAndArgs...)
}

func TestPropertyTopNAndStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	ix, ref := refData(t, rng, 70000)
	g := &planGen{rng: rng, day0: 19800}
	v := ix.View().AtDay(g.day0 + 19)
	for i := range scaled(12) {
		p := g.plan(2)
		audience := ref.eval(p, g.day0+19)

		counts := map[string]uint64{}
		for _, id := range audience {
			if val := ref.enums["tier"].get(id); val != "" {
				counts[val]++
			}
		}
		var want []ValueCount
		for val, c := range counts {
			want = append(want, ValueCount{val, c})
		}
		slices.SortFunc(want, func(a, b ValueCount) int {
			if c := cmp.Compare(b.Count, a.Count); c != 0 {
				return c
			}
			return cmp.Compare(a.Value, b.Value)
		})
		got, err := v.TopN(p, "tier", 0)
		require.NoError(t, err)
		assert.Equal(t, want, got, "topN of plan %d: %v", i, p)
		top2, _ := v.TopN(p, "tier", 2)
		assert.Equal(t, want[:min(2, len(want))], top2)

		for _, field := range []string{"small", "age", "wide"} {
			var st IntStats
			var sum int128
			st.Min, st.Max = math.MaxInt64, math.MinInt64
			for _, id := range audience {
				px := ref.ints[field].get(id)
				if px == nil {
					continue
				}
				x := *px
				st.Count++
				if x < 0 {
					var neg int128
					neg.addShifted(uint64(-x), 0) // -MinInt64 wraps to 2^63, as wanted
					sum.sub(neg)
				} else {
					sum.addShifted(uint64(x), 0)
				}
				st.Min, st.Max = min(st.Min, x), max(st.Max, x)
			}
			got, err := v.IntStats(p, field)
			if st.Count == 0 {
				require.NoError(t, err)
				assert.Equal(t, IntStats{}, got)
				continue
			}
			s, fits := sum.int64()
			if !fits {
				assert.ErrorIs(t, err, ErrOverflow, "%s over plan %d", field, i)
				continue
			}
			st.Sum = s
			require.NoError(t, err)
			assert.Equal(t, st, got, "%s over plan %d: %v", field, i, p)
		}
	}
}

// TestPropertyWritesAndVersions applies random single-member writes to the
// index and the reference alike and checks that each committed version
// answers like the reference at that point, and that earlier views keep
// answering like the reference did then.
func TestPropertyWritesAndVersions(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	const n = 66000
	ix, ref := refData(t, rng, n)
	g := &planGen{rng: rng, day0: 19800}
	type version struct {
		v   *View
		ref *refModel
	}
	var versions []version
	for round := range scaled(5) {
		require.NoError(t, ix.Update(func(tx *Tx) error {
			for range 200 {
				id := rng.Uint32N(n + 10)
				switch rng.IntN(11) {
				case 0:
					require.NoError(t, tx.AddTag("dense", id))
					ref.tags["dense"].set(id, true)
					ref.addMember(id)
				case 1:
					require.NoError(t, tx.RemoveTag("clustered", id))
					ref.tags["clustered"].set(id, false)
				case 2:
					val := []string{"gold", "silver", "new"}[rng.IntN(3)]
					require.NoError(t, tx.SetEnum("tier", id, val))
					ref.enums["tier"].set(id, val)
					ref.addMember(id)
				case 3:
					require.NoError(t, tx.ClearEnum("tier", id))
					ref.enums["tier"].set(id, "")
				case 4:
					x := rng.Int64N(1<<40) - 1<<39
					require.NoError(t, tx.SetInt("small", id, x))
					ref.ints["small"].set(id, ptr(x))
					ref.addMember(id)
				case 5:
					require.NoError(t, tx.ClearInt("age", id))
					ref.ints["age"].set(id, nil)
				case 6:
					d := g.day0 + Day(rng.IntN(20))
					require.NoError(t, tx.RecordActivityDay("buy", d, id))
					if ref.events["buy"][d] == nil {
						ref.events["buy"][d] = &refCol[bool]{}
					}
					ref.events["buy"][d].set(id, true)
					ref.addMember(id)
				case 7:
					require.NoError(t, tx.RemoveMember(id))
					ref.remove(id)
				case 8:
					loser := rng.Uint32N(n)
					if loser == id {
						continue
					}
					require.NoError(t, tx.MergeMember(id, loser))
					ref.merge(id, loser)
				case 9:
					require.NoError(t, tx.AddTag("threshold", id))
					ref.tags["threshold"].set(id, true)
					ref.addMember(id)
				default:
					require.NoError(t, tx.RemoveTag("threshold", id))
					ref.tags["threshold"].set(id, false)
				}
			}
			return nil
		}))
		versions = append(versions, version{ix.View().AtDay(g.day0 + 19), ref.clone()})
		for i := range 4 {
			p := g.plan(3)
			for _, ver := range versions {
				checkPlanAgainst(t, ver.v, p, ver.ref.eval(p, g.day0+19),
					fmt.Sprintf("round %d plan %d on version %d: %v", round, i, ver.v.Version(), p))
			}
		}
	}
}

func (m *refModel) remove(id uint32) {
	if !m.members[id] {
		return
	}
	delete(m.members, id)
	m.list = nil
	for _, s := range m.tags {
		s.set(id, false)
	}
	for _, s := range m.enums {
		s.set(id, "")
	}
	for _, s := range m.ints {
		s.set(id, nil)
	}
	for _, days := range m.events {
		for _, s := range days {
			s.set(id, false)
		}
	}
}

func (m *refModel) merge(survivor, loser uint32) {
	if !m.members[loser] {
		return
	}
	for _, s := range m.tags {
		if s.get(loser) {
			s.set(survivor, true)
		}
	}
	for _, s := range m.enums {
		if v := s.get(loser); v != "" && s.get(survivor) == "" {
			s.set(survivor, v)
		}
	}
	for _, s := range m.ints {
		if v := s.get(loser); v != nil && s.get(survivor) == nil {
			s.set(survivor, v)
		}
	}
	for _, days := range m.events {
		for _, s := range days {
			if s.get(loser) {
				s.set(survivor, true)
			}
		}
	}
	m.addMember(survivor)
	m.remove(loser)
}
