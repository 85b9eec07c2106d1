package tags

import (
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func semanticsSchema(t testing.TB) *Schema {
	s, err := NewSchema(
		Field{Name: "orders_90d", Type: Int},
		Field{Name: "spend", Type: Double},
		Field{Name: "name", Type: String},
		Field{Name: "vip", Type: Bool},
		Field{Name: "channels", Type: StringList},
		Field{Name: "cats", Type: CountMap},
	)
	require.NoError(t, err)
	return s
}

// evalBoth evaluates a rule on the compiled path (when it has one) and on
// cel-go, and fails the test if they disagree.
func evalBoth(t *testing.T, ev *Evaluator, r *Rule, rec *Record) (bool, *EvalError) {
	t.Helper()
	out, cerr := ev.celEval(r, rec)
	var cv bool
	if cerr == nil {
		cv = out == types.True
	}
	if r.fast != nil {
		fv, ferr := ev.evalBool(r, rec)
		require.Equal(t, cerr == nil, ferr == nil, "compiled and cel-go disagree on erring: %v vs %v", ferr, cerr)
		if cerr != nil {
			require.Equal(t, cerr.Kind, ferr.Kind, "error kinds: compiled %v, cel-go %v", ferr, cerr)
		}
		require.Equal(t, cv, fv, "compiled and cel-go disagree")
	}
	return cv, cerr
}

// TestSemantics pins the behaviour rule authors trip over. Every expected
// value is worked out from the CEL language definition by hand.
func TestSemantics(t *testing.T) {
	s := semanticsSchema(t)
	full := s.NewRecord(1) // every field set
	for name, v := range map[string]any{
		"orders_90d": 5, "spend": 12.5, "name": "药店A", "vip": false,
		"channels": []string{"miniapp", "store"}, "cats": map[string]int64{"diabetes": 3},
	} {
		require.NoError(t, full.Set(name, v))
	}
	zero := s.NewRecord(2) // every field set to its zero value
	for name, v := range map[string]any{
		"orders_90d": 0, "spend": 0.0, "name": "", "vip": false,
		"channels": []string{}, "cats": map[string]int64{},
	} {
		require.NoError(t, zero.Set(name, v))
	}
	empty := s.NewRecord(3) // no field set
	recs := map[string]*Record{"full": full, "zero": zero, "empty": empty}

	const (
		T = "true"
		F = "false"
	)
	cases := []struct {
		name, rule, rec string
		want            string    // T or F when no error
		err             ErrorKind // expected error kind, 0 for none
	}{
		// Absent fields are errors, not zero values.
		{"zero equals zero", "orders_90d == 0", "zero", T, 0},
		{"absent is not zero", "orders_90d == 0", "empty", "", ErrMissing},
		{"negating an absent comparison still errs", "!(orders_90d > 3)", "empty", "", ErrMissing},
		{"present on absent", "present(orders_90d)", "empty", F, 0},
		{"present on zero", "present(orders_90d)", "zero", T, 0},
		{"absent as zero, spelled out", "!present(orders_90d) || orders_90d < 3", "empty", T, 0},
		{"absent as zero, spelled out, set", "!present(orders_90d) || orders_90d < 3", "full", F, 0},
		{"empty string is a value", `name == ""`, "zero", T, 0},

		// && and || absorb errors from either side (commutative in CEL).
		{"or absorbs error on the left", "orders_90d > 3 || true", "empty", T, 0},
		{"or absorbs error on the right", "true || orders_90d > 3", "empty", T, 0},
		{"and absorbs error on the left", "orders_90d > 3 && false", "empty", F, 0},
		{"and absorbs error on the right", "false && orders_90d > 3", "empty", F, 0},
		{"and keeps the error when the other side is true", "orders_90d > 3 && true", "empty", "", ErrMissing},
		{"or keeps the error when the other side is false", "orders_90d > 3 || false", "empty", "", ErrMissing},
		{"missing map key absorbed by or", `cats["asthma"] > 0 || "miniapp" in channels`, "full", T, 0},
		{"missing map key not absorbed by and", `cats["asthma"] > 0 && "miniapp" in channels`, "full", "", ErrNoSuchKey},
		{"map select of a missing key", `cats.asthma > 0`, "full", "", ErrNoSuchKey},
		{"has() tests map keys", `has(cats.asthma) || has(cats.diabetes)`, "full", T, 0},
		{"ternary propagates its condition's error", "orders_90d > 3 ? true : true", "empty", "", ErrMissing},

		// Integer division truncates toward zero; double division does not.
		{"int division truncates", "orders_90d / 2 == 2", "full", T, 0},
		{"double division", "double(orders_90d) / 2.0 == 2.5", "full", T, 0},
		{"int modulus", "orders_90d % 3 == 2", "full", T, 0},
		{"negative division truncates toward zero", "-7 / 2 == -3", "full", T, 0},
		{"negative modulus keeps the dividend's sign", "-7 % 2 == -1", "full", T, 0},
		{"int division by zero errs", "orders_90d / 0 > 1", "full", "", ErrDivideByZero},
		{"int modulus by zero errs", "orders_90d % 0 == 0", "full", "", ErrDivideByZero},
		{"double division by zero is infinity", "spend / 0.0 > 1000.0", "full", T, 0},
		{"division error absorbed by or", "orders_90d / 0 > 1 || true", "full", T, 0},
		{"zero over zero is NaN, and NaN is not equal to itself", "0.0 / 0.0 == 0.0 / 0.0", "full", F, 0},
		{"NaN orders false", "spend / 0.0 - spend / 0.0 < 1.0", "full", F, 0},

		// size() counts code points.
		{"size counts code points", "size(name) == 3", "full", T, 0},
		{"size of a CJK literal", `size("药店") == 2`, "full", T, 0},
		{"prefix on unicode", `name.startsWith("药")`, "full", T, 0},

		// in is list membership; substrings need contains.
		{"in is not substring", `"mini" in channels`, "full", F, 0},
		{"substring through exists", `channels.exists(c, c.contains("mini"))`, "full", T, 0},
		{"in finds an element", `"store" in channels`, "full", T, 0},
		{"contains on a string", `name.contains("店")`, "full", T, 0},
		{"in on a map tests keys", `"diabetes" in cats`, "full", T, 0},

		// Quantifiers over empty lists.
		{"all over empty is true", `channels.all(c, c == "x")`, "zero", T, 0},
		{"exists over empty is false", `channels.exists(c, true)`, "zero", F, 0},
		{"exists_one over empty is false", `channels.exists_one(c, true)`, "zero", F, 0},
		{"filter of empty is empty", `size(channels.filter(c, true)) == 0`, "zero", T, 0},
		{"all holds", `channels.all(c, size(c) > 3)`, "full", T, 0},
		{"exists absorbs an element's error", `channels.exists(c, cats[c] > 0 || c == "store")`, "full", T, 0},
		{"all absorbs an error when another element is false", `channels.all(c, cats[c] > 0)`, "full", "", ErrNoSuchKey},
		{"exists_one does not absorb errors", `channels.exists_one(c, cats[c] > 0)`, "full", "", ErrNoSuchKey},

		// Integer overflow is an error, not wrap-around.
		{"addition overflow", "orders_90d + 9223372036854775807 > 0", "full", "", ErrOverflow},
		{"subtraction overflow", "-9223372036854775808 - orders_90d < 0", "full", "", ErrOverflow},
		{"multiplication overflow", "9223372036854775807 * orders_90d > 0", "full", "", ErrOverflow},
		{"negation overflow", "-(orders_90d - 9223372036854775807 - 6) > 0", "full", "", ErrOverflow},
		{"min int divided by -1", "(-9223372036854775803 - orders_90d) / -1 > 0", "full", "", ErrOverflow},
		{"double to int out of range", "int(spend * 1e18) > 0", "full", "", ErrOverflow},
		{"overflow absorbed by or", "orders_90d + 9223372036854775807 > 0 || vip == false", "full", T, 0},
		{"largest int is fine", "orders_90d + 9223372036854775802 == 9223372036854775807", "full", T, 0},
	}
	loc, err := LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	ev, err := NewEvaluator(Clock{AsOf: time.Date(2024, 3, 1, 0, 0, 0, 0, loc), Location: loc})
	require.NoError(t, err)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := s.Compile(c.name, c.rule)
			require.NoError(t, err)
			got, gerr := evalBoth(t, ev, r, recs[c.rec])
			if c.err != 0 {
				require.NotNil(t, gerr, "want a %v error, got %v", c.err, got)
				assert.Equal(t, c.err, gerr.Kind, gerr.Msg)
				return
			}
			require.Nil(t, gerr)
			assert.Equal(t, c.want == T, got)
			// The public API agrees.
			pub, perr := ev.Bool(r, recs[c.rec])
			require.NoError(t, perr)
			assert.Equal(t, got, pub)
		})
	}
}

// TestCompileErrors checks that bad rules fail at definition with the rule
// name and the line:column of the problem.
func TestCompileErrors(t *testing.T) {
	s := semanticsSchema(t)
	cases := []struct {
		name, rule string
		line, col  int
		msg        string
	}{
		{"typo in a field name", "ordrs_90d >= 3", 1, 1, "undeclared reference to 'ordrs_90d'"},
		{"double field against an int literal", "spend >= 100", 1, 7, "no matching overload for '_>=_' applied to '(double, int)'"},
		{"not a bool", "orders_90d + 1", 1, 1, "rule returns int, want bool"},
		{"second line", "orders_90d >= 3 &&\n  \"miniapp\" in chanels", 2, 16, "undeclared reference to 'chanels'"},
		{"syntax error", "orders_90d >=", 1, 14, "Syntax error"},
		{"has_tag without a set", `has_tag("vip")`, 1, 9, `unknown tag "vip"`},
		{"present of an expression", "present(orders_90d + 1)", 1, 20, "present() takes a field name"},
		{"bad regular expression", `name.matches("(")`, 1, 14, "invalid matches argument"},
		{"bad duration literal", `duration("3x") > duration("1h")`, 1, 10, "invalid duration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Compile("rule1", c.rule)
			require.Error(t, err)
			var ce *CompileError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "rule1", ce.Rule)
			assert.Equal(t, c.line, ce.Line, err.Error())
			assert.Equal(t, c.col, ce.Column, err.Error())
			assert.Contains(t, ce.Msg, c.msg)
			assert.Contains(t, err.Error(), `rule "rule1"`)
		})
	}
}

// TestCostLimit: a rule with nested comprehensions runs on cel-go under the
// cost limit, which stops it on a long list; the error is counted and the
// batch goes on.
func TestCostLimit(t *testing.T) {
	s := semanticsSchema(t)
	set := NewSet(s, &Config{CostLimit: 100_000})
	require.NoError(t, set.Define(Definition{Name: "pairs",
		Rule: `channels.exists(a, channels.exists(b, a + b == "zz"))`}))
	tg, _ := set.Tag("pairs")
	assert.Equal(t, PathCEL, set.Path("pairs"))
	assert.Equal(t, "nested comprehension", tg.Why())

	long := make([]string, 1000)
	for i := range long {
		long[i] = "x"
	}
	short := s.NewRecord(1)
	require.NoError(t, short.Set("channels", []string{"z", "y", "z"}))
	big := s.NewRecord(2)
	require.NoError(t, big.Set("channels", long))
	loc := time.UTC
	clock := Clock{AsOf: time.Date(2024, 1, 1, 0, 0, 0, 0, loc), Location: loc}
	run, err := newRun(set.cur.Load(), clock, nil, nil)
	require.NoError(t, err)
	out, err := run.batch(t.Context(), s, records([]*Record{short, big}), 1, nil)
	require.NoError(t, err)
	st := out.stats[0]
	assert.Equal(t, 1, st.Tagged, "the short list has the pair z+z")
	assert.Equal(t, 1, st.Errors)
	require.Len(t, st.Samples, 1)
	assert.Equal(t, uint32(2), st.Samples[0].Member)
	assert.Equal(t, ErrCostLimit, st.Samples[0].Err.Kind)
}
