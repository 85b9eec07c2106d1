package tags

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzCompile: no rule text panics the compiler; every error is a
// positioned *CompileError; a rule that compiles evaluates on both paths to
// the same result.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		`i1 >= 3 && "miniapp" in l1`,
		`days_since(t1) <= 30 || has(m1.diabetes)`,
		`l1.exists(x, x.startsWith("a")) && size(s2) == 2`,
		`i1 / i2 > 0 ? s1 == "a" : present(d1)`,
		`in_last(t1, days(30)) && weekday(t2) == 0`,
		`l1.map(x, size(x)).filter(n, n > 1).size() > 0`,
		`m1.all(k, m1[k] > 0)`,
		`int(d1) + i3 * 2 - 9223372036854775807 > 0`,
		`timestamp("2024-01-01T00:00:00Z") < as_of() - duration("24h")`,
		`"药店" + s2 == s2`,
		`((((i1))))`,
		`l1[`,
		`has_tag("x")`,
		"i1 >\n\t= 3",
	} {
		f.Add(seed)
	}
	s := testSchema()
	loc := time.UTC
	ev, err := NewEvaluator(Clock{AsOf: time.Date(2024, 3, 10, 12, 0, 0, 0, loc), Location: loc})
	require.NoError(f, err)
	r := rand.New(rand.NewPCG(3, 3))
	recs := []*Record{randRecord(r, s, 1, loc), randRecord(r, s, 2, loc), s.NewRecord(3)}
	f.Fuzz(func(t *testing.T, src string) {
		rule, err := s.Compile("fuzz", src)
		if err != nil {
			var errs interface{ Unwrap() []error }
			list := []error{err}
			if errors.As(err, &errs) {
				list = errs.Unwrap()
			}
			for _, e := range list {
				var ce *CompileError
				require.ErrorAs(t, e, &ce, "error without a position: %v", e)
				assert.Equal(t, "fuzz", ce.Rule)
				assert.GreaterOrEqual(t, ce.Line, 1)
				assert.GreaterOrEqual(t, ce.Column, 1)
			}
			return
		}
		for _, rec := range recs {
			out, cerr := ev.celEval(rule, rec)
			if rule.fast == nil {
				continue
			}
			fv, ferr := ev.evalBool(rule, rec)
			require.Equal(t, cerr == nil, ferr == nil, "rule %q: compiled %v, cel-go %v", src, ferr, cerr)
			if cerr == nil {
				require.Equal(t, out == types.True, fv, "rule %q", src)
			}
		}
	})
}

// FuzzRecordJSON: no input panics the decoder; a decoded record encodes
// and decodes back to an equal record; a rejected input leaves the record
// unchanged.
func FuzzRecordJSON(f *testing.F) {
	for _, seed := range []string{
		`{"i1": 5, "d1": 1.5, "s1": "a", "s2": "", "b1": true}`,
		`{"t1": "2024-03-10T01:59:00-05:00", "du1": "-1h30m", "l1": ["a", "药店"], "m1": {"diabetes": 3}}`,
		`{"d1": "NaN", "i2": -9223372036854775808, "i3": 9223372036854775807}`,
		`{"i1": 1.5}`,
		`{"i1": null, "l1": []}`,
		`{"nope": 1}`,
		`{"s1": ""}`,
		`[1, 2]`,
		`{"t1": "0001-01-01T00:00:00Z"}`,
		`{"du1": "2562047h47m16.854775807s"} {}`,
	} {
		f.Add([]byte(seed))
	}
	s := testSchema()
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := s.NewRecord(7)
		require.NoError(t, rec.Set("i1", 42))
		before := s.NewRecord(7)
		require.NoError(t, before.CopyFrom(rec))
		if err := rec.SetJSON(data); err != nil {
			assert.True(t, rec.Equal(before), "a failed decode changed the record")
			return
		}
		enc, err := rec.MarshalJSON()
		require.NoError(t, err)
		back := s.NewRecord(7)
		require.NoError(t, back.SetJSON(enc), "re-decoding %s", enc)
		assert.True(t, back.Equal(rec), "round trip of %s", enc)
	})
}

func TestRecordJSON(t *testing.T) {
	s := retailSchema(t)
	rec := s.NewRecord(9)
	require.NoError(t, rec.SetJSON([]byte(`{"orders_90d": 5, "tier": "gold", "channels": ["store"],
		"rx_categories": {"diabetes": 3}, "last_order_at": "2024-03-01T10:00:00+08:00", "avg_basket": 86.5}`)))
	v, ok := rec.Value(0)
	require.True(t, ok)
	assert.Equal(t, int64(5), v)
	ts, _ := rec.Value(5)
	assert.True(t, ts.(time.Time).Equal(time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC)))

	cases := map[string]error{
		`{"orders_90d": 1.5}`:           ErrFieldType,
		`{"orders_90d": "5"}`:           ErrFieldType,
		`{"ordrs": 1}`:                  ErrUnknownField,
		`{"tier": ""}`:                  ErrFieldValue,
		`{"last_order_at": "xx"}`:       ErrFieldType,
		`{"channels": [1]}`:             ErrFieldType,
		`{"rx_categories": {"a": 1.5}}`: ErrFieldType,
	}
	for in, want := range cases {
		err := rec.SetJSON([]byte(in))
		assert.ErrorIs(t, err, want, in)
		assert.Contains(t, err.Error(), "member 9")
	}
	require.NoError(t, rec.SetJSON([]byte(`{"orders_90d": null}`)))
	assert.False(t, rec.Has(0))
}
