package pharmacy

import (
	"context"
	"fmt"
	"strings"

	"github.com/cdpkit/cdpkit"
	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/internal/synth"
	"github.com/cdpkit/cdpkit/tags"
)

// tagDefinitions are the story's tags, as rules over the Engine's derived
// fields (cdpkit.DerivedFields): every field they read is indexed, so every
// tag is evaluated as bitmap operations.
func tagDefinitions() []tags.Definition {
	var defs []tags.Definition
	var chronic, due []string
	for _, c := range synth.AllConditions() {
		name := "chronic:" + c.String()
		field := "due_days_" + c.Category()
		defs = append(defs, tags.Definition{Name: name, Category: "health/chronic",
			Description: "bought " + c.String() + " medicine with a days-supply",
			Rule:        fmt.Sprintf("present(%s)", field)})
		chronic = append(chronic, fmt.Sprintf("has_tag(%q)", name))
		due = append(due, fmt.Sprintf("(present(%s) && %s >= 0 && %s <= 7)", field, field, field))
	}
	return append(defs,
		tags.Definition{Name: "chronic", Category: "health/chronic",
			Description: "has a chronic-disease tag", Rule: strings.Join(chronic, " || ")},
		tags.Definition{Name: "refill_due_7d", Category: "health/refill",
			Description: "a chronic medicine bought so far runs out within the next 7 days",
			Rule:        strings.Join(due, " || ")},
		tags.Definition{Name: "lapsed", Category: "lifecycle",
			Description: "no purchase for 180 days, or P(alive) under 20%",
			Rule:        "recency_days >= 180 || alive_pct < 20"},
		tags.Definition{Name: "pre_dormant", Category: "lifecycle",
			Description: "7+ days past the next purchase their own habit predicts, P(alive) still 50% or more, not lapsed",
			Rule:        `next_purchase_days <= -7 && alive_pct >= 50 && !has_tag("lapsed")`},
		tags.Definition{Name: "omnichannel_4", Category: "channel",
			Description: "4 or more orders, in a store and on at least one other channel",
			Rule:        "orders_total >= 4 && orders_store >= 1 && channels_used >= 2"},
	)
}

// recordContacts generates the CRM's contact log and records each touch as
// the event "contacted" for activity windows.
func (s *story) recordContacts(ctx context.Context) (string, error) {
	s.contacts = contactLog(s.cfg.Seed, s.buyers, s.asOf, s.loc)
	_, err := s.engine.RecordEvents(ctx, func(yield func(cdpkit.Event) bool) {
		for _, c := range s.contacts {
			if !yield(cdpkit.Event{Name: "contacted", Person: identity.PersonID(c.Person), Time: c.At}) {
				return
			}
		}
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("generate the CRM's last 30 days (%s SMS and WeChat touches), record them as activity", thousands(len(s.contacts))), nil
}
