package rfm

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRepurchaseHandWorked, as of Mar 1 (day 60 of 2024, UTC):
//
//	member 0: bought Jan 1, Jan 11, Jan 21 (2 intervals of 10 days)
//	member 1: bought Jan 1, Feb 10 (1 interval of 40 days)
//	member 2: bought Feb 20 only (no interval)
//	member 3: nothing
//
// Population mean interval = (20 + 40) / (2 + 1) = 20 days. With
// shrinkage 2:
//
//	member 0: (20 + 2·20) / (2 + 2) = 15   → due Jan 21 + 15 = Feb 5 (overdue 25 days)
//	member 1: (40 + 2·20) / (1 + 2) = 26.67 → due Feb 10 + 27 = Mar 8 (due in 7 days)
//	member 2: 20 (the mean)                → due Feb 20 + 20 = Mar 11 (due in 10 days)
func TestRepurchaseHandWorked(t *testing.T) {
	s, err := New(4, Config{AsOf: day(2024, 3, 1, time.UTC)})
	require.NoError(t, err)
	buy := func(m uint32, mo time.Month, d int) {
		require.NoError(t, s.Add(&Tx{Member: m, Time: day(2024, mo, d, time.UTC), Amount: 100}))
	}
	buy(0, 1, 1)
	buy(0, 1, 11)
	buy(0, 1, 21)
	buy(1, 1, 1)
	buy(1, 2, 10)
	buy(2, 2, 20)
	rp := s.Repurchase(RepurchaseOptions{})

	due, iv, ok := rp.Due(0)
	require.True(t, ok)
	assert.Equal(t, day(2024, 2, 5, time.UTC), due)
	assert.InDelta(t, 15, iv, 1e-6)
	due, iv, ok = rp.Due(1)
	require.True(t, ok)
	assert.Equal(t, day(2024, 3, 8, time.UTC), due)
	assert.InDelta(t, 80.0/3, iv, 1e-5)
	due, _, ok = rp.Due(2)
	require.True(t, ok)
	assert.Equal(t, day(2024, 3, 11, time.UTC), due)
	_, _, ok = rp.Due(3)
	assert.False(t, ok)

	assert.Equal(t, []uint32{1}, rp.DueWithin(7))
	assert.Equal(t, []uint32{1, 2}, rp.DueWithin(10))
	assert.Empty(t, rp.DueWithin(6))
	assert.Equal(t, []uint32{0}, rp.Overdue(25))
	assert.Empty(t, rp.Overdue(26))

	// Lapse risk: member 0 is 40 days away against a 15-day habit, 25
	// days past it: 1 − 0.9·e^(−25/15).
	assert.InDelta(t, 1-0.9*math.Exp(-25.0/15), rp.LapseRisk(0, 0.9), 1e-6)
	assert.InDelta(t, 0.1, rp.LapseRisk(1, 0.9), 1e-9, "within its interval: 1 − P(alive)")
	assert.Equal(t, 1.0, rp.LapseRisk(3, 1), "no purchase")

	// No shrinkage: member 1's own 40 days.
	rp = s.Repurchase(RepurchaseOptions{Shrinkage: -1})
	_, iv, _ = rp.Due(1)
	assert.InDelta(t, 40, iv, 1e-6)
}

// TestRepurchaseCategories: category 7 carries days-supply, category 9
// does not. As of Mar 1:
//
//	member 0, cat 7: Jan 1 with 30 days, Jan 25 with 30 days (refilled
//	  early: the 6 days left carry over) → runs out Jan 1 + 60 = Mar 1
//	member 1, cat 7: Feb 1 with 60 days → runs out Apr 1
//	member 0, cat 9: Jan 1, Jan 31 (interval 30); member 1, cat 9: Feb 15
//	  only. Category mean = 30, so member 1 is due Feb 15 + 30 = Mar 16;
//	  member 0 (30 + 2·30)/(1 + 2) = 30 → due Mar 1.
func TestRepurchaseCategories(t *testing.T) {
	s, err := New(2, Config{AsOf: day(2024, 3, 1, time.UTC)})
	require.NoError(t, err)
	add := func(m uint32, mo time.Month, d int, lines ...Line) {
		require.NoError(t, s.Add(&Tx{Member: m, Time: day(2024, mo, d, time.UTC), Amount: 100, Lines: lines}))
	}
	add(0, 1, 1, Line{Category: 7, DaysSupply: 30}, Line{Category: 9})
	add(0, 1, 25, Line{Category: 7, DaysSupply: 30})
	add(0, 1, 31, Line{Category: 9})
	add(1, 2, 1, Line{Category: 7, DaysSupply: 60})
	add(1, 2, 15, Line{Category: 9})
	rp := s.Repurchase(RepurchaseOptions{})

	cd, ok := rp.Category(0, 7)
	require.True(t, ok)
	assert.True(t, cd.FromSupply)
	assert.Equal(t, day(2024, 3, 1, time.UTC), cd.Due)
	assert.Equal(t, 2, cd.Purchases)
	cd, ok = rp.Category(1, 9)
	require.True(t, ok)
	assert.False(t, cd.FromSupply)
	assert.Equal(t, day(2024, 3, 16, time.UTC), cd.Due)
	assert.InDelta(t, 30, cd.Interval, 1e-9)
	cd, _ = rp.Category(0, 9)
	assert.Equal(t, day(2024, 3, 1, time.UTC), cd.Due)
	_, ok = rp.Category(1, 8)
	assert.False(t, ok)

	assert.Equal(t, []uint32{0}, rp.CategoryDueWithin(7, 0), "runs out today")
	assert.Equal(t, []uint32{0, 1}, rp.CategoryDueWithin(7, 31))
	assert.Equal(t, []uint32{0, 1}, rp.CategoryDueWithin(9, 15))
	assert.Empty(t, rp.CategoryOverdue(7, 1))
	assert.Len(t, rp.Categories(), 4)
}
