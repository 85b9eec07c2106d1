package segment

import (
	"errors"
	"fmt"
)

// Errors returned by the index, grouped by when they occur.
var (
	// ErrUnknownField: a write, a read or a plan names a field that is not
	// declared.
	ErrUnknownField = errors.New("unknown field")
	// ErrKindMismatch: a field is used as a kind it is not (tag("tier")
	// on an enum, a comparison on a tag), or declared again as another kind.
	ErrKindMismatch = errors.New("field kind mismatch")
	// ErrUnknownSegment: a plan references a saved segment that does not
	// exist.
	ErrUnknownSegment = errors.New("unknown segment")
	// ErrCycle: saving a segment would make it reference itself, directly
	// or through other segments.
	ErrCycle = errors.New("segment reference cycle")
	// ErrInUse: deleting a segment or dropping a field that a saved segment
	// references.
	ErrInUse = errors.New("in use by a saved segment")
	// ErrNoAsOf: a plan with an activity window is evaluated on a view with
	// no as-of day (use View.At).
	ErrNoAsOf = errors.New("activity window needs an as-of day")
	// ErrInvalid: a plan, a name or bulk data is malformed (a nil plan, an
	// empty name, slices of different lengths, a window of no days).
	ErrInvalid = errors.New("invalid argument")
	// ErrTxClosed: a Tx is used after its Update returned.
	ErrTxClosed = errors.New("transaction closed")
	// ErrOverflow: a sum does not fit in int64.
	ErrOverflow = errors.New("int64 overflow")
	// ErrCorrupt: a snapshot or a portable bitmap is damaged, truncated or
	// not one at all; the SnapshotError wrapping it names the part.
	ErrCorrupt = errors.New("corrupt data")
)

// FieldError reports a problem with a named field.
type FieldError struct {
	Field string
	Kind  Kind // the field's kind, when it exists
	Want  Kind // the kind the use needs, for ErrKindMismatch
	Err   error
}

// Error describes the field and the problem.
func (e *FieldError) Error() string {
	if errors.Is(e.Err, ErrKindMismatch) {
		return fmt.Sprintf("field %q is %s, not %s: %v", e.Field, e.Kind, e.Want, e.Err)
	}
	return fmt.Sprintf("field %q: %v", e.Field, e.Err)
}

// Unwrap returns the sentinel error.
func (e *FieldError) Unwrap() error { return e.Err }

// MemberError reports a problem with one member's data in a write.
type MemberError struct {
	Field  string
	Member uint32
	Err    error
}

// Error names the field and the member.
func (e *MemberError) Error() string {
	return fmt.Sprintf("field %q member %d: %v", e.Field, e.Member, e.Err)
}

// Unwrap returns the underlying error.
func (e *MemberError) Unwrap() error { return e.Err }

// ExprError reports a problem at a position in an audience expression: a
// syntax error, or a name or type the index rejects. Err is the sentinel
// (or *FieldError) for semantic problems and nil for syntax errors.
type ExprError struct {
	Line, Column int    // 1-based
	Msg          string // what is wrong, without the position
	Snippet      string // the source line, when known
	Err          error
}

// Error gives line:column and the message.
func (e *ExprError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
}

// Unwrap returns the underlying error, if any.
func (e *ExprError) Unwrap() error { return e.Err }
