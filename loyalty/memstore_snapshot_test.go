package loyalty

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// snapshotLedger is a ledger with orders, a refund, a redemption and a
// merge, so that every kind of record is in the store.
func snapshotLedger(t testing.TB) (*Program, *MemStore) {
	t.Helper()
	p, err := NewProgram(baseConfig())
	require.NoError(t, err)
	s := NewMemStore()
	l := NewLedger(p, s, nil)
	mustApply(t, l, order("o1", 1, sh("2025-01-02 10:00"), "SO-1", line("otc", 12000), line("rx", 3000)))
	mustApply(t, l, order("o2", 2, sh("2025-01-03 10:00"), "SO-2", line("otc", 5000)))
	mustApply(t, l, Refund{Tx: "r1", Member: 1, At: sh("2025-01-04 10:00"), OrderID: "SO-1", Lines: []Line{line("rx", 3000)}})
	mustApply(t, l, Redeem{Tx: "g1", Member: 2, At: sh("2025-01-05 10:00"), Points: 20})
	mustApply(t, l, Merge{Tx: "m", Member: 1, From: 2, At: sh("2025-01-06 10:00")})
	return p, s
}

// TestMemStoreSnapshot checks that a ledger continues from a restored
// store exactly as from the original: balances, receipts, refunds of
// merged orders, replays, and a clean audit.
func TestMemStoreSnapshot(t *testing.T) {
	ctx := context.Background()
	p, s := snapshotLedger(t)
	var buf bytes.Buffer
	n, err := s.WriteTo(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(buf.Len()), n)
	r, err := ReadMemStore(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)

	var outs [2][]any
	for i, st := range []*MemStore{s, r} {
		l := NewLedger(p, st, nil)
		requireAudit(t, l)
		rc := mustApply(t, l, Refund{Tx: "r2", Member: 1, At: sh("2025-01-07 10:00"), OrderID: "SO-2", Lines: []Line{line("otc", 1000)}})
		again := mustApply(t, l, order("o1", 1, sh("2025-01-02 10:00"), "SO-1", line("otc", 12000), line("rx", 3000)))
		b := balanceAt(t, l, 1, sh("2025-02-01"))
		_, err := l.Apply(ctx, order("o3", 2, sh("2025-01-08 10:00"), "SO-3", line("otc", 1)))
		outs[i] = append(outs[i], rc.Entries, rc.After, again.Replayed, b, err.Error())
		requireAudit(t, l)
	}
	assert.Equal(t, outs[0], outs[1])

	var a, b bytes.Buffer
	_, err = s.WriteTo(&a)
	require.NoError(t, err)
	_, err = r.WriteTo(&b)
	require.NoError(t, err)
	assert.Equal(t, a.Bytes(), b.Bytes(), "the same later writes give the same store")
}

func TestMemStoreSnapshotCorruption(t *testing.T) {
	_, s := snapshotLedger(t)
	var buf bytes.Buffer
	_, err := s.WriteTo(&buf)
	require.NoError(t, err)
	data := buf.Bytes()
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"foreign":   []byte("PK\x03\x04 not a ledger"),
		"truncated": data[:len(data)/2],
		"flipped":   append(append([]byte{}, data[:len(data)-9]...), append([]byte{data[len(data)-9] ^ 1}, data[len(data)-8:]...)...),
	} {
		_, err := ReadMemStore(bytes.NewReader(bad))
		assert.ErrorIs(t, err, ErrCorruptSnapshot, name)
	}
	require.NoError(t, s.Close())
	_, err = s.WriteTo(&buf)
	assert.ErrorIs(t, err, ErrClosed)
}

func FuzzReadMemStore(f *testing.F) {
	_, s := snapshotLedger(f)
	var buf bytes.Buffer
	_, err := s.WriteTo(&buf)
	require.NoError(f, err)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadMemStore(bytes.NewReader(data))
		if err != nil {
			assert.ErrorIs(t, err, ErrCorruptSnapshot)
			return
		}
		var out bytes.Buffer
		_, err = r.WriteTo(&out)
		require.NoError(t, err)
		assert.Equal(t, data[:out.Len()], out.Bytes(), "what decodes encodes back the same")
	})
}
