package segment

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Op is a comparison operator on an int attribute.
type Op uint8

// The comparison operators.
const (
	Eq Op = iota + 1 // ==
	Ne               // !=
	Lt               // <
	Le               // <=
	Gt               // >
	Ge               // >=
)

var opNames = [...]string{Eq: "==", Ne: "!=", Lt: "<", Le: "<=", Gt: ">", Ge: ">="}

// String returns the operator as written in an expression, e.g. ">=".
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

type planKind uint8

const (
	pAll     planKind = iota + 1 // every member
	pNone                        // no member
	pTag                         // tag(name)
	pEnum                        // name in values
	pHas                         // the member has a value of enum/int name
	pCmp                         // name op a
	pBetween                     // a <= name <= b
	pIntIn                       // name in ints
	pActive                      // activity of event name in a window of days
	pRef                         // segment(name)
	pAnd
	pOr
	pNot
)

// Plan is an audience: a boolean combination of set conditions on an index's
// fields, built with the constructors below or by Compile. A plan names
// fields rather than holding data, so one plan evaluates against any View;
// evaluation checks it against that view's declared fields first.
//
// A Plan is immutable and safe for concurrent use; constructors copy the
// slices they are given.
type Plan struct {
	kind   planKind
	name   string
	values []string // pEnum
	op     Op       // pCmp
	a, b   int64    // pCmp constant; pBetween bounds
	ints   []int64  // pIntIn
	days   int      // pActive window length
	until  Day      // pActive fixed last day, when fixed
	fixed  bool
	kids   []*Plan
	pos    Pos // where the plan came from in an expression; zero if built in Go
}

// Pos is a 1-based line and column in an expression's source.
type Pos struct{ Line, Column int }

func (p Pos) known() bool { return p.Line > 0 }

// All matches every member of the index.
func All() *Plan { return &Plan{kind: pAll} }

// None matches no member.
func None() *Plan { return &Plan{kind: pNone} }

// Tag matches the members that have a tag.
func Tag(name string) *Plan { return &Plan{kind: pTag, name: name} }

// Enum matches the members whose enum field has value. A value nobody has
// matches nobody; it is not an error.
func Enum(field, value string) *Plan {
	return &Plan{kind: pEnum, name: field, values: []string{value}}
}

// EnumIn matches the members whose enum field has any of values.
func EnumIn(field string, values ...string) *Plan {
	v := slices.Clone(values)
	slices.Sort(v)
	return &Plan{kind: pEnum, name: field, values: slices.Compact(v)}
}

// Has matches the members that have a value of an enum or int field.
func Has(field string) *Plan { return &Plan{kind: pHas, name: field} }

// Cmp matches the members whose int attribute compares to v by op. Members
// without a value match no comparison, != included.
func Cmp(field string, op Op, v int64) *Plan {
	return &Plan{kind: pCmp, name: field, op: op, a: v}
}

// Between matches the members whose int attribute lies in [lo, hi]
// (nobody when lo > hi).
func Between(field string, lo, hi int64) *Plan {
	return &Plan{kind: pBetween, name: field, a: lo, b: hi}
}

// IntIn matches the members whose int attribute equals any of values.
func IntIn(field string, values ...int64) *Plan {
	v := slices.Clone(values)
	slices.Sort(v)
	return &Plan{kind: pIntIn, name: field, ints: slices.Compact(v)}
}

// MaxWindowDays bounds activity windows (about a century).
const MaxWindowDays = 36600

// Active matches the members with activity of an event type on any of the
// days days ending on the as-of day of the view the plan is evaluated on
// (so Active("purchase", 30) is the as-of day and the 29 before it).
func Active(event string, days int) *Plan {
	return &Plan{kind: pActive, name: event, days: days}
}

// ActiveUntil is Active with a fixed last day instead of the view's as-of
// day, for windows such as a past campaign's.
func ActiveUntil(event string, days int, last Day) *Plan {
	return &Plan{kind: pActive, name: event, days: days, until: last, fixed: true}
}

// Ref matches the members of a saved segment, as the segment is defined in
// the view the plan is evaluated on.
func Ref(segment string) *Plan { return &Plan{kind: pRef, name: segment} }

// And matches the members every plan matches (every member when there are
// none).
func And(plans ...*Plan) *Plan { return &Plan{kind: pAnd, kids: slices.Clone(plans)} }

// Or matches the members any plan matches (nobody when there are none).
func Or(plans ...*Plan) *Plan { return &Plan{kind: pOr, kids: slices.Clone(plans)} }

// Not matches the members of the index that p does not match.
func Not(p *Plan) *Plan { return &Plan{kind: pNot, kids: []*Plan{p}} }

// at returns a copy of p marked with a source position.
func (p *Plan) at(pos Pos) *Plan {
	q := *p
	q.pos = pos
	return &q
}

// Pos returns where in an expression's source p came from (zero for plans
// built in Go).
func (p *Plan) Pos() Pos { return p.pos }

// valid checks what can be checked without an index.
func (p *Plan) valid() error {
	if p == nil {
		return fmt.Errorf("nil plan: %w", ErrInvalid)
	}
	var err error
	p.walk(func(q *Plan) bool {
		if err != nil {
			return false
		}
		if q == nil {
			err = fmt.Errorf("nil plan: %w", ErrInvalid)
			return false
		}
		switch q.kind {
		case pAll, pNone, pAnd, pOr:
		case pNot:
			if len(q.kids) != 1 {
				err = q.errorf(ErrInvalid, "not of %d plans", len(q.kids))
			}
		case pTag, pHas, pRef:
			err = q.validName()
		case pEnum:
			err = q.validName()
			if err == nil && len(q.values) == 0 {
				err = q.errorf(ErrInvalid, "%q in an empty list", q.name)
			}
		case pCmp:
			err = q.validName()
			if err == nil && (q.op < Eq || q.op > Ge) {
				err = q.errorf(ErrInvalid, "comparison %v", q.op)
			}
		case pBetween:
			err = q.validName()
		case pIntIn:
			err = q.validName()
			if err == nil && len(q.ints) == 0 {
				err = q.errorf(ErrInvalid, "%q in an empty list", q.name)
			}
		case pActive:
			err = q.validName()
			if err == nil && (q.days < 1 || q.days > MaxWindowDays) {
				err = q.errorf(ErrInvalid, "window of %d days on %q: want 1..%d", q.days, q.name, MaxWindowDays)
			}
		default:
			err = fmt.Errorf("zero Plan value: %w", ErrInvalid)
		}
		return err == nil
	})
	return err
}

func (p *Plan) validName() error {
	if p.name == "" {
		return p.errorf(ErrInvalid, "empty name")
	}
	return nil
}

// errorf returns an error at p's position (an *ExprError when p came from
// an expression) wrapping err.
func (p *Plan) errorf(err error, format string, args ...any) error {
	return newPlanError(p.pos, fmt.Sprintf(format, args...), err)
}

func newPlanError(pos Pos, msg string, err error) error {
	if pos.known() {
		return &ExprError{Line: pos.Line, Column: pos.Column, Msg: msg, Err: err}
	}
	if err == nil {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// walk calls fn on p and its descendants, depth first, while fn returns
// true.
func (p *Plan) walk(fn func(*Plan) bool) bool {
	if !fn(p) {
		return false
	}
	if p == nil {
		return true
	}
	for _, k := range p.kids {
		if !k.walk(fn) {
			return false
		}
	}
	return true
}

// refs returns the saved segments p references directly, sorted.
func (p *Plan) refs() []string {
	var out []string
	p.walk(func(q *Plan) bool {
		if q != nil && q.kind == pRef {
			out = append(out, q.name)
		}
		return true
	})
	slices.Sort(out)
	return slices.Compact(out)
}

// fieldNames returns the fields p names directly, sorted.
func (p *Plan) fieldNames() []string {
	var out []string
	p.walk(func(q *Plan) bool {
		if q != nil && q.name != "" && q.kind != pRef {
			out = append(out, q.name)
		}
		return true
	})
	slices.Sort(out)
	return slices.Compact(out)
}

// Refs returns the names of the saved segments p references directly,
// sorted.
func (p *Plan) Refs() []string { return p.refs() }

// FieldNames returns the names of the fields p uses directly (not through
// saved segments), sorted.
func (p *Plan) FieldNames() []string { return p.fieldNames() }

// String renders p as an expression that Compile turns back into the same
// plan.
func (p *Plan) String() string {
	var sb strings.Builder
	p.render(&sb, 0)
	return sb.String()
}

// Operator precedences for parenthesising: || binds loosest.
const (
	precOr = iota + 1
	precAnd
	precCmp
	precUnary
)

func (p *Plan) render(sb *strings.Builder, outer int) {
	if p == nil {
		sb.WriteString("<nil>")
		return
	}
	group := func(prec int, body func()) {
		if prec < outer {
			sb.WriteByte('(')
			body()
			sb.WriteByte(')')
		} else {
			body()
		}
	}
	switch p.kind {
	case pAll:
		sb.WriteString("true")
	case pNone:
		sb.WriteString("false")
	case pTag:
		fmt.Fprintf(sb, "tag(%s)", quote(p.name))
	case pEnum:
		group(precCmp, func() {
			if len(p.values) == 1 {
				fmt.Fprintf(sb, "%s == %s", ref(p.name), quote(p.values[0]))
				return
			}
			fmt.Fprintf(sb, "%s in [", ref(p.name))
			for i, v := range p.values {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(quote(v))
			}
			sb.WriteByte(']')
		})
	case pHas:
		fmt.Fprintf(sb, "has(%s)", ref(p.name))
	case pCmp:
		group(precCmp, func() { fmt.Fprintf(sb, "%s %s %s", ref(p.name), p.op, intLit(p.a)) })
	case pBetween:
		fmt.Fprintf(sb, "between(%s, %s, %s)", ref(p.name), intLit(p.a), intLit(p.b))
	case pIntIn:
		group(precCmp, func() {
			fmt.Fprintf(sb, "%s in [", ref(p.name))
			for i, v := range p.ints {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(intLit(v))
			}
			sb.WriteByte(']')
		})
	case pActive:
		if p.fixed {
			fmt.Fprintf(sb, "active(%s, \"%dd\", %q)", quote(p.name), p.days, p.until.String())
		} else {
			fmt.Fprintf(sb, "active(%s, \"%dd\")", quote(p.name), p.days)
		}
	case pRef:
		fmt.Fprintf(sb, "segment(%s)", quote(p.name))
	case pAnd, pOr:
		if len(p.kids) == 0 {
			if p.kind == pAnd {
				sb.WriteString("true")
			} else {
				sb.WriteString("false")
			}
			return
		}
		if len(p.kids) == 1 {
			p.kids[0].render(sb, outer)
			return
		}
		op, prec := " && ", precAnd
		if p.kind == pOr {
			op, prec = " || ", precOr
		}
		group(prec, func() {
			for i, k := range p.kids {
				if i > 0 {
					sb.WriteString(op)
				}
				k.render(sb, prec)
			}
		})
	case pNot:
		sb.WriteByte('!')
		if len(p.kids) == 1 {
			k := p.kids[0]
			if k != nil && k.kind == pNot {
				// CEL's parser folds !!x into x; keep the plan's shape.
				sb.WriteByte('(')
				k.render(sb, 0)
				sb.WriteByte(')')
				return
			}
			k.render(sb, precUnary)
		}
	}
}

func quote(s string) string { return strconv.Quote(s) }

func intLit(v int64) string { return strconv.FormatInt(v, 10) }

// ref renders a field reference: the bare name when it is a CEL identifier,
// else attr("name").
func ref(name string) string {
	if isIdent(name) {
		return name
	}
	return "attr(" + quote(name) + ")"
}

func isIdent(s string) bool {
	if s == "" || reserved[s] {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

// reserved are the words CEL does not accept as identifiers.
var reserved = map[string]bool{
	"as": true, "break": true, "const": true, "continue": true, "else": true,
	"false": true, "for": true, "function": true, "if": true, "import": true,
	"in": true, "let": true, "loop": true, "package": true, "namespace": true,
	"null": true, "return": true, "true": true, "var": true, "void": true,
	"while": true,
}
