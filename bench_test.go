package cdpkit

import (
	"context"
	"iter"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/internal/synth"
	"github.com/cdpkit/cdpkit/tags"
)

// synthChain adapts a synthetic pharmacy chain to the Engine: identity
// kinds for its identifiers, its channels, and conversions of its
// observations and orders (which name the member by card, as a till
// would).
type synthChain struct {
	g     *synth.Generator
	cards map[uint32]string
}

func newSynthChain(t testing.TB, members int, seed uint64) *synthChain {
	t.Helper()
	g, err := synth.New(synth.Config{Members: members, Seed: seed})
	require.NoError(t, err)
	return &synthChain{g: g}
}

func (c *synthChain) config() Config {
	var channels []string
	for _, ch := range synth.AllChannels() {
		channels = append(channels, ch.String())
	}
	var cats []string
	for _, cond := range synth.AllConditions() {
		cats = append(cats, cond.Category())
	}
	return Config{Location: c.g.Config().Location, Channels: channels, Categories: cats}
}

// synthIdentifier converts an identifier: synth writes identity's kinds.
func synthIdentifier(x synth.Identifier) identity.Identifier {
	return identity.Identifier{Kind: x.Kind, Value: x.Value, Scope: x.Scope}
}

func (c *synthChain) observations(lo, hi uint32) iter.Seq[identity.Observation] {
	return func(yield func(identity.Observation) bool) {
		var ids []identity.Identifier
		for o := range c.g.ObservationsRange(lo, hi) {
			ids = ids[:0]
			for _, x := range o.IDs {
				ids = append(ids, synthIdentifier(x))
			}
			if !yield(identity.Observation{EventID: strconv.FormatUint(o.EventID, 10), Source: o.Source, Time: o.Time, Identifiers: ids}) {
				return
			}
		}
	}
}

// card returns member m's member card or, when it has none, its phone or
// its first identifier.
func (c *synthChain) card(m uint32) identity.Identifier {
	ids := c.g.Identifiers(m)
	for _, kind := range []string{synth.KindMemberCard, synth.KindPhone} {
		for _, x := range ids {
			if x.Kind == kind {
				return synthIdentifier(x)
			}
		}
	}
	return synthIdentifier(ids[0])
}

func (c *synthChain) orders(lo, hi uint32) iter.Seq[Order] {
	return func(yield func(Order) bool) {
		cur, ids := uint32(1<<32-1), []identity.Identifier{{}}
		var lines []Line
		for o := range c.g.OrdersRange(lo, hi) {
			if o.Member != cur {
				cur, ids[0] = o.Member, c.card(o.Member)
			}
			lines = lines[:0]
			sign := int64(1)
			out := Order{ID: strconv.FormatUint(o.ID, 10), Identifiers: ids, Time: o.Time, Channel: o.Channel.String()}
			if o.IsRefund() {
				sign = -1
				out.RefundOf = strconv.FormatUint(o.RefundOf, 10)
			}
			out.Amount = sign * o.Amount
			for _, l := range o.Lines {
				lines = append(lines, Line{Category: l.Category, Amount: sign * l.Amount, DaysSupply: l.DaysSupply})
			}
			out.Lines = lines
			if !yield(out) {
				return
			}
		}
	}
}

// loadSynth builds an engine over a synthetic chain of n members.
func loadSynth(t testing.TB, c *synthChain, cfg Config) *Engine {
	t.Helper()
	ctx := context.Background()
	e, err := New(cfg)
	require.NoError(t, err)
	n := uint32(c.g.Config().Members)
	_, err = e.ObserveAll(ctx, c.observations(0, n))
	var be *BulkError
	if err != nil {
		require.ErrorAs(t, err, &be, "only bad records may fail")
	}
	_, err = e.RecordOrders(ctx, c.orders(0, n))
	if err != nil {
		require.ErrorAs(t, err, &be, "only bad records may fail")
	}
	return e
}

func BenchmarkObserveAll(b *testing.B) {
	c := newSynthChain(b, 20_000, 1)
	var obs []identity.Observation
	for o := range c.observations(0, 20_000) {
		o.Identifiers = append([]identity.Identifier(nil), o.Identifiers...)
		obs = append(obs, o)
	}
	b.ReportAllocs()
	for b.Loop() {
		e, err := New(c.config())
		require.NoError(b, err)
		_, _ = e.ObserveAll(context.Background(), func(yield func(identity.Observation) bool) {
			for _, o := range obs {
				if !yield(o) {
					return
				}
			}
		})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(obs)), "ns/observation")
}

func BenchmarkRecordOrders(b *testing.B) {
	c := newSynthChain(b, 20_000, 1)
	var orders []Order
	for o := range c.orders(0, 20_000) {
		o.Lines = append([]Line(nil), o.Lines...)
		orders = append(orders, o)
	}
	b.ReportAllocs()
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		e, err := New(c.config())
		require.NoError(b, err)
		_, _ = e.ObserveAll(context.Background(), c.observations(0, 20_000))
		b.StartTimer()
		t0 := time.Now()
		_, _ = e.RecordOrders(context.Background(), func(yield func(Order) bool) {
			for _, o := range orders {
				if !yield(o) {
					return
				}
			}
		})
		elapsed += time.Since(t0)
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*len(orders)), "ns/order")
}

func BenchmarkRefreshTags(b *testing.B) {
	c := newSynthChain(b, 20_000, 1)
	e := loadSynth(b, c, c.config())
	require.NoError(b, e.DefineTags(
		tags.Definition{Name: "regular", Rule: "orders_90d >= 2"},
		tags.Definition{Name: "omnichannel", Rule: "channels_used >= 2 && orders_total >= 4"},
		tags.Definition{Name: "refill_soon", Rule: "refill_due_days <= 7"},
	))
	asOf := c.g.Config().End
	b.ReportAllocs()
	for b.Loop() {
		_, err := e.RefreshTags(context.Background(), asOf)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*20_000), "ns/person")
}

func BenchmarkRecordOrderLive(b *testing.B) {
	c := newSynthChain(b, 2_000, 1)
	e := loadSynth(b, c, c.config())
	require.NoError(b, e.DefineTags(tags.Definition{Name: "regular", Rule: "orders_90d >= 2"}))
	end := c.g.Config().End
	_, err := e.RefreshTags(context.Background(), end)
	require.NoError(b, err)
	ids := []identity.Identifier{c.card(7)}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		_, err := e.RecordOrder(context.Background(), Order{ID: "live-" + strconv.Itoa(i), Identifiers: ids, Time: end.Add(time.Duration(i) * time.Second), Amount: 1000})
		require.NoError(b, err)
	}
}
