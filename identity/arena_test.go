package identity

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArenaPackedEncoding(t *testing.T) {
	cases := []struct {
		val    string
		packed bool
		stored []byte // length byte and packed bytes, worked out by hand
	}{
		// Digits two to a byte, the first in the low nibble.
		{"13812345678", true, []byte{11, 0x31, 0x18, 0x32, 0x54, 0x76, 0x08}},
		{"0", true, []byte{1, 0x00}},
		{"007", true, []byte{3, 0x00, 0x07}},
		{"90", true, []byte{2, 0x09}},
		// A UUID's 32 hex digits the same way, dashes left out.
		{"123e4567-e89b-12d3-a456-426614174000", true, []byte{uuidLen,
			0x21, 0xe3, 0x54, 0x76, 0x8e, 0xb9, 0x21, 0x3d, 0x4a, 0x65, 0x24, 0x66, 0x41, 0x71, 0x04, 0x00}},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", true, append([]byte{uuidLen}, []byte(strings.Repeat("\xff", 16))...)},
		// Kept as they are.
		{"", false, []byte{0}},
		{"12a", false, []byte{3, '1', '2', 'a'}},
		{"+8613812345678", false, append([]byte{14}, "+8613812345678"...)},
		{"123E4567-E89B-12D3-A456-426614174000", false, nil}, // upper case
		{"123e4567-e89b-12d3-a456-42661417400g", false, nil}, // not hex
		{"123e4567e-89b-12d3-a456-426614174000", false, nil}, // dash misplaced
		{"123e4567-e89b-12d3-a456-4266141740001", false, nil},
		{"123e4567e89b12d3a456426614174000", false, nil}, // no dashes, 32 digits of hex
	}
	for _, c := range cases {
		var a arena
		off := a.add([]byte(c.val), 0)
		assert.Equal(t, c.packed, off&packedBit != 0, "%q packed", c.val)
		b, v := a.entry(off)
		if c.stored != nil {
			assert.Equal(t, c.stored, append([]byte{b}, v...), "%q stored", c.val)
		} else {
			assert.Equal(t, c.val, string(v), "%q stored as it is", c.val)
		}
		assert.Equal(t, c.val, string(a.get(off, nil)), "%q read back", c.val)
		assert.True(t, a.equal(off, []byte(c.val)), "%q equals itself", c.val)
	}
}

func TestArenaDigitLengthBounds(t *testing.T) {
	var a arena
	d127, d128 := strings.Repeat("9", maxDigits), strings.Repeat("9", maxDigits+1)
	off := a.add([]byte(d127), 0)
	require.NotZero(t, off&packedBit, "127 digits are packed")
	_, v := a.entry(off)
	assert.Len(t, v, 64)
	assert.Equal(t, d127, string(a.get(off, nil)))
	off = a.add([]byte(d128), 0)
	assert.Zero(t, off&packedBit, "128 digits are kept as they are")
	assert.Equal(t, d128, string(a.get(off, nil)))
	long := strings.Repeat("7", maxValueLen)
	off = a.add([]byte(long), 0)
	assert.Equal(t, long, string(a.get(off, nil)))
}

// TestArenaEqualAgainstText checks equal, which compares in packed form,
// against comparing the text, over values that differ in one place.
func TestArenaEqualAgainstText(t *testing.T) {
	vals := []string{
		"", "0", "00", "1", "10", "01", "13812345678", "13812345679", "1381234567", "138123456780",
		"1381234567a", "23812345678", strings.Repeat("0", maxDigits), strings.Repeat("0", maxDigits+1),
		"123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-426614174001",
		"023e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000",
		"123e4567-e89b-12d3-a456-42661417400", "123e4567e89b12d3a456426614174000",
	}
	var a arena
	offs := make([]uint64, len(vals))
	for i, v := range vals {
		offs[i] = a.add([]byte(v), 0)
	}
	for i, v := range vals {
		for _, w := range vals {
			assert.Equal(t, v == w, a.equal(offs[i], []byte(w)), "stored %q, probe %q", v, w)
		}
	}
}

// TestArenaRoundTripRandom stores random digits, UUIDs and tokens with
// extra bytes after them, across chunk boundaries, and reads all back.
func TestArenaRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2))
	const hex = "0123456789abcdef"
	var vals []string
	for len(vals) < 80_000 {
		var b []byte
		switch rng.IntN(3) {
		case 0:
			for range 1 + rng.IntN(20) {
				b = append(b, '0'+byte(rng.IntN(10)))
			}
		case 1:
			for i := range uuidText {
				if i == 8 || i == 13 || i == 18 || i == 23 {
					b = append(b, '-')
				} else {
					b = append(b, hex[rng.IntN(16)])
				}
			}
		default:
			b = []byte("tok-" + strconv.Itoa(rng.IntN(1e6)))
			b = append(b, strings.Repeat("x", rng.IntN(maxValueLen-len(b)+1))...)
		}
		vals = append(vals, string(b))
	}
	var a arena
	offs := make([]uint64, len(vals))
	for i, v := range vals {
		offs[i] = a.add([]byte(v), 4)
		copy(a.extra(offs[i], 4), []byte{byte(i), byte(i >> 8), byte(i >> 16), 0xAB})
	}
	require.Greater(t, len(a.chunks), 1, "values span chunks")
	for i, v := range vals {
		if got := a.get(offs[i], nil); string(got) != v {
			t.Fatalf("value %d: got %q, want %q", i, got, v)
		}
		if got, want := a.extra(offs[i], 4), []byte{byte(i), byte(i >> 8), byte(i >> 16), 0xAB}; !bytes.Equal(got, want) {
			t.Fatalf("extra of value %d: got %x, want %x", i, got, want)
		}
	}
}

func TestArenaWipePacked(t *testing.T) {
	for _, v := range []string{"13812345678", "123e4567-e89b-12d3-a456-426614174000", "CARD-1"} {
		var a arena
		before := a.add([]byte("1"), 0)
		off := a.add([]byte(v), 4)
		copy(a.extra(off, 4), "\x01\x02\x03\x04")
		after := a.add([]byte("2"), 0)
		a.wipe(off, 4)
		o := off &^ packedBit
		c := a.chunks[0]
		end := (after &^ packedBit)
		assert.Equal(t, make([]byte, end-o), c[o:end], "%q wiped", v)
		assert.Equal(t, "1", string(a.get(before, nil)))
		assert.Equal(t, "2", string(a.get(after, nil)))
	}
}

// TestPackedValuesThroughResolver stores packed and unpacked values of
// every shape, windowed (with last-seen time after the value) and not,
// and checks lookups, identifiers and a snapshot round trip.
func TestPackedValuesThroughResolver(t *testing.T) {
	cfg := Config{Kinds: []Kind{
		{Name: "phone", Normalize: NormalizeCNMobile, Limit: 2},
		{Name: "card", Limit: 1},
		{Name: "device", Normalize: NormalizeLower, Limit: 2, Window: 24 * time.Hour},
	}}
	r, err := New(cfg)
	require.NoError(t, err)
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	obs := []Observation{
		{EventID: "1", Time: t0, Identifiers: []Identifier{{Kind: "phone", Value: "+86 138-1234-5678"}, {Kind: "card", Value: "0000123"}}},
		{EventID: "2", Time: t0, Identifiers: []Identifier{{Kind: "card", Value: "0000123"}, {Kind: "device", Value: "123E4567-E89B-12D3-A456-426614174000"}}},
		{EventID: "3", Time: t0.Add(48 * time.Hour), Identifiers: []Identifier{{Kind: "card", Value: "0000123"}, {Kind: "device", Value: "AAAAAAAA-0000-0000-0000-000000000000"}}},
		{EventID: "4", Time: t0.Add(49 * time.Hour), Identifiers: []Identifier{{Kind: "card", Value: "0000123"}, {Kind: "device", Value: "dev-x"}}},
		{EventID: "5", Time: t0, Identifiers: []Identifier{{Kind: "card", Value: "123"}}},
	}
	for _, o := range obs {
		_, err := r.Observe(o)
		require.NoError(t, err)
	}
	check := func(r *Resolver) {
		t.Helper()
		require.NoError(t, r.check())
		p, err := r.Lookup(Identifier{Kind: "card", Value: "0000123"})
		require.NoError(t, err)
		q, err := r.Lookup(Identifier{Kind: "card", Value: "123"})
		require.NoError(t, err)
		assert.NotEqual(t, p, q, "leading zeros count")
		got, err := r.Identifiers(p)
		require.NoError(t, err)
		var strs []string
		for _, x := range got {
			strs = append(strs, x.Kind+":"+x.Value)
		}
		assert.ElementsMatch(t, []string{"phone:13812345678", "card:0000123", "device:123e4567-e89b-12d3-a456-426614174000",
			"device:aaaaaaaa-0000-0000-0000-000000000000", "device:dev-x"}, strs,
			"a window of a day lets a third device in two days later")
	}
	check(r)
	var buf bytes.Buffer
	require.NoError(t, r.WriteSnapshot(&buf))
	r2, err := RestoreSnapshot(&buf, cfg)
	require.NoError(t, err)
	check(r2)
}

// TestArenaLookupPathDoesNotAllocate: Observe allocates nothing in the
// common case, so neither may packing nor comparing a value.
func TestArenaLookupPathDoesNotAllocate(t *testing.T) {
	var a arena
	phone, uuid := []byte("13812345678"), []byte("123e4567-e89b-12d3-a456-426614174000")
	offs := []uint64{a.add(phone, 0), a.add(uuid, 0)}
	var buf [maxValueLen]byte
	allocs := testing.AllocsPerRun(100, func() {
		for i, v := range [][]byte{phone, uuid} {
			if !a.equal(offs[i], v) || len(a.get(offs[i], buf[:])) != len(v) {
				t.Fatal("value lost")
			}
			packedSize(v)
		}
	})
	assert.Zero(t, allocs)
}
