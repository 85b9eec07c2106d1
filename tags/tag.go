package tags

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
)

// Kind is the kind of a tag.
type Kind uint8

const (
	// KindBool: a rule decides whether a member has the tag.
	KindBool Kind = iota + 1
	// KindEnum: a member has at most one of the tag's declared values, chosen
	// by ordered cases (first match wins, optional default) or by an
	// expression returning one of the values.
	KindEnum
	// KindManual: members are set and cleared by API or bulk import; with
	// Values, each member has at most one of them.
	KindManual
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindBool:
		return "bool"
	case KindEnum:
		return "enum"
	case KindManual:
		return "manual"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Case is one branch of an enumerated tag: members for which When holds
// (and no earlier case held) get Value.
type Case struct {
	When  string
	Value string
}

// Definition declares a tag. Exactly one of Rule, Cases, Expr or Manual
// says what decides its members.
type Definition struct {
	// Name identifies the tag in has_tag() and in the index. Letters
	// (any script), digits, '_', '-', '.' and ':' are allowed.
	Name string
	// Category is a '/'-separated path for grouping, e.g. "health/chronic".
	Category string
	// Description says what the tag means, for the people who use it.
	Description string
	// Owner is who answers for the tag.
	Owner string

	// Rule makes a boolean tag: a CEL expression returning bool.
	Rule string
	// Cases make an enumerated tag: the first case whose When holds gives
	// the value; Default (if not empty) applies when none holds. Values may
	// be omitted: it defaults to the case values and Default, in order.
	Cases   []Case
	Default string
	// Expr makes an enumerated tag from a CEL expression returning a
	// string, which must be one of Values.
	Expr string
	// Values declares an enumerated or manual tag's values, in order.
	Values []string
	// Manual makes a tag that API calls set and clear (Values optional).
	Manual bool
}

// Tag is a compiled tag definition. It is immutable and safe for
// concurrent use.
type Tag struct {
	def     Definition
	id      int
	version int
	kind    Kind
	rule    *Rule   // Bool
	cases   []*Rule // Enum by cases
	expr    *Rule   // Enum by expression
	values  []string
	valueIx map[string]int
	deps    []tagRef
	deflt   int // value index of Default, or -1
}

// Name returns the tag's name.
func (t *Tag) Name() string { return t.def.Name }

// Kind returns the tag's kind.
func (t *Tag) Kind() Kind { return t.kind }

// Definition returns the definition the tag was compiled from.
func (t *Tag) Definition() Definition {
	d := t.def
	d.Cases = slices.Clone(d.Cases)
	d.Values = slices.Clone(d.Values)
	return d
}

// Version counts the tag's definitions: 1 when first defined, +1 for each
// redefinition.
func (t *Tag) Version() int { return t.version }

// Values returns the declared values of an enumerated or manual tag (nil
// for a boolean tag).
func (t *Tag) Values() []string { return slices.Clone(t.values) }

// Deps returns the names of the tags the tag's rules reference.
func (t *Tag) Deps() []string {
	var out []string
	for _, d := range t.deps {
		if !slices.Contains(out, d.name) {
			out = append(out, d.name)
		}
	}
	return out
}

// hasValues reports whether the tag is stored as an enum (values) rather
// than a single bitmap.
func (t *Tag) hasValues() bool { return len(t.values) > 0 }

// rules returns every compiled expression of the tag.
func (t *Tag) rules() []*Rule {
	switch {
	case t.rule != nil:
		return []*Rule{t.rule}
	case t.expr != nil:
		return []*Rule{t.expr}
	}
	return t.cases
}

// perMemberPath is how the tag's rules run when not pushed down: compiled
// unless some rule needs cel-go.
func (t *Tag) perMemberPath() Path {
	for _, r := range t.rules() {
		if r.fast == nil {
			return PathCEL
		}
	}
	return PathCompiled
}

// Why says why the tag runs on cel-go, if it does.
func (t *Tag) Why() string {
	for _, r := range t.rules() {
		if r.fast == nil {
			return r.why
		}
	}
	return ""
}

func validTagName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty tag name", ErrInvalidDefinition)
	}
	if len(name) > 200 {
		return fmt.Errorf("%w: tag name longer than 200 bytes", ErrInvalidDefinition)
	}
	for _, r := range name {
		switch {
		case r == '_', r == '-', r == '.', r == ':':
		case r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'):
		case r >= 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
		default:
			return fmt.Errorf("%w: tag name %q: character %q not allowed", ErrInvalidDefinition, name, r)
		}
	}
	return nil
}

// compileTag checks a definition and compiles its rules. id and version are
// assigned by the Set.
func compileTag(s *Schema, resolve tagResolver, d Definition, id, version int, limit uint64) (*Tag, error) {
	if err := validTagName(d.Name); err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: tag %q: %s", ErrInvalidDefinition, d.Name, fmt.Sprintf(format, args...))
	}
	n := 0
	for _, set := range []bool{d.Rule != "", len(d.Cases) > 0, d.Expr != "", d.Manual} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, bad("set exactly one of Rule, Cases, Expr or Manual")
	}
	if strings.Contains(d.Category, "//") || strings.HasPrefix(d.Category, "/") || strings.HasSuffix(d.Category, "/") {
		return nil, bad("category %q has an empty path element", d.Category)
	}
	t := &Tag{def: d, id: id, version: version, deflt: -1}
	t.def.Cases = slices.Clone(d.Cases)
	t.def.Values = slices.Clone(d.Values)
	values := slices.Clone(d.Values)
	if len(d.Cases) > 0 && len(values) == 0 {
		for _, c := range d.Cases {
			if !slices.Contains(values, c.Value) {
				values = append(values, c.Value)
			}
		}
		if d.Default != "" && !slices.Contains(values, d.Default) {
			values = append(values, d.Default)
		}
	}
	t.valueIx = make(map[string]int, len(values))
	for i, v := range values {
		if v == "" {
			return nil, bad("empty value")
		}
		if _, dup := t.valueIx[v]; dup {
			return nil, bad("value %q declared twice", v)
		}
		t.valueIx[v] = i
	}
	t.values = values
	if d.Default != "" && len(d.Cases) == 0 {
		return nil, bad("Default needs Cases")
	}
	switch {
	case d.Rule != "":
		if len(values) > 0 {
			return nil, bad("a boolean Rule takes no Values")
		}
		t.kind = KindBool
		r, err := compileRule(s, resolve, d.Name, "", d.Rule, cel.BoolType, limit)
		if err != nil {
			return nil, err
		}
		t.rule = r
	case len(d.Cases) > 0:
		t.kind = KindEnum
		for i, c := range d.Cases {
			if _, ok := t.valueIx[c.Value]; !ok {
				return nil, fmt.Errorf("tag %q case %d: value %q: %w", d.Name, i+1, c.Value, ErrUndeclaredValue)
			}
			r, err := compileRule(s, resolve, d.Name, fmt.Sprintf("case %d", i+1), c.When, cel.BoolType, limit)
			if err != nil {
				return nil, err
			}
			t.cases = append(t.cases, r)
		}
		if d.Default != "" {
			ix, ok := t.valueIx[d.Default]
			if !ok {
				return nil, fmt.Errorf("tag %q default %q: %w", d.Name, d.Default, ErrUndeclaredValue)
			}
			t.deflt = ix
		}
	case d.Expr != "":
		t.kind = KindEnum
		if len(values) == 0 {
			return nil, bad("Expr needs Values")
		}
		r, err := compileRule(s, resolve, d.Name, "value", d.Expr, cel.StringType, limit)
		if err != nil {
			return nil, err
		}
		if err := checkLiteralValues(r, t.valueIx); err != nil {
			return nil, err
		}
		t.expr = r
	default:
		t.kind = KindManual
	}
	for _, r := range t.rules() {
		for _, ref := range r.refs {
			if !slices.ContainsFunc(t.deps, func(x tagRef) bool { return x.id == ref.id && x.value == ref.value }) {
				t.deps = append(t.deps, ref)
			}
		}
	}
	return t, nil
}

// checkLiteralValues rejects, at definition time, a string literal the
// value expression can return that is not a declared value: the literal at
// the root and in the branches of conditionals.
func checkLiteralValues(r *Rule, valueIx map[string]int) error {
	var walk func(e ast.Expr) error
	walk = func(e ast.Expr) error {
		switch e.Kind() {
		case ast.LiteralKind:
			if s, ok := e.AsLiteral().(types.String); ok {
				if _, declared := valueIx[string(s)]; !declared {
					return r.errAt(e.ID(), "value %q is not declared", string(s))
				}
			}
		case ast.CallKind:
			c := e.AsCall()
			if c.FunctionName() == "_?_:_" {
				if err := walk(c.Args()[1]); err != nil {
					return err
				}
				return walk(c.Args()[2])
			}
		}
		return nil
	}
	return walk(r.ast.Expr())
}
