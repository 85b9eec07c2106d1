package cdpkit

import (
	"context"
	"errors"
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

var shanghai = mustLocation("Asia/Shanghai")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// day is 10:00 on a date of 2025 in Shanghai.
func day(month time.Month, d int) time.Time { return time.Date(2025, month, d, 10, 0, 0, 0, shanghai) }

func card(v string) identity.Identifier {
	return identity.Identifier{Kind: identity.KindMemberCard, Value: v}
}
func phone(v string) identity.Identifier {
	return identity.Identifier{Kind: identity.KindPhone, Value: v}
}

const testProgram = `{
	"time_zone": "Asia/Shanghai",
	"earning": {"points_per_yuan": 1},
	"tiers": [{"name": "silver", "threshold": 0}, {"name": "gold", "threshold": 500}],
	"growth": {"per_yuan": 1}
}`

// scenarioConfig is the chain of the hand-worked scenario.
func scenarioConfig(t testing.TB) Config {
	t.Helper()
	attrs, err := tags.NewSchema(
		tags.Field{Name: "age", Type: tags.Int, Index: tags.AsInt},
		tags.Field{Name: "city", Type: tags.String, Index: tags.AsEnum},
	)
	require.NoError(t, err)
	program, err := loyalty.ParseProgram([]byte(testProgram))
	require.NoError(t, err)
	return Config{Location: shanghai, Attributes: attrs, Categories: []string{"rx_diabetes"}, Program: program}
}

var scenarioTags = []tags.Definition{
	{Name: "diabetic", Rule: `present(due_days_rx_diabetes)`},
	{Name: "refill_week", Rule: `has_tag("diabetic") && refill_due_days <= 7`},
	{Name: "big", Rule: `spend_90d >= 20000`},
	{Name: "senior", Rule: `age >= 60`},
	{Name: "online_buyer", Rule: `"online" in channels`}, // a list: evaluated per person
}

// newScenario builds the hand-worked scenario up to its first refresh:
//
//	persons: 0 = A (card A, phone …001), 1 = B (card B), 2 = C (phone …003)
//	A1  A by card    Jan 5   store   rx_diabetes 120.00, 30 days' supply
//	A2  A by phone   Feb 20  online  rx_diabetes 120.00 (30 days), otc 30.00
//	B1  B by ID      Mar 1   store   200.00
//	C1  C by phone   Mar 10  online  50.00
//	RA2 refund of A2 Mar 12          otc 30.00
//
// refreshed as of Mar 15.
func newScenario(t *testing.T) (*Engine, *RefreshResult) {
	t.Helper()
	ctx := context.Background()
	e, err := New(scenarioConfig(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	for _, o := range []identity.Observation{
		{EventID: "reg-a", Source: "pos", Time: day(1, 1), Identifiers: []identity.Identifier{card("A"), phone("13800000001")}},
		{EventID: "reg-b", Source: "pos", Time: day(1, 1), Identifiers: []identity.Identifier{card("B")}},
		{EventID: "reg-c", Source: "wechat", Time: day(1, 1), Identifiers: []identity.Identifier{phone("13900000003")}},
	} {
		_, err := e.Observe(ctx, o)
		require.NoError(t, err)
	}
	for _, o := range []Order{
		{ID: "A1", Identifiers: []identity.Identifier{card("A")}, Time: day(1, 5), Channel: "store",
			Lines: []Line{{Category: "rx_diabetes", Amount: 12000, DaysSupply: 30}}},
		{ID: "A2", Identifiers: []identity.Identifier{phone("+86 138 0000 0001")}, Time: day(2, 20), Channel: "online",
			Lines: []Line{{Category: "rx_diabetes", Amount: 12000, DaysSupply: 30}, {Category: "otc", Amount: 3000}}},
		{ID: "B1", Person: 1, Time: day(3, 1), Amount: 20000},
		{ID: "C1", Identifiers: []identity.Identifier{phone("13900000003")}, Time: day(3, 10), Channel: "online", Amount: 5000},
		{ID: "RA2", Person: 0, Time: day(3, 12), Channel: "online", RefundOf: "A2", Lines: []Line{{Category: "otc", Amount: 3000}}},
	} {
		_, err := e.RecordOrder(ctx, o)
		require.NoError(t, err, "order %s", o.ID)
	}
	_, err = e.SetAttributes(ctx, 0, day(1, 1), map[string]any{"age": 65, "city": "Shanghai"})
	require.NoError(t, err)
	_, err = e.SetAttributes(ctx, 1, day(1, 1), map[string]any{"age": 40})
	require.NoError(t, err)
	require.NoError(t, e.DefineTags(scenarioTags...))
	res, err := e.RefreshTags(ctx, day(3, 15))
	require.NoError(t, err)
	return e, res
}

func profile(t *testing.T, e *Engine, p identity.PersonID) map[string]any {
	t.Helper()
	rec, err := e.Profile(p)
	require.NoError(t, err)
	out := map[string]any{}
	for i, f := range e.Schema().Fields() {
		if v, ok := rec.Value(tags.FieldID(i)); ok {
			out[f.Name] = v
		}
	}
	return out
}

func count(t *testing.T, e *Engine, expr string) uint64 {
	t.Helper()
	n, err := e.Count(expr)
	require.NoError(t, err, expr)
	return n
}

func members(t *testing.T, e *Engine, expr string) []uint32 {
	t.Helper()
	bm, err := e.Members(expr)
	require.NoError(t, err, expr)
	return bm.ToArray()
}

// TestScenarioDerived checks every derived field of the scenario against
// values worked out by hand (see newScenario), as of Mar 15:
//
//   - A: 2 orders, 120+150-30 = 240.00 net; last Feb 20 is 23 days back;
//     the 30-day window (Feb 14..Mar 15) holds A2 and the refund; the
//     supply runs out Jan 5+30 = Feb 4, then max(Feb 4, Feb 20)+30 = Mar
//     22, 7 days on. The population's mean interval is A's 46 days (the
//     only member with two purchase days), so A is due Feb 20+46 = Apr 7
//     (23 days), B Mar 1+46 = Apr 16 (32), C Mar 10+46 = Apr 25 (41).
//   - RFM over 3 buyers in 5 bins (NTILE: bins 1..3): R by recency A 23 >
//     B 14 > C 5 gives A 1, B 2, C 3; F by orders B 1, C 1 (ties by ID),
//     A 2 gives B 1, C 2, A 3; M by net spend C < B < A gives 1, 2, 3. The
//     grid names R1F3 "At Risk", R2F1 "Hibernating", R3F2 "About To Sleep".
//   - Loyalty at 1 point and 1 growth per yuan: A 120+150-30 = 240, B 200,
//     C 50, all silver (gold at 500).
func TestScenarioDerived(t *testing.T) {
	e, res := newScenario(t)
	assert.Equal(t, 3, res.Persons)
	a := profile(t, e, 0)
	at := func(m time.Month, d int) time.Time { return time.Date(2025, m, d, 0, 0, 0, 0, shanghai) }
	for field, want := range map[string]any{
		"age": int64(65), "city": "Shanghai",
		"orders_total": int64(2), "spend_total": int64(24000), "purchase_days": int64(2),
		"first_order_at": at(1, 5), "last_order_at": at(2, 20), "recency_days": int64(23),
		"orders_30d": int64(1), "spend_30d": int64(12000), "orders_90d": int64(2), "spend_90d": int64(24000),
		"channels": []string{"store", "online"}, "channels_used": int64(2), "orders_store": int64(1), "orders_online": int64(1),
		"rfm_r": int64(1), "rfm_f": int64(3), "rfm_m": int64(3), "rfm_segment": "At Risk",
		"next_purchase_days": int64(23), "refill_due_days": int64(7), "due_days_rx_diabetes": int64(7),
		"tier": "silver", "points": int64(240), "growth": int64(240),
	} {
		if tm, ok := want.(time.Time); ok {
			assert.True(t, tm.Equal(a[field].(time.Time)), "A %s: %v, want %v", field, a[field], want)
			continue
		}
		assert.Equal(t, want, a[field], "A %s", field)
	}
	b := profile(t, e, 1)
	for field, want := range map[string]any{
		"age": int64(40), "orders_total": int64(1), "spend_total": int64(20000), "recency_days": int64(14),
		"orders_30d": int64(1), "spend_30d": int64(20000), "channels": []string{"store"}, "channels_used": int64(1),
		"rfm_r": int64(2), "rfm_f": int64(1), "rfm_m": int64(2), "rfm_segment": "Hibernating",
		"next_purchase_days": int64(32), "points": int64(200),
	} {
		assert.Equal(t, want, b[field], "B %s", field)
	}
	assert.NotContains(t, b, "city")
	assert.NotContains(t, b, "refill_due_days", "no days-supply, no refill")
	assert.NotContains(t, b, "due_days_rx_diabetes")
	c := profile(t, e, 2)
	for field, want := range map[string]any{
		"orders_total": int64(1), "spend_total": int64(5000), "recency_days": int64(5), "orders_online": int64(1),
		"rfm_r": int64(3), "rfm_f": int64(2), "rfm_m": int64(1), "rfm_segment": "About To Sleep",
		"next_purchase_days": int64(41), "points": int64(50), "tier": "silver",
	} {
		assert.Equal(t, want, c[field], "C %s", field)
	}
	assert.NotContains(t, c, "age")

	// Tags: pushed down where the index holds the fields, per person for
	// the channel list.
	byTag := map[string]tags.Stats{}
	for _, s := range res.Tags {
		byTag[s.Tag] = s
	}
	assert.Equal(t, tags.PathPushDown, byTag["refill_week"].Path)
	assert.Equal(t, tags.PathCompiled, byTag["online_buyer"].Path)
	for expr, want := range map[string][]uint32{
		`tag("diabetic")`:                          {0},
		`tag("refill_week")`:                       {0},
		`tag("big")`:                               {0, 1},
		`tag("senior")`:                            {0},
		`tag("online_buyer")`:                      {0, 2},
		`rfm_segment == "At Risk"`:                 {0},
		`active("purchase:online", "30d")`:         {0, 2},
		`active("purchase", "7d")`:                 {2},
		`between(recency_days, 10, 30)`:            {0, 1},
		`tier == "silver" && points >= 100`:        {0, 1},
		`city == "Shanghai" || !has(age)`:          {0, 2},
		`next_purchase_days < 30 || clv > 1000000`: {0},
	} {
		assert.Equal(t, want, members(t, e, expr), expr)
	}

	// Contacting A takes A out of the refill audience.
	require.NoError(t, e.RecordEvent(context.Background(), "contacted", 0, day(3, 12)))
	assert.Zero(t, count(t, e, `tag("refill_week") && !active("contacted", "7d")`))
	assert.Equal(t, uint64(1), count(t, e, `tag("refill_week") && !active("contacted", "2d")`), "Mar 12 is 3 days before")
}

// TestScenarioLive checks what happens between refreshes: an order
// re-derives its person and returns the tags gained, a retry is a replay,
// a merge moves everything to the survivor.
func TestScenarioLive(t *testing.T) {
	ctx := context.Background()
	e, _ := newScenario(t)

	// B buys online on Mar 16: re-derived as of then.
	r, err := e.RecordOrder(ctx, Order{ID: "B2", Person: 1, Time: day(3, 16), Channel: "online", Amount: 1000})
	require.NoError(t, err)
	require.NotNil(t, r.Receipt)
	assert.Equal(t, int64(210), r.Receipt.After.Available)
	require.Len(t, r.Tags, 1)
	assert.Equal(t, TagChange{Person: 1, AsOf: day(3, 16), Gained: []tags.TagValue{{Tag: "online_buyer"}}}, r.Tags[0])
	b := profile(t, e, 1)
	assert.Equal(t, int64(2), b["orders_total"])
	assert.Equal(t, int64(21000), b["spend_90d"])
	assert.Equal(t, int64(0), b["recency_days"], "as of the order")
	assert.Equal(t, int64(2), b["rfm_r"], "scores wait for the next refresh")
	assert.Equal(t, []uint32{0, 1, 2}, members(t, e, `tag("online_buyer")`))
	assert.Equal(t, []uint32{1, 2}, members(t, e, `orders_online >= 1 && orders_store == 0 || orders_total == 2 && recency_days == 0`))

	// The same order again is a replay.
	r, err = e.RecordOrder(ctx, Order{ID: "B2", Person: 1, Time: day(3, 16), Channel: "online", Amount: 1000})
	require.NoError(t, err)
	assert.True(t, r.Replayed)
	assert.Equal(t, int64(2), profile(t, e, 1)["orders_total"])

	// Card B and C's phone seen together: C (2) merges into B (1).
	o, err := e.Observe(ctx, identity.Observation{EventID: "link-bc", Source: "crm", Time: day(3, 17),
		Identifiers: []identity.Identifier{card("B"), phone("13900000003")}})
	require.NoError(t, err)
	assert.Equal(t, identity.PersonID(1), o.Person)
	assert.Equal(t, []identity.PersonID{2}, o.Merged)
	b = profile(t, e, 2) // an alias answers for its survivor
	assert.Equal(t, int64(3), b["orders_total"])
	assert.Equal(t, int64(26000), b["spend_total"])
	assert.Equal(t, int64(3), b["purchase_days"])
	assert.Equal(t, int64(2), b["orders_online"])
	assert.Equal(t, int64(40), b["age"], "the survivor keeps its attributes")
	assert.Equal(t, int64(260), b["points"], "210 of B and 50 of C")
	bal, err := e.Balance(ctx, 2, day(3, 18))
	require.NoError(t, err)
	assert.Equal(t, int64(260), bal.Available)
	assert.Equal(t, []uint32{2}, bal.MergedFrom)
	closed, err := e.Ledger().Balance(ctx, 2, day(3, 18))
	require.NoError(t, err)
	assert.True(t, closed.Merged)
	assert.Equal(t, []uint32{0, 1}, members(t, e, `tag("online_buyer")`), "C left the universe")
	assert.Equal(t, uint64(2), count(t, e, `!tag("senior") || tag("senior")`))
	assert.Equal(t, []uint32{1}, members(t, e, `active("purchase:online", "1d", "2025-03-10")`), "C's activity moved to B")

	// An order for C's phone now lands on B.
	r, err = e.RecordOrder(ctx, Order{ID: "C2", Identifiers: []identity.Identifier{phone("13900000003")}, Time: day(3, 18), Amount: 500})
	require.NoError(t, err)
	assert.Equal(t, identity.PersonID(1), r.Person)
	_, err = e.RecordOrder(ctx, Order{ID: "C3", Person: 2, Time: day(3, 18), Amount: 500})
	require.NoError(t, err, "an alias ID is recorded for its survivor")
	assert.Equal(t, int64(5), profile(t, e, 1)["orders_total"])
}

// TestScenarioErrors checks that bad input changes nothing and says what
// and where.
func TestScenarioErrors(t *testing.T) {
	ctx := context.Background()
	e, _ := newScenario(t)
	for _, tc := range []struct {
		name string
		o    Order
		want string
	}{
		{"no ID", Order{Person: 0, Time: day(3, 16), Amount: 1}, "empty ID"},
		{"negative", Order{ID: "x1", Person: 0, Time: day(3, 16), Amount: -5}, "amount -5 is negative"},
		{"channel", Order{ID: "x2", Person: 0, Time: day(3, 16), Amount: 5, Channel: "fax"}, `channel "fax"`},
		{"lines exceed", Order{ID: "x3", Person: 0, Time: day(3, 16), Amount: 5, Lines: []Line{{Amount: 9}}}, "less than its lines"},
		{"no time", Order{ID: "x4", Person: 0, Amount: 5}, "no time"},
		{"unknown person", Order{ID: "x5", Person: 77, Time: day(3, 16), Amount: 5}, "person 77"},
		{"junk identifiers", Order{ID: "x6", Identifiers: []identity.Identifier{phone("null")}, Time: day(3, 16), Amount: 5}, "no usable identifier"},
		{"refund of nothing", Order{ID: "x7", Person: 0, Time: day(3, 16), RefundOf: "nope", Amount: 5}, "unknown order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.RecordOrder(ctx, tc.o)
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.want)
			var re *RecordError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.o.ID, re.ID)
		})
	}
	_, err := e.RecordOrder(ctx, Order{ID: "x5", Person: 77, Time: day(3, 16), Amount: 5})
	assert.ErrorIs(t, err, ErrUnknownPerson)
	assert.Equal(t, int64(2), profile(t, e, 0)["orders_total"], "nothing was recorded")

	// A bulk load reports the bad record by position and applies the rest.
	st, err := e.RecordOrders(ctx, slices.Values([]Order{
		{ID: "bulk-1", Person: 0, Time: day(3, 16), Amount: 100},
		{ID: "bulk-2", Person: 0, Time: day(3, 16), Amount: -1},
		{ID: "bulk-3", Person: 1, Time: day(3, 16), Amount: 100},
		{ID: "bulk-1", Person: 0, Time: day(3, 16), Amount: 100},
	}))
	var be *BulkError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 1, be.Failed)
	assert.Equal(t, 1, be.Errors[0].Index)
	assert.Equal(t, "bulk-2", be.Errors[0].ID)
	assert.Equal(t, BulkStats{Read: 4, Applied: 2, Replayed: 1, Failed: 1}, st)
	_, err = e.RefreshTags(ctx, day(3, 16))
	require.NoError(t, err)
	assert.Equal(t, int64(3), profile(t, e, 0)["orders_total"])

	// Expressions say where they are wrong.
	_, err = e.Count("tag(\"big\") &&\n  spend_90d >= ")
	var xe *segment.ExprError
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, 2, xe.Line)
	_, err = e.Count(`nosuch > 3`)
	assert.ErrorIs(t, err, segment.ErrUnknownField)
	_, err = e.SetAttributes(ctx, 0, day(3, 16), map[string]any{"age": "old"})
	assert.ErrorContains(t, err, `"age"`)
	_, err = e.SetAttributes(ctx, 0, day(3, 16), map[string]any{"height": 170})
	assert.ErrorIs(t, err, tags.ErrUnknownField)
	err = e.DefineTags(tags.Definition{Name: "bad", Rule: "orders_total >= \n 'x'"})
	var ce *tags.CompileError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "bad", ce.Rule)
}

// TestScenarioSegmentsAndErasure checks saved-segment subscriptions, the
// erasure of a person and a split.
func TestScenarioSegmentsAndErasure(t *testing.T) {
	ctx := context.Background()
	e, _ := newScenario(t)
	var got []SegmentChange
	unsub := e.Subscribe(func(c SegmentChange) { got = append(got, c) })
	defer unsub()
	require.NoError(t, e.SaveSegment("refill", `tag("refill_week")`))
	require.NoError(t, e.SaveSegment("regulars", `orders_total >= 2 || segment("refill")`))
	_, err := e.RefreshTags(ctx, day(3, 15))
	require.NoError(t, err)
	require.Len(t, got, 2, "new segments: everyone in them entered")
	assert.Equal(t, "refill", got[0].Segment)
	assert.Equal(t, []uint32{0}, got[0].Entered.ToArray())
	assert.Equal(t, "regulars", got[1].Segment)

	// A second order makes B a regular; the refresh reports it.
	_, err = e.RecordOrder(ctx, Order{ID: "B2", Person: 1, Time: day(3, 16), Amount: 100})
	require.NoError(t, err)
	got = nil
	changes, err := e.PollSegments(ctx)
	require.NoError(t, err)
	require.Len(t, changes, 1)
	assert.Equal(t, "regulars", changes[0].Segment)
	assert.Equal(t, []uint32{1}, changes[0].Entered.ToArray())
	assert.Equal(t, changes, got)

	// Erasing A clears it from everything; the next refresh reports the
	// exits.
	er, err := e.Erase(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, identity.PersonID(0), er.Person)
	_, err = e.Profile(0)
	assert.ErrorIs(t, err, ErrErased)
	_, err = e.RecordOrder(ctx, Order{ID: "A9", Person: 0, Time: day(3, 16), Amount: 100})
	assert.ErrorIs(t, err, ErrErased)
	assert.Equal(t, uint64(2), count(t, e, `true`))
	got = nil
	_, err = e.RefreshTags(ctx, day(3, 17))
	require.NoError(t, err)
	require.Len(t, got, 2)
	for i, name := range []string{"refill", "regulars"} {
		assert.Equal(t, name, got[i].Segment)
		assert.Equal(t, []uint32{0}, got[i].Exited.ToArray())
		assert.True(t, got[i].Entered.IsEmpty())
	}
	assert.Equal(t, []uint32{1}, members(t, e, `segment("regulars")`))

	// A's card seen again starts a new person.
	r, err := e.RecordOrder(ctx, Order{ID: "A10", Identifiers: []identity.Identifier{card("A")}, Time: day(3, 18), Amount: 100})
	require.NoError(t, err)
	assert.Equal(t, identity.PersonID(3), r.Person)
	require.NotNil(t, r.Identity)
	assert.True(t, r.Identity.Created)

	// Linking B and C, then splitting the link away, clears both for the
	// host to record again.
	_, err = e.Observe(ctx, identity.Observation{EventID: "link-bc", Time: day(3, 18), Identifiers: []identity.Identifier{card("B"), phone("13900000003")}})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), count(t, e, `true`), "B, and the new A")
	sr, err := e.SplitObservation(ctx, "link-bc")
	require.NoError(t, err)
	assert.Equal(t, []identity.PersonID{1, 2}, sr.Rederive)
	assert.Equal(t, uint64(3), count(t, e, `true`))
	assert.Equal(t, int64(0), profile(t, e, 2)["orders_total"], "C's data awaits re-recording")
	_, err = e.RecordOrder(ctx, Order{ID: "C1", Person: 2, Time: day(3, 10), Channel: "online", Amount: 5000})
	require.NoError(t, err, "re-recorded after the split")
	assert.Equal(t, int64(1), profile(t, e, 2)["orders_total"])
}

func TestNoProgramNoLoyalty(t *testing.T) {
	e, err := New(Config{})
	require.NoError(t, err)
	_, err = e.Balance(context.Background(), 0, time.Now())
	assert.ErrorIs(t, err, ErrInvalid)
	fields, err := DerivedFields(Config{})
	require.NoError(t, err)
	assert.False(t, slices.ContainsFunc(fields, func(f tags.Field) bool { return f.Name == FieldTier }))
	_, err = New(Config{Channels: []string{"a b"}})
	assert.ErrorIs(t, err, ErrInvalid)
	attrs, _ := tags.NewSchema(tags.Field{Name: "orders_total", Type: tags.Int})
	_, err = New(Config{Attributes: attrs})
	assert.ErrorContains(t, err, "derives a field of that name")
	assert.True(t, errors.Is(err, ErrInvalid))
}

func TestLifetimeModel(t *testing.T) {
	e, err := New(Config{})
	require.NoError(t, err)
	_, ok := e.LifetimeModel()
	assert.False(t, ok, "no refresh yet")
	c := newSynthChain(t, 400, 3)
	e = loadSynth(t, c, c.config())
	_, err = e.RefreshTags(context.Background(), c.g.Config().End)
	require.NoError(t, err)
	m, ok := e.LifetimeModel()
	require.True(t, ok)
	assert.Positive(t, m.Purchases.R)
	assert.Positive(t, m.Purchases.Alpha)
	require.NotNil(t, m.Spend)
	// The mean spend the model implies is of the order of the chain's
	// (synth: mean order 120 yuan for pharmacies).
	assert.InDelta(t, 12000, m.Spend.MeanSpend(), 8000)
}
