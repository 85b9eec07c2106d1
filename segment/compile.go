package segment

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/parser"
)

// Schema is what Compile checks names against. A *View is one.
type Schema interface {
	// FieldKind returns the kind of the declared field called name.
	FieldKind(name string) (Kind, bool)
	// SegmentPlan returns the plan of the saved segment called name.
	SegmentPlan(name string) (*Plan, bool)
}

// MaxExprLen bounds the source of an expression, in bytes.
const MaxExprLen = 64 << 10

// celParser is cel-go's parser with no macros: has() is our function, not
// CEL's field-presence macro, and nothing else would expand.
var celParser = sync.OnceValue(func() *parser.Parser {
	p, err := parser.NewParser(
		parser.MaxRecursionDepth(200),
		parser.ErrorReportingLimit(4),
		parser.ExpressionSizeCodePointLimit(MaxExprLen),
	)
	if err != nil {
		panic(err) // the options are constants; this cannot fail at run time
	}
	return p
})

// Compile compiles an audience expression in CEL syntax into a Plan. The
// expression is parsed with cel-go's parser and the syntax tree translated
// into set operations; nothing is evaluated per member. It accepts:
//
//	tag("vip")                       a tag; a bare identifier vip is the same
//	tag("tier", "gold")              an enum value; also tier == "gold"
//	tier in ["gold", "silver"]       any of several enum values
//	tier != "gold"                   has a tier, and it is not gold
//	spend_90d >= 50000               int comparisons: == != < <= > >=
//	age in [18, 35]                  int IN list (CEL semantics: 18 or 35)
//	between(age, 18, 35)             inclusive range; also age.between(18, 35)
//	has(spend_90d)                   the member has a value
//	active("purchase", "30d")        activity in the 30 days ending on the as-of day
//	active("purchase", "7d", "2024-05-01")  a window ending on a fixed day
//	segment("refill_due")            a saved segment
//	&&  ||  !  ( )  true  false
//
// attr("any name") stands for a field whose name is not an identifier.
// With a non-nil schema, unknown fields and segments and kind mismatches
// (a comparison on a tag, a string compared with an int) are errors; with
// nil, only syntax is checked and names are checked at evaluation. Every
// error is an *ExprError with a 1-based line and column.
//
// Compile is safe for concurrent use; the Plan it returns is immutable.
func Compile(src string, schema Schema) (*Plan, error) {
	if len(src) > MaxExprLen {
		return nil, &ExprError{Line: 1, Column: 1, Msg: fmt.Sprintf("expression longer than %d bytes", MaxExprLen), Err: ErrInvalid}
	}
	if !utf8.ValidString(src) {
		return nil, &ExprError{Line: 1, Column: 1, Msg: "expression is not valid UTF-8", Err: ErrInvalid}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &ExprError{Line: 1, Column: 1, Msg: "empty expression", Err: ErrInvalid}
	}
	source := common.NewTextSource(src)
	tree, errs := celParser().Parse(source)
	if errs != nil && len(errs.GetErrors()) > 0 {
		e := errs.GetErrors()[0]
		msg := strings.TrimPrefix(e.Message, "Syntax error: ")
		return nil, withSnippet(&ExprError{Line: max(1, e.Location.Line()), Column: max(1, e.Location.Column()+1), Msg: msg}, src)
	}
	c := &compiler{src: src, info: tree.SourceInfo(), schema: schema}
	p, err := c.cond(tree.Expr())
	if err != nil {
		if ee, ok := err.(*ExprError); ok {
			return nil, withSnippet(ee, src)
		}
		return nil, err
	}
	return p, nil
}

// MustCompile is Compile for expressions known to be valid, such as
// constants in a program; it panics on error.
func MustCompile(src string, schema Schema) *Plan {
	p, err := Compile(src, schema)
	if err != nil {
		panic(err)
	}
	return p
}

func withSnippet(e *ExprError, src string) *ExprError {
	lines := strings.Split(src, "\n")
	if e.Line >= 1 && e.Line <= len(lines) {
		e.Snippet = lines[e.Line-1]
	}
	return e
}

type compiler struct {
	src    string
	info   *ast.SourceInfo
	schema Schema
}

func (c *compiler) pos(e ast.Expr) Pos {
	loc := c.info.GetStartLocation(e.ID())
	return Pos{Line: loc.Line(), Column: loc.Column() + 1}
}

// callPos is the position of a call's function name. CEL records a global
// call at its opening parenthesis, so step back over the name when the
// source has it there.
func (c *compiler) callPos(e ast.Expr) Pos {
	p := c.pos(e)
	call := e.AsCall()
	if call.IsMemberFunction() {
		return c.pos(call.Target())
	}
	name := call.FunctionName()
	off := c.info.GetStartLocation(e.ID())
	start := c.info.ComputeOffset(int32(off.Line()), int32(off.Column())) - int32(utf8.RuneCountInString(name))
	if start >= 0 {
		runes := []rune(c.src)
		if int(start)+len([]rune(name)) <= len(runes) && string(runes[start:int(start)+len([]rune(name))]) == name {
			p.Column -= utf8.RuneCountInString(name)
		}
	}
	return p
}

func (c *compiler) errorf(pos Pos, err error, format string, args ...any) error {
	return &ExprError{Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf(format, args...), Err: err}
}

// cond compiles a boolean condition.
func (c *compiler) cond(e ast.Expr) (*Plan, error) {
	switch e.Kind() {
	case ast.LiteralKind:
		if b, ok := e.AsLiteral().(types.Bool); ok {
			if b {
				return All().at(c.pos(e)), nil
			}
			return None().at(c.pos(e)), nil
		}
		return nil, c.errorf(c.pos(e), ErrInvalid, "%s is not a condition", describe(e))
	case ast.IdentKind:
		name := e.AsIdent()
		return c.bareField(name, c.pos(e))
	case ast.CallKind:
		return c.call(e)
	}
	return nil, c.errorf(c.pos(e), ErrInvalid, "%s is not a condition", describe(e))
}

// bareField compiles a field named on its own, which must be a tag.
func (c *compiler) bareField(name string, pos Pos) (*Plan, error) {
	if c.schema != nil {
		k, ok := c.schema.FieldKind(name)
		if !ok {
			return nil, c.errorf(pos, &FieldError{Field: name, Err: ErrUnknownField}, "unknown field %q", name)
		}
		if k != KindTag {
			hint := "compare it"
			if k == KindEvent {
				hint = fmt.Sprintf("use active(%q, \"30d\")", name)
			}
			return nil, c.errorf(pos, &FieldError{Field: name, Kind: k, Want: KindTag, Err: ErrKindMismatch},
				"%q is %s %s, not a tag: %s", name, article(k), k, hint)
		}
	}
	return Tag(name).at(pos), nil
}

func (c *compiler) call(e ast.Expr) (*Plan, error) {
	call := e.AsCall()
	args := call.Args()
	pos := c.pos(e)
	switch fn := call.FunctionName(); fn {
	case operators.LogicalAnd, operators.LogicalOr:
		l, err := c.cond(args[0])
		if err != nil {
			return nil, err
		}
		r, err := c.cond(args[1])
		if err != nil {
			return nil, err
		}
		// a && b && c parses as nested pairs; && and || are associative,
		// so chains flatten to one n-ary node.
		kind := pAnd
		if fn == operators.LogicalOr {
			kind = pOr
		}
		var kids []*Plan
		for _, k := range []*Plan{l, r} {
			if k.kind == kind {
				kids = append(kids, k.kids...)
			} else {
				kids = append(kids, k)
			}
		}
		return (&Plan{kind: kind, kids: kids}).at(pos), nil
	case operators.LogicalNot:
		k, err := c.cond(args[0])
		if err != nil {
			return nil, err
		}
		return Not(k).at(pos), nil
	case operators.Equals, operators.NotEquals, operators.Less, operators.LessEquals,
		operators.Greater, operators.GreaterEquals:
		return c.comparison(e)
	case operators.In:
		return c.in(e)
	case "tag":
		return c.tagCall(e)
	case "has":
		if call.IsMemberFunction() || len(args) != 1 {
			return nil, c.errorf(c.callPos(e), ErrInvalid, "has takes one field: has(spend_90d)")
		}
		name, fpos, err := c.fieldRef(args[0])
		if err != nil {
			return nil, err
		}
		if err := c.wantKind(name, fpos, KindEnum, KindInt); err != nil {
			return nil, err
		}
		return Has(name).at(c.callPos(e)), nil
	case "between":
		return c.between(e)
	case "active":
		return c.active(e)
	case "segment":
		if call.IsMemberFunction() || len(args) != 1 {
			return nil, c.errorf(c.callPos(e), ErrInvalid, "segment takes one name: segment(\"refill_due\")")
		}
		name, err := c.stringArg(args[0], "segment name")
		if err != nil {
			return nil, err
		}
		if c.schema != nil {
			if _, ok := c.schema.SegmentPlan(name); !ok {
				return nil, c.errorf(c.pos(args[0]), ErrUnknownSegment, "unknown segment %q", name)
			}
		}
		return Ref(name).at(c.callPos(e)), nil
	case "attr":
		name, fpos, err := c.fieldRef(e)
		if err != nil {
			return nil, err
		}
		return c.bareField(name, fpos)
	default:
		if strings.HasPrefix(fn, "_") || strings.HasPrefix(fn, "@") || fn == operators.Negate {
			return nil, c.errorf(pos, ErrInvalid, "operator %s is not supported in audience expressions", opName(fn))
		}
		return nil, c.errorf(c.callPos(e), ErrInvalid,
			"unknown function %s; audiences use tag, has, between, active, segment and attr", fn)
	}
}

func opName(fn string) string {
	if op, ok := operators.FindReverse(fn); ok {
		return op
	}
	return fn
}

// fieldRef returns the field a reference names: an identifier or attr("…").
func (c *compiler) fieldRef(e ast.Expr) (string, Pos, error) {
	switch e.Kind() {
	case ast.IdentKind:
		return e.AsIdent(), c.pos(e), nil
	case ast.CallKind:
		call := e.AsCall()
		if call.FunctionName() == "attr" && !call.IsMemberFunction() && len(call.Args()) == 1 {
			name, err := c.stringArg(call.Args()[0], "field name")
			return name, c.callPos(e), err
		}
	}
	return "", c.pos(e), c.errorf(c.pos(e), ErrInvalid, "want a field name, got %s", describe(e))
}

func isFieldRef(e ast.Expr) bool {
	switch e.Kind() {
	case ast.IdentKind:
		return true
	case ast.CallKind:
		return e.AsCall().FunctionName() == "attr" && !e.AsCall().IsMemberFunction()
	}
	return false
}

// wantKind checks a field's kind against the schema, when there is one,
// and returns its kind (the first wanted kind when unknown).
func (c *compiler) kindOf(name string, pos Pos, want ...Kind) (Kind, error) {
	if c.schema == nil {
		return 0, nil
	}
	k, ok := c.schema.FieldKind(name)
	if !ok {
		return 0, c.errorf(pos, &FieldError{Field: name, Err: ErrUnknownField}, "unknown field %q", name)
	}
	for _, w := range want {
		if k == w {
			return k, nil
		}
	}
	return 0, c.errorf(pos, &FieldError{Field: name, Kind: k, Want: want[0], Err: ErrKindMismatch},
		"%q is %s %s, not %s", name, article(k), k, kindList(want))
}

func (c *compiler) wantKind(name string, pos Pos, want ...Kind) error {
	_, err := c.kindOf(name, pos, want...)
	return err
}

func (c *compiler) stringArg(e ast.Expr, what string) (string, error) {
	if e.Kind() == ast.LiteralKind {
		if s, ok := e.AsLiteral().(types.String); ok {
			if err := validName(what, string(s)); err != nil {
				return "", c.errorf(c.pos(e), ErrInvalid, "%v", strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error()))
			}
			return string(s), nil
		}
	}
	return "", c.errorf(c.pos(e), ErrInvalid, "want a string %s, got %s", what, describe(e))
}

// intLiteral returns the int64 value of a literal, if it is one.
func (c *compiler) intLiteral(e ast.Expr) (int64, bool, error) {
	if e.Kind() != ast.LiteralKind {
		return 0, false, nil
	}
	switch v := e.AsLiteral().(type) {
	case types.Int:
		return int64(v), true, nil
	case types.Uint:
		if uint64(v) > math.MaxInt64 {
			return 0, false, c.errorf(c.pos(e), ErrInvalid, "%du is past the largest int64", uint64(v))
		}
		return int64(v), true, nil
	case types.Double:
		return 0, false, c.errorf(c.pos(e), ErrInvalid, "%v is not an integer: int attributes hold whole numbers (money in fen)", float64(v))
	}
	return 0, false, nil
}

func (c *compiler) comparison(e ast.Expr) (*Plan, error) {
	call := e.AsCall()
	pos := c.pos(e)
	l, r := call.Args()[0], call.Args()[1]
	op := map[string]Op{
		operators.Equals: Eq, operators.NotEquals: Ne, operators.Less: Lt,
		operators.LessEquals: Le, operators.Greater: Gt, operators.GreaterEquals: Ge,
	}[call.FunctionName()]
	if !isFieldRef(l) {
		if !isFieldRef(r) {
			return nil, c.errorf(pos, ErrInvalid, "compare a field with a constant, got %s %s %s", describe(l), op, describe(r))
		}
		// 5 < x is x > 5.
		l, r = r, l
		op = map[Op]Op{Eq: Eq, Ne: Ne, Lt: Gt, Le: Ge, Gt: Lt, Ge: Le}[op]
	}
	name, fpos, err := c.fieldRef(l)
	if err != nil {
		return nil, err
	}
	if isFieldRef(r) {
		return nil, c.errorf(c.pos(r), ErrInvalid, "compare a field with a constant, not with another field")
	}
	if r.Kind() == ast.LiteralKind {
		if s, ok := r.AsLiteral().(types.String); ok {
			if err := c.wantKind(name, fpos, KindEnum); err != nil {
				return nil, c.errorf(c.pos(r), errCause(err), "%q compared with the string %q: %v", name, string(s), causeMsg(err))
			}
			switch op {
			case Eq:
				return Enum(name, string(s)).at(pos), nil
			case Ne:
				return And(Has(name).at(pos), Not(Enum(name, string(s)).at(pos)).at(pos)).at(pos), nil
			}
			return nil, c.errorf(pos, ErrInvalid, "enum %q supports ==, != and in, not %s", name, op)
		}
	}
	v, ok, err := c.intLiteral(r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, c.errorf(c.pos(r), ErrInvalid, "compare %q with an int or string constant, got %s", name, describe(r))
	}
	if err := c.wantKind(name, fpos, KindInt); err != nil {
		return nil, err
	}
	return Cmp(name, op, v).at(pos), nil
}

// errCause and causeMsg split a compiler error into its sentinel and its
// message, to re-report it at a better position.
func errCause(err error) error {
	if ee, ok := err.(*ExprError); ok {
		return ee.Err
	}
	return err
}

func causeMsg(err error) string {
	if ee, ok := err.(*ExprError); ok {
		return ee.Msg
	}
	return err.Error()
}

func (c *compiler) in(e ast.Expr) (*Plan, error) {
	args := e.AsCall().Args()
	pos := c.pos(e)
	name, fpos, err := c.fieldRef(args[0])
	if err != nil {
		return nil, err
	}
	list := args[1]
	if list.Kind() != ast.ListKind {
		return nil, c.errorf(c.pos(list), ErrInvalid, "in needs a list of constants, got %s", describe(list))
	}
	elems := list.AsList().Elements()
	if len(elems) == 0 {
		return nil, c.errorf(c.pos(list), ErrInvalid, "%q in an empty list matches nobody; write false", name)
	}
	if first := elems[0]; first.Kind() == ast.LiteralKind {
		if _, ok := first.AsLiteral().(types.String); ok {
			if err := c.wantKind(name, fpos, KindEnum); err != nil {
				return nil, err
			}
			vals := make([]string, len(elems))
			for i, el := range elems {
				s, err := c.stringArg(el, "enum value")
				if err != nil {
					return nil, err
				}
				vals[i] = s
			}
			return EnumIn(name, vals...).at(pos), nil
		}
	}
	if err := c.wantKind(name, fpos, KindInt); err != nil {
		return nil, err
	}
	vals := make([]int64, len(elems))
	for i, el := range elems {
		v, ok, err := c.intLiteral(el)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, c.errorf(c.pos(el), ErrInvalid, "want an int constant in the list, got %s", describe(el))
		}
		vals[i] = v
	}
	return IntIn(name, vals...).at(pos), nil
}

func (c *compiler) tagCall(e ast.Expr) (*Plan, error) {
	call := e.AsCall()
	args := call.Args()
	pos := c.callPos(e)
	if call.IsMemberFunction() || len(args) < 1 || len(args) > 2 {
		return nil, c.errorf(pos, ErrInvalid, "tag takes a tag name, or an enum field and a value: tag(\"vip\"), tag(\"tier\", \"gold\")")
	}
	name, err := c.stringArg(args[0], "tag name")
	if err != nil {
		return nil, err
	}
	if len(args) == 1 {
		if err := c.wantKind(name, c.pos(args[0]), KindTag); err != nil {
			return nil, err
		}
		return Tag(name).at(pos), nil
	}
	if err := c.wantKind(name, c.pos(args[0]), KindEnum); err != nil {
		return nil, err
	}
	if args[1].Kind() == ast.ListKind {
		var vals []string
		for _, el := range args[1].AsList().Elements() {
			s, err := c.stringArg(el, "enum value")
			if err != nil {
				return nil, err
			}
			vals = append(vals, s)
		}
		if len(vals) == 0 {
			return nil, c.errorf(c.pos(args[1]), ErrInvalid, "an empty list of values matches nobody; write false")
		}
		return EnumIn(name, vals...).at(pos), nil
	}
	val, err := c.stringArg(args[1], "enum value")
	if err != nil {
		return nil, err
	}
	return Enum(name, val).at(pos), nil
}

func (c *compiler) between(e ast.Expr) (*Plan, error) {
	call := e.AsCall()
	args := call.Args()
	pos := c.callPos(e)
	var field ast.Expr
	switch {
	case call.IsMemberFunction() && len(args) == 2:
		field = call.Target()
	case !call.IsMemberFunction() && len(args) == 3:
		field, args = args[0], args[1:]
	default:
		return nil, c.errorf(pos, ErrInvalid, "between takes a field and two bounds: between(age, 18, 35)")
	}
	name, fpos, err := c.fieldRef(field)
	if err != nil {
		return nil, err
	}
	if err := c.wantKind(name, fpos, KindInt); err != nil {
		return nil, err
	}
	var bounds [2]int64
	for i, a := range args {
		v, ok, err := c.intLiteral(a)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, c.errorf(c.pos(a), ErrInvalid, "want an int bound, got %s", describe(a))
		}
		bounds[i] = v
	}
	return Between(name, bounds[0], bounds[1]).at(pos), nil
}

func (c *compiler) active(e ast.Expr) (*Plan, error) {
	call := e.AsCall()
	args := call.Args()
	pos := c.callPos(e)
	if call.IsMemberFunction() || len(args) < 2 || len(args) > 3 {
		return nil, c.errorf(pos, ErrInvalid, "active takes an event, a window and optionally its last day: active(\"purchase\", \"30d\")")
	}
	var name string
	var err error
	if args[0].Kind() == ast.IdentKind {
		name = args[0].AsIdent()
	} else if name, err = c.stringArg(args[0], "event name"); err != nil {
		return nil, err
	}
	if err := c.wantKind(name, c.pos(args[0]), KindEvent); err != nil {
		return nil, err
	}
	days, err := c.window(args[1])
	if err != nil {
		return nil, err
	}
	if len(args) == 3 {
		s, err := c.stringArg(args[2], "date")
		if err != nil {
			return nil, err
		}
		d, perr := ParseDay(s)
		if perr != nil {
			return nil, c.errorf(c.pos(args[2]), ErrInvalid, "last day %q is not a date like 2024-05-01", s)
		}
		return ActiveUntil(name, days, d).at(pos), nil
	}
	return Active(name, days).at(pos), nil
}

// window parses a window length: 30, "30d" or "4w".
func (c *compiler) window(e ast.Expr) (int, error) {
	bad := func() error {
		return c.errorf(c.pos(e), ErrInvalid, "window %s: want a number of days like \"30d\", \"4w\" or 30, from 1 to %d days", describe(e), MaxWindowDays)
	}
	var n int64
	if v, ok, err := c.intLiteral(e); err != nil {
		return 0, err
	} else if ok {
		n = v
	} else if e.Kind() == ast.LiteralKind {
		s, ok := e.AsLiteral().(types.String)
		if !ok || len(s) < 2 {
			return 0, bad()
		}
		unit := int64(1)
		switch s[len(s)-1] {
		case 'd':
		case 'w':
			unit = 7
		default:
			return 0, bad()
		}
		v, err := strconv.ParseInt(string(s[:len(s)-1]), 10, 32)
		if err != nil {
			return 0, bad()
		}
		n = v * unit
	} else {
		return 0, bad()
	}
	if n < 1 || n > MaxWindowDays {
		return 0, bad()
	}
	return int(n), nil
}

// describe names an expression in an error message.
func describe(e ast.Expr) string {
	switch e.Kind() {
	case ast.LiteralKind:
		switch v := e.AsLiteral().(type) {
		case types.String:
			return strconv.Quote(string(v))
		case types.Int:
			return "the int " + strconv.FormatInt(int64(v), 10)
		case types.Uint:
			return fmt.Sprintf("the uint %du", uint64(v))
		case types.Double:
			return fmt.Sprintf("the double %v", float64(v))
		case types.Bool:
			return fmt.Sprintf("%v", bool(v))
		case types.Null:
			return "null"
		case types.Bytes:
			return "a bytes literal"
		}
		return "a literal"
	case ast.IdentKind:
		return "the field " + e.AsIdent()
	case ast.ListKind:
		return "a list"
	case ast.MapKind:
		return "a map"
	case ast.SelectKind:
		return "the field selection ." + e.AsSelect().FieldName()
	case ast.StructKind:
		return "a message"
	case ast.ComprehensionKind:
		return "a comprehension"
	case ast.CallKind:
		fn := e.AsCall().FunctionName()
		if op, ok := operators.FindReverse(fn); ok && op != "" {
			return "an expression with " + op
		}
		return fn + "(…)"
	}
	return "an expression"
}

var (
	_ Schema = (*View)(nil)
	_ Schema = (*Tx)(nil)
)
