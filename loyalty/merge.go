package loyalty

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Merge moves the account of member From into member Member's, for when
// identity resolution finds that both IDs are one person (OneID merges
// the loser From into the survivor Member). Apply it like any operation:
// it is idempotent per transaction ID, and both accounts change in one
// atomic, durable commit (the Store must be a MultiStore).
//
// What moves, each with a merge_out entry on From's ledger and a
// merge_in (card_merge_in) entry on Member's:
//
//   - lifetime points, debt, stored value principal and bonus (added);
//   - every lot that holds points or that a refund in the window can still
//     reach, whole: its expiry, pending date and counters. Lots get new
//     IDs on the survivor (From's ID + an offset), so IDs stay unique;
//     among lots expiring at the same instant the survivor's are spent
//     first;
//   - growth value by day (added day by day, so windows keep working);
//   - paid card periods, each with its own fee, savings and guarantee:
//     both members' periods run on side by side and settle separately;
//     while two are active an order's savings and points multiplier go
//     to the one that ends first, and RenewCard follows the one that ends
//     last;
//   - orders, redemptions and stored-value spends: they stay recorded
//     under From, and an operation on Member that names one finds it
//     there. So a refund of From's old order, addressed to Member, reverses
//     the right points from the right (moved) lot and restores points to
//     the lots they came from; a new order whose ID From already recorded
//     is a duplicate. If both members recorded the same order ID, Member's
//     own is the one found.
//
// The survivor takes the higher of the two tiers, with the time it was
// reached (so any retention period runs on), and is upgraded at once if
// the merged growth value in the window ending at At supports a higher
// tier; as for any member, a downgrade waits for Evaluate.
//
// Then the survivor's account is settled at At, as every operation does:
// moved pending points mature, moved expired points expire, debt is paid
// from the merged lots and ended card periods settle. Events (tier
// changes, expiry notices, guarantees) are all raised for Member.
//
// From's account ends closed and empty (its tier back to the base tier),
// pointing at Member: any later operation naming From, a Merge included,
// fails with a *MergedError (ErrMerged) that names Member, and Balance
// reports it with Merged set. Operations are never redirected: the host
// addresses them to the survivor (identity's canonical person). A member
// with no account can be merged (it is closed all the same), but a
// closed member cannot be merged into, nor merged again. Merges are final:
// an identity split does not move points back.
//
// Both accounts are locked for the merge, in a fixed order, so merges run
// concurrently with other operations without deadlock. Its cost is that
// of rewriting both accounts, plus one document read per absorbed member
// for later operations on the survivor that name an order, redemption or
// spend it does not hold itself.
type Merge struct {
	Tx     string    `json:"tx"`
	Member uint32    `json:"member"` // the survivor
	From   uint32    `json:"from"`   // the member merged away
	At     time.Time `json:"at"`
}

var _ Op = Merge{}

// Kind returns OpMerge.
func (o Merge) Kind() OpKind { return OpMerge }

// TxID returns the transaction ID.
func (o Merge) TxID() string { return o.Tx }

// MemberID returns the survivor.
func (o Merge) MemberID() uint32 { return o.Member }

// Time returns the business time.
func (o Merge) Time() time.Time { return o.At }

func (o Merge) head() opHead   { return opHead{OpMerge, o.Tx, o.Member, o.At} }
func (o Merge) docKey() string { return "" }
func (o Merge) encode(w *wbuf) { w.uint(uint64(o.From)) }
func (o Merge) check(*Program) (string, string) {
	if o.From == o.Member {
		return "from", "same as member"
	}
	return "", ""
}

// apply merges s.peer (From's account) into s (Member's). Both states are
// prepared, and committed together, by Ledger.applyMerge.
func (o Merge) apply(s *state) error {
	from := s.peer
	if from == nil {
		return errors.New("merge needs the merged member's account")
	}
	a, b := s.a, from.a
	if uint64(a.LotsIssued)+uint64(b.LotsIssued) > math.MaxUint32 {
		return opErr(o, "from", fmt.Errorf("together the accounts have more than %d lots: %w", uint32(math.MaxUint32), ErrInvalidOp))
	}
	clock := a.Clock
	for _, t := range []time.Time{b.Clock, s.at} {
		if t.After(clock) {
			clock = t
		}
	}
	toRef, fromRef := strconv.FormatUint(uint64(o.Member), 10), strconv.FormatUint(uint64(o.From), 10)
	s.settle()

	from.add(Entry{Kind: EntryMergeOut, Lifetime: -b.Lifetime, Debt: -b.Debt, Principal: -b.Principal, Bonus: -b.Bonus, Ref: toRef})
	s.add(Entry{Kind: EntryMergeIn, Lifetime: b.Lifetime, Debt: b.Debt, Principal: b.Principal, Bonus: b.Bonus, Ref: fromRef})
	a.Lifetime += b.Lifetime
	a.Debt += b.Debt
	a.Principal += b.Principal
	a.Bonus += b.Bonus

	// Lots nothing can reach any more are let go as compaction would, so
	// the entries are the same whether or not the ledger compacts.
	off := a.LotsIssued
	for i := range b.Lots {
		l := b.Lots[i]
		if !s.p.keepLot(&l, clock) {
			continue
		}
		e := Entry{Lot: l.ID, Points: -l.Available, Pending: -l.Pending, Expires: l.ExpiresAt.Time(), Matures: l.AvailableAt.Time(),
			Earned: l.Earned, PeerLot: l.ID + off, Kind: EntryMergeOut, Ref: toRef}
		from.add(e)
		l.ID += off
		l.Tx, l.Ref = a.addStrBytes(b.str(l.Tx)), a.addStrBytes(b.str(l.Ref))
		a.Lots = append(a.Lots, l)
		e.Kind, e.Lot, e.PeerLot, e.Points, e.Pending, e.Ref = EntryMergeIn, l.ID, l.ID-off, l.Available, l.Pending, fromRef
		s.add(e)
	}
	a.LotsIssued += b.LotsIssued

	// Growth days before the floor can never be counted again; From
	// forgets them with its floor.
	floor := max(s.p.growthFloor(clock), a.GrowthFloor)
	for _, g := range b.Growth {
		if g.Day < floor || g.Value == 0 {
			continue
		}
		from.add(Entry{Kind: EntryMergeOut, Growth: -g.Value, GrowthDay: int32(g.Day), Ref: toRef})
		s.a.addGrowthDay(g.Day, g.Value)
		s.add(Entry{Kind: EntryMergeIn, Growth: g.Value, GrowthDay: int32(g.Day), Ref: fromRef})
	}

	cardOff := len(a.Cards)
	for i, c := range b.Cards {
		from.add(Entry{Kind: EntryCardMergeOut, Card: int32(i), Amount: -c.Fee, Savings: -c.Savings, Ref: toRef})
		a.Cards = append(a.Cards, c)
		s.add(Entry{Kind: EntryCardMergeIn, Card: int32(cardOff + i), Amount: c.Fee, Savings: c.Savings, Ref: fromRef})
	}

	a.Absorbed = append(a.Absorbed, absorbed{Member: o.From, LotOffset: off, CardOffset: uint32(cardOff)})
	for _, x := range b.Absorbed {
		a.Absorbed = append(a.Absorbed, absorbed{Member: x.Member, LotOffset: x.LotOffset + off, CardOffset: x.CardOffset + uint32(cardOff)})
	}

	if bt := from.tierIndex(); bt > s.tierIndex() {
		s.moveTier(bt, b.TierSince)
	}
	if base := s.p.cfg.Tiers[0].Name; cmp.Or(b.Tier, base) != base {
		from.add(Entry{Kind: EntryTier, FromTier: b.Tier, ToTier: base})
		b.Tier = base
	}

	*b = account{Member: b.Member, Version: b.Version, Seq: b.Seq, LotsIssued: b.LotsIssued, Tier: b.Tier,
		GrowthFloor: max(b.GrowthFloor, floor), Clock: b.Clock, Closed: true, MergedInto: o.Member}
	if s.at.After(b.Clock) {
		b.Clock = s.at
	}
	a.Clock = clock

	s.settle()
	if up := s.p.tierFor(growthThrough(s.p, a, s.p.dayOf(s.at))); up > s.tierIndex() {
		s.setTier(up)
	}
	return nil
}

// movedDoc looks for document key among the members merged into a, in
// merge order, and returns it shifted into a's lot and card numbering.
// The members it reads are closed, so their documents no longer change.
func (l *Ledger) movedDoc(ctx context.Context, a *account, key string) (any, uint32, error) {
	for _, x := range a.Absorbed {
		ld, err := l.store.Load(ctx, x.Member, "", key)
		if err != nil {
			return nil, 0, fmt.Errorf("load member %d: %w", x.Member, err)
		}
		if ld.Doc == nil {
			continue
		}
		d, err := decodeDoc(key, ld.Doc)
		if err != nil {
			return nil, 0, fmt.Errorf("member %d document %q: %w", x.Member, key, err)
		}
		return shiftDoc(d, x), x.Member, nil
	}
	return nil, 0, nil
}

// shiftDoc moves a merged member's document into the survivor's lot and
// card numbering.
func shiftDoc(d any, x absorbed) any {
	switch d := d.(type) {
	case *orderDoc:
		if d.Lot != 0 {
			d.Lot += x.LotOffset
		}
		shiftAllocs(d.Allocs, x.LotOffset)
		if d.Card >= 0 {
			d.Card += int32(x.CardOffset)
		}
	case *redeemDoc:
		shiftAllocs(d.Allocs, x.LotOffset)
	}
	return d
}

func shiftAllocs(as []alloc, off uint32) {
	for i := range as {
		as[i].Lot += off
	}
}

// applyMerge applies a Merge: both members' locks (in stripe order, so
// two merges cannot deadlock), both accounts read, one commit for both.
func (l *Ledger) applyMerge(ctx context.Context, o Merge) (*Receipt, error) {
	ms, ok := l.store.(MultiStore)
	if !ok {
		return nil, opErr(o, "store", fmt.Errorf("%T cannot commit two members atomically: %w", l.store, errors.ErrUnsupported))
	}
	i, j := o.Member%lockStripes, o.From%lockStripes
	if i > j {
		i, j = j, i
	}
	l.locks[i].Lock()
	defer l.locks[i].Unlock()
	if j != i {
		l.locks[j].Lock()
		defer l.locks[j].Unlock()
	}

	tx := o.TxID()
	dg := digest(o)
	ld, err := l.store.Load(ctx, o.Member, tx, "")
	if err != nil {
		return nil, fmt.Errorf("load member %d: %w", o.Member, err)
	}
	if ld.Tx != nil {
		return l.replay(ctx, tx, ld.Tx, dg)
	}
	lf, err := l.store.Load(ctx, o.From, "", "")
	if err != nil {
		return nil, fmt.Errorf("load member %d: %w", o.From, err)
	}
	var accts [2]*account
	for k, raw := range [2][]byte{ld.Account, lf.Account} {
		m := [2]uint32{o.Member, o.From}[k]
		accts[k] = &account{Member: m, GrowthFloor: noFloor}
		if raw != nil {
			if accts[k], err = decodeAccount(raw); err != nil {
				return nil, fmt.Errorf("member %d: %w", m, err)
			}
		}
		if a := accts[k]; a.Closed {
			return nil, opErr(o, [2]string{"member", "from"}[k], &MergedError{Member: m, Into: a.MergedInto})
		}
		if err := checkLate(l.p, accts[k], o); err != nil {
			return nil, err
		}
	}
	a, b := accts[0], accts[1]
	s := &state{p: l.p, a: a, tx: tx, at: o.At}
	s.peer = &state{p: l.p, a: b, tx: tx, at: o.At}
	firstA, firstB := a.Seq, b.Seq
	if err := o.apply(s); err != nil {
		return nil, err
	}
	r := &Receipt{Tx: tx, Member: o.Member, Op: OpMerge, At: o.At, Entries: s.entries, FromEntries: s.peer.entries,
		Events: s.events, After: totals(l.p, a, o.At)}
	if !l.opts.NoCompaction {
		s.compact()
	}
	a.Version++
	b.Version++
	r.Version = a.Version
	rec := txRecord{Digest: dg, Member: o.Member, Op: OpMerge, At: o.At, Version: a.Version, FirstSeq: firstA,
		Count: uint64(len(s.entries)), Events: s.events, After: r.After,
		HasPeer: true, Peer: o.From, PeerFirstSeq: firstB, PeerCount: uint64(len(s.peer.entries))}
	cs := []*Commit{
		{Member: o.Member, Tx: tx, TxRecord: rec.encode(), Account: a.encode(), FirstSeq: firstA, Entries: encodeEntries(s.entries)},
		{Member: o.From, Tx: tx, Account: b.encode(), FirstSeq: firstB, Entries: encodeEntries(s.peer.entries)},
	}
	if err := ms.CommitMulti(ctx, cs); err != nil {
		if errors.Is(err, ErrTxExists) {
			if raw, err2 := l.store.Tx(ctx, tx); err2 == nil && raw != nil {
				return l.replay(ctx, tx, raw, dg)
			}
		}
		return nil, fmt.Errorf("commit tx %q members %d and %d: %w", tx, o.Member, o.From, err)
	}
	r.Recorded = true
	l.localize(r)
	return r, nil
}
