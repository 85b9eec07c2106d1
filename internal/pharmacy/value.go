package pharmacy

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/cdpkit/cdpkit"
	"github.com/cdpkit/cdpkit/rfm"
	"github.com/cdpkit/cdpkit/segment"
)

// refresh has the Engine derive every person's fields as of the story's
// as-of time — RFM scores and segments, P(alive) and lifetime value from
// models fitted on everyone, refill due days, tier and points — and
// refresh every tag; then reads what the report shows from the index.
func (s *story) refresh(ctx context.Context) (string, error) {
	res, err := s.engine.RefreshTags(ctx, s.asOf)
	if err != nil {
		return "", err
	}
	v := s.engine.View()
	count := func(p *segment.Plan) (int, error) {
		n, err := v.Count(p)
		return int(n), err
	}
	buyers := segment.Cmp("orders_total", segment.Ge, 1)

	r := &s.rep.RFM
	if r.Buyers, err = count(buyers); err != nil {
		return "", err
	}
	grid := rfm.Grid()
	for i := range 5 {
		for j := range 5 {
			rs, fs := 5-i, j+1
			n, err := count(segment.And(segment.Cmp("rfm_r", segment.Eq, int64(rs)), segment.Cmp("rfm_f", segment.Eq, int64(fs))))
			if err != nil {
				return "", err
			}
			r.Grid[i][j], r.Names[i][j] = n, grid.Name(rs, fs, 1)
		}
	}
	segs, err := v.TopN(segment.All(), "rfm_segment", 0)
	if err != nil {
		return "", err
	}
	for _, sg := range segs {
		r.Segments = append(r.Segments, NameCount{sg.Value, int(sg.Count)})
	}

	c := &s.rep.CLV
	if m, ok := s.engine.LifetimeModel(); ok {
		s.model = m
		c.R, c.Alpha, c.A, c.B = m.Purchases.R, m.Purchases.Alpha, m.Purchases.A, m.Purchases.B
		if m.Spend != nil {
			c.P, c.Q, c.Gamma = m.Spend.P, m.Spend.Q, m.Spend.Gamma/100
		}
	}
	for b, lo := range PAliveBands {
		p := segment.Cmp("alive_pct", segment.Ge, int64(100*lo))
		if b > 0 {
			p = segment.And(p, segment.Cmp("alive_pct", segment.Lt, int64(100*PAliveBands[b-1])))
		}
		if c.PAlive[b], err = count(p); err != nil {
			return "", err
		}
	}
	alive, err := v.IntStats(buyers, "alive_pct")
	if err != nil {
		return "", err
	}
	c.MeanPAlive = alive.Mean() / 100
	clv, err := v.IntStats(buyers, "clv")
	if err != nil {
		return "", err
	}
	c.Value = float64(clv.Sum) / 100
	c.Customers = int(alive.Count)

	for _, d := range tagDefinitions() {
		n, err := count(segment.Tag(d.Name))
		if err != nil {
			return "", err
		}
		s.rep.Tags = append(s.rep.Tags, TagCount{Name: d.Name, Description: d.Description, Count: n})
	}
	contacted, err := count(segment.Active("contacted", 7))
	if err != nil {
		return "", err
	}
	s.rep.Tags = append(s.rep.Tags, TagCount{Name: `active("contacted", "7d")`,
		Description: "an SMS or WeChat touch in the last 7 days (activity, not a tag)", Count: contacted})

	// Tiers of the persons who bought since the programme started
	// (identity merges give empty accounts to persons who did not).
	l := &s.rep.Loyalty
	l.Rules = programmeRules(s.loyaltyFrom)
	days := int(segment.DayOf(s.asOf, s.loc)-segment.DayOf(s.loyaltyFrom, s.loc)) + 1
	active := segment.Active(cdpkit.EventPurchase, days)
	for _, t := range programme(s.loc).Tiers {
		in := segment.And(segment.Enum("tier", t.Name), active)
		n, err := count(in)
		if err != nil {
			return "", err
		}
		pts, err := v.IntStats(in, "points")
		if err != nil {
			return "", err
		}
		l.Tiers = append(l.Tiers, TierCount{Name: t.Name, Threshold: t.Threshold, Members: n, Available: pts.Sum})
		l.Accounts += n
		l.Available += pts.Sum
	}
	slices.SortStableFunc(r.Segments, func(a, b NameCount) int { return cmp.Compare(b.Count, a.Count) })
	return fmt.Sprintf("derive %s persons' fields (%s), index them (%s), refresh %d tags (%s)",
		thousands(res.Persons), seconds(res.Derive), seconds(res.Index), len(res.Tags), seconds(res.Evaluate)), nil
}
