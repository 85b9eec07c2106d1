package segment

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// Kind is the kind of a declared field.
type Kind uint8

// The kinds of field an index holds.
const (
	// KindTag is a set of members: one bitmap ("vip").
	KindTag Kind = iota + 1
	// KindEnum is a field with string values, one bitmap per value; a
	// member has at most one value ("tier" = "gold").
	KindEnum
	// KindInt is a signed int64 attribute held as a bit-sliced index
	// ("spend_90d" in fen). A member without a value matches no comparison.
	KindInt
	// KindEvent is an event type with one bitmap per calendar day, for
	// activity windows ("purchase" in the last 30 days).
	KindEvent
)

var kindNames = [...]string{KindTag: "tag", KindEnum: "enum", KindInt: "int", KindEvent: "event"}

// String returns the kind's name: tag, enum, int or event.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k >= KindTag && k <= KindEvent }

// Field is a declared field of an index.
type Field struct {
	Name string
	Kind Kind
}

// Options configures an index. The zero value (or nil) means defaults.
type Options struct {
	// Location is where calendar days begin and end for event fields:
	// activity recorded at a time is filed under that time's date in
	// Location. Nil means UTC.
	Location *time.Location
}

// Index is the member index: declared fields holding bitmaps, bit-sliced
// integers and day bitmaps over dense uint32 member IDs, plus saved
// segments.
//
// An Index is safe for concurrent use. Writes go through Update, one at a
// time; readers take a View, which never changes and never waits for a
// writer.
type Index struct {
	mu     sync.Mutex // serialises writers
	cur    atomic.Pointer[state]
	nextTx uint64 // guarded by mu
	loc    *time.Location
}

// state is one immutable version of the index. A transaction builds the next
// state by copying what it changes, down to the 64Ki-member chunk.
type state struct {
	tx       uint64 // the transaction that built this state value
	version  uint64
	loc      *time.Location
	fields   map[string]*field
	members  *bitmap // every member any field has ever held, less erased ones
	segments map[string]*saved
	prep     *prepCache // plans prepared against this state; nil until published
}

// field is one declared field. Which members are set depends on kind.
type field struct {
	tx   uint64
	name string
	kind Kind
	tag  *bitmap            // KindTag
	enum map[string]*bitmap // KindEnum: value → members
	num  *bsi               // KindInt
	days map[Day]*bitmap    // KindEvent
}

// saved is a saved segment.
type saved struct {
	name string
	plan *Plan
	refs []string // segments the plan references directly
}

// New returns an empty index.
func New(opts *Options) *Index {
	loc := time.UTC
	if opts != nil && opts.Location != nil {
		loc = opts.Location
	}
	ix := &Index{loc: loc}
	ix.cur.Store(&state{
		loc:      loc,
		fields:   map[string]*field{},
		members:  &bitmap{},
		segments: map[string]*saved{},
		prep:     &prepCache{},
	})
	return ix
}

// Location returns the location in which the index divides time into days.
func (ix *Index) Location() *time.Location { return ix.loc }

// View returns the current version of the index. It costs a pointer load
// and a small allocation; the view stays valid and unchanged however long it
// is held and whatever writers do meanwhile.
func (ix *Index) View() *View { return &View{st: ix.cur.Load()} }

// Update runs fn in a write transaction. Writers take turns; readers are
// never blocked. If fn returns nil, every change it made becomes visible to
// new views at once; if it returns an error (or panics), none does and
// Update returns that error. The Tx must not be used after fn returns.
func (ix *Index) Update(fn func(tx *Tx) error) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.nextTx++
	base := ix.cur.Load()
	tx := &Tx{id: ix.nextTx, base: base}
	st := *base
	st.tx = tx.id
	st.prep = nil // the state is written until published: prepare nothing against it
	tx.st = &st
	defer func() { tx.closed = true }()
	if err := fn(tx); err != nil {
		return err
	}
	if tx.dirty {
		st.version = base.version + 1
		st.prep = &prepCache{}
		ix.cur.Store(&st)
	}
	return nil
}

// View is one consistent, immutable version of an index. Every read and every
// plan evaluated on a View sees the same data however long it takes.
//
// A View is safe for concurrent use. It holds the version's memory until it
// is dropped, so long-lived views of a fast-changing index cost memory for
// the chunks that changed since.
type View struct {
	st      *state
	asOf    Day
	hasAsOf bool
}

// Version counts the transactions that changed the index before this view
// was taken; it starts at 0 for an empty index and survives snapshots.
func (v *View) Version() uint64 { return v.st.version }

// Location returns the location in which the view's index divides time into
// days.
func (v *View) Location() *time.Location { return v.st.loc }

// At returns a view of the same version whose activity windows end on the
// calendar day of asOf (in the index's location). Plans with active() need
// it; everything else ignores it.
func (v *View) At(asOf time.Time) *View {
	return &View{st: v.st, asOf: DayOf(asOf, v.st.loc), hasAsOf: true}
}

// AtDay is At for a day already computed.
func (v *View) AtDay(asOf Day) *View {
	return &View{st: v.st, asOf: asOf, hasAsOf: true}
}

// AsOf returns the day activity windows end on, and false when the view has
// none (it came from Index.View without At).
func (v *View) AsOf() (Day, bool) { return v.asOf, v.hasAsOf }

// Fields returns the declared fields sorted by name.
func (v *View) Fields() []Field {
	out := make([]Field, 0, len(v.st.fields))
	for _, name := range slices.Sorted(maps.Keys(v.st.fields)) {
		out = append(out, Field{Name: name, Kind: v.st.fields[name].kind})
	}
	return out
}

// Field returns the declared field called name.
func (v *View) Field(name string) (Field, bool) {
	f, ok := v.st.fields[name]
	if !ok {
		return Field{}, false
	}
	return Field{Name: name, Kind: f.kind}, true
}

// FieldKind returns the kind of the field called name; it makes a View a
// Schema for Compile.
func (v *View) FieldKind(name string) (Kind, bool) {
	f, ok := v.st.fields[name]
	if !ok {
		return 0, false
	}
	return f.kind, true
}

// SegmentPlan returns the plan of the saved segment called name; with
// FieldKind it makes a View a Schema for Compile.
func (v *View) SegmentPlan(name string) (*Plan, bool) {
	s, ok := v.st.segments[name]
	if !ok {
		return nil, false
	}
	return s.plan, true
}

// Segments returns the names of the saved segments, sorted.
func (v *View) Segments() []string {
	return slices.Sorted(maps.Keys(v.st.segments))
}

// field looks up a field of the given kind.
func (st *state) field(name string, kind Kind) (*field, error) {
	f, ok := st.fields[name]
	if !ok {
		return nil, &FieldError{Field: name, Err: ErrUnknownField}
	}
	if f.kind != kind {
		return nil, &FieldError{Field: name, Kind: f.kind, Want: kind, Err: ErrKindMismatch}
	}
	return f, nil
}

// Members returns every member the index holds (the universe that negations
// are taken against). The caller owns the returned bitmap.
func (v *View) Members() *roaring.Bitmap { return v.st.members.toRoaring() }

// MemberCount returns the number of members the index holds.
func (v *View) MemberCount() uint64 { return v.st.members.card() }

// HasMember reports whether the index holds member id.
func (v *View) HasMember(id uint32) bool { return v.st.members.contains(id) }

// Tag returns the members with the tag. The caller owns the returned bitmap.
func (v *View) Tag(name string) (*roaring.Bitmap, error) {
	f, err := v.st.field(name, KindTag)
	if err != nil {
		return nil, err
	}
	return f.tag.toRoaring(), nil
}

// HasTag reports whether member id has the tag.
func (v *View) HasTag(name string, id uint32) (bool, error) {
	f, err := v.st.field(name, KindTag)
	if err != nil {
		return false, err
	}
	return f.tag.contains(id), nil
}

// EnumValues returns the values of an enum field that at least one member
// has, sorted.
func (v *View) EnumValues(name string) ([]string, error) {
	f, err := v.st.field(name, KindEnum)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(f.enum)), nil
}

// EnumValue returns the members whose enum field has value (an empty bitmap
// for a value nobody has). The caller owns the returned bitmap.
func (v *View) EnumValue(name, value string) (*roaring.Bitmap, error) {
	f, err := v.st.field(name, KindEnum)
	if err != nil {
		return nil, err
	}
	return f.enum[value].toRoaring(), nil
}

// Enum returns member id's value of an enum field, and false when it has
// none. It tests one bitmap per value.
func (v *View) Enum(name string, id uint32) (string, bool, error) {
	f, err := v.st.field(name, KindEnum)
	if err != nil {
		return "", false, err
	}
	val, ok := f.enumOf(id)
	return val, ok, nil
}

func (f *field) enumOf(id uint32) (string, bool) {
	for val, b := range f.enum {
		if b.contains(id) {
			return val, true
		}
	}
	return "", false
}

// Int returns member id's value of an int attribute, and false when it has
// none.
func (v *View) Int(name string, id uint32) (int64, bool, error) {
	f, err := v.st.field(name, KindInt)
	if err != nil {
		return 0, false, err
	}
	val, ok := f.num.get(id)
	return val, ok, nil
}

// IntColumn returns, for every member in [0, n), its value of an int
// attribute (0 where it has none) and the bitmap of members that have one:
// the bulk counterpart of Int, in the shape ReplaceIntColumn takes.
func (v *View) IntColumn(name string, n int) ([]int64, *roaring.Bitmap, error) {
	f, err := v.st.field(name, KindInt)
	if err != nil {
		return nil, nil, err
	}
	vals := f.num.column(n)
	return vals, f.num.exist.toRoaring(), nil
}

// Activity returns the members with activity of an event type on the
// calendar day of t. The caller owns the returned bitmap.
func (v *View) Activity(event string, t time.Time) (*roaring.Bitmap, error) {
	f, err := v.st.field(event, KindEvent)
	if err != nil {
		return nil, err
	}
	return f.days[DayOf(t, v.st.loc)].toRoaring(), nil
}

// ActivityDays returns the days on which an event type has any activity,
// in increasing order.
func (v *View) ActivityDays(event string) ([]Day, error) {
	f, err := v.st.field(event, KindEvent)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(f.days)), nil
}

// MemoryBytes estimates the memory the view's bitmaps hold (chunks shared
// with other versions are counted in each).
func (v *View) MemoryBytes() uint64 {
	s := v.st.members.sizeBytes()
	for _, f := range v.st.fields {
		s += f.sizeBytes()
	}
	return s
}

// FieldBytes estimates the memory one field's bitmaps hold.
func (v *View) FieldBytes(name string) (uint64, error) {
	f, ok := v.st.fields[name]
	if !ok {
		return 0, &FieldError{Field: name, Err: ErrUnknownField}
	}
	return f.sizeBytes(), nil
}

func (f *field) sizeBytes() uint64 {
	s := f.tag.sizeBytes()
	for _, b := range f.enum {
		s += b.sizeBytes()
	}
	for _, b := range f.days {
		s += b.sizeBytes()
	}
	if f.num != nil {
		s += f.num.exist.sizeBytes() + f.num.sign.sizeBytes()
		for _, p := range f.num.planes {
			s += p.sizeBytes()
		}
	}
	return s
}
