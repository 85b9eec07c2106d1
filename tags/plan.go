package tags

import (
	"fmt"
	"math"
	"slices"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	"github.com/cdpkit/cdpkit/segment"
)

// tfPlan is a push-down node as two segment plans: the members for which
// it is true and those for which it is false (see push.go).
type tfPlan struct{ t, f *segment.Plan }

func isAll(p *segment.Plan) bool  { return p.String() == segment.All().String() }
func isNone(p *segment.Plan) bool { return p.String() == segment.None().String() }

// and/or/not build plans, folding the constants All and None so that
// plans stay as small as the rule.
func and(ps ...*segment.Plan) *segment.Plan {
	var kids []*segment.Plan
	for _, p := range ps {
		switch {
		case isNone(p):
			return segment.None()
		case isAll(p):
		default:
			kids = append(kids, p)
		}
	}
	switch len(kids) {
	case 0:
		return segment.All()
	case 1:
		return kids[0]
	}
	return segment.And(kids...)
}

func or(ps ...*segment.Plan) *segment.Plan {
	var kids []*segment.Plan
	for _, p := range ps {
		switch {
		case isAll(p):
			return segment.All()
		case isNone(p):
		default:
			kids = append(kids, p)
		}
	}
	switch len(kids) {
	case 0:
		return segment.None()
	case 1:
		return kids[0]
	}
	return segment.Or(kids...)
}

func not(p *segment.Plan) *segment.Plan {
	switch {
	case isAll(p):
		return segment.None()
	case isNone(p):
		return segment.All()
	}
	return segment.Not(p)
}

// pushedTag is a tag evaluated as plans: one plan per value (one for a
// boolean tag). undecided counts, with the value plans, the members for
// which the rule does not err: a boolean rule's false plan, or, for cases
// without a default, the plan of "every case false". attrs are the index
// fields the leaves read: where each holds a value for every member, no
// member errs and undecided need not be evaluated.
type pushedTag struct {
	values    []*segment.Plan
	undecided *segment.Plan // nil when every decided member has a value
	attrs     []string
}

func (p *pushedTag) any() *segment.Plan { return or(p.values...) }

// planner translates push-down forms into segment plans for one refresh.
type planner struct {
	asOfDay int64
	pushed  map[int]*pushedTag // tags of the refresh evaluated as plans
	inRun   map[int]bool       // tags of the refresh evaluated per member
	cat     *catalog
	view    *segment.View
}

var segOps = [...]segment.Op{opEQ: segment.Eq, opNE: segment.Ne, opLT: segment.Lt, opLE: segment.Le,
	opGT: segment.Gt, opGE: segment.Ge}

// satSub and satAdd saturate at ±2^62: day numbers are within ±4 million,
// so a saturated bound compares with every day exactly as the true bound.
func satAdd(a, b int64) int64 {
	const lim = 1 << 62
	s := float64(a) + float64(b)
	switch {
	case s >= lim:
		return lim
	case s <= -lim:
		return -lim
	}
	return a + b
}

func (pl *planner) expr(p *pexpr) (tfPlan, error) {
	switch p.op {
	case pConst:
		if p.val {
			return tfPlan{segment.All(), segment.None()}, nil
		}
		return tfPlan{segment.None(), segment.All()}, nil
	case pNot:
		k, err := pl.expr(p.kids[0])
		return tfPlan{k.f, k.t}, err
	case pAnd, pOr:
		ts := make([]*segment.Plan, len(p.kids))
		fs := make([]*segment.Plan, len(p.kids))
		for i, kid := range p.kids {
			k, err := pl.expr(kid)
			if err != nil {
				return tfPlan{}, err
			}
			ts[i], fs[i] = k.t, k.f
		}
		if p.op == pAnd {
			return tfPlan{and(ts...), or(fs...)}, nil
		}
		return tfPlan{or(ts...), and(fs...)}, nil
	case pCond:
		c, err := pl.expr(p.kids[0])
		if err != nil {
			return tfPlan{}, err
		}
		a, err := pl.expr(p.kids[1])
		if err != nil {
			return tfPlan{}, err
		}
		b, err := pl.expr(p.kids[2])
		if err != nil {
			return tfPlan{}, err
		}
		return tfPlan{or(and(c.t, a.t), and(c.f, b.t)), or(and(c.t, a.f), and(c.f, b.f))}, nil
	}
	return pl.leaf(&p.leaf)
}

func (pl *planner) leaf(l *pleaf) (tfPlan, error) {
	switch l.kind {
	case lInt:
		return tfPlan{segment.Cmp(l.attr, segOps[l.op], l.k), segment.Cmp(l.attr, segOps[l.op.negate()], l.k)}, nil
	case lIntIn:
		in := segment.IntIn(l.attr, l.ints...)
		return tfPlan{in, and(segment.Has(l.attr), not(in))}, nil
	case lEnumIn:
		in := segment.EnumIn(l.attr, l.strs...)
		out := and(segment.Has(l.attr), not(in))
		if l.neg {
			return tfPlan{out, in}, nil
		}
		return tfPlan{in, out}, nil
	case lDays:
		// days_since(f) = asOf - day(f), so days_since(f) OP k is
		// day(f) mirror(OP) asOf - k; days_until(f) OP k is day(f) OP asOf + k.
		op, bound := l.op.mirror(), satAdd(pl.asOfDay, -max(l.k, -math.MaxInt64))
		if l.until {
			op, bound = l.op, satAdd(pl.asOfDay, l.k)
		}
		return tfPlan{segment.Cmp(l.attr, segOps[op], bound), segment.Cmp(l.attr, segOps[op.negate()], bound)}, nil
	case lPresent:
		h := segment.Has(l.attr)
		return tfPlan{h, not(h)}, nil
	case lTag:
		t := pl.cat.byID[l.tag.id]
		var yes *segment.Plan
		if pt, ok := pl.pushed[l.tag.id]; ok {
			yes = pt.any()
			if l.tag.value >= 0 {
				yes = pt.values[l.tag.value]
			}
		} else if pl.inRun[l.tag.id] {
			return tfPlan{}, fmt.Errorf("tag %q is evaluated per member", l.tag.name)
		} else if _, declared := pl.view.FieldKind(l.tag.name); !declared {
			// A tag the index does not hold yet (a manual tag never
			// assigned): nobody has it, as has_tag per member sees it.
			yes = segment.None()
		} else {
			switch {
			case l.tag.value >= 0:
				yes = segment.Enum(l.tag.name, l.tag.valueName)
			case t != nil && t.hasValues():
				yes = segment.Has(l.tag.name)
			default:
				yes = segment.Tag(l.tag.name)
			}
		}
		// A tag is never in error for has_tag: a member has it or not.
		return tfPlan{yes, not(yes)}, nil
	}
	return tfPlan{}, fmt.Errorf("unknown push-down leaf %d", l.kind)
}

// tagPlans translates a pushable tag. ok is false when the tag has no
// push-down form.
func (pl *planner) tagPlans(t *Tag) (*pushedTag, bool, error) {
	forms, vals, deflt, ok := t.pushForms()
	if !ok {
		return nil, false, nil
	}
	if t.kind == KindBool {
		r, err := pl.expr(forms[0])
		if err != nil {
			return nil, false, err
		}
		return &pushedTag{values: []*segment.Plan{r.t}, undecided: r.f, attrs: leafAttrs(forms)}, true, nil
	}
	// Ordered cases are c1 ? v1 : c2 ? v2 : ... : default, so value i
	// goes to the members for which case i holds and every earlier case is
	// false; an erring case decides nothing.
	pt := &pushedTag{values: make([]*segment.Plan, len(t.values))}
	for i := range pt.values {
		pt.values[i] = segment.None()
	}
	var falses []*segment.Plan
	for i, f := range forms {
		r, err := pl.expr(f)
		if err != nil {
			return nil, false, err
		}
		pt.values[vals[i]] = or(pt.values[vals[i]], and(append([]*segment.Plan{r.t}, falses...)...))
		falses = append(falses, r.f)
	}
	none := and(falses...)
	if deflt >= 0 {
		pt.values[deflt] = or(pt.values[deflt], none)
	} else {
		pt.undecided = none
	}
	pt.attrs = leafAttrs(forms)
	return pt, true, nil
}

// pushForms returns the tag's conditions as push-down forms with the value
// each selects and the default value (-1 for none); for a boolean tag, the
// rule alone. An enumerated tag given by an expression pushes down when the
// expression is a chain of conditionals ending in a literal.
func (t *Tag) pushForms() (forms []*pexpr, vals []int, deflt int, ok bool) {
	switch {
	case t.rule != nil:
		if t.rule.push == nil {
			return nil, nil, -1, false
		}
		return []*pexpr{t.rule.push}, []int{0}, -1, true
	case len(t.cases) > 0:
		for i, c := range t.cases {
			if c.push == nil {
				return nil, nil, -1, false
			}
			forms = append(forms, c.push)
			vals = append(vals, t.valueIx[t.def.Cases[i].Value])
		}
		return forms, vals, t.deflt, true
	case t.expr != nil:
		e := t.expr.ast.Expr()
		for {
			if e.Kind() == ast.LiteralKind {
				s, isStr := e.AsLiteral().(types.String)
				if !isStr {
					return nil, nil, -1, false
				}
				return forms, vals, t.valueIx[string(s)], true
			}
			if e.Kind() != ast.CallKind || e.AsCall().FunctionName() != "_?_:_" {
				return nil, nil, -1, false
			}
			args := e.AsCall().Args()
			then := args[1]
			s, isStr := literalString(then)
			if !isStr {
				return nil, nil, -1, false
			}
			cond, ok := pushExpr(t.expr, args[0])
			if !ok {
				return nil, nil, -1, false
			}
			forms = append(forms, cond)
			vals = append(vals, t.valueIx[s])
			e = args[2]
		}
	}
	return nil, nil, -1, false
}

// leafAttrs lists the index fields whose absence makes a leaf err.
func leafAttrs(forms []*pexpr) []string {
	var out []string
	var walk func(p *pexpr)
	walk = func(p *pexpr) {
		for _, k := range p.kids {
			walk(k)
		}
		if p.op == pLeaf {
			switch p.leaf.kind {
			case lInt, lIntIn, lEnumIn, lDays:
				if !slices.Contains(out, p.leaf.attr) {
					out = append(out, p.leaf.attr)
				}
			}
		}
	}
	for _, f := range forms {
		walk(f)
	}
	return out
}

func literalString(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}
