package tags

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
)

// Push-down form. A rule whose leaves the index can answer is translated
// into a tree of leaves combined by !, &&, || and ?:. Because the per-member
// path has CEL's error semantics (a missing field errors; && and || absorb
// errors; an errored rule leaves the member untagged), every node is
// evaluated to two bitmaps: T, the members for which it is true, and F, the
// members for which it is false. The rest are the members for which it
// errs. Then
//
//	!a:      T = Fa,            F = Ta
//	a && b:  T = Ta ∩ Tb,       F = Fa ∪ Fb
//	a || b:  T = Ta ∪ Tb,       F = Fa ∩ Fb
//	c ? a : b: T = Tc∩Ta ∪ Fc∩Tb, F = Tc∩Fa ∪ Fc∩Fb
//
// which is exactly CEL's commutative logic, and the tag is T. A leaf on a
// field is never true or false for a member without a value (it errs), so
// its F is a comparison too, never a complement of T.

type pop uint8

const (
	pLeaf pop = iota + 1
	pNot
	pAnd
	pOr
	pCond
	pConst
)

type leafKind uint8

const (
	lInt     leafKind = iota + 1 // int field OP constant
	lIntIn                       // int field in constant list
	lEnumIn                      // string field in constant set (== is a set of one)
	lDays                        // days_since / days_until of a day field OP constant
	lTag                         // has_tag
	lPresent                     // present(field)
)

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	opEQ cmpOp = iota + 1
	opNE
	opLT
	opLE
	opGT
	opGE
)

func (o cmpOp) String() string {
	return [...]string{opEQ: "==", opNE: "!=", opLT: "<", opLE: "<=", opGT: ">", opGE: ">="}[o]
}

// negate is the operator true exactly where o is false (for members that
// have a value).
func (o cmpOp) negate() cmpOp {
	return [...]cmpOp{opEQ: opNE, opNE: opEQ, opLT: opGE, opLE: opGT, opGT: opLE, opGE: opLT}[o]
}

// mirror is the operator for swapped operands: k < f is f > k.
func (o cmpOp) mirror() cmpOp {
	return [...]cmpOp{opEQ: opEQ, opNE: opNE, opLT: opGT, opLE: opGE, opGT: opLT, opGE: opLE}[o]
}

var cmpOps = map[string]cmpOp{"_==_": opEQ, "_!=_": opNE, "_<_": opLT, "_<=_": opLE, "_>_": opGT, "_>=_": opGE}

type pleaf struct {
	kind  leafKind
	field FieldID
	attr  string // index field name
	op    cmpOp
	k     int64
	ints  []int64
	strs  []string
	neg   bool // lEnumIn: != (not in the set)
	until bool // lDays: days_until rather than days_since
	tag   tagRef
}

type pexpr struct {
	op   pop
	kids []*pexpr
	leaf pleaf
	val  bool // pConst
}

// pushForm returns the rule's push-down form, or nil when some part of it
// is not answerable from the index.
func pushForm(r *Rule) *pexpr {
	if r.out != tBool {
		return nil
	}
	p, ok := pushExpr(r, r.ast.Expr())
	if !ok {
		return nil
	}
	return p
}

func pushExpr(r *Rule, e ast.Expr) (*pexpr, bool) {
	switch e.Kind() {
	case ast.LiteralKind:
		if b, ok := e.AsLiteral().(types.Bool); ok {
			return &pexpr{op: pConst, val: bool(b)}, true
		}
		return nil, false
	case ast.CallKind:
	default:
		return nil, false
	}
	call := e.AsCall()
	args := call.Args()
	name := call.FunctionName()
	switch name {
	case "!_", "_&&_", "_||_", "_?_:_":
		kids := make([]*pexpr, len(args))
		for i, a := range args {
			k, ok := pushExpr(r, a)
			if !ok {
				return nil, false
			}
			kids[i] = k
		}
		op := map[string]pop{"!_": pNot, "_&&_": pAnd, "_||_": pOr, "_?_:_": pCond}[name]
		return &pexpr{op: op, kids: kids}, true
	case fnHasTag:
		ref, ok := resolveHasTagRefs(r, call)
		if !ok {
			return nil, false
		}
		return &pexpr{op: pLeaf, leaf: pleaf{kind: lTag, tag: ref}}, true
	case fnPresent:
		if args[0].Kind() != ast.IdentKind {
			return nil, false
		}
		f, ok := r.boundField(args[0])
		if !ok {
			return nil, false
		}
		return &pexpr{op: pLeaf, leaf: pleaf{kind: lPresent, field: f, attr: r.schema.fields[f].IndexName}}, true
	case "@in":
		return pushIn(r, args[0], args[1])
	}
	op, isCmp := cmpOps[name]
	if !isCmp || call.IsMemberFunction() {
		return nil, false
	}
	lhs, rhs := args[0], args[1]
	if isConstExpr(lhs) && !isConstExpr(rhs) {
		lhs, rhs, op = rhs, lhs, op.mirror()
	}
	k, isConst := constValue(rhs)
	if !isConst {
		return nil, false
	}
	// days_since(f) / days_until(f) OP k on a day-indexed field.
	if lhs.Kind() == ast.CallKind {
		c := lhs.AsCall()
		fnName := c.FunctionName()
		if (fnName == fnDaysSince || fnName == fnDaysUntil) && len(c.Args()) == 1 && !c.IsMemberFunction() {
			f, ok := r.boundField(c.Args()[0])
			kv, isInt := k.(types.Int)
			if !ok || !isInt || r.schema.fields[f].Index != AsDay {
				return nil, false
			}
			return &pexpr{op: pLeaf, leaf: pleaf{kind: lDays, field: f, attr: r.schema.fields[f].IndexName,
				op: op, k: int64(kv), until: fnName == fnDaysUntil}}, true
		}
		return nil, false
	}
	f, ok := r.boundField(lhs)
	if !ok {
		return nil, false
	}
	fd := r.schema.fields[f]
	switch fd.Index {
	case AsInt:
		kv, isInt := k.(types.Int)
		if !isInt {
			return nil, false
		}
		return &pexpr{op: pLeaf, leaf: pleaf{kind: lInt, field: f, attr: fd.IndexName, op: op, k: int64(kv)}}, true
	case AsEnum:
		kv, isStr := k.(types.String)
		if !isStr || (op != opEQ && op != opNE) {
			return nil, false
		}
		return &pexpr{op: pLeaf, leaf: pleaf{kind: lEnumIn, field: f, attr: fd.IndexName,
			strs: []string{string(kv)}, neg: op == opNE}}, true
	}
	return nil, false
}

func pushIn(r *Rule, x, coll ast.Expr) (*pexpr, bool) {
	f, ok := r.boundField(x)
	if !ok || coll.Kind() != ast.ListKind {
		return nil, false
	}
	fd := r.schema.fields[f]
	var ints []int64
	var strs []string
	for _, el := range coll.AsList().Elements() {
		v, ok := constValue(el)
		if !ok {
			return nil, false
		}
		switch x := v.(type) {
		case types.Int:
			ints = append(ints, int64(x))
		case types.String:
			strs = append(strs, string(x))
		default:
			return nil, false
		}
	}
	switch {
	case fd.Index == AsInt && len(strs) == 0:
		slices.Sort(ints)
		return &pexpr{op: pLeaf, leaf: pleaf{kind: lIntIn, field: f, attr: fd.IndexName, ints: slices.Compact(ints)}}, true
	case fd.Index == AsEnum && len(ints) == 0:
		slices.Sort(strs)
		return &pexpr{op: pLeaf, leaf: pleaf{kind: lEnumIn, field: f, attr: fd.IndexName, strs: slices.Compact(strs)}}, true
	}
	return nil, false
}

// boundField returns the field an identifier names when the index holds
// it. An identifier bound by a comprehension is never a field here: pushed
// rules contain no comprehensions.
func (r *Rule) boundField(e ast.Expr) (FieldID, bool) {
	if e.Kind() != ast.IdentKind {
		return 0, false
	}
	f, ok := r.schema.byName[e.AsIdent()]
	if !ok || r.schema.fields[f].Index == NotIndexed {
		return 0, false
	}
	return f, true
}

func isConstExpr(e ast.Expr) bool {
	_, ok := constValue(e)
	return ok
}

// constValue returns the value of an int or string literal, including a
// negated int literal (-5 parses as a call of -_ on 5).
func constValue(e ast.Expr) (any, bool) {
	switch e.Kind() {
	case ast.LiteralKind:
		switch v := e.AsLiteral().(type) {
		case types.Int, types.String:
			return v, true
		}
	case ast.CallKind:
		c := e.AsCall()
		if c.FunctionName() == "-_" && len(c.Args()) == 1 && c.Args()[0].Kind() == ast.LiteralKind {
			if v, ok := c.Args()[0].AsLiteral().(types.Int); ok && v != math.MinInt64 {
				return -v, true
			}
		}
	}
	return nil, false
}

func resolveHasTagRefs(r *Rule, call ast.CallExpr) (tagRef, bool) {
	args := call.Args()
	name := string(args[0].AsLiteral().(types.String))
	want := ""
	if len(args) == 2 {
		want = string(args[1].AsLiteral().(types.String))
	}
	for _, ref := range r.refs {
		if ref.name != name {
			continue
		}
		if len(args) == 1 && ref.value == -1 {
			return ref, true
		}
		if len(args) == 2 && ref.value >= 0 && ref.valueName == want {
			return ref, true
		}
	}
	return tagRef{}, false
}

// String renders the push-down form, for Explain and tests.
func (p *pexpr) String() string {
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p *pexpr) write(b *strings.Builder) {
	switch p.op {
	case pConst:
		fmt.Fprint(b, p.val)
	case pNot:
		b.WriteString("NOT(")
		p.kids[0].write(b)
		b.WriteString(")")
	case pAnd, pOr, pCond:
		b.WriteString(map[pop]string{pAnd: "AND(", pOr: "OR(", pCond: "IF("}[p.op])
		for i, k := range p.kids {
			if i > 0 {
				b.WriteString(", ")
			}
			k.write(b)
		}
		b.WriteString(")")
	case pLeaf:
		l := p.leaf
		switch l.kind {
		case lInt:
			fmt.Fprintf(b, "%s %s %d", l.attr, l.op, l.k)
		case lIntIn:
			fmt.Fprintf(b, "%s IN %v", l.attr, l.ints)
		case lEnumIn:
			if l.neg {
				b.WriteString("NOT ")
			}
			fmt.Fprintf(b, "%s IN %q", l.attr, l.strs)
		case lDays:
			fn := fnDaysSince
			if l.until {
				fn = fnDaysUntil
			}
			fmt.Fprintf(b, "%s(%s) %s %d", fn, l.attr, l.op, l.k)
		case lTag:
			if l.tag.value >= 0 {
				fmt.Fprintf(b, "tag %s = %q", l.tag.name, l.tag.valueName)
			} else {
				fmt.Fprintf(b, "tag %s", l.tag.name)
			}
		case lPresent:
			fmt.Fprintf(b, "present(%s)", l.attr)
		}
	}
}
