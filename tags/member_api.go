package tags

import (
	"fmt"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cdpkit/cdpkit/segment"
)

// TagValue is a tag a member has: Value is "" for a boolean tag.
type TagValue struct {
	Tag   string
	Value string
}

// MemberResult is the outcome of re-evaluating one member.
type MemberResult struct {
	Member uint32
	// Tags are the member's rule tags after evaluation.
	Tags []TagValue
	// Gained and Lost compare them with the index. A changed value of an
	// enumerated tag is a loss of the old value and a gain of the new one.
	Gained, Lost []TagValue
	// Errors are the tags whose rules failed for the member (it is
	// untagged for them); missing values are included.
	Errors []MemberError
}

// EvalMember re-evaluates every rule tag for one member's record at clock,
// in topological order, and compares the result with the member's tags in
// view (nil: compare with nothing, everything is gained). Manual tags are
// read from view. It writes nothing; see ApplyMember.
func (s *Set) EvalMember(view *segment.View, clock Clock, rec *Record) (*MemberResult, error) {
	if rec == nil || rec.schema != s.schema {
		return nil, fmt.Errorf("eval member: %w", ErrSchemaMismatch)
	}
	cat := s.cur.Load()
	m, err := s.memberEval(cat, view, clock)
	if err != nil {
		return nil, fmt.Errorf("eval member %d: %w", rec.ID, err)
	}
	m.eval(rec)
	res := &MemberResult{Member: rec.ID}
	for i, t := range m.run.tags {
		o := m.out[i]
		if o.err != nil {
			res.Errors = append(res.Errors, MemberError{Tag: t.def.Name, Member: rec.ID, Err: o.err})
		}
		now := ""
		has := o.value >= 0
		if has && t.hasValues() {
			now = t.values[o.value]
		}
		if has {
			res.Tags = append(res.Tags, TagValue{t.def.Name, now})
		}
		was, had, err := memberTag(view, t, rec.ID)
		if err != nil {
			return nil, fmt.Errorf("eval member %d: %w", rec.ID, err)
		}
		if had && (!has || was != now) {
			res.Lost = append(res.Lost, TagValue{t.def.Name, was})
		}
		if has && (!had || was != now) {
			res.Gained = append(res.Gained, TagValue{t.def.Name, now})
		}
	}
	return res, nil
}

// memberEval prepares a per-member evaluation of every rule tag, with
// has_tag of manual tags reading view.
func (s *Set) memberEval(cat *catalog, view *segment.View, clock Clock) (*memberEval, error) {
	r, err := newRun(cat, clock, nil, nil)
	if err != nil {
		return nil, err
	}
	if view != nil {
		ext, err := newViewTags(cat, view, r, nil)
		if err != nil {
			return nil, err
		}
		r.ext = ext
	}
	return r.newMemberEval(), nil
}

// memberTag reads a member's current value of a tag from the index.
func memberTag(view *segment.View, t *Tag, id uint32) (string, bool, error) {
	if view == nil {
		return "", false, nil
	}
	kind, ok := view.FieldKind(t.def.Name)
	if !ok {
		return "", false, nil
	}
	switch {
	case t.hasValues() && kind == segment.KindEnum:
		return view.Enum(t.def.Name, id)
	case !t.hasValues() && kind == segment.KindTag:
		has, err := view.HasTag(t.def.Name, id)
		return "", has, err
	}
	return "", false, fmt.Errorf("tag %q is held in the index as a %v field", t.def.Name, kind)
}

// ApplyMember re-evaluates one member, as EvalMember does against the
// index's current state, and writes the changes in one transaction (the
// member also joins the index's universe). Use it when a member's record
// changes, for real-time triggers on Gained and Lost.
func (s *Set) ApplyMember(ix *segment.Index, clock Clock, rec *Record) (*MemberResult, error) {
	var res *MemberResult
	err := ix.Update(func(tx *segment.Tx) error {
		var err error
		// Evaluating inside the transaction keeps the comparison and
		// the write consistent: no other writer runs in between.
		res, err = s.EvalMember(tx.View(), clock, rec)
		if err != nil {
			return err
		}
		cat := s.cur.Load()
		for _, l := range res.Lost {
			if err := clearMember(tx, cat.byName[l.Tag], rec.ID); err != nil {
				return err
			}
		}
		for _, g := range res.Gained {
			if err := setMember(tx, cat.byName[g.Tag], g.Value, rec.ID); err != nil {
				return err
			}
		}
		return tx.AddMembers(rec.ID)
	})
	if err != nil {
		return nil, fmt.Errorf("apply member %d: %w", rec.ID, err)
	}
	return res, nil
}

func setMember(tx *segment.Tx, t *Tag, value string, ids ...uint32) error {
	if !t.hasValues() {
		if err := tx.Declare(t.def.Name, segment.KindTag); err != nil {
			return fmt.Errorf("tag %q: %w", t.def.Name, err)
		}
		return tx.AddTag(t.def.Name, ids...)
	}
	if err := tx.Declare(t.def.Name, segment.KindEnum); err != nil {
		return fmt.Errorf("tag %q: %w", t.def.Name, err)
	}
	for _, id := range ids {
		if err := tx.SetEnum(t.def.Name, id, value); err != nil {
			return fmt.Errorf("tag %q: %w", t.def.Name, err)
		}
	}
	return nil
}

func clearMember(tx *segment.Tx, t *Tag, ids ...uint32) error {
	if !t.hasValues() {
		if err := tx.Declare(t.def.Name, segment.KindTag); err != nil {
			return fmt.Errorf("tag %q: %w", t.def.Name, err)
		}
		return tx.RemoveTag(t.def.Name, ids...)
	}
	if err := tx.Declare(t.def.Name, segment.KindEnum); err != nil {
		return fmt.Errorf("tag %q: %w", t.def.Name, err)
	}
	for _, id := range ids {
		if err := tx.ClearEnum(t.def.Name, id); err != nil {
			return fmt.Errorf("tag %q: %w", t.def.Name, err)
		}
	}
	return nil
}

// manual returns a manual tag and checks a value for it.
func (s *Set) manual(tag, value string) (*Tag, error) {
	t, ok := s.Tag(tag)
	if !ok {
		return nil, fmt.Errorf("tag %q: %w", tag, ErrUnknownTag)
	}
	if t.kind != KindManual {
		return nil, fmt.Errorf("tag %q is %s: %w", tag, t.kind, ErrNotManual)
	}
	if err := t.validate(value); err != nil {
		return nil, err
	}
	return t, nil
}

// Assign gives members a manual tag (value "" for a tag without values,
// one of its values otherwise) within a transaction of the caller's.
func (s *Set) Assign(tx *segment.Tx, tag, value string, members ...uint32) error {
	t, err := s.manual(tag, value)
	if err != nil {
		return fmt.Errorf("assign: %w", err)
	}
	return setMember(tx, t, value, members...)
}

// Unassign takes a manual tag away from members.
func (s *Set) Unassign(tx *segment.Tx, tag string, members ...uint32) error {
	t, err := s.manualAnyValue(tag)
	if err != nil {
		return fmt.Errorf("unassign: %w", err)
	}
	return clearMember(tx, t, members...)
}

func (s *Set) manualAnyValue(tag string) (*Tag, error) {
	t, ok := s.Tag(tag)
	if !ok {
		return nil, fmt.Errorf("tag %q: %w", tag, ErrUnknownTag)
	}
	if t.kind != KindManual {
		return nil, fmt.Errorf("tag %q is %s: %w", tag, t.kind, ErrNotManual)
	}
	return t, nil
}

// Import replaces a manual tag's members wholesale: values maps each value
// to its members ("" for a tag without values). A value the tag does not
// declare is an error and nothing changes.
func (s *Set) Import(tx *segment.Tx, tag string, values map[string]*roaring.Bitmap) error {
	t, err := s.manualAnyValue(tag)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	keys := make([]string, 0, len(values))
	for v := range values {
		if err := t.validate(v); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		keys = append(keys, v)
	}
	slices.Sort(keys)
	bms := make([]*roaring.Bitmap, max(1, len(t.values)))
	for i := range bms {
		bms[i] = roaring.New()
	}
	for _, v := range keys {
		i := 0
		if t.hasValues() {
			i = t.valueIx[v]
		}
		bms[i] = values[v]
	}
	if err := writeTag(tx, t, bms); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}

// Explain evaluates one tag for one member's record at clock and says why
// the member has it or not: every sub-expression's value and, for an
// enumerated tag, which case matched. Other rule tags the rule references
// are evaluated from the same record; manual tags are read from view.
func (s *Set) Explain(view *segment.View, clock Clock, tag string, rec *Record) (*Explanation, error) {
	if rec == nil || rec.schema != s.schema {
		return nil, fmt.Errorf("explain: %w", ErrSchemaMismatch)
	}
	cat := s.cur.Load()
	t, ok := cat.byName[tag]
	if !ok {
		return nil, fmt.Errorf("explain %q: %w", tag, ErrUnknownTag)
	}
	if t.kind == KindManual {
		v, has, err := memberTag(view, t, rec.ID)
		if err != nil {
			return nil, fmt.Errorf("explain %q: %w", tag, err)
		}
		return &Explanation{Tag: tag, Member: rec.ID, AsOf: clock.AsOf, Tagged: has, Value: v, Matched: -1,
			Steps: []*Step{{Label: "manual", Root: &Node{Expr: "set by API", Value: fmt.Sprint(has)}}}}, nil
	}
	m, err := s.memberEval(cat, view, clock)
	if err != nil {
		return nil, fmt.Errorf("explain %q: %w", tag, err)
	}
	m.eval(rec)
	e := m.explainTag(t, rec)
	e.Path = cat.paths[t.id]
	return e, nil
}

// Path reports how a refresh of every tag evaluates the named tag: pushed
// down when its rules' leaves are indexed fields and tags that push down
// themselves, else compiled or on cel-go member by member. Manual tags
// report 0.
func (s *Set) Path(tag string) Path {
	cat := s.cur.Load()
	t, ok := cat.byName[tag]
	if !ok {
		return 0
	}
	return cat.paths[t.id]
}

// Plans returns the bitmap plans a refresh of every tag at clock would
// evaluate for the named tag against view: one per value, or one for a
// boolean tag, keyed by value ("" for a boolean tag). ok is false when the
// tag is evaluated member by member.
func (s *Set) Plans(view *segment.View, clock Clock, tag string) (map[string]*segment.Plan, bool, error) {
	if err := clock.validate(); err != nil {
		return nil, false, err
	}
	cat := s.cur.Load()
	t, ok := cat.byName[tag]
	if !ok {
		return nil, false, fmt.Errorf("plans %q: %w", tag, ErrUnknownTag)
	}
	pr, err := s.prepare(cat, view, clock, nil, false)
	if err != nil {
		return nil, false, fmt.Errorf("plans %q: %w", tag, err)
	}
	pt, ok := pr.pushed[t.id]
	if !ok {
		return nil, false, nil
	}
	out := map[string]*segment.Plan{}
	if !t.hasValues() {
		out[""] = pt.values[0]
		return out, true, nil
	}
	for i, v := range t.values {
		out[v] = pt.values[i]
	}
	return out, true, nil
}

// addVersion records a refresh's result for a tag, dropping the oldest
// versions beyond Config.KeepVersions.
func (s *Set) addVersion(t *Tag, clock Clock, view *segment.View, bms []*roaring.Bitmap, st Stats) *Version {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	hist := s.versions[t.def.Name]
	var n uint64 = 1
	if len(hist) > 0 {
		n = hist[len(hist)-1].Number + 1
	} else if last, ok := s.lastVersion[t.def.Name]; ok {
		n = last + 1
	}
	v := &Version{Tag: t.def.Name, Number: n, Definition: t.version, AsOf: clock.AsOf, View: view,
		Stats: st, values: t.values, bms: bms}
	hist = append(hist, v)
	keep := s.cfg.KeepVersions
	if keep <= 0 {
		keep = DefaultKeepVersions
	}
	if len(hist) > keep {
		hist = slices.Clone(hist[len(hist)-keep:])
	}
	s.versions[t.def.Name] = hist
	s.lastVersion[t.def.Name] = n
	return v
}

// DefaultKeepVersions is how many versions of each tag a Set keeps when
// Config.KeepVersions is zero: the current one and the one before it.
const DefaultKeepVersions = 2

// Versions returns the kept versions of a tag, oldest first.
func (s *Set) Versions(tag string) []*Version {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	return slices.Clone(s.versions[tag])
}

// Release drops a tag's kept versions numbered up to and including n, so
// their bitmaps and index views can be reclaimed.
func (s *Set) Release(tag string, n uint64) {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	hist := s.versions[tag]
	i := 0
	for i < len(hist) && hist[i].Number <= n {
		i++
	}
	s.versions[tag] = slices.Clone(hist[i:])
}
