package identity

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The scenarios below are worked out by hand from the rules in resolve.go;
// the first two are the worked examples of Segment's identity resolution
// documentation (priority demotion; logout without reset).

func segmentKinds() []Kind {
	return []Kind{
		{Name: "user_id", Limit: 1},
		{Name: "email", Normalize: NormalizeEmail, Limit: 5},
		{Name: "anonymous_id", Limit: 5},
	}
}

func TestPriorityDemotion(t *testing.T) {
	// Profile {user_id abc123, email jane}. An event brings user_id abc456
	// with the same e-mail: merging would give two user_ids (limit 1), so
	// the lower-priority e-mail is demoted and abc456 starts a new person.
	h := newHarness(t, Config{Kinds: segmentKinds()})
	first := h.obs(id("user_id", "abc123"), id("email", "jane@example1.com"))
	require.True(t, first.Created)

	res := h.obs(id("user_id", "abc456"), id("email", "Jane@Example1.com"))
	assert.True(t, res.Created)
	assert.NotEqual(t, first.Person, res.Person)
	assert.Empty(t, res.Merged)
	assert.Equal(t, []Drop{{Identifier: id("email", "jane@example1.com"), Limits: []string{"user_id"}}}, res.Dropped)
	assert.Equal(t, []string{"user_id:abc123", "email:jane@example1.com"}, h.idents(first.Person))
	assert.Equal(t, []string{"user_id:abc456"}, h.idents(res.Person))
	assert.Equal(t, first.Person, h.lookup(id("email", "jane@example1.com")))
}

func TestLogoutWithoutReset(t *testing.T) {
	// u1 logs in on a browser (a1), logs out without the SDK resetting
	// a1, and u2 logs in on the same browser: {u1,a1} and {u2}.
	h := newHarness(t, Config{Kinds: segmentKinds()})
	p1 := h.obs(id("user_id", "u1"), id("anonymous_id", "a1")).Person
	res := h.obs(id("user_id", "u2"), id("anonymous_id", "a1"))
	assert.True(t, res.Created)
	assert.Equal(t, []string{"user_id:u1", "anonymous_id:a1"}, h.idents(p1))
	assert.Equal(t, []string{"user_id:u2"}, h.idents(res.Person))
	assert.Equal(t, []Drop{{Identifier: id("anonymous_id", "a1"), Limits: []string{"user_id"}}}, res.Dropped)
}

func TestBridgingObservationJoinsUnderOlderID(t *testing.T) {
	h := newHarness(t, Config{Kinds: DefaultKinds()})
	older := h.obs(id(KindPhone, "13800138000")).Person
	younger := h.obs(id(KindMemberCard, "C2")).Person
	require.Equal(t, PersonID(0), older)
	require.Equal(t, PersonID(1), younger)

	// The younger person's identifier comes first; age decides, not order.
	res := h.obs(id(KindMemberCard, "C2"), id(KindPhone, "+86 138-0013-8000"))
	assert.Equal(t, older, res.Person)
	assert.False(t, res.Created)
	assert.Equal(t, []PersonID{younger}, res.Merged)
	assert.Equal(t, older, h.lookup(id(KindMemberCard, "C2")))
	c, err := h.r.Canonical(younger)
	require.NoError(t, err)
	assert.Equal(t, older, c, "the loser is an alias that still resolves")
	assert.Equal(t, []string{"member_card:C2", "phone:13800138000"}, h.idents(younger))
	assert.Equal(t, 1, h.r.Stats().Persons)
}

func TestTransitiveComponents(t *testing.T) {
	kinds := []Kind{{Name: "cookie"}}
	h := newHarness(t, Config{Kinds: kinds})
	c := func(v string) Identifier { return id("cookie", v) }
	pa := h.obs(c("a"), c("b")).Person // person 0
	pc := h.obs(c("c"), c("d")).Person // person 1
	pe := h.obs(c("e")).Person         // person 2
	h.obs(c("x"), c("y"))              // person 3, never touched
	res := h.obs(c("b"), c("c"))
	assert.Equal(t, pa, res.Person)
	assert.Equal(t, []PersonID{pc}, res.Merged)
	res = h.obs(c("e"), c("d"))
	assert.Equal(t, pa, res.Person)
	assert.Equal(t, []PersonID{pe}, res.Merged)
	assert.Equal(t, []string{"cookie:a", "cookie:b", "cookie:c", "cookie:d", "cookie:e"}, h.idents(pa))
	assert.Equal(t, []string{"cookie:x", "cookie:y"}, h.idents(3))
	assert.Equal(t, 2, h.r.Stats().Persons)

	// One observation touching three persons merges the two younger ones
	// into the oldest, listed oldest first.
	h.obs(c("m"))
	h.obs(c("n"))
	res = h.obs(c("n"), c("m"), c("x"))
	assert.Equal(t, PersonID(3), res.Person)
	assert.Equal(t, []PersonID{4, 5}, res.Merged)
}

func TestBlockedValuesNeverMerge(t *testing.T) {
	kinds := DefaultKinds()
	kinds[2].Blocked = []string{"139-0000-0000"} // the store's own phone
	h := newHarness(t, Config{Kinds: kinds})
	junk := []Identifier{
		id(KindPhone, "null"),
		id(KindPhone, "NULL"),
		id(KindDevice, "00000000-0000-0000-0000-000000000000"), // zeroed IDFA
		id(KindDevice, "undefined"),
		id(KindUnionID, "  anonymous "),
		id(KindEmail, "-1"),
		id(KindPhone, "+86 139 0000 0000"),
		id(KindPhone, "13900000000"),
	}
	seen := map[PersonID]bool{}
	for i, j := range junk {
		res := h.obs(id(KindMemberCard, string(rune('A'+i))), j)
		assert.True(t, res.Created, "%v must not link", j)
		assert.False(t, seen[res.Person])
		seen[res.Person] = true
		require.Len(t, res.Rejected, 1)
		assert.ErrorIs(t, res.Rejected[0].Err, ErrBlocked, "%v", j)
		assert.Equal(t, 1, res.Rejected[0].Index)
		assert.Equal(t, j, res.Rejected[0].Identifier)
	}
	assert.Equal(t, len(junk), h.r.Stats().Identifiers, "only the cards are stored")
	_, err := h.r.Lookup(id(KindPhone, "13900000000"))
	assert.ErrorIs(t, err, ErrBlocked)

	// An observation of junk alone resolves to nobody.
	res, err := h.r.Observe(Observation{EventID: "junk", Time: t0, Identifiers: []Identifier{id(KindPhone, "null"), id(KindPhone, "12345")}})
	assert.ErrorIs(t, err, ErrNoIdentifier)
	assert.Equal(t, NoPerson, res.Person)
	require.Len(t, res.Rejected, 2)
	assert.ErrorIs(t, res.Rejected[0].Err, ErrBlocked)
	assert.ErrorIs(t, res.Rejected[1].Err, ErrInvalid)
}

func TestBlockedPatterns(t *testing.T) {
	kinds := []Kind{{Name: "card", Limit: 1}, {Name: "cookie", BlockedPatterns: []string{`^test-`}}}
	h := newHarness(t, Config{Kinds: kinds})
	a := h.obs(id("card", "1"), id("cookie", "test-42"))
	b := h.obs(id("card", "2"), id("cookie", "test-42"))
	assert.NotEqual(t, a.Person, b.Person)
	assert.ErrorIs(t, b.Rejected[0].Err, ErrBlocked)
	assert.Equal(t, a.Person, h.obs(id("cookie", "prod-1"), id("card", "1")).Person)
}

func TestLimitOverflowDropsNewIdentifier(t *testing.T) {
	kinds := []Kind{{Name: "card", Limit: 1}, {Name: "device", Limit: 2}}
	h := newHarness(t, Config{Kinds: kinds})
	p := h.obs(id("card", "C1"), id("device", "d1")).Person
	h.obs(id("card", "C1"), id("device", "d2"))
	res := h.obs(id("device", "d3"), id("card", "C1"))
	assert.Equal(t, p, res.Person)
	assert.Equal(t, 0, res.Attached)
	assert.Equal(t, []Drop{{Identifier: id("device", "d3"), Limits: []string{"device"}}}, res.Dropped)
	assert.Equal(t, []string{"card:C1", "device:d1", "device:d2"}, h.idents(p))
	_, err := h.r.Lookup(id("device", "d3"))
	assert.ErrorIs(t, err, ErrUnlinked, "d3 is kept as evidence, not linked")

	// d3 seen alone later is a person of its own.
	res = h.obs(id("device", "d3"))
	assert.True(t, res.Created)
	assert.Equal(t, res.Person, h.lookup(id("device", "d3")))
}

func TestAlreadyIdentifiedConflict(t *testing.T) {
	h := newHarness(t, Config{Kinds: DefaultKinds()})
	p0 := h.obs(id(KindMemberCard, "C1"), id(KindPhone, "13800138000")).Person
	p1 := h.obs(id(KindMemberCard, "C2")).Person

	// The phone already belongs to a person identified by another card:
	// joining would give two cards, so the phone (lower priority) is
	// dropped and the observation stays with C2's person.
	res := h.obs(id(KindMemberCard, "C2"), id(KindPhone, "13800138000"))
	assert.Equal(t, p1, res.Person)
	assert.Equal(t, []Drop{{Identifier: id(KindPhone, "13800138000"), Limits: []string{KindMemberCard}}}, res.Dropped)
	assert.Equal(t, []string{"member_card:C1", "phone:13800138000"}, h.idents(p0))
	assert.Equal(t, []string{"member_card:C2"}, h.idents(p1))

	// Two cards of two identified persons: same kind, so the link to the
	// younger person is dropped and the older one keeps the observation.
	res = h.obs(id(KindMemberCard, "C2"), id(KindMemberCard, "C1"))
	assert.Equal(t, p0, res.Person)
	assert.Equal(t, []Drop{{Identifier: id(KindMemberCard, "C2"), Limits: []string{KindMemberCard}}}, res.Dropped)

	// A new card with an identified person's phone: the phone is the
	// lowest-priority offender, so the new card starts its own person.
	res = h.obs(id(KindMemberCard, "C3"), id(KindPhone, "13800138000"))
	assert.True(t, res.Created)
	assert.Equal(t, []string{"member_card:C3"}, h.idents(res.Person))

	// A second card in one observation of a new customer: cards tie on
	// priority and are both new, so the greater value is dropped.
	res = h.obs(id(KindMemberCard, "C9"), id(KindMemberCard, "C8"), id(KindPhone, "13700000001"))
	assert.Equal(t, []string{"member_card:C8", "phone:13700000001"}, h.idents(res.Person))
	assert.Equal(t, []Drop{{Identifier: id(KindMemberCard, "C9"), Limits: []string{KindMemberCard}}}, res.Dropped)
}

func TestWindowedLimit(t *testing.T) {
	kinds := []Kind{{Name: "card", Limit: 1}, {Name: "device", Limit: 2, Window: 30 * 24 * time.Hour}}
	h := newHarness(t, Config{Kinds: kinds})
	day := func(d int) time.Time { return t0.AddDate(0, 0, d) }
	p := h.at(day(0), id("card", "C"), id("device", "d1")).Person
	h.at(day(1), id("card", "C"), id("device", "d2"))
	// Day 40: d1 (day 0) and d2 (day 1) were last seen over 30 days ago.
	res := h.at(day(40), id("card", "C"), id("device", "d3"))
	assert.Empty(t, res.Dropped)
	res = h.at(day(41), id("card", "C"), id("device", "d4"))
	assert.Empty(t, res.Dropped, "only d3 is active")
	// Day 42: d3 and d4 are active; a third is one too many.
	res = h.at(day(42), id("card", "C"), id("device", "d5"))
	assert.Equal(t, []Drop{{Identifier: id("device", "d5"), Limits: []string{"device"}}}, res.Dropped)
	// Seeing d1 again is no growth and no violation, and makes it active.
	res = h.at(day(43), id("card", "C"), id("device", "d1"))
	assert.Empty(t, res.Dropped)
	assert.Equal(t, []string{"card:C", "device:d1", "device:d2", "device:d3", "device:d4"}, h.idents(p))
}

func TestOpenIDLimitPerScope(t *testing.T) {
	h := newHarness(t, Config{Kinds: DefaultKinds()})
	p := h.obs(id(KindUnionID, "U1"), openid("wxaaaa", "oA1")).Person
	res := h.obs(id(KindUnionID, "U1"), openid("wxbbbb", "oB1"))
	assert.Empty(t, res.Dropped, "one OpenID per app, two apps")
	res = h.obs(openid("wxaaaa", "oA2"), id(KindUnionID, "U1"))
	assert.Equal(t, p, res.Person)
	assert.Equal(t, []Drop{{Identifier: openid("wxaaaa", "oA2"), Limits: []string{KindWeChatOpenID}}}, res.Dropped)

	// The same value under two apps is two identifiers.
	q := h.obs(openid("wxcccc", "oA1")).Person
	assert.NotEqual(t, p, q)
	assert.Equal(t, p, h.lookup(openid("wxaaaa", "oA1")))
	assert.Equal(t, q, h.lookup(openid("wxcccc", "oA1")))
	assert.Equal(t, []string{"wechat_unionid:U1", "wechat_openid[wxaaaa]:oA1", "wechat_openid[wxbbbb]:oB1"}, h.idents(p))

	// A scoped kind without a scope is malformed.
	_, err := h.r.Observe(Observation{Time: t0, Identifiers: []Identifier{{Kind: KindWeChatOpenID, Value: "x"}}})
	assert.ErrorIs(t, err, ErrBadObservation)
}

func TestCaps(t *testing.T) {
	kinds := []Kind{{Name: "cookie"}}
	h := newHarness(t, Config{Kinds: kinds, MaxIdentifiers: 3, MaxMerges: 1})
	c := func(v string) Identifier { return id("cookie", v) }
	p := h.obs(c("a"), c("b"), c("c")).Person
	res := h.obs(c("a"), c("d"))
	assert.Equal(t, p, res.Person)
	assert.Equal(t, []Drop{{Identifier: c("d"), Limits: []string{LimitMaxIdentifiers}}}, res.Dropped)

	h2 := newHarness(t, Config{Kinds: kinds, MaxMerges: 1})
	a := h2.obs(c("a")).Person
	b := h2.obs(c("b")).Person
	cc := h2.obs(c("c")).Person
	res = h2.obs(c("a"), c("b"))
	assert.Equal(t, []PersonID{b}, res.Merged)
	// a's person has absorbed one person already; absorbing c's would be
	// the second merge, so the link to the younger person is dropped.
	res = h2.obs(c("c"), c("a"))
	assert.Equal(t, a, res.Person)
	assert.Empty(t, res.Merged)
	assert.Equal(t, []Drop{{Identifier: c("c"), Limits: []string{LimitMaxMerges}}}, res.Dropped)
	assert.Equal(t, cc, h2.lookup(c("c")))
}

func TestStricterRulesDoNotBreakExisting(t *testing.T) {
	// A person over a limit (a window lapsed, then came back) is not
	// punished for being seen again.
	kinds := []Kind{{Name: "device", Limit: 1, Window: 24 * time.Hour}, {Name: "cookie"}}
	h := newHarness(t, Config{Kinds: kinds})
	p := h.at(t0, id("device", "d1"), id("cookie", "k")).Person
	h.at(t0.AddDate(0, 0, 5), id("device", "d2"), id("cookie", "k"))
	res := h.at(t0.AddDate(0, 0, 5), id("device", "d1"), id("device", "d2"), id("cookie", "k"))
	assert.Equal(t, p, res.Person)
	assert.Empty(t, res.Dropped)
}

func TestMalformedObservations(t *testing.T) {
	h := newHarness(t, Config{Kinds: DefaultKinds()})
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'x'
	}
	many := make([]Identifier, 256)
	for i := range many {
		many[i] = id(KindDevice, string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	cases := []struct {
		name string
		o    Observation
		want error
		at   int
	}{
		{"zero time", Observation{Identifiers: []Identifier{id(KindMemberCard, "1")}}, ErrBadObservation, -1},
		{"before 1970", Observation{Time: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), Identifiers: []Identifier{id(KindMemberCard, "1")}}, ErrBadObservation, -1},
		{"unknown kind", Observation{Time: t0, Identifiers: []Identifier{id(KindMemberCard, "1"), id("fax", "1")}}, ErrUnknownKind, 1},
		{"scope on unscoped kind", Observation{Time: t0, Identifiers: []Identifier{{Kind: KindPhone, Value: "13800138000", Scope: "wx1"}}}, ErrBadObservation, 0},
		{"long event ID", Observation{EventID: string(long), Time: t0, Identifiers: []Identifier{id(KindMemberCard, "1")}}, ErrBadObservation, -1},
		{"too many identifiers", Observation{Time: t0, Identifiers: many}, ErrBadObservation, -1},
		{"no identifiers", Observation{Time: t0}, ErrNoIdentifier, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := h.r.Observe(tc.o)
			require.ErrorIs(t, err, tc.want)
			var oe *ObservationError
			require.True(t, errors.As(err, &oe))
			assert.Equal(t, tc.at, oe.Identifier)
			assert.Equal(t, NoPerson, res.Person)
		})
	}
	assert.Equal(t, 0, h.r.Stats().Identifiers, "nothing was stored")
	assert.Equal(t, 0, h.r.Stats().Observations)
}

func TestDuplicateIdentifiersInOneObservation(t *testing.T) {
	h := newHarness(t, Config{Kinds: DefaultKinds()})
	res := h.obs(id(KindPhone, "13800138000"), id(KindPhone, "+86 138 0013 8000"), id(KindMemberCard, "C"))
	assert.Equal(t, 2, res.Attached)
	assert.Empty(t, res.Dropped)
}

func TestObserveBatch(t *testing.T) {
	h := newHarness(t, Config{Kinds: DefaultKinds()})
	var obs []Observation
	for i := range 600 {
		o := Observation{EventID: "b" + string(rune('0'+i%10)), Time: t0, Identifiers: []Identifier{id(KindMemberCard, string(rune(0x4e00+i/2)))}}
		if i == 7 || i == 300 {
			o.Identifiers = append(o.Identifiers, id("fax", "1"))
		}
		obs = append(obs, o)
	}
	results := make([]Result, len(obs))
	err := h.r.ObserveBatch(obs, results)
	var be *BatchError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 2, be.Failed)
	require.Len(t, be.Errors, 2)
	assert.Equal(t, 7, be.Errors[0].Index)
	assert.Equal(t, 300, be.Errors[1].Index)
	assert.ErrorIs(t, err, ErrUnknownKind)
	assert.Equal(t, NoPerson, results[7].Person)
	// The rest went through: 300 cards, each seen twice except two.
	assert.Equal(t, 300, h.r.Stats().Persons)
	assert.Equal(t, results[0].Person, results[1].Person)
	assert.True(t, results[0].Created)
	assert.False(t, results[1].Created)
	h.check()
}
