package identity

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizeCNMobile(t *testing.T) {
	ok := []struct{ in, want string }{
		{"13800138000", "13800138000"},
		{"+86 138-0013-8000", "13800138000"},
		{"0086 13800138000", "13800138000"},
		{"008613800138000", "13800138000"},
		{"8613800138000", "13800138000"},
		{"86 138 0013 8000", "13800138000"},
		{"(+86) 138 0013 8000", "13800138000"},
		{"１３８００１３８０００", "13800138000"},
		{"＋８６ １３８－００１３－８０００", "13800138000"},
		{"138.0013.8000", "13800138000"},
		{"\t16612345678 ", "16612345678"},
		{"19912345678", "19912345678"},
	}
	for _, c := range ok {
		got, err := NormalizeCNMobile([]byte("keep:"), c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, "keep:"+c.want, string(got), c.in)
	}
	bad := []string{
		"1380013800",      // 10 digits
		"138001380001",    // 12 digits
		"12345678901",     // 12x is not a mobile range
		"10086",           // service number
		"+1 415 555 2671", // not China
		"1380013800a",
		"+86+13800138000",
		"138 0013 8000 ext 5",
		"",
		"86 1380013800", // 12 digits with the country code
		"99999999999999999999999",
	}
	for _, in := range bad {
		got, err := NormalizeCNMobile([]byte("keep:"), in)
		assert.Error(t, err, in)
		assert.Equal(t, "keep:", string(got), "%q: dst must come back unextended", in)
	}
}

func TestNormalizeEmail(t *testing.T) {
	ok := []struct{ in, want string }{
		{" Jane.Doe@Example.COM ", "jane.doe@example.com"},
		{"ÉLISE@Exemple.fr", "élise@exemple.fr"},
		{"a+tag@b.co", "a+tag@b.co"},
		{"quoted@odd@example.com", "quoted@odd@example.com"},
	}
	for _, c := range ok {
		got, err := NormalizeEmail(nil, c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, string(got))
	}
	for _, in := range []string{"no-at-sign", "@x.com", "a@", "a@localhost", "a@b.", "a@.com", "a b@c.com", "a@b\x00.com"} {
		_, err := NormalizeEmail(nil, in)
		assert.Error(t, err, in)
	}
}

func TestNormalizeTokenAndLower(t *testing.T) {
	got, err := NormalizeToken(nil, "  oABC_def-123\n")
	require.NoError(t, err)
	assert.Equal(t, "oABC_def-123", string(got))
	for _, in := range []string{"a b", "a\x00b", "a\u3000b", "bad\xffutf8"} {
		_, err := NormalizeToken(nil, in)
		assert.Error(t, err, "%q", in)
	}
	got, err = NormalizeLower(nil, " AbC-DEF ")
	require.NoError(t, err)
	assert.Equal(t, "abc-def", string(got))
	got, err = NormalizeLower([]byte("x"), "ÀB")
	require.NoError(t, err)
	assert.Equal(t, "xàb", string(got))
}

func TestDefaultJunk(t *testing.T) {
	junk := []string{"", "0", "0000", "-1", "NULL", "Null", "Undefined", "ANONYMOUS",
		"00:00:00:00:00:00", "00000000-0000-0000-0000-000000000000", "---", "  "}
	for _, v := range junk {
		assert.True(t, isDefaultJunk([]byte(v)), "%q", v)
	}
	real := []string{"null1", "1", "-2", "a", "张三", "0a", "100", "anon", "00000000-0000-0000-0000-000000000001"}
	for _, v := range real {
		assert.False(t, isDefaultJunk([]byte(v)), "%q", v)
	}

	// KeepDefaultBlocked stores what the filter would block.
	kinds := []Kind{{Name: "code", KeepDefaultBlocked: true}}
	h := newHarness(t, Config{Kinds: kinds})
	res := h.obs(id("code", "0"))
	assert.True(t, res.Created)
	_, err := h.r.Observe(Observation{Time: t0, Identifiers: []Identifier{id("code", "  ")}})
	assert.ErrorIs(t, err, ErrNoIdentifier, "an empty value is never an identifier")
}

func TestPanickingNormalizerIsRejectedNotFatal(t *testing.T) {
	kinds := []Kind{{Name: "card"}, {Name: "odd", Normalize: func(dst []byte, v string) ([]byte, error) {
		if v == "boom" {
			panic("host bug")
		}
		return append(dst, v...), nil
	}}}
	h := newHarness(t, Config{Kinds: kinds})
	res := h.obs(id("card", "1"), id("odd", "boom"))
	require.Len(t, res.Rejected, 1)
	assert.ErrorIs(t, res.Rejected[0].Err, ErrInvalid)
	assert.ErrorContains(t, res.Rejected[0].Err, "host bug")
	obs := make([]Observation, 600)
	for i := range obs {
		obs[i] = Observation{Time: t0, Identifiers: []Identifier{id("card", fmt.Sprint("c", i)), id("odd", "boom")}}
	}
	assert.NoError(t, h.r.ObserveBatch(obs, nil), "a batch survives it on its other goroutine")
}

func TestConfigValidation(t *testing.T) {
	bad := map[string]Config{
		"no kinds":              {},
		"empty name":            {Kinds: []Kind{{Name: ""}}},
		"duplicate":             {Kinds: []Kind{{Name: "a"}, {Name: "a"}}},
		"negative limit":        {Kinds: []Kind{{Name: "a", Limit: -1}}},
		"limit over cap":        {Kinds: []Kind{{Name: "a", Limit: 10}}, MaxIdentifiers: 5},
		"window without limit":  {Kinds: []Kind{{Name: "a", Window: time.Hour}}},
		"sub-second window":     {Kinds: []Kind{{Name: "a", Limit: 1, Window: time.Millisecond}}},
		"per scope unscoped":    {Kinds: []Kind{{Name: "a", Limit: 1, LimitPerScope: true}}},
		"bad pattern":           {Kinds: []Kind{{Name: "a", BlockedPatterns: []string{"("}}}},
		"invalid blocked value": {Kinds: []Kind{{Name: "p", Normalize: NormalizeCNMobile, Blocked: []string{"x"}}}},
		"caps out of range":     {Kinds: []Kind{{Name: "a"}}, MaxMerges: 1 << 20},
		"negative size hint":    {Kinds: []Kind{{Name: "a"}}, SizeHint: -1},
	}
	for name, cfg := range bad {
		_, err := New(cfg)
		assert.Error(t, err, name)
	}
	var many []Kind
	for i := range 31 {
		many = append(many, Kind{Name: fmt.Sprintf("k%d", i), Limit: 1})
	}
	_, err := New(Config{Kinds: many})
	assert.ErrorContains(t, err, "more than 30 kinds have a Limit")
	_, err = New(Config{Kinds: DefaultKinds(), SizeHint: 1 << 20})
	assert.NoError(t, err)
}
