package pharmacy

import (
	"context"
	"fmt"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cdpkit/cdpkit/internal/synth"
	"github.com/cdpkit/cdpkit/rfm"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// The story's attributes, as rules name them and as the index holds them.
// P(alive) is held in thousandths, rounded down, because the index holds
// integers: "p_alive >= 500" is P(alive) ≥ 0.5.
var storyFields = func() []tags.Field {
	f := []tags.Field{
		{Name: "recency_days", Type: tags.Int, Index: tags.AsInt, IndexName: "rfm_recency", Doc: "days since the last purchase day"},
		{Name: "orders", Type: tags.Int, Index: tags.AsInt, IndexName: "rfm_orders", Doc: "orders in the three years"},
		{Name: "store_orders", Type: tags.Int, Index: tags.AsInt, Doc: "orders placed in a store"},
		{Name: "online_orders", Type: tags.Int, Index: tags.AsInt, Doc: "orders placed in a mini program, on a platform or through O2O delivery"},
		{Name: "p_alive", Type: tags.Int, Index: tags.AsInt, IndexName: "p_alive_permille", Doc: "BG/NBD probability of being alive, in thousandths"},
	}
	for _, c := range synth.AllConditions() {
		f = append(f, tags.Field{Name: "refill_days_" + c.String(), Type: tags.Int, Index: tags.AsInt,
			Doc: "days the member bought " + c.String() + " medicine with a days-supply"})
	}
	return f
}()

// tagDefinitions are the story's tags. Every rule reads indexed fields or
// other tags, so every tag is pushed down to bitmap operations.
func tagDefinitions() []tags.Definition {
	// The repurchase tags come from rfm.Load; declaring them as manual
	// tags lets rules name them.
	defs := []tags.Definition{{Name: "rfm_overdue_7d", Category: "rfm", Manual: true,
		Description: "7 or more days past the due date of the usual purchase interval (rfm.Load)"}}
	for _, c := range synth.AllConditions() {
		defs = append(defs, tags.Definition{Name: "rfm_due_7d:" + c.Category(), Category: "rfm", Manual: true,
			Description: c.String() + " medicine runs out within 7 days (rfm.Load)"})
	}
	var chronic, due []string
	for _, c := range synth.AllConditions() {
		name := "chronic:" + c.String()
		defs = append(defs, tags.Definition{Name: name, Category: "health/chronic",
			Description: "bought " + c.String() + " medicine with a days-supply on two or more days",
			Rule:        fmt.Sprintf("refill_days_%s >= 2", c)})
		chronic = append(chronic, fmt.Sprintf("has_tag(%q)", name))
		due = append(due, fmt.Sprintf("has_tag(%q)", "rfm_due_7d:"+c.Category()))
	}
	return append(defs,
		tags.Definition{Name: "chronic", Category: "health/chronic",
			Description: "has a chronic-disease tag", Rule: strings.Join(chronic, " || ")},
		tags.Definition{Name: "refill_due_7d", Category: "health/refill",
			Description: "the medicine bought so far runs out within the next 7 days",
			Rule:        strings.Join(due, " || ")},
		tags.Definition{Name: "lapsed", Category: "lifecycle",
			Description: "no purchase for 180 days, or P(alive) below 0.2",
			Rule:        "recency_days >= 180 || p_alive < 200"},
		tags.Definition{Name: "pre_dormant", Category: "lifecycle",
			Description: "7+ days past their own usual purchase interval, P(alive) still 0.5 or more, not lapsed",
			Rule:        `has_tag("rfm_overdue_7d") && p_alive >= 500 && !has_tag("lapsed")`},
		tags.Definition{Name: "omnichannel_4", Category: "channel",
			Description: "4 or more orders, both in a store and online",
			Rule:        "orders >= 4 && store_orders >= 1 && online_orders >= 1"},
	)
}

// refreshTags loads the attributes the rules read into the index and
// refreshes every tag.
func (s *story) refreshTags(ctx context.Context) (string, error) {
	n := s.sum.Len()
	buyers := roaring.New()
	storeOrders := make([]int64, n)
	onlineOrders := make([]int64, n)
	pAlive := make([]int64, n)
	for m := range n {
		sm := s.sum.Member(uint32(m))
		if sm.Orders == 0 {
			continue
		}
		buyers.Add(uint32(m))
		for ch, k := range sm.Channels {
			if synth.Channel(ch) == synth.ChannelStore {
				storeOrders[m] += int64(k)
			} else {
				onlineOrders[m] += int64(k)
			}
		}
		pAlive[m] = int64(s.pAlive[m] * 1000)
	}
	refills := make([][]int64, len(synth.AllConditions()))
	for c := range refills {
		refills[c] = make([]int64, n)
	}
	for _, cd := range s.rp.Categories() {
		if cd.FromSupply && cd.Category >= 1 && int(cd.Category) <= len(refills) {
			refills[cd.Category-1][cd.Member] = int64(cd.Purchases)
		}
	}
	cats := map[uint32]string{}
	for _, c := range synth.AllConditions() {
		cats[uint32(c)+1] = c.Category()
	}
	err := s.ix.Update(func(tx *segment.Tx) error {
		d := &rfm.IndexData{Summaries: s.sum, Scores: s.scores, Segments: map[string]*rfm.Segments{"rfm_segment": s.segs},
			Repurchase: s.rp, DueWithin: []int{7}, Overdue: []int{7}, Categories: cats}
		if err := d.Apply(tx); err != nil {
			return err
		}
		cols := map[string][]int64{"store_orders": storeOrders, "online_orders": onlineOrders, "p_alive_permille": pAlive}
		for i, c := range synth.AllConditions() {
			cols["refill_days_"+c.String()] = refills[i]
		}
		for name, col := range cols {
			if err := tx.Declare(name, segment.KindInt); err != nil {
				return err
			}
			if err := tx.ReplaceIntColumn(name, col, buyers); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	schema, err := tags.NewSchema(storyFields...)
	if err != nil {
		return "", err
	}
	s.set = tags.NewSet(schema, &tags.Config{Workers: s.cfg.Workers})
	if err := s.set.Define(tagDefinitions()...); err != nil {
		return "", err
	}
	rec := schema.NewRecord(0)
	records := func(yield func(*tags.Record) bool) {
		for id := range roaring.Values(buyers) {
			rec.Reset(id)
			if !yield(rec) {
				return
			}
		}
	}
	clock := tags.Clock{AsOf: s.asOf, Location: s.loc}
	if _, err := s.set.Refresh(ctx, s.ix, clock, records, nil); err != nil {
		return "", err
	}
	v := s.ix.View().At(s.asOf)
	for _, d := range tagDefinitions() {
		if d.Manual {
			continue
		}
		bm, err := v.Tag(d.Name)
		if err != nil {
			return "", err
		}
		s.rep.Tags = append(s.rep.Tags, TagCount{Name: d.Name, Description: d.Description, Count: int(bm.GetCardinality())})
	}
	contacted, err := v.Count(segment.Active("contacted", 7))
	if err != nil {
		return "", err
	}
	s.rep.Tags = append(s.rep.Tags, TagCount{Name: "contacted in 7 days", Description: `active("contacted", "7d"): an SMS or WeChat touch in the last 7 days`, Count: int(contacted)})
	return fmt.Sprintf("load attributes, refresh %d tags over %s buyers (all pushed down to bitmaps)",
		len(s.rep.Tags)-1, thousands(int(buyers.GetCardinality()))), nil
}

// recordContacts generates the CRM's contact log and records each touch as
// activity "contacted" on its day.
func (s *story) recordContacts(ctx context.Context) (string, error) {
	var persons []uint32
	for m := range s.sum.Len() {
		if s.sum.Member(uint32(m)).Orders > 0 {
			persons = append(persons, uint32(m))
		}
	}
	s.contacts = contactLog(s.cfg.Seed, persons, s.asOf, s.loc)
	s.ix = segment.New(&segment.Options{Location: s.loc})
	byDay := map[segment.Day][]uint32{}
	for _, c := range s.contacts {
		d := segment.DayOf(c.At, s.loc)
		byDay[d] = append(byDay[d], c.Person)
	}
	err := s.ix.Update(func(tx *segment.Tx) error {
		if err := tx.Declare("contacted", segment.KindEvent); err != nil {
			return err
		}
		for d, ids := range byDay {
			if err := tx.RecordActivityDay("contacted", d, ids...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("generate the CRM's last 30 days (%s touches) and record them as activity", thousands(len(s.contacts))), nil
}
