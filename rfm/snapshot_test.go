package rfm

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func snapshotFixture(t testing.TB) *Summaries {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	s, err := New(1<<16+3, Config{Location: loc, AsOf: time.Date(2024, 6, 1, 0, 0, 0, 0, loc), Channels: 3})
	require.NoError(t, err)
	add := func(m uint32, mo time.Month, d int, amount int64, ch Channel, lines ...Line) {
		require.NoError(t, s.Add(&Tx{Member: m, Time: time.Date(2024, mo, d, 10, 0, 0, 0, loc), Amount: amount, Channel: ch, Lines: lines}))
	}
	add(0, 1, 3, 1200, 0, Line{Category: 2, DaysSupply: 30})
	add(0, 2, 1, 800, 2, Line{Category: 2, DaysSupply: 30}, Line{Category: 5})
	add(7, 3, 9, 5000, 1)
	add(1<<16+2, 5, 30, 99, 1, Line{Category: 5})
	require.NoError(t, s.Add(&Tx{Member: 7, Time: time.Date(2024, 3, 12, 0, 0, 0, 0, loc), Amount: -700, RefundOf: 4}))
	return s
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := snapshotFixture(t)
	var buf bytes.Buffer
	n, err := s.WriteTo(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(buf.Len()), n)

	r, err := ReadSummaries(bytes.NewReader(buf.Bytes()), nil)
	require.NoError(t, err)
	assert.Equal(t, s.Len(), r.Len())
	assert.Equal(t, s.AsOf(), r.AsOf())
	assert.Equal(t, s.Stats(), r.Stats())
	for _, m := range []uint32{0, 1, 7, 1<<16 + 2} {
		assert.Equal(t, s.Member(m), r.Member(m), "member %d", m)
	}
	assert.Equal(t, s.Repurchase(RepurchaseOptions{}).Categories(), r.Repurchase(RepurchaseOptions{}).Categories())

	// The same later writes give the same state as never having stopped.
	for _, x := range []*Summaries{s, r} {
		require.NoError(t, x.Add(&Tx{Member: 0, Time: time.Date(2024, 2, 3, 9, 0, 0, 0, x.Location()), Amount: 10, Lines: []Line{{Category: 2, DaysSupply: 10}}}))
		require.NoError(t, x.Merge(0, 1<<16+2))
	}
	var a, b bytes.Buffer
	_, err = s.WriteTo(&a)
	require.NoError(t, err)
	_, err = r.WriteTo(&b)
	require.NoError(t, err)
	assert.Equal(t, a.Bytes(), b.Bytes())

	_, err = ReadSummaries(bytes.NewReader(buf.Bytes()), time.UTC)
	assert.ErrorContains(t, err, "Asia/Shanghai", "a different zone is refused")
}

func TestSnapshotCorruption(t *testing.T) {
	var buf bytes.Buffer
	_, err := snapshotFixture(t).WriteTo(&buf)
	require.NoError(t, err)
	data := buf.Bytes()
	for _, tc := range []struct {
		name string
		data []byte
		part string
	}{
		{"empty", nil, "header"},
		{"not a snapshot", []byte("hello, world"), "header"},
		{"truncated columns", data[:len(data)/2], "columns"},
		{"no checksum", data[:len(data)-4], "checksum"},
		{"flipped byte", flip(data, len(data)-10), ""},
		{"bad checksum", flip(data, len(data)-1), "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadSummaries(bytes.NewReader(tc.data), nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrCorrupt)
			var se *SnapshotError
			require.True(t, errors.As(err, &se))
			if tc.part != "" {
				assert.Equal(t, tc.part, se.Part)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func FuzzReadSummaries(f *testing.F) {
	var buf bytes.Buffer
	_, err := snapshotFixture(f).WriteTo(&buf)
	require.NoError(f, err)
	f.Add(buf.Bytes())
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadSummaries(bytes.NewReader(data), nil)
		if err != nil {
			assert.ErrorIs(t, err, ErrCorrupt)
			return
		}
		// Whatever decodes writes back to the same bytes.
		var out bytes.Buffer
		_, err = s.WriteTo(&out)
		require.NoError(t, err)
		assert.Equal(t, data[:out.Len()], out.Bytes())
	})
}
