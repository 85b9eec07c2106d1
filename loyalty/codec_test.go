package loyalty

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodeEntryV2 writes an entry in the first two layouts (every field,
// in order), as ledgers written before the third layout hold them.
func encodeEntryV2(e *Entry, w *wbuf) {
	x := !e.Matures.IsZero() || e.Earned != 0 || e.PeerLot != 0 || e.Savings != 0
	if x {
		w.byte(tagEntryX)
	} else {
		w.byte(tagEntry)
	}
	w.uint(e.Seq)
	w.str(e.Tx)
	w.byte(byte(e.Kind))
	w.time(e.At)
	w.uint(uint64(e.Lot))
	w.int(e.Points)
	w.int(e.Pending)
	w.int(e.Lifetime)
	w.int(e.Debt)
	w.time(e.Expires)
	w.int(e.Growth)
	w.int(int64(e.GrowthDay))
	w.str(e.FromTier)
	w.str(e.ToTier)
	w.int(int64(e.Card))
	w.int(e.Amount)
	w.int(e.Principal)
	w.int(e.Bonus)
	w.str(e.Ref)
	if x {
		w.time(e.Matures)
		w.int(e.Earned)
		w.uint(uint64(e.PeerLot))
		w.int(e.Savings)
	}
}

// randomEntry sets each field with probability one half.
func randomEntry(rng *rand.Rand) Entry {
	pick := func() bool { return rng.IntN(2) == 0 }
	i64 := func() int64 {
		if pick() {
			return 0
		}
		return rng.Int64() >> rng.IntN(64)
	}
	tm := func() time.Time {
		if pick() {
			return time.Time{}
		}
		return time.Unix(0, rng.Int64N(1<<62)-1<<61).UTC()
	}
	str := func() string { return []string{"", "gold", "SO-12345", "1"}[rng.IntN(4)] }
	e := Entry{Seq: rng.Uint64() >> rng.IntN(64), Tx: "tx-" + str(), Kind: EntryKind(rng.IntN(int(entryKinds)-1) + 1),
		At: time.Unix(0, rng.Int64N(1<<62)).UTC(), Lot: uint32(i64()), Points: i64(), Pending: i64(), Lifetime: i64(), Debt: i64(),
		Expires: tm(), Growth: i64(), GrowthDay: int32(i64()), FromTier: str(), ToTier: str(), Card: int32(i64()),
		Amount: i64(), Principal: i64(), Bonus: i64(), Ref: str(), Matures: tm(), Earned: i64(), PeerLot: uint32(i64()), Savings: i64()}
	return e
}

// TestEntryLayouts: entries written in any layout read back the same, and
// the current one is the smaller for the entries ledgers write.
func TestEntryLayouts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		e := randomEntry(rng)
		var w3, w2 wbuf
		e.encode(&w3)
		encodeEntryV2(&e, &w2)
		got3, err := decodeEntry(w3.b)
		require.NoError(t, err)
		got2, err := decodeEntry(w2.b)
		require.NoError(t, err)
		assert.Equal(t, e, got3)
		assert.Equal(t, e, got2)
	}
	earn := Entry{Seq: 12, Tx: "o-123456", Kind: EntryEarn, At: sh("2025-03-01 10:00").UTC(), Lot: 3, Points: 123, Lifetime: 123,
		Expires: sh("2026-04-01").UTC(), Ref: "SO-123456"}
	var w3, w2 wbuf
	earn.encode(&w3)
	encodeEntryV2(&earn, &w2)
	assert.Less(t, len(w3.b), len(w2.b), "an earn entry")

	// Unknown field bits are corruption, not silently dropped data.
	var w wbuf
	earn.encode(&w)
	bad := append([]byte(nil), w.b...)
	_, err := decodeEntry(append(bad[:len(bad)-1:len(bad)-1], 0xff, 0xff, 0xff, 0x7f))
	require.ErrorIs(t, err, errCorrupt)
}
