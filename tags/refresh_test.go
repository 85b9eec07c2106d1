package tags

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/segment"
)

// retailMembers are five members with hand-picked values.
func retailMembers(t testing.TB, s *Schema, loc *time.Location) []*Record {
	rows := []map[string]any{
		{"orders_90d": 5, "spend_365d": 620000, "tier": "gold", "channels": []string{"miniapp", "store"},
			"rx_categories": map[string]int64{"diabetes": 4}, "last_order_at": time.Date(2024, 3, 1, 10, 0, 0, 0, loc)},
		{"orders_90d": 1, "spend_365d": 150000, "tier": "silver", "channels": []string{"store"},
			"last_order_at": time.Date(2023, 11, 20, 10, 0, 0, 0, loc)},
		{"orders_90d": 0, "spend_365d": 20000, "channels": []string{},
			"rx_categories": map[string]int64{"hypertension": 1}},
		{"orders_90d": 3, "tier": "gold", "channels": []string{"miniapp"},
			"last_order_at": time.Date(2024, 3, 9, 22, 0, 0, 0, loc)},
		{},
	}
	recs := make([]*Record, len(rows))
	for i, row := range rows {
		recs[i] = s.NewRecord(uint32(i + 1))
		for k, v := range row {
			require.NoError(t, recs[i].Set(k, v))
		}
	}
	return recs
}

func retailSet(t testing.TB) *Set {
	set := NewSet(retailSchema(t), nil)
	require.NoError(t, set.Define(
		Definition{Name: "active", Rule: "orders_90d >= 3 || days_since(last_order_at) <= 30"},
		Definition{Name: "value", Cases: []Case{
			{When: "spend_365d >= 500000", Value: "high"},
			{When: "spend_365d >= 100000", Value: "mid"},
		}, Default: "low"},
		Definition{Name: "omni", Rule: `"miniapp" in channels && "store" in channels`},
		Definition{Name: "chronic", Rule: `"diabetes" in rx_categories || "hypertension" in rx_categories`},
		Definition{Name: "contacted_7d", Manual: true},
		Definition{Name: "call_list", Rule: `has_tag("chronic") && !has_tag("contacted_7d") && has_tag("active")`},
		Definition{Name: "gold_active", Rule: `tier == "gold" && has_tag("active")`},
	))
	return set
}

func TestRefreshEndToEnd(t *testing.T) {
	set := retailSet(t)
	loc := mustLoc(t, "Asia/Shanghai")
	recs := retailMembers(t, set.Schema(), loc)
	ix := segment.New(&segment.Options{Location: loc})
	_, err := set.Schema().LoadIndex(context.Background(), ix, records(recs), loc)
	require.NoError(t, err)
	require.NoError(t, ix.Update(func(tx *segment.Tx) error { return set.Assign(tx, "contacted_7d", "", 3) }))
	clock := Clock{AsOf: time.Date(2024, 3, 10, 9, 0, 0, 0, loc), Location: loc}

	assert.Equal(t, PathPushDown, set.Path("active"))
	assert.Equal(t, PathPushDown, set.Path("value"))
	assert.Equal(t, PathCompiled, set.Path("omni"), "lists are not indexed")
	assert.Equal(t, PathCompiled, set.Path("chronic"))
	assert.Equal(t, PathCompiled, set.Path("call_list"), "it reads a per-member tag")
	assert.Equal(t, PathPushDown, set.Path("gold_active"))

	res, err := set.Refresh(context.Background(), ix, clock, records(recs), nil)
	require.NoError(t, err)
	assert.Equal(t, 5, res.Members)
	v := ix.View()
	members := func(tag string) []uint32 {
		b, err := v.Tag(tag)
		require.NoError(t, err)
		return b.ToArray()
	}
	// Worked out by hand from retailMembers at 2024-03-10:
	// 1: 5 orders; 2: 1 order, last 111 days ago; 3: no orders, no last
	// order (errs on the right, false on the left: false || error = error);
	// 4: 3 orders; 5: nothing.
	assert.Equal(t, []uint32{1, 4}, members("active"))
	assert.Equal(t, []uint32{1}, members("omni"))
	assert.Equal(t, []uint32{1, 3}, members("chronic"))
	assert.Equal(t, []uint32{1}, members("call_list"), "3 is chronic but contacted and not active")
	assert.Equal(t, []uint32{1, 4}, members("gold_active"))
	for id, want := range map[uint32]string{1: "high", 2: "mid", 3: "low"} {
		got, ok, err := v.Enum("value", id)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, want, got, "member %d", id)
	}
	_, ok, err := v.Enum("value", 4)
	require.NoError(t, err)
	assert.False(t, ok, "member 4 has no spend: no value, not the default")

	byTag := map[string]Stats{}
	for _, st := range res.Stats() {
		byTag[st.Tag] = st
	}
	assert.Equal(t, Stats{Tag: "active", Path: PathPushDown, Members: 5, Tagged: 2, Missing: 2}, byTag["active"])
	assert.Equal(t, []int{1, 1, 1}, byTag["value"].Values)
	assert.Equal(t, 2, byTag["value"].Missing)
	assert.Equal(t, PathCompiled, byTag["omni"].Path)
	assert.Equal(t, 1, byTag["omni"].Missing, "member 5 has no channels")

	// Refreshing again at the same clock changes nothing, bit for bit.
	again, err := set.Refresh(context.Background(), ix, clock, records(recs), nil)
	require.NoError(t, err)
	for i, ver := range again.Versions {
		for j, b := range ver.bms {
			x, err := b.ToBytes()
			require.NoError(t, err)
			y, err := res.Versions[i].bms[j].ToBytes()
			require.NoError(t, err)
			assert.Equal(t, y, x, "tag %s", ver.Tag)
		}
		assert.Equal(t, res.Versions[i].Stats, ver.Stats)
	}

	// Everything that pushes down can be refreshed from the index alone.
	res2, err := set.Refresh(context.Background(), ix, clock, nil, &RefreshOptions{Tags: []string{"active", "value", "gold_active"}})
	require.NoError(t, err)
	for _, ver := range res2.Versions {
		assert.Equal(t, PathPushDown, ver.Stats.Path)
		assert.Equal(t, uint64(3), ver.Number)
	}
	// With records, pushed-down tags are restricted to the records' members.
	var progress []int
	res3, err := set.Refresh(context.Background(), ix, clock, records(append(recs[:2:2], nil, recs[3])),
		&RefreshOptions{Tags: []string{"active"}, Progress: func(n int) { progress = append(progress, n) }})
	require.NoError(t, err)
	assert.Equal(t, 3, res3.Members)
	assert.Equal(t, 1, res3.BadCount)
	assert.Equal(t, []int{3}, progress)
	b, err := ix.View().Tag("active")
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 4}, b.ToArray())
	assert.Equal(t, Stats{Tag: "active", Path: PathPushDown, Members: 3, Tagged: 2, Missing: 0}, res3.Versions[0].Stats)

	_, err = set.Refresh(context.Background(), ix, clock, nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "need records")

	plans, ok, err := set.Plans(ix.View(), clock, "active")
	require.NoError(t, err)
	require.True(t, ok)
	// days_since(last_order_at) <= 30 is last_order_at's day >= as-of day - 30,
	// and 2024-03-10 is day 19792.
	assert.Equal(t, `orders_90d >= 3 || last_order_at >= 19762`, plans[""].String())
	_, ok, err = set.Plans(ix.View(), clock, "omni")
	require.NoError(t, err)
	assert.False(t, ok)
}

// TestRefreshAtomic checks that a reader never sees a mix of two
// refreshes: "young" and "old" partition the members in every view.
func TestRefreshAtomic(t *testing.T) {
	s := testSchema()
	set := NewSet(s, nil)
	require.NoError(t, set.Define(
		Definition{Name: "young", Rule: "days_since(t2) < 100"},
		Definition{Name: "old", Rule: "!(days_since(t2) < 100)"},
	))
	loc := time.UTC
	recs := make([]*Record, 3000)
	for i := range recs {
		recs[i] = s.NewRecord(uint32(i))
		require.NoError(t, recs[i].Set("t2", time.Date(2020, 1, 1, 0, 0, 0, 0, loc).AddDate(0, 0, i)))
	}
	ix := segment.New(nil)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var checks atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			v := ix.View()
			y, err1 := v.Tag("young")
			o, err2 := v.Tag("old")
			if err1 != nil || err2 != nil {
				continue // not refreshed yet
			}
			if y.Intersects(o) || y.GetCardinality()+o.GetCardinality() != 3000 {
				t.Errorf("view %d mixes refreshes: %d young, %d old", v.Version(), y.GetCardinality(), o.GetCardinality())
				return
			}
			checks.Add(1)
		}
	}()
	for day := range 20 {
		clock := Clock{AsOf: time.Date(2020, 1, 1, 0, 0, 0, 0, loc).AddDate(0, 0, day*150), Location: loc}
		_, err := set.Refresh(context.Background(), ix, clock, records(recs), &RefreshOptions{NoPushDown: true})
		require.NoError(t, err)
	}
	stop.Store(true)
	wg.Wait()
	assert.Positive(t, checks.Load())
}

func TestVersionsAndChanges(t *testing.T) {
	set := retailSet(t)
	loc := mustLoc(t, "Asia/Shanghai")
	recs := retailMembers(t, set.Schema(), loc)
	ix := segment.New(&segment.Options{Location: loc})
	_, err := set.Schema().LoadIndex(context.Background(), ix, records(recs), loc)
	require.NoError(t, err)
	day := func(d int) Clock {
		return Clock{AsOf: time.Date(2024, 3, d, 9, 0, 0, 0, loc), Location: loc}
	}
	opts := &RefreshOptions{Tags: []string{"active"}}
	_, err = set.Refresh(context.Background(), ix, day(10), records(recs), opts)
	require.NoError(t, err)
	// Member 1 stops ordering: on April 10 its last order (March 1) is 40
	// days old, so it leaves; member 4 still has 3 orders and stays.
	require.NoError(t, recs[0].Set("orders_90d", 0))
	// Pushed-down rules read the index, so the changed record is loaded.
	_, err = set.Schema().LoadIndex(context.Background(), ix, records(recs), loc)
	require.NoError(t, err)
	v1 := set.Versions("active")
	require.Len(t, v1, 1)
	_, err = set.Refresh(context.Background(), ix, Clock{AsOf: time.Date(2024, 4, 10, 9, 0, 0, 0, loc), Location: loc}, records(recs), opts)
	require.NoError(t, err)
	vs := set.Versions("active")
	require.Len(t, vs, 2)
	assert.Equal(t, uint64(1), vs[0].Number)
	assert.Equal(t, uint64(2), vs[1].Number)
	assert.Equal(t, 1, vs[1].Definition)
	entered, left, err := Changes(vs[0], vs[1], "")
	require.NoError(t, err)
	assert.Empty(t, entered.ToArray())
	assert.Equal(t, []uint32{1}, left.ToArray())
	// segment.Diff over the versions' views reports the same.
	entered, left, err = segment.Diff(vs[0].View, vs[1].View, segment.Tag("active"))
	require.NoError(t, err)
	assert.Empty(t, entered.ToArray())
	assert.Equal(t, []uint32{1}, left.ToArray())
	// The previous version's view still reads the old members.
	old, err := vs[0].View.Tag("active")
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 4}, old.ToArray())

	// A third refresh pushes the first out (two are kept), Release drops more.
	_, err = set.Refresh(context.Background(), ix, day(11), records(recs), opts)
	require.NoError(t, err)
	vs = set.Versions("active")
	require.Len(t, vs, 2)
	assert.Equal(t, uint64(2), vs[0].Number)
	set.Release("active", 2)
	vs = set.Versions("active")
	require.Len(t, vs, 1)
	assert.Equal(t, uint64(3), vs[0].Number)
}

func TestApplyMember(t *testing.T) {
	set := retailSet(t)
	loc := mustLoc(t, "Asia/Shanghai")
	recs := retailMembers(t, set.Schema(), loc)
	ix := segment.New(&segment.Options{Location: loc})
	_, err := set.Schema().LoadIndex(context.Background(), ix, records(recs), loc)
	require.NoError(t, err)
	clock := Clock{AsOf: time.Date(2024, 3, 10, 9, 0, 0, 0, loc), Location: loc}
	_, err = set.Refresh(context.Background(), ix, clock, records(recs), nil)
	require.NoError(t, err)

	// Member 2 places orders and buys in the mini program: active, omni.
	rec := set.Schema().NewRecord(2)
	require.NoError(t, rec.CopyFrom(recs[1]))
	require.NoError(t, rec.Set("orders_90d", 4))
	require.NoError(t, rec.Set("spend_365d", 90000))
	require.NoError(t, rec.Set("channels", []string{"store", "miniapp"}))
	res, err := set.ApplyMember(ix, clock, rec)
	require.NoError(t, err)
	assert.ElementsMatch(t, []TagValue{{"active", ""}, {"omni", ""}, {"value", "low"}}, res.Gained)
	assert.ElementsMatch(t, []TagValue{{"value", "mid"}}, res.Lost)
	v := ix.View()
	has, err := v.HasTag("omni", 2)
	require.NoError(t, err)
	assert.True(t, has)
	val, _, err := v.Enum("value", 2)
	require.NoError(t, err)
	assert.Equal(t, "low", val)

	// Evaluating again changes nothing.
	res, err = set.EvalMember(ix.View(), clock, rec)
	require.NoError(t, err)
	assert.Empty(t, res.Gained)
	assert.Empty(t, res.Lost)
	// Member 5 has no values: every rule errs on a missing field.
	res, err = set.EvalMember(ix.View(), clock, recs[4])
	require.NoError(t, err)
	assert.NotEmpty(t, res.Errors)
	for _, e := range res.Errors {
		assert.Equal(t, ErrMissing, e.Err.Kind, e.Error())
	}
}

func TestManualTags(t *testing.T) {
	set := retailSet(t)
	require.NoError(t, set.Define(Definition{Name: "owner", Manual: true, Values: []string{"store", "hq"}}))
	ix := segment.New(nil)
	require.NoError(t, ix.Update(func(tx *segment.Tx) error {
		if err := set.Assign(tx, "owner", "hq", 1, 2); err != nil {
			return err
		}
		return set.Assign(tx, "contacted_7d", "", 7)
	}))
	err := ix.Update(func(tx *segment.Tx) error { return set.Assign(tx, "owner", "region", 3) })
	assert.ErrorIs(t, err, ErrUndeclaredValue)
	err = ix.Update(func(tx *segment.Tx) error { return set.Assign(tx, "active", "", 3) })
	assert.ErrorIs(t, err, ErrNotManual)
	require.NoError(t, ix.Update(func(tx *segment.Tx) error { return set.Unassign(tx, "owner", 1) }))
	v := ix.View()
	_, ok, err := v.Enum("owner", 1)
	require.NoError(t, err)
	assert.False(t, ok)
	val, ok, err := v.Enum("owner", 2)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "hq", val)

	require.NoError(t, ix.Update(func(tx *segment.Tx) error {
		return set.Import(tx, "owner", map[string]*roaring.Bitmap{"store": roaring.BitmapOf(5, 6)})
	}))
	st, err := ix.View().EnumValue("owner", "store")
	require.NoError(t, err)
	assert.Equal(t, []uint32{5, 6}, st.ToArray())
	hq, err := ix.View().EnumValue("owner", "hq")
	require.NoError(t, err)
	assert.True(t, hq.IsEmpty(), "import replaces the whole tag")
	err = ix.Update(func(tx *segment.Tx) error {
		return set.Import(tx, "owner", map[string]*roaring.Bitmap{"x": roaring.BitmapOf(1)})
	})
	assert.ErrorIs(t, err, ErrUndeclaredValue)
}

func TestExplain(t *testing.T) {
	set := retailSet(t)
	loc := mustLoc(t, "Asia/Shanghai")
	recs := retailMembers(t, set.Schema(), loc)
	clock := Clock{AsOf: time.Date(2024, 3, 10, 9, 0, 0, 0, loc), Location: loc}
	ix := segment.New(&segment.Options{Location: loc})
	require.NoError(t, ix.Update(func(tx *segment.Tx) error { return set.Assign(tx, "contacted_7d", "", 3) }))

	e, err := set.Explain(ix.View(), clock, "call_list", recs[2])
	require.NoError(t, err)
	assert.False(t, e.Tagged)
	text := e.String()
	assert.Contains(t, text, `tag "call_list", member 3`)
	assert.Contains(t, text, `has_tag("chronic") = true`)
	assert.Contains(t, text, `has_tag("contacted_7d") = true`)
	assert.Contains(t, text, `has_tag("active") = false`)

	e, err = set.Explain(ix.View(), clock, "value", recs[1])
	require.NoError(t, err)
	assert.Equal(t, "mid", e.Value)
	assert.Equal(t, 1, e.Matched)
	require.Len(t, e.Steps, 2, "cases after the match are not evaluated")
	assert.Equal(t, "spend_365d >= 500000", e.Steps[0].Root.Expr)
	assert.Equal(t, "false", e.Steps[0].Root.Value)
	assert.Equal(t, "spend_365d = 150000", strings.TrimSpace(e.Steps[0].Root.Children[0].Expr+" = "+e.Steps[0].Root.Children[0].Value))

	// Why is member 3 not active? Both sides, and the missing value.
	e, err = set.Explain(ix.View(), clock, "active", recs[2])
	require.NoError(t, err)
	require.NotNil(t, e.Err)
	assert.Equal(t, ErrMissing, e.Err.Kind)
	text = e.String()
	assert.Contains(t, text, "orders_90d >= 3 = false")
	assert.Contains(t, text, "last_order_at = error: no such attribute")
	assert.Equal(t, PathPushDown, e.Path)

	e, err = set.Explain(ix.View(), clock, "active", recs[0])
	require.NoError(t, err)
	assert.True(t, e.Tagged)
	assert.Contains(t, e.String(), "days_since(last_order_at) = 9")
	assert.Contains(t, e.String(), "last_order_at = 2024-03-01T10:00:00+08:00")
}

// TestRefreshUnassignedManualTag: a rule on a manual tag nobody was ever
// given pushes down and treats it as empty, as per-member evaluation does.
func TestRefreshUnassignedManualTag(t *testing.T) {
	set := retailSet(t)
	loc := mustLoc(t, "Asia/Shanghai")
	recs := retailMembers(t, set.Schema(), loc)
	clock := Clock{AsOf: time.Date(2024, 3, 10, 9, 0, 0, 0, loc), Location: loc}
	require.NoError(t, set.Define(Definition{Name: "fresh", Rule: `orders_90d >= 1 && !has_tag("contacted_7d")`}))
	for _, noPush := range []bool{false, true} {
		ix := segment.New(&segment.Options{Location: loc})
		_, err := set.Schema().LoadIndex(context.Background(), ix, records(recs), loc)
		require.NoError(t, err)
		res, err := set.Refresh(context.Background(), ix, clock, records(recs), &RefreshOptions{Tags: []string{"fresh"}, NoPushDown: noPush})
		require.NoError(t, err)
		assert.Equal(t, !noPush, res.Versions[0].Stats.Path == PathPushDown)
		b, err := ix.View().Tag("fresh")
		require.NoError(t, err)
		assert.Equal(t, []uint32{1, 2, 4}, b.ToArray(), "no push-down: %v", noPush)
	}
}
