package tags

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cdpkit/cdpkit/segment"
)

// RefreshOptions tunes a refresh. The zero value (or nil) means defaults.
type RefreshOptions struct {
	// Tags are the rule tags to refresh; nil means all of them. has_tag of
	// a tag not refreshed reads its current members from the index.
	Tags []string
	// NoPushDown evaluates every tag member by member, even those whose
	// rules the index could answer (for comparison and benchmarks).
	NoPushDown bool
	// Workers overrides Config.Workers.
	Workers int
	// Progress, if not nil, is called with the number of records evaluated
	// so far, from worker goroutines, one call at a time.
	Progress func(members int)
}

// Result is what a refresh did.
type Result struct {
	// Versions holds the new version of each refreshed tag, in
	// topological order.
	Versions []*Version
	// Members is how many members the tags were evaluated for.
	Members int
	// BadRecords are the first MaxBadRecords records skipped; BadCount
	// counts them all.
	BadRecords []error
	BadCount   int
	// Before and After are the index as the refresh read it and as it left
	// it (After may include later writes by others).
	Before, After *segment.View
}

// Stats returns the refreshed tags' statistics, in topological order.
func (r *Result) Stats() []Stats {
	out := make([]Stats, len(r.Versions))
	for i, v := range r.Versions {
		out[i] = v.Stats
	}
	return out
}

// Refresh evaluates rule tags at clock and replaces their members in ix, all
// in one index transaction: readers see every refreshed tag's old members or
// every tag's new members, never a mix.
//
// Tags whose rules the index can answer are evaluated as bitmap plans (see
// Set.Plans) over the attributes the index holds, not over records: load
// changed records with Schema.LoadIndex before refreshing. The rest are
// evaluated member by member over records, on all cores.
// Members are the records' members; when records is nil every refreshed
// tag must push down and the members are the index's universe. A runtime
// error leaves that member untagged and is counted in the tag's Stats; bad
// records are skipped and reported; neither stops the refresh. When ctx is
// cancelled the index is left unchanged.
func (s *Set) Refresh(ctx context.Context, ix *segment.Index, clock Clock, records iter.Seq[*Record],
	opts *RefreshOptions) (*Result, error) {
	var o RefreshOptions
	if opts != nil {
		o = *opts
	}
	if err := clock.validate(); err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	cat := s.cur.Load()
	view := ix.View()
	pr, err := s.prepare(cat, view, clock, o.Tags, o.NoPushDown)
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	if records == nil && len(pr.run.tags) > 0 {
		names := make([]string, len(pr.run.tags))
		for i, t := range pr.run.tags {
			names[i] = t.def.Name
		}
		return nil, fmt.Errorf("refresh: tags %v are evaluated per member and need records", names)
	}
	res := &Result{Before: view}

	// Pushed tags first: per-member rules may read them through has_tag.
	pushedBms := make(map[int][]*roaring.Bitmap, len(pr.pushed))
	for _, t := range pr.order {
		pt, ok := pr.pushed[t.id]
		if !ok {
			continue
		}
		bms := make([]*roaring.Bitmap, len(pt.values))
		for i, p := range pt.values {
			if bms[i], err = view.Bitmap(p); err != nil {
				return nil, fmt.Errorf("refresh: tag %q: %w", t.def.Name, err)
			}
		}
		pushedBms[t.id] = bms
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	ext, err := newViewTags(cat, view, pr.run, pushedBms)
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	pr.run.ext = ext

	var universe *roaring.Bitmap
	var out *batchOut
	workers := o.Workers
	if workers <= 0 {
		workers = s.cfg.Workers
	}
	if records != nil {
		out, err = pr.run.batch(ctx, s.schema, records, workers, o.Progress)
		if err != nil {
			return nil, err
		}
		universe = out.members
		res.BadRecords, res.BadCount = out.bad, out.badCount
	} else {
		universe = view.Members()
	}
	res.Members = int(universe.GetCardinality())

	// A pushed tag errs only for members lacking a field its leaves read;
	// fields every member has are found once.
	complete := map[string]bool{}
	for _, pt := range pr.pushed {
		for _, a := range pt.attrs {
			if _, seen := complete[a]; seen {
				continue
			}
			has, err := view.Bitmap(segment.Has(a))
			if err != nil {
				return nil, fmt.Errorf("refresh: %w", err)
			}
			complete[a] = roaring.AndNot(universe, has).IsEmpty()
		}
	}

	// Collect each tag's new members and stats, in topological order.
	type newTag struct {
		t     *Tag
		bms   []*roaring.Bitmap
		stats Stats
	}
	var results []newTag
	for _, t := range pr.order {
		if bms, ok := pushedBms[t.id]; ok {
			st := newStats(t, PathPushDown)
			st.Members = res.Members
			for i, b := range bms {
				b.And(universe)
				b.RunOptimize()
				n := int(b.GetCardinality())
				st.Tagged += n
				if st.Values != nil {
					st.Values[i] = n
				}
			}
			pt := pr.pushed[t.id]
			decided := st.Tagged
			if pt.undecided != nil && !allComplete(pt.attrs, complete) {
				u, err := view.Bitmap(pt.undecided)
				if err != nil {
					return nil, fmt.Errorf("refresh: tag %q: %w", t.def.Name, err)
				}
				decided += int(u.AndCardinality(universe))
			} else if pt.undecided != nil {
				decided = res.Members
			}
			st.Missing = res.Members - decided
			results = append(results, newTag{t, bms, st})
			continue
		}
		i := pr.run.pos[t.id]
		results = append(results, newTag{t, out.bitmaps[i], out.stats[i]})
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	err = ix.Update(func(tx *segment.Tx) error {
		for _, nt := range results {
			if err := writeTag(tx, nt.t, nt.bms); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	res.After = ix.View()
	for _, nt := range results {
		res.Versions = append(res.Versions, s.addVersion(nt.t, clock, res.After, nt.bms, nt.stats))
	}
	return res, nil
}

func allComplete(attrs []string, complete map[string]bool) bool {
	for _, a := range attrs {
		if !complete[a] {
			return false
		}
	}
	return true
}

// writeTag replaces a tag's members in the index.
func writeTag(tx *segment.Tx, t *Tag, bms []*roaring.Bitmap) error {
	if !t.hasValues() {
		if err := tx.Declare(t.def.Name, segment.KindTag); err != nil {
			return fmt.Errorf("tag %q: %w", t.def.Name, err)
		}
		if err := tx.ReplaceTag(t.def.Name, bms[0]); err != nil {
			return fmt.Errorf("tag %q: %w", t.def.Name, err)
		}
		return nil
	}
	if err := tx.Declare(t.def.Name, segment.KindEnum); err != nil {
		return fmt.Errorf("tag %q: %w", t.def.Name, err)
	}
	values := make(map[string]*roaring.Bitmap, len(bms))
	for i, b := range bms {
		values[t.values[i]] = b
	}
	if err := tx.ReplaceEnum(t.def.Name, values); err != nil {
		return fmt.Errorf("tag %q: %w", t.def.Name, err)
	}
	return nil
}

// prepared is a refresh's division of its tags into pushed-down and
// per-member ones.
type prepared struct {
	order  []*Tag             // every refreshed tag, topological
	pushed map[int]*pushedTag // by tag id
	run    *run               // the per-member tags
}

func (s *Set) prepare(cat *catalog, view *segment.View, clock Clock, names []string, noPush bool) (*prepared, error) {
	want := map[string]bool{}
	for _, n := range names {
		t, ok := cat.byName[n]
		if !ok {
			return nil, fmt.Errorf("tag %q: %w", n, ErrUnknownTag)
		}
		if t.kind == KindManual {
			return nil, fmt.Errorf("tag %q: %w", n, ErrNotManual)
		}
		want[n] = true
	}
	pr := &prepared{pushed: map[int]*pushedTag{}}
	inRun := map[int]bool{}
	pl := &planner{asOfDay: DayNumber(clock.AsOf, clock.Location), pushed: pr.pushed, inRun: inRun, cat: cat,
		view: view}
	var perMember []string
	for _, t := range cat.order {
		if t.kind == KindManual || (names != nil && !want[t.def.Name]) {
			continue
		}
		pr.order = append(pr.order, t)
		if !noPush && pushable(t, inRun, view) {
			pt, ok, err := pl.tagPlans(t)
			if err != nil {
				return nil, fmt.Errorf("tag %q: %w", t.def.Name, err)
			}
			if ok {
				pr.pushed[t.id] = pt
				continue
			}
		}
		inRun[t.id] = true
		perMember = append(perMember, t.def.Name)
	}
	if perMember == nil {
		perMember = []string{}
	}
	run, err := newRun(cat, clock, perMember, nil)
	if err != nil {
		return nil, err
	}
	pr.run = run
	return pr, nil
}

// pushable reports whether a tag can be evaluated as plans in this refresh:
// its rules have push-down forms, the tags it references are not evaluated
// member by member here, and the index holds the fields its leaves read
// with the kinds they need (otherwise the per-member path, which reads the
// records, is the one that is right).
func pushable(t *Tag, inRun map[int]bool, view *segment.View) bool {
	forms, _, _, ok := t.pushForms()
	if !ok {
		return false
	}
	for _, d := range t.deps {
		if inRun[d.id] {
			return false
		}
	}
	for _, f := range forms {
		if !leavesIndexed(f, view) {
			return false
		}
	}
	return true
}

func leavesIndexed(p *pexpr, view *segment.View) bool {
	if p.op != pLeaf {
		for _, k := range p.kids {
			if !leavesIndexed(k, view) {
				return false
			}
		}
		return true
	}
	l := p.leaf
	want := segment.KindInt
	switch l.kind {
	case lTag:
		return true
	case lEnumIn:
		want = segment.KindEnum
	case lPresent:
		k, ok := view.FieldKind(l.attr)
		return ok && (k == segment.KindInt || k == segment.KindEnum)
	}
	k, ok := view.FieldKind(l.attr)
	return ok && k == want
}

// viewTags answers has_tag for tags a refresh does not evaluate per
// member: pushed tags from their fresh bitmaps, other tags from the index.
type viewTags struct {
	bms [][]*roaring.Bitmap // by tag id; per value
}

func newViewTags(cat *catalog, view *segment.View, r *run, fresh map[int][]*roaring.Bitmap) (*viewTags, error) {
	vt := &viewTags{bms: make([][]*roaring.Bitmap, len(cat.byID))}
	for id, bms := range fresh {
		vt.bms[id] = bms
	}
	for _, t := range r.tags {
		for _, d := range t.deps {
			if r.pos[d.id] >= 0 || vt.bms[d.id] != nil {
				continue
			}
			bms, err := currentMembers(view, cat.byID[d.id])
			if err != nil {
				return nil, err
			}
			vt.bms[d.id] = bms
		}
	}
	return vt, nil
}

// currentMembers reads a tag's members per value from the index; a tag the
// index does not hold yet has none.
func currentMembers(view *segment.View, t *Tag) ([]*roaring.Bitmap, error) {
	n := max(1, len(t.values))
	bms := make([]*roaring.Bitmap, n)
	kind, declared := view.FieldKind(t.def.Name)
	for i := range bms {
		var err error
		switch {
		case !declared:
			bms[i] = roaring.New()
		case t.hasValues() && kind == segment.KindEnum:
			bms[i], err = view.EnumValue(t.def.Name, t.values[i])
		case !t.hasValues() && kind == segment.KindTag:
			bms[i], err = view.Tag(t.def.Name)
		default:
			err = fmt.Errorf("tag %q is held in the index as a %v field", t.def.Name, kind)
		}
		if err != nil {
			return nil, err
		}
	}
	return bms, nil
}

func (v *viewTags) value(id int, member uint32) int {
	for i, b := range v.bms[id] {
		if b.Contains(member) {
			return i
		}
	}
	return -1
}

// Version is one refresh's result for one tag: its members at an as-of
// time. A Set keeps each tag's recent versions (Config.KeepVersions) until
// they are released, so that who entered and who left can be reported:
// with Changes, or with segment.Diff over two versions' Views.
// A Version is immutable and safe for concurrent use.
type Version struct {
	// Tag is the tag's name and Number counts its refreshes from 1.
	Tag    string
	Number uint64
	// Definition is the tag's definition version the refresh evaluated.
	Definition int
	// AsOf is the refresh's as-of time.
	AsOf time.Time
	// View is the index just after the refresh was written.
	View *segment.View
	// Stats are the refresh's statistics for the tag.
	Stats Stats

	values []string
	bms    []*roaring.Bitmap
}

// Members returns the members that had value (any value when value is "";
// "" for a boolean tag) in this version. The caller owns the bitmap.
func (v *Version) Members(value string) (*roaring.Bitmap, error) {
	if value == "" {
		return roaring.FastOr(v.bms...), nil
	}
	i := slices.Index(v.values, value)
	if i < 0 {
		return nil, fmt.Errorf("tag %q value %q: %w", v.Tag, value, ErrUndeclaredValue)
	}
	return v.bms[i].Clone(), nil
}

// Changes returns who entered (has value in cur but not in prev) and who
// left (the reverse), for a value or, with "", for the tag as a whole.
func Changes(prev, cur *Version, value string) (entered, left *roaring.Bitmap, err error) {
	if prev.Tag != cur.Tag {
		return nil, nil, fmt.Errorf("changes between tags %q and %q", prev.Tag, cur.Tag)
	}
	a, err := prev.Members(value)
	if err != nil {
		return nil, nil, err
	}
	b, err := cur.Members(value)
	if err != nil {
		return nil, nil, err
	}
	return roaring.AndNot(b, a), roaring.AndNot(a, b), nil
}
