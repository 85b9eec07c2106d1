package identity

import (
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func TestSlotArrayLayout(t *testing.T) {
	s := makeSlots(3)
	require.Equal(t, 3, s.len())
	require.Len(t, s, 3*6+2)
	s.set(1, 0xABCD<<32|0x01020304)
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0x04, 0x03, 0x02, 0x01, 0xCD, 0xAB, 0, 0, 0, 0, 0, 0, 0, 0}, []byte(s))
	assert.Equal(t, uint64(0xABCD<<32|0x01020304), s.at(1))
	assert.Zero(t, s.at(0))
	assert.Zero(t, s.at(2))
	for _, v := range []uint64{tombSlot, 0xFFFF<<32 | 0xFFFFFFFE, 1, 1 << 32} {
		s.set(2, v) // the last slot, read through the padding
		assert.Equal(t, v, s.at(2), "%#x", v)
		assert.Equal(t, uint64(0xABCD<<32|0x01020304), s.at(1), "a neighbour keeps its slot")
	}
	assert.Equal(t, uint32(0xABCD), fp(0xABCD_0000_0000_1234))
	assert.Equal(t, uint32(0), fp(0x0000_FFFF_FFFF_FFFF))
}

// TestFingerprintCollision stores identifiers under one hash, so they
// share home slot and fingerprint: only the values can tell them apart.
func TestFingerprintCollision(t *testing.T) {
	r, err := New(Config{Kinds: []Kind{{Name: "card"}}})
	require.NoError(t, err)
	const h = 0xBEEF_0000_1234_5678
	vals := []string{"13812345678", "C-1", "C-2", "123e4567-e89b-12d3-a456-426614174000"}
	var ids []uint32
	for _, v := range vals {
		x, hint := r.findSlot(0, h, []byte(v))
		require.Equal(t, noIdent, x, "%q not stored yet", v)
		ids = append(ids, r.newIdent(0, h, []byte(v), hint))
	}
	for i, v := range vals {
		x, _ := r.findSlot(0, h, []byte(v))
		assert.Equal(t, ids[i], x, "%q", v)
		x, _ = r.findSlot(1, h, []byte(v))
		assert.Equal(t, noIdent, x, "%q in another namespace", v)
	}
	for _, v := range []string{"13812345679", "C-3", "", "123e4567-e89b-12d3-a456-426614174001"} {
		x, _ := r.findSlot(0, h, []byte(v))
		assert.Equal(t, noIdent, x, "%q", v)
	}
	r.tableDelete(ids[1])
	x, _ := r.findSlot(0, h, []byte("C-2"))
	assert.Equal(t, ids[2], x, "found past a tombstone")
}

// TestLookupManyIdentifiers stores enough identifiers that some share a
// 16-bit fingerprint on a probe sequence, and finds each, and none that
// is not stored.
func TestLookupManyIdentifiers(t *testing.T) {
	r, err := New(Config{Kinds: []Kind{{Name: "card"}}})
	require.NoError(t, err)
	const n = 20_000
	b := new(Batch)
	for i := range n {
		require.NoError(t, b.Add(Observation{EventID: strconv.Itoa(i), Time: time.Unix(1e9, 0),
			Identifiers: []Identifier{{Kind: "card", Value: "C" + strconv.Itoa(i)}}}))
	}
	r.Resolve(b, nil)
	require.NoError(t, r.check())
	seen := map[PersonID]bool{}
	for i := range n {
		p, err := r.Lookup(Identifier{Kind: "card", Value: "C" + strconv.Itoa(i)})
		if err != nil {
			t.Fatalf("C%d: %v", i, err)
		}
		seen[p] = true
		if _, err := r.Lookup(Identifier{Kind: "card", Value: "D" + strconv.Itoa(i)}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("D%d: %v", i, err)
		}
	}
	assert.Len(t, seen, n, "one person each")
}
