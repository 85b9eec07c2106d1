package loyalty

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChunkLog: records of every size, across chunk boundaries and past
// the 64 KiB of a chunk, read back as written, through the writer's list
// and the one readers without the lock use.
func TestChunkLog(t *testing.T) {
	var l chunkLog
	type rec struct {
		pos   uint32
		key   string
		value []byte
	}
	var recs []rec
	for i := range 3000 {
		n := i % 700
		if i%500 == 499 {
			n = 70000 + i // a record larger than a chunk
		}
		v := bytes.Repeat([]byte{byte(i)}, n)
		key := fmt.Sprint("k", i)
		var pos uint32
		if i%2 == 0 {
			pos = addKeyed(&l, key, v)
		} else {
			pos = l.add(v)
			key = ""
		}
		recs = append(recs, rec{pos, key, v})
	}
	for _, cs := range []chunks{l.cs, l.unlocked()} {
		for i, r := range recs {
			if r.key == "" {
				require.Equal(t, r.value, cs.record(r.pos), "record %d", i)
				continue
			}
			k, v := cs.keyed(r.pos)
			require.Equal(t, r.key, string(k), "record %d", i)
			require.Equal(t, r.value, v, "record %d", i)
		}
	}
	assert.False(t, l.full())
}

// TestMemStoreDocuments: many documents of one member, rewritten and
// looked up, including keys that are not there.
func TestMemStoreDocuments(t *testing.T) {
	s := NewMemStore()
	ctx := context.Background()
	want := map[string]string{}
	for i := range 3000 {
		key := fmt.Sprint("o:", i%2000) // the last thousand rewrite earlier ones
		doc := fmt.Sprint("doc", i)
		c := &Commit{Member: 7, Tx: fmt.Sprint("t", i), TxRecord: []byte("r"), Account: []byte("a"), DocKey: key, Doc: []byte(doc),
			FirstSeq: uint64(i), Entries: [][]byte{[]byte(doc)}}
		require.NoError(t, s.Commit(ctx, c))
		want[key] = doc
	}
	for key, doc := range want {
		ld, err := s.Load(ctx, 7, "", key)
		require.NoError(t, err)
		require.Equal(t, doc, string(ld.Doc), key)
	}
	for _, key := range []string{"o:2000", "r:1", "", "o:"} {
		ld, err := s.Load(ctx, 7, "", key)
		require.NoError(t, err)
		assert.Nil(t, ld.Doc, key)
	}
	n := 0
	for e, err := range s.Entries(ctx, 7, 2990) {
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint("doc", 2990+n), string(e))
		n++
	}
	assert.Equal(t, 10, n)
}

// TestTxShardCollisions: transaction IDs whose hashes collide (forced
// here) are told apart, recorded, reserved, released and removed.
func TestTxShardCollisions(t *testing.T) {
	s := NewMemStore()
	tr := &s.txs[0]
	const h = 42
	tr.add(h, "a", []byte("rec a"))
	tr.add(h, "b", []byte("rec b")) // same hash: goes to over
	for _, tx := range []string{"a", "b"} {
		rec, ok := tr.record(h, tx)
		require.True(t, ok, tx)
		assert.Equal(t, "rec "+tx, string(rec))
	}
	_, ok := tr.record(h, "c")
	assert.False(t, ok)

	// c, with the hash too, is reserved in over, then recorded there.
	_, st := tr.reserve(h, "c")
	require.Equal(t, txFree, st)
	_, st = tr.reserve(h, "c")
	assert.Equal(t, txBusy, st, "being applied")
	_, ok = tr.record(h, "c")
	assert.False(t, ok, "a reservation is no record")
	tr.settle(h, "c", []byte("rec c"))
	rec, st := tr.reserve(h, "c")
	require.Equal(t, txRecorded, st)
	assert.Equal(t, "rec c", string(rec))

	// d is reserved and released: free again.
	_, st = tr.reserve(h, "d")
	require.Equal(t, txFree, st)
	tr.release(h, "d")
	_, st = tr.reserve(h, "d")
	assert.Equal(t, txFree, st)
	tr.release(h, "d")

	// A fresh hash reserves in idx; a colliding ID waits for it.
	_, st = tr.reserve(43, "e")
	require.Equal(t, txFree, st)
	_, st = tr.reserve(43, "f")
	assert.Equal(t, txBusy, st)
	tr.release(43, "e")
	_, st = tr.reserve(43, "f")
	assert.Equal(t, txFree, st)
}

// TestMemStoreConcurrentReaders: walks of entries, accounts and loads
// run while a ledger writes (run under -race).
func TestMemStoreConcurrentReaders(t *testing.T) {
	l := newTestLedger(t, baseConfig())
	ctx := context.Background()
	var writers, reader sync.WaitGroup
	done := make(chan struct{})
	for w := range 2 {
		writers.Go(func() {
			for i := range 2000 {
				mustApply(t, l, order(fmt.Sprint(w, "-", i), uint32(i%50), sh("2025-03-01"), fmt.Sprint(w, "-", i), line("otc", 100)))
			}
		})
	}
	reader.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			for m := range uint32(50) {
				var n uint64
				for e, err := range l.Entries(ctx, m) {
					require.NoError(t, err)
					require.Equal(t, n, e.Seq)
					n++
				}
				b, err := l.Balance(ctx, m, sh("2025-03-02"))
				require.NoError(t, err)
				assert.GreaterOrEqual(t, b.Entries, n, "the balance is read after the walk")
			}
			for _, err := range l.Members(ctx) {
				require.NoError(t, err)
			}
		}
	})
	writers.Wait()
	close(done)
	reader.Wait()
	assert.Equal(t, int64(2*2000), func() int64 {
		var sum int64
		for m := range uint32(50) {
			sum += balanceAt(t, l, m, sh("2025-03-02")).Available
		}
		return sum
	}(), "one point per order")
	requireAudit(t, l)
}
