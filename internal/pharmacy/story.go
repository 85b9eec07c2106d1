package pharmacy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/internal/synth"
	"github.com/cdpkit/cdpkit/loyalty"
	"github.com/cdpkit/cdpkit/rfm"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// Run runs the whole story and returns its report. It is deterministic:
// the same Config gives the same report, timings aside.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	s, err := run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return s.rep, nil
}

// story is one run: the report and what the tests check it against.
type story struct {
	cfg   Config
	chain *chain
	rep   *Report
	asOf  time.Time
	loc   *time.Location
	// loyaltyFrom is when the member programme starts: the ledger
	// replays the orders of the last twelve months, all that the tiers'
	// growth window and the points' expiry can reach.
	loyaltyFrom time.Time

	res      *identity.Resolver
	orders   *orders
	sum      *rfm.Summaries
	scores   *rfm.Scores
	segs     *rfm.Segments
	model    rfm.Model
	pAlive   []float64 // per person; NaN for persons without a purchase
	rp       *rfm.Repurchase
	ledger   *loyalty.Ledger
	ix       *segment.Index
	set      *tags.Set
	contacts []Contact
	arms     []*roaring.Bitmap // campaign, hold-out
}

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
	s.loyaltyFrom = c.cfg.End.AddDate(-1, 0, 0)
	s.rep = &Report{Members: cfg.Members, Seed: cfg.Seed, AsOf: s.asOf, Location: s.loc}
	for _, st := range []struct {
		name string
		fn   func(context.Context) (string, error)
	}{
		{"oneid", s.resolve},
		{"orders", s.keyOrders},
		{"record", s.record},
		{"value", s.value},
		{"contacts", s.recordContacts},
		{"tags", s.refreshTags},
		{"loyalty", s.tiers},
		{"audience", s.audience},
	} {
		if cfg.Progress != nil {
			cfg.Progress(st.name)
		}
		t0 := time.Now()
		what, err := st.fn(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st.name, err)
		}
		s.rep.Stages = append(s.rep.Stages, Stage{Name: st.name, What: what, Took: time.Since(t0)})
	}
	return s, nil
}

// resolve generates the identifier feed and resolves it into persons.
func (s *story) resolve(ctx context.Context) (string, error) {
	t0 := time.Now()
	f, err := s.chain.observations(ctx)
	if err != nil {
		return "", err
	}
	gen := time.Since(t0)
	s.res, err = identity.New(identityConfig(s.cfg.Members))
	if err != nil {
		return "", err
	}
	canonical := func(p uint32) uint32 {
		q, err := s.res.Canonical(identity.PersonID(p))
		if err != nil {
			return p
		}
		return uint32(q)
	}
	o, _, err := resolveFeed(s.chain, f, s.res.ObserveBatch, canonical)
	if err != nil {
		return "", err
	}
	held := func(kind string, values func(uint32) string) int {
		n := 0
		for st := uint32(1); st <= uint32(s.chain.cfg.Stores); st++ {
			if _, err := s.res.Lookup(identity.Identifier{Kind: kind, Value: values(st)}); err == nil {
				n++
			}
		}
		return n
	}
	o.StorePhonesHeld = held(identity.KindPhone, synth.StorePhone)
	o.KiosksHeld = held(identity.KindDevice, s.chain.gen.KioskDevice)
	s.rep.OneID = o
	s.rep.Chain.Observations = o.Observations
	s.rep.Chain.Stores = s.chain.cfg.Stores
	return fmt.Sprintf("generate %s observations (%s), resolve them into %s persons",
		thousands(o.Observations), seconds(gen), thousands(o.Persons)), nil
}

// keyOrders generates the orders and keys each to the person its buyer
// identifier resolves to.
func (s *story) keyOrders(ctx context.Context) (string, error) {
	k := keyer{
		lookup: func(x synth.Identifier) (uint32, bool) {
			p, err := s.res.Lookup(identity.Identifier{Kind: identityKinds[x.Kind], Value: x.Value, Scope: x.Scope})
			return uint32(p), err == nil
		},
		observe: func(ms []missing) error {
			obs := make([]identity.Observation, len(ms))
			for i, m := range ms {
				obs[i] = identity.Observation{
					EventID:     "order:" + strconv.FormatUint(m.order, 10),
					Source:      orderSources[m.channel],
					Time:        m.at,
					Identifiers: []identity.Identifier{{Kind: identityKinds[m.id.Kind], Value: m.id.Value, Scope: m.id.Scope}},
				}
			}
			err := s.res.ObserveBatch(obs, nil)
			var be *identity.BatchError
			if errors.As(err, &be) {
				return nil // junk-only identifiers reach no person; counted below
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
	return fmt.Sprintf("generate %s orders and refunds, key them to %s persons", thousands(o.len()), thousands(persons)), nil
}

var orderSources = [...]string{
	synth.ChannelStore:   synth.SourceStorePOS,
	synth.ChannelWeChat:  synth.SourceWeChat,
	synth.ChannelAlipay:  synth.SourceAlipay,
	synth.ChannelTaobao:  synth.SourceTaobao,
	synth.ChannelJD:      synth.SourceJD,
	synth.ChannelMeituan: synth.SourceMeituan,
}

// rowRanges splits the rows, which are grouped by person, at the person
// boundaries lo of each writer range.
func (o *orders) rowRange(lo, hi uint64) (int, int) {
	a, _ := slices.BinarySearch(o.person, uint32(min(lo, uint64(noPerson))))
	b, _ := slices.BinarySearch(o.person, uint32(min(hi, uint64(noPerson))))
	if hi > uint64(noPerson) {
		b = len(o.person)
	}
	return a, b
}

// record sends every order and refund to the RFM summaries and the
// loyalty ledger.
func (s *story) record(ctx context.Context) (string, error) {
	o := s.orders
	var err error
	s.sum, err = rfm.New(o.persons, rfm.Config{Location: s.loc, AsOf: s.asOf, Channels: numChannels})
	if err != nil {
		return "", err
	}
	prog, err := loyalty.NewProgram(programme(s.loc))
	if err != nil {
		return "", err
	}
	s.ledger = loyalty.NewLedger(prog, loyalty.NewMemStore(), nil)

	writers := s.sum.Writers(s.cfg.Workers)
	errs := make([]error, len(writers))
	var wg sync.WaitGroup
	for wi, w := range writers {
		wg.Go(func() {
			defer w.Close()
			lo, hi := w.Range()
			a, b := o.rowRange(lo, hi)
			lines := make([]rfm.Line, 1)
			for i := a; i < b; i++ {
				tx := rfm.Tx{Member: o.person[i], Time: time.Unix(o.unix[i], 0), Amount: o.amount[i],
					Channel: rfm.Channel(o.channel[i]), Order: o.id[i], RefundOf: o.refundOf[i]}
				if o.cat[i] != 0 && o.refundOf[i] == 0 {
					lines[0] = rfm.Line{Category: uint32(o.cat[i]), DaysSupply: int32(o.supply[i])}
					tx.Lines = lines
				}
				if err := w.Add(&tx); err != nil {
					errs[wi] = err
					return
				}
				if !o.inProgramme(i, s.loyaltyFrom.Unix()) {
					continue
				}
				if _, err := s.ledger.Apply(ctx, loyaltyOp(o, i)); err != nil {
					errs[wi] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return fmt.Sprintf("record %s orders and refunds: RFM summaries, repurchase timing, loyalty ledger", thousands(o.len())), nil
}

// inProgramme reports whether row i belongs in the ledger: an order from
// the programme's start on, or the refund of one.
func (o *orders) inProgramme(i int, from int64) bool {
	r := o.refundOf[i]
	if r == 0 {
		return o.unix[i] >= from
	}
	for j := i - 1; j >= 0 && o.person[j] == o.person[i]; j-- {
		if o.id[j] == r {
			return o.unix[j] >= from
		}
	}
	return false
}

// loyaltyOp is row i as a ledger operation, with transaction IDs stable
// across retries.
func loyaltyOp(o *orders, i int) loyalty.Op {
	at := time.Unix(o.unix[i], 0)
	id := strconv.FormatUint(o.id[i], 10)
	if r := o.refundOf[i]; r != 0 {
		return loyalty.Refund{Tx: "refund:" + id, Member: o.person[i], At: at,
			OrderID: strconv.FormatUint(r, 10), Lines: []loyalty.Line{{Paid: -o.amount[i]}}}
	}
	return loyalty.Order{Tx: "order:" + id, Member: o.person[i], At: at, OrderID: id,
		Channel: synth.Channel(o.channel[i]).String(), Lines: []loyalty.Line{{Paid: o.amount[i]}}}
}
