package tags

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// MaxBadRecords is how many bad records (nil, another schema, a duplicate
// member ID) a batch reports in full; it counts them all.
const MaxBadRecords = 100

// chunkSize is how many records a worker takes at a time: large enough to
// amortise the channel hand-off, small enough to balance the workers.
const chunkSize = 1024

type chunk struct {
	recs []*Record
	n    int
}

// batchOut is a batch evaluation's result before it is written anywhere.
type batchOut struct {
	bitmaps   [][]*roaring.Bitmap // per run tag: per value (one for a boolean tag)
	stats     []Stats
	members   *roaring.Bitmap // every member evaluated
	bad       []error
	badCount  int
	evaluated int
}

// batch evaluates the run's tags for every record on workers goroutines.
// Records are copied before the sequence resumes, so a producer may reuse
// one Record; lists and maps are shared and must not change until batch
// returns. progress, if not nil, is called (serialised) after each chunk
// with the number of members evaluated so far.
func (r *run) batch(ctx context.Context, schema *Schema, recs iter.Seq[*Record], workers int,
	progress func(int)) (*batchOut, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := &batchOut{members: roaring.New(), stats: make([]Stats, len(r.tags))}
	for i, t := range r.tags {
		out.stats[i] = newStats(t, t.perMemberPath())
	}
	if recs == nil {
		return out, nil
	}
	if len(r.tags) == 0 {
		// Nothing to evaluate per member (every tag was pushed down):
		// the records only say who the members are.
		return out, r.collect(ctx, schema, recs, out, progress)
	}
	free := make(chan *chunk, 2*workers)
	for range 2 * workers {
		// Chunks (and their records) are pooled per schema across
		// batches; records are made as chunks fill, so a small batch
		// makes few.
		c, ok := schema.chunks.Get().(*chunk)
		if !ok {
			c = &chunk{recs: make([]*Record, 0, chunkSize)}
		}
		free <- c
	}
	defer func() {
		for range 2 * workers {
			c := <-free
			for _, rec := range c.recs {
				rec.Reset(0) // drop references to the batch's lists and maps
			}
			c.n = 0
			schema.chunks.Put(c)
		}
	}()
	work := make(chan *chunk)
	type result struct {
		bitmaps [][]*roaring.Bitmap
		stats   []Stats
	}
	results := make([]result, workers)
	var (
		wg       sync.WaitGroup
		progMu   sync.Mutex
		progDone int
	)
	for w := range workers {
		res := &results[w]
		res.bitmaps = make([][]*roaring.Bitmap, len(r.tags))
		res.stats = make([]Stats, len(r.tags))
		for i, t := range r.tags {
			n := max(1, len(t.values))
			res.bitmaps[i] = make([]*roaring.Bitmap, n)
			for v := range n {
				res.bitmaps[i][v] = roaring.New()
			}
			res.stats[i] = newStats(t, t.perMemberPath())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := r.newMemberEval()
			for c := range work {
				if ctx.Err() == nil {
					for _, rec := range c.recs[:c.n] {
						m.eval(rec)
						for i, t := range r.tags {
							o := m.out[i]
							res.stats[i].record(t, rec.ID, o)
							if o.err == nil && o.value >= 0 {
								res.bitmaps[i][o.value].Add(rec.ID)
							}
						}
					}
					if progress != nil {
						progMu.Lock()
						progDone += c.n
						progress(progDone)
						progMu.Unlock()
					}
				}
				c.n = 0
				free <- c
			}
		}()
	}
	var cur *chunk
	bad := func(err error) {
		out.badCount++
		if len(out.bad) < MaxBadRecords {
			out.bad = append(out.bad, err)
		}
	}
	seen := 0
	for rec := range recs {
		seen++
		if seen%chunkSize == 0 && ctx.Err() != nil {
			break
		}
		switch {
		case rec == nil:
			bad(fmt.Errorf("record %d of the sequence is nil", seen))
			continue
		case rec.schema != schema:
			bad(fmt.Errorf("member %d: %w", rec.ID, ErrSchemaMismatch))
			continue
		case !out.members.CheckedAdd(rec.ID):
			bad(fmt.Errorf("member %d: duplicate record, the first one counts", rec.ID))
			continue
		}
		if cur == nil {
			cur = <-free
		}
		if cur.n == len(cur.recs) {
			cur.recs = append(cur.recs, schema.NewRecord(0))
		}
		// CopyFrom cannot fail here: the schema was checked above.
		_ = cur.recs[cur.n].CopyFrom(rec)
		cur.n++
		if cur.n == chunkSize {
			work <- cur
			cur = nil
		}
	}
	if cur != nil && cur.n > 0 {
		work <- cur
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out.evaluated = int(out.members.GetCardinality())
	out.bitmaps = make([][]*roaring.Bitmap, len(r.tags))
	for i, t := range r.tags {
		n := max(1, len(t.values))
		out.bitmaps[i] = make([]*roaring.Bitmap, n)
		for v := range n {
			parts := make([]*roaring.Bitmap, workers)
			for w := range workers {
				parts[w] = results[w].bitmaps[i][v]
			}
			b := roaring.FastOr(parts...)
			b.RunOptimize()
			out.bitmaps[i][v] = b
		}
		for w := range workers {
			out.stats[i].merge(&results[w].stats[i])
		}
	}
	return out, nil
}

// collect reads the members of a sequence without evaluating anything.
func (r *run) collect(ctx context.Context, schema *Schema, recs iter.Seq[*Record], out *batchOut,
	progress func(int)) error {
	n := 0
	for rec := range recs {
		n++
		if n%chunkSize == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress(int(out.members.GetCardinality()))
			}
		}
		var bad error
		switch {
		case rec == nil:
			bad = fmt.Errorf("record %d of the sequence is nil", n)
		case rec.schema != schema:
			bad = fmt.Errorf("member %d: %w", rec.ID, ErrSchemaMismatch)
		case !out.members.CheckedAdd(rec.ID):
			bad = fmt.Errorf("member %d: duplicate record, the first one counts", rec.ID)
		}
		if bad != nil {
			out.badCount++
			if len(out.bad) < MaxBadRecords {
				out.bad = append(out.bad, bad)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	out.evaluated = int(out.members.GetCardinality())
	if progress != nil {
		progress(out.evaluated)
	}
	return nil
}
