package cdpkit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/loyalty"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// A history is a random stream of events for the merge property: every
// identifier is first seen alone (so each starts a person), then orders
// and refunds naming one identifier each are interleaved with
// observations that link identifiers of the same customer (merging their
// persons).
type history struct {
	first  []identity.Observation // identifiers seen alone
	events []historyEvent         // links and orders, in order
	asOf   time.Time
}

type historyEvent struct {
	link  *identity.Observation
	order *Order
}

// genHistory generates a history of customers with two or three
// identifiers each. Every order falls on its own calendar day: RFM merges
// count distinct purchase days exactly only when the merged persons never
// bought on the same day more than 64 days before their last purchase,
// which the property is not about.
func genHistory(seed uint64, customers int) history {
	r := rand.New(rand.NewPCG(seed, 99))
	start := time.Date(2023, 1, 1, 12, 0, 0, 0, shanghai)
	var h history
	ids := make([][]identity.Identifier, customers)
	for c := range customers {
		ids[c] = []identity.Identifier{card(fmt.Sprintf("C%03d", c)), phone(fmt.Sprintf("1390000%04d", c))}
		if r.IntN(3) == 0 {
			ids[c] = append(ids[c], identity.Identifier{Kind: identity.KindUnionID, Value: fmt.Sprintf("u%03d", c)})
		}
		for i, id := range ids[c] {
			h.first = append(h.first, identity.Observation{EventID: fmt.Sprintf("first-%d-%d", c, i), Source: "pos",
				Time: start, Identifiers: []identity.Identifier{id}})
		}
	}
	days := r.Perm(1000) // distinct days for the orders
	var orders []Order
	for i, d := range days[:6*customers] {
		c := r.IntN(customers)
		at := start.AddDate(0, 0, d+1).Add(time.Duration(r.IntN(8)) * time.Hour)
		o := Order{ID: fmt.Sprintf("O%d", i), Identifiers: []identity.Identifier{ids[c][r.IntN(len(ids[c]))]}, Time: at,
			Channel: []string{"store", "online"}[r.IntN(2)]}
		n := 1 + r.IntN(3)
		for range n {
			o.Lines = append(o.Lines, Line{Category: []string{"otc", "rx_diabetes", "care"}[r.IntN(3)], Amount: int64(100 * (1 + r.IntN(300)))})
		}
		orders = append(orders, o)
	}
	slices.SortFunc(orders, func(a, b Order) int { return a.Time.Compare(b.Time) })
	// Links between identifiers of a customer, at random points.
	linkAt := map[int][]identity.Observation{}
	for c := range customers {
		if r.IntN(2) == 0 {
			continue
		}
		for k := 1; k < len(ids[c]); k++ {
			i := r.IntN(len(orders))
			linkAt[i] = append(linkAt[i], identity.Observation{EventID: fmt.Sprintf("link-%d-%d", c, k), Source: "crm",
				Time: orders[i].Time.Add(-time.Minute), Identifiers: []identity.Identifier{ids[c][k-1], ids[c][k]}})
		}
	}
	for i := range orders {
		for _, l := range linkAt[i] {
			h.events = append(h.events, historyEvent{link: &l})
		}
		o := orders[i]
		h.events = append(h.events, historyEvent{order: &o})
		// Now and then the customer returns part of an order, a week on,
		// through the same identifier.
		if r.IntN(8) == 0 && o.Time.AddDate(0, 0, 7).Before(orders[len(orders)-1].Time) {
			ref := Order{ID: "R" + o.ID, Identifiers: o.Identifiers, Time: o.Time.AddDate(0, 0, 7).Add(time.Minute), RefundOf: o.ID,
				Lines: []Line{{Category: o.Lines[0].Category, Amount: o.Lines[0].Amount / 2}}}
			h.events = append(h.events, historyEvent{order: &ref})
		}
	}
	slices.SortStableFunc(h.events, func(a, b historyEvent) int { return a.time().Compare(b.time()) })
	h.asOf = orders[len(orders)-1].Time.AddDate(0, 0, 20)
	return h
}

func (ev historyEvent) time() time.Time {
	if ev.link != nil {
		return ev.link.Time
	}
	return ev.order.Time
}

// propertyConfig has a programme without tier thresholds: a tier, once
// reached, is kept, so it depends on when growth came together — two
// persons merged after a year apart each may never reach the tier their
// orders would have reached as one, and that is the ledger's rule, not a
// re-keying error. Points and growth add up either way.
func propertyConfig(t testing.TB) Config {
	program, err := loyalty.ParseProgram([]byte(`{"time_zone": "Asia/Shanghai", "earning": {"points_per_yuan": 1}, "growth": {"per_yuan": 1}}`))
	require.NoError(t, err)
	return Config{Location: shanghai, Categories: []string{"rx_diabetes", "care"}, Program: program}
}

var propertyTags = []tags.Definition{
	{Name: "regular", Rule: `orders_90d >= 2`},
	{Name: "omni", Rule: `channels_used >= 2 && orders_total >= 4`},
	{Name: "care_due", Rule: `due_days_care <= 30`},
	{Name: "online_first", Rule: `"online" in channels && orders_online > orders_store`},
	{Name: "value", Cases: []tags.Case{{When: `spend_total >= 100000`, Value: "high"}, {When: `spend_total >= 30000`, Value: "mid"}}, Default: "low"},
}

// TestMergeProperty checks that merging persons as identity finds them
// out — interleaved with their orders, with a refresh half-way — leaves
// every structure as computing from scratch on the final identities
// does: every bitmap, attribute and activity day of the index, every
// derived field, and the loyalty balances.
func TestMergeProperty(t *testing.T) {
	seeds := 12
	if testing.Short() || raceEnabled {
		seeds = 4
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ctx := context.Background()
			h := genHistory(seed, 40)

			inc, err := New(propertyConfig(t))
			require.NoError(t, err)
			require.NoError(t, inc.DefineTags(propertyTags...))
			for _, o := range h.first {
				_, err := inc.Observe(ctx, o)
				require.NoError(t, err)
			}
			half := len(h.events) / 2
			merges := 0
			for i, ev := range h.events {
				if i == half {
					_, err := inc.RefreshTags(ctx, ev.time())
					require.NoError(t, err)
				}
				if ev.link != nil {
					r, err := inc.Observe(ctx, *ev.link)
					require.NoError(t, err)
					merges += len(r.Merged)
					continue
				}
				_, err := inc.RecordOrder(ctx, *ev.order)
				require.NoError(t, err, ev.order.ID)
			}
			require.Positive(t, merges)

			// From scratch: all the evidence first, then the orders.
			ref, err := New(propertyConfig(t))
			require.NoError(t, err)
			require.NoError(t, ref.DefineTags(propertyTags...))
			for _, o := range h.first {
				_, err := ref.Observe(ctx, o)
				require.NoError(t, err)
			}
			for _, ev := range h.events {
				if ev.link != nil {
					_, err := ref.Observe(ctx, *ev.link)
					require.NoError(t, err)
				}
			}
			for _, ev := range h.events {
				if ev.order != nil {
					_, err := ref.RecordOrder(ctx, *ev.order)
					require.NoError(t, err, ev.order.ID)
				}
			}

			assertChainsMatchScan(t, inc, h.asOf)
			_, err = inc.RefreshTags(ctx, h.asOf)
			require.NoError(t, err)
			_, err = ref.RefreshTags(ctx, h.asOf)
			require.NoError(t, err)
			assertSameEngines(t, ref, inc, h.asOf)
			assertLiveMatchesBulk(t, inc, h.asOf)
		})
	}
}

// assertSameEngines compares two engines' indexes field by field, their
// profiles person by person and their loyalty balances.
func assertSameEngines(t *testing.T, want, got *Engine, asOf time.Time) {
	t.Helper()
	ctx := context.Background()
	assertSameViews(t, want.ix.View(), got.ix.View())
	live := want.livePersons()
	require.Equal(t, live.ToArray(), got.livePersons().ToArray(), "live persons")
	for it := live.Iterator(); it.HasNext(); {
		p := identity.PersonID(it.Next())
		a, b := profile(t, want, p), profile(t, got, p)
		assert.Equal(t, a, b, "person %d", p)
		if want.ledger != nil {
			ba, err := want.Balance(ctx, p, asOf)
			require.NoError(t, err)
			bb, err := got.Balance(ctx, p, asOf)
			require.NoError(t, err)
			assert.Equal(t, ba.Totals, bb.Totals, "person %d balance", p)
		}
	}
}

// assertLiveMatchesBulk re-derives every person one at a time, as the
// Engine does after a change, and checks that it gives the fields the
// refresh at the same as-of gave everyone at once.
func assertLiveMatchesBulk(t *testing.T, e *Engine, asOf time.Time) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for it := e.livePersons().Iterator(); it.HasNext(); {
		p := it.Next()
		bulk := snapshotRow(e.st.der, p)
		e.setLive(p, e.liveOf(p, asOf))
		for i := range e.st.der.cols {
			f, _ := e.schema.Field(tags.FieldID(e.hostN + i))
			a, _ := bulk.cols[i].value(0)
			b, _ := e.st.der.cols[i].value(p)
			if tm, ok := a.(time.Time); ok {
				a = tm.Unix()
				b = b.(time.Time).Unix()
			}
			assert.Equal(t, a, b, "person %d field %s", p, f.Name)
		}
	}
}

// assertChainsMatchScan checks each person's window entries, walked
// through its chain as live re-derivation does, against a scan of the
// whole log by person (what a refresh does), for windows from a week to
// ten years.
func assertChainsMatchScan(t *testing.T, e *Engine, asOf time.Time) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	d := int32(segment.DayOf(asOf, e.cfg.Location))
	w := e.st.win
	for _, days := range []int{7, 90, 3650} {
		want := map[uint32][2]int64{}
		for i, p := range w.person {
			if w.kind[i] == entryDeleted || w.day[i] > d || w.day[i] <= d-int32(days) {
				continue
			}
			s := want[p]
			if w.kind[i] == entryOrder {
				s[0]++
			}
			s[1] += w.amount[i]
			want[p] = s
		}
		for p := range uint32(e.st.persons) {
			o, sp := w.window(p, d, days)
			assert.Equal(t, want[p], [2]int64{o, sp}, "person %d, %d days", p, days)
		}
	}
}

// assertSameViews compares every field of two index versions.
func assertSameViews(t *testing.T, want, got *segment.View) {
	t.Helper()
	require.Equal(t, want.Fields(), got.Fields())
	assert.Equal(t, want.Members().ToArray(), got.Members().ToArray(), "universe")
	n := int(want.Members().Maximum()) + 1
	for _, f := range want.Fields() {
		switch f.Kind {
		case segment.KindTag:
			a, _ := want.Tag(f.Name)
			b, _ := got.Tag(f.Name)
			assert.Equal(t, a.ToArray(), b.ToArray(), "tag %s", f.Name)
		case segment.KindEnum:
			va, _ := want.EnumValues(f.Name)
			vb, _ := got.EnumValues(f.Name)
			assert.Equal(t, va, vb, "enum %s", f.Name)
			for _, v := range va {
				a, _ := want.EnumValue(f.Name, v)
				b, _ := got.EnumValue(f.Name, v)
				assert.Equal(t, a.ToArray(), b.ToArray(), "enum %s = %s", f.Name, v)
			}
		case segment.KindInt:
			ca, pa, _ := want.IntColumn(f.Name, n)
			cb, pb, _ := got.IntColumn(f.Name, n)
			assert.Equal(t, pa.ToArray(), pb.ToArray(), "int %s present", f.Name)
			assert.Equal(t, ca, cb, "int %s", f.Name)
		case segment.KindEvent:
			da, _ := want.ActivityDays(f.Name)
			db, _ := got.ActivityDays(f.Name)
			assert.Equal(t, da, db, "event %s days", f.Name)
			for _, d := range da {
				a, _ := want.Activity(f.Name, d.Start(want.Location()))
				b, _ := got.Activity(f.Name, d.Start(want.Location()))
				assert.Equal(t, a.ToArray(), b.ToArray(), "event %s on %s", f.Name, d)
			}
		}
	}
}
