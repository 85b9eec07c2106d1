package cdpkit

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cdpkit/cdpkit/identity"
)

// TestRefreshReadsBalancesAgainAfterAChange checks that a refresh at the
// settle's as-of, which skips reading the balances back a second time,
// still reads them when the ledger changed in between: a bulk load (which
// builds no receipts) after the settle must show in the tier, points and
// growth fields. testProgram earns 1 point and 1 growth per yuan; gold
// starts at 500 growth.
func TestRefreshReadsBalancesAgainAfterAChange(t *testing.T) {
	ctx := context.Background()
	e, err := New(scenarioConfig(t))
	require.NoError(t, err)
	asOf := day(3, 31)
	r, err := e.RecordOrder(ctx, Order{ID: "A", Identifiers: []identity.Identifier{phone("13900000001")}, Time: day(3, 1), Amount: 10000})
	require.NoError(t, err)
	who := r.Person
	_, err = e.SettleLoyalty(ctx, asOf)
	require.NoError(t, err)
	_, err = e.RefreshTags(ctx, asOf)
	require.NoError(t, err)
	p := profile(t, e, who)
	assert.Equal(t, "silver", p[FieldTier])
	assert.EqualValues(t, 100, p[FieldPoints])
	assert.EqualValues(t, 100, p[FieldGrowth])

	_, err = e.RecordOrders(ctx, slices.Values([]Order{{ID: "B", Person: who, Time: day(3, 2), Amount: 50000}}))
	require.NoError(t, err)
	_, err = e.RefreshTags(ctx, asOf)
	require.NoError(t, err)
	p = profile(t, e, who)
	assert.Equal(t, "gold", p[FieldTier], "tier after 600 yuan")
	assert.EqualValues(t, 600, p[FieldPoints])
	assert.EqualValues(t, 600, p[FieldGrowth])

	// A settle and a refresh at the same as-of with nothing in between
	// agree with the ledger.
	_, err = e.SettleLoyalty(ctx, asOf)
	require.NoError(t, err)
	_, err = e.RefreshTags(ctx, asOf)
	require.NoError(t, err)
	b, err := e.Balance(ctx, who, asOf)
	require.NoError(t, err)
	p = profile(t, e, who)
	assert.Equal(t, b.Tier, p[FieldTier])
	assert.EqualValues(t, b.Available, p[FieldPoints])
	assert.EqualValues(t, b.Growth, p[FieldGrowth])
}
