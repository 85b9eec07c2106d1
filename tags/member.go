package tags

import (
	"fmt"
	"slices"
)

// extTags answers has_tag for tags an evaluation does not compute (manual
// tags, and rule tags outside the refreshed subset): the member's value
// index, or -1.
type extTags interface {
	value(id int, member uint32) int
}

// noExt is the empty source: no member has any tag not computed.
type noExt struct{}

func (noExt) value(int, uint32) int { return -1 }

// run is one prepared evaluation of some of a catalog's tags at a Clock.
type run struct {
	cat   *catalog
	clock Clock
	tags  []*Tag // computed per member, topological order
	pos   []int  // by tag id: index into tags, or -1
	ext   extTags
	slots slotCounts
}

// newRun prepares the evaluation of the named rule tags (nil: every rule
// tag). has_tag of a tag the run does not compute (a manual tag, or a rule
// tag not named) reads the member's current value from ext.
func newRun(cat *catalog, clock Clock, names []string, ext extTags) (*run, error) {
	if err := clock.validate(); err != nil {
		return nil, err
	}
	r := &run{cat: cat, clock: clock, pos: make([]int, len(cat.byID)), ext: ext}
	if r.ext == nil {
		r.ext = noExt{}
	}
	for i := range r.pos {
		r.pos[i] = -1
	}
	want := map[string]bool{}
	for _, n := range names {
		t, ok := cat.byName[n]
		if !ok {
			return nil, fmt.Errorf("tag %q: %w", n, ErrUnknownTag)
		}
		if t.kind == KindManual {
			return nil, fmt.Errorf("tag %q is manual, it has no rule to evaluate: %w", n, ErrNotManual)
		}
		want[n] = true
	}
	for _, t := range cat.order {
		if t.kind == KindManual || (names != nil && !want[t.def.Name]) {
			continue
		}
		r.pos[t.id] = len(r.tags)
		r.tags = append(r.tags, t)
		for _, rule := range t.rules() {
			if rule.fast != nil {
				r.slots.max(rule.fast.slots)
			}
		}
	}
	return r, nil
}

// outcome of one tag for one member.
type outcome struct {
	value int // value index (0 for a boolean tag the member has), or -1
	err   *EvalError
}

// memberEval evaluates a run's tags for one member at a time. It is the
// tagSource of its evaluator: has_tag of a computed tag reads this member's
// fresh outcome. Not safe for concurrent use.
type memberEval struct {
	run    *run
	ev     *Evaluator
	out    []outcome
	member uint32
}

func (r *run) newMemberEval() *memberEval {
	ev, _ := NewEvaluator(r.clock) // the clock was validated by newRun
	m := &memberEval{run: r, ev: ev, out: make([]outcome, len(r.tags))}
	ev.setTags(m, r.cat.resolver())
	ev.fr.ensure(r.slots)
	return m
}

func (m *memberEval) tagValue(id int) int {
	if id < len(m.run.pos) {
		if p := m.run.pos[id]; p >= 0 {
			return m.out[p].value
		}
	}
	return m.run.ext.value(id, m.member)
}

// eval computes every tag of the run for rec, in topological order.
func (m *memberEval) eval(rec *Record) {
	m.member = rec.ID
	for i, t := range m.run.tags {
		m.out[i] = m.evalTag(t, rec)
	}
}

func (m *memberEval) evalTag(t *Tag, rec *Record) outcome {
	ev := m.ev
	switch {
	case t.rule != nil:
		v, err := ev.evalBool(t.rule, rec)
		if err != nil {
			return outcome{-1, err}
		}
		if v {
			return outcome{0, nil}
		}
		return outcome{-1, nil}
	case t.expr != nil:
		s, err := ev.evalString(t.expr, rec)
		if err != nil {
			return outcome{-1, err}
		}
		ix, ok := t.valueIx[s]
		if !ok {
			return outcome{-1, &EvalError{ErrBadValue, fmt.Sprintf("value %q is not declared", s)}}
		}
		return outcome{ix, nil}
	default:
		// Cases: CEL's c1 ? v1 : c2 ? v2 : default. A case that errs
		// decides the outcome (an error), as a conditional would.
		for i, c := range t.cases {
			v, err := ev.evalBool(c, rec)
			if err != nil {
				return outcome{-1, err}
			}
			if v {
				return outcome{t.valueIx[t.def.Cases[i].Value], nil}
			}
		}
		return outcome{t.deflt, nil}
	}
}

// SampleErrors is how many member errors a tag's Stats keep: the ones with
// the lowest member IDs, so that runs are reproducible.
const SampleErrors = 5

// Stats describes one tag's evaluation over a batch.
type Stats struct {
	// Tag is the tag's name.
	Tag string
	// Path is how the tag was evaluated.
	Path Path
	// Members is how many members were evaluated.
	Members int
	// Tagged is how many members got the tag (any value).
	Tagged int
	// Values counts members per declared value (enumerated tags only), in
	// the order of Tag.Values.
	Values []int
	// Missing is how many members were left untagged because a field the
	// rule needed had no value.
	Missing int
	// Errors is how many members were left untagged by another runtime
	// error (overflow, division by zero, missing map key, cost limit, ...).
	Errors int
	// Samples are the errors (not missing values) of the members with the
	// lowest IDs, at most SampleErrors.
	Samples []MemberError
}

// addSample keeps the SampleErrors lowest member IDs.
func (s *Stats) addSample(e MemberError) {
	i, _ := slices.BinarySearchFunc(s.Samples, e.Member, func(x MemberError, id uint32) int {
		switch {
		case x.Member < id:
			return -1
		case x.Member > id:
			return 1
		}
		return 0
	})
	if i >= SampleErrors {
		return
	}
	s.Samples = slices.Insert(s.Samples, i, e)
	if len(s.Samples) > SampleErrors {
		s.Samples = s.Samples[:SampleErrors]
	}
}

// record counts one member's outcome.
func (s *Stats) record(t *Tag, member uint32, o outcome) {
	s.Members++
	switch {
	case o.err != nil && o.err.Kind == ErrMissing:
		s.Missing++
	case o.err != nil:
		s.Errors++
		s.addSample(MemberError{Tag: t.def.Name, Member: member, Err: o.err})
	case o.value >= 0:
		s.Tagged++
		if s.Values != nil {
			s.Values[o.value]++
		}
	}
}

// merge adds another worker's counts.
func (s *Stats) merge(o *Stats) {
	s.Members += o.Members
	s.Tagged += o.Tagged
	s.Missing += o.Missing
	s.Errors += o.Errors
	for i := range o.Values {
		s.Values[i] += o.Values[i]
	}
	for _, e := range o.Samples {
		s.addSample(e)
	}
}

func newStats(t *Tag, p Path) Stats {
	s := Stats{Tag: t.def.Name, Path: p}
	if t.hasValues() {
		s.Values = make([]int, len(t.values))
	}
	return s
}
