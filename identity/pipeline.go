package identity

import (
	"runtime"
	"slices"
)

// batchChunk bounds how long a batch holds the lock at a time, so lookups
// interleave with a bulk load.
const batchChunk = 256

// chunkWork is one chunk of a batch on its way through the pipeline. Its
// prepared observations keep their buffers from chunk to chunk.
type chunkWork struct {
	start, end int
	preps      [batchChunk]prepared
	errs       [batchChunk]error
	ready      chan struct{} // prepared, for the applier
}

func newChunkWork() *chunkWork {
	return &chunkWork{ready: make(chan struct{}, 1)}
}

// release drops what the chunk's observations referenced, so that a
// pooled chunk does not keep a caller's strings alive.
func (w *chunkWork) release() {
	for j := range w.preps {
		p := &w.preps[j]
		clear(p.cands[:cap(p.cands)])
		p.reset()
		w.errs[j] = nil
	}
}

// pipeline runs prepare over the chunks of n observations on up to
// GOMAXPROCS goroutines, and apply on each chunk in order on the calling
// goroutine. Normalising and hashing need no lock and spread over every
// core; resolving is serial and in order, so the outcome never depends on
// scheduling. A chunk is prepared at most 2·GOMAXPROCS chunks ahead of
// the one being applied.
//
// The applier alone hands out the chunks: a ring slot gets chunk k+len(ring)
// only once chunk k in it has been applied. Workers that picked chunk
// numbers themselves and then waited for their slot could take a slot out
// of turn — a worker paused between picking chunk k and claiming its slot
// let another claim the same slot for chunk k+len(ring), which was then
// applied first — and resolve chunks out of order.
func (r *Resolver) pipeline(n int, prepare, apply func(w *chunkWork)) {
	chunks := (n + batchChunk - 1) / batchChunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		w := r.getWork()
		for start := 0; start < n; start += batchChunk {
			w.start, w.end = start, min(start+batchChunk, n)
			prepare(w)
			apply(w)
		}
		r.putWork(w)
		return
	}
	ring := make([]*chunkWork, min(2*workers, chunks))
	// Every slot has at most one chunk handed out and not yet applied, so
	// the queue never fills and a worker's send on ready never blocks.
	jobs := make(chan *chunkWork, len(ring))
	for k := range ring {
		w := r.getWork()
		w.start, w.end = k*batchChunk, min((k+1)*batchChunk, n)
		ring[k] = w
		jobs <- w
	}
	// Closed however apply ends (a subscriber may panic), so that the
	// workers never wait for ever.
	defer close(jobs)
	for range workers {
		go func() {
			for w := range jobs {
				prepare(w)
				w.ready <- struct{}{}
			}
		}()
	}
	for k := range chunks {
		w := ring[k%len(ring)]
		<-w.ready
		apply(w)
		if next := k + len(ring); next < chunks {
			w.start, w.end = next*batchChunk, min((next+1)*batchChunk, n)
			jobs <- w
		}
	}
	for _, w := range ring {
		r.putWork(w)
	}
}

func (r *Resolver) getWork() *chunkWork {
	if w, ok := r.workPool.Get().(*chunkWork); ok {
		return w
	}
	return newChunkWork()
}

func (r *Resolver) putWork(w *chunkWork) {
	w.release()
	r.workPool.Put(w)
}

// lookAhead loads what resolving a prepared chunk will read, in passes
// over the whole chunk: the lookup table's slots, then the identifier
// records they point to, then their values and persons, then those
// persons' latest evidence. Beyond the caches each of these is a miss to
// main memory, and each depends on the one before: resolving observations
// one by one pays them one after another, while a pass over a chunk has
// dozens in flight at once. Resolution then finds what it needs in the
// cache. The passes only read: an identifier that an earlier observation
// of the chunk stores is found in its turn like any other. r.mu must be
// held.
func (r *Resolver) lookAhead(w *chunkWork) {
	hs, xs := r.sc.laHash[:0], r.sc.laIdent[:0]
	for j := range w.end - w.start {
		if w.errs[j] == nil {
			for i := range w.preps[j].cands {
				hs = append(hs, w.preps[j].cands[i].hash)
			}
		}
	}
	xs = slices.Grow(xs, len(hs))[:len(hs)]
	r.sc.laHash, r.sc.laIdent = hs, xs
	t := r.table.slots
	var sink uint64
	for _, h := range hs {
		sink += t.at(homeIn(h, t.len()))
	}
	for k, h := range hs {
		x := r.probe(h)
		xs[k] = x
		if x != noIdent {
			sink += uint64(r.ids.at(x).off)
		}
	}
	for _, x := range xs {
		if x != noIdent {
			xi := r.ids.at(x)
			sink += uint64(r.arena.lenAt(xi.arenaOff()))
			if p := xi.person; p < erasedIdent {
				sink += uint64(r.persons.at(p).ev)
			}
		}
	}
	for _, x := range xs {
		if x != noIdent {
			if p := r.ids.at(x).person; p < erasedIdent {
				if ev := r.persons.at(p).ev; ev != noRec {
					sink += uint64(r.log.word(ev))
				}
			}
		}
	}
	r.sink += sink
}

// probe returns the identifier of the first slot on h's probe sequence
// whose fingerprint matches, without checking its value, or noIdent.
func (r *Resolver) probe(h uint64) uint32 {
	t := r.table.slots
	f := fp(h)
	for i := r.table.home(h); ; i = nextSlot(i, t.len()) {
		s := t.at(i)
		if s == 0 {
			return noIdent
		}
		if uint32(s>>32) == f && s != tombSlot {
			return uint32(s) - 1
		}
	}
}
