package suite

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/internal/synth"
)

// defaultChunk is the number of members a worker generates at a time: a
// multiple of 64, so workers filling bit words never share one, and of
// 65536, so they never share a roaring container either.
const defaultChunk = 1 << 16

// chunkOf returns the chunk size of env: tests use smaller chunks to cover
// many chunks with few members.
func chunkOf(env *Env) int {
	if env.chunk > 0 {
		return env.chunk
	}
	return defaultChunk
}

// forChunks calls fn for consecutive member ranges [lo, hi) of n members on
// GOMAXPROCS workers, reporting progress in members. fn must only write
// what belongs to its range. The first error stops the walk.
func forChunks(ctx context.Context, env *Env, task *harness.Task, fn func(lo, hi uint32) error) error {
	n, chunk := env.Members, int64(chunkOf(env))
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := next.Add(chunk) - chunk
				if lo >= int64(n) {
					return
				}
				if err := ctx.Err(); err != nil {
					once.Do(func() { first = err })
					return
				}
				hi := min(lo+chunk, int64(n))
				if err := fn(uint32(lo), uint32(hi)); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
				task.Add(hi - lo)
			}
		}()
	}
	wg.Wait()
	return first
}

// perChunk generates something for each chunk of members in parallel and
// returns the parts in member order, so that a suite can concatenate
// variable-length data (observations, orders) deterministically.
func perChunk[T any](ctx context.Context, env *Env, task *harness.Task, fn func(lo, hi uint32) (T, error)) ([]T, error) {
	chunk := uint32(chunkOf(env))
	parts := make([]T, (uint32(env.Members)+chunk-1)/chunk)
	err := forChunks(ctx, env, task, func(lo, hi uint32) error {
		p, err := fn(lo, hi)
		parts[lo/chunk] = p
		return err
	})
	return parts, err
}

// newGenerator returns the generator of a suite's data.
func newGenerator(env *Env, cfg synth.Config) (*synth.Generator, error) {
	cfg.Seed = env.Seed
	cfg.Members = env.Members
	return synth.New(cfg)
}
