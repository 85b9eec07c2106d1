package loyalty

import (
	"fmt"
	"time"
)

// An account is read and rewritten by every operation on it, so what it
// holds must not grow with the member's whole history. After each
// recorded operation the ledger drops from the account what no operation
// the programme still accepts can reach (HistoryRules):
//
//   - a lot with nothing pending or available whose own order and every
//     order or redemption that spent from it are past their refund window
//     (no refund can reverse it or restore points to it);
//   - growth days before the earliest day a growth window can still
//     start (an operation may be dated LateDays before the account's
//     clock and looks back one window from there) or a refundable order
//     can lie on.
//
// Entries are never touched: only the derived state shrinks, and every
// balance, receipt and audit comes out the same as without compaction
// (TestCompactionChangesNothing checks it on random operations). Card
// periods are kept: there are at most twelve a year, and Balance lists
// them all.

// refundCloses is when the refund window of an order or redemption placed
// at t closes.
func (p *Program) refundCloses(t time.Time) time.Time {
	return t.In(p.loc).AddDate(0, 0, p.refund)
}

// refundClosed reports whether the refund window of something placed at
// t is closed for an account whose clock reads clock.
func (p *Program) refundClosed(t, clock time.Time) bool {
	return !clock.Before(p.refundCloses(t))
}

// earliest is the earliest time an operation on an account whose clock
// reads clock may carry.
func (p *Program) earliest(clock time.Time) time.Time {
	return clock.In(p.loc).AddDate(0, 0, -p.late)
}

// growthFloor is the first growth day an account whose clock reads clock
// must hold.
func (p *Program) growthFloor(clock time.Time) day {
	// Evaluate looks at the window ending the day before its time, hence
	// the −1; a refund of an order puts growth back on the order's day.
	return min(p.windowStart(p.dayOf(p.earliest(clock))-1), p.dayOf(clock.In(p.loc).AddDate(0, 0, -p.refund))-1)
}

// keepLot reports whether an account whose clock reads clock must hold l.
func (p *Program) keepLot(l *lot, clock time.Time) bool {
	return l.Pending != 0 || l.Available != 0 || !p.refundClosed(l.EarnedAt, clock) ||
		!l.LastUsed.IsZero() && !p.refundClosed(l.LastUsed, clock)
}

// compact drops from s.a what no accepted operation can reach any more.
func (s *state) compact() {
	a := s.a
	kept := a.Lots[:0]
	for i := range a.Lots {
		if s.p.keepLot(&a.Lots[i], a.Clock) {
			kept = append(kept, a.Lots[i])
		}
	}
	clear(a.Lots[len(kept):])
	a.Lots = kept
	s.raiseFloor(s.p.growthFloor(a.Clock))
}

// raiseFloor drops growth days before f.
func (s *state) raiseFloor(f day) {
	a := s.a
	if f <= a.GrowthFloor {
		return
	}
	a.GrowthFloor = f
	i := 0
	for i < len(a.Growth) && a.Growth[i].Day < f {
		i++
	}
	a.Growth = a.Growth[i:]
}

// refundable checks that an order or redemption placed at placed may
// still be refunded or reversed. The window is measured to the later of
// the operation's time and the account's clock, so a refund that arrives
// late cannot reach what a compaction has already let go.
func (s *state) refundable(what string, placed time.Time) error {
	if placed.IsZero() {
		return nil // a redemption recorded before windows existed
	}
	now := s.at
	if s.a.Clock.After(now) {
		now = s.a.Clock
	}
	if s.p.refundClosed(placed, now) {
		return &WindowError{Member: s.a.Member, What: what, At: placed.In(s.p.loc),
			Limit: s.p.refundCloses(placed), Err: ErrRefundWindowClosed}
	}
	return nil
}

// checkLate refuses an operation dated more than LateDays before the
// account's clock.
func checkLate(p *Program, a *account, op Op) error {
	if a.Clock.IsZero() {
		return nil
	}
	if first := p.earliest(a.Clock); op.Time().Before(first) {
		return opErr(op, "at", &WindowError{Member: a.Member, What: fmt.Sprintf("%s %q", op.Kind(), op.TxID()),
			At: op.Time().In(p.loc), Limit: first, Err: ErrTooLate})
	}
	return nil
}
