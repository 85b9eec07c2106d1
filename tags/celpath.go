package tags

import (
	"errors"
	"reflect"
	"time"

	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// celAct is the activation cel-go evaluates rules with: fields resolve
// from the record by name, and the late-bound functions (time functions,
// has_tag) read the evaluator's Clock and tag source. One celAct belongs to
// one Evaluator and is reused for every member.
type celAct struct {
	ev    *Evaluator
	rec   *Record
	funcs map[string]functions.LateBoundOp
}

var _ interpreter.FunctionActivation = (*celAct)(nil)

func newCelAct(ev *Evaluator) *celAct {
	a := &celAct{ev: ev}
	tf := &ev.tf
	part := func(p func(*timeFuncs, time.Time) int64) functions.LateBoundOp {
		return func(_ string, args ...ref.Val) ref.Val {
			ts, ok := args[0].(types.Timestamp)
			if !ok {
				return types.MaybeNoSuchOverloadErr(args[0])
			}
			return types.Int(p(tf, ts.Time))
		}
	}
	a.funcs = map[string]functions.LateBoundOp{
		fnDaysSince:  part((*timeFuncs).daysSince),
		fnDaysUntil:  part((*timeFuncs).daysUntil),
		fnHoursSince: part((*timeFuncs).hoursSince),
		fnYearsSince: part((*timeFuncs).yearsSince),
		fnYear:       part((*timeFuncs).year),
		fnMonth:      part((*timeFuncs).month),
		fnDay:        part((*timeFuncs).day),
		fnWeekday:    part((*timeFuncs).weekday),
		fnHour:       part((*timeFuncs).hour),
		fnDayOfYear:  part((*timeFuncs).dayOfYear),
		fnAsOf: func(string, ...ref.Val) ref.Val {
			return types.Timestamp{Time: tf.asOf}
		},
		fnInLast: func(_ string, args ...ref.Val) ref.Val {
			ts, ok1 := args[0].(types.Timestamp)
			d, ok2 := args[1].(types.Duration)
			if !ok1 || !ok2 {
				return types.NewErr("no such overload")
			}
			in, err := tf.inLast(ts.Time, d.Duration)
			if err != nil {
				return types.NewErr("%s", err.Error())
			}
			return types.Bool(in)
		},
		fnHasTag: func(_ string, args ...ref.Val) ref.Val {
			name, ok := args[0].(types.String)
			if !ok {
				return types.MaybeNoSuchOverloadErr(args[0])
			}
			if ev.tags == nil || ev.resolve == nil {
				return types.NewErr("%s", errNoTagSource.Msg)
			}
			info, ok := ev.resolve(string(name))
			if !ok {
				return types.NewErr("unknown tag %q", string(name))
			}
			v := ev.tags.tagValue(info.id)
			if len(args) == 1 {
				return types.Bool(v >= 0)
			}
			want, ok := args[1].(types.String)
			if !ok {
				return types.MaybeNoSuchOverloadErr(args[1])
			}
			return types.Bool(v >= 0 && v < len(info.values) && info.values[v] == string(want))
		},
	}
	return a
}

// ResolveName returns the value of a record field; an absent field is not
// found, which cel-go reports as "no such attribute".
func (a *celAct) ResolveName(name string) (any, bool) {
	s := a.rec.schema
	id, ok := s.byName[name]
	if !ok || !a.rec.has(int(id)) {
		return nil, false
	}
	slot := s.slots[id]
	r := a.rec
	switch s.fields[id].Type {
	case Int:
		return types.Int(r.num[slot]), true
	case Double:
		return types.Double(r.dbl[slot]), true
	case String:
		return types.String(r.str[slot]), true
	case Bool:
		return types.Bool(r.bools[slot]), true
	case Timestamp:
		return types.Timestamp{Time: r.ts[slot]}, true
	case Duration:
		return types.Duration{Duration: r.durs[slot]}, true
	case StringList:
		return types.NewStringList(types.DefaultTypeAdapter, r.lst[slot]), true
	case CountMap:
		m := r.cnt[slot]
		return sortedMap{Mapper: types.NewMap(types.DefaultTypeAdapter, m), m: m}, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *celAct) Parent() interpreter.Activation { return nil }

// ResolveFunction implements interpreter.FunctionActivation.
func (a *celAct) ResolveFunction(name string) (functions.LateBoundOp, bool) {
	f, ok := a.funcs[name]
	return f, ok
}

// sortedMap iterates a count map in key order, so that map() and filter()
// over a map give the same list on every run (a Go map's order is random).
// It deliberately does not implement traits.Foldable, whose fold would use
// the Go map's order.
type sortedMap struct {
	traits.Mapper
	m map[string]int64
}

func (s sortedMap) Iterator() traits.Iterator {
	return &keyIter{keys: sortedKeys(s.m)}
}

type keyIter struct {
	keys []string
	i    int
}

func (it *keyIter) HasNext() ref.Val { return types.Bool(it.i < len(it.keys)) }

func (it *keyIter) Next() ref.Val {
	if it.i >= len(it.keys) {
		return types.NewErr("iterator exhausted")
	}
	k := it.keys[it.i]
	it.i++
	return types.String(k)
}

func (it *keyIter) ConvertToNative(reflect.Type) (any, error) {
	return nil, errors.New("type conversion on iterators not supported")
}

func (it *keyIter) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("type conversion on iterators not supported")
}

func (it *keyIter) Equal(ref.Val) ref.Val { return types.NewErr("equality on iterators not supported") }

func (it *keyIter) Type() ref.Type { return types.IteratorType }

func (it *keyIter) Value() any { return nil }
