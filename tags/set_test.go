package tags

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func retailSchema(t testing.TB) *Schema {
	s, err := NewSchema(
		Field{Name: "orders_90d", Type: Int, Index: AsInt},
		Field{Name: "spend_365d", Type: Int, Index: AsInt, Doc: "fen"},
		Field{Name: "tier", Type: String, Index: AsEnum},
		Field{Name: "channels", Type: StringList},
		Field{Name: "rx_categories", Type: CountMap},
		Field{Name: "last_order_at", Type: Timestamp, Index: AsDay},
		Field{Name: "avg_basket", Type: Double},
	)
	require.NoError(t, err)
	return s
}

func TestDefineKinds(t *testing.T) {
	set := NewSet(retailSchema(t), nil)
	require.NoError(t, set.Define(
		Definition{Name: "omni", Category: "channel/omni", Owner: "crm", Description: "buys online and in store",
			Rule: `"miniapp" in channels && "store" in channels`},
		Definition{Name: "value_tier", Category: "value", Cases: []Case{
			{When: "spend_365d >= 500000", Value: "high"},
			{When: "spend_365d >= 100000", Value: "mid"},
		}, Default: "low"},
		Definition{Name: "basket", Expr: `avg_basket >= 200.0 ? "big" : "small"`, Values: []string{"small", "big"}},
		Definition{Name: "contacted_7d", Manual: true},
		Definition{Name: "segment_owner", Manual: true, Values: []string{"store", "hq"}},
	))
	omni, ok := set.Tag("omni")
	require.True(t, ok)
	assert.Equal(t, KindBool, omni.Kind())
	assert.Equal(t, 1, omni.Version())
	assert.Equal(t, "channel/omni", omni.Definition().Category)
	assert.Equal(t, "crm", omni.Definition().Owner)
	vt, _ := set.Tag("value_tier")
	assert.Equal(t, KindEnum, vt.Kind())
	assert.Equal(t, []string{"high", "mid", "low"}, vt.Values(), "values default to the cases then the default")
	b, _ := set.Tag("basket")
	assert.Equal(t, []string{"small", "big"}, b.Values())
	m, _ := set.Tag("contacted_7d")
	assert.Equal(t, KindManual, m.Kind())

	require.NoError(t, set.ValidateValue("contacted_7d", ""))
	require.NoError(t, set.ValidateValue("segment_owner", "hq"))
	assert.ErrorIs(t, set.ValidateValue("segment_owner", "region"), ErrUndeclaredValue)
	assert.ErrorIs(t, set.ValidateValue("contacted_7d", "yes"), ErrUndeclaredValue)
	assert.ErrorIs(t, set.ValidateValue("omni", ""), ErrNotManual)
	assert.ErrorIs(t, set.ValidateValue("nope", ""), ErrUnknownTag)

	// Redefinition bumps the version and keeps metadata separate per version.
	require.NoError(t, set.Define(Definition{Name: "omni", Rule: `size(channels) >= 2`}))
	omni2, _ := set.Tag("omni")
	assert.Equal(t, 2, omni2.Version())
	assert.Equal(t, 1, omni.Version(), "the old Tag value is unchanged")
}

func TestDefineErrors(t *testing.T) {
	set := NewSet(retailSchema(t), nil)
	cases := []struct {
		name string
		defs []Definition
		is   error
		msg  string
	}{
		{"no rule", []Definition{{Name: "a"}}, ErrInvalidDefinition, "exactly one"},
		{"two kinds", []Definition{{Name: "a", Rule: "true", Manual: true}}, ErrInvalidDefinition, "exactly one"},
		{"bad name", []Definition{{Name: "a b", Rule: "true"}}, ErrInvalidDefinition, "not allowed"},
		{"empty category element", []Definition{{Name: "a", Rule: "true", Category: "health//x"}}, ErrInvalidDefinition, "empty path"},
		{"case value not declared", []Definition{{Name: "a", Cases: []Case{{When: "true", Value: "x"}}, Values: []string{"y"}}}, ErrUndeclaredValue, "case 1"},
		{"default not declared", []Definition{{Name: "a", Cases: []Case{{When: "true", Value: "x"}}, Default: "z", Values: []string{"x"}}}, ErrUndeclaredValue, "default"},
		{"duplicate value", []Definition{{Name: "a", Manual: true, Values: []string{"x", "x"}}}, ErrInvalidDefinition, "twice"},
		{"expr without values", []Definition{{Name: "a", Expr: `"x"`}}, ErrInvalidDefinition, "Values"},
		{"given twice", []Definition{{Name: "a", Rule: "true"}, {Name: "a", Rule: "false"}}, ErrInvalidDefinition, "twice"},
		{"named like an indexed field", []Definition{{Name: "tier", Manual: true, Values: []string{"x"}}}, ErrInvalidDefinition, "index holds field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := set.Define(c.defs...)
			require.Error(t, err)
			assert.ErrorIs(t, err, c.is)
			assert.Contains(t, err.Error(), c.msg)
			assert.Empty(t, set.Tags(), "a failed Define changes nothing")
		})
	}
}

func TestDefinePositionedErrors(t *testing.T) {
	set := NewSet(retailSchema(t), nil)
	require.NoError(t, set.Define(Definition{Name: "chronic", Manual: true, Values: []string{"diabetes", "hypertension"}}))
	cases := []struct {
		name      string
		def       Definition
		part      string
		line, col int
		msg       string
	}{
		{"unknown tag", Definition{Name: "x", Rule: `orders_90d > 1 && has_tag("vipp")`}, "", 1, 27, `unknown tag "vipp"`},
		{"undeclared value", Definition{Name: "x", Rule: `has_tag("chronic", "asthma")`}, "", 1, 20, `has no value "asthma"`},
		{"value of a boolean tag", Definition{Name: "x", Rule: `has_tag("x2", "a")`}, "", 1, 15, "boolean"},
		{"case with a type error", Definition{Name: "x", Cases: []Case{{When: "orders_90d > 1", Value: "a"}, {When: "avg_basket > 1", Value: "b"}}}, "case 2", 1, 12, "no matching overload"},
		{"expr returns an undeclared literal", Definition{Name: "x", Expr: `orders_90d > 3 ? "many" : "few"`, Values: []string{"many", "some"}}, "value", 1, 27, `value "few" is not declared`},
		{"expr returns an int", Definition{Name: "x", Expr: `orders_90d`, Values: []string{"a"}}, "value", 1, 1, "returns int, want string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defs := []Definition{c.def}
			if c.name == "value of a boolean tag" {
				defs = append(defs, Definition{Name: "x2", Rule: "true"})
			}
			err := set.Define(defs...)
			var ce *CompileError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "x", ce.Rule)
			assert.Equal(t, c.part, ce.Part)
			assert.Equal(t, c.line, ce.Line, err.Error())
			assert.Equal(t, c.col, ce.Column, err.Error())
			assert.Contains(t, ce.Msg, c.msg)
		})
	}
}

func TestCycles(t *testing.T) {
	set := NewSet(retailSchema(t), nil)
	err := set.Define(Definition{Name: "a", Rule: `has_tag("a")`})
	require.ErrorIs(t, err, ErrCycle)
	assert.Contains(t, err.Error(), "a → a")

	err = set.Define(
		Definition{Name: "a", Rule: `has_tag("b")`},
		Definition{Name: "b", Rule: `has_tag("c") || orders_90d > 1`},
		Definition{Name: "c", Rule: `!has_tag("a")`},
	)
	require.ErrorIs(t, err, ErrCycle)
	assert.Contains(t, err.Error(), "a → b → c → a")
	assert.Empty(t, set.Tags())

	// A cycle introduced by redefinition is caught too.
	require.NoError(t, set.Define(
		Definition{Name: "a", Rule: `has_tag("b")`},
		Definition{Name: "b", Rule: `orders_90d > 1`},
	))
	err = set.Define(Definition{Name: "b", Rule: `has_tag("a")`})
	require.ErrorIs(t, err, ErrCycle)
	assert.Contains(t, err.Error(), "a → b → a")
	b, _ := set.Tag("b")
	assert.Equal(t, 1, b.Version(), "the failed redefinition changed nothing")
}

func TestTopologicalOrderAndRemove(t *testing.T) {
	set := NewSet(retailSchema(t), nil)
	require.NoError(t, set.Define(
		Definition{Name: "target", Rule: `has_tag("chronic") && !has_tag("contacted_7d")`},
		Definition{Name: "chronic", Rule: `"diabetes" in rx_categories`},
		Definition{Name: "contacted_7d", Manual: true},
	))
	var order []string
	for _, tg := range set.Tags() {
		order = append(order, tg.Name())
	}
	assert.Less(t, indexOf(order, "chronic"), indexOf(order, "target"))
	assert.Less(t, indexOf(order, "contacted_7d"), indexOf(order, "target"))
	tg, _ := set.Tag("target")
	assert.ElementsMatch(t, []string{"chronic", "contacted_7d"}, tg.Deps())

	assert.ErrorIs(t, set.Remove("chronic"), ErrInUse)
	assert.ErrorIs(t, set.Remove("nope"), ErrUnknownTag)
	require.NoError(t, set.Remove("target"))
	require.NoError(t, set.Remove("chronic"))
	_, ok := set.Tag("chronic")
	assert.False(t, ok)

	// Redefining a referenced enum's values recompiles dependants; removing
	// a value they use fails.
	require.NoError(t, set.Define(
		Definition{Name: "risk", Manual: true, Values: []string{"low", "high"}},
		Definition{Name: "alert", Rule: `has_tag("risk", "high")`},
	))
	assert.NoError(t, set.Define(Definition{Name: "risk", Manual: true, Values: []string{"high", "low", "mid"}}))
	err := set.Define(Definition{Name: "risk", Manual: true, Values: []string{"low", "mid"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `breaks tag "alert"`)
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}
