package loyalty

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordsOf runs a small scenario and returns every record it stored.
func recordsOf(t testing.TB) [][]byte {
	c := cardConfig()
	c.Earning.PendingDays = 3
	c.Expiry = ExpiryPolicy{Months: 1, NoticeDays: 10}
	c.Tiers = []Tier{{Name: "silver"}, {Name: "gold", Threshold: 10}}
	c.Growth.PerYuan = 1
	p, err := NewProgram(c)
	require.NoError(t, err)
	s := NewMemStore()
	l := NewLedger(p, s, nil)
	o := order("o1", 1, sh("2025-01-01"), "O1", line("otc", 12345), line("rx", 99))
	o.Savings = 100
	for _, op := range []Op{
		BuyCard{Tx: "c", Member: 1, At: sh("2024-12-31"), Product: "annual"},
		o,
		Settle{Member: 1, At: sh("2025-01-25")},
		Redeem{Tx: "r", Member: 1, At: sh("2025-01-26"), Points: 10},
		Refund{Tx: "f", Member: 1, At: sh("2025-01-27"), OrderID: "O1", Lines: []Line{line("otc", 345)}, Savings: 10},
		TopUp{Tx: "tu", Member: 1, At: sh("2025-01-27"), Amount: 5000},
		Spend{Tx: "sp", Member: 1, At: sh("2025-01-27"), Amount: 100},
		order("o2", 2, sh("2025-01-27"), "O2", line("otc", 5000)),
		Merge{Tx: "mg", Member: 2, From: 1, At: sh("2025-01-28")},
	} {
		mustApply(t, l, op)
	}
	return s.allRecords()
}

// FuzzDecodeRecords feeds arbitrary bytes to every record decoder: none
// may panic, and whatever decodes must re-encode to bytes that decode to
// the same value.
func FuzzDecodeRecords(f *testing.F) {
	for _, r := range recordsOf(f) {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := decodeAccount(b); err == nil {
			a2, err := decodeAccount(a.encode())
			require.NoError(t, err)
			assert.Equal(t, a, a2)
		}
		if e, err := decodeEntry(b); err == nil {
			var w wbuf
			e.encode(&w)
			e2, err := decodeEntry(w.b)
			require.NoError(t, err)
			assert.Equal(t, e, e2)
		}
		if r, err := decodeTxRecord(b); err == nil {
			r2, err := decodeTxRecord(r.encode())
			require.NoError(t, err)
			assert.Equal(t, r, r2)
		}
		if d, err := decodeOrderDoc(b); err == nil {
			d2, err := decodeOrderDoc(d.encode())
			require.NoError(t, err)
			assert.Equal(t, d, d2)
		}
		if d, err := decodeRedeemDoc(b); err == nil {
			d2, err := decodeRedeemDoc(d.encode())
			require.NoError(t, err)
			assert.Equal(t, d, d2)
		}
		if d, err := decodeSpendDoc(b); err == nil {
			d2, err := decodeSpendDoc(d.encode())
			require.NoError(t, err)
			assert.Equal(t, d, d2)
		}
	})
}

// FuzzUnmarshalOp: no input panics the decoder, and a decoded operation
// survives MarshalOp → UnmarshalOp with the same content digest.
func FuzzUnmarshalOp(f *testing.F) {
	data, err := os.ReadFile("testdata/events.jsonl")
	require.NoError(f, err)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f.Add(bytes.Clone(sc.Bytes()))
	}
	f.Add([]byte(`{"op":"refund_spend","tx":"a","member":4294967295,"at":"2025-01-01T00:00:00Z","spend":"b","amount":1}`))
	f.Add([]byte(`{"op":"order","lines":[{"paid":-1}],"at":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"op":"merge","tx":"m-1","member":1,"from":2,"at":"2025-03-01T10:00:00+08:00"}`))
	p, err := NewProgram(cardConfig())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := UnmarshalOp(b)
		if err != nil {
			return
		}
		_ = validate(op, p) // must not panic either
		out, err := MarshalOp(op)
		require.NoError(t, err)
		op2, err := UnmarshalOp(out)
		require.NoError(t, err, "%s", out)
		assert.Equal(t, digest(op), digest(op2))
	})
}

// FuzzParseProgram: no programme text panics the parser or the ledger
// built from it.
func FuzzParseProgram(f *testing.F) {
	data, err := os.ReadFile("testdata/program.json")
	require.NoError(f, err)
	f.Add(data)
	f.Add([]byte(`{"tiers":[{"name":"a"}],"expiry":{"months":1200,"end_of":"year"}}`))
	f.Add([]byte(`{"earning":{"points_per_yuan":10000,"campaigns":[{"from":"2025-01-01","to":"2200-01-01","multiplier":1000}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProgram(b)
		if err != nil {
			return
		}
		l := NewLedger(p, NewMemStore(), nil)
		o := order("t", 1, sh("2025-06-10"), "o", line("otc", 1e12))
		o.PointsUsed = 0
		// Huge rates may make the order earn more than one order may.
		if _, err := l.Apply(context.Background(), o); err != nil && !errors.Is(err, ErrInvalidOp) {
			t.Fatalf("valid programme rejects a plain order: %v", err)
		}
		requireAudit(t, l)
	})
}
