package rfm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMerge(t *testing.T) {
	s, err := New(4, Config{AsOf: day(2024, 12, 31, time.UTC)})
	require.NoError(t, err)
	add := func(m uint32, mo time.Month, d int, amount int64, ch Channel, lines ...Line) {
		require.NoError(t, s.Add(&Tx{Member: m, Time: day(2024, mo, d, time.UTC), Amount: amount, Channel: ch, Lines: lines}))
	}
	// Survivor 0: Jan 1, Jan 10. Loser 1: Jan 10, Jan 20 online, a refund.
	add(0, 1, 1, 100, Offline, Line{Category: 5, DaysSupply: 30})
	add(0, 1, 10, 200, Offline)
	add(1, 1, 10, 300, Offline)
	add(1, 1, 20, 400, Online, Line{Category: 5, DaysSupply: 30})
	require.NoError(t, s.Add(&Tx{Member: 1, Time: day(2024, 1, 21, time.UTC), Amount: -50, RefundOf: 9}))
	require.NoError(t, s.Merge(0, 1))
	m := s.Member(0)
	assert.Equal(t, 4, m.Orders)
	assert.Equal(t, 3, m.Days, "Jan 10 shared")
	assert.Equal(t, day(2024, 1, 1, time.UTC), m.First)
	assert.Equal(t, day(2024, 1, 20, time.UTC), m.Last)
	assert.Equal(t, int64(1000), m.Spend)
	assert.Equal(t, int64(50), m.Refunded)
	assert.Equal(t, []int{3, 1}, m.Channels)
	assert.Equal(t, int64(100), s.firstSpend[0])
	assert.Equal(t, 0, s.Member(1).Orders)
	assert.Equal(t, int64(0), s.Member(1).Refunded)
	rp := s.Repurchase(RepurchaseOptions{})
	cd, ok := rp.Category(0, 5)
	require.True(t, ok)
	assert.Equal(t, 2, cd.Purchases)
	_, ok = rp.Category(1, 5)
	assert.False(t, ok)

	// Same first day, far apart last days: the first day is shared.
	add(2, 1, 1, 10, Offline)
	add(2, 6, 1, 10, Offline)
	add(3, 1, 1, 10, Offline)
	add(3, 9, 1, 10, Offline)
	require.NoError(t, s.Merge(3, 2))
	assert.Equal(t, 3, s.Member(3).Days)
	assert.Equal(t, int64(20), s.firstSpend[3])

	require.NoError(t, s.Remove(3))
	assert.Equal(t, 0, s.Member(3).Orders)
	assert.ErrorIs(t, s.Merge(0, 9), ErrUnknownMember)
	assert.ErrorIs(t, s.Remove(9), ErrUnknownMember)
	require.NoError(t, s.Merge(0, 0))
	assert.Equal(t, 4, s.Member(0).Orders)
}
