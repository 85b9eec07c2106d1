package tags

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/segment"
)

// pushFixture loads records into a new index and assigns the manual tags.
func pushFixture(t *testing.T, set *Set, recs []*Record, loc *time.Location, manual map[string]map[string]*roaring.Bitmap) *segment.Index {
	t.Helper()
	ix := segment.New(&segment.Options{Location: loc})
	st, err := set.Schema().LoadIndex(context.Background(), ix, records(recs), loc)
	require.NoError(t, err)
	require.Equal(t, len(recs), st.Members)
	require.NoError(t, ix.Update(func(tx *segment.Tx) error {
		for tag, vals := range manual {
			if err := set.Import(tx, tag, vals); err != nil {
				return err
			}
		}
		return nil
	}))
	return ix
}

func versionBitmaps(t *testing.T, res *Result) map[string][]*roaring.Bitmap {
	out := map[string][]*roaring.Bitmap{}
	for _, v := range res.Versions {
		out[v.Tag] = v.bms
	}
	return out
}

// TestPushDownMatchesPerMember is the required property: on random rules
// over random data, the push-down path and the per-member path give
// identical bitmaps (and identical counts of tagged and missing members).
func TestPushDownMatchesPerMember(t *testing.T) {
	s := testSchema()
	loc := mustLoc(t, "America/New_York")
	clock := Clock{AsOf: time.Date(2024, 3, 10, 12, 0, 0, 0, loc), Location: loc}
	r := rand.New(rand.NewPCG(42, 4242))
	pushed, total := 0, 0
	for trial := range 25 {
		recs := make([]*Record, 300)
		for i := range recs {
			recs[i] = randRecord(r, s, uint32(i*7+r.IntN(7)), loc)
		}
		vip, gold, silver := roaring.New(), roaring.New(), roaring.New()
		for _, rec := range recs {
			switch r.IntN(4) {
			case 0:
				vip.Add(rec.ID)
			case 1:
				gold.Add(rec.ID)
			case 2:
				silver.Add(rec.ID)
			}
		}
		g := &gen{r: r, tags: []string{"vip"}, enums: map[string][]string{"seg": {"gold", "silver"}}}
		defs := []Definition{
			{Name: "vip", Manual: true},
			{Name: "seg", Manual: true, Values: []string{"gold", "silver"}},
		}
		for i := range 5 {
			name := fmt.Sprintf("r%d", i)
			rule := g.pushBool(1 + r.IntN(3))
			if r.IntN(5) == 0 {
				rule = "(" + rule + ") && i3 > 2" // not indexed: per member
			}
			defs = append(defs, Definition{Name: name, Rule: rule})
			g.tags = append(g.tags, name)
		}
		defs = append(defs,
			Definition{Name: "band", Cases: []Case{
				{When: g.pushBool(2), Value: "hi"}, {When: g.pushBool(2), Value: "mid"}, {When: g.pushBool(1), Value: "hi"},
			}, Default: g.pick("low", "")},
			Definition{Name: "pick", Expr: fmt.Sprintf(`%s ? "x" : (%s ? "y" : "z")`, g.pushBool(2), g.pushBool(2)),
				Values: []string{"x", "y", "z"}},
			Definition{Name: "top", Rule: `has_tag("band", "hi") || (has_tag("pick") && !has_tag("r0"))`},
		)
		for i := range defs {
			if defs[i].Default == "" && defs[i].Cases != nil {
				defs[i].Values = []string{"hi", "mid"}
			}
		}
		set := NewSet(s, nil)
		require.NoError(t, set.Define(defs...), "trial %d", trial)
		manual := map[string]map[string]*roaring.Bitmap{"vip": {"": vip}, "seg": {"gold": gold, "silver": silver}}

		ixPush := pushFixture(t, set, recs, loc, manual)
		ixInterp := pushFixture(t, set, recs, loc, manual)
		resPush, err := set.Refresh(context.Background(), ixPush, clock, records(recs), nil)
		require.NoError(t, err)
		resInterp, err := set.Refresh(context.Background(), ixInterp, clock, records(recs), &RefreshOptions{NoPushDown: true})
		require.NoError(t, err)

		want := versionBitmaps(t, resInterp)
		for i, v := range resPush.Versions {
			total++
			iv := resInterp.Versions[i]
			require.Equal(t, v.Tag, iv.Tag)
			require.NotEqual(t, PathPushDown, iv.Stats.Path)
			if v.Stats.Path == PathPushDown {
				pushed++
			}
			for j := range v.bms {
				if !assert.True(t, v.bms[j].Equals(want[v.Tag][j]), "trial %d tag %s value %d (%s)\nrule: %+v\npush: %v\ninterp: %v",
					trial, v.Tag, j, v.Stats.Path, ruleOf(set, v.Tag), v.bms[j], want[v.Tag][j]) {
					return
				}
			}
			assert.Equal(t, iv.Stats.Tagged, v.Stats.Tagged, "tag %s", v.Tag)
			assert.Equal(t, iv.Stats.Values, v.Stats.Values, "tag %s", v.Tag)
			assert.Equal(t, iv.Stats.Missing+iv.Stats.Errors, v.Stats.Missing+v.Stats.Errors, "tag %s: %+v vs %+v", v.Tag, v.Stats, iv.Stats)
		}
		// The index holds the same tags either way.
		vp, vi := ixPush.View(), ixInterp.View()
		for _, tg := range set.Tags() {
			if tg.Kind() == KindManual {
				continue
			}
			a, err := currentMembers(vp, tg)
			require.NoError(t, err)
			b, err := currentMembers(vi, tg)
			require.NoError(t, err)
			for j := range a {
				assert.True(t, a[j].Equals(b[j]), "index tag %s value %d", tg.Name(), j)
			}
		}
	}
	t.Logf("%d of %d tag evaluations pushed down", pushed, total)
	require.Greater(t, pushed, total/2, "most generated tags should push down")
}

func ruleOf(set *Set, tag string) Definition {
	t, _ := set.Tag(tag)
	return t.Definition()
}
