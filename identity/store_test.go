package identity

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHomeInRange(t *testing.T) {
	for _, size := range []int{1, 1024, 1429, 4285715, maxIdents * 10 / 7} {
		for _, h := range []uint64{0, 1, 1<<32 - 1, 1 << 32, math.MaxUint64, 0x9E3779B97F4A7C15} {
			i := homeIn(h, size)
			assert.True(t, i >= 0 && i < size, "homeIn(%#x, %d) = %d", h, size, i)
		}
	}
	// The low 32 bits spread over the table in proportion: a quarter of
	// the way through them is a quarter of the way through the table.
	assert.Equal(t, 250, homeIn(1<<30, 1000))
	assert.Equal(t, 999, homeIn(1<<32-1, 1000))
	// The high 32 bits, the fingerprint, do not move the slot.
	assert.Equal(t, homeIn(12345, 7777), homeIn(0xABCD<<32|12345, 7777))
}

func TestSlotsForAndGrowth(t *testing.T) {
	assert.Equal(t, 1024, slotsFor(0))
	assert.Equal(t, 4285715, slotsFor(3000000)) // ⌈3e6/0.7⌉
	assert.Equal(t, maxIdents*10/7+1, slotsFor(math.MaxInt32*4))

	// A rebuild keeps the size while live entries fill at most 0.6.
	assert.Equal(t, 1000, grownSize(1000, 599))
	// Past that it grows by half, as often as needed.
	assert.Equal(t, 1500, grownSize(1000, 800))
	assert.Equal(t, 2250, grownSize(1000, 1000))
}

func TestNextSlotWraps(t *testing.T) {
	assert.Equal(t, 1, nextSlot(0, 3))
	assert.Equal(t, 0, nextSlot(2, 3))
}
