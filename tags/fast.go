package tags

// The compiled path: a type-checked CEL expression is translated into a tree
// of Go closures specialised by static type, reading record fields by
// precomputed slot instead of resolving names through an activation. It
// implements CEL's semantics for the subset tag rules use (errors absorbed by
// && and ||, checked integer arithmetic, NaN ordering errors, comprehension
// folding) and is checked against cel-go's interpreter by a property test on
// random rules and records. Anything outside the subset makes the rule run
// on cel-go's interpreter instead.

import (
	"fmt"
	"time"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
)

// fn is a compiled expression producing a T.
type fn[T any] func(*frame) (T, error)

// vkind is the static kind of a compiled value.
type vkind uint8

const (
	kBool vkind = iota + 1
	kInt
	kDouble
	kString
	kTime
	kDur
	kList // elem says of what
	kMap  // map(string, int)
)

type vtype struct{ k, elem vkind }

func (t vtype) String() string {
	names := [...]string{kBool: "bool", kInt: "int", kDouble: "double", kString: "string",
		kTime: "timestamp", kDur: "duration", kList: "list", kMap: "map(string, int)"}
	if t.k == kList {
		return "list(" + names[t.elem] + ")"
	}
	return names[t.k]
}

var (
	tBool   = vtype{k: kBool}
	tInt    = vtype{k: kInt}
	tDouble = vtype{k: kDouble}
	tString = vtype{k: kString}
	tTime   = vtype{k: kTime}
	tDur    = vtype{k: kDur}
	tMap    = vtype{k: kMap}
)

func listOf(e vkind) vtype { return vtype{k: kList, elem: e} }

// errUnsupported marks an expression the compiled path does not handle.
type unsupportedError struct{ what string }

func (e *unsupportedError) Error() string { return "not compiled: " + e.what }

func unsupported(format string, args ...any) error {
	return &unsupportedError{fmt.Sprintf(format, args...)}
}

// vtypeOf maps a checked CEL type to a compiled kind.
func vtypeOf(t *types.Type) (vtype, bool) {
	if t == nil {
		return vtype{}, false
	}
	switch t.Kind() {
	case types.BoolKind:
		return tBool, true
	case types.IntKind:
		return tInt, true
	case types.DoubleKind:
		return tDouble, true
	case types.StringKind:
		return tString, true
	case types.TimestampKind:
		return tTime, true
	case types.DurationKind:
		return tDur, true
	case types.ListKind:
		params := t.Parameters()
		if len(params) != 1 {
			return vtype{}, false
		}
		e, ok := vtypeOf(params[0])
		if !ok || (e.k != kBool && e.k != kInt && e.k != kDouble && e.k != kString) {
			return vtype{}, false
		}
		return listOf(e.k), true
	case types.MapKind:
		params := t.Parameters()
		if len(params) == 2 && params[0].Kind() == types.StringKind && params[1].Kind() == types.IntKind {
			return tMap, true
		}
	}
	return vtype{}, false
}

// slot holds a comprehension variable: its value, or the error the
// accumulator currently holds (CEL folds errors through accumulators).
type slot[T any] struct {
	v   T
	err error
}

// frame is the per-evaluation state of the compiled path. Evaluators reuse
// one frame for many members, so evaluation does not allocate.
type frame struct {
	rec  *Record
	tf   *timeFuncs
	tags tagSource

	sb  []slot[bool]
	si  []slot[int64]
	sd  []slot[float64]
	ss  []slot[string]
	st  []slot[time.Time]
	sdu []slot[time.Duration]
	slb []slot[[]bool]
	sli []slot[[]int64]
	sld []slot[[]float64]
	sls []slot[[]string]
	sm  []slot[map[string]int64]
}

// slotCounts is how many comprehension slots of each kind a program needs.
type slotCounts [12]int

func (c *slotCounts) max(o slotCounts) {
	for i := range c {
		c[i] = max(c[i], o[i])
	}
}

func (f *frame) ensure(c slotCounts) {
	grow(&f.sb, c[0])
	grow(&f.si, c[1])
	grow(&f.sd, c[2])
	grow(&f.ss, c[3])
	grow(&f.st, c[4])
	grow(&f.sdu, c[5])
	grow(&f.slb, c[6])
	grow(&f.sli, c[7])
	grow(&f.sld, c[8])
	grow(&f.sls, c[9])
	grow(&f.sm, c[10])
}

func grow[T any](s *[]T, n int) {
	if len(*s) < n {
		*s = make([]T, n)
	}
}

// slotClass returns the slotCounts index for values of type t.
func slotClass(t vtype) int {
	switch t.k {
	case kBool:
		return 0
	case kInt:
		return 1
	case kDouble:
		return 2
	case kString:
		return 3
	case kTime:
		return 4
	case kDur:
		return 5
	case kList:
		switch t.elem {
		case kBool:
			return 6
		case kInt:
			return 7
		case kDouble:
			return 8
		default:
			return 9
		}
	}
	return 10
}

// slotRef returns an accessor for slot i of T's class.
func slotRef[T any](i int) func(*frame) *slot[T] {
	var r any
	switch any(*new(T)).(type) {
	case bool:
		r = func(f *frame) *slot[bool] { return &f.sb[i] }
	case int64:
		r = func(f *frame) *slot[int64] { return &f.si[i] }
	case float64:
		r = func(f *frame) *slot[float64] { return &f.sd[i] }
	case string:
		r = func(f *frame) *slot[string] { return &f.ss[i] }
	case time.Time:
		r = func(f *frame) *slot[time.Time] { return &f.st[i] }
	case time.Duration:
		r = func(f *frame) *slot[time.Duration] { return &f.sdu[i] }
	case []bool:
		r = func(f *frame) *slot[[]bool] { return &f.slb[i] }
	case []int64:
		r = func(f *frame) *slot[[]int64] { return &f.sli[i] }
	case []float64:
		r = func(f *frame) *slot[[]float64] { return &f.sld[i] }
	case []string:
		r = func(f *frame) *slot[[]string] { return &f.sls[i] }
	case map[string]int64:
		r = func(f *frame) *slot[map[string]int64] { return &f.sm[i] }
	}
	return r.(func(*frame) *slot[T])
}

// node is a compiled sub-expression.
type node struct {
	t       vtype
	fn      any // fn[T] for t's Go type
	isConst bool
	val     any         // the constant value when isConst
	pure    bool        // reads no field, variable, clock or tag
	field   int         // FieldID when the node reads a field directly, else -1
	leaf    *simpleLeaf // set when the node is a simple leaf
}

func constNode[T any](t vtype, v T) node {
	return node{t: t, fn: fn[T](func(*frame) (T, error) { return v, nil }), isConst: true, val: v, pure: true, field: -1}
}

func mk[T any](t vtype, f fn[T], pure bool) node {
	return node{t: t, fn: f, pure: pure, field: -1}
}

func as[T any](n node) fn[T] { return n.fn.(fn[T]) }

// eval runs a node of any type; used for constant folding and tests.
func (n node) eval(f *frame) (any, error) {
	switch g := n.fn.(type) {
	case fn[bool]:
		return g(f)
	case fn[int64]:
		return g(f)
	case fn[float64]:
		return g(f)
	case fn[string]:
		return g(f)
	case fn[time.Time]:
		return g(f)
	case fn[time.Duration]:
		return g(f)
	case fn[[]bool]:
		return g(f)
	case fn[[]int64]:
		return g(f)
	case fn[[]float64]:
		return g(f)
	case fn[[]string]:
		return g(f)
	case fn[map[string]int64]:
		return g(f)
	}
	return nil, fmt.Errorf("node of unexpected type %T", n.fn)
}

// constOf makes a constant node of type t from a Go value.
func constOf(t vtype, v any) node {
	switch x := v.(type) {
	case bool:
		return constNode(t, x)
	case int64:
		return constNode(t, x)
	case float64:
		return constNode(t, x)
	case string:
		return constNode(t, x)
	case time.Time:
		return constNode(t, x)
	case time.Duration:
		return constNode(t, x)
	case []bool:
		return constNode(t, x)
	case []int64:
		return constNode(t, x)
	case []float64:
		return constNode(t, x)
	case []string:
		return constNode(t, x)
	case map[string]int64:
		return constNode(t, x)
	}
	panic(fmt.Sprintf("tags: constant of unexpected type %T", v))
}

// fold evaluates a pure node once, at compile time. A node that errors
// stays as it is, so the error surfaces at run time as in CEL. Lists are
// not folded: a folded list would be shared between evaluations, and list
// accumulators append in place.
func fold(n node) node {
	if !n.pure || n.isConst || n.t.k == kList || n.t.k == kMap {
		return n
	}
	v, err := n.eval(&frame{})
	if err != nil {
		return n
	}
	return constOf(n.t, v)
}

// fastProg is a compiled expression ready to run.
type fastProg struct {
	root     node
	slots    slotCounts
	hasSlots bool
	boolFn   fn[bool]
	strFn    fn[string]
}

// scope is one comprehension's variables.
type scope struct {
	iterVar, accuVar string
	iter, accu       node
	inLoop           bool // compiling the loop condition or step
}

// compiler translates one checked AST.
type compiler struct {
	ast    *ast.AST
	schema *Schema
	tags   tagResolver
	scopes []scope
	slots  slotCounts
}

func compileFast(a *ast.AST, s *Schema, tags tagResolver) (p *fastProg, err error) {
	c := &compiler{ast: a, schema: s, tags: tags}
	root, err := c.expr(a.Expr())
	if err != nil {
		return nil, err
	}
	p = &fastProg{root: root, slots: c.slots, hasSlots: c.slots != slotCounts{}}
	switch root.t {
	case tBool:
		p.boolFn = as[bool](root)
	case tString:
		p.strFn = as[string](root)
	}
	return p, nil
}

func (c *compiler) typeOf(e ast.Expr) (vtype, error) {
	t, ok := vtypeOf(c.ast.GetType(e.ID()))
	if !ok {
		return vtype{}, unsupported("type %v", c.ast.GetType(e.ID()))
	}
	return t, nil
}

func (c *compiler) expr(e ast.Expr) (node, error) {
	switch e.Kind() {
	case ast.LiteralKind:
		return c.literal(e)
	case ast.IdentKind:
		return c.ident(e.AsIdent())
	case ast.SelectKind:
		return c.selectExpr(e)
	case ast.CallKind:
		n, err := c.call(e)
		if err != nil {
			return node{}, err
		}
		return fold(n), nil
	case ast.ListKind:
		return c.list(e)
	case ast.ComprehensionKind:
		return c.comprehension(e)
	}
	return node{}, unsupported("expression kind %v", e.Kind())
}

func (c *compiler) literal(e ast.Expr) (node, error) {
	switch v := e.AsLiteral().(type) {
	case types.Bool:
		return constNode(tBool, bool(v)), nil
	case types.Int:
		return constNode(tInt, int64(v)), nil
	case types.Double:
		return constNode(tDouble, float64(v)), nil
	case types.String:
		return constNode(tString, string(v)), nil
	}
	return node{}, unsupported("literal %v", e.AsLiteral().Type())
}

func (c *compiler) ident(name string) (node, error) {
	for i := len(c.scopes) - 1; i >= 0; i-- {
		s := &c.scopes[i]
		if name == s.iterVar {
			return s.iter, nil
		}
		if name == s.accuVar {
			return s.accu, nil
		}
	}
	id, ok := c.schema.byName[name]
	if !ok {
		return node{}, unsupported("identifier %s", name)
	}
	n := fieldNode(c.schema, id)
	return n, nil
}

// fieldNode reads field id from the record, erroring when it is absent.
func fieldNode(s *Schema, id FieldID) node {
	fd := s.fields[id]
	slot := s.slots[id]
	w, m := int(id)>>6, uint64(1)<<(uint(id)&63)
	miss := missingErr(fd.Name)
	var n node
	switch fd.Type {
	case Int:
		n = mk(tInt, fn[int64](func(f *frame) (int64, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return 0, miss
			}
			return r.num[slot], nil
		}), false)
	case Double:
		n = mk(tDouble, fn[float64](func(f *frame) (float64, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return 0, miss
			}
			return r.dbl[slot], nil
		}), false)
	case String:
		n = mk(tString, fn[string](func(f *frame) (string, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return "", miss
			}
			return r.str[slot], nil
		}), false)
	case Bool:
		n = mk(tBool, fn[bool](func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			return r.bools[slot], nil
		}), false)
	case Timestamp:
		n = mk(tTime, fn[time.Time](func(f *frame) (time.Time, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return time.Time{}, miss
			}
			return r.ts[slot], nil
		}), false)
	case Duration:
		n = mk(tDur, fn[time.Duration](func(f *frame) (time.Duration, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return 0, miss
			}
			return r.durs[slot], nil
		}), false)
	case StringList:
		n = mk(listOf(kString), fn[[]string](func(f *frame) ([]string, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return nil, miss
			}
			return r.lst[slot], nil
		}), false)
	case CountMap:
		n = mk(tMap, fn[map[string]int64](func(f *frame) (map[string]int64, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return nil, miss
			}
			return r.cnt[slot], nil
		}), false)
	}
	n.field = int(id)
	return n
}

// selectExpr handles m.key on a map(string, int) and has(m.key).
func (c *compiler) selectExpr(e ast.Expr) (node, error) {
	sel := e.AsSelect()
	op, err := c.expr(sel.Operand())
	if err != nil {
		return node{}, err
	}
	if op.t.k != kMap {
		return node{}, unsupported("select on %v", op.t)
	}
	m := as[map[string]int64](op)
	key := sel.FieldName()
	if sel.IsTestOnly() {
		return mk(tBool, fn[bool](func(f *frame) (bool, error) {
			mv, err := m(f)
			if err != nil {
				return false, err
			}
			_, ok := mv[key]
			return ok, nil
		}), op.pure), nil
	}
	return mk(tInt, fn[int64](func(f *frame) (int64, error) {
		mv, err := m(f)
		if err != nil {
			return 0, err
		}
		v, ok := mv[key]
		if !ok {
			return 0, errNoKey
		}
		return v, nil
	}), op.pure), nil
}

func (c *compiler) list(e ast.Expr) (node, error) {
	t, err := c.typeOf(e)
	if err != nil {
		return node{}, err
	}
	l := e.AsList()
	if len(l.OptionalIndices()) > 0 {
		return node{}, unsupported("optional list elements")
	}
	elems := make([]node, len(l.Elements()))
	for i, x := range l.Elements() {
		if elems[i], err = c.expr(x); err != nil {
			return node{}, err
		}
	}
	switch t.elem {
	case kBool:
		return listNode[bool](t, elems), nil
	case kInt:
		return listNode[int64](t, elems), nil
	case kDouble:
		return listNode[float64](t, elems), nil
	default:
		return listNode[string](t, elems), nil
	}
}

// listNode builds a list literal. Every evaluation makes a fresh slice,
// because a list may become a comprehension accumulator that grows in place.
func listNode[T any](t vtype, elems []node) node {
	fns := make([]fn[T], len(elems))
	pure := true
	allConst := true
	consts := make([]T, len(elems))
	for i, e := range elems {
		fns[i] = as[T](e)
		pure = pure && e.pure
		if e.isConst {
			consts[i] = e.val.(T)
		} else {
			allConst = false
		}
	}
	n := mk(t, fn[[]T](func(f *frame) ([]T, error) {
		if len(fns) == 0 {
			return []T{}, nil
		}
		out := make([]T, len(fns))
		for i, g := range fns {
			v, err := g(f)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}), pure)
	if allConst {
		// Remember the elements so that `x in [..]` can use a set; the
		// node itself still builds a fresh list.
		n.val = consts
	}
	return n
}

// comprehension compiles a fold: the macros all, exists, exists_one, map
// and filter expand to one.
func (c *compiler) comprehension(e ast.Expr) (node, error) {
	comp := e.AsComprehension()
	if comp.HasIterVar2() {
		return node{}, unsupported("two-variable comprehension")
	}
	for _, s := range c.scopes {
		if s.inLoop {
			// Nested loops are where runaway cost comes from; those rules
			// run on cel-go under its cost limit.
			return node{}, unsupported("nested comprehension")
		}
	}
	rng, err := c.expr(comp.IterRange())
	if err != nil {
		return node{}, err
	}
	accuT, err := c.typeOf(comp.AccuInit())
	if err != nil {
		return node{}, err
	}
	if rt, err := c.typeOf(e); err != nil || rt.k == kMap {
		return node{}, unsupported("comprehension result")
	}
	init, err := c.expr(comp.AccuInit())
	if err != nil {
		return node{}, err
	}
	var elemT vtype
	switch rng.t.k {
	case kList:
		elemT = vtype{k: rng.t.elem}
	case kMap:
		elemT = tString
	default:
		return node{}, unsupported("range over %v", rng.t)
	}
	switch elemT.k {
	case kBool:
		return compFold[bool](c, e, rng, elemT, accuT, init)
	case kInt:
		return compFold[int64](c, e, rng, elemT, accuT, init)
	case kDouble:
		return compFold[float64](c, e, rng, elemT, accuT, init)
	default:
		return compFold[string](c, e, rng, elemT, accuT, init)
	}
}

func compFold[E any](c *compiler, e ast.Expr, rng node, elemT, accuT vtype, init node) (node, error) {
	switch accuT.k {
	case kBool:
		return compFold2[E, bool](c, e, rng, elemT, accuT, init)
	case kInt:
		return compFold2[E, int64](c, e, rng, elemT, accuT, init)
	case kDouble:
		return compFold2[E, float64](c, e, rng, elemT, accuT, init)
	case kString:
		return compFold2[E, string](c, e, rng, elemT, accuT, init)
	case kList:
		switch accuT.elem {
		case kBool:
			return compFold2[E, []bool](c, e, rng, elemT, accuT, init)
		case kInt:
			return compFold2[E, []int64](c, e, rng, elemT, accuT, init)
		case kDouble:
			return compFold2[E, []float64](c, e, rng, elemT, accuT, init)
		default:
			return compFold2[E, []string](c, e, rng, elemT, accuT, init)
		}
	}
	return node{}, unsupported("accumulator %v", accuT)
}

func (c *compiler) newSlot(t vtype) int {
	cl := slotClass(t)
	i := c.slots[cl]
	c.slots[cl]++
	return i
}

func compFold2[E, A any](c *compiler, e ast.Expr, rng node, elemT, accuT vtype, init node) (node, error) {
	comp := e.AsComprehension()
	iterRef := slotRef[E](c.newSlot(elemT))
	accuRef := slotRef[A](c.newSlot(accuT))
	iter := mk(elemT, fn[E](func(f *frame) (E, error) { return iterRef(f).v, nil }), false)
	accu := mk(accuT, fn[A](func(f *frame) (A, error) { s := accuRef(f); return s.v, s.err }), false)
	c.scopes = append(c.scopes, scope{iterVar: comp.IterVar(), accuVar: comp.AccuVar(), iter: iter, accu: accu, inLoop: true})
	cond, err := c.expr(comp.LoopCondition())
	if err != nil {
		return node{}, err
	}
	step, err := c.step(comp.LoopStep(), comp.AccuVar(), accuT)
	if err != nil {
		return node{}, err
	}
	c.scopes[len(c.scopes)-1].inLoop = false
	result, err := c.expr(comp.Result())
	if err != nil {
		return node{}, err
	}
	c.scopes = c.scopes[:len(c.scopes)-1]
	if cond.t.k != kBool || step.t != accuT {
		return node{}, unsupported("comprehension shape")
	}
	condF, stepF, initF := as[bool](cond), as[A](step), as[A](init)
	var each func(f *frame, yield func(E) bool) error
	switch rng.t.k {
	case kList:
		r := as[[]E](rng)
		each = func(f *frame, yield func(E) bool) error {
			l, err := r(f)
			if err != nil {
				return err
			}
			for _, x := range l {
				if !yield(x) {
					return nil
				}
			}
			return nil
		}
	case kMap:
		r := as[map[string]int64](rng)
		each = func(f *frame, yield func(E) bool) error {
			m, err := r(f)
			if err != nil {
				return err
			}
			// Sorted keys: map iteration order is otherwise random, and
			// map() and filter() results must not depend on it.
			for _, k := range sortedKeys(m) {
				if !yield(any(k).(E)) {
					return nil
				}
			}
			return nil
		}
	}
	return foldNode[E, A](result, each, iterRef, accuRef, initF, condF, stepF)
}

func foldNode[E, A any](result node, each func(*frame, func(E) bool) error,
	iterRef func(*frame) *slot[E], accuRef func(*frame) *slot[A], initF fn[A], condF fn[bool], stepF fn[A]) (node, error) {
	run := func(f *frame) error {
		a := accuRef(f)
		a.v, a.err = initF(f)
		var interrupted bool
		err := each(f, func(x E) bool {
			iterRef(f).v = x
			ok, err := condF(f)
			if err != nil {
				interrupted = true
				return false
			}
			if !ok {
				return false
			}
			a.v, a.err = stepF(f)
			return true
		})
		if err != nil {
			return err
		}
		if interrupted {
			return errInterrupted
		}
		return nil
	}
	switch result.t.k {
	case kBool:
		r := as[bool](result)
		return mk(result.t, fn[bool](func(f *frame) (bool, error) {
			if err := run(f); err != nil {
				return false, err
			}
			return r(f)
		}), false), nil
	case kInt:
		r := as[int64](result)
		return mk(result.t, fn[int64](func(f *frame) (int64, error) {
			if err := run(f); err != nil {
				return 0, err
			}
			return r(f)
		}), false), nil
	case kList:
		switch result.t.elem {
		case kBool:
			return foldResult[[]bool](result, run), nil
		case kInt:
			return foldResult[[]int64](result, run), nil
		case kDouble:
			return foldResult[[]float64](result, run), nil
		default:
			return foldResult[[]string](result, run), nil
		}
	case kDouble:
		return foldResult[float64](result, run), nil
	case kString:
		return foldResult[string](result, run), nil
	}
	return node{}, unsupported("comprehension result %v", result.t)
}

func foldResult[R any](result node, run func(*frame) error) node {
	r := as[R](result)
	return mk(result.t, fn[R](func(f *frame) (R, error) {
		if err := run(f); err != nil {
			var zero R
			return zero, err
		}
		return r(f)
	}), false)
}

// step compiles a comprehension step. The steps of map() and filter(),
// `@result + [x]` and `p ? @result + [x] : @result`, append to the
// accumulator in place: the accumulator is private to the fold, so nothing
// can observe the mutation, and the fold stays linear instead of copying the
// list on every iteration.
func (c *compiler) step(e ast.Expr, accuVar string, accuT vtype) (node, error) {
	if accuT.k == kList {
		if n, ok, err := c.appendStep(e, accuVar, accuT); ok || err != nil {
			return n, err
		}
	}
	return c.expr(e)
}

func isIdent(e ast.Expr, name string) bool {
	return e.Kind() == ast.IdentKind && e.AsIdent() == name
}

func (c *compiler) appendStep(e ast.Expr, accuVar string, accuT vtype) (node, bool, error) {
	if e.Kind() != ast.CallKind {
		return node{}, false, nil
	}
	call := e.AsCall()
	switch {
	case call.FunctionName() == "_+_" && len(call.Args()) == 2 && isIdent(call.Args()[0], accuVar) &&
		call.Args()[1].Kind() == ast.ListKind && len(call.Args()[1].AsList().Elements()) == 1:
		x, err := c.expr(call.Args()[1].AsList().Elements()[0])
		if err != nil {
			return node{}, true, err
		}
		acc, err := c.ident(accuVar)
		if err != nil {
			return node{}, true, err
		}
		switch accuT.elem {
		case kBool:
			return appendNode[bool](accuT, acc, x), true, nil
		case kInt:
			return appendNode[int64](accuT, acc, x), true, nil
		case kDouble:
			return appendNode[float64](accuT, acc, x), true, nil
		default:
			return appendNode[string](accuT, acc, x), true, nil
		}
	case call.FunctionName() == "_?_:_" && len(call.Args()) == 3 && isIdent(call.Args()[2], accuVar):
		then, ok, err := c.appendStep(call.Args()[1], accuVar, accuT)
		if !ok || err != nil {
			return node{}, ok, err
		}
		cond, err := c.expr(call.Args()[0])
		if err != nil {
			return node{}, true, err
		}
		els, err := c.ident(accuVar)
		if err != nil {
			return node{}, true, err
		}
		n, err := ternary(cond, then, els)
		return n, true, err
	}
	return node{}, false, nil
}

func appendNode[T any](t vtype, acc, x node) node {
	af, xf := as[[]T](acc), as[T](x)
	return mk(t, fn[[]T](func(f *frame) ([]T, error) {
		a, err := af(f)
		if err != nil {
			return nil, err
		}
		v, err := xf(f)
		if err != nil {
			return nil, err
		}
		return append(a, v), nil
	}), false)
}
