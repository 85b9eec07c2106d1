package tags

// Simple leaves. Most tag rules are && and || of simple leaves: a field
// against a constant, a constant in a list field, present(). Each compiles
// to one closure, specialised for its operator, that reads the record
// itself, rather than to a comparison node over a field node and a
// constant node. (A loop over a chain of leaves with a switch, tried as an
// alternative, executed more instructions than the tree of closures.)

type leafOp uint8

const (
	lfIntLT leafOp = iota + 1
	lfIntLE
	lfIntGT
	lfIntGE
	lfIntEQ
	lfIntNE
	lfStrEQ
	lfStrNE
	lfInList
	lfNotInList
	lfBoolIs // bool field == (k != 0)
	lfPresent
	lfAbsent
)

// simpleLeaf is a leaf read straight from the record.
type simpleLeaf struct {
	op   leafOp
	slot int
	w    int
	m    uint64
	k    int64
	s    string
	miss *EvalError
	fn   fn[bool]
}

// negated returns the leaf that is true exactly where l is false (and errs
// where l errs).
func (l simpleLeaf) negated() simpleLeaf {
	n := l
	n.fn = nil
	switch l.op {
	case lfIntLT:
		n.op = lfIntGE
	case lfIntLE:
		n.op = lfIntGT
	case lfIntGT:
		n.op = lfIntLE
	case lfIntGE:
		n.op = lfIntLT
	case lfIntEQ:
		n.op = lfIntNE
	case lfIntNE:
		n.op = lfIntEQ
	case lfStrEQ:
		n.op = lfStrNE
	case lfStrNE:
		n.op = lfStrEQ
	case lfInList:
		n.op = lfNotInList
	case lfNotInList:
		n.op = lfInList
	case lfBoolIs:
		n.k = 1 - l.k
	case lfPresent:
		n.op = lfAbsent
	case lfAbsent:
		n.op = lfPresent
	}
	return n
}

// compile returns a closure specialised for the leaf's operator: no switch
// at run time.
func (l simpleLeaf) compile() fn[bool] {
	w, m, slot, k, str, miss := l.w, l.m, l.slot, l.k, l.s, l.miss
	switch l.op {
	case lfPresent:
		return func(f *frame) (bool, error) { return f.rec.set[w]&m != 0, nil }
	case lfAbsent:
		return func(f *frame) (bool, error) { return f.rec.set[w]&m == 0, nil }
	case lfIntLT:
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			return r.num[slot] < k, nil
		}
	case lfIntLE:
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			return r.num[slot] <= k, nil
		}
	case lfIntGT:
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			return r.num[slot] > k, nil
		}
	case lfIntGE:
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			return r.num[slot] >= k, nil
		}
	case lfIntEQ:
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			return r.num[slot] == k, nil
		}
	case lfIntNE:
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			return r.num[slot] != k, nil
		}
	case lfStrEQ:
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			return r.str[slot] == str, nil
		}
	case lfStrNE:
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			return r.str[slot] != str, nil
		}
	case lfInList:
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			for _, v := range r.lst[slot] {
				if v == str {
					return true, nil
				}
			}
			return false, nil
		}
	case lfNotInList:
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			for _, v := range r.lst[slot] {
				if v == str {
					return false, nil
				}
			}
			return true, nil
		}
	default: // lfBoolIs
		want := k != 0
		return func(f *frame) (bool, error) {
			r := f.rec
			if r.set[w]&m == 0 {
				return false, miss
			}
			return r.bools[slot] == want, nil
		}
	}
}

// leafNode makes a node of a simple leaf.
func leafNode(l simpleLeaf) node {
	l.fn = l.compile()
	n := mk(tBool, l.fn, false)
	n.leaf = &l
	return n
}
