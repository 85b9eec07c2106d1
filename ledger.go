package cdpkit

import (
	"context"
	"fmt"
	"time"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/loyalty"
)

// noteReceipt keeps person p's tier, points and growth fields in step
// with the ledger. The lock is held.
func (e *Engine) noteReceipt(p uint32, rc *loyalty.Receipt) {
	e.st.ledgerGen++
	if rc == nil || e.dx.tier < 0 || int(p) >= e.st.persons {
		return
	}
	d := e.st.der
	d.cols[e.dx.tier].setString(p, rc.After.Tier)
	d.cols[e.dx.points].setInt(p, rc.After.Available)
	d.cols[e.dx.growth].setInt(p, rc.After.Growth)
}

// Ledger returns the loyalty ledger, or nil without a programme. Read
// from it freely; apply operations through ApplyLoyalty, so that the
// tier and points fields follow.
func (e *Engine) Ledger() *loyalty.Ledger { return e.ledger }

// Balance returns person p's loyalty balances as of asOf; an alias is
// answered for the person it was merged into.
func (e *Engine) Balance(ctx context.Context, p identity.PersonID, asOf time.Time) (loyalty.Balance, error) {
	if e.ledger == nil {
		return loyalty.Balance{}, fmt.Errorf("balance: no loyalty programme: %w", ErrInvalid)
	}
	e.mu.RLock()
	q, err := e.canonRead(p)
	e.mu.RUnlock()
	if err != nil {
		return loyalty.Balance{}, fmt.Errorf("balance: %w", err)
	}
	return e.ledger.Balance(ctx, q, asOf)
}

// ApplyLoyalty applies a ledger operation other than orders and refunds
// (which RecordOrder applies): a redemption, an adjustment, a paid card, a
// top-up. Its member must be a live person (the ledger refuses a merged
// one with a *loyalty.MergedError naming the survivor). The person's tier
// and points fields follow, and are re-derived with their tags once a
// refresh has set a clock.
func (e *Engine) ApplyLoyalty(ctx context.Context, op loyalty.Op) (*loyalty.Receipt, []TagChange, error) {
	if e.ledger == nil {
		return nil, nil, fmt.Errorf("loyalty: no programme: %w", ErrInvalid)
	}
	if err := e.lock(ctx); err != nil {
		return nil, nil, err
	}
	if int(op.MemberID()) < e.st.persons {
		e.st.accounts.Add(op.MemberID())
	}
	rc, err := e.ledger.Apply(ctx, op)
	e.st.ledgerGen++
	if err == nil {
		e.noteReceipt(op.MemberID(), rc)
		e.markDirty(op.MemberID(), op.Time())
	}
	tc, tagErr := e.unlock(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("loyalty: %w", err)
	}
	return rc, tc, tagErr
}

// SettleLoyalty runs the programme's daily work at asOf: every account
// is settled (pending points mature, points expire, card periods end) and
// its tier reviewed, then the tier, points and growth fields are read
// back from the ledger. Run it before RefreshTags. It is idempotent per
// asOf.
func (e *Engine) SettleLoyalty(ctx context.Context, asOf time.Time) (loyalty.RunSummary, error) {
	if e.ledger == nil {
		return loyalty.RunSummary{}, fmt.Errorf("settle: no loyalty programme: %w", ErrInvalid)
	}
	if err := e.lock(ctx); err != nil {
		return loyalty.RunSummary{}, err
	}
	defer e.mu.Unlock()
	e.st.ledgerGen++
	sum, err := e.ledger.SettleAll(ctx, asOf)
	if err != nil {
		return sum, fmt.Errorf("settle: %w", err)
	}
	ev, err := e.ledger.EvaluateAll(ctx, asOf)
	if err != nil {
		return sum, fmt.Errorf("evaluate tiers: %w", err)
	}
	sum.Changed += ev.Changed
	sum.Events += ev.Events
	sum.Failed = append(sum.Failed, ev.Failed...)
	if err := e.loyaltyAll(ctx, asOf); err != nil {
		return sum, fmt.Errorf("settle: %w", err)
	}
	return sum, nil
}
