package segment

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var shanghai = time.FixedZone("CST", 8*3600)

// smallIndex builds the hand-checked index most tests use:
//
//	member  vip  tier    spend  age  purchase days (2024-05-)
//	0       x    gold    52000  30   01, 10
//	1            silver  100    17   10
//	2       x            -500   45
//	3            gold           18   (none)
//	4       x    bronze  0           09
//	70000   x    gold    99999  35   10   (second chunk)
func smallIndex(t testing.TB) *Index {
	t.Helper()
	ix := New(&Options{Location: shanghai})
	require.NoError(t, ix.Update(func(tx *Tx) error {
		for name, kind := range map[string]Kind{"vip": KindTag, "tier": KindEnum,
			"spend": KindInt, "age": KindInt, "purchase": KindEvent} {
			if err := tx.Declare(name, kind); err != nil {
				return err
			}
		}
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(tx.AddTag("vip", 0, 2, 4, 70000))
		must(tx.SetEnum("tier", 0, "gold"))
		must(tx.SetEnum("tier", 1, "silver"))
		must(tx.SetEnum("tier", 3, "gold"))
		must(tx.SetEnum("tier", 4, "bronze"))
		must(tx.SetEnum("tier", 70000, "gold"))
		for id, v := range map[uint32]int64{0: 52000, 1: 100, 2: -500, 4: 0, 70000: 99999} {
			must(tx.SetInt("spend", id, v))
		}
		for id, v := range map[uint32]int64{0: 30, 1: 17, 2: 45, 3: 18, 70000: 35} {
			must(tx.SetInt("age", id, v))
		}
		may := func(d int) time.Time { return time.Date(2024, 5, d, 12, 0, 0, 0, shanghai) }
		must(tx.RecordActivity("purchase", may(1), 0))
		must(tx.RecordActivity("purchase", may(10), 0, 1, 70000))
		must(tx.RecordActivity("purchase", may(9), 4))
		return nil
	}))
	return ix
}

var asOf = time.Date(2024, 5, 10, 20, 0, 0, 0, shanghai)

func ids(t testing.TB, v *View, p *Plan) []uint32 {
	t.Helper()
	seq, err := v.IDs(p)
	require.NoError(t, err)
	return slices.Collect(seq)
}

func TestPlansOnSmallIndex(t *testing.T) {
	v := smallIndex(t).View().At(asOf)
	cases := []struct {
		name string
		plan *Plan
		want []uint32
	}{
		{"tag", Tag("vip"), []uint32{0, 2, 4, 70000}},
		{"enum", Enum("tier", "gold"), []uint32{0, 3, 70000}},
		{"enum unknown value", Enum("tier", "platinum"), nil},
		{"enum in", EnumIn("tier", "silver", "bronze"), []uint32{1, 4}},
		{"has enum", Has("tier"), []uint32{0, 1, 3, 4, 70000}},
		{"has int", Has("spend"), []uint32{0, 1, 2, 4, 70000}},
		{"ge", Cmp("spend", Ge, 100), []uint32{0, 1, 70000}},
		{"gt", Cmp("spend", Gt, 100), []uint32{0, 70000}},
		{"lt zero", Cmp("spend", Lt, 0), []uint32{2}},
		{"le zero", Cmp("spend", Le, 0), []uint32{2, 4}},
		{"eq zero", Cmp("spend", Eq, 0), []uint32{4}},
		{"eq negative", Cmp("spend", Eq, -500), []uint32{2}},
		{"ne needs a value", Cmp("spend", Ne, 100), []uint32{0, 2, 4, 70000}},
		{"between", Between("age", 18, 35), []uint32{0, 3, 70000}},
		{"between empty", Between("age", 35, 18), nil},
		{"between negative", Between("spend", -1000, -1), []uint32{2}},
		{"int in", IntIn("age", 17, 45, 99), []uint32{1, 2}},
		{"min int", Cmp("spend", Gt, math.MinInt64), []uint32{0, 1, 2, 4, 70000}},
		{"max int", Cmp("spend", Gt, math.MaxInt64), nil},
		{"active 1d", Active("purchase", 1), []uint32{0, 1, 70000}},
		{"active 2d", Active("purchase", 2), []uint32{0, 1, 4, 70000}},
		{"active 30d", Active("purchase", 30), []uint32{0, 1, 4, 70000}},
		{"active until", ActiveUntil("purchase", 5, mustDay(t, "2024-05-05")), []uint32{0}},
		{"not active 7d", Not(Active("purchase", 7)), []uint32{2, 3}},
		{"and", And(Tag("vip"), Enum("tier", "gold")), []uint32{0, 70000}},
		{"and not", And(Tag("vip"), Not(Enum("tier", "gold"))), []uint32{2, 4}},
		{"or", Or(Enum("tier", "silver"), Cmp("spend", Lt, 0)), []uint32{1, 2}},
		{"not", Not(Tag("vip")), []uint32{1, 3}},
		{"all", All(), []uint32{0, 1, 2, 3, 4, 70000}},
		{"none", None(), nil},
		{"empty and", And(), []uint32{0, 1, 2, 3, 4, 70000}},
		{"empty or", Or(), nil},
		{"x and not x", And(Tag("vip"), Not(Tag("vip"))), nil},
		{"range merge", And(Cmp("age", Ge, 18), Cmp("age", Le, 35), Tag("vip")), []uint32{0, 70000}},
		{"range union", Or(Cmp("age", Lt, 18), Cmp("age", Gt, 40)), []uint32{1, 2}},
		{"double not", Not(Not(Tag("vip"))), []uint32{0, 2, 4, 70000}},
		{"nested", Or(And(Tag("vip"), Cmp("age", Ge, 40)), And(Not(Tag("vip")), Enum("tier", "silver"))), []uint32{1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(t, v, tc.plan)
			assert.Equal(t, tc.want, got)
			n, err := v.Count(tc.plan)
			require.NoError(t, err)
			assert.Equal(t, uint64(len(tc.want)), n, "count")
			bm, err := v.Bitmap(tc.plan)
			require.NoError(t, err)
			assert.Equal(t, tc.want, nilIfEmpty(bm.ToArray()), "bitmap")
		})
	}
}

func nilIfEmpty(x []uint32) []uint32 {
	if len(x) == 0 {
		return nil
	}
	return x
}

func mustDay(t testing.TB, s string) Day {
	d, err := ParseDay(s)
	require.NoError(t, err)
	return d
}

func TestCheckErrors(t *testing.T) {
	v := smallIndex(t).View()
	cases := []struct {
		name string
		plan *Plan
		want error
	}{
		{"unknown tag", Tag("nope"), ErrUnknownField},
		{"tag on enum", Tag("tier"), ErrKindMismatch},
		{"compare a tag", Cmp("vip", Ge, 1), ErrKindMismatch},
		{"enum on int", Enum("spend", "x"), ErrKindMismatch},
		{"active on tag", Active("vip", 3), ErrKindMismatch},
		{"unknown segment", Ref("nope"), ErrUnknownSegment},
		{"zero window", Active("purchase", 0), ErrInvalid},
		{"nil plan", nil, ErrInvalid},
		{"nil kid", And(Tag("vip"), nil), ErrInvalid},
		{"empty enum list", EnumIn("tier"), ErrInvalid},
		{"bad op", Cmp("age", Op(42), 1), ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, v.Check(tc.plan), tc.want)
			_, err := v.Count(tc.plan)
			assert.ErrorIs(t, err, tc.want)
		})
	}
	_, err := v.Count(Active("purchase", 3))
	assert.ErrorIs(t, err, ErrNoAsOf, "window without as-of")
	assert.NoError(t, v.Check(Active("purchase", 3)), "check needs no as-of")
}

func TestReadAccessors(t *testing.T) {
	v := smallIndex(t).View()
	tag, err := v.Tag("vip")
	require.NoError(t, err)
	assert.Equal(t, []uint32{0, 2, 4, 70000}, tag.ToArray())
	tag.Add(99) // the caller owns it: the index must not change
	again, _ := v.Tag("vip")
	assert.Equal(t, uint64(4), again.GetCardinality())

	vals, err := v.EnumValues("tier")
	require.NoError(t, err)
	assert.Equal(t, []string{"bronze", "gold", "silver"}, vals)
	val, ok, err := v.Enum("tier", 4)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "bronze", val)
	_, ok, _ = v.Enum("tier", 2)
	assert.False(t, ok)

	x, ok, err := v.Int("spend", 2)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, int64(-500), x)
	_, ok, _ = v.Int("spend", 3)
	assert.False(t, ok)

	col, present, err := v.IntColumn("spend", 5)
	require.NoError(t, err)
	assert.Equal(t, []int64{52000, 100, -500, 0, 0}, col)
	assert.Equal(t, []uint32{0, 1, 2, 4, 70000}, present.ToArray())

	days, err := v.ActivityDays("purchase")
	require.NoError(t, err)
	require.Len(t, days, 3)
	assert.Equal(t, "2024-05-01", days[0].String())
	act, err := v.Activity("purchase", time.Date(2024, 5, 10, 1, 0, 0, 0, shanghai))
	require.NoError(t, err)
	assert.Equal(t, []uint32{0, 1, 70000}, act.ToArray())

	assert.Equal(t, uint64(6), v.MemberCount())
	assert.Equal(t, []Field{{"age", KindInt}, {"purchase", KindEvent}, {"spend", KindInt},
		{"tier", KindEnum}, {"vip", KindTag}}, v.Fields())
	_, err = v.Tag("tier")
	assert.ErrorIs(t, err, ErrKindMismatch)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "tier", fe.Field)
}

func TestDayBoundariesFollowLocation(t *testing.T) {
	ix := New(&Options{Location: shanghai})
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("visit", KindEvent))
		// 2024-05-09 17:30 UTC is 2024-05-10 01:30 in Shanghai.
		return tx.RecordActivity("visit", time.Date(2024, 5, 9, 17, 30, 0, 0, time.UTC), 7)
	}))
	v := ix.View()
	days, _ := v.ActivityDays("visit")
	require.Len(t, days, 1)
	assert.Equal(t, "2024-05-10", days[0].String())
	n, err := v.At(time.Date(2024, 5, 10, 0, 0, 0, 0, shanghai)).Count(Active("visit", 1))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), n)
	n, _ = v.At(time.Date(2024, 5, 9, 23, 0, 0, 0, shanghai)).Count(Active("visit", 1))
	assert.Equal(t, uint64(0), n)
}

func TestUpdateIsAtomic(t *testing.T) {
	ix := smallIndex(t)
	before := ix.View()
	boom := errors.New("boom")
	err := ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.AddTag("vip", 1, 3))
		require.NoError(t, tx.SetInt("spend", 3, 7))
		require.NoError(t, tx.Declare("new", KindTag))
		return boom
	})
	assert.ErrorIs(t, err, boom)
	after := ix.View()
	assert.Equal(t, before.Version(), after.Version())
	n, _ := after.Count(Tag("vip"))
	assert.Equal(t, uint64(4), n)
	_, ok := after.Field("new")
	assert.False(t, ok)

	require.NoError(t, ix.Update(func(tx *Tx) error { return tx.AddTag("vip", 1) }))
	assert.Equal(t, before.Version()+1, ix.View().Version())
	n, _ = before.Count(Tag("vip"))
	assert.Equal(t, uint64(4), n, "an old view does not change")
	n, _ = ix.View().Count(Tag("vip"))
	assert.Equal(t, uint64(5), n)

	// A transaction that changes nothing does not make a version.
	require.NoError(t, ix.Update(func(tx *Tx) error { return nil }))
	assert.Equal(t, before.Version()+1, ix.View().Version())
}

func TestTxClosedAfterUpdate(t *testing.T) {
	ix := New(nil)
	var leaked *Tx
	require.NoError(t, ix.Update(func(tx *Tx) error {
		leaked = tx
		return tx.Declare("a", KindTag)
	}))
	assert.ErrorIs(t, leaked.AddTag("a", 1), ErrTxClosed)
	assert.ErrorIs(t, leaked.Declare("b", KindTag), ErrTxClosed)
}

func TestUpdatePanicChangesNothing(t *testing.T) {
	ix := smallIndex(t)
	v0 := ix.View().Version()
	assert.Panics(t, func() {
		_ = ix.Update(func(tx *Tx) error {
			_ = tx.AddTag("vip", 1)
			panic("host bug")
		})
	})
	assert.Equal(t, v0, ix.View().Version())
	// The writer lock was released.
	require.NoError(t, ix.Update(func(tx *Tx) error { return tx.AddTag("vip", 1) }))
}

func TestDeclare(t *testing.T) {
	ix := New(nil)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("a", KindTag))
		require.NoError(t, tx.Declare("a", KindTag), "same kind again is fine")
		assert.ErrorIs(t, tx.Declare("a", KindInt), ErrKindMismatch)
		assert.ErrorIs(t, tx.Declare("", KindTag), ErrInvalid)
		assert.ErrorIs(t, tx.Declare("bad\nname", KindTag), ErrInvalid)
		assert.ErrorIs(t, tx.Declare("x", Kind(9)), ErrInvalid)
		assert.ErrorIs(t, tx.AddTag("missing", 1), ErrUnknownField)
		assert.ErrorIs(t, tx.SetInt("a", 1, 5), ErrKindMismatch)
		return nil
	}))
}

func TestEnumHoldsOneValuePerMember(t *testing.T) {
	ix := smallIndex(t)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.SetEnum("tier", 0, "silver")) // was gold
		require.NoError(t, tx.ClearEnum("tier", 4))
		return tx.SetEnum("tier", 0, "silver") // no-op
	}))
	v := ix.View()
	assert.Equal(t, []uint32{3, 70000}, ids(t, v, Enum("tier", "gold")))
	assert.Equal(t, []uint32{0, 1}, ids(t, v, Enum("tier", "silver")))
	vals, _ := v.EnumValues("tier")
	assert.Equal(t, []string{"gold", "silver"}, vals, "bronze has nobody left")
}

func TestReplaceEnumRejectsTwoValues(t *testing.T) {
	ix := smallIndex(t)
	err := ix.Update(func(tx *Tx) error {
		return tx.ReplaceEnum("tier", map[string]*roaring.Bitmap{
			"a": roaring.BitmapOf(1, 2, 3),
			"b": roaring.BitmapOf(3, 4),
		})
	})
	var me *MemberError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint32(3), me.Member)
	assert.Contains(t, err.Error(), `"a" and "b"`)

	require.NoError(t, ix.Update(func(tx *Tx) error {
		return tx.ReplaceEnum("tier", map[string]*roaring.Bitmap{
			"a": roaring.BitmapOf(1, 2), "b": roaring.BitmapOf(3, 100000), "c": roaring.New(),
		})
	}))
	v := ix.View()
	vals, _ := v.EnumValues("tier")
	assert.Equal(t, []string{"a", "b"}, vals)
	assert.Equal(t, []uint32{3, 100000}, ids(t, v, Enum("tier", "b")))
	assert.True(t, v.HasMember(100000), "bulk members join the universe")
}

func TestReplaceEnumColumn(t *testing.T) {
	ix := New(nil)
	codes := make([]int32, 200000)
	for i := range codes {
		codes[i] = int32(i%4) - 1 // -1 (none), 0, 1, 2
	}
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("city", KindEnum))
		assert.ErrorIs(t, tx.ReplaceEnumColumn("city", []string{"sh"}, []int32{0, 5}), ErrInvalid)
		return tx.ReplaceEnumColumn("city", []string{"sh", "bj", "sh"}, codes)
	}))
	v := ix.View()
	n, _ := v.Count(Enum("city", "sh"))
	assert.Equal(t, uint64(100000), n, "codes 0 and 2 both spell sh")
	n, _ = v.Count(Enum("city", "bj"))
	assert.Equal(t, uint64(50000), n)
	val, ok, _ := v.Enum("city", 6)
	assert.True(t, ok)
	assert.Equal(t, "bj", val) // 6%4-1 = 1
	assert.Equal(t, uint64(150000), v.MemberCount())
}

func TestReplaceIntColumnAndPairs(t *testing.T) {
	ix := New(nil)
	vals := make([]int64, 150000)
	for i := range vals {
		vals[i] = int64(i%1000) - 300
	}
	present := roaring.New()
	present.AddRange(0, 150000)
	present.Remove(5)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("x", KindInt))
		require.NoError(t, tx.Declare("y", KindInt))
		require.NoError(t, tx.ReplaceIntColumn("x", vals, present))
		assert.ErrorIs(t, tx.ReplaceIntColumn("x", vals[:3], present), ErrInvalid)
		err := tx.ReplaceInt("y", []uint32{4, 9, 4}, []int64{1, 2, 3})
		var me *MemberError
		if assert.ErrorAs(t, err, &me) {
			assert.Equal(t, uint32(4), me.Member)
		}
		assert.ErrorIs(t, tx.ReplaceInt("y", []uint32{1}, nil), ErrInvalid)
		return tx.ReplaceInt("y", []uint32{9, 200000}, []int64{math.MinInt64, math.MaxInt64})
	}))
	v := ix.View()
	x, ok, _ := v.Int("x", 1234)
	assert.True(t, ok)
	assert.Equal(t, int64(234-300), x)
	_, ok, _ = v.Int("x", 5)
	assert.False(t, ok)
	// Values -300..699 repeat every 1000 members: [-10, 10] is 21 of them.
	n, err := v.Count(Between("x", -10, 10))
	require.NoError(t, err)
	assert.Equal(t, uint64(150*21), n)
	y, _, _ := v.Int("y", 9)
	assert.Equal(t, int64(math.MinInt64), y)
	y, _, _ = v.Int("y", 200000)
	assert.Equal(t, int64(math.MaxInt64), y)
	n, _ = v.Count(Cmp("y", Lt, 0))
	assert.Equal(t, uint64(1), n)
}

func TestReplaceTagWords(t *testing.T) {
	ix := New(nil)
	w := make([]uint64, 3000) // 192000 members
	for i := range w {
		w[i] = 0x5555555555555555 // even members
	}
	w[2999] = 0
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("even", KindTag))
		return tx.ReplaceTagWords("even", w)
	}))
	v := ix.View()
	n, _ := v.Count(Tag("even"))
	assert.Equal(t, uint64(2999*32), n)
	ok, _ := v.HasTag("even", 191870)
	assert.True(t, ok)
	ok, _ = v.HasTag("even", 191871)
	assert.False(t, ok)
}

func TestMergeAndRemoveMember(t *testing.T) {
	ix := smallIndex(t)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		// 3 (gold, age 18, no spend) absorbs 2 (vip, spend -500, age 45).
		return tx.MergeMember(3, 2)
	}))
	v := ix.View().At(asOf)
	assert.False(t, v.HasMember(2))
	ok, _ := v.HasTag("vip", 3)
	assert.True(t, ok, "tags are OR'd")
	age, _, _ := v.Int("age", 3)
	assert.Equal(t, int64(18), age, "the survivor keeps its own value")
	spend, ok, _ := v.Int("spend", 3)
	assert.True(t, ok)
	assert.Equal(t, int64(-500), spend, "and takes the loser's when it has none")
	val, _, _ := v.Enum("tier", 3)
	assert.Equal(t, "gold", val)
	for _, p := range []*Plan{Tag("vip"), Has("spend"), Has("age"), All()} {
		assert.NotContains(t, ids(t, v, p), uint32(2), p.String())
	}

	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.MergeMember(1, 0)) // 0 purchased on 05-01 and 05-10
		return tx.RemoveMember(70000)
	}))
	v = ix.View().At(asOf)
	assert.Equal(t, []uint32{1, 4}, ids(t, v, Active("purchase", 30)))
	assert.Equal(t, []uint32{1}, ids(t, v, ActiveUntil("purchase", 1, mustDay(t, "2024-05-01"))))
	assert.Equal(t, []uint32{1, 3, 4}, ids(t, v, All()))
	assert.ErrorIs(t, ix.Update(func(tx *Tx) error { return tx.MergeMember(1, 1) }), ErrInvalid)
}

func TestSavedSegments(t *testing.T) {
	ix := smallIndex(t)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.SaveSegment("gold_vip", And(Tag("vip"), Enum("tier", "gold"))))
		require.NoError(t, tx.SaveSegment("outer", Or(Ref("gold_vip"), Cmp("age", Lt, 18))))
		assert.ErrorIs(t, tx.SaveSegment("bad", Tag("nope")), ErrUnknownField)
		assert.ErrorIs(t, tx.SaveSegment("bad", Ref("nope")), ErrUnknownSegment)
		assert.ErrorIs(t, tx.SaveSegment("self", Ref("self")), ErrCycle)
		err := tx.SaveSegment("gold_vip", And(Tag("vip"), Ref("outer")))
		assert.ErrorIs(t, err, ErrCycle)
		assert.Contains(t, err.Error(), `"gold_vip" → "outer" → "gold_vip"`)
		assert.ErrorIs(t, tx.DeleteSegment("gold_vip"), ErrInUse)
		assert.ErrorIs(t, tx.Drop("tier"), ErrInUse)
		return nil
	}))
	v := ix.View()
	assert.Equal(t, []string{"gold_vip", "outer"}, v.Segments())
	assert.Equal(t, []uint32{0, 1, 70000}, ids(t, v, Ref("outer")))
	// A reference follows the segment's definition in each version.
	require.NoError(t, ix.Update(func(tx *Tx) error {
		return tx.SaveSegment("gold_vip", Enum("tier", "bronze"))
	}))
	assert.Equal(t, []uint32{1, 4}, ids(t, ix.View(), Ref("outer")))
	assert.Equal(t, []uint32{0, 1, 70000}, ids(t, v, Ref("outer")), "the old view keeps the old definition")
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.DeleteSegment("outer"))
		return tx.DeleteSegment("gold_vip")
	}))
	assert.Empty(t, ix.View().Segments())
}

func TestDropField(t *testing.T) {
	ix := smallIndex(t)
	require.NoError(t, ix.Update(func(tx *Tx) error { return tx.Drop("vip") }))
	_, err := ix.View().Count(Tag("vip"))
	assert.ErrorIs(t, err, ErrUnknownField)
}

func TestDropActivityBefore(t *testing.T) {
	ix := smallIndex(t)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		return tx.DropActivityBefore("purchase", time.Date(2024, 5, 9, 0, 0, 0, 0, shanghai))
	}))
	days, _ := ix.View().ActivityDays("purchase")
	require.Len(t, days, 2)
	assert.Equal(t, "2024-05-09", days[0].String())
}

func TestMembersUniverse(t *testing.T) {
	ix := New(nil)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("t", KindTag))
		require.NoError(t, tx.AddMemberRange(0, 100))
		require.NoError(t, tx.AddMembers(500))
		return tx.AddTag("t", 1, 2)
	}))
	v := ix.View()
	n, _ := v.Count(Not(Tag("t")))
	assert.Equal(t, uint64(99), n)
	assert.Equal(t, uint64(101), v.MemberCount())
}

// TestDenseTagMemory checks the bound: a dense tag costs within 10%
// of its raw bit size (n/8 bytes), and a clustered one less.
func TestDenseTagMemory(t *testing.T) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(6, 6))
	w := make([]uint64, n/64)
	for i := range w {
		w[i] = rng.Uint64() // 50% random
	}
	clustered := make([]uint64, n/64)
	for i := range clustered[:len(clustered)/2] {
		clustered[i] = ^uint64(0) // the first half of the members
	}
	ix := New(nil)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		require.NoError(t, tx.Declare("random", KindTag))
		require.NoError(t, tx.Declare("clustered", KindTag))
		require.NoError(t, tx.ReplaceTagWords("random", w))
		return tx.ReplaceTagWords("clustered", clustered)
	}))
	v := ix.View()
	raw := float64(n / 8)
	got, err := v.FieldBytes("random")
	require.NoError(t, err)
	assert.LessOrEqual(t, float64(got), 1.1*raw, "random 50%% tag: %d bytes for %v raw", got, raw)
	assert.GreaterOrEqual(t, float64(got), raw, "the estimate counts the bits themselves")
	got, _ = v.FieldBytes("clustered")
	assert.Less(t, float64(got), 0.05*raw, "full chunks share one container")
}
