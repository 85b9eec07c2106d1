package rfm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemberDueHandWorked starts from the data of TestRepurchaseHandWorked
// (population mean interval 20 days, shrinkage 2) plus line items, then
// lets member 1 buy again and recomputes that member alone:
//
//	member 1: Jan 1, Feb 10, now Feb 25 → intervals 40 + 15 = 55 over 2;
//	          shrunk with the old mean: (55 + 2·20) / (2 + 2) = 23.75
//	          → due Feb 25 + 24 = Mar 20.
//	category 7 (a medicine with days-supply): Jan 1 with 30 days runs out
//	          Jan 31; Feb 25 with 30 more: max(Jan 31, Feb 25) + 30 = Mar 26.
//	category 9 (no supply): Feb 10 and Feb 25, one interval of 15, the
//	          category's population mean is member 0's 10 days over one
//	          interval: (15 + 2·10) / (1 + 2) = 11.67 → Feb 25 + 12 = Mar 8.
func TestMemberDueHandWorked(t *testing.T) {
	s, err := New(4, Config{AsOf: day(2024, 3, 1, time.UTC)})
	require.NoError(t, err)
	buy := func(m uint32, mo time.Month, d int, lines ...Line) {
		require.NoError(t, s.Add(&Tx{Member: m, Time: day(2024, mo, d, time.UTC), Amount: 100, Lines: lines}))
	}
	buy(0, 1, 1, Line{Category: 9})
	buy(0, 1, 11, Line{Category: 9})
	buy(0, 1, 21)
	buy(1, 1, 1, Line{Category: 7, DaysSupply: 30})
	buy(1, 2, 10, Line{Category: 9})
	buy(2, 2, 20)
	rp := s.Repurchase(RepurchaseOptions{})

	// Before any change, MemberDue agrees with the full computation.
	for m := range uint32(4) {
		due, iv, ok, cats := s.MemberDue(m, rp.Means())
		wantDue, wantIv, wantOK := rp.Due(m)
		assert.Equal(t, wantOK, ok, "member %d", m)
		assert.Equal(t, wantDue, due, "member %d", m)
		assert.InDelta(t, wantIv, iv, 1e-6, "member %d", m)
		var want []CategoryDue
		for _, cd := range rp.Categories() {
			if cd.Member == m {
				want = append(want, cd)
			}
		}
		assert.Equal(t, want, cats, "member %d", m)
	}

	buy(1, 2, 25, Line{Category: 7, DaysSupply: 30}, Line{Category: 9})
	due, iv, ok, cats := s.MemberDue(1, rp.Means())
	require.True(t, ok)
	assert.InDelta(t, 23.75, iv, 1e-6)
	assert.Equal(t, day(2024, 3, 20, time.UTC), due)
	require.Len(t, cats, 2)
	assert.Equal(t, uint32(7), cats[0].Category)
	assert.True(t, cats[0].FromSupply)
	assert.Equal(t, day(2024, 3, 26, time.UTC), cats[0].Due)
	assert.Equal(t, 2, cats[0].Purchases)
	assert.Equal(t, uint32(9), cats[1].Category)
	assert.False(t, cats[1].FromSupply)
	assert.InDelta(t, 35.0/3, cats[1].Interval, 1e-9)
	assert.Equal(t, day(2024, 3, 8, time.UTC), cats[1].Due)

	_, _, ok, cats = s.MemberDue(3, rp.Means())
	assert.False(t, ok, "no purchase, no due date")
	assert.Empty(t, cats)
	_, _, ok, _ = s.MemberDue(99, rp.Means())
	assert.False(t, ok, "past the end")

	means := rp.Means()
	assert.Equal(t, RepurchaseMeans{Shrinkage: 2, Members: Intervals{Span: 60, Gaps: 3},
		Categories: map[uint32]Intervals{9: {Span: 10, Gaps: 1}}}, means,
		"members 0 and 1 give 20+40 days over 3 intervals; category 9 only member 0's 10 days")
}

// TestCategoriesFollowMergeAndRemove checks that the per-block category
// index keeps a member's entries findable through merges and removal.
func TestCategoriesFollowMergeAndRemove(t *testing.T) {
	s, err := New(1<<17, Config{AsOf: day(2024, 3, 1, time.UTC)})
	require.NoError(t, err)
	a, b := uint32(5), uint32(1<<16+5) // different blocks
	require.NoError(t, s.Add(&Tx{Member: a, Time: day(2024, 1, 1, time.UTC), Amount: 1, Lines: []Line{{Category: 3}}}))
	require.NoError(t, s.Add(&Tx{Member: b, Time: day(2024, 1, 5, time.UTC), Amount: 1, Lines: []Line{{Category: 4, DaysSupply: 10}}}))
	require.NoError(t, s.Merge(a, b))
	rp := s.Repurchase(RepurchaseOptions{})
	_, _, _, cats := s.MemberDue(a, rp.Means())
	require.Len(t, cats, 2, "the loser's category moved across blocks")
	assert.Equal(t, []uint32{3, 4}, []uint32{cats[0].Category, cats[1].Category})
	assert.Equal(t, day(2024, 1, 15, time.UTC), cats[1].Due)
	_, _, _, cats = s.MemberDue(b, rp.Means())
	assert.Empty(t, cats)
	require.NoError(t, s.Remove(a))
	_, _, _, cats = s.MemberDue(a, rp.Means())
	assert.Empty(t, cats)
	assert.Empty(t, s.Repurchase(RepurchaseOptions{}).Categories())
}
