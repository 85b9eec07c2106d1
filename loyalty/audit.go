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
// tier, card fees and savings, stored value. It also checks that entry
// sequence numbers are contiguous and that each transaction's entries are
// exactly those its record lists, so a half-applied operation cannot
// pass. It reads everything once: O(entries).
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
		case tr.Member != m || tr.FirstSeq != runStart || tr.Count != runLen:
			bad("tx %q: record says member %d entries %d+%d, ledger has %d+%d", runTx, tr.Member, tr.FirstSeq, tr.Count, runStart, runLen)
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
	for id := range lots {
		bad("entries name lot %d, which the account lacks", id)
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
	maps.DeleteFunc(growth, func(_ day, v int64) bool { return v == 0 })
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
	if len(savings) > 0 || len(fees) > 0 {
		bad("entries name card periods the account lacks")
	}
	return n, probs, nil
}
