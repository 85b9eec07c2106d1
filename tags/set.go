package tags

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Config configures a Set. The zero value (or nil) means defaults.
type Config struct {
	// CostLimit is cel-go's cost limit per evaluation of one rule for one
	// member, for rules that run on cel-go; 0 means DefaultCostLimit.
	CostLimit uint64
	// Workers is how many goroutines a batch evaluation uses; 0 means
	// GOMAXPROCS.
	Workers int
	// KeepVersions is how many refreshed versions of each tag the Set
	// keeps (see Versions); 0 means DefaultKeepVersions.
	KeepVersions int
}

// Set holds the tag definitions of one tenant over one Schema. Define and
// Remove replace the definitions atomically; evaluations take a snapshot
// when they start, so a redefinition never changes a running batch. A Set
// is safe for concurrent use.
type Set struct {
	schema *Schema
	cfg    Config

	mu  sync.Mutex // serialises writers
	ids map[string]int
	cur atomic.Pointer[catalog]

	vmu         sync.Mutex // guards versions and lastVersion
	versions    map[string][]*Version
	lastVersion map[string]uint64
}

// catalog is an immutable snapshot of a Set's definitions.
type catalog struct {
	byName map[string]*Tag
	byID   []*Tag // nil where a tag was removed
	order  []*Tag // topological: every tag after the tags it references
	paths  []Path // by id: how a refresh of every tag evaluates it
}

// NewSet returns an empty set of tags over the schema.
func NewSet(s *Schema, cfg *Config) *Set {
	set := &Set{schema: s, ids: map[string]int{}, versions: map[string][]*Version{},
		lastVersion: map[string]uint64{}}
	if cfg != nil {
		set.cfg = *cfg
	}
	set.cur.Store(&catalog{byName: map[string]*Tag{}})
	return set
}

// Schema returns the set's schema.
func (s *Set) Schema() *Schema { return s.schema }

// Tag returns the current definition of the named tag.
func (s *Set) Tag(name string) (*Tag, bool) {
	t, ok := s.cur.Load().byName[name]
	return t, ok
}

// Tags returns every tag, each after the tags its rules reference.
func (s *Set) Tags() []*Tag { return slices.Clone(s.cur.Load().order) }

func (c *catalog) resolver() tagResolver {
	return func(name string) (tagInfo, bool) {
		t, ok := c.byName[name]
		if !ok {
			return tagInfo{}, false
		}
		return tagInfo{id: t.id, enum: t.hasValues(), values: t.values}, true
	}
}

// Define adds or replaces tags. All definitions are checked together, so
// they may reference each other in any order; either all take effect or
// none does. Redefining a tag increments its version and recompiles the
// tags that reference it. A dependency cycle is rejected with ErrCycle,
// naming the cycle.
func (s *Set) Define(defs ...Definition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	names := map[string]bool{}
	for _, d := range defs {
		if names[d.Name] {
			return fmt.Errorf("define: tag %q given twice: %w", d.Name, ErrInvalidDefinition)
		}
		names[d.Name] = true
		if err := validTagName(d.Name); err != nil {
			return fmt.Errorf("define: %w", err)
		}
		// Tags and indexed fields share the index's namespace.
		for _, f := range s.schema.fields {
			if f.Index != NotIndexed && f.IndexName == d.Name {
				return fmt.Errorf("define: tag %q: the index holds field %q under that name: %w",
					d.Name, f.Name, ErrInvalidDefinition)
			}
		}
	}
	// New names get ids now, but the id map only keeps them if Define
	// succeeds.
	ids := make(map[string]int, len(s.ids)+len(defs))
	for k, v := range s.ids {
		ids[k] = v
	}
	for _, d := range defs {
		if _, ok := ids[d.Name]; !ok {
			ids[d.Name] = len(ids)
		}
	}
	// Resolution during compilation sees the new definitions' shapes
	// (names, kinds, values) and the old ones for everything else.
	shapes := map[string]tagInfo{}
	for name, t := range old.byName {
		shapes[name] = tagInfo{id: t.id, enum: t.hasValues(), values: t.values}
	}
	for _, d := range defs {
		shapes[d.Name] = tagInfo{id: ids[d.Name], enum: len(d.Values) > 0 || len(d.Cases) > 0,
			values: declaredValues(d)}
	}
	resolve := func(name string) (tagInfo, bool) {
		ti, ok := shapes[name]
		return ti, ok
	}
	next := &catalog{byName: make(map[string]*Tag, len(old.byName)+len(defs))}
	for name, t := range old.byName {
		next.byName[name] = t
	}
	for _, d := range defs {
		version := 1
		if prev, ok := old.byName[d.Name]; ok {
			version = prev.version + 1
		}
		t, err := compileTag(s.schema, resolve, d, ids[d.Name], version, s.cfg.CostLimit)
		if err != nil {
			return fmt.Errorf("define: %w", err)
		}
		next.byName[d.Name] = t
	}
	// Tags that reference a redefined tag are recompiled: value indexes
	// may have moved, and a removed value must fail now, not at run time.
	for name, t := range old.byName {
		if names[name] {
			continue
		}
		refersToNew := slices.ContainsFunc(t.deps, func(r tagRef) bool { return names[r.name] })
		if !refersToNew {
			continue
		}
		nt, err := compileTag(s.schema, resolve, t.def, t.id, t.version, s.cfg.CostLimit)
		if err != nil {
			return fmt.Errorf("define: redefinition breaks tag %q: %w", name, err)
		}
		next.byName[name] = nt
	}
	if err := next.index(len(ids)); err != nil {
		return fmt.Errorf("define: %w", err)
	}
	s.ids = ids
	s.cur.Store(next)
	return nil
}

func declaredValues(d Definition) []string {
	if len(d.Values) > 0 || len(d.Cases) == 0 {
		return d.Values
	}
	var values []string
	for _, c := range d.Cases {
		if !slices.Contains(values, c.Value) {
			values = append(values, c.Value)
		}
	}
	if d.Default != "" && !slices.Contains(values, d.Default) {
		values = append(values, d.Default)
	}
	return values
}

// Remove deletes tags. A tag that a remaining tag references cannot be
// removed (ErrInUse); unknown names are ErrUnknownTag.
func (s *Set) Remove(names ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	gone := map[string]bool{}
	for _, n := range names {
		if _, ok := old.byName[n]; !ok {
			return fmt.Errorf("remove %q: %w", n, ErrUnknownTag)
		}
		gone[n] = true
	}
	next := &catalog{byName: map[string]*Tag{}}
	for name, t := range old.byName {
		if gone[name] {
			continue
		}
		for _, d := range t.deps {
			if gone[d.name] {
				return fmt.Errorf("remove %q: tag %q references it: %w", d.name, name, ErrInUse)
			}
		}
		next.byName[name] = t
	}
	if err := next.index(len(s.ids)); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	s.cur.Store(next)
	return nil
}

// index fills byID and the topological order, rejecting cycles.
func (c *catalog) index(nids int) error {
	c.byID = make([]*Tag, nids)
	names := make([]string, 0, len(c.byName))
	for name, t := range c.byName {
		c.byID[t.id] = t
		names = append(names, name)
	}
	// Sorted names make the order (and so evaluation and errors)
	// deterministic.
	slices.Sort(names)
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			i := slices.Index(stack, name)
			cycle := append(slices.Clone(stack[i:]), name)
			return fmt.Errorf("%w: %s", ErrCycle, strings.Join(cycle, " → "))
		}
		state[name] = visiting
		stack = append(stack, name)
		t := c.byName[name]
		deps := t.Deps()
		slices.Sort(deps)
		for _, d := range deps {
			if _, ok := c.byName[d]; !ok {
				return fmt.Errorf("tag %q references %q: %w", name, d, ErrUnknownTag)
			}
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		c.order = append(c.order, t)
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return err
		}
	}
	c.paths = make([]Path, nids)
	for _, t := range c.order {
		if t.kind == KindManual {
			continue
		}
		c.paths[t.id] = t.perMemberPath()
		if _, _, _, ok := t.pushForms(); !ok {
			continue
		}
		push := true
		for _, d := range t.deps {
			if dt := c.byID[d.id]; dt.kind != KindManual && c.paths[d.id] != PathPushDown {
				push = false
			}
		}
		if push {
			c.paths[t.id] = PathPushDown
		}
	}
	return nil
}

// ValidateValue checks a value for a manual tag: empty for a manual tag
// without values, one of its values otherwise.
func (s *Set) ValidateValue(tag, value string) error {
	t, ok := s.Tag(tag)
	if !ok {
		return fmt.Errorf("tag %q: %w", tag, ErrUnknownTag)
	}
	if t.kind != KindManual {
		return fmt.Errorf("tag %q is %s: %w", tag, t.kind, ErrNotManual)
	}
	return t.validate(value)
}

func (t *Tag) validate(value string) error {
	if !t.hasValues() {
		if value != "" {
			return fmt.Errorf("tag %q has no values, got %q: %w", t.def.Name, value, ErrUndeclaredValue)
		}
		return nil
	}
	if _, ok := t.valueIx[value]; !ok {
		return fmt.Errorf("tag %q value %q (declared: %s): %w", t.def.Name, value,
			strings.Join(t.values, ", "), ErrUndeclaredValue)
	}
	return nil
}
