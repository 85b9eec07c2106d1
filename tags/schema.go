package tags

import (
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
)

// Type is the type of a member-record field as rules see it.
type Type uint8

// Field types. Each maps to one CEL type; rules are type-checked against it.
const (
	// Int is a signed 64-bit integer (CEL int): counts, money in minor
	// units (fen), scores.
	Int Type = iota + 1
	// Double is a 64-bit float (CEL double). Comparing it with an int literal
	// is a compile error, as in CEL: write 3.0, not 3.
	Double
	// String is a UTF-8 string (CEL string).
	String
	// Bool is a boolean (CEL bool).
	Bool
	// Timestamp is an instant (CEL google.protobuf.Timestamp).
	Timestamp
	// Duration is a time span (CEL google.protobuf.Duration).
	Duration
	// StringList is a list of strings (CEL list(string)), such as the
	// channels a member bought through.
	StringList
	// CountMap maps strings to counts (CEL map(string, int)), such as
	// purchases per category.
	CountMap
)

var typeNames = [...]string{
	Int: "int", Double: "double", String: "string", Bool: "bool",
	Timestamp: "timestamp", Duration: "duration",
	StringList: "list(string)", CountMap: "map(string, int)",
}

// String returns the CEL spelling of the type.
func (t Type) String() string {
	if t >= Int && t <= CountMap {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

func (t Type) celType() *cel.Type {
	switch t {
	case Int:
		return cel.IntType
	case Double:
		return cel.DoubleType
	case String:
		return cel.StringType
	case Bool:
		return cel.BoolType
	case Timestamp:
		return cel.TimestampType
	case Duration:
		return cel.DurationType
	case StringList:
		return cel.ListType(cel.StringType)
	case CountMap:
		return cel.MapType(cel.StringType, cel.IntType)
	}
	return nil
}

// IndexAs says how a segment.Index holds a field's values. A rule whose
// leaves compare only indexed fields (and tags) is evaluated as a bitmap plan
// instead of member by member; see the package documentation.
type IndexAs uint8

const (
	// NotIndexed means the index does not hold the field; rules reading it
	// are evaluated member by member.
	NotIndexed IndexAs = iota
	// AsInt holds an Int field as an int attribute (a bit-sliced index) of
	// the same value. Members without a value have no value in the index.
	AsInt
	// AsEnum holds a String field as an enum field: one bitmap per distinct
	// value, a member in at most one. Members without a value are in none.
	AsEnum
	// AsDay holds a Timestamp field as an int attribute whose value is the
	// calendar day of the timestamp in the tenant's time zone, counted from
	// 1970-01-01 (day 0). days_since and days_until comparisons on the field
	// push down to it.
	AsDay
)

// Field declares one field of the member record.
type Field struct {
	// Name is the identifier rules use: ASCII letters, digits and '_',
	// not starting with a digit, not a CEL reserved word.
	Name string
	// Type is the field's type.
	Type Type
	// Doc describes the field for rule authors.
	Doc string
	// Index says whether and how a segment.Index holds the field.
	Index IndexAs
	// IndexName is the field's name in the index; empty means Name.
	IndexName string
}

// FieldID identifies a field of a Schema by its position in declaration
// order. Setting record values by FieldID avoids a name lookup.
type FieldID int

// Schema declares the member record that rules are checked against. A
// Schema is immutable once made and safe for concurrent use.
type Schema struct {
	fields []Field
	slots  []int // per field, its index in the record's slice for its type
	byName map[string]FieldID
	counts [CountMap + 1]int // fields per type
	env    *cel.Env
	chunks sync.Pool // *chunk, reused by batch evaluations
}

// celReserved are the identifiers CEL reserves (language definition,
// "Syntax"); a field named after one could never be referenced.
var celReserved = map[string]bool{
	"true": true, "false": true, "null": true, "in": true, "as": true,
	"break": true, "const": true, "continue": true, "else": true,
	"for": true, "function": true, "if": true, "import": true, "let": true,
	"loop": true, "package": true, "namespace": true, "return": true,
	"var": true, "void": true, "while": true,
}

func validIdent(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	for i, c := range name {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return fmt.Errorf("name %q: character %q at %d is not a letter, digit or '_'", name, c, i)
		}
	}
	if celReserved[name] {
		return fmt.Errorf("name %q is reserved in CEL", name)
	}
	if strings.HasPrefix(name, "__") {
		return fmt.Errorf("name %q: a leading \"__\" is reserved", name)
	}
	return nil
}

// NewSchema declares a member record. Field names must be unique valid
// identifiers; an Index binding must suit the type (AsInt for Int, AsEnum
// for String, AsDay for Timestamp).
func NewSchema(fields ...Field) (*Schema, error) {
	s := &Schema{
		fields: append([]Field(nil), fields...),
		slots:  make([]int, len(fields)),
		byName: make(map[string]FieldID, len(fields)),
	}
	opts := make([]cel.EnvOption, 0, len(fields)+1)
	for i, f := range s.fields {
		if err := validIdent(f.Name); err != nil {
			return nil, fmt.Errorf("schema field %d: %w", i, err)
		}
		if _, dup := s.byName[f.Name]; dup {
			return nil, fmt.Errorf("schema field %q declared twice", f.Name)
		}
		if f.Type < Int || f.Type > CountMap {
			return nil, fmt.Errorf("schema field %q: unknown type %d", f.Name, f.Type)
		}
		switch f.Index {
		case NotIndexed:
		case AsInt:
			if f.Type != Int {
				return nil, fmt.Errorf("schema field %q: AsInt needs an int field, not %s", f.Name, f.Type)
			}
		case AsEnum:
			if f.Type != String {
				return nil, fmt.Errorf("schema field %q: AsEnum needs a string field, not %s", f.Name, f.Type)
			}
		case AsDay:
			if f.Type != Timestamp {
				return nil, fmt.Errorf("schema field %q: AsDay needs a timestamp field, not %s", f.Name, f.Type)
			}
		default:
			return nil, fmt.Errorf("schema field %q: unknown index binding %d", f.Name, f.Index)
		}
		if f.Index != NotIndexed && f.IndexName == "" {
			s.fields[i].IndexName = f.Name
		}
		s.byName[f.Name] = FieldID(i)
		s.slots[i] = s.counts[f.Type]
		s.counts[f.Type]++
		opts = append(opts, cel.Variable(f.Name, f.Type.celType()))
	}
	env, err := newEnv(opts)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	s.env = env
	return s, nil
}

// Len returns the number of fields.
func (s *Schema) Len() int { return len(s.fields) }

// Field returns the declaration of field f; ok is false when f is out of
// range.
func (s *Schema) Field(f FieldID) (Field, bool) {
	if f < 0 || int(f) >= len(s.fields) {
		return Field{}, false
	}
	return s.fields[f], true
}

// Lookup returns the FieldID of the named field.
func (s *Schema) Lookup(name string) (FieldID, bool) {
	id, ok := s.byName[name]
	return id, ok
}

// Fields returns the field declarations in declaration order.
func (s *Schema) Fields() []Field { return append([]Field(nil), s.fields...) }
