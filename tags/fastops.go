package tags

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

func (c *compiler) args(call ast.CallExpr) ([]node, error) {
	var in []ast.Expr
	if call.IsMemberFunction() {
		in = append(in, call.Target())
	}
	in = append(in, call.Args()...)
	out := make([]node, len(in))
	for i, a := range in {
		n, err := c.expr(a)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func (c *compiler) call(e ast.Expr) (node, error) {
	call := e.AsCall()
	name := call.FunctionName()
	switch name {
	case fnHasTag:
		return c.hasTag(call)
	case fnPresent:
		return c.present(call)
	}
	args, err := c.args(call)
	if err != nil {
		return node{}, err
	}
	rt, err := c.typeOf(e)
	if err != nil {
		return node{}, err
	}
	switch name {
	case "_&&_", "_||_":
		for _, a := range args {
			if a.t.k != kBool {
				return node{}, unsupported("%s on %v", name, a.t)
			}
		}
		n := c.asLeafNode(args[0])
		for _, a := range args[1:] {
			a = c.asLeafNode(a)
			if name == "_&&_" {
				n = andNode(n, a)
			} else {
				n = orNode(n, a)
			}
		}
		return n, nil
	case "!_":
		if n, ok := notLeaves(c.asLeafNode(args[0])); ok {
			return n, nil
		}
		a := as[bool](args[0])
		return mk(tBool, fn[bool](func(f *frame) (bool, error) {
			v, err := a(f)
			return !v, err
		}), args[0].pure), nil
	case "@not_strictly_false":
		a := as[bool](args[0])
		return mk(tBool, fn[bool](func(f *frame) (bool, error) {
			v, err := a(f)
			return v || err != nil, nil
		}), args[0].pure), nil
	case "_?_:_":
		return ternary(args[0], args[1], args[2])
	case "_==_", "_!=_":
		return c.equality(name == "_!=_", args[0], args[1])
	case "_<_", "_<=_", "_>_", "_>=_":
		return c.ordering(name, args[0], args[1])
	case "_+_", "_-_", "_*_", "_/_", "_%_":
		return arith(name, rt, args[0], args[1])
	case "-_":
		return negate(args[0])
	case "@in":
		return c.inNode(args[0], args[1])
	case "_[_]":
		return index(args[0], args[1])
	case "size":
		return size(args[0])
	case "contains", "startsWith", "endsWith":
		if len(args) != 2 || args[0].t != tString || args[1].t != tString {
			break
		}
		op := map[string]func(string, string) bool{
			"contains": strings.Contains, "startsWith": strings.HasPrefix, "endsWith": strings.HasSuffix,
		}[name]
		return binary(tBool, args[0], args[1], func(a, b string) (bool, error) { return op(a, b), nil }), nil
	case "matches":
		if len(args) == 2 && args[1].isConst && args[0].t == tString {
			re, err := regexp.Compile(args[1].val.(string))
			if err != nil {
				return node{}, unsupported("invalid regexp")
			}
			s := as[string](args[0])
			return mk(tBool, fn[bool](func(f *frame) (bool, error) {
				v, err := s(f)
				if err != nil {
					return false, err
				}
				return re.MatchString(v), nil
			}), args[0].pure), nil
		}
	case "lowerAscii", "upperAscii":
		if len(args) == 1 && args[0].t == tString {
			conv := lowerASCII
			if name == "upperAscii" {
				conv = upperASCII
			}
			return unary(tString, args[0], func(s string) (string, error) { return conv(s), nil }), nil
		}
	case "int", "double", "string", "duration", "timestamp":
		return convert(name, rt, args)
	case fnDays, fnHours:
		unit := 24 * time.Hour
		if name == fnHours {
			unit = time.Hour
		}
		return unary(tDur, args[0], func(n int64) (time.Duration, error) { return durationOf(n, unit) }), nil
	case fnDaysSince, fnDaysUntil, fnHoursSince, fnYearsSince, fnYear, fnMonth, fnDay, fnWeekday, fnHour, fnDayOfYear:
		return timePart(name, args[0]), nil
	case fnInLast:
		ts, d := as[time.Time](args[0]), as[time.Duration](args[1])
		return mk(tBool, fn[bool](func(f *frame) (bool, error) {
			t, err := ts(f)
			if err != nil {
				return false, err
			}
			dv, err := d(f)
			if err != nil {
				return false, err
			}
			return f.tf.inLast(t, dv)
		}), false), nil
	case fnAsOf:
		return mk(tTime, fn[time.Time](func(f *frame) (time.Time, error) { return f.tf.asOf, nil }), false), nil
	}
	return node{}, unsupported("function %s", name)
}

func unary[A, R any](t vtype, a node, op func(A) (R, error)) node {
	af := as[A](a)
	return mk(t, fn[R](func(f *frame) (R, error) {
		x, err := af(f)
		if err != nil {
			var zero R
			return zero, err
		}
		return op(x)
	}), a.pure)
}

// binary evaluates both operands left to right; the first error wins, as
// in cel-go's strict calls.
func binary[A, B, R any](t vtype, a, b node, op func(A, B) (R, error)) node {
	af, bf := as[A](a), as[B](b)
	return mk(t, fn[R](func(f *frame) (R, error) {
		var zero R
		x, err := af(f)
		if err != nil {
			return zero, err
		}
		y, err := bf(f)
		if err != nil {
			return zero, err
		}
		return op(x, y)
	}), a.pure && b.pure)
}

// asLeafNode turns a bare bool field into a simple leaf so that it can
// join a chain.
func (c *compiler) asLeafNode(n node) node {
	if n.field >= 0 && n.t == tBool && n.leaf == nil {
		l := c.leafAt(n.field)
		l.op, l.k = lfBoolIs, 1
		return leafNode(l)
	}
	return n
}

func (c *compiler) leafAt(field int) simpleLeaf {
	loc := locOf(c.schema, field)
	return simpleLeaf{slot: loc.slot, w: loc.w, m: loc.m, miss: loc.miss}
}

// notLeaves negates a simple leaf by flipping its operator.
func notLeaves(n node) (node, bool) {
	if n.leaf != nil {
		return leafNode(n.leaf.negated()), true
	}
	return node{}, false
}

// andNode is CEL's commutative &&: false if either side is false, even if
// the other errs; otherwise the left error, then the right one.
func andNode(a, b node) node {
	if a.isConst {
		if !a.val.(bool) {
			return a
		}
		return b
	}
	af, bf := as[bool](a), as[bool](b)
	return mk(tBool, fn[bool](func(f *frame) (bool, error) {
		l, le := af(f)
		if le == nil && !l {
			return false, nil
		}
		r, re := bf(f)
		if re == nil && !r {
			return false, nil
		}
		if le != nil {
			return false, le
		}
		return true, re
	}), a.pure && b.pure)
}

// orNode is CEL's commutative ||.
func orNode(a, b node) node {
	if a.isConst {
		if a.val.(bool) {
			return a
		}
		return b
	}
	af, bf := as[bool](a), as[bool](b)
	return mk(tBool, fn[bool](func(f *frame) (bool, error) {
		l, le := af(f)
		if le == nil && l {
			return true, nil
		}
		r, re := bf(f)
		if re == nil && r {
			return true, nil
		}
		if le != nil {
			return false, le
		}
		return false, re
	}), a.pure && b.pure)
}

func ternary(c, a, b node) (node, error) {
	if c.t.k != kBool || a.t != b.t {
		return node{}, unsupported("conditional of %v and %v", a.t, b.t)
	}
	switch a.t.k {
	case kBool:
		return ternaryT[bool](c, a, b), nil
	case kInt:
		return ternaryT[int64](c, a, b), nil
	case kDouble:
		return ternaryT[float64](c, a, b), nil
	case kString:
		return ternaryT[string](c, a, b), nil
	case kTime:
		return ternaryT[time.Time](c, a, b), nil
	case kDur:
		return ternaryT[time.Duration](c, a, b), nil
	case kMap:
		return ternaryT[map[string]int64](c, a, b), nil
	case kList:
		switch a.t.elem {
		case kBool:
			return ternaryT[[]bool](c, a, b), nil
		case kInt:
			return ternaryT[[]int64](c, a, b), nil
		case kDouble:
			return ternaryT[[]float64](c, a, b), nil
		default:
			return ternaryT[[]string](c, a, b), nil
		}
	}
	return node{}, unsupported("conditional of %v", a.t)
}

func ternaryT[T any](c, a, b node) node {
	if c.isConst {
		if c.val.(bool) {
			return a
		}
		return b
	}
	cf, af, bf := as[bool](c), as[T](a), as[T](b)
	return mk(a.t, fn[T](func(f *frame) (T, error) {
		v, err := cf(f)
		if err != nil {
			var zero T
			return zero, err
		}
		if v {
			return af(f)
		}
		return bf(f)
	}), c.pure && a.pure && b.pure)
}

func (c *compiler) equality(neg bool, a, b node) (node, error) {
	if a.t != b.t {
		return node{}, unsupported("equality of %v and %v", a.t, b.t)
	}
	if a.isConst && b.field >= 0 {
		a, b = b, a
	}
	if b.isConst && a.field >= 0 {
		l := c.leafAt(a.field)
		switch a.t {
		case tInt:
			l.op, l.k = lfIntEQ, b.val.(int64)
		case tString:
			l.op, l.s = lfStrEQ, b.val.(string)
		case tBool:
			l.op, l.k = lfBoolIs, int64(b2i(b.val.(bool)))
		}
		if l.op != 0 {
			if neg {
				l = l.negated()
			}
			return leafNode(l), nil
		}
	}
	var n node
	switch a.t.k {
	case kBool:
		n = eqNode[bool](a, b, func(x, y bool) bool { return x == y }, neg)
	case kInt:
		n = eqNode[int64](a, b, func(x, y int64) bool { return x == y }, neg)
	case kDouble:
		n = eqNode[float64](a, b, func(x, y float64) bool { return x == y }, neg)
	case kString:
		n = eqNode[string](a, b, func(x, y string) bool { return x == y }, neg)
	case kTime:
		n = eqNode[time.Time](a, b, time.Time.Equal, neg)
	case kDur:
		n = eqNode[time.Duration](a, b, func(x, y time.Duration) bool { return x == y }, neg)
	case kMap:
		n = eqNode[map[string]int64](a, b, mapsEqual, neg)
	case kList:
		switch a.t.elem {
		case kBool:
			n = eqNode[[]bool](a, b, slices.Equal[[]bool], neg)
		case kInt:
			n = eqNode[[]int64](a, b, slices.Equal[[]int64], neg)
		case kDouble:
			n = eqNode[[]float64](a, b, slices.Equal[[]float64], neg)
		default:
			n = eqNode[[]string](a, b, slices.Equal[[]string], neg)
		}
	default:
		return node{}, unsupported("equality of %v", a.t)
	}
	return n, nil
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func eqNode[T any](a, b node, eq func(T, T) bool, neg bool) node {
	// A value compared with a constant: one closure call, not two.
	if b.isConst && !a.isConst && a.t.k != kList && a.t.k != kMap {
		k := b.val.(T)
		af := as[T](a)
		return mk(tBool, fn[bool](func(f *frame) (bool, error) {
			x, err := af(f)
			if err != nil {
				return false, err
			}
			return eq(x, k) != neg, nil
		}), false)
	}
	return binary(tBool, a, b, func(x, y T) (bool, error) { return eq(x, y) != neg, nil })
}

// ordering compiles <, <=, >, >=. Doubles that are NaN cannot be ordered,
// an error in CEL.
func (c *compiler) ordering(op string, a, b node) (node, error) {
	if a.t != b.t {
		return node{}, unsupported("%s on %v and %v", op, a.t, b.t)
	}
	switch a.t.k {
	case kInt:
		return c.intOrder(op, a, b), nil
	case kDouble:
		// cel-go's ordering operators answer false for NaN (its Compare
		// would err, but the operators test for NaN first).
		return binary(tBool, a, b, func(x, y float64) (bool, error) {
			switch op {
			case "_<_":
				return x < y, nil
			case "_<=_":
				return x <= y, nil
			case "_>_":
				return x > y, nil
			}
			return x >= y, nil
		}), nil
	case kString:
		return orderNode(op, a, b, func(x, y string) (int, error) { return strings.Compare(x, y), nil }), nil
	case kBool:
		return orderNode(op, a, b, func(x, y bool) (int, error) {
			return cmp.Compare(b2i(x), b2i(y)), nil
		}), nil
	case kTime:
		return orderNode(op, a, b, func(x, y time.Time) (int, error) { return x.Compare(y), nil }), nil
	case kDur:
		return orderNode(op, a, b, func(x, y time.Duration) (int, error) { return cmp.Compare(x, y), nil }), nil
	}
	return node{}, unsupported("%s on %v", op, a.t)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpHolds(op string, c int) bool {
	switch op {
	case "_<_":
		return c < 0
	case "_<=_":
		return c <= 0
	case "_>_":
		return c > 0
	default:
		return c >= 0
	}
}

func orderNode[T any](op string, a, b node, compare func(T, T) (int, error)) node {
	return binary(tBool, a, b, func(x, y T) (bool, error) {
		c, err := compare(x, y)
		if err != nil {
			return false, err
		}
		return cmpHolds(op, c), nil
	})
}

// fieldLoc is where a field lives in a Record, for closures that read it
// directly instead of through a field node.
type fieldLoc struct {
	slot int
	w    int
	m    uint64
	miss *EvalError
}

func locOf(s *Schema, id int) fieldLoc {
	return fieldLoc{slot: s.slots[id], w: id >> 6, m: 1 << (uint(id) & 63), miss: missingErr(s.fields[id].Name)}
}

// intOrder specialises the commonest leaf, an int field against a constant.
func (c *compiler) intOrder(op string, a, b node) node {
	if a.isConst && !b.isConst {
		a, b = b, a
		op = map[string]string{"_<_": "_>_", "_<=_": "_>=_", "_>_": "_<_", "_>=_": "_<=_"}[op]
	}
	if b.isConst && a.field >= 0 {
		l := c.leafAt(a.field)
		l.k = b.val.(int64)
		l.op = map[string]leafOp{"_<_": lfIntLT, "_<=_": lfIntLE, "_>_": lfIntGT, "_>=_": lfIntGE}[op]
		return leafNode(l)
	}
	if b.isConst {
		// Any int expression (days_since(ts), size(l), m["k"]) against a
		// constant.
		k, af := b.val.(int64), as[int64](a)
		var g fn[bool]
		switch op {
		case "_<_":
			g = func(f *frame) (bool, error) { x, err := af(f); return err == nil && x < k, err }
		case "_<=_":
			g = func(f *frame) (bool, error) { x, err := af(f); return err == nil && x <= k, err }
		case "_>_":
			g = func(f *frame) (bool, error) { x, err := af(f); return err == nil && x > k, err }
		default:
			g = func(f *frame) (bool, error) { x, err := af(f); return err == nil && x >= k, err }
		}
		return mk(tBool, g, a.pure)
	}
	return orderNode(op, a, b, func(x, y int64) (int, error) { return cmp.Compare(x, y), nil })
}

func arith(op string, rt vtype, a, b node) (node, error) {
	switch {
	case a.t == tInt && b.t == tInt:
		var g func(x, y int64) (int64, error)
		switch op {
		case "_+_":
			g = func(x, y int64) (int64, error) {
				if (y > 0 && x > math.MaxInt64-y) || (y < 0 && x < math.MinInt64-y) {
					return 0, errOverflow
				}
				return x + y, nil
			}
		case "_-_":
			g = func(x, y int64) (int64, error) {
				if (y < 0 && x > math.MaxInt64+y) || (y > 0 && x < math.MinInt64+y) {
					return 0, errOverflow
				}
				return x - y, nil
			}
		case "_*_":
			g = func(x, y int64) (int64, error) {
				if (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) ||
					(x != 0 && y != 0 && x*y/y != x) {
					return 0, errOverflow
				}
				return x * y, nil
			}
		case "_/_":
			g = func(x, y int64) (int64, error) {
				if y == 0 {
					return 0, errDivZero
				}
				if x == math.MinInt64 && y == -1 {
					return 0, errOverflow
				}
				return x / y, nil
			}
		case "_%_":
			g = func(x, y int64) (int64, error) {
				if y == 0 {
					return 0, errModZero
				}
				if x == math.MinInt64 && y == -1 {
					return 0, errOverflow
				}
				return x % y, nil
			}
		}
		return binary(tInt, a, b, g), nil
	case a.t == tDouble && b.t == tDouble:
		var g func(x, y float64) (float64, error)
		switch op {
		case "_+_":
			g = func(x, y float64) (float64, error) { return x + y, nil }
		case "_-_":
			g = func(x, y float64) (float64, error) { return x - y, nil }
		case "_*_":
			g = func(x, y float64) (float64, error) { return x * y, nil }
		case "_/_":
			g = func(x, y float64) (float64, error) { return x / y, nil }
		default:
			return node{}, unsupported("%s on doubles", op)
		}
		return binary(tDouble, a, b, g), nil
	case a.t == tString && b.t == tString && op == "_+_":
		return binary(tString, a, b, func(x, y string) (string, error) { return x + y, nil }), nil
	case a.t.k == kList && a.t == b.t && op == "_+_":
		switch a.t.elem {
		case kBool:
			return binary(a.t, a, b, concat[bool]), nil
		case kInt:
			return binary(a.t, a, b, concat[int64]), nil
		case kDouble:
			return binary(a.t, a, b, concat[float64]), nil
		default:
			return binary(a.t, a, b, concat[string]), nil
		}
	case (a.t.k == kTime || a.t.k == kDur) && (b.t.k == kTime || b.t.k == kDur):
		return timeArith(op, rt, a, b)
	}
	return node{}, unsupported("%s on %v and %v", op, a.t, b.t)
}

func concat[T any](x, y []T) ([]T, error) {
	out := make([]T, 0, len(x)+len(y))
	return append(append(out, x...), y...), nil
}

// celVal and fromCel convert timestamps and durations so that their
// arithmetic uses cel-go's own range-checked implementation.
func celVal(v any) ref.Val {
	switch x := v.(type) {
	case time.Time:
		return types.Timestamp{Time: x}
	case time.Duration:
		return types.Duration{Duration: x}
	}
	return types.NewErr("unexpected %T", v)
}

func celErr(v ref.Val) error {
	msg := v.(*types.Err).Error()
	kind := ErrOther
	if strings.Contains(msg, "overflow") || strings.Contains(msg, "out of range") {
		kind = ErrOverflow
	}
	return &EvalError{kind, msg}
}

func timeArith(op string, rt vtype, a, b node) (node, error) {
	var apply func(x, y ref.Val) ref.Val
	switch op {
	case "_+_":
		apply = func(x, y ref.Val) ref.Val {
			if ts, ok := x.(types.Timestamp); ok {
				return ts.Add(y)
			}
			return x.(types.Duration).Add(y)
		}
	case "_-_":
		apply = func(x, y ref.Val) ref.Val {
			if ts, ok := x.(types.Timestamp); ok {
				return ts.Subtract(y)
			}
			return x.(types.Duration).Subtract(y)
		}
	default:
		return node{}, unsupported("%s on %v and %v", op, a.t, b.t)
	}
	af, bf := a.eval, b.eval
	run := func(f *frame) (ref.Val, error) {
		x, err := af(f)
		if err != nil {
			return nil, err
		}
		y, err := bf(f)
		if err != nil {
			return nil, err
		}
		r := apply(celVal(x), celVal(y))
		if types.IsError(r) {
			return nil, celErr(r)
		}
		return r, nil
	}
	pure := a.pure && b.pure
	switch rt.k {
	case kTime:
		return mk(tTime, fn[time.Time](func(f *frame) (time.Time, error) {
			r, err := run(f)
			if err != nil {
				return time.Time{}, err
			}
			return r.(types.Timestamp).Time, nil
		}), pure), nil
	case kDur:
		return mk(tDur, fn[time.Duration](func(f *frame) (time.Duration, error) {
			r, err := run(f)
			if err != nil {
				return 0, err
			}
			return r.(types.Duration).Duration, nil
		}), pure), nil
	}
	return node{}, unsupported("time arithmetic to %v", rt)
}

func negate(a node) (node, error) {
	switch a.t.k {
	case kInt:
		return unary(tInt, a, func(x int64) (int64, error) {
			if x == math.MinInt64 {
				return 0, errOverflow
			}
			return -x, nil
		}), nil
	case kDouble:
		return unary(tDouble, a, func(x float64) (float64, error) { return -x, nil }), nil
	case kDur:
		return unary(tDur, a, func(x time.Duration) (time.Duration, error) {
			r := types.Duration{Duration: x}.Negate()
			if types.IsError(r) {
				return 0, celErr(r)
			}
			return r.(types.Duration).Duration, nil
		}), nil
	}
	return node{}, unsupported("negation of %v", a.t)
}

// inNode compiles `x in list` (element equality, not substring) and
// `k in map` (key presence).
func (c *compiler) inNode(x, coll node) (node, error) {
	switch {
	case coll.t == tMap && x.t == tString:
		return binary(tBool, x, coll, func(k string, m map[string]int64) (bool, error) {
			_, ok := m[k]
			return ok, nil
		}), nil
	case coll.t.k == kList && x.t.k == coll.t.elem:
		switch x.t.k {
		case kBool:
			return inList[bool](x, coll), nil
		case kInt:
			return inList[int64](x, coll), nil
		case kDouble:
			return inList[float64](x, coll), nil
		case kString:
			if x.isConst && coll.field >= 0 {
				return c.constInStrings(x.val.(string), coll.field), nil
			}
			return inList[string](x, coll), nil
		}
	}
	return node{}, unsupported("in on %v and %v", x.t, coll.t)
}

func inList[T comparable](x, coll node) node {
	if consts, ok := coll.val.([]T); ok {
		// A constant list: a set lookup. NaN is never equal to anything,
		// in CEL as in a Go map.
		set := make(map[T]struct{}, len(consts))
		for _, v := range consts {
			set[v] = struct{}{}
		}
		xf := as[T](x)
		return mk(tBool, fn[bool](func(f *frame) (bool, error) {
			v, err := xf(f)
			if err != nil {
				return false, err
			}
			_, ok := set[v]
			return ok, nil
		}), x.pure)
	}
	if x.isConst && coll.field >= 0 {
		k := x.val.(T)
		lf := as[[]T](coll)
		return mk(tBool, fn[bool](func(f *frame) (bool, error) {
			l, err := lf(f)
			if err != nil {
				return false, err
			}
			for _, v := range l {
				if v == k {
					return true, nil
				}
			}
			return false, nil
		}), false)
	}
	return binary(tBool, x, coll, func(v T, l []T) (bool, error) { return slices.Contains(l, v), nil })
}

// constInStrings is `"k" in list_field` read directly from the record.
func (c *compiler) constInStrings(k string, field int) node {
	l := c.leafAt(field)
	l.op, l.s = lfInList, k
	return leafNode(l)
}

func index(coll, key node) (node, error) {
	switch {
	case coll.t == tMap && key.t == tString:
		return binary(tInt, coll, key, func(m map[string]int64, k string) (int64, error) {
			v, ok := m[k]
			if !ok {
				return 0, errNoKey
			}
			return v, nil
		}), nil
	case coll.t.k == kList && key.t == tInt:
		et := vtype{k: coll.t.elem}
		switch coll.t.elem {
		case kBool:
			return binary(et, coll, key, listAt[bool]), nil
		case kInt:
			return binary(et, coll, key, listAt[int64]), nil
		case kDouble:
			return binary(et, coll, key, listAt[float64]), nil
		default:
			return binary(et, coll, key, listAt[string]), nil
		}
	}
	return node{}, unsupported("index of %v by %v", coll.t, key.t)
}

func listAt[T any](l []T, i int64) (T, error) {
	if i < 0 || i >= int64(len(l)) {
		var zero T
		return zero, errIndexRange
	}
	return l[i], nil
}

func size(a node) (node, error) {
	switch a.t.k {
	case kString:
		// CEL counts code points, not bytes: size("药店") == 2.
		return unary(tInt, a, func(s string) (int64, error) { return int64(utf8.RuneCountInString(s)), nil }), nil
	case kMap:
		return unary(tInt, a, func(m map[string]int64) (int64, error) { return int64(len(m)), nil }), nil
	case kList:
		switch a.t.elem {
		case kBool:
			return unary(tInt, a, func(l []bool) (int64, error) { return int64(len(l)), nil }), nil
		case kInt:
			return unary(tInt, a, func(l []int64) (int64, error) { return int64(len(l)), nil }), nil
		case kDouble:
			return unary(tInt, a, func(l []float64) (int64, error) { return int64(len(l)), nil }), nil
		default:
			return unary(tInt, a, func(l []string) (int64, error) { return int64(len(l)), nil }), nil
		}
	}
	return node{}, unsupported("size of %v", a.t)
}

func lowerASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func upperASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - ('a' - 'A')
		}
		return r
	}, s)
}

// convert compiles the type conversions int(), double(), string(),
// duration() and timestamp() for the argument types it knows; the others
// run on cel-go.
func convert(name string, rt vtype, args []node) (node, error) {
	if len(args) != 1 {
		return node{}, unsupported("%s with %d arguments", name, len(args))
	}
	a := args[0]
	if a.t == rt {
		return a, nil
	}
	switch {
	case rt == tInt && a.t == tDouble:
		return unary(tInt, a, func(v float64) (int64, error) {
			if math.IsInf(v, 0) || math.IsNaN(v) || v <= float64(math.MinInt64) || v >= float64(math.MaxInt64) {
				return 0, errDoubleToInt
			}
			return int64(v), nil
		}), nil
	case rt == tDouble && a.t == tInt:
		return unary(tDouble, a, func(v int64) (float64, error) { return float64(v), nil }), nil
	case rt == tString && a.t == tInt:
		return unary(tString, a, func(v int64) (string, error) { return strconv.FormatInt(v, 10), nil }), nil
	case (rt == tDur || rt == tTime) && a.t == tString:
		target := types.DurationType
		if rt == tTime {
			target = types.TimestampType
		}
		conv := func(s string) (ref.Val, error) {
			r := types.String(s).ConvertToType(target)
			if types.IsError(r) {
				return nil, celErr(r)
			}
			return r, nil
		}
		if rt == tDur {
			return unary(tDur, a, func(s string) (time.Duration, error) {
				r, err := conv(s)
				if err != nil {
					return 0, err
				}
				return r.(types.Duration).Duration, nil
			}), nil
		}
		return unary(tTime, a, func(s string) (time.Time, error) {
			r, err := conv(s)
			if err != nil {
				return time.Time{}, err
			}
			return r.(types.Timestamp).Time, nil
		}), nil
	}
	return node{}, unsupported("%s(%v)", name, a.t)
}

func timePart(name string, a node) node {
	af := as[time.Time](a)
	var part func(*timeFuncs, time.Time) int64
	switch name {
	case fnDaysSince:
		part = (*timeFuncs).daysSince
	case fnDaysUntil:
		part = (*timeFuncs).daysUntil
	case fnHoursSince:
		part = (*timeFuncs).hoursSince
	case fnYearsSince:
		part = (*timeFuncs).yearsSince
	case fnYear:
		part = (*timeFuncs).year
	case fnMonth:
		part = (*timeFuncs).month
	case fnDay:
		part = (*timeFuncs).day
	case fnWeekday:
		part = (*timeFuncs).weekday
	case fnHour:
		part = (*timeFuncs).hour
	default:
		part = (*timeFuncs).dayOfYear
	}
	return mk(tInt, fn[int64](func(f *frame) (int64, error) {
		t, err := af(f)
		if err != nil {
			return 0, err
		}
		return part(f.tf, t), nil
	}), false)
}

// hasTag compiles has_tag("name") and has_tag("name", "value"); the
// arguments were checked to be declared literals when the rule was compiled.
func (c *compiler) hasTag(call ast.CallExpr) (node, error) {
	tr, perr := resolveHasTag(call, c.tags)
	if perr != nil {
		return node{}, unsupported("has_tag: %s", perr.msg)
	}
	id, val := tr.id, tr.value
	if val < 0 {
		return mk(tBool, fn[bool](func(f *frame) (bool, error) {
			if f.tags == nil {
				return false, errNoTagSource
			}
			return f.tags.tagValue(id) >= 0, nil
		}), false), nil
	}
	return mk(tBool, fn[bool](func(f *frame) (bool, error) {
		if f.tags == nil {
			return false, errNoTagSource
		}
		return f.tags.tagValue(id) == val, nil
	}), false), nil
}

// present(field) tests whether the member has a value for the field.
func (c *compiler) present(call ast.CallExpr) (node, error) {
	if len(call.Args()) != 1 || call.Args()[0].Kind() != ast.IdentKind {
		return node{}, unsupported("present argument")
	}
	name := call.Args()[0].AsIdent()
	for _, s := range c.scopes {
		if s.iterVar == name || s.accuVar == name {
			return constNode(tBool, true), nil
		}
	}
	id, ok := c.schema.byName[name]
	if !ok {
		return node{}, unsupported("present(%s)", name)
	}
	l := c.leafAt(int(id))
	l.op = lfPresent
	return leafNode(l), nil
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
