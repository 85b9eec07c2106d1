package segment

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompileOnSmallIndex(t *testing.T) {
	ix := smallIndex(t)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		return tx.SaveSegment("gold_vip", And(Tag("vip"), Enum("tier", "gold")))
	}))
	v := ix.View().At(asOf)
	cases := []struct {
		src  string
		want []uint32 // worked out from the table in smallIndex
	}{
		{`tag("vip")`, []uint32{0, 2, 4, 70000}},
		{`vip`, []uint32{0, 2, 4, 70000}},
		{`attr("vip")`, []uint32{0, 2, 4, 70000}},
		{`tag("tier", "gold")`, []uint32{0, 3, 70000}},
		{`tier == "gold"`, []uint32{0, 3, 70000}},
		{`"gold" == tier`, []uint32{0, 3, 70000}},
		{`tier != "gold"`, []uint32{1, 4}},
		{`!(tier == "gold")`, []uint32{1, 2, 4}},
		{`tier in ["silver", "bronze"]`, []uint32{1, 4}},
		{`tag("tier", ["silver", "bronze"])`, []uint32{1, 4}},
		{`spend >= 50000`, []uint32{0, 70000}},
		{`50000 <= spend`, []uint32{0, 70000}},
		{`spend < 0`, []uint32{2}},
		{`spend <= -500`, []uint32{2}},
		{`spend == 0u`, []uint32{4}},
		{`spend != 100`, []uint32{0, 2, 4, 70000}},
		{`age in [18, 35]`, []uint32{3, 70000}},
		{`between(age, 18, 35)`, []uint32{0, 3, 70000}},
		{`age.between(18, 35)`, []uint32{0, 3, 70000}},
		{`age >= 18 && age <= 35`, []uint32{0, 3, 70000}},
		{`has(spend) && !has(age)`, []uint32{4}},
		{`active("purchase", "1d")`, []uint32{0, 1, 70000}},
		{`active("purchase", 2)`, []uint32{0, 1, 4, 70000}},
		{`active(purchase, "1w")`, []uint32{0, 1, 4, 70000}},
		{`active("purchase", "5d", "2024-05-05")`, []uint32{0}},
		{`!active("purchase", "7d")`, []uint32{2, 3}},
		{`segment("gold_vip")`, []uint32{0, 70000}},
		{`segment("gold_vip") || tier == "silver"`, []uint32{0, 1, 70000}},
		{`vip && (tier == "gold" || spend < 0)`, []uint32{0, 2, 70000}},
		{"vip &&\n  !(tier == \"gold\")", []uint32{2, 4}},
		{`true`, []uint32{0, 1, 2, 3, 4, 70000}},
		{`false || vip && false`, nil},
		{`!vip`, []uint32{1, 3}},
		{`!!vip`, []uint32{0, 2, 4, 70000}},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			p, err := Compile(tc.src, v)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(t, v, p))
			// Without a schema the same plan compiles and evaluates alike.
			q, err := Compile(tc.src, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(t, v, q))
		})
	}
}

func TestCompileErrors(t *testing.T) {
	ix := smallIndex(t)
	require.NoError(t, ix.Update(func(tx *Tx) error {
		return tx.SaveSegment("gold_vip", And(Tag("vip"), Enum("tier", "gold")))
	}))
	v := ix.View()
	cases := []struct {
		src       string
		line, col int
		msg       string
		err       error // nil for syntax errors
	}{
		{`tag("nope")`, 1, 5, `unknown field "nope"`, ErrUnknownField},
		{"vip &&\n  spend >= 1 &&\n    sped > 5", 3, 5, `unknown field "sped"`, ErrUnknownField},
		{`tag("tier")`, 1, 5, `"tier" is an enum, not a tag`, ErrKindMismatch},
		{`tier`, 1, 1, `"tier" is an enum, not a tag`, ErrKindMismatch},
		{`vip >= 5`, 1, 1, `"vip" is a tag, not an int`, ErrKindMismatch},
		{`spend == "x"`, 1, 10, `"spend" compared with the string "x"`, ErrKindMismatch},
		{`tier == 5`, 1, 1, `"tier" is an enum, not an int`, ErrKindMismatch},
		{`tier < "gold"`, 1, 6, `enum "tier" supports ==, != and in, not <`, ErrInvalid},
		{`spend > 1.5`, 1, 9, `1.5 is not an integer`, ErrInvalid},
		{`spend > 18446744073709551615u`, 1, 9, `past the largest int64`, ErrInvalid},
		{`spend > age`, 1, 9, `not with another field`, ErrInvalid},
		{`5 > 3`, 1, 3, `compare a field with a constant`, ErrInvalid},
		{`age in []`, 1, 8, `empty list`, ErrInvalid},
		{`age in [1, "x"]`, 1, 12, `want an int constant`, ErrInvalid},
		{`tier in ["a", 1]`, 1, 15, `want a string enum value`, ErrInvalid},
		{`active("purchase", "0d")`, 1, 20, `want a number of days`, ErrInvalid},
		{`active("purchase", "30x")`, 1, 20, `want a number of days`, ErrInvalid},
		{`active("purchase", 40000)`, 1, 20, `want a number of days`, ErrInvalid},
		{`active("purchase", "3d", "May 1")`, 1, 26, `not a date`, ErrInvalid},
		{`active("vip", "3d")`, 1, 8, `"vip" is a tag, not an event`, ErrKindMismatch},
		{`active("purchase")`, 1, 1, `active takes an event`, ErrInvalid},
		{`segment("nope")`, 1, 9, `unknown segment "nope"`, ErrUnknownSegment},
		{`frobnicate(vip)`, 1, 1, `unknown function frobnicate`, ErrInvalid},
		{`  foo(vip)`, 1, 3, `unknown function foo`, ErrInvalid},
		{`vip + 1`, 1, 5, `operator + is not supported`, ErrInvalid},
		{`"vip"`, 1, 1, `"vip" is not a condition`, ErrInvalid},
		{`has(vip)`, 1, 5, `"vip" is a tag, not an enum or an int`, ErrKindMismatch},
		{`between(age, 1)`, 1, 1, `between takes a field and two bounds`, ErrInvalid},
		{`tag("")`, 1, 5, `empty tag name`, ErrInvalid},
		{`vip && && spend > 1`, 1, 8, `extraneous input '&&'`, nil},
		{"vip &&\n(spend > 1", 2, 11, `missing ')'`, nil},
		{`tag("vip"`, 1, 10, `missing ')'`, nil},
		{`a.b`, 1, 2, `the field selection .b is not a condition`, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			_, err := Compile(tc.src, v)
			var ee *ExprError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tc.line, ee.Line, "line: %v", err)
			assert.Equal(t, tc.col, ee.Column, "column: %v", err)
			assert.Contains(t, ee.Msg, tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("%d:%d: ", tc.line, tc.col)), err.Error())
			assert.Equal(t, strings.Split(tc.src, "\n")[tc.line-1], ee.Snippet)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
			} else {
				assert.Nil(t, ee.Err, "a syntax error wraps nothing")
			}
		})
	}
}

func TestCompileWithoutSchemaDefersNameChecks(t *testing.T) {
	p, err := Compile(`tag("nope") && spend > 5`, nil)
	require.NoError(t, err)
	v := smallIndex(t).View()
	_, err = v.Count(p)
	var ee *ExprError
	require.ErrorAs(t, err, &ee, "the position survives to evaluation")
	assert.Equal(t, 1, ee.Line)
	assert.Equal(t, 1, ee.Column)
	assert.ErrorIs(t, err, ErrUnknownField)
}

func TestCompileRejectsHugeAndInvalidInput(t *testing.T) {
	_, err := Compile(strings.Repeat("vip || ", MaxExprLen/7+1)+"vip", nil)
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = Compile("tag(\"\xff\")", nil)
	assert.ErrorIs(t, err, ErrInvalid)
	deep := strings.Repeat("!(", 300) + "vip" + strings.Repeat(")", 300)
	_, err = Compile(deep, nil)
	var ee *ExprError
	assert.ErrorAs(t, err, &ee, "nesting past the parser's limit is an error, not a stack overflow")
}

// TestPlanStringRoundTrip renders random plans, compiles the text and
// checks that the result renders identically and selects the same members.
func TestPlanStringRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	ix, _ := refData(t, rng, 70000)
	g := &planGen{rng: rng, day0: 19800}
	require.NoError(t, ix.Update(func(tx *Tx) error {
		for i := range 2 {
			name := fmt.Sprint("seg", i)
			require.NoError(t, tx.SaveSegment(name, g.plan(2)))
			g.segs = append(g.segs, name)
		}
		return nil
	}))
	v := ix.View().AtDay(g.day0 + 10)
	for i := range scaled(60) {
		p := g.plan(4)
		src := p.String()
		q, err := Compile(src, v)
		require.NoError(t, err, "plan %d: %s", i, src)
		assert.Equal(t, src, q.String(), "plan %d", i)
		if i%4 == 0 {
			a, err := v.Count(p)
			require.NoError(t, err)
			b, err := v.Count(q)
			require.NoError(t, err)
			assert.Equal(t, a, b, "plan %d: %s", i, src)
		}
	}
	// Names that are not identifiers, quotes and non-ASCII survive too.
	odd := And(Tag(`chronic: "diabetes"`), Enum("门店 city", "上海"), Cmp("in", Ge, -3), Not(Not(Tag("x"))))
	q, err := Compile(odd.String(), nil)
	require.NoError(t, err, odd.String())
	assert.Equal(t, odd.String(), q.String())
	assert.Equal(t, `tag("chronic: \"diabetes\"") && attr("门店 city") == "上海" && attr("in") >= -3 && !(!tag("x"))`, odd.String())
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`tag("vip") && spend_90d >= 50000 && !active("purchase", "30d")`,
		`tier in ["gold", "silver"] || between(age, 18, 35)`,
		`segment("refill_due") && age.between(-5, 9223372036854775807)`,
		`has(x) && x != -9223372036854775808`,
		`active("visit", "4w", "2024-02-29") || !(a || b) && attr("门店") == "上海"`,
		`tag("tier", ["a", "b"])`,
		`vip &&`, `(((`, `"\xff"`, `1.5`, `x in {}`, `[1][0]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src, nil)
		if err != nil {
			var ee *ExprError
			if !errors.As(err, &ee) {
				t.Fatalf("error without a position: %v", err)
			}
			if ee.Line < 1 || ee.Column < 1 {
				t.Fatalf("bad position %d:%d in %v", ee.Line, ee.Column, err)
			}
			return
		}
		// What compiles renders to text that compiles to the same text.
		out := p.String()
		q, err := Compile(out, nil)
		if err != nil {
			t.Fatalf("%q rendered as %q, which does not compile: %v", src, out, err)
		}
		if q.String() != out {
			t.Fatalf("%q rendered as %q, then as %q", src, out, q.String())
		}
	})
}
