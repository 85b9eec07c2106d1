package identity

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// Observe resolves one observation and returns the person it resolved to
// and what changed. Blocked and invalid values are listed in
// Result.Rejected and never stored; if nothing usable is left the error
// matches ErrNoIdentifier. A malformed observation (unknown kind, zero
// time…) changes nothing and returns an *ObservationError.
func (r *Resolver) Observe(o Observation) (Result, error) {
	res := Result{Person: NoPerson}
	p := r.getPrep()
	defer r.putPrep(p)
	if err := r.prepare(&o, p, &res); err != nil {
		return res, err
	}
	r.mu.Lock()
	_, err := r.resolveLocked(p, o.Identifiers, &res)
	r.unlockAndDeliver()
	return res, err
}

// ObserveBatch resolves observations in order, with the same results as
// calling Observe on each in turn, taking the lock once per 256 of them.
// If results is not nil it must be at least as long as obs and receives
// each Result. An observation that fails does not stop the batch; the
// returned *BatchError reports the failures.
//
// Normalising needs no lock, so a batch of more than 256 observations
// normalises the chunks ahead on every core while the current one is
// resolved. Resolve does the same for observations held in a Batch,
// faster still, when only each observation's person is wanted.
func (r *Resolver) ObserveBatch(obs []Observation, results []Result) error {
	if results != nil && len(results) < len(obs) {
		return fmt.Errorf("observe batch: %d results for %d observations", len(results), len(obs))
	}
	var be BatchError
	resultOf := func(i int) *Result {
		if results == nil {
			return nil // nobody reads the details: do not build them
		}
		return &results[i]
	}
	r.pipeline(len(obs), func(w *chunkWork) {
		for i := w.start; i < w.end; i++ {
			res := resultOf(i)
			if res != nil {
				*res = Result{Person: NoPerson}
			}
			w.errs[i-w.start] = r.prepare(&obs[i], &w.preps[i-w.start], res)
		}
	}, func(w *chunkWork) {
		r.mu.Lock()
		r.lookAhead(w)
		for i := w.start; i < w.end; i++ {
			j := i - w.start
			if w.errs[j] == nil {
				_, w.errs[j] = r.resolveLocked(&w.preps[j], obs[i].Identifiers, resultOf(i))
			}
		}
		r.unlockAndDeliver()
		for j := range w.end - w.start {
			if w.errs[j] != nil {
				be.add(w.start+j, w.errs[j])
				w.errs[j] = nil
			}
		}
	})
	if be.Failed > 0 {
		return &be
	}
	return nil
}

// A BatchError reports the observations of a batch that failed.
type BatchError struct {
	Failed int                 // how many failed
	Errors []*ObservationError // the first 100 of them, in batch order
}

const batchErrorsKept = 100

func (b *BatchError) add(i int, err error) {
	b.Failed++
	if len(b.Errors) == batchErrorsKept {
		return
	}
	oe, ok := err.(*ObservationError)
	if !ok {
		oe = &ObservationError{Identifier: -1, Err: err}
	}
	oe.Index = i
	b.Errors = append(b.Errors, oe)
}

// Error summarises the failures, naming the first few.
func (b *BatchError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d observations failed", b.Failed)
	for i, e := range b.Errors {
		if i == 3 {
			fmt.Fprintf(&sb, "; …")
			break
		}
		fmt.Fprintf(&sb, "; %v", e)
	}
	return sb.String()
}

// Unwrap returns the kept errors, so errors.Is and errors.As see them.
func (b *BatchError) Unwrap() []error {
	errs := make([]error, len(b.Errors))
	for i, e := range b.Errors {
		errs[i] = e
	}
	return errs
}

// lookupIdent normalises id into p's buffer and finds its identifier
// number; r.mu must be held for reading. It returns the normalised value
// (nil if normalising failed) for normOf.
func (r *Resolver) lookupIdent(id Identifier, p *prepared) (uint32, []byte, error) {
	k, ok := r.cfg.kind(id.Kind)
	if !ok {
		return noIdent, nil, fmt.Errorf("%q: %w", id.Kind, ErrUnknownKind)
	}
	kr := &r.cfg.kinds[k]
	if kr.Scoped != (id.Scope != "") {
		return noIdent, nil, fmt.Errorf("scope %q for kind %q: %w", id.Scope, id.Kind, ErrBadObservation)
	}
	v, err := r.normalize(kr, p.buf[:0], id.Value)
	p.buf = v
	if err != nil {
		return noIdent, nil, err
	}
	ns := r.ns(k, id.Scope, false) // not nsCached: readers share the lock
	if ns == noNS {
		return noIdent, v, ErrNotFound
	}
	x := r.findIdent(ns, r.hashKey(k, id.Scope, v), v)
	switch {
	case x == noIdent:
		return noIdent, v, ErrNotFound
	case r.ids.at(x).person == blockedIdent:
		return x, v, errBlockSplit
	}
	return x, v, nil
}

// normOf is id with its value normalised, for messages.
func normOf(id Identifier, v []byte) Identifier {
	if v != nil {
		id.Value = string(v)
	}
	return id
}

// Lookup returns the person holding an identifier. The value is
// normalised first, so "+86 138-0013-8000" finds 13800138000. The error
// matches ErrNotFound, ErrUnlinked (seen only as a dropped identifier),
// ErrBlocked or ErrInvalid.
func (r *Resolver) Lookup(id Identifier) (PersonID, error) {
	buf := r.getPrep()
	defer r.putPrep(buf)
	r.mu.RLock()
	defer r.mu.RUnlock()
	x, v, err := r.lookupIdent(id, buf)
	if err != nil {
		return NoPerson, fmt.Errorf("lookup %v: %w", normOf(id, v), err)
	}
	p := r.ids.at(x).person
	if p == noPerson {
		return NoPerson, fmt.Errorf("lookup %v: %w", normOf(id, v), ErrUnlinked)
	}
	return PersonID(p), nil
}

// Canonical returns the live person p stands for: p itself, or for an
// alias (a person merged away, or moved by a split) the person it went to.
// The error matches ErrUnknownPerson, ErrErased or ErrRetired.
func (r *Resolver) Canonical(p PersonID) (PersonID, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, err := r.canonical(uint32(p))
	if err != nil {
		return NoPerson, fmt.Errorf("person %d: %w", p, err)
	}
	return PersonID(c), nil
}

// Identifiers returns the identifiers of person p (or of the person an
// alias resolves to), normalised, in priority order and then by scope and
// value.
func (r *Resolver) Identifiers(p PersonID) ([]Identifier, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, err := r.canonical(uint32(p))
	if err != nil {
		return nil, fmt.Errorf("person %d: %w", p, err)
	}
	return r.sortedIdents(r.personIdents(nil, c)), nil
}

func (r *Resolver) sortedIdents(xs []uint32) []Identifier {
	out := make([]Identifier, len(xs))
	for i, x := range xs {
		out[i] = r.identifier(x)
	}
	slices.SortFunc(out, r.compareIdent)
	return out
}

func (r *Resolver) compareIdent(a, b Identifier) int {
	return cmp.Or(
		cmp.Compare(r.cfg.byName[a.Kind], r.cfg.byName[b.Kind]),
		strings.Compare(a.Scope, b.Scope),
		strings.Compare(a.Value, b.Value))
}

// Persons returns the live persons in increasing ID order. It takes the
// read lock for a few thousand persons at a time, so the loop body may call
// any method; persons created or merged during the walk may or may not be
// seen as they were when it started.
func (r *Resolver) Persons() iter.Seq[PersonID] {
	return func(yield func(PersonID) bool) {
		var buf [4096]PersonID
		for next := uint32(0); ; {
			n := 0
			r.mu.RLock()
			total := r.persons.len()
			for ; next < total && n < len(buf); next++ {
				if r.persons.at(next).status() == stateLive {
					buf[n] = PersonID(next)
					n++
				}
			}
			r.mu.RUnlock()
			for _, p := range buf[:n] {
				if !yield(p) {
					return
				}
			}
			if next >= total {
				return
			}
		}
	}
}
