package cdpkit

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/loyalty"
	"github.com/cdpkit/cdpkit/tags"
)

// TestBulkEqualsLive loads a synthetic pharmacy chain twice — through the
// bulk paths (ObserveAll, RecordOrders, which use the packages' batch
// APIs on all cores) and one record at a time (Observe, RecordOrder) —
// and checks that both engines end up identical, index, profiles and
// ledger. The chain's junk identifiers, shared phones and kiosks, refunds
// and refills exercise rejections, merges and the ledger.
func TestBulkEqualsLive(t *testing.T) {
	ctx := context.Background()
	members := 1500
	if raceEnabled {
		members = 300
	}
	c := newSynthChain(t, members, 7)
	cfg := c.config()
	program, err := loyalty.ParseProgram([]byte(testProgram))
	require.NoError(t, err)
	cfg.Program = program
	defs := []tags.Definition{
		{Name: "regular", Rule: "orders_90d >= 2"},
		{Name: "omni", Rule: "channels_used >= 2 && orders_total >= 4"},
		{Name: "refill_soon", Rule: "refill_due_days <= 7"},
		{Name: "wechat_fan", Rule: `"wechat" in channels`},
	}
	n := uint32(members)

	bulk, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, bulk.DefineTags(defs...))
	obsStats, err := bulk.ObserveAll(ctx, c.observations(0, n))
	var be *BulkError
	if err != nil {
		require.ErrorAs(t, err, &be)
	}
	ordStats, err := bulk.RecordOrders(ctx, c.orders(0, n))
	if err != nil {
		require.ErrorAs(t, err, &be)
	}
	assert.Positive(t, obsStats.Merged, "the chain's links merge persons")
	assert.Positive(t, ordStats.Applied)

	live, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, live.DefineTags(defs...))
	var liveObs, liveOrd BulkStats
	for o := range c.observations(0, n) {
		r, err := live.Observe(ctx, o)
		liveObs.Read++
		if err != nil {
			liveObs.Failed++
			continue
		}
		liveObs.Applied++
		liveObs.Merged += len(r.Merged)
		if r.Created {
			liveObs.Created++
		}
	}
	for o := range c.orders(0, n) {
		liveOrd.Read++
		r, err := live.RecordOrder(ctx, o)
		switch {
		case err != nil:
			liveOrd.Failed++
			var re *RecordError
			assert.True(t, errors.As(err, &re), "%v", err)
		case r.Replayed:
			liveOrd.Replayed++
		default:
			liveOrd.Applied++
			if r.Identity != nil && r.Identity.Created {
				liveOrd.Created++
			}
		}
	}
	assert.Equal(t, liveObs, obsStats)
	assert.Equal(t, liveOrd, ordStats)

	asOf := c.g.Config().End
	_, err = bulk.RefreshTags(ctx, asOf)
	require.NoError(t, err)
	_, err = live.RefreshTags(ctx, asOf)
	require.NoError(t, err)
	assertSameEngines(t, live, bulk, asOf)
	for _, expr := range []string{`tag("regular")`, `tag("omni") && tag("wechat_fan")`, `tag("refill_soon")`, `active("purchase", "30d")`} {
		a, b := count(t, live, expr), count(t, bulk, expr)
		assert.Equal(t, a, b, expr)
		assert.Positive(t, a, expr)
	}
}
