package segment

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/RoaringBitmap/roaring/v2"
)

// Tx is a write transaction, valid only inside the function given to
// Index.Update. Its changes are invisible to views until that function
// returns nil. A method that returns an error has changed nothing, so fn may
// log a bad record and carry on with the rest.
//
// A Tx is not safe for concurrent use; bulk methods parallelise internally.
// Writes copy what they touch at the granularity of one 64Ki-member chunk of
// one bitmap, once per transaction: batch many small writes into one Update.
type Tx struct {
	id     uint64
	base   *state // the version the transaction started from
	st     *state // the version it is building
	dirty  bool
	closed bool

	fieldsOwned   bool
	segmentsOwned bool
}

func (tx *Tx) check() error {
	if tx.closed {
		return ErrTxClosed
	}
	return nil
}

// fieldsW returns the field map for writing.
func (tx *Tx) fieldsW() map[string]*field {
	if !tx.fieldsOwned {
		tx.st.fields = maps.Clone(tx.st.fields)
		tx.fieldsOwned = true
	}
	tx.dirty = true
	return tx.st.fields
}

// fieldW returns field name of kind for writing, copying it (not its
// bitmaps) the first time the transaction changes it.
func (tx *Tx) fieldW(name string, kind Kind) (*field, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	f, err := tx.st.field(name, kind)
	if err != nil {
		return nil, err
	}
	if f.tx != tx.id {
		g := *f
		g.tx = tx.id
		g.enum = maps.Clone(f.enum)
		g.days = maps.Clone(f.days)
		if f.num != nil {
			n := *f.num
			n.tx = tx.id
			n.planes = slices.Clone(f.num.planes)
			g.num = &n
		}
		f = &g
		tx.fieldsW()[name] = f
	}
	tx.dirty = true
	return f, nil
}

func (tx *Tx) addMember(id uint32) {
	tx.dirty = true
	add(tx.id, &tx.st.members, id)
}

// validName rejects names no expression could spell or a snapshot could
// hold cleanly.
func validName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty %s name: %w", what, ErrInvalid)
	case len(name) > 256:
		return fmt.Errorf("%s name %.20q… longer than 256 bytes: %w", what, name, ErrInvalid)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s name %q is not UTF-8: %w", what, name, ErrInvalid)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s name %q has a control character: %w", what, name, ErrInvalid)
		}
	}
	return nil
}

// Declare declares a field of the given kind. Declaring an existing field
// again with the same kind does nothing; with another kind it is an
// ErrKindMismatch. Tags, enums, ints and events share one namespace.
func (tx *Tx) Declare(name string, kind Kind) error {
	if err := tx.check(); err != nil {
		return err
	}
	if err := validName("field", name); err != nil {
		return err
	}
	if !kind.valid() {
		return fmt.Errorf("declare %q as %v: %w", name, kind, ErrInvalid)
	}
	if f, ok := tx.st.fields[name]; ok {
		if f.kind != kind {
			return &FieldError{Field: name, Kind: f.kind, Want: kind, Err: ErrKindMismatch}
		}
		return nil
	}
	f := &field{tx: tx.id, name: name, kind: kind}
	switch kind {
	case KindEnum:
		f.enum = map[string]*bitmap{}
	case KindInt:
		f.num = &bsi{tx: tx.id}
	case KindEvent:
		f.days = map[Day]*bitmap{}
	}
	tx.fieldsW()[name] = f
	return nil
}

// Drop removes a field and its data. It is ErrInUse while a saved segment
// references the field.
func (tx *Tx) Drop(name string) error {
	if err := tx.check(); err != nil {
		return err
	}
	if _, ok := tx.st.fields[name]; !ok {
		return &FieldError{Field: name, Err: ErrUnknownField}
	}
	for _, sname := range slices.Sorted(maps.Keys(tx.st.segments)) {
		if slices.Contains(tx.st.segments[sname].plan.fieldNames(), name) {
			return fmt.Errorf("drop field %q: segment %q uses it: %w", name, sname, ErrInUse)
		}
	}
	delete(tx.fieldsW(), name)
	return nil
}

// AddTag adds members to a tag (one or many; many are sorted first and
// cost about one pass over the chunks they touch).
func (tx *Tx) AddTag(name string, ids ...uint32) error {
	f, err := tx.fieldW(name, KindTag)
	if err != nil {
		return err
	}
	for _, id := range sortedIDs(ids) {
		add(tx.id, &f.tag, id)
		tx.addMember(id)
	}
	return nil
}

// RemoveTag removes members from a tag.
func (tx *Tx) RemoveTag(name string, ids ...uint32) error {
	f, err := tx.fieldW(name, KindTag)
	if err != nil {
		return err
	}
	for _, id := range sortedIDs(ids) {
		remove(tx.id, &f.tag, id)
	}
	return nil
}

func sortedIDs(ids []uint32) []uint32 {
	if len(ids) > 1 && !slices.IsSorted(ids) {
		ids = slices.Clone(ids)
		slices.Sort(ids)
	}
	return ids
}

// ReplaceTag makes a tag hold exactly the members of bm (which the index
// copies; the caller keeps it). The members join the index's universe.
func (tx *Tx) ReplaceTag(name string, bm *roaring.Bitmap) error {
	f, err := tx.fieldW(name, KindTag)
	if err != nil {
		return err
	}
	f.tag = bitmapFromRoaring(tx.id, bm)
	orInto(tx.id, &tx.st.members, f.tag)
	return nil
}

// ReplaceTagWords makes a tag hold exactly the members set in a dense bit
// column: bit i of w[j] is member 64j+i. It is the fastest bulk path for a
// dense tag and copies w.
func (tx *Tx) ReplaceTagWords(name string, w []uint64) error {
	f, err := tx.fieldW(name, KindTag)
	if err != nil {
		return err
	}
	f.tag = bitmapFromWords(tx.id, w)
	orInto(tx.id, &tx.st.members, f.tag)
	return nil
}

// SetEnum gives member id the value of an enum field, taking it out of its
// previous value, if any.
func (tx *Tx) SetEnum(name string, id uint32, value string) error {
	if err := validName("enum value", value); err != nil {
		return fmt.Errorf("field %q: %w", name, err)
	}
	f, err := tx.fieldW(name, KindEnum)
	if err != nil {
		return err
	}
	if old, ok := f.enumOf(id); ok {
		if old == value {
			return nil
		}
		tx.removeEnum(f, old, id)
	}
	b := f.enum[value]
	add(tx.id, &b, id)
	f.enum[value] = b
	tx.addMember(id)
	return nil
}

func (tx *Tx) removeEnum(f *field, value string, id uint32) {
	b := f.enum[value]
	remove(tx.id, &b, id)
	if b.card() == 0 {
		delete(f.enum, value)
	} else {
		f.enum[value] = b
	}
}

// ClearEnum removes member id's value of an enum field, if it has one.
func (tx *Tx) ClearEnum(name string, id uint32) error {
	f, err := tx.fieldW(name, KindEnum)
	if err != nil {
		return err
	}
	if old, ok := f.enumOf(id); ok {
		tx.removeEnum(f, old, id)
	}
	return nil
}

// ReplaceEnum makes an enum field hold exactly values: value → members. A
// member may have only one value; a member in two bitmaps is a
// *MemberError naming it, and nothing changes.
func (tx *Tx) ReplaceEnum(name string, values map[string]*roaring.Bitmap) error {
	f, err := tx.fieldW(name, KindEnum)
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(values))
	seen := roaring.New()
	for _, val := range names {
		if err := validName("enum value", val); err != nil {
			return fmt.Errorf("field %q: %w", name, err)
		}
		bm := values[val]
		if bm == nil {
			continue
		}
		if seen.Intersects(bm) {
			dup := roaring.And(seen, bm).Minimum()
			other, _ := firstWith(values, names, dup)
			return &MemberError{Field: name, Member: dup,
				Err: fmt.Errorf("has two values %q and %q: %w", other, val, ErrInvalid)}
		}
		seen.Or(bm)
	}
	enum := make(map[string]*bitmap, len(values))
	for _, val := range names {
		if b := bitmapFromRoaring(tx.id, values[val]); b.card() > 0 {
			enum[val] = b
			orInto(tx.id, &tx.st.members, b)
		}
	}
	f.enum = enum
	return nil
}

func firstWith(values map[string]*roaring.Bitmap, names []string, id uint32) (string, bool) {
	for _, val := range names {
		if values[val] != nil && values[val].Contains(id) {
			return val, true
		}
	}
	return "", false
}

// ReplaceEnumColumn makes an enum field hold a dense column: member i has
// value dict[codes[i]], or none when codes[i] < 0. A code past the end of
// dict is a *MemberError naming the member, and nothing changes.
func (tx *Tx) ReplaceEnumColumn(name string, dict []string, codes []int32) error {
	f, err := tx.fieldW(name, KindEnum)
	if err != nil {
		return err
	}
	for _, val := range dict {
		if err := validName("enum value", val); err != nil {
			return fmt.Errorf("field %q: %w", name, err)
		}
	}
	for i, c := range codes {
		if int(c) >= len(dict) {
			return &MemberError{Field: name, Member: uint32(i),
				Err: fmt.Errorf("code %d outside dictionary of %d values: %w", c, len(dict), ErrInvalid)}
		}
	}
	// Two dictionary entries may spell the same value; they share a bitmap.
	slot := make([]int, len(dict))
	index := map[string]int{}
	for i, val := range dict {
		j, ok := index[val]
		if !ok {
			j = len(index)
			index[val] = j
		}
		slot[i] = j
	}
	nchunks := (len(codes) + chunkSize - 1) / chunkSize
	per := make([]*bitmap, len(index))
	for i := range per {
		per[i] = &bitmap{tx: tx.id, c: make([]*container, nchunks)}
	}
	parallelChunks(nchunks, func(lo, hi int) {
		// Per value, the chunk's members as low bits: an enum of hundreds
		// of values (cities) has mostly small arrays, which words per value
		// would waste.
		lists := make([][]uint16, len(per))
		for k := lo; k < hi; k++ {
			for i := range lists {
				lists[i] = lists[i][:0]
			}
			base := k << chunkShift
			for j, c := range codes[base:min(len(codes), base+chunkSize)] {
				if c >= 0 {
					s := slot[c]
					lists[s] = append(lists[s], uint16(j))
				}
			}
			for i, l := range lists {
				if len(l) > 0 {
					per[i].c[k] = containerFromSorted(tx.id, slices.Clone(l))
				}
			}
		}
	})
	enum := make(map[string]*bitmap, len(index))
	for val, i := range index {
		b := per[i]
		for _, c := range b.c {
			if c != nil {
				b.n += uint64(c.n)
			}
		}
		b.trim()
		if b.n > 0 {
			enum[val] = b
			orInto(tx.id, &tx.st.members, b)
		}
	}
	f.enum = enum
	return nil
}

// SetInt gives member id the value v of an int attribute.
func (tx *Tx) SetInt(name string, id uint32, v int64) error {
	f, err := tx.fieldW(name, KindInt)
	if err != nil {
		return err
	}
	f.num.set(tx.id, id, v)
	tx.addMember(id)
	return nil
}

// ClearInt removes member id's value of an int attribute, if it has one.
func (tx *Tx) ClearInt(name string, id uint32) error {
	f, err := tx.fieldW(name, KindInt)
	if err != nil {
		return err
	}
	f.num.clear(tx.id, id)
	return nil
}

// ReplaceInt makes an int attribute hold exactly values[i] for members
// ids[i]. The slices must have the same length; a member listed twice is a
// *MemberError naming it, and nothing changes.
func (tx *Tx) ReplaceInt(name string, ids []uint32, values []int64) error {
	if err := tx.check(); err != nil {
		return err
	}
	if len(ids) != len(values) {
		return fmt.Errorf("field %q: %d ids but %d values: %w", name, len(ids), len(values), ErrInvalid)
	}
	if _, err := tx.st.field(name, KindInt); err != nil {
		return err
	}
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	for i := 1; i < len(order); i++ {
		if ids[order[i]] == ids[order[i-1]] {
			return &MemberError{Field: name, Member: ids[order[i]], Err: fmt.Errorf("listed twice: %w", ErrInvalid)}
		}
	}
	f, err := tx.fieldW(name, KindInt)
	if err != nil {
		return err
	}
	f.num = bsiFromPairs(tx.id, ids, values, order)
	orInto(tx.id, &tx.st.members, f.num.exist)
	return nil
}

// ReplaceIntColumn makes an int attribute hold a dense column: member i has
// values[i] if present is nil or contains i, and no value otherwise. A
// member of present at or past len(values) is a *MemberError, and nothing
// changes. Building 10M values takes well under a second.
func (tx *Tx) ReplaceIntColumn(name string, values []int64, present *roaring.Bitmap) error {
	if err := tx.check(); err != nil {
		return err
	}
	if _, err := tx.st.field(name, KindInt); err != nil {
		return err
	}
	var pb *bitmap
	if present != nil {
		if !present.IsEmpty() && uint64(present.Maximum()) >= uint64(len(values)) {
			return &MemberError{Field: name, Member: present.Maximum(),
				Err: fmt.Errorf("present but past the %d values: %w", len(values), ErrInvalid)}
		}
		pb = bitmapFromRoaring(tx.id, present)
	}
	return tx.replaceIntColumn(name, values, pb)
}

func (tx *Tx) replaceIntColumn(name string, values []int64, present *bitmap) error {
	f, err := tx.fieldW(name, KindInt)
	if err != nil {
		return err
	}
	f.num = bsiFromColumn(tx.id, values, present)
	orInto(tx.id, &tx.st.members, f.num.exist)
	return nil
}

// RecordActivity records activity of an event type by members on the
// calendar day of at, in the index's location.
func (tx *Tx) RecordActivity(event string, at time.Time, ids ...uint32) error {
	return tx.RecordActivityDay(event, DayOf(at, tx.st.loc), ids...)
}

// RecordActivityDay is RecordActivity for a day already computed.
func (tx *Tx) RecordActivityDay(event string, day Day, ids ...uint32) error {
	f, err := tx.fieldW(event, KindEvent)
	if err != nil {
		return err
	}
	b := f.days[day]
	for _, id := range sortedIDs(ids) {
		add(tx.id, &b, id)
		tx.addMember(id)
	}
	if b.card() > 0 {
		f.days[day] = b
	}
	return nil
}

// ReplaceActivity makes the activity of an event type on the calendar day
// of at exactly the members of bm (copied).
func (tx *Tx) ReplaceActivity(event string, at time.Time, bm *roaring.Bitmap) error {
	return tx.ReplaceActivityDay(event, DayOf(at, tx.st.loc), bm)
}

// ReplaceActivityDay is ReplaceActivity for a day already computed.
func (tx *Tx) ReplaceActivityDay(event string, day Day, bm *roaring.Bitmap) error {
	f, err := tx.fieldW(event, KindEvent)
	if err != nil {
		return err
	}
	b := bitmapFromRoaring(tx.id, bm)
	if b.card() == 0 {
		delete(f.days, day)
		return nil
	}
	f.days[day] = b
	orInto(tx.id, &tx.st.members, b)
	return nil
}

// DropActivityBefore forgets an event type's activity on days before the
// calendar day of t, to bound memory to the longest window in use.
func (tx *Tx) DropActivityBefore(event string, t time.Time) error {
	f, err := tx.fieldW(event, KindEvent)
	if err != nil {
		return err
	}
	cut := DayOf(t, tx.st.loc)
	maps.DeleteFunc(f.days, func(d Day, _ *bitmap) bool { return d < cut })
	return nil
}

// AddMembers adds members to the index's universe without giving them any
// field, so that negations ("not vip") count them.
func (tx *Tx) AddMembers(ids ...uint32) error {
	if err := tx.check(); err != nil {
		return err
	}
	for _, id := range sortedIDs(ids) {
		tx.addMember(id)
	}
	return nil
}

// AddMemberRange adds members lo..hi-1 to the index's universe.
func (tx *Tx) AddMemberRange(lo, hi uint32) error {
	if err := tx.check(); err != nil {
		return err
	}
	if lo >= hi {
		return nil
	}
	tx.dirty = true
	orInto(tx.id, &tx.st.members, bitmapFromRange(tx.id, uint64(lo), uint64(hi)))
	return nil
}

// MergeMember moves everything member loser has into member survivor, as
// when two identities turn out to be one person: tags and activity are
// OR'd; for enum and int fields the survivor keeps its own value and takes
// the loser's only when it has none. The loser is then erased.
func (tx *Tx) MergeMember(survivor, loser uint32) error {
	if err := tx.check(); err != nil {
		return err
	}
	if survivor == loser {
		return fmt.Errorf("merge member %d into itself: %w", loser, ErrInvalid)
	}
	if !tx.st.members.contains(loser) {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(tx.st.fields)) {
		f := tx.st.fields[name]
		switch f.kind {
		case KindTag:
			if f.tag.contains(loser) {
				f, _ = tx.fieldW(name, KindTag)
				add(tx.id, &f.tag, survivor)
			}
		case KindEnum:
			val, ok := f.enumOf(loser)
			if !ok {
				continue
			}
			if _, has := f.enumOf(survivor); !has {
				if err := tx.SetEnum(name, survivor, val); err != nil {
					return err
				}
			}
		case KindInt:
			val, ok := f.num.get(loser)
			if !ok {
				continue
			}
			if _, has := f.num.get(survivor); !has {
				if err := tx.SetInt(name, survivor, val); err != nil {
					return err
				}
			}
		case KindEvent:
			for day, b := range f.days {
				if b.contains(loser) {
					f, _ = tx.fieldW(name, KindEvent)
					nb := f.days[day]
					add(tx.id, &nb, survivor)
					f.days[day] = nb
				}
			}
		}
	}
	tx.addMember(survivor)
	return tx.RemoveMember(loser)
}

// RemoveMember erases member id from every field and from the universe.
func (tx *Tx) RemoveMember(id uint32) error {
	if err := tx.check(); err != nil {
		return err
	}
	if !tx.st.members.contains(id) {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(tx.st.fields)) {
		f := tx.st.fields[name]
		switch f.kind {
		case KindTag:
			if f.tag.contains(id) {
				f, _ = tx.fieldW(name, KindTag)
				remove(tx.id, &f.tag, id)
			}
		case KindEnum:
			if val, ok := f.enumOf(id); ok {
				f, _ = tx.fieldW(name, KindEnum)
				tx.removeEnum(f, val, id)
			}
		case KindInt:
			if f.num.exist.contains(id) {
				f, _ = tx.fieldW(name, KindInt)
				f.num.clear(tx.id, id)
			}
		case KindEvent:
			for day, b := range f.days {
				if !b.contains(id) {
					continue
				}
				f, _ = tx.fieldW(name, KindEvent)
				nb := f.days[day]
				remove(tx.id, &nb, id)
				if nb.card() == 0 {
					delete(f.days, day)
				} else {
					f.days[day] = nb
				}
			}
		}
	}
	tx.dirty = true
	remove(tx.id, &tx.st.members, id)
	return nil
}

// SaveSegment saves plan under name, replacing any segment of that name.
// The plan must check against the index's fields and saved segments; a plan
// that would reference the segment itself, directly or through others, is
// ErrCycle.
func (tx *Tx) SaveSegment(name string, plan *Plan) error {
	if err := tx.check(); err != nil {
		return err
	}
	if err := validName("segment", name); err != nil {
		return err
	}
	if err := plan.valid(); err != nil {
		return fmt.Errorf("segment %q: %w", name, err)
	}
	if path := tx.st.cyclePath(name, plan); path != nil {
		return fmt.Errorf("segment %q: %s: %w", name, formatPath(path), ErrCycle)
	}
	if err := checkPlan(tx.st, plan); err != nil {
		return fmt.Errorf("segment %q: %w", name, err)
	}
	tx.segmentsW()[name] = &saved{name: name, plan: plan, refs: plan.refs()}
	return nil
}

// DeleteSegment deletes a saved segment. It is ErrInUse while another saved
// segment references it.
func (tx *Tx) DeleteSegment(name string) error {
	if err := tx.check(); err != nil {
		return err
	}
	if _, ok := tx.st.segments[name]; !ok {
		return fmt.Errorf("segment %q: %w", name, ErrUnknownSegment)
	}
	for _, other := range slices.Sorted(maps.Keys(tx.st.segments)) {
		if slices.Contains(tx.st.segments[other].refs, name) {
			return fmt.Errorf("delete segment %q: segment %q uses it: %w", name, other, ErrInUse)
		}
	}
	delete(tx.segmentsW(), name)
	return nil
}

func (tx *Tx) segmentsW() map[string]*saved {
	if !tx.segmentsOwned {
		tx.st.segments = maps.Clone(tx.st.segments)
		tx.segmentsOwned = true
	}
	tx.dirty = true
	return tx.st.segments
}

// View returns a view of the index as the transaction found it when it
// began (its own changes are not visible; use HasTag, Enum and Int for
// those).
func (tx *Tx) View() *View { return &View{st: tx.base} }

// FieldKind returns the kind of a declared field, including fields the
// transaction declared; with SegmentPlan it makes a Tx a Schema, so
// expressions can be compiled against what the transaction is building.
func (tx *Tx) FieldKind(name string) (Kind, bool) { return (&View{st: tx.st}).FieldKind(name) }

// SegmentPlan returns the plan of a saved segment, including segments the
// transaction saved.
func (tx *Tx) SegmentPlan(name string) (*Plan, bool) { return (&View{st: tx.st}).SegmentPlan(name) }

// HasTag reports whether member id has the tag, including the
// transaction's own changes so far.
func (tx *Tx) HasTag(name string, id uint32) (bool, error) {
	return (&View{st: tx.st}).HasTag(name, id)
}

// Enum returns member id's value of an enum field, including the
// transaction's own changes so far.
func (tx *Tx) Enum(name string, id uint32) (string, bool, error) {
	return (&View{st: tx.st}).Enum(name, id)
}

// Int returns member id's value of an int attribute, including the
// transaction's own changes so far.
func (tx *Tx) Int(name string, id uint32) (int64, bool, error) {
	return (&View{st: tx.st}).Int(name, id)
}

// cyclePath returns the chain of segment references that leads from plan
// back to name, or nil when there is none.
func (st *state) cyclePath(name string, plan *Plan) []string {
	var walk func(refs []string, path []string, seen map[string]bool) []string
	walk = func(refs []string, path []string, seen map[string]bool) []string {
		for _, r := range refs {
			p := append(slices.Clone(path), r)
			if r == name {
				return p
			}
			if seen[r] {
				continue
			}
			seen[r] = true
			if s, ok := st.segments[r]; ok {
				if found := walk(s.refs, p, seen); found != nil {
					return found
				}
			}
		}
		return nil
	}
	return walk(plan.refs(), []string{name}, map[string]bool{})
}

func formatPath(path []string) string {
	s := ""
	for i, p := range path {
		if i > 0 {
			s += " → "
		}
		s += fmt.Sprintf("%q", p)
	}
	return s
}
