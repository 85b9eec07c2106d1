package tags

import (
	"fmt"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Evaluator evaluates rules for one member at a time at a fixed Clock. It
// holds scratch space reused across members, so evaluating a compiled rule
// does not allocate. An Evaluator is not safe for concurrent use: give each
// goroutine its own (they are cheap).
type Evaluator struct {
	clock   Clock
	tf      timeFuncs
	fr      frame
	act     *celAct
	tags    tagSource
	resolve tagResolver
}

// NewEvaluator returns an evaluator for the given Clock. The Clock needs an
// as-of time and a location.
func NewEvaluator(c Clock) (*Evaluator, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	ev := &Evaluator{clock: c, tf: newTimeFuncs(c)}
	ev.fr.tf = &ev.tf
	ev.act = newCelAct(ev)
	return ev, nil
}

// Clock returns the evaluator's Clock.
func (ev *Evaluator) Clock() Clock { return ev.clock }

// Bool evaluates a boolean rule for a record. A runtime error (a missing
// field, overflow, division by zero, a missing map key, the cost limit) is
// returned as an *EvalError; it means the member does not get the tag.
func (ev *Evaluator) Bool(r *Rule, rec *Record) (bool, error) {
	// The hot path is kept small enough to inline: one indirect call into
	// the compiled rule.
	if h := r.hot; h != nil && rec.schema == r.schema {
		ev.fr.rec = rec
		v, err := h(&ev.fr)
		if err != nil {
			return false, err
		}
		return v, nil
	}
	return ev.boolSlow(r, rec)
}

func (ev *Evaluator) boolSlow(r *Rule, rec *Record) (bool, error) {
	if r.out != tBool {
		return false, fmt.Errorf("rule %q returns %v, not bool", r.name, r.out)
	}
	if rec.schema != r.schema {
		return false, fmt.Errorf("rule %q, member %d: %w", r.name, rec.ID, ErrSchemaMismatch)
	}
	v, err := ev.evalBool(r, rec)
	if err != nil {
		return false, err
	}
	return v, nil
}

// String evaluates a string-valued rule (an enumerated tag's value
// expression) for a record.
func (ev *Evaluator) String(r *Rule, rec *Record) (string, error) {
	if r.out != tString {
		return "", fmt.Errorf("rule %q returns %v, not string", r.name, r.out)
	}
	if rec.schema != r.schema {
		return "", fmt.Errorf("rule %q, member %d: %w", r.name, rec.ID, ErrSchemaMismatch)
	}
	v, err := ev.evalString(r, rec)
	if err != nil {
		return "", err
	}
	return v, nil
}

// evalBool runs a bool rule on its fast path, or on cel-go. The returned
// error is nil or an *EvalError.
func (ev *Evaluator) evalBool(r *Rule, rec *Record) (bool, *EvalError) {
	if h := r.hot; h != nil {
		ev.fr.rec = rec
		v, err := h(&ev.fr)
		if err != nil {
			return false, err.(*EvalError)
		}
		return v, nil
	}
	if r.fast != nil {
		f := &ev.fr
		f.rec = rec
		if r.fast.hasSlots {
			f.ensure(r.fast.slots)
		}
		v, err := r.fast.boolFn(f)
		if err != nil {
			return false, err.(*EvalError)
		}
		return v, nil
	}
	out, err := ev.celEval(r, rec)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, &EvalError{ErrOther, fmt.Sprintf("rule returned %v, not bool", out.Type().TypeName())}
	}
	return bool(b), nil
}

func (ev *Evaluator) evalString(r *Rule, rec *Record) (string, *EvalError) {
	if r.fast != nil {
		f := &ev.fr
		f.rec = rec
		if r.fast.hasSlots {
			f.ensure(r.fast.slots)
		}
		v, err := r.fast.strFn(f)
		if err != nil {
			return "", err.(*EvalError)
		}
		return v, nil
	}
	out, err := ev.celEval(r, rec)
	if err != nil {
		return "", err
	}
	s, ok := out.(types.String)
	if !ok {
		return "", &EvalError{ErrOther, fmt.Sprintf("rule returned %v, not string", out.Type().TypeName())}
	}
	return string(s), nil
}

// celEval runs a rule on cel-go's interpreter.
func (ev *Evaluator) celEval(r *Rule, rec *Record) (ref.Val, *EvalError) {
	ev.act.rec = rec
	out, _, err := r.prg.Eval(ev.act)
	ev.act.rec = nil
	if err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// setTags sets where has_tag reads the member's tags from.
func (ev *Evaluator) setTags(ts tagSource, resolve tagResolver) {
	ev.tags, ev.fr.tags, ev.resolve = ts, ts, resolve
}
