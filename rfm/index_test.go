package rfm

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/segment"
)

// TestLoadIndex loads the hand-worked repurchase table (see
// TestRepurchaseHandWorked) with scores, the grid and the classes, and
// reads everything back through a View and a plan.
func TestLoadIndex(t *testing.T) {
	s, err := New(4, Config{AsOf: day(2024, 3, 1, time.UTC)})
	require.NoError(t, err)
	buy := func(m uint32, mo time.Month, d int, amount int64, lines ...Line) {
		require.NoError(t, s.Add(&Tx{Member: m, Time: day(2024, mo, d, time.UTC), Amount: amount, Lines: lines}))
	}
	buy(0, 1, 1, 100)
	buy(0, 1, 11, 100)
	buy(0, 1, 21, 100)
	buy(1, 1, 1, 500, Line{Category: 3, DaysSupply: 30})
	buy(1, 2, 10, 500, Line{Category: 3, DaysSupply: 30}) // runs out Mar 11
	buy(2, 2, 20, 50)
	sc, err := s.Score(nil)
	require.NoError(t, err)
	grid, err := Grid().Assign(sc)
	require.NoError(t, err)
	rp := s.Repurchase(RepurchaseOptions{})

	ix := segment.New(nil)
	require.NoError(t, Load(ix, &IndexData{
		Summaries:  s,
		Scores:     sc,
		Segments:   map[string]*Segments{"rfm_segment": grid, "rfm_class": s.Classes(Orders, Total)},
		Repurchase: rp,
		DueWithin:  []int{7, 10},
		Overdue:    []int{1},
		Categories: map[uint32]string{3: "insulin"},
	}))
	v := ix.View()

	get := func(field string, m uint32) (int64, bool) {
		val, ok, err := v.Int(field, m)
		require.NoError(t, err)
		return val, ok
	}
	// Member 0: last Jan 21 → 40 days; 3 orders on 3 days; 300 spent.
	for field, want := range map[string]int64{
		"rfm_recency": 40, "rfm_orders": 3, "rfm_days": 3, "rfm_monetary": 300,
		"rfm_first_day": int64(segment.DayOf(day(2024, 1, 1, time.UTC), time.UTC)),
		"rfm_last_day":  int64(segment.DayOf(day(2024, 1, 21, time.UTC), time.UTC)),
		"rfm_r":         int64(sc.R[0]), "rfm_f": int64(sc.F[0]), "rfm_m": int64(sc.M[0]),
	} {
		got, ok := get(field, 0)
		assert.True(t, ok, field)
		assert.Equal(t, want, got, field)
	}
	_, ok := get("rfm_recency", 3)
	assert.False(t, ok, "no purchase, no value")

	name, ok, err := v.Enum("rfm_segment", 0)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, grid.Name(0), name)
	_, ok, err = v.Enum("rfm_segment", 3)
	require.NoError(t, err)
	assert.False(t, ok)

	// Member 0 is due Feb 5 (overdue); 1 due Mar 8 by interval, its
	// insulin runs out Mar 11; 2 due Mar 11.
	tagMembers := func(name string) []uint32 {
		bm, err := v.Tag(name)
		require.NoError(t, err, name)
		return bm.ToArray()
	}
	assert.Equal(t, []uint32{1}, tagMembers("rfm_due_7d"))
	assert.Equal(t, []uint32{1, 2}, tagMembers("rfm_due_10d"))
	assert.Equal(t, []uint32{0}, tagMembers("rfm_overdue_1d"))
	assert.Equal(t, []uint32{1}, tagMembers("rfm_due_10d:insulin"))
	assert.Empty(t, tagMembers("rfm_due_7d:insulin"))

	// A plan over the loaded fields: recent buyers with 2+ orders.
	n, err := v.Count(segment.And(segment.Cmp("rfm_recency", segment.Le, 30), segment.Cmp("rfm_orders", segment.Ge, 2)))
	require.NoError(t, err)
	assert.Equal(t, uint64(1), n) // member 1: 20 days, 2 orders

	// Loading again replaces whole fields: after a member's scores are
	// gone, nothing stale is left.
	s2, err := New(4, Config{AsOf: day(2024, 3, 1, time.UTC)})
	require.NoError(t, err)
	require.NoError(t, s2.Add(&Tx{Member: 2, Time: day(2024, 2, 20, time.UTC), Amount: 50}))
	require.NoError(t, Load(ix, &IndexData{Summaries: s2}))
	ids, err := ix.View().IDs(segment.Has("rfm_recency"))
	require.NoError(t, err)
	assert.Equal(t, []uint32{2}, slices.Collect(ids))

	assert.ErrorIs(t, Load(ix, &IndexData{}), ErrConfig)
	assert.ErrorIs(t, Load(ix, &IndexData{Summaries: s, Scores: &Scores{}}), ErrConfig)
}
