package loyalty

import (
	"context"
	"fmt"
	"maps"
)

// AuditReport is the outcome of Ledger.Audit.
type AuditReport struct {
	Members int
	Entries uint64
	// Problems describe every mismatch found, each naming the member.
	Problems []string
}

// OK reports whether the audit found nothing wrong.
func (r *AuditReport) OK() bool { return len(r.Problems) == 0 }

// Audit recomputes every member's balances from their ledger entries and
// compares them with the stored account: points per lot (available and
// pending), lot counters, debt, lifetime points, growth value per day,
// tier, card fees and savings, stored value. Lots and growth days that
// compaction dropped must add up to nothing left (lots) or lie before the
// account's growth floor (days); an account closed by a Merge must hold
// nothing. It also checks that entry sequence numbers are contiguous and
// that each transaction's entries are exactly those its record lists — on
// both members of a Merge — so a half-applied operation cannot pass. It
// reads everything once: O(entries).
func (l *Ledger) Audit(ctx context.Context) (AuditReport, error) {
	var rep AuditReport
	for rec, err := range l.store.Accounts(ctx) {
		if err != nil {
			return rep, err
		}
		rep.Members++
		n, probs, err := l.auditMember(ctx, rec)
		if err != nil {
			return rep, err
		}
		rep.Entries += n
		rep.Problems = append(rep.Problems, probs...)
	}
	return rep, nil
}

type lotSums struct{ earned, available, pending int64 }

func (l *Ledger) auditMember(ctx context.Context, rec MemberRecord) (uint64, []string, error) {
	m := rec.Member
	var probs []string
	bad := func(format string, args ...any) {
		probs = append(probs, fmt.Sprintf("member %d: ", m)+fmt.Sprintf(format, args...))
	}
	a, err := decodeAccount(rec.Account)
	if err != nil {
		bad("%v", err)
		return 0, probs, nil
	}
	if a.Member != m {
		bad("account says member %d", a.Member)
	}

	lots := map[uint32]*lotSums{}
	growth := map[day]int64{}
	savings := map[int32]int64{}
	fees := map[int32]int64{}
	var debt, lifetime, principal, bonus int64
	lastTier := ""
	var n uint64

	// Entries of one transaction are contiguous; check each run against
	// the transaction's record.
	runTx, runStart, runLen := "", uint64(0), uint64(0)
	checkRun := func() error {
		if runLen == 0 {
			return nil
		}
		raw, err := l.store.Tx(ctx, runTx)
		if err != nil {
			return err
		}
		if raw == nil {
			bad("entries %d..%d belong to tx %q, which has no record", runStart, runStart+runLen-1, runTx)
			return nil
		}
		tr, err := decodeTxRecord(raw)
		switch {
		case err != nil:
			bad("tx %q: %v", runTx, err)
		case tr.HasPeer && tr.Peer == m:
			// This member was merged away by tx: its part must be the
			// one recorded, and the survivor's part must exist too.
			if tr.PeerFirstSeq != runStart || tr.PeerCount != runLen {
				bad("tx %q: record says member %d entries %d+%d, ledger has %d+%d", runTx, m, tr.PeerFirstSeq, tr.PeerCount, runStart, runLen)
			}
			return l.auditOtherSide(ctx, runTx, tr.Member, tr.FirstSeq, tr.Count, bad)
		case tr.Member != m || tr.FirstSeq != runStart || tr.Count != runLen:
			bad("tx %q: record says member %d entries %d+%d, ledger has %d+%d", runTx, tr.Member, tr.FirstSeq, tr.Count, runStart, runLen)
		case tr.HasPeer:
			return l.auditOtherSide(ctx, runTx, tr.Peer, tr.PeerFirstSeq, tr.PeerCount, bad)
		}
		return nil
	}

	for b, err := range l.store.Entries(ctx, m, 0) {
		if err != nil {
			return n, probs, err
		}
		e, err := decodeEntry(b)
		if err != nil {
			bad("entry %d: %v", n, err)
			n++
			continue
		}
		if e.Seq != n {
			bad("entry %d has sequence number %d", n, e.Seq)
		}
		if e.Tx != runTx {
			if err := checkRun(); err != nil {
				return n, probs, err
			}
			runTx, runStart, runLen = e.Tx, n, 0
		}
		runLen++
		n++

		if e.Lot != 0 {
			ls := lots[e.Lot]
			if ls == nil {
				ls = &lotSums{}
				lots[e.Lot] = ls
			}
			if (e.Kind == EntryEarn || e.Kind == EntryAdjust) && e.Lifetime > 0 {
				ls.earned += e.Lifetime
			}
			if e.Kind == EntryMergeIn {
				ls.earned += e.Earned
			}
			ls.available += e.Points
			ls.pending += e.Pending
		}
		debt += e.Debt
		lifetime += e.Lifetime
		principal += e.Principal
		bonus += e.Bonus
		if e.Growth != 0 {
			growth[day(e.GrowthDay)] += e.Growth
		}
		switch e.Kind {
		case EntryTier:
			lastTier = e.ToTier
		case EntrySavings:
			savings[e.Card] += e.Amount
		case EntryCardFee:
			fees[e.Card] += e.Amount
		case EntryCardMergeIn, EntryCardMergeOut:
			fees[e.Card] += e.Amount
			savings[e.Card] += e.Savings
		}
	}
	if err := checkRun(); err != nil {
		return n, probs, err
	}

	if a.Seq != n {
		bad("account counts %d entries, ledger has %d", a.Seq, n)
	}
	for i := range a.Lots {
		lt := &a.Lots[i]
		ls := lots[lt.ID]
		if ls == nil {
			ls = &lotSums{}
		}
		delete(lots, lt.ID)
		if ls.earned != lt.Earned || ls.available != lt.Available || ls.pending != lt.Pending {
			bad("lot %d: entries give earned %d available %d pending %d, account has %d %d %d",
				lt.ID, ls.earned, ls.available, ls.pending, lt.Earned, lt.Available, lt.Pending)
		}
		parts := []int64{lt.Pending, lt.Available, lt.Spent, lt.Expired, lt.Reversed, lt.ClawedOut, lt.Clawed}
		sum := int64(0)
		for _, v := range parts[:6] {
			sum += v
		}
		for _, v := range parts {
			if v < 0 {
				bad("lot %d: negative counter %v", lt.ID, parts)
				break
			}
		}
		if sum != lt.Earned {
			bad("lot %d: pending+available+spent+expired+reversed+clawed out = %d, earned %d", lt.ID, sum, lt.Earned)
		}
	}
	for id, ls := range lots {
		// A lot compaction dropped, or a merge moved away, has nothing
		// left in it.
		if id > a.LotsIssued || ls.available != 0 || ls.pending != 0 {
			bad("entries name lot %d (available %d, pending %d), which the account lacks", id, ls.available, ls.pending)
		}
	}
	for i := 1; i < len(a.Lots); i++ {
		if a.Lots[i].ID <= a.Lots[i-1].ID {
			bad("lots out of order")
		}
	}
	if debt != a.Debt || lifetime != a.Lifetime || principal != a.Principal || bonus != a.Bonus {
		bad("entries give debt %d lifetime %d principal %d bonus %d, account has %d %d %d %d",
			debt, lifetime, principal, bonus, a.Debt, a.Lifetime, a.Principal, a.Bonus)
	}
	if a.Debt < 0 || a.Principal < 0 || a.Bonus < 0 {
		bad("negative debt, principal or bonus")
	}
	if lastTier != a.Tier {
		bad("entries end in tier %q, account has %q", lastTier, a.Tier)
	}
	stored := map[day]int64{}
	for _, g := range a.Growth {
		if g.Value != 0 {
			stored[g.Day] = g.Value
		}
	}
	// Days before the floor were compacted away (or, on a merged
	// account, let go): they are no longer held.
	maps.DeleteFunc(growth, func(d day, v int64) bool { return v == 0 || d < a.GrowthFloor })
	if !maps.Equal(stored, growth) {
		bad("growth by day from entries %v differs from account %v", growth, stored)
	}
	for i, c := range a.Cards {
		if savings[int32(i)] != c.Savings || fees[int32(i)] != c.Fee {
			bad("card period %d: entries give fee %d savings %d, account has %d %d", i, fees[int32(i)], savings[int32(i)], c.Fee, c.Savings)
		}
		delete(savings, int32(i))
		delete(fees, int32(i))
	}
	// Periods a merge moved away have nothing left.
	maps.DeleteFunc(savings, func(_ int32, v int64) bool { return v == 0 })
	maps.DeleteFunc(fees, func(_ int32, v int64) bool { return v == 0 })
	if len(savings) > 0 || len(fees) > 0 {
		bad("entries name card periods the account lacks")
	}
	if a.Closed && (len(a.Lots) > 0 || len(a.Growth) > 0 || len(a.Cards) > 0 || len(a.Absorbed) > 0 ||
		a.Debt != 0 || a.Lifetime != 0 || a.Principal != 0 || a.Bonus != 0) {
		bad("account merged into member %d still holds points, growth, cards or money", a.MergedInto)
	}
	return n, probs, nil
}

// auditOtherSide checks that member's ledger holds count entries of
// merge transaction tx from first on.
func (l *Ledger) auditOtherSide(ctx context.Context, tx string, member uint32, first, count uint64, bad func(string, ...any)) error {
	var got uint64
	if count > 0 {
		for b, err := range l.store.Entries(ctx, member, first) {
			if err != nil {
				return err
			}
			e, err := decodeEntry(b)
			if err != nil || e.Tx != tx || e.Seq != first+got {
				break
			}
			if got++; got == count {
				break
			}
		}
	}
	if got != count {
		bad("merge tx %q: member %d has %d of its %d entries from %d", tx, member, got, count, first)
	}
	return nil
}
