package cdpkit

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cdpkit/cdpkit/identity"
)

// Errors returned by Engine methods, grouped by when they occur. Errors
// from the packages the Engine wires (identity, segment, tags, rfm,
// loyalty) are wrapped, so errors.Is sees their sentinels as well.
var (
	// ErrInvalid: a record or argument is malformed — an order without an
	// ID or time, a negative amount, a line of another order's size, an
	// unknown channel, a bad field or event name. The error says which
	// field.
	ErrInvalid = errors.New("invalid input")
	// ErrUnknownPerson: a person ID identity never issued.
	ErrUnknownPerson = errors.New("unknown person")
	// ErrErased: the person was erased (or split away with no
	// successor); nothing more can be recorded for it.
	ErrErased = errors.New("person was erased")
	// ErrNoClock: a call needs an as-of time and none was given, nor has
	// RefreshTags set one yet (activity windows, live re-tagging).
	ErrNoClock = errors.New("no as-of time: run RefreshTags first")
	// ErrClosed: the Engine was closed.
	ErrClosed = errors.New("engine closed")
	// ErrCorrupt: a snapshot directory is damaged: a part is missing,
	// truncated or fails its checksum. Wrapped by a *SnapshotError naming
	// the part.
	ErrCorrupt = errors.New("corrupt snapshot")
	// ErrConfigMismatch: a snapshot was written under a different
	// configuration (channels, windows, schema, programme) than the one
	// it is opened with.
	ErrConfigMismatch = errors.New("snapshot was written under a different config")
)

// A RecordError reports one input record that could not be applied:
// which one (its position in a bulk input, its order or event ID, the
// person when known) and why. The other records of a bulk call are
// applied all the same.
type RecordError struct {
	Index  int               // position in the bulk input; -1 for a single call
	ID     string            // the order or event ID, when the record has one
	Person identity.PersonID // identity.NoPerson when not resolved
	Err    error             // the cause
}

// Error names the record and the cause.
func (e *RecordError) Error() string {
	var b strings.Builder
	if e.Index >= 0 {
		fmt.Fprintf(&b, "record %d", e.Index)
	} else {
		b.WriteString("record")
	}
	if e.ID != "" {
		fmt.Fprintf(&b, " %q", e.ID)
	}
	if e.Person != identity.NoPerson {
		fmt.Fprintf(&b, " (person %d)", e.Person)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *RecordError) Unwrap() error { return e.Err }

// MaxBulkErrors is how many failed records a BulkError keeps in full; it
// counts them all.
const MaxBulkErrors = 100

// A BulkError reports the records of a bulk call that failed; the rest
// were applied.
type BulkError struct {
	Failed int            // how many records failed
	Errors []*RecordError // the first MaxBulkErrors, in input order
}

// Error gives the count and the first failures.
func (e *BulkError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d records failed", e.Failed)
	for i, r := range e.Errors {
		if i == 3 {
			b.WriteString("; …")
			break
		}
		b.WriteString("; ")
		b.WriteString(r.Error())
	}
	return b.String()
}

// Unwrap returns the kept record errors, so errors.Is and errors.As see
// them.
func (e *BulkError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, r := range e.Errors {
		out[i] = r
	}
	return out
}

// bulkErrors collects the failures of a bulk call.
type bulkErrors struct {
	failed int
	kept   []*RecordError
}

func (b *bulkErrors) add(e *RecordError) {
	b.failed++
	if len(b.kept) < MaxBulkErrors {
		b.kept = append(b.kept, e)
	}
}

func (b *bulkErrors) err() error {
	if b.failed == 0 {
		return nil
	}
	slices.SortStableFunc(b.kept, func(x, y *RecordError) int { return x.Index - y.Index })
	return &BulkError{Failed: b.failed, Errors: b.kept}
}

// A SnapshotError reports a snapshot part that could not be written or
// read: "manifest", "engine", "identity", "index", "summaries",
// "profiles", "windows" or "loyalty".
type SnapshotError struct {
	Dir  string // the snapshot directory
	Part string // the part, as named above
	Err  error  // the cause
}

// Error names the directory and the part.
func (e *SnapshotError) Error() string {
	return fmt.Sprintf("snapshot %s: part %q: %v", e.Dir, e.Part, e.Err)
}

// Unwrap returns the cause.
func (e *SnapshotError) Unwrap() error { return e.Err }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}
