package boltstore

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cdpkit/cdpkit/loyalty"
)

// BenchmarkDurableOrders applies orders for distinct members from many
// goroutines, so group commit can batch them; ns/op is the inverse of
// durable throughput. The bench/ module measures latency percentiles.
func BenchmarkDurableOrders(b *testing.B) {
	for _, callers := range []int{1, 64, 512} {
		b.Run(strconv.Itoa(callers), func(b *testing.B) {
			s, _ := openTemp(b)
			defer s.Close()
			l := loyalty.NewLedger(testProgram(b), s, nil)
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(max(1, callers/2)) // 2 cores here: 2 × callers/2
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					tx := strconv.FormatInt(i, 10)
					if _, err := l.Apply(ctx, orderOp(tx, uint32(i%100000), t0, 12345)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCommitBatch is the store alone: one commit of a typical size.
func BenchmarkCommitSerial(b *testing.B) {
	s, _ := openTemp(b)
	defer s.Close()
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		c := &loyalty.Commit{Member: uint32(i), Tx: strconv.Itoa(i), TxRecord: make([]byte, 60), Account: make([]byte, 120),
			DocKey: "o:" + strconv.Itoa(i), Doc: make([]byte, 100), Entries: [][]byte{make([]byte, 50), make([]byte, 40)}}
		if err := s.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
