package identity

import (
	"errors"
	"fmt"
)

// Errors returned by Resolver methods, grouped by when they occur.
var (
	// ErrNoIdentifier: an observation had no identifier left once blocked
	// and invalid values were set aside, so it resolved to no person. The
	// Result still lists what was rejected and why.
	ErrNoIdentifier = errors.New("no usable identifier")

	// ErrNotFound: Lookup, Why or SplitIdentifier was given an identifier
	// the resolver has never stored.
	ErrNotFound = errors.New("identifier not found")
	// ErrUnlinked: the identifier is kept as evidence (an observation
	// carried it but a limit kept it out) and belongs to no person.
	ErrUnlinked = errors.New("identifier belongs to no person")
	// ErrBlocked: the identifier is blocked, by the kind's rules or by
	// SplitIdentifier, and is never stored.
	ErrBlocked = errors.New("identifier is blocked")
	// ErrInvalid: the identifier's value failed its kind's normaliser.
	ErrInvalid = errors.New("invalid identifier")
	// ErrUnknownKind: an identifier named a kind the Config does not
	// declare.
	ErrUnknownKind = errors.New("unknown identifier kind")
	// ErrBadObservation: an observation was malformed: zero or
	// out-of-range time, an event ID over 255 bytes, more than 255
	// identifiers, a scope missing or given where the kind has none.
	ErrBadObservation = errors.New("malformed observation")

	// ErrUnknownPerson: a PersonID was never issued.
	ErrUnknownPerson = errors.New("unknown person")
	// ErrErased: the person was erased.
	ErrErased = errors.New("person was erased")
	// ErrRetired: a split left nothing of the person and no successor.
	ErrRetired = errors.New("person was split away")
	// ErrNotLinked: Why was asked about two identifiers of different
	// persons.
	ErrNotLinked = errors.New("identifiers are not linked")
	// ErrUnknownEvent: SplitObservation was given an event ID no stored
	// observation carries.
	ErrUnknownEvent = errors.New("no observation with this event ID")

	// ErrFull: a fixed capacity ran out: 2^30 identifiers, 2^32-2^20
	// words of evidence (about 16 GiB), 2^32-4 persons, 2^24 scopes or
	// 16384 sources.
	ErrFull = errors.New("resolver capacity exhausted")

	// ErrConfigMismatch: a snapshot was taken under different kinds or
	// caps than the Config it is restored with.
	ErrConfigMismatch = errors.New("snapshot was written under a different config")
)

// An ObservationError reports an observation that could not be resolved:
// which one (its position in a batch and its event ID), which identifier
// where one is to blame, and why.
type ObservationError struct {
	Index      int    // position in the batch; 0 for Observe
	EventID    string // the observation's event ID
	Identifier int    // position in Observation.Identifiers, or -1
	Err        error  // what was wrong; matches one of the sentinel errors
}

// Error formats the error with the observation's position and event ID.
func (e *ObservationError) Error() string {
	s := fmt.Sprintf("observation %d (event %q)", e.Index, e.EventID)
	if e.Identifier >= 0 {
		s += fmt.Sprintf(": identifier %d", e.Identifier)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause, so errors.Is sees the sentinel.
func (e *ObservationError) Unwrap() error { return e.Err }

// A CorruptError reports a snapshot that failed to decode: the part (a
// section name such as "identifiers" or "header") and the byte offset
// where the problem was found.
type CorruptError struct {
	Part   string // "header", "config", "scopes", "sources", "identifiers", "persons", "evidence", "trailer" or "frame header"
	Offset int64  // byte offset in the snapshot
	Err    error  // what was wrong
}

// Error formats the error with the part and offset.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt identity snapshot: %s at byte %d: %v", e.Part, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// Errors that say why a value was blocked; they appear in Rejection.Err and
// all match ErrBlocked with errors.Is.
var (
	errJunk       = fmt.Errorf("placeholder value: %w", ErrBlocked)
	errBlockList  = fmt.Errorf("on the kind's block list: %w", ErrBlocked)
	errPattern    = fmt.Errorf("matches a blocked pattern: %w", ErrBlocked)
	errBlockSplit = fmt.Errorf("blocked by SplitIdentifier: %w", ErrBlocked)
)
