package loyalty

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// BatchOptions configure ApplyBatch; nil means defaults.
type BatchOptions struct {
	// Workers is how many goroutines apply operations: 0 means
	// GOMAXPROCS on a MemStore and 64 on any other store, whose group
	// commit needs many operations in flight to batch them.
	Workers int
	// Done, when set, receives each operation's outcome, as Apply would
	// return it, from the worker that applied it: calls for one member
	// come in the batch's order, calls for different members
	// concurrently. Without it no receipts are built, which is what
	// makes a replay cheap.
	Done func(i int, r *Receipt, err error)
}

// BatchResult counts what ApplyBatch did.
type BatchResult struct {
	Recorded  int // operations applied and recorded
	Unchanged int // operations that changed nothing (a Settle with nothing due)
	Replayed  int // operations whose transaction was already recorded, with the same content
	Events    int // events raised by recorded operations (and passed to the Notifier)
	// Failed lists the operations that failed, in batch order; the
	// others were applied all the same.
	Failed []*BatchError
}

// BatchError is an operation of a batch that failed: Err is what Apply
// would have returned for it.
type BatchError struct {
	Index int // position in the batch
	Err   error
}

// Error names the operation's position and what went wrong.
func (e *BatchError) Error() string { return fmt.Sprintf("operation %d: %v", e.Index, e.Err) }

// Unwrap returns Err.
func (e *BatchError) Unwrap() error { return e.Err }

// ApplyBatch applies ops as Apply applies each, for replays and bulk
// loads: operations on one member in the order they have in ops, members
// in parallel on several workers (partitioned by member ID, so one
// worker applies all of a member's operations). A Merge waits for the
// operations before it and holds back those after it, so it sees both
// accounts as ops has them. An operation that fails is reported in
// Failed and the others carry on; the batch stops early only when ctx is
// cancelled, returning what was done and ctx's error.
//
// Receipts are built only for BatchOptions.Done. The Notifier gets
// every recorded operation's events, as with Apply, from the workers:
// one member's in order, different members' concurrently.
//
// If two operations on different members share a transaction ID, which
// of them is recorded (and which is refused as a conflict or returned as
// a replay) depends on timing, as with concurrent calls to Apply.
func (l *Ledger) ApplyBatch(ctx context.Context, ops []Op, o *BatchOptions) (BatchResult, error) {
	var opts BatchOptions
	if o != nil {
		opts = *o
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
		if l.mem == nil {
			workers = 64
		}
	}
	var res BatchResult
	for start := 0; start < len(ops); {
		// The operations up to the next Merge run in parallel; the
		// Merge runs alone.
		end := start
		for end < len(ops) {
			if _, ok := ops[end].(Merge); ok {
				break
			}
			end++
		}
		if err := l.applyParallel(ctx, ops, start, end, workers, &opts, &res); err != nil {
			return res.sorted(), err
		}
		if end < len(ops) {
			w := l.newBatchWorker(&opts)
			w.apply(ctx, ops, end)
			w.flush(&res)
			end++
		}
		start = end
	}
	return res.sorted(), ctx.Err()
}

func (r BatchResult) sorted() BatchResult {
	slices.SortFunc(r.Failed, func(a, b *BatchError) int { return cmp.Compare(a.Index, b.Index) })
	return r
}

// applyParallel applies ops[start:end], none of them a Merge.
func (l *Ledger) applyParallel(ctx context.Context, ops []Op, start, end, workers int, opts *BatchOptions, res *BatchResult) error {
	n := end - start
	if n == 0 {
		return nil
	}
	workers = max(1, min(workers, n))
	// Partition by member: a counting sort of the positions, which keeps
	// each member's operations in order.
	part := func(i int) int { return int(ops[i].MemberID() % uint32(workers)) }
	bounds := make([]int, workers+1)
	for i := start; i < end; i++ {
		bounds[part(i)+1]++
	}
	for w := range workers {
		bounds[w+1] += bounds[w]
	}
	order := make([]int32, n)
	next := slices.Clone(bounds[:workers])
	for i := start; i < end; i++ {
		w := part(i)
		order[next[w]] = int32(i)
		next[w]++
	}

	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for w := range workers {
		mine := order[bounds[w]:bounds[w+1]]
		if len(mine) == 0 {
			continue
		}
		wg.Go(func() {
			bw := l.newBatchWorker(opts)
			for k, i := range mine {
				if k%256 == 0 && ctx.Err() != nil {
					break
				}
				bw.apply(ctx, ops, int(i))
			}
			mu.Lock()
			bw.flush(res)
			mu.Unlock()
		})
	}
	wg.Wait()
	return ctx.Err()
}

// batchWorker applies its share of a batch and counts what happened.
type batchWorker struct {
	l    *Ledger
	opts *BatchOptions
	sc   *scratch
	res  BatchResult
}

func (l *Ledger) newBatchWorker(opts *BatchOptions) *batchWorker {
	return &batchWorker{l: l, opts: opts, sc: new(scratch)}
}

func (w *batchWorker) apply(ctx context.Context, ops []Op, i int) {
	l, op, want := w.l, ops[i], w.opts.Done != nil
	h := op.head()
	var (
		r      *Receipt
		out    outcome
		events []Event
		err    = validateHead(op, h, l.p)
	)
	switch mg, isMerge := op.(Merge); {
	case err != nil:
	case l.mem != nil && isMerge:
		r, err = l.applyMergeMem(ctx, mg, w.sc, want)
		out, events = w.sc.out, w.sc.s.events
	case l.mem != nil:
		r, err = l.applyMem(ctx, op, h, w.sc, want)
		out, events = w.sc.out, w.sc.s.events
	default:
		// Any other store: Apply's own path, receipts and all (the
		// store's I/O dwarfs them).
		if isMerge {
			r, err = l.applyMerge(ctx, mg)
		} else {
			mu := &l.locks[h.member%lockStripes]
			mu.Lock()
			r, err = l.applyLocked(ctx, op, h, w.sc)
			mu.Unlock()
		}
		if err == nil {
			out, events = outRecorded, r.Events
			switch {
			case r.Replayed:
				out = outReplayed
			case !r.Recorded:
				out = outUnchanged
			}
		}
	}
	switch {
	case err != nil:
		w.res.Failed = append(w.res.Failed, &BatchError{Index: i, Err: err})
	case out == outRecorded:
		w.res.Recorded++
		w.res.Events += len(events)
		if l.opts.Notifier != nil {
			for _, e := range events {
				if r == nil {
					// Receipts show times in the programme's zone;
					// so do events without one.
					localizeEvent(&e, l.p.loc)
				}
				l.opts.Notifier.Notify(e)
			}
		}
	case out == outUnchanged:
		w.res.Unchanged++
	default:
		w.res.Replayed++
	}
	if want {
		w.opts.Done(i, r, err)
	}
}

func (w *batchWorker) flush(res *BatchResult) {
	res.Recorded += w.res.Recorded
	res.Unchanged += w.res.Unchanged
	res.Replayed += w.res.Replayed
	res.Events += w.res.Events
	res.Failed = append(res.Failed, w.res.Failed...)
	w.res = BatchResult{}
}
