package tags

import (
	"errors"
	"fmt"
	"strings"
)

// Errors about records, returned by Record setters and decoders.
var (
	// ErrUnknownField: a field name or FieldID the schema does not declare.
	ErrUnknownField = errors.New("unknown field")
	// ErrFieldType: a value of the wrong type for the field.
	ErrFieldType = errors.New("wrong type for field")
	// ErrFieldValue: a value the field's type cannot hold (a time outside
	// years 1-9999, an unsigned value above math.MaxInt64).
	ErrFieldValue = errors.New("value out of range for field")
	// ErrSchemaMismatch: a record made for another schema.
	ErrSchemaMismatch = errors.New("record belongs to another schema")
)

// Errors about tag definitions and assignments.
var (
	// ErrUnknownTag: a tag name no definition declares.
	ErrUnknownTag = errors.New("unknown tag")
	// ErrCycle: tags that depend on each other through has_tag; the error
	// text names the cycle.
	ErrCycle = errors.New("tag dependency cycle")
	// ErrInvalidDefinition: a definition that is malformed apart from its
	// rule text (bad name, missing values, cases on a boolean tag).
	ErrInvalidDefinition = errors.New("invalid tag definition")
	// ErrUndeclaredValue: a value that is not among an enumerated tag's
	// declared values.
	ErrUndeclaredValue = errors.New("value not declared for tag")
	// ErrNotManual: setting by API a tag whose members a rule decides.
	ErrNotManual = errors.New("tag is not manual")
	// ErrInUse: removing a tag that other tags' rules reference.
	ErrInUse = errors.New("tag is referenced by other tags")
	// ErrNoClock: an evaluation without an as-of time or time zone.
	ErrNoClock = errors.New("clock needs an as-of time and a location")
)

// CompileError is a rule that does not parse or type-check. Line and Column
// are 1-based and point into the rule text; Source is that line of the text.
type CompileError struct {
	Rule   string // tag or rule name
	Part   string // which expression of the tag: "" for the rule, "case 2", "value"
	Line   int
	Column int
	Msg    string
	Source string
}

// Error formats the error as `rule "name" case 2: 1:5: message`.
func (e *CompileError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rule %q", e.Rule)
	if e.Part != "" {
		b.WriteString(" " + e.Part)
	}
	fmt.Fprintf(&b, ": %d:%d: %s", e.Line, e.Column, e.Msg)
	return b.String()
}

// ErrorKind classifies runtime evaluation errors.
type ErrorKind uint8

// Kinds of runtime errors. A rule that ends in an error leaves the member
// untagged for that tag; the error is counted in the tag's Stats.
const (
	// ErrMissing: a field the rule read has no value for the member.
	ErrMissing ErrorKind = iota + 1
	// ErrNoSuchKey: a map lookup of a key the map lacks, or a list index
	// out of range.
	ErrNoSuchKey
	// ErrOverflow: integer, duration or timestamp arithmetic out of range.
	ErrOverflow
	// ErrDivideByZero: integer division or modulus by zero.
	ErrDivideByZero
	// ErrCostLimit: the evaluation exceeded the cost limit.
	ErrCostLimit
	// ErrBadValue: a value not among the tag's declared values, a negative
	// window, and other invalid results.
	ErrBadValue
	// ErrOther: any other CEL runtime error.
	ErrOther
)

var kindNames = [...]string{
	ErrMissing: "missing value", ErrNoSuchKey: "no such key",
	ErrOverflow: "overflow", ErrDivideByZero: "division by zero",
	ErrCostLimit: "cost limit exceeded", ErrBadValue: "bad value", ErrOther: "error",
}

// String names the kind.
func (k ErrorKind) String() string {
	if k >= ErrMissing && k <= ErrOther {
		return kindNames[k]
	}
	return fmt.Sprintf("ErrorKind(%d)", uint8(k))
}

// EvalError is a runtime error of one rule for one member.
type EvalError struct {
	Kind ErrorKind
	Msg  string
}

// Error returns the message.
func (e *EvalError) Error() string { return e.Msg }

// MemberError is an evaluation error of a tag for one member.
type MemberError struct {
	Tag    string
	Member uint32
	Err    *EvalError
}

// Error says which tag failed for which member and why.
func (e *MemberError) Error() string {
	return fmt.Sprintf("tag %q member %d: %s", e.Tag, e.Member, e.Err.Msg)
}

// Unwrap returns the evaluation error.
func (e *MemberError) Unwrap() error { return e.Err }

// Shared runtime errors; they carry no per-member detail so that the hot
// path does not allocate.
var (
	errOverflow    = &EvalError{ErrOverflow, "integer overflow"}
	errDivZero     = &EvalError{ErrDivideByZero, "division by zero"}
	errModZero     = &EvalError{ErrDivideByZero, "modulus by zero"}
	errNoKey       = &EvalError{ErrNoSuchKey, "no such key"}
	errIndexRange  = &EvalError{ErrNoSuchKey, "index out of range"}
	errNegWindow   = &EvalError{ErrBadValue, "in_last: negative duration"}
	errInterrupted = &EvalError{ErrOther, "operation interrupted"}
	errDurOverflow = &EvalError{ErrOverflow, "duration overflow"}
	errDoubleToInt = &EvalError{ErrOverflow, "integer overflow converting double"}
	errNoTagSource = &EvalError{ErrOther, "has_tag: no tag source"}
)

func missingErr(field string) *EvalError {
	return &EvalError{ErrMissing, "no value for field " + field}
}
