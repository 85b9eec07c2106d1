package tags

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
)

// DefaultCostLimit is the cel-go cost limit per evaluation of one rule for
// one member when Config.CostLimit is zero. It is the per-expression limit
// Kubernetes applies to its CEL rules (one cost unit is roughly one
// sub-expression evaluation or one element visited), and far above what a
// tag rule over one member's record needs: a comprehension nested in
// another over two 1,000-element lists exceeds it.
const DefaultCostLimit = 1_000_000

// Path is how a rule is evaluated.
type Path uint8

const (
	// PathPushDown: compiled to a bitmap plan over the segment.Index's
	// attributes and tags; no per-member work.
	PathPushDown Path = iota + 1
	// PathCompiled: per member, by closures compiled from the checked rule.
	PathCompiled
	// PathCEL: per member, by cel-go's interpreter under the cost limit
	// (rules with nested comprehensions or functions the compiled path
	// lacks).
	PathCEL
)

// String names the path.
func (p Path) String() string {
	switch p {
	case PathPushDown:
		return "push-down"
	case PathCompiled:
		return "compiled"
	case PathCEL:
		return "cel"
	}
	return fmt.Sprintf("Path(%d)", uint8(p))
}

// tagInfo is what the compiler needs to know about a tag a rule references.
type tagInfo struct {
	id     int
	enum   bool
	values []string
}

// tagResolver looks tags up by name while rules are compiled.
type tagResolver func(name string) (tagInfo, bool)

// tagSource answers has_tag for the member being evaluated: the index of
// the member's value for tag id (0 for a boolean tag it has), or -1.
type tagSource interface {
	tagValue(id int) int
}

// tagRef is a resolved has_tag call.
type tagRef struct {
	name      string
	id        int
	value     int // value index, or -1 for has_tag(name)
	valueName string
}

// Rule is a compiled CEL expression over a Schema. A Rule is immutable and
// safe for concurrent use; evaluate it with an Evaluator.
type Rule struct {
	name    string
	part    string
	src     string
	schema  *Schema
	ast     *ast.AST
	checked *cel.Ast
	prg     cel.Program
	out     vtype
	fast    *fastProg // nil when the rule runs on cel-go
	hot     fn[bool]  // the compiled bool rule when it needs no loop slots
	why     string    // why it runs on cel-go
	refs    []tagRef
	limit   uint64
	push    *pexpr // push-down form, nil when a leaf is not indexed

	explainOnce sync.Once
	explainPrg  cel.Program
	explainErr  error
}

// Compile compiles a boolean rule over the schema's fields. name labels
// errors. has_tag is not available: rules on tags are defined in a Set.
func (s *Schema) Compile(name, src string) (*Rule, error) {
	return compileRule(s, nil, name, "", src, cel.BoolType, 0)
}

// Name returns the rule's name.
func (r *Rule) Name() string { return r.name }

// Source returns the rule text.
func (r *Rule) Source() string { return r.src }

// Path reports whether the rule runs compiled or on cel-go when evaluated
// per member. (Whether a tag pushes down is a property of the tag, see
// Tag.Path.)
func (r *Rule) Path() Path {
	if r.fast != nil {
		return PathCompiled
	}
	return PathCEL
}

// Why says why a rule runs on cel-go rather than compiled; empty otherwise.
func (r *Rule) Why() string { return r.why }

func compileRule(s *Schema, tags tagResolver, name, part, src string, want *cel.Type, limit uint64) (*Rule, error) {
	if limit == 0 {
		limit = DefaultCostLimit
	}
	r := &Rule{name: name, part: part, src: src, schema: s, limit: limit}
	if strings.TrimSpace(src) == "" {
		return nil, &CompileError{Rule: name, Part: part, Line: 1, Column: 1, Msg: "empty rule"}
	}
	src0 := common.NewTextSource(src)
	checked, iss := s.env.CompileSource(src0)
	if iss != nil && iss.Err() != nil {
		return nil, r.issuesErr(iss.Errors())
	}
	r.checked = checked
	r.ast = checked.NativeRep()
	if !checked.OutputType().IsExactType(want) {
		return nil, r.errAtStart(r.ast.Expr(), "rule returns %s, want %s",
			checked.OutputType().String(), want.String())
	}
	if err := r.validate(tags); err != nil {
		return nil, err
	}
	out, _ := vtypeOf(want)
	r.out = out
	// No OptOptimize: its constant folding turns `x in []` into false even
	// when x errs, which is not CEL's strict semantics.
	prg, err := s.env.Program(checked, cel.CostLimit(limit))
	if err != nil {
		return nil, r.errAt(r.ast.Expr().ID(), "%v", err)
	}
	r.prg = prg
	fast, err := compileFast(r.ast, s, tags)
	var u *unsupportedError
	switch {
	case err == nil:
		r.fast = fast
		if fast.boolFn != nil && !fast.hasSlots {
			r.hot = fast.boolFn
		}
	case errors.As(err, &u):
		r.why = u.what
	default:
		return nil, r.errAt(r.ast.Expr().ID(), "%v", err)
	}
	r.push = pushForm(r)
	return r, nil
}

func (r *Rule) lineOf(line int) string {
	lines := strings.Split(r.src, "\n")
	if line >= 1 && line <= len(lines) {
		return lines[line-1]
	}
	return ""
}

func (r *Rule) issuesErr(errs []*common.Error) error {
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		line, col := e.Location.Line(), e.Location.Column()+1
		if line < 1 {
			line, col = 1, 1
		}
		col = max(col, 1)
		out = append(out, &CompileError{Rule: r.name, Part: r.part, Line: line, Column: col,
			Msg: e.Message, Source: r.lineOf(line)})
	}
	return errors.Join(out...)
}

// errAt makes a CompileError positioned at expression id.
func (r *Rule) errAt(id int64, format string, args ...any) error {
	loc := r.ast.SourceInfo().GetStartLocation(id)
	line, col := loc.Line(), loc.Column()+1
	if line < 1 {
		line, col = 1, 1
	}
	col = max(col, 1)
	return &CompileError{Rule: r.name, Part: r.part, Line: line, Column: col,
		Msg: fmt.Sprintf(format, args...), Source: r.lineOf(line)}
}

// errAtStart makes a CompileError positioned where expression e's text
// begins (for `a + b` that is a, not the operator).
func (r *Rule) errAtStart(e ast.Expr, format string, args ...any) error {
	best := e.ID()
	bl := r.ast.SourceInfo().GetStartLocation(best)
	ast.PreOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		l := r.ast.SourceInfo().GetStartLocation(x.ID())
		if l.Line() > 0 && (l.Line() < bl.Line() || (l.Line() == bl.Line() && l.Column() < bl.Column())) {
			best, bl = x.ID(), l
		}
	}))
	return r.errAt(best, format, args...)
}

// validate checks what the type checker cannot: has_tag names and values
// are declared literals and present() takes a field.
func (r *Rule) validate(tags tagResolver) error {
	var errs []error
	seen := map[string]bool{}
	ast.PostOrderVisit(r.ast.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		call := e.AsCall()
		switch call.FunctionName() {
		case fnHasTag:
			ref, err := resolveHasTag(call, tags)
			if err != nil {
				errs = append(errs, r.errAt(err.at, "%s", err.msg))
				return
			}
			key := fmt.Sprintf("%d/%d", ref.id, ref.value)
			if !seen[key] {
				seen[key] = true
				r.refs = append(r.refs, ref)
			}
		case fnPresent:
			arg := call.Args()[0]
			if arg.Kind() != ast.IdentKind {
				errs = append(errs, r.errAt(arg.ID(), "present() takes a field name"))
				return
			}
			if _, ok := r.schema.byName[arg.AsIdent()]; !ok && !r.isLoopVar(arg.AsIdent()) {
				errs = append(errs, r.errAt(arg.ID(), "present(): %q is not a field", arg.AsIdent()))
			}
		}
	}))
	return errors.Join(errs...)
}

// isLoopVar reports whether name is bound by some comprehension of the rule
// (the checker has already resolved scoping; present() of a loop variable is
// always true).
func (r *Rule) isLoopVar(name string) bool {
	found := false
	ast.PreOrderVisit(r.ast.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() == ast.ComprehensionKind && e.AsComprehension().IterVar() == name {
			found = true
		}
	}))
	return found
}

type posErr struct {
	at  int64
	msg string
}

func resolveHasTag(call ast.CallExpr, tags tagResolver) (tagRef, *posErr) {
	args := call.Args()
	lit := func(e ast.Expr) (string, bool) {
		if e.Kind() != ast.LiteralKind {
			return "", false
		}
		s, ok := e.AsLiteral().(types.String)
		return string(s), ok
	}
	name, ok := lit(args[0])
	if !ok {
		return tagRef{}, &posErr{args[0].ID(), "has_tag() takes a tag name as a string literal"}
	}
	if tags == nil {
		return tagRef{}, &posErr{args[0].ID(), fmt.Sprintf("unknown tag %q (has_tag needs a tag set)", name)}
	}
	info, ok := tags(name)
	if !ok {
		return tagRef{}, &posErr{args[0].ID(), fmt.Sprintf("unknown tag %q", name)}
	}
	ref := tagRef{name: name, id: info.id, value: -1}
	if len(args) == 2 {
		val, ok := lit(args[1])
		if !ok {
			return tagRef{}, &posErr{args[1].ID(), "has_tag() takes a value as a string literal"}
		}
		if !info.enum {
			return tagRef{}, &posErr{args[1].ID(), fmt.Sprintf("tag %q is boolean and has no values", name)}
		}
		ref.value, ref.valueName = -2, val
		for i, v := range info.values {
			if v == val {
				ref.value = i
			}
		}
		if ref.value < 0 {
			return tagRef{}, &posErr{args[1].ID(), fmt.Sprintf("tag %q has no value %q (declared: %s)",
				name, val, strings.Join(info.values, ", "))}
		}
	}
	return ref, nil
}

// classify maps a cel-go runtime error to an EvalError.
func classify(err error) *EvalError {
	var ee *EvalError
	if errors.As(err, &ee) {
		return ee
	}
	msg := err.Error()
	kind := ErrOther
	switch {
	case strings.Contains(msg, "no such attribute"):
		kind = ErrMissing
	case strings.Contains(msg, "no such key"), strings.Contains(msg, "index out of"):
		kind = ErrNoSuchKey
	case strings.Contains(msg, "overflow"), strings.Contains(msg, "out of range"):
		kind = ErrOverflow
	case strings.Contains(msg, "by zero"):
		kind = ErrDivideByZero
	case strings.Contains(msg, "cost limit"):
		kind = ErrCostLimit
	case strings.Contains(msg, "negative duration"):
		kind = ErrBadValue
	}
	return &EvalError{Kind: kind, Msg: msg}
}
