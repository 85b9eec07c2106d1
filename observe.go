package cdpkit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync/atomic"

	"github.com/cdpkit/cdpkit/identity"
)

// ObserveResult says what observing identifiers did.
type ObserveResult struct {
	identity.Result
	// Tags are the tag changes of persons re-derived because of a merge
	// (once RefreshTags has set a clock).
	Tags []TagChange
}

// Observe resolves one observation — identifiers seen together in one
// event — into a person (see identity.Resolver.Observe). A merge it
// causes is applied to everything the Engine holds before Observe
// returns: bits, summaries, windows, attributes, the loyalty account
// (merged as transaction "merge/<loser>/<survivor>" at the observation's
// time) — and the survivor is re-derived.
func (e *Engine) Observe(ctx context.Context, o identity.Observation) (*ObserveResult, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	e.idMu.RLock()
	res, err := e.ids.Observe(o)
	e.idMu.RUnlock()
	e.noteIssued(res.Person)
	if lerr := e.lock(ctx); lerr != nil {
		return nil, errors.Join(err, lerr)
	}
	tc, uerr := e.unlock(ctx)
	if err != nil {
		return &ObserveResult{Result: res}, &RecordError{Index: -1, ID: o.EventID, Person: res.Person, Err: err}
	}
	return &ObserveResult{Result: res, Tags: tc}, uerr
}

// observeChunk is how many observations ObserveAll resolves per lock of
// the resolver and drain of changes.
const observeChunk = 1 << 16

// ObserveAll resolves many observations in order, the way to load
// identity history: identity's bulk path (a Batch of compact columns,
// normalised on every core while one goroutine resolves in order, with no
// Result built per observation), with the merges of each chunk applied in
// one index transaction. The sequence may reuse an observation's
// Identifiers slice between iterations. A bad observation is reported in
// the *BulkError and the rest are resolved.
func (e *Engine) ObserveAll(ctx context.Context, obs iter.Seq[identity.Observation]) (BulkStats, error) {
	var st BulkStats
	var errs, addErrs bulkErrors // the resolver's, and Add's (this goroutine's)
	// Filling a batch (the caller's sequence and the copies) and resolving
	// the one before overlap: this goroutine fills one batch while another
	// resolves the previous, batches in input order.
	free := make(chan *obsChunk, 2)
	free <- new(obsChunk)
	free <- new(obsChunk)
	full := make(chan *obsChunk)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var err error
		persons := make([]identity.PersonID, observeChunk)
		for c := range full {
			if err == nil {
				if err = e.observeChunk(ctx, c, persons, &st, &errs); err != nil {
					failed.Store(true)
				}
			}
			c.b.Reset()
			c.at = c.at[:0]
			free <- c
		}
		done <- err
	}()
	read := 0
	cur := <-free
	for o := range obs {
		if err := cur.b.Add(o); err != nil {
			if oe, ok := errors.AsType[*identity.ObservationError](err); ok {
				oe.Index = read // the position in obs, not in the batch
			}
			addErrs.add(&RecordError{Index: read, ID: o.EventID, Person: identity.NoPerson, Err: err})
		} else {
			cur.at = append(cur.at, read)
		}
		read++
		if cur.b.Len() == observeChunk {
			full <- cur
			if cur = <-free; failed.Load() {
				break
			}
		}
	}
	if cur.b.Len() > 0 && !failed.Load() {
		full <- cur
	}
	close(full)
	err := <-done
	st.Read = read
	if err != nil {
		return st, err
	}
	errs.failed += addErrs.failed
	errs.kept = append(errs.kept, addErrs.kept...)
	if len(errs.kept) > MaxBulkErrors {
		slices.SortStableFunc(errs.kept, func(x, y *RecordError) int { return x.Index - y.Index })
		errs.kept = errs.kept[:MaxBulkErrors]
	}
	st.Failed = errs.failed
	return st, errs.err()
}

// obsChunk is a chunk of observations read for ObserveAll: a Batch and,
// for each of its observations, the position in the sequence.
type obsChunk struct {
	b  identity.Batch
	at []int
}

// observeChunk resolves one chunk, persons being room for its persons,
// and applies the merges to the index.
func (e *Engine) observeChunk(ctx context.Context, c *obsChunk, persons []identity.PersonID, st *BulkStats, errs *bulkErrors) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.idMu.RLock()
	sum, err := e.ids.Resolve(&c.b, persons)
	e.idMu.RUnlock()
	var be *identity.BatchError
	if err != nil && !errors.As(err, &be) {
		return fmt.Errorf("observe: %w", err)
	}
	if be != nil {
		for _, oe := range be.Errors {
			oe.Index = c.at[oe.Index] // the position in obs, not in the chunk
			errs.add(&RecordError{Index: oe.Index, ID: oe.EventID, Person: identity.NoPerson, Err: oe})
		}
		// The batch keeps the first errors only; count the rest.
		errs.failed += be.Failed - len(be.Errors)
	}
	for _, p := range persons[:c.b.Len()] {
		e.noteIssued(p)
	}
	st.Applied += sum.Observations
	st.Created += sum.Created
	st.Merged += sum.Merged
	if err := e.lock(ctx); err != nil {
		return err
	}
	_, err = e.unlock(ctx)
	return err
}

// Lookup returns the person holding an identifier (see
// identity.Resolver.Lookup).
func (e *Engine) Lookup(id identity.Identifier) (identity.PersonID, error) { return e.ids.Lookup(id) }

// Canonical returns the live person p stands for.
func (e *Engine) Canonical(p identity.PersonID) (identity.PersonID, error) {
	return e.ids.Canonical(p)
}

// Identifiers returns person p's identifiers.
func (e *Engine) Identifiers(p identity.PersonID) ([]identity.Identifier, error) {
	return e.ids.Identifiers(p)
}

// Explain returns how person p's identifiers came together.
func (e *Engine) Explain(p identity.PersonID) (*identity.Explanation, error) { return e.ids.Explain(p) }

// Why returns the chain of observations linking two identifiers.
func (e *Engine) Why(a, b identity.Identifier) ([]identity.Step, error) { return e.ids.Why(a, b) }

// IdentityStats returns the resolver's counts and memory.
func (e *Engine) IdentityStats() identity.Stats { return e.ids.Stats() }

// SplitResult reports an identity split and what the Engine did about it.
type SplitResult struct {
	identity.SplitResult
	// Rederive lists the persons whose orders, attributes and events the
	// Engine cleared, because which of them belongs to which person after
	// the split is the host's to say: record them again (RecordOrder,
	// SetAttributes). Loyalty accounts do not follow splits (the ledger's
	// merges are final); orders recorded again are replays there.
	Rederive []identity.PersonID
}

// SplitObservation removes the observation(s) with eventID as bad
// evidence and recomputes the persons it touched (see
// identity.Resolver.SplitObservation).
func (e *Engine) SplitObservation(ctx context.Context, eventID string) (*SplitResult, error) {
	return e.split(ctx, func() (identity.SplitResult, error) { return e.ids.SplitObservation(eventID) })
}

// SplitIdentifier takes an identifier out of all evidence, blocking it
// from linking again when block is set, and recomputes the persons it
// touched (see identity.Resolver.SplitIdentifier).
func (e *Engine) SplitIdentifier(ctx context.Context, id identity.Identifier, block bool) (*SplitResult, error) {
	return e.split(ctx, func() (identity.SplitResult, error) { return e.ids.SplitIdentifier(id, block) })
}

func (e *Engine) split(ctx context.Context, fn func() (identity.SplitResult, error)) (*SplitResult, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	e.idMu.RLock()
	res, err := fn()
	e.idMu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("split: %w", err)
	}
	for _, p := range res.After {
		e.noteIssued(p)
	}
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	_, err = e.unlock(ctx)
	return &SplitResult{SplitResult: res, Rederive: slices.Clone(res.After)}, err
}

// Erase deletes person p for the right to erasure (PIPL, GDPR): its
// identifiers and evidence (identity.Resolver.Erase), and everything the
// Engine holds for it and the persons merged into it — bits, summaries,
// window entries, attributes, derived fields. The loyalty ledger keeps
// its financial records, under the person's ID only. Write a new
// snapshot afterwards: older ones still hold the data.
func (e *Engine) Erase(ctx context.Context, p identity.PersonID) (identity.Erasure, error) {
	if e.closed.Load() {
		return identity.Erasure{}, ErrClosed
	}
	e.idMu.RLock()
	er, err := e.ids.Erase(p)
	e.idMu.RUnlock()
	if err != nil {
		return er, fmt.Errorf("erase: %w", err)
	}
	if err := e.lock(ctx); err != nil {
		return er, err
	}
	_, err = e.unlock(ctx)
	return er, err
}
