package loyalty

import (
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The member directory finds, and lists in increasing order, members at
// the edges of its slots, chunks and pages, up to the largest member ID.
func TestMemStoreDirectoryEdges(t *testing.T) {
	s := NewMemStore()
	chunk := uint32(1) << memChunkBits
	page := uint32(1) << (memChunkBits + dirPageBits)
	ids := []uint32{math.MaxUint32, 0, chunk - 1, chunk, page - 1, page, 3*page + 5, math.MaxUint32 - 1}
	made := map[uint32]*memAccount{}
	for _, m := range ids {
		require.Nil(t, s.member(m), "member %d before it is written", m)
		made[m] = s.memberForWrite(m)
		assert.Same(t, made[m], s.memberForWrite(m), "member %d written twice", m)
	}
	for _, m := range ids {
		assert.Same(t, made[m], s.member(m), "member %d", m)
	}
	for _, m := range []uint32{1, chunk + 1, page + 1, math.MaxUint32 - 2} {
		assert.Nil(t, s.member(m), "member %d was never written", m)
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	assert.Equal(t, want, s.memberIDs())

	// Stopping early stops.
	var first []uint32
	s.members(func(m uint32, _ *memAccount) bool {
		first = append(first, m)
		return len(first) < 3
	})
	assert.Equal(t, want[:3], first)
}

// Members created from many goroutines at once, in the same and in
// different chunks, are each created once.
func TestMemStoreDirectoryConcurrent(t *testing.T) {
	s := NewMemStore()
	const workers, per = 8, 2000
	var wg sync.WaitGroup
	got := make([][]*memAccount, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				m := uint32(i*workers+w) * 977 // spread over chunks and pages
				st := s.stripe(m)
				st.mu.Lock()
				got[w] = append(got[w], s.memberForWrite(m))
				st.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	ids := s.memberIDs()
	require.Len(t, ids, workers*per)
	assert.True(t, slices.IsSorted(ids))
	for w := range workers {
		for i, ma := range got[w] {
			assert.Same(t, ma, s.member(uint32(i*workers+w)*977))
		}
	}
}
