package pharmacy

import (
	"context"
	"fmt"
	"strings"

	"github.com/cdpkit/cdpkit/segment"
)

// The campaign's audience, in segment's CEL syntax: each condition in turn,
// so the report can show how each narrows it.
var audienceSteps = []struct{ name, expr string }{
	{"chronic", `tag("chronic")`},
	{"refill due in 7 days", `tag("refill_due_7d")`},
	{"not contacted in 7 days", `!active("contacted", "7d")`},
	{"not lapsed", `!tag("lapsed")`},
}

const audienceDescription = "chronic members whose refill is due this week, not contacted in 7 days, excluding lapsed"

// audience counts the refill-reminder audience, step by step, and splits
// it 90/10 into campaign and hold-out.
func (s *story) audience(ctx context.Context) (string, error) {
	a := &s.rep.Audience
	a.Description = audienceDescription
	a.Salt = s.cfg.Salt
	var terms []string
	for _, st := range audienceSteps {
		terms = append(terms, st.expr)
		n, err := s.engine.Count(strings.Join(terms, " && "))
		if err != nil {
			return "", err
		}
		a.Funnel = append(a.Funnel, NameCount{st.name, int(n)})
		a.Count = int(n)
	}
	a.Expr = strings.Join(terms, " && ")
	var err error
	s.arms, err = s.engine.Split(a.Expr, s.cfg.Salt, segment.Arm{Name: "campaign", Weight: 90}, segment.Arm{Name: "holdout", Weight: 10})
	if err != nil {
		return "", err
	}
	a.Campaign, a.Holdout = int(s.arms[0].GetCardinality()), int(s.arms[1].GetCardinality())
	return fmt.Sprintf("count the audience step by step (%s) and split it 90/10", thousands(a.Count)), nil
}
