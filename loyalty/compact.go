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
	return p.addDays(t, p.refund)
}

// refundClosed reports whether the refund window of something placed at
// t is closed for an account whose clock reads clock.
func (p *Program) refundClosed(t, clock time.Time) bool {
	return !clock.Before(p.refundCloses(t))
}

// earliest is the earliest time an operation on an account whose clock
// reads clock may carry.
func (p *Program) earliest(clock time.Time) time.Time {
	return p.addDays(clock, -p.late)
}

// growthFloor is the first growth day an account whose clock reads clock
// must hold.
func (p *Program) growthFloor(clock time.Time) day {
	// Evaluate looks at the window ending the day before its time, hence
	// the −1; a refund of an order puts growth back on the order's day.
	return min(p.windowStart(p.dayOf(p.earliest(clock))-1), p.dayOf(p.addDays(clock, -p.refund))-1)
}

// keepLot reports whether an account whose clock reads clock must hold l.
func (p *Program) keepLot(l *lot, clock time.Time) bool {
	if l.Pending != 0 || l.Available != 0 {
		return true
	}
	c := instantOf(clock)
	return p.refundOpen(l.EarnedAt, clock, c) || !l.LastUsed.IsZero() && p.refundOpen(l.LastUsed, clock, c)
}

// refundOpen is !refundClosed(t, clock) for an instant t (c is clock's).
// The window closes RefundDays days on at the same wall-clock time, which
// is RefundDays × 24 hours give or take the zone's offset changes in
// between (at most a day, even where a zone skipped one): further from
// the boundary than three days, the difference of the instants decides
// without the calendar.
func (p *Program) refundOpen(t instant, clock time.Time, c instant) bool {
	const slack = int64(3 * 24 * time.Hour)
	span := int64(p.refund) * int64(24*time.Hour)
	switch d := c.nanos() - t.nanos(); {
	case d < span-slack:
		return true
	case d > span+slack:
		return false
	}
	return !p.refundClosed(t.Time(), clock)
}

// compact drops from s.a what no accepted operation can reach any more.
func (s *state) compact() {
	a := s.a
	n := 0
	for i := range a.Lots {
		if !s.p.keepLot(&a.Lots[i], a.Clock) {
			a.dropStrs(&a.Lots[i])
			continue
		}
		if i != n {
			a.Lots[n] = a.Lots[i]
		}
		n++
	}
	clear(a.Lots[n:])
	a.Lots = a.Lots[:n]
	a.packStrs()
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
	if i > 0 {
		// Shift down rather than reslice, so the slice keeps its room
		// for the days still to come.
		a.Growth = a.Growth[:copy(a.Growth, a.Growth[i:])]
	}
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
func checkLate(p *Program, a *account, op Op) error { return checkLateAt(p, a, op, op.Time()) }

// checkLateAt is checkLate for op dated at.
func checkLateAt(p *Program, a *account, op Op, at time.Time) error {
	if a.Clock.IsZero() {
		return nil
	}
	if first := p.earliest(a.Clock); at.Before(first) {
		return opErr(op, "at", &WindowError{Member: a.Member, What: fmt.Sprintf("%s %q", op.Kind(), op.TxID()),
			At: op.Time().In(p.loc), Limit: first, Err: ErrTooLate})
	}
	return nil
}
