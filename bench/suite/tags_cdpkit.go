package suite

import (
	"context"
	"fmt"
	"iter"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cdpkit/cdpkit/bench/harness"
	"github.com/cdpkit/cdpkit/internal/synth"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// tagsSchema is the member record of the tags suite, the fields of
// tagRecord. The scalar fields are indexed, so rules on them push down;
// the lists are not (an index holds no lists), so rules reading them run
// member by member.
func tagsSchema() (*tags.Schema, error) {
	return tags.NewSchema(
		tags.Field{Name: "age", Type: tags.Int, Index: tags.AsInt},
		tags.Field{Name: "gender", Type: tags.String, Index: tags.AsEnum},
		tags.Field{Name: "city", Type: tags.String, Index: tags.AsEnum},
		tags.Field{Name: "channel", Type: tags.String, Index: tags.AsEnum},
		tags.Field{Name: "channels", Type: tags.StringList},
		tags.Field{Name: "conditions", Type: tags.StringList},
		tags.Field{Name: "spend_365d", Type: tags.Int, Index: tags.AsInt},
		tags.Field{Name: "lapsed", Type: tags.Bool},
	)
}

// tagsCdpkit is cdpkit's side of the tags suite.
type tagsCdpkit struct {
	schema *tags.Schema
	recs   []*tags.Record
	clock  tags.Clock
}

// newTagsCdpkit builds a tags.Record per member from the peers' records,
// so both sides evaluate the same values already in memory.
func newTagsCdpkit(ctx context.Context, env *Env, d *tagData) (*tagsCdpkit, error) {
	s, err := tagsSchema()
	if err != nil {
		return nil, err
	}
	cfg := synth.Config{}
	g, err := newGenerator(env, cfg)
	if err != nil {
		return nil, err
	}
	gc := g.Config()
	c := &tagsCdpkit{schema: s, recs: make([]*tags.Record, len(d.recs)),
		clock: tags.Clock{AsOf: gc.End, Location: gc.Location}}
	var ids [8]tags.FieldID
	for i, name := range []string{"age", "gender", "city", "channel", "channels", "conditions", "spend_365d", "lapsed"} {
		f, ok := s.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("tags schema lacks field %s", name)
		}
		ids[i] = f
	}
	fAge, fGender, fCity, fChannel, fChannels, fConditions, fSpend, fLapsed := ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6], ids[7]
	task := env.Progress.Start("tags: building cdpkit records", int64(len(d.recs)))
	err = forChunks(ctx, env, task, func(lo, hi uint32) error {
		for i := lo; i < hi; i++ {
			r := &d.recs[i]
			rec := s.NewRecord(i)
			for _, err := range []error{
				rec.SetInt(fAge, r.Age), rec.SetString(fGender, r.Gender), rec.SetString(fCity, r.City),
				rec.SetString(fChannel, r.Channel), rec.SetList(fChannels, r.Channels),
				rec.SetList(fConditions, r.Conditions), rec.SetInt(fSpend, r.Spend365d), rec.SetBool(fLapsed, r.Lapsed),
			} {
				if err != nil {
					return fmt.Errorf("member %d: %w", i, err)
				}
			}
			c.recs[i] = rec
		}
		return nil
	})
	task.Done()
	return c, err
}

func (c *tagsCdpkit) records() iter.Seq[*tags.Record] { return slices.Values(c.recs) }

// ruleImpl evaluates ruleText member by member on the tags package's
// per-member path (compiled closures over the checked rule).
func (c *tagsCdpkit) ruleImpl() (harness.Impl, error) {
	rule, err := c.schema.Compile("rule_eval", ruleText)
	if err != nil {
		return harness.Impl{}, err
	}
	if rule.Path() != tags.PathCompiled {
		// The case's description says the rule runs compiled.
		return harness.Impl{}, fmt.Errorf("rule_eval: rule runs %v, not compiled: %s", rule.Path(), rule.Why())
	}
	ev, err := tags.NewEvaluator(c.clock)
	if err != nil {
		return harness.Impl{}, err
	}
	walk := func(list bool) (harness.Answer, error) {
		var ans harness.Answer
		if list {
			ans.Members = []uint32{}
		}
		for _, rec := range c.recs {
			ok, err := ev.Bool(rule, rec)
			if err != nil {
				return ans, fmt.Errorf("member %d: %w", rec.ID, err)
			}
			if ok {
				ans.Count++
				if list {
					ans.Members = append(ans.Members, rec.ID)
				}
			}
		}
		return ans, nil
	}
	return harness.Impl{
		Name: harness.Reference,
		Run:  func(context.Context) (harness.Answer, error) { return walk(false) },
		Full: func(context.Context) (harness.Answer, error) { return walk(true) },
	}, nil
}

// refresher holds the index and tag set of refresh20.
type refresher struct {
	c   *tagsCdpkit
	set *tags.Set
	ix  *segment.Index
}

// newRefresher loads the indexed fields of every record into a fresh index,
// imports the manual tags (conditions, channels, lapsed) from the records
// and defines the twenty rule tags, checking that each pushes down: a rule
// that did not would make the comparison with cdpkit-interp meaningless.
func (c *tagsCdpkit) newRefresher(ctx context.Context, d *tagData) (*refresher, error) {
	ix := segment.New(&segment.Options{Location: c.clock.Location})
	if _, err := c.schema.LoadIndex(ctx, ix, c.records(), c.clock.Location); err != nil {
		return nil, err
	}
	set := tags.NewSet(c.schema, nil)
	var defs []tags.Definition
	for _, m := range manualTags {
		defs = append(defs, tags.Definition{Name: m.name, Manual: true})
	}
	for _, r := range refreshRules {
		defs = append(defs, tags.Definition{Name: r.name, Rule: r.rule})
	}
	if err := set.Define(defs...); err != nil {
		return nil, err
	}
	err := ix.Update(func(tx *segment.Tx) error {
		for _, m := range manualTags {
			bm := roaring.New()
			for i := range d.recs {
				if m.has(&d.recs[i]) {
					bm.Add(uint32(i))
				}
			}
			if err := set.Import(tx, m.name, map[string]*roaring.Bitmap{"": bm}); err != nil {
				return fmt.Errorf("import %s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range refreshRules {
		if p := set.Path(r.name); p != tags.PathPushDown {
			return nil, fmt.Errorf("refresh20: rule %s runs %v, not pushed down", r.name, p)
		}
	}
	return &refresher{c: c, set: set, ix: ix}, nil
}

func refreshNames() []string {
	out := make([]string, len(refreshRules))
	for i, r := range refreshRules {
		out[i] = r.name
	}
	return out
}

// refresh runs one refresh of the twenty tags and returns, per member, the
// bit mask of the tags it got.
func (rf *refresher) refresh(ctx context.Context, interp bool) (harness.Answer, []*tags.Version, error) {
	opts := &tags.RefreshOptions{Tags: refreshNames()}
	var recs iter.Seq[*tags.Record]
	if interp {
		opts.NoPushDown = true
		recs = rf.c.records()
	}
	res, err := rf.set.Refresh(ctx, rf.ix, rf.c.clock, recs, opts)
	if err != nil {
		return harness.Answer{}, nil, err
	}
	if res.BadCount > 0 {
		return harness.Answer{}, nil, fmt.Errorf("refresh skipped %d bad records: %v", res.BadCount, res.BadRecords[0])
	}
	var ans harness.Answer
	for _, v := range res.Versions {
		if v.Stats.Errors > 0 || v.Stats.Missing > 0 {
			return harness.Answer{}, nil, fmt.Errorf("tag %s: %d errors, %d missing", v.Tag, v.Stats.Errors, v.Stats.Missing)
		}
		ans.Count += int64(v.Stats.Tagged)
	}
	return ans, res.Versions, nil
}

func (rf *refresher) impl(name string, interp bool) harness.Impl {
	return harness.Impl{
		Name: name,
		Run: func(ctx context.Context) (harness.Answer, error) {
			ans, _, err := rf.refresh(ctx, interp)
			return ans, err
		},
		Full: func(ctx context.Context) (harness.Answer, error) {
			ans, versions, err := rf.refresh(ctx, interp)
			if err != nil {
				return ans, err
			}
			ans.Values = make([]int64, len(rf.c.recs))
			for _, v := range versions {
				bit := slices.Index(refreshNames(), v.Tag)
				if bit < 0 {
					return ans, fmt.Errorf("refresh returned tag %s it was not asked for", v.Tag)
				}
				bm, err := v.Members("")
				if err != nil {
					return ans, err
				}
				for m := range roaring.Values(bm) {
					ans.Values[m] |= 1 << bit
				}
			}
			return ans, nil
		},
	}
}
