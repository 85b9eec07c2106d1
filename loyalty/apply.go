package loyalty

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxPoints bounds the points of one order, far above any real basket,
// so that sums of many lots cannot overflow int64.
const maxPoints = 1e15

// state is one operation in progress on one account.
type state struct {
	p       *Program
	a       *account
	tx      string
	at      time.Time
	entries []Entry
	events  []Event
	dirty   bool // state changed without an entry (an expiry notice flag)

	doc      any // the document the op loaded (*orderDoc, *redeemDoc, *spendDoc) or nil
	docKey   string
	docOut   docWriter // the document to write, if any
	docFrom  uint32    // the absorbed member whose document doc is (docMoved set)
	docMoved bool

	peer *state // a Merge's other account: the member merged away

	// orderBuf, when set, is the document a new order writes, reused
	// between operations (the store copies what it keeps).
	orderBuf *orderDoc
}

// newOrderDoc returns the document for a new order.
func (s *state) newOrderDoc() *orderDoc {
	if s.orderBuf != nil {
		return s.orderBuf
	}
	return new(orderDoc)
}

func (s *state) add(e Entry) {
	e.Seq = s.a.Seq
	s.a.Seq++
	e.Tx = s.tx
	e.At = s.at
	s.entries = append(s.entries, e)
}

func (s *state) event(e Event) {
	e.Member = s.a.Member
	e.Tx = s.tx
	e.At = s.at
	s.events = append(s.events, e)
}

// now is the operation's time as an instant.
func (s *state) now() instant { return instantOf(s.at) }

func (s *state) changed() bool { return len(s.entries) > 0 || s.dirty || s.docOut != nil }

// lot returns lot id, or nil when the account no longer holds it.
func (s *state) lot(id uint32) *lot {
	if i := s.a.lotIndex(id); i >= 0 {
		return &s.a.Lots[i]
	}
	return nil
}

// lotOf is lot for a lot a document names: a document only names lots
// the account still holds, since compaction keeps every lot a refund in
// the window can reach; a missing one means the records disagree.
func (s *state) lotOf(id uint32, ref string) (*lot, error) {
	if l := s.lot(id); l != nil {
		return l, nil
	}
	return nil, fmt.Errorf("member %d: lot %d of %q is no longer held: %w", s.a.Member, id, ref, errCorrupt)
}

// settle brings the account up to s.at: pending points mature, expired
// points go, any debt is paid from what is left, expiry notices are
// raised and ended card periods settle their guarantee.
func (s *state) settle() {
	now := s.now()
	for i := range s.a.Lots {
		l := &s.a.Lots[i]
		if l.Pending > 0 && l.AvailableAt <= now {
			n := l.Pending
			l.Pending, l.Available = 0, l.Available+n
			s.add(Entry{Kind: EntryMature, Lot: l.ID, Pending: -n, Points: n})
		}
	}
	for i := range s.a.Lots {
		if l := &s.a.Lots[i]; l.Available > 0 && l.expiredAt(now) {
			s.expire(l, l.Available)
		}
	}
	s.repay()
	s.notices()
	s.settleCards()
}

func (s *state) expire(l *lot, n int64) {
	l.Available -= n
	l.Expired += n
	s.add(Entry{Kind: EntryExpire, Lot: l.ID, Points: -n})
}

// notices raises one EventPointsExpiringSoon per expiry instant for lots
// entering the notice window.
func (s *state) notices() {
	days := s.p.cfg.Expiry.NoticeDays
	if days == 0 {
		return
	}
	var due []Event
	for i := range s.a.Lots {
		l := &s.a.Lots[i]
		if l.Notified || l.Available <= 0 || l.ExpiresAt.IsZero() {
			continue
		}
		exp := l.ExpiresAt.Time()
		if s.at.Before(s.p.addDays(exp, -days)) {
			continue
		}
		l.Notified = true
		s.dirty = true
		j := slices.IndexFunc(due, func(e Event) bool { return e.ExpiresAt.Equal(exp) })
		if j < 0 {
			due = append(due, Event{Kind: EventPointsExpiringSoon, ExpiresAt: exp})
			j = len(due) - 1
		}
		due[j].Points += l.Available
	}
	slices.SortFunc(due, func(a, b Event) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	for _, e := range due {
		s.event(e)
	}
}

func (s *state) settleCards() {
	for i := range s.a.Cards {
		c := &s.a.Cards[i]
		if c.Status != cardActive || c.End.After(s.at) {
			continue
		}
		c.Status = cardSettled
		c.Guarantee = max(0, c.Fee-c.Savings)
		s.add(Entry{Kind: EntryGuarantee, Card: int32(i), Amount: c.Guarantee, Ref: c.Product})
		if c.Guarantee > 0 {
			s.event(Event{Kind: EventCardGuaranteeDue, Card: c.Product, PeriodEnd: c.End,
				Fee: c.Fee, Savings: c.Savings, Refund: c.Guarantee})
		}
	}
}

// spendable returns the positions in s.a.Lots of lots that can be spent
// now, in consumption order: earliest expiry first, never-expiring last,
// then lowest lot ID. Positions stay valid until the operation ends (lots
// are only appended until then).
func (s *state) spendable() []int {
	var is []int
	now := s.now()
	for i := range s.a.Lots {
		if l := &s.a.Lots[i]; l.Available > 0 && !l.expiredAt(now) {
			is = append(is, i)
		}
	}
	slices.SortFunc(is, func(x, y int) int {
		a, b := &s.a.Lots[x], &s.a.Lots[y]
		switch az, bz := a.ExpiresAt.IsZero(), b.ExpiresAt.IsZero(); {
		case az && !bz:
			return 1
		case bz && !az:
			return -1
		}
		if c := cmp.Compare(a.ExpiresAt, b.ExpiresAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return is
}

func (s *state) available() int64 {
	var n int64
	now := s.now()
	for i := range s.a.Lots {
		if l := &s.a.Lots[i]; !l.expiredAt(now) {
			n += l.Available
		}
	}
	return n
}

// consume spends n points for a redemption or a negative adjustment.
func (s *state) consume(n int64, kind EntryKind, ref string) ([]alloc, error) {
	if have := s.available(); have < n {
		return nil, &InsufficientError{Member: s.a.Member, Requested: n, Available: have, Err: ErrInsufficientPoints}
	}
	var as []alloc
	for _, i := range s.spendable() {
		if n == 0 {
			break
		}
		l := &s.a.Lots[i]
		k := min(n, l.Available)
		l.Available -= k
		l.Spent += k
		if now := s.now(); now > l.LastUsed {
			l.LastUsed = now
		}
		n -= k
		as = append(as, alloc{Lot: l.ID, Points: k})
		s.add(Entry{Kind: kind, Lot: l.ID, Points: -k, Ref: ref})
	}
	return as, nil
}

// take removes up to n points from spendable lots to cover a reversal
// (kind EntryReverse) or a debt (EntryRepay) and returns how many it got.
func (s *state) take(n int64, kind EntryKind, ref string) int64 {
	var got int64
	for _, i := range s.spendable() {
		if got == n {
			break
		}
		l := &s.a.Lots[i]
		k := min(n-got, l.Available)
		l.Available -= k
		l.ClawedOut += k
		got += k
		e := Entry{Kind: kind, Lot: l.ID, Points: -k, Ref: ref}
		if kind == EntryRepay {
			e.Debt = -k
		}
		s.add(e)
	}
	return got
}

// repay settles debt from whatever points are spendable.
func (s *state) repay() {
	if s.a.Debt > 0 {
		s.a.Debt -= s.take(s.a.Debt, EntryRepay, "")
	}
}

// restore gives back up to n spent points to the lots they came from,
// last taken first; points whose lot has expired by now expire again at
// once.
func (s *state) restore(as []alloc, n int64, ref string) error {
	for i := len(as) - 1; i >= 0 && n > 0; i-- {
		a := &as[i]
		k := min(n, a.Points-a.Restored)
		if k <= 0 {
			continue
		}
		a.Restored += k
		n -= k
		l, err := s.lotOf(a.Lot, ref)
		if err != nil {
			return err
		}
		l.Spent -= k
		l.Available += k
		s.add(Entry{Kind: EntryRestore, Lot: l.ID, Points: k, Ref: ref})
		if l.expiredAt(s.now()) {
			s.expire(l, k)
		}
	}
	s.repay()
	return nil
}

// newLot creates a lot of n points earned now.
func (s *state) newLot(n int64, kind EntryKind, ref string, pending bool) *lot {
	s.a.LotsIssued++
	now, exp := s.now(), s.p.ExpiresAt(s.at)
	s.a.Lots = append(s.a.Lots, lot{
		ID: s.a.LotsIssued, Tx: s.a.addStr(s.tx), Ref: s.a.addStr(ref), EarnedAt: now, AvailableAt: now,
		ExpiresAt: instantOf(exp), Earned: n,
	})
	l := &s.a.Lots[len(s.a.Lots)-1]
	e := Entry{Kind: kind, Lot: l.ID, Lifetime: n, Expires: exp, Ref: ref}
	if pending {
		l.AvailableAt = instantOf(s.at.AddDate(0, 0, s.p.cfg.Earning.PendingDays))
		l.Pending, e.Pending = n, n
	} else {
		l.Available, e.Points = n, n
	}
	s.a.Lifetime += n
	s.add(e)
	s.repay()
	return l
}

// reverse takes back n points earned by lot id's order: from the lot's
// pending or available points first, then — for points already spent — from
// other lots (or as debt); points of the lot that expired are written off.
func (s *state) reverse(id uint32, n int64, ref string) error {
	l, err := s.lotOf(id, ref)
	if err != nil {
		return err
	}
	e := Entry{Kind: EntryReverse, Lot: id, Lifetime: -n, Ref: ref}
	k := min(n, l.Pending)
	l.Pending -= k
	l.Reversed += k
	e.Pending = -k
	rest := n - k
	k = min(rest, l.Available)
	l.Available -= k
	l.Reversed += k
	e.Points = -k
	rest -= k
	s.a.Lifetime -= n
	s.add(e)
	claw := min(rest, max(0, l.Spent+l.ClawedOut-l.Clawed))
	if claw > 0 {
		l.Clawed += claw
		got := s.take(claw, EntryReverse, ref)
		if short := claw - got; short > 0 {
			s.a.Debt += short
			s.add(Entry{Kind: EntryDebt, Debt: short, Ref: ref})
		}
	}
	return nil
}

func (s *state) tierIndex() int {
	for i, t := range s.p.cfg.Tiers {
		if t.Name == s.a.Tier {
			return i
		}
	}
	return 0
}

func (s *state) setTier(to int) { s.moveTier(to, s.at) }

// moveTier moves the member to tier index to, reached at since.
func (s *state) moveTier(to int, since time.Time) {
	from := cmp.Or(s.a.Tier, s.p.cfg.Tiers[0].Name)
	s.a.Tier = s.p.cfg.Tiers[to].Name
	s.a.TierSince = since
	s.add(Entry{Kind: EntryTier, FromTier: from, ToTier: s.a.Tier})
	s.event(Event{Kind: EventTierChanged, FromTier: from, ToTier: s.a.Tier})
}

func (s *state) addGrowth(d day, g int64, ref string) {
	if g == 0 {
		return
	}
	s.a.addGrowthDay(d, g)
	s.add(Entry{Kind: EntryGrowth, Growth: g, GrowthDay: int32(d), Ref: ref})
}

// addGrowthDay adds g to day d, keeping days in order.
func (a *account) addGrowthDay(d day, g int64) {
	i, found := slices.BinarySearchFunc(a.Growth, d, func(x growthDay, d day) int { return cmp.Compare(x.Day, d) })
	if found {
		a.Growth[i].Value += g
	} else {
		a.Growth = slices.Insert(a.Growth, i, growthDay{Day: d, Value: g})
	}
}

// growthThrough sums growth in the window that ends with day last.
func growthThrough(p *Program, a *account, last day) int64 {
	first := p.windowStart(last)
	var g int64
	for _, x := range a.Growth {
		if x.Day >= first && x.Day <= last {
			g += x.Value
		}
	}
	return g
}

// activeCard returns the index of the card period running now, or −1.
// Only a merge can make two run at once (each account brought its own);
// then the one that ends first gets the order's savings and multiplier.
func (s *state) activeCard() int {
	best := -1
	for i, c := range s.a.Cards {
		if c.Status == cardActive && !s.at.Before(c.Start) && s.at.Before(c.End) &&
			(best < 0 || c.End.Before(s.a.Cards[best].End)) {
			best = i
		}
	}
	return best
}

// currentCard is the period a renewal follows: the active one that ends
// last, or else the latest period.
func (s *state) currentCard() int {
	cur := -1
	for i, c := range s.a.Cards {
		if c.Status == cardActive && (cur < 0 || !c.End.Before(s.a.Cards[cur].End)) {
			cur = i
		}
	}
	if cur < 0 {
		cur = len(s.a.Cards) - 1
	}
	return cur
}

func (s *state) putDoc(d docWriter) { s.docOut = d }

func opErr(op Op, msg string, err error) error {
	return &OpError{Tx: op.TxID(), Member: op.MemberID(), Op: op.Kind(), Msg: msg, Err: err}
}

// earnedOn computes the points of an order's unrefunded lines: lines
// sharing a rate are summed before rounding down, so splitting a basket
// into lines never loses a point.
func earnedOn(cats []catLine, ppy int64) int64 {
	type group struct {
		rate string
		fen  int64
	}
	var buf [4]group
	gs := buf[:0]
	for _, c := range cats {
		if c.Rate == "" {
			continue
		}
		j := slices.IndexFunc(gs, func(g group) bool { return g.rate == c.Rate })
		if j < 0 {
			gs = append(gs, group{rate: c.Rate})
			j = len(gs) - 1
		}
		gs[j].fen += c.Paid - c.Refunded
	}
	var pts int64
	for _, g := range gs {
		pts += pointsAt(g.fen, ppy, g.rate)
	}
	return pts
}

func eligibleOf(cats []catLine) (eligible, paid int64) {
	for _, c := range cats {
		paid += c.Paid - c.Refunded
		if c.Rate != "" {
			eligible += c.Paid - c.Refunded
		}
	}
	return eligible, paid
}

// byCategory sums lines per category, in order of first appearance.
func byCategory(ls []Line) []catLine { return appendByCategory(nil, ls) }

func appendByCategory(cs []catLine, ls []Line) []catLine {
	for _, l := range ls {
		j := slices.IndexFunc(cs, func(c catLine) bool { return c.Category == l.Category })
		if j < 0 {
			cs = append(cs, catLine{Category: l.Category})
			j = len(cs) - 1
		}
		cs[j].Paid += l.Paid
	}
	return cs
}

func (o Order) apply(s *state) error {
	if d, ok := s.doc.(*orderDoc); ok {
		msg := fmt.Sprintf("order %q already recorded by tx %q", o.OrderID, d.Tx)
		if s.docMoved {
			msg += fmt.Sprintf(" for member %d, merged into this one", s.docFrom)
		}
		return opErr(o, msg, ErrDuplicateOrder)
	}
	s.settle()
	doc := s.newOrderDoc()
	*doc = orderDoc{OrderID: o.OrderID, Tx: o.Tx, At: o.At, Day: s.p.dayOf(o.At), PPY: s.p.cfg.Earning.PointsPerYuan,
		GrowthPerYuan: s.p.cfg.Growth.PerYuan, PointsUsed: o.PointsUsed, Savings: o.Savings, Card: -1, Cats: doc.Cats[:0]}
	if o.PointsUsed > 0 {
		as, err := s.consume(o.PointsUsed, EntryRedeem, o.OrderID)
		if err != nil {
			return opErr(o, "points_used", err)
		}
		doc.Allocs = as
	}

	card := s.activeCard()
	var cardMul Multiplier
	if card >= 0 {
		cardMul = s.p.cards[s.a.Cards[card].Product].PointsMultiplier
	}
	tier := s.tierIndex()
	doc.Cats = appendByCategory(doc.Cats, o.Lines)
	for i := range doc.Cats {
		c := &doc.Cats[i]
		if !s.p.excluded[c.Category] {
			c.Rate = s.p.lineRateString(tier, o.Channel, cardMul, c.Category, o.At)
		}
	}
	doc.Earned = earnedOn(doc.Cats, doc.PPY)
	if doc.Earned > maxPoints {
		return opErr(o, fmt.Sprintf("earns %d points, more than %d", doc.Earned, int64(maxPoints)), ErrInvalidOp)
	}
	if doc.Earned > 0 {
		doc.Lot = s.newLot(doc.Earned, EntryEarn, o.OrderID, s.p.cfg.Earning.PendingDays > 0).ID
	}

	eligible, paid := eligibleOf(doc.Cats)
	if paid > 0 {
		doc.GrowthOrder = s.p.cfg.Growth.PerOrder
	}
	doc.Growth = eligible*doc.GrowthPerYuan/100 + doc.GrowthOrder
	s.addGrowth(doc.Day, doc.Growth, o.OrderID)
	if up := s.p.tierFor(growthThrough(s.p, s.a, doc.Day)); up > tier {
		s.setTier(up)
	}

	if o.Savings > 0 && card >= 0 {
		doc.Card = int32(card)
		s.a.Cards[card].Savings += o.Savings
		s.add(Entry{Kind: EntrySavings, Card: int32(card), Amount: o.Savings, Ref: o.OrderID})
	}
	s.putDoc(doc)
	return nil
}

func (o Refund) check(*Program) (string, string) {
	f, m := firstProblem(pair(checkID("order", o.OrderID)), pair(checkLines(o.Lines)),
		pair(checkAmount("savings", o.Savings, false)), pair(checkAmount("points", o.Points, false)))
	if m == "" && o.Savings == 0 && o.Points == 0 && !slices.ContainsFunc(o.Lines, func(l Line) bool { return l.Paid > 0 }) {
		return "lines", "nothing to refund"
	}
	return f, m
}

func (o Refund) apply(s *state) error {
	doc, ok := s.doc.(*orderDoc)
	if !ok {
		return opErr(o, fmt.Sprintf("order %q", o.OrderID), ErrUnknownOrder)
	}
	if err := s.refundable(fmt.Sprintf("order %q", o.OrderID), doc.At); err != nil {
		return opErr(o, "order", err)
	}
	cats := slices.Clone(doc.Cats)
	for _, l := range byCategory(o.Lines) {
		j := slices.IndexFunc(cats, func(c catLine) bool { return c.Category == l.Category })
		if j < 0 {
			return opErr(o, fmt.Sprintf("order %q has no category %q", o.OrderID, l.Category), ErrRefundTooLarge)
		}
		if left := cats[j].Paid - cats[j].Refunded; l.Paid > left {
			return opErr(o, fmt.Sprintf("category %q: refund %d fen, %d left on order %q", l.Category, l.Paid, left, o.OrderID), ErrRefundTooLarge)
		}
		cats[j].Refunded += l.Paid
	}
	if left := doc.PointsUsed - restoredOf(doc.Allocs); o.Points > left {
		return opErr(o, fmt.Sprintf("points: refund %d, %d left on order %q", o.Points, left, o.OrderID), ErrRefundTooLarge)
	}
	if left := doc.Savings - doc.SavingsRefunded; o.Savings > left {
		return opErr(o, fmt.Sprintf("savings: refund %d fen, %d left on order %q", o.Savings, left, o.OrderID), ErrRefundTooLarge)
	}
	s.settle()
	doc.Cats = cats

	// Points earned: the cumulative reversal is what the order earned minus
	// what its unrefunded lines earn, so partial refunds add up exactly to
	// a full one.
	if doc.Lot != 0 {
		target := doc.Earned - earnedOn(doc.Cats, doc.PPY)
		if n := target - doc.Reversed; n > 0 {
			doc.Reversed = target
			if err := s.reverse(doc.Lot, n, o.OrderID); err != nil {
				return err
			}
		}
	}
	eligible, paid := eligibleOf(doc.Cats)
	keep := eligible * doc.GrowthPerYuan / 100
	if paid > 0 {
		keep += doc.GrowthOrder
	}
	if n := doc.Growth - keep - doc.GrowthReversed; n > 0 {
		doc.GrowthReversed += n
		s.addGrowth(doc.Day, -n, o.OrderID)
	}

	if o.Points > 0 {
		if err := s.restore(doc.Allocs, o.Points, o.OrderID); err != nil {
			return err
		}
	}

	if o.Savings > 0 {
		doc.SavingsRefunded += o.Savings
		if doc.Card >= 0 && int(doc.Card) < len(s.a.Cards) {
			c := &s.a.Cards[doc.Card]
			c.Savings -= o.Savings
			s.add(Entry{Kind: EntrySavings, Card: doc.Card, Amount: -o.Savings, Ref: o.OrderID})
			if c.Status == cardSettled {
				// The period already settled on higher savings: owe the rest.
				if owed := max(0, c.Fee-c.Savings); owed > c.Guarantee {
					extra := owed - c.Guarantee
					c.Guarantee = owed
					s.add(Entry{Kind: EntryGuarantee, Card: doc.Card, Amount: extra, Ref: c.Product})
					s.event(Event{Kind: EventCardGuaranteeDue, Card: c.Product, PeriodEnd: c.End,
						Fee: c.Fee, Savings: c.Savings, Refund: extra})
				}
			}
		}
	}
	s.putDoc(doc)
	return nil
}

func restoredOf(as []alloc) int64 {
	var n int64
	for _, a := range as {
		n += a.Restored
	}
	return n
}

func (o Redeem) apply(s *state) error {
	s.settle()
	as, err := s.consume(o.Points, EntryRedeem, o.Reason)
	if err != nil {
		return opErr(o, "points", err)
	}
	s.docKey = redeemKey(o.Tx)
	s.putDoc(&redeemDoc{Tx: o.Tx, Points: o.Points, Allocs: as, At: o.At})
	return nil
}

func (o Reverse) apply(s *state) error {
	doc, ok := s.doc.(*redeemDoc)
	if !ok {
		return opErr(o, fmt.Sprintf("no redemption %q", o.Of), ErrUnknownTx)
	}
	if doc.Reversed {
		return opErr(o, fmt.Sprintf("redemption %q", o.Of), ErrAlreadyReversed)
	}
	if err := s.refundable(fmt.Sprintf("redemption %q", o.Of), doc.At); err != nil {
		return opErr(o, "of", err)
	}
	s.settle()
	if err := s.restore(doc.Allocs, doc.Points, o.Of); err != nil {
		return err
	}
	doc.Reversed = true
	s.putDoc(doc)
	return nil
}

func (o Adjust) apply(s *state) error {
	s.settle()
	if o.Points > 0 {
		s.newLot(o.Points, EntryAdjust, o.Reason, false)
		return nil
	}
	if _, err := s.consume(-o.Points, EntryAdjust, o.Reason); err != nil {
		return opErr(o, "points", err)
	}
	return nil
}

func (o Settle) apply(s *state) error {
	s.settle()
	return nil
}

func (o Evaluate) apply(s *state) error {
	s.settle()
	cur := s.tierIndex()
	sup := s.p.tierFor(growthThrough(s.p, s.a, s.p.dayOf(s.at.Add(-time.Nanosecond))))
	switch {
	case sup > cur:
		s.setTier(sup)
	case sup < cur:
		if ret := s.p.cfg.Growth.RetentionMonths; ret > 0 && s.at.Before(addMonthsTime(s.a.TierSince, ret, s.p.loc)) {
			return nil
		}
		to := sup
		if s.p.downgrade == DowngradeOneTier {
			to = cur - 1
		}
		s.setTier(to)
	}
	return nil
}

func (o BuyCard) apply(s *state) error {
	s.settle()
	for _, c := range s.a.Cards {
		if c.Status == cardActive {
			return opErr(o, fmt.Sprintf("%s until %s", c.Product, c.End.In(s.p.loc).Format(time.DateOnly)), ErrCardActive)
		}
	}
	s.startCard(o.Product, s.at)
	return nil
}

func (s *state) startCard(product string, start time.Time) {
	cp := s.p.cards[product]
	s.a.Cards = append(s.a.Cards, cardPeriod{Product: product, Tx: s.tx, Start: start,
		End: addMonthsTime(start, cp.Months, s.p.loc), Fee: cp.Fee, Status: cardActive})
	s.add(Entry{Kind: EntryCardFee, Card: int32(len(s.a.Cards) - 1), Amount: cp.Fee, Ref: product})
}

func (o RenewCard) apply(s *state) error {
	if len(s.a.Cards) == 0 {
		return opErr(o, "nothing to renew", ErrNoCard)
	}
	s.settle()
	last := s.a.Cards[s.currentCard()]
	product := cmp.Or(o.Product, last.Product)
	start := s.at
	if last.Status == cardActive {
		if last.Start.After(s.at) {
			return opErr(o, "already renewed until "+last.End.In(s.p.loc).Format(time.DateOnly), ErrCardActive)
		}
		start = last.End
	}
	s.startCard(product, start)
	return nil
}

func (o CancelCard) apply(s *state) error {
	s.settle()
	n := 0
	for i := range s.a.Cards {
		c := &s.a.Cards[i]
		if c.Status != cardActive {
			continue
		}
		refund := c.Fee // a renewal not yet started
		if !c.Start.After(s.at) {
			refund = 0
			if cool := s.p.cards[c.Product].CoolingOffDays; s.at.Before(s.p.addDays(c.Start, cool)) {
				refund = max(0, c.Fee-c.Savings)
			}
		}
		c.Status = cardCancelled
		c.Refunded = refund
		s.add(Entry{Kind: EntryCardCancel, Card: int32(i), Amount: refund, Ref: c.Product})
		n++
	}
	if n == 0 {
		return opErr(o, "no active card", ErrNoCard)
	}
	return nil
}

func (o TopUp) apply(s *state) error {
	s.settle()
	b := s.p.topUpBonus(o.Amount)
	s.a.Principal += o.Amount
	s.a.Bonus += b
	s.add(Entry{Kind: EntryTopUp, Principal: o.Amount, Bonus: b})
	return nil
}

func (o Spend) apply(s *state) error {
	total := s.a.Principal + s.a.Bonus
	if o.Amount > total {
		return opErr(o, "amount", &InsufficientError{Member: s.a.Member, Requested: o.Amount, Available: total, Err: ErrInsufficientFunds})
	}
	s.settle()
	var p int64
	switch s.p.spend {
	case SpendPrincipalFirst:
		p = min(o.Amount, s.a.Principal)
	case SpendBonusFirst:
		p = o.Amount - min(o.Amount, s.a.Bonus)
	default:
		p = mulDiv(o.Amount, s.a.Principal, total)
	}
	b := o.Amount - p
	s.a.Principal -= p
	s.a.Bonus -= b
	s.add(Entry{Kind: EntrySpend, Principal: -p, Bonus: -b, Ref: o.OrderID})
	s.docKey = spendKey(o.Tx)
	s.putDoc(&spendDoc{Tx: o.Tx, Amount: o.Amount, Principal: p, Bonus: b})
	return nil
}

func (o RefundSpend) apply(s *state) error {
	doc, ok := s.doc.(*spendDoc)
	if !ok {
		return opErr(o, fmt.Sprintf("no stored-value spend %q", o.Spend), ErrUnknownTx)
	}
	if left := doc.Amount - doc.Refunded; o.Amount > left {
		return opErr(o, fmt.Sprintf("refund %d fen, %d left of spend %q", o.Amount, left, o.Spend), ErrRefundTooLarge)
	}
	s.settle()
	// Cumulative split, so partial refunds sum to the spend's exact split.
	doc.Refunded += o.Amount
	pTo := mulDiv(doc.Refunded, doc.Principal, doc.Amount)
	p := pTo - doc.RefundedP
	b := o.Amount - p
	doc.RefundedP, doc.RefundedB = pTo, doc.RefundedB+b
	s.a.Principal += p
	s.a.Bonus += b
	s.add(Entry{Kind: EntrySpendRefund, Principal: p, Bonus: b, Ref: o.Spend})
	s.putDoc(doc)
	return nil
}

func (o Withdraw) apply(s *state) error {
	if o.Amount > s.a.Principal {
		return opErr(o, "amount (principal only)", &InsufficientError{Member: s.a.Member, Requested: o.Amount, Available: s.a.Principal, Err: ErrInsufficientFunds})
	}
	s.settle()
	var forfeit int64
	if s.p.cfg.StoredValue.ForfeitBonusOnWithdraw {
		forfeit = s.a.Bonus
		if o.Amount < s.a.Principal {
			forfeit = mulDiv(o.Amount, s.a.Bonus, s.a.Principal)
		}
	}
	s.a.Principal -= o.Amount
	s.a.Bonus -= forfeit
	s.add(Entry{Kind: EntryWithdraw, Principal: -o.Amount, Bonus: -forfeit})
	return nil
}

// totals computes balances of a settled account at s.at.
func totals(p *Program, a *account, at time.Time) Totals {
	t := Totals{Debt: a.Debt, Lifetime: a.Lifetime, Tier: a.Tier, Principal: a.Principal, Bonus: a.Bonus,
		Growth: growthThrough(p, a, p.dayOf(at))}
	if t.Tier == "" {
		t.Tier = p.cfg.Tiers[0].Name
	}
	for i := range a.Lots {
		t.Available += a.Lots[i].Available
		t.Pending += a.Lots[i].Pending
	}
	if p.cfg.AllowNegative {
		t.Available -= a.Debt
	}
	return t
}

// String is a one-line summary of the entry for people.
func (e Entry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s", e.Seq, e.Kind, e.Tx)
	add := func(name string, v int64) {
		if v != 0 {
			fmt.Fprintf(&b, " %s=%+d", name, v)
		}
	}
	if e.Lot != 0 {
		fmt.Fprintf(&b, " lot=%d", e.Lot)
	}
	add("points", e.Points)
	add("pending", e.Pending)
	add("lifetime", e.Lifetime)
	add("debt", e.Debt)
	add("growth", e.Growth)
	if e.Kind == EntryTier {
		fmt.Fprintf(&b, " %s→%s", cmp.Or(e.FromTier, "-"), e.ToTier)
	}
	add("amount", e.Amount)
	add("savings", e.Savings)
	add("principal", e.Principal)
	add("bonus", e.Bonus)
	if e.PeerLot != 0 {
		fmt.Fprintf(&b, " earned=%d peer_lot=%d", e.Earned, e.PeerLot)
	}
	if e.Ref != "" {
		fmt.Fprintf(&b, " ref=%s", e.Ref)
	}
	return b.String()
}
