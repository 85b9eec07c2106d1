package pharmacy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cdpkit/cdpkit/loyalty"
)

// growthMonths is the programme's rolling growth window, and how long
// before the as-of day it launched: the ledger replays the orders of that
// quarter, all that the tiers can see. Replaying a quarter rather than a
// year keeps the default run (20M orders) within its minute; the ledger's
// cost grows with the orders replayed.
const growthMonths = 3

// programme is the chain's member programme: growth value of one per yuan
// over a rolling quarter decides the tier, reviewed at the as-of time
// straight to the tier the growth supports; one point per yuan, more for
// higher tiers and double in the WeChat mini program, pending for the
// seven-day return window and expiring at the end of the month twelve
// months after they were earned.
func programme(loc *time.Location) loyalty.Config {
	return loyalty.Config{
		Name:     "health club",
		Location: loc,
		Earning: loyalty.EarningRules{
			PointsPerYuan:      1,
			ChannelMultipliers: map[string]loyalty.Multiplier{"wechat": 20000},
			PendingDays:        7,
		},
		Expiry: loyalty.ExpiryPolicy{Months: 12, EndOf: loyalty.EndOfMonth},
		Tiers: []loyalty.Tier{
			{Name: "member", Threshold: 0},
			{Name: "silver", Threshold: 150, Multiplier: 11000},
			{Name: "gold", Threshold: 400, Multiplier: 12000},
			{Name: "platinum", Threshold: 1000, Multiplier: 15000},
		},
		Growth: loyalty.GrowthRules{PerYuan: 1, Window: loyalty.WindowRolling, Months: growthMonths, Downgrade: loyalty.DowngradeToSupported},
	}
}

// programmeRules describes the programme in a line.
func programmeRules(from time.Time) string {
	return "launched " + from.Format("2 January 2006") + " (the ledger replays the orders since); " +
		fmt.Sprintf("tier by growth value (1 per yuan over the last %d months), reviewed on the as-of day; ", growthMonths) +
		"1 point per yuan (silver 1.1×, gold 1.2×, platinum 1.5×; 2× in the WeChat mini program), " +
		"pending for 7 days, expiring at the end of the month 12 months on"
}

// settle runs the programme's daily work at the as-of time: pending points
// mature, points expire, every tier is reviewed.
func (s *story) settle(ctx context.Context) (string, error) {
	sum, err := s.engine.SettleLoyalty(ctx, s.asOf)
	if err != nil {
		return "", err
	}
	if len(sum.Failed) > 0 {
		return "", fmt.Errorf("settling failed for %d accounts: %w", len(sum.Failed), errors.Join(sum.Failed[:min(3, len(sum.Failed))]...))
	}
	return fmt.Sprintf("settle %s loyalty accounts: points mature and expire, tiers reviewed", thousands(sum.Members)), nil
}
