package pharmacy

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cdpkit/cdpkit"
	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/internal/synth"
	"github.com/cdpkit/cdpkit/loyalty"
	"github.com/cdpkit/cdpkit/rfm"
	"github.com/cdpkit/cdpkit/tags"
)

// Run runs the whole story and returns its report. It is deterministic:
// the same Config gives the same report, timings aside.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	s, err := run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer s.engine.Close()
	return s.rep, nil
}

// story is one run: the Engine, the report, and what the tests check the
// report against.
type story struct {
	cfg    Config
	chain  *chain
	engine *cdpkit.Engine
	rep    *Report
	asOf   time.Time
	loc    *time.Location
	// loyaltyFrom is when the member programme launched, growthMonths
	// before the as-of day: the ledger replays the orders since, all that
	// the tiers' growth window can reach (no points have expired yet).
	loyaltyFrom time.Time

	orders   *orders
	buyers   []uint32 // persons with an order or refund, ascending
	contacts []Contact
	model    rfm.Model
	arms     []*roaring.Bitmap // campaign, hold-out
}

// channelNames are the Engine's order channels, in synth's channel order.
var channelNames = func() []string {
	var names []string
	for _, c := range synth.AllChannels() {
		names = append(names, c.String())
	}
	return names
}()

// medicineCategories are the line-item categories the Engine times
// repurchases for: the chronic medicines, each with a due_days_<category>
// field.
var medicineCategories = func() []string {
	var cats []string
	for _, c := range synth.AllConditions() {
		cats = append(cats, c.Category())
	}
	return cats
}()

func run(ctx context.Context, cfg Config) (*story, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := newChain(&cfg)
	if err != nil {
		return nil, err
	}
	s := &story{cfg: cfg, chain: c, loc: c.cfg.Location}
	// The data ends at midnight starting 1 October 2026; the story stands
	// at the last second of 30 September, the campaign going out the next
	// morning. Recency, due dates and the 7-day windows count from 30
	// September.
	s.asOf = c.cfg.End.Add(-time.Second)
	s.loyaltyFrom = c.cfg.End.AddDate(0, -growthMonths, 0)
	s.rep = &Report{Members: cfg.Members, Seed: cfg.Seed, AsOf: s.asOf, Location: s.loc}

	prog, err := loyalty.NewProgram(programme(s.loc))
	if err != nil {
		return nil, err
	}
	s.engine, err = cdpkit.New(cdpkit.Config{
		Location:    s.loc,
		Identity:    identityConfig(cfg.Members),
		Channels:    channelNames,
		Windows:     []int{90},
		Categories:  medicineCategories,
		Program:     prog,
		LoyaltyFrom: s.loyaltyFrom,
		Tags:        &tags.Config{Workers: cfg.Workers},
	})
	if err != nil {
		return nil, err
	}
	if err := s.engine.DefineTags(tagDefinitions()...); err != nil {
		s.engine.Close()
		return nil, err
	}
	for _, st := range []struct {
		name string
		fn   func(context.Context) (string, error)
	}{
		{"oneid", s.resolve},
		{"orders", s.keyOrders},
		{"record", s.record},
		{"contacts", s.recordContacts},
		{"loyalty", s.settle},
		{"refresh", s.refresh},
		{"audience", s.audience},
	} {
		if cfg.Progress != nil {
			cfg.Progress(st.name)
		}
		t0 := time.Now()
		what, err := st.fn(ctx)
		if err != nil {
			s.engine.Close()
			return nil, fmt.Errorf("%s: %w", st.name, err)
		}
		s.rep.Stages = append(s.rep.Stages, Stage{Name: st.name, What: what, Took: time.Since(t0)})
	}
	return s, nil
}

// resolve generates the identifier feed, resolves it into persons with
// the Engine, and scores the persons against the true members.
func (s *story) resolve(ctx context.Context) (string, error) {
	t0 := time.Now()
	f, err := s.chain.observations(ctx)
	if err != nil {
		return "", err
	}
	gen := time.Since(t0)
	st, err := s.engine.ObserveAll(ctx, func(yield func(identity.Observation) bool) {
		for _, o := range f.obs {
			if !yield(o) {
				return
			}
		}
	})
	var be *cdpkit.BulkError
	if err != nil && !errors.As(err, &be) {
		return "", err
	}
	o, err := analyseFeed(ctx, s.chain, f, s.engine.Lookup, s.cfg.Workers)
	if err != nil {
		return "", err
	}
	o.Merged = st.Merged
	s.rep.OneID = o
	s.rep.Chain.Observations = o.Observations
	s.rep.Chain.Stores = s.chain.cfg.Stores
	return fmt.Sprintf("generate %s observations (%s), resolve them into %s persons, score against the true members",
		thousands(o.Observations), seconds(gen), thousands(o.Persons)), nil
}

// keyOrders generates the orders and keys each to the person its buyer
// identifier resolves to.
func (s *story) keyOrders(ctx context.Context) (string, error) {
	k := keyer{
		lookup: func(x synth.Identifier) (uint32, bool) {
			p, err := s.engine.Lookup(identifier(x))
			return uint32(p), err == nil
		},
		observe: func(ms []missing) error {
			_, err := s.engine.ObserveAll(ctx, func(yield func(identity.Observation) bool) {
				ids := make([]identity.Identifier, 1)
				for _, m := range ms {
					ids[0] = identifier(m.id)
					o := identity.Observation{EventID: "order:" + strconv.FormatUint(m.order, 10),
						Source: orderSources[m.channel], Time: m.at, Identifiers: ids}
					if !yield(o) {
						return
					}
				}
			})
			var be *cdpkit.BulkError
			if errors.As(err, &be) {
				return nil // a junk-only identifier reaches no person; its orders are counted as anonymous
			}
			return err
		},
	}
	o, err := s.chain.ordersFor(ctx, k)
	if err != nil {
		return "", err
	}
	s.orders = o
	refunds := 0
	var revenue int64
	for i, r := range o.refundOf {
		if r != 0 {
			refunds++
		}
		revenue += o.amount[i]
	}
	s.rep.Chain.Orders = o.len() - refunds
	s.rep.Chain.Refunds = refunds
	s.rep.Chain.Revenue = revenue
	persons := 0
	for i := range o.person {
		if i == 0 || o.person[i] != o.person[i-1] {
			persons++
		}
	}
	s.rep.Orders = Keying{Rows: o.len(), Persons: persons, FirstSeen: o.firstSeen, Anonymous: o.unkeyed}
	for m := range s.chain.gen.Members() {
		if m.Conditions != 0 {
			s.rep.Chain.Chronic++
		}
		if m.Lapsed() {
			s.rep.Chain.Lapsed++
		}
	}
	return fmt.Sprintf("generate %s orders and refunds, key them to %s persons by their buyer identifiers",
		thousands(o.len()), thousands(persons)), nil
}

var orderSources = [...]string{
	synth.ChannelStore:   synth.SourceStorePOS,
	synth.ChannelWeChat:  synth.SourceWeChat,
	synth.ChannelAlipay:  synth.SourceAlipay,
	synth.ChannelTaobao:  synth.SourceTaobao,
	synth.ChannelJD:      synth.SourceJD,
	synth.ChannelMeituan: synth.SourceMeituan,
}

// record loads the order history into the Engine: RFM summaries, trailing
// windows, purchase days, repurchase timing and, for the programme's year,
// the loyalty ledger.
func (s *story) record(ctx context.Context) (string, error) {
	st, err := s.engine.RecordOrders(ctx, s.orders.engineOrders())
	if err != nil {
		return "", err
	}
	// The Engine holds the history now; keep only who bought, for the
	// contact log, and the keys, for the tests.
	o := s.orders
	for i, p := range o.person {
		if i == 0 || p != o.person[i-1] {
			s.buyers = append(s.buyers, p)
		}
	}
	s.orders = &orders{keys: o.keys, firstSeen: o.firstSeen, unkeyed: o.unkeyed, persons: o.persons}
	return fmt.Sprintf("record %s orders and refunds: RFM summaries, windows, purchase days, refill timing, loyalty ledger since %s",
		thousands(st.Applied), s.loyaltyFrom.Format(time.DateOnly)), nil
}

// engineOrders walks the rows as the Engine's orders, each person's in
// time order. The medicine line is the one line item the Engine is told
// about: repurchase timing needs it, and the rest of the basket is in the
// amount.
func (o *orders) engineOrders() iter.Seq[cdpkit.Order] {
	return func(yield func(cdpkit.Order) bool) {
		lines := make([]cdpkit.Line, 1)
		for i := range o.person {
			ord := cdpkit.Order{
				ID:      strconv.FormatUint(o.id[i], 10),
				Person:  identity.PersonID(o.person[i]),
				Time:    time.Unix(o.unix[i], 0),
				Channel: channelNames[o.channel[i]],
				Amount:  max(o.amount[i], -o.amount[i]),
			}
			if r := o.refundOf[i]; r != 0 {
				ord.RefundOf = strconv.FormatUint(r, 10)
			}
			if o.med[i] > 0 {
				lines[0] = cdpkit.Line{Category: medicineCategories[o.cat[i]-1], Amount: o.med[i]}
				if ord.RefundOf == "" {
					lines[0].DaysSupply = int32(o.supply[i])
				}
				ord.Lines = lines
			}
			if !yield(ord) {
				return
			}
		}
	}
}
