package pharmacy

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScorePartition(t *testing.T) {
	const none = uint32(identity.NoPerson)
	// Members 1 and 2 share person 10 (an over-merge); member 3 is split
	// over persons 11 and 12; one observation of member 3 resolved to no
	// one and is left out.
	person := []uint32{10, 10, 10, 10, 11, 11, 12, none}
	truth := []uint32{1, 1, 2, 2, 3, 3, 3, 3}
	s, members, persons := scorePartition(person, truth)
	// Pairs resolved together: C(4,2)+C(2,2) = 7; truly together among
	// them: C(2,2)+C(2,2)+C(2,2) = 3. Pairs truly together (of resolved
	// observations): C(2,2)+C(2,2)+C(3,2) = 5.
	assert.InDelta(t, 3.0/7, s.Precision, 1e-12)
	assert.InDelta(t, 3.0/5, s.Recall, 1e-12)
	assert.Equal(t, 1, s.OverMerged)
	assert.Equal(t, 2, s.OverMergedMembers)
	assert.Equal(t, 1, s.UnderMerged)
	assert.Equal(t, 1, s.ExtraPersons)
	assert.Equal(t, 2, s.Largest)
	assert.Equal(t, 3, members)
	assert.Equal(t, 3, persons)

	s, _, _ = scorePartition([]uint32{5, 6}, []uint32{1, 2})
	assert.Equal(t, 1.0, s.Precision, "no pairs resolved together is perfect precision")
	assert.Equal(t, 1.0, s.Recall, "no pairs truly together is perfect recall")
}

func TestContactLog(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	asOf := time.Date(2026, 9, 30, 23, 59, 59, 0, loc)
	persons := make([]uint32, 20000)
	for i := range persons {
		persons[i] = uint32(i * 3)
	}
	log := contactLog(7, persons, asOf, loc)
	require.NotEmpty(t, log)
	assert.Equal(t, log, contactLog(7, persons, asOf, loc), "deterministic")
	assert.NotEqual(t, log, contactLog(8, persons, asOf, loc), "the seed matters")

	byCampaign := map[int]int{}
	first, last := time.Date(2026, 9, 1, 0, 0, 0, 0, loc), time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	for i, c := range log {
		assert.True(t, !c.At.Before(first) && c.At.Before(last), "touch %v in the 30 days to the as-of day", c.At)
		assert.Contains(t, []string{"sms", "wechat"}, c.Channel)
		if i > 0 {
			assert.False(t, c.At.Before(log[i-1].At), "time order")
		}
		switch {
		case c.Channel == "sms":
			byCampaign[1]++
			assert.Equal(t, 18, c.At.Day(), "the SMS campaign went out 12 days before 30 September")
		case c.At.Day() == 27:
			byCampaign[2]++ // the coupon and that day's service messages
		default:
			byCampaign[0]++
		}
	}
	// Shares within 5 standard deviations of a binomial.
	within := func(got int, n int, p float64) {
		sd := 5 * math.Sqrt(float64(n)*p*(1-p))
		assert.InDelta(t, float64(n)*p, float64(got), sd)
	}
	within(byCampaign[1], len(persons), 0.20)
	within(byCampaign[0], 29*len(persons), 0.01)

	// A person's touches do not depend on who else is in the log.
	sub := contactLog(7, persons[:100], asOf, loc)
	var want []Contact
	for _, c := range log {
		if c.Person < persons[100] {
			want = append(want, c)
		}
	}
	assert.Equal(t, want, sub)
}

func TestGroupByPerson(t *testing.T) {
	// Two parts (workers); person 7 has orders from members 1 and 2, which
	// arrive out of time order and must be interleaved by time.
	mk := func(rows ...[3]int64) orders {
		var o orders
		for _, r := range rows {
			o.person = append(o.person, uint32(r[0]))
			o.unix = append(o.unix, r[1])
			o.id = append(o.id, uint64(r[2]))
			o.amount = append(o.amount, r[2])
			o.refundOf = append(o.refundOf, 0)
			o.channel = append(o.channel, 0)
			o.cat = append(o.cat, 0)
			o.supply = append(o.supply, 0)
			o.med = append(o.med, 0)
		}
		return o
	}
	id := func(member, seq int64) int64 { return member<<24 | seq }
	parts := []orders{
		mk([3]int64{7, 100, id(1, 0)}, [3]int64{3, 50, id(1, 1)}, [3]int64{7, 300, id(1, 2)}),
		mk([3]int64{7, 200, id(2, 0)}, [3]int64{0, 10, id(2, 1)}, [3]int64{7, 400, id(2, 2)}),
	}
	o := groupByPerson(parts, 8)
	assert.Equal(t, []uint32{0, 3, 7, 7, 7, 7}, o.person)
	assert.Equal(t, []int64{10, 50, 100, 200, 300, 400}, o.unix)
	assert.Equal(t, []int64{id(2, 1), id(1, 1), id(1, 0), id(2, 0), id(1, 2), id(2, 2)}, o.amount, "columns move together")
}

func TestConfig(t *testing.T) {
	c, err := Config{}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, 1_000_000, c.Members)
	assert.Equal(t, 13.5, c.MeanOrders)
	assert.NotEmpty(t, c.Salt)
	assert.Positive(t, c.Workers)

	for _, bad := range []Config{{Members: -1}, {Members: MaxMembers + 1}, {MeanOrders: -2}, {Workers: -1}} {
		_, err := bad.withDefaults()
		assert.ErrorIs(t, err, ErrConfig, "%+v", bad)
	}
	_, err = Run(context.Background(), Config{Members: -5})
	assert.True(t, errors.Is(err, ErrConfig))
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 20_000_000: "20,000,000"} {
		assert.Equal(t, want, thousands(n))
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Config{Members: 1000})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestTopCounts(t *testing.T) {
	assert.Equal(t, []string{"b", "a", "c"}, topCounts(map[string]int{"a": 2, "b": 5, "c": 2}))
	assert.Empty(t, topCounts(nil))
}

func TestUnlinkable(t *testing.T) {
	id := func(kind, value string) identity.Identifier { return identity.Identifier{Kind: kind, Value: value} }
	obs := func(ids ...identity.Identifier) identity.Observation { return identity.Observation{Identifiers: ids} }
	f := &feed{
		obs: []identity.Observation{
			// Member 0: one phone in two formats links both observations.
			obs(id("member_card", "1"), id("phone", "13900000001")),
			obs(id("phone", "+86 139-0000-0001")),
			// Member 1: a Taobao account and a card nothing links.
			obs(id("taobao_id", "t1")),
			obs(id("member_card", "2")),
			// Member 2: only the store's phone (unusable) links them; a
			// junk-only observation carries no evidence at all.
			obs(id("member_card", "3"), id("phone", "17000000001")),
			obs(id("phone", "17000000001"), id("jd_id", "j1")),
			obs(id("phone", "null")),
			// Member 3: seen once.
			obs(id("member_card", "4")),
		},
		truth: []uint32{0, 0, 1, 1, 2, 2, 2, 3},
	}
	unusable := []uint8{0, 0, 0, 0, 1 << 1, 1 << 0, 1 << 0, 0}
	none := uint32(identity.NoPerson)
	// Member 0 was split although its phone links it; members 1 and 2
	// were split as their evidence leaves no choice.
	person := []uint32{10, 15, 11, 12, 13, 14, none, 16}
	for _, workers := range []int{1, 3} {
		unlinked, splitLinked := unlinkable(f, person, unusable, 4, workers)
		assert.Equal(t, 2, unlinked, "workers %d", workers)
		assert.Equal(t, 1, splitLinked, "workers %d", workers)
	}
	person[1] = 10 // member 0 resolved as one person
	_, splitLinked := unlinkable(f, person, unusable, 4, 2)
	assert.Zero(t, splitLinked)
}
