package cdpkit

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/loyalty"
)

// TestBulkLedgerOverlapEqualsLive checks RecordOrders' overlap of the
// ledger's batch with the summaries and activity days against RecordOrder
// one at a time. The programme launches mid-history, so each person's
// orders in a chunk fall both before the launch (applied alongside the
// ledger) and after it (applied once the ledger has answered); some
// orders after the launch spend points nobody has, which the ledger
// refuses, so they must reach neither the summaries nor the activity days
// while the same person's later orders do.
func TestBulkLedgerOverlapEqualsLive(t *testing.T) {
	ctx := context.Background()
	members := 800
	if raceEnabled {
		members = 200
	}
	c := newSynthChain(t, members, 11)
	cfg := c.config()
	program, err := loyalty.ParseProgram([]byte(testProgram))
	require.NoError(t, err)
	cfg.Program = program
	end := c.g.Config().End
	cfg.LoyaltyFrom = end.AddDate(0, -6, 0)
	n := uint32(members)

	// The orders, copied out of the generator's reused slices, with every
	// fifth buyer's first order after the launch paying with points.
	var orders []Order
	spent := map[string]bool{}
	before, after := 0, 0
	for o := range c.orders(0, n) {
		o.Lines = slices.Clone(o.Lines)
		o.Identifiers = slices.Clone(o.Identifiers)
		if o.Time.Before(cfg.LoyaltyFrom) {
			before++
		} else {
			after++
			buyer := o.Identifiers[0].Value
			if o.RefundOf == "" && !spent[buyer] && len(spent)%5 == 0 {
				o.PointsUsed = 1_000_000_000
			}
			spent[buyer] = true
		}
		orders = append(orders, o)
	}
	require.Positive(t, before, "orders before the launch")
	require.Positive(t, after, "orders after the launch")

	bulk, err := New(cfg)
	require.NoError(t, err)
	_, err = bulk.ObserveAll(ctx, c.observations(0, n))
	var be *BulkError
	if err != nil {
		require.ErrorAs(t, err, &be)
	}
	got, err := bulk.RecordOrders(ctx, slices.Values(orders))
	if err != nil {
		require.ErrorAs(t, err, &be)
	}

	live, err := New(cfg)
	require.NoError(t, err)
	for o := range c.observations(0, n) {
		_, _ = live.Observe(ctx, o) // rejections are the chain's junk
	}
	var want BulkStats
	refused := 0
	for _, o := range orders {
		want.Read++
		r, err := live.RecordOrder(ctx, o)
		switch {
		case err != nil:
			want.Failed++
			if errors.Is(err, loyalty.ErrInsufficientPoints) {
				refused++
			}
		case r.Replayed:
			want.Replayed++
		default:
			want.Applied++
		}
	}
	require.Positive(t, refused, "the ledger refuses the orders paid with points")
	got.Created, got.Merged = 0, 0 // counted by ObserveAll's engine only
	assert.Equal(t, want, got)

	asOf := end.Add(24 * time.Hour)
	_, err = bulk.RefreshTags(ctx, asOf)
	require.NoError(t, err)
	_, err = live.RefreshTags(ctx, asOf)
	require.NoError(t, err)
	assertSameEngines(t, live, bulk, asOf)
}
