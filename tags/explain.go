package tags

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"cel.dev/cel-go/parser"
)

// Explanation says why a member has, or does not have, a tag: the value of
// every sub-expression of the rule that decided it and, for an enumerated
// tag, which case matched.
type Explanation struct {
	Tag    string
	Member uint32
	AsOf   time.Time
	// Path is how batch evaluation runs the tag.
	Path Path
	// Tagged reports whether the member has the tag (any value).
	Tagged bool
	// Value is the member's value of an enumerated tag, "" if none.
	Value string
	// Matched is the 0-based index of the case that matched, -1 when no
	// case did (the default applied, or no value) or the tag has no cases.
	Matched int
	// Err is the runtime error that left the member untagged, if any.
	Err *EvalError
	// Steps are the evaluated expressions in order: the rule; or each case
	// tried, up to the one that matched; or the value expression.
	Steps []*Step
}

// Step is one evaluated expression of a tag.
type Step struct {
	// Label names the expression: "rule", "case 2 → \"mid\"", "value".
	Label string
	// Root is the expression's evaluation tree.
	Root *Node
}

// Node is one sub-expression with the value it had for the member.
type Node struct {
	Expr     string
	Value    string
	Children []*Node
}

// String renders the explanation as an indented tree.
func (e *Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tag %q, member %d, as of %s: ", e.Tag, e.Member, e.AsOf.Format(time.RFC3339))
	switch {
	case e.Err != nil:
		fmt.Fprintf(&b, "not tagged, %s (%s)", e.Err.Msg, e.Err.Kind)
	case e.Value != "":
		fmt.Fprintf(&b, "value %q", e.Value)
		if e.Matched >= 0 {
			fmt.Fprintf(&b, " (case %d)", e.Matched+1)
		} else {
			b.WriteString(" (default)")
		}
	case e.Tagged:
		b.WriteString("tagged")
	default:
		b.WriteString("not tagged")
	}
	fmt.Fprintf(&b, " [%s]\n", e.Path)
	for _, s := range e.Steps {
		fmt.Fprintf(&b, "  %s:\n", s.Label)
		s.Root.write(&b, 2)
	}
	return b.String()
}

func (n *Node) write(b *strings.Builder, depth int) {
	fmt.Fprintf(b, "%s%s = %s\n", strings.Repeat("  ", depth), n.Expr, n.Value)
	for _, c := range n.Children {
		c.write(b, depth+1)
	}
}

// explainProgram is the rule's program for explanations: exhaustive (so
// every sub-expression has a value, not just those short-circuiting
// reached) and tracking state. The cost limit applies, as in batch runs,
// only where the rule runs on cel-go.
func (r *Rule) explainProgram() (cel.Program, error) {
	r.explainOnce.Do(func() {
		opts := []cel.ProgramOption{cel.EvalOptions(cel.OptExhaustiveEval | cel.OptTrackState)}
		if r.fast == nil {
			opts = append(opts, cel.CostLimit(r.limit))
		}
		r.explainPrg, r.explainErr = r.schema.env.Program(r.checked, opts...)
	})
	return r.explainPrg, r.explainErr
}

// explainRule evaluates r exhaustively for rec and returns its tree and
// result.
func (ev *Evaluator) explainRule(r *Rule, rec *Record) (*Node, ref.Val, *EvalError) {
	prg, err := r.explainProgram()
	if err != nil {
		ee := &EvalError{ErrOther, err.Error()}
		return &Node{Expr: r.src, Value: "error: " + err.Error()}, nil, ee
	}
	ev.act.rec = rec
	out, det, err := prg.Eval(ev.act)
	ev.act.rec = nil
	var st interpreter.EvalState
	if det != nil {
		st = det.State()
	}
	root := r.explainNode(r.ast.Expr(), st, ev.clock.Location)
	if err != nil {
		ee := classify(err)
		root.Value = "error: " + ee.Msg
		return root, nil, ee
	}
	return root, out, nil
}

func (r *Rule) explainNode(e ast.Expr, st interpreter.EvalState, loc *time.Location) *Node {
	text, err := parser.Unparse(e, r.ast.SourceInfo())
	if err != nil {
		text = fmt.Sprintf("<expr %d>", e.ID())
	}
	n := &Node{Expr: text, Value: "not evaluated"}
	if st != nil {
		if v, ok := st.Value(e.ID()); ok {
			n.Value = formatVal(v, loc)
		}
	}
	var kids []ast.Expr
	switch e.Kind() {
	case ast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() {
			kids = append(kids, c.Target())
		}
		kids = append(kids, c.Args()...)
	case ast.SelectKind:
		kids = append(kids, e.AsSelect().Operand())
	case ast.ComprehensionKind:
		// The loop's internals (accumulator, steps) mean nothing to a
		// reader; the range is what the macro ran over.
		kids = append(kids, e.AsComprehension().IterRange())
	}
	for _, k := range kids {
		if k.Kind() == ast.LiteralKind {
			continue
		}
		n.Children = append(n.Children, r.explainNode(k, st, loc))
	}
	return n
}

// formatVal renders a CEL value for people: strings quoted, timestamps in
// the tenant's zone, long lists shortened.
func formatVal(v ref.Val, loc *time.Location) string {
	switch x := v.(type) {
	case *types.Err:
		return "error: " + x.Error()
	case types.Bool:
		return strconv.FormatBool(bool(x))
	case types.Int:
		return strconv.FormatInt(int64(x), 10)
	case types.Uint:
		return strconv.FormatUint(uint64(x), 10) + "u"
	case types.Double:
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	case types.String:
		return strconv.Quote(string(x))
	case types.Timestamp:
		return x.Time.In(loc).Format(time.RFC3339Nano)
	case types.Duration:
		return x.Duration.String()
	case traits.Mapper:
		var keys []string
		vals := map[string]string{}
		it := x.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			ks := formatVal(k, loc)
			keys = append(keys, ks)
			vals[ks] = formatVal(x.Get(k), loc)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + vals[k]
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case traits.Lister:
		const show = 10
		n := int(x.Size().(types.Int))
		var parts []string
		for i := 0; i < n && i < show; i++ {
			parts = append(parts, formatVal(x.Get(types.Int(i)), loc))
		}
		if n > show {
			parts = append(parts, fmt.Sprintf("… %d more", n-show))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v.Value())
}

// explainTag explains tag t for the member whose tags m has just computed.
func (m *memberEval) explainTag(t *Tag, rec *Record) *Explanation {
	ev := m.ev
	e := &Explanation{Tag: t.def.Name, Member: rec.ID, AsOf: ev.clock.AsOf, Matched: -1}
	switch {
	case t.rule != nil:
		root, out, err := ev.explainRule(t.rule, rec)
		e.Steps = append(e.Steps, &Step{Label: "rule", Root: root})
		if err != nil {
			e.Err = err
		} else {
			e.Tagged = out == types.True
		}
	case t.expr != nil:
		root, out, err := ev.explainRule(t.expr, rec)
		e.Steps = append(e.Steps, &Step{Label: "value", Root: root})
		if err != nil {
			e.Err = err
			break
		}
		s, _ := out.(types.String)
		if _, ok := t.valueIx[string(s)]; !ok {
			e.Err = &EvalError{ErrBadValue, fmt.Sprintf("value %q is not declared", string(s))}
			break
		}
		e.Tagged, e.Value = true, string(s)
	default:
		for i, c := range t.cases {
			root, out, err := ev.explainRule(c, rec)
			label := fmt.Sprintf("case %d → %q", i+1, t.def.Cases[i].Value)
			e.Steps = append(e.Steps, &Step{Label: label, Root: root})
			if err != nil {
				e.Err = err
				break
			}
			if out == types.True {
				e.Matched, e.Tagged, e.Value = i, true, t.def.Cases[i].Value
				break
			}
		}
		if e.Err == nil && e.Matched < 0 && t.deflt >= 0 {
			e.Tagged, e.Value = true, t.values[t.deflt]
			e.Steps = append(e.Steps, &Step{Label: "default",
				Root: &Node{Expr: "no case matched", Value: strconv.Quote(e.Value)}})
		}
	}
	return e
}
