package loyalty

import (
	"cmp"
	"math/bits"
	"slices"
	"time"
)

// lot is a batch of points earned together: they mature, expire and are
// spent together. Its counters always satisfy
// Earned = Pending + Available + Spent + Expired + Reversed + ClawedOut.
//
// A lot holds no pointers (times are instants, its strings live in the
// account's blob), so an account's lots are one block the garbage
// collector never scans, half the size they would be with time.Time and
// strings, and copied without write barriers.
type lot struct {
	ID       uint32
	Notified bool   // expiry notice raised
	Tx       strRef // the transaction that created it
	Ref      strRef // its order ID or adjustment reason

	EarnedAt    instant
	AvailableAt instant
	ExpiresAt   instant // zero: never
	// LastUsed is the latest time of an order or redemption that spent
	// points from the lot: until that one's refund window closes, a
	// refund may restore points to it.
	LastUsed instant

	Earned    int64
	Pending   int64
	Available int64
	Spent     int64 // net of restores
	Expired   int64
	Reversed  int64 // taken back from this lot because its order was refunded
	ClawedOut int64 // taken from this lot to cover another lot's reversal or debt
	Clawed    int64 // of this lot's spent points, how many were recovered from other lots
}

func (l *lot) expiredAt(now instant) bool { return l.ExpiresAt != noInstant && l.ExpiresAt <= now }

// instant is a time as nanoseconds since the Unix epoch, with the sign
// bit flipped so that the zero value is the zero time.Time and order is
// kept: the zero time comes before every other instant, as with
// time.Time, and a lot field left unset reads as the zero time.
type instant uint64

const noInstant instant = 0

func instantOf(t time.Time) instant {
	if t.IsZero() {
		return noInstant
	}
	return instant(uint64(t.UnixNano()) ^ 1<<63)
}

// nanos returns the instant as nanoseconds since the Unix epoch.
func (i instant) nanos() int64 { return int64(uint64(i) ^ 1<<63) }

// Time returns the instant in UTC, as a decoded record has it.
func (i instant) Time() time.Time {
	if i == noInstant {
		return time.Time{}
	}
	return time.Unix(0, i.nanos()).UTC()
}

func (i instant) IsZero() bool { return i == noInstant }

// strRef is a string in an account's blob.
type strRef struct{ off, n uint32 }

// str returns r's string from the account's blob.
func (a *account) str(r strRef) []byte { return a.strs[r.off : r.off+r.n : r.off+r.n] }

// addStr appends s to the account's blob.
func (a *account) addStr(s string) strRef {
	r := strRef{off: uint32(len(a.strs)), n: uint32(len(s))}
	a.strs = append(a.strs, s...)
	return r
}

func (a *account) addStrBytes(b []byte) strRef {
	r := strRef{off: uint32(len(a.strs)), n: uint32(len(b))}
	a.strs = append(a.strs, b...)
	return r
}

// dropStrs notes that the strings of a dropped lot are dead.
func (a *account) dropStrs(l *lot) { a.deadStrs += int(l.Tx.n + l.Ref.n) }

// packStrs drops the blob's bytes that no lot refers to any more, once
// they are most of it. Lots keep their strings in ID order, as they were
// added, so live bytes move down in place.
func (a *account) packStrs() {
	if a.deadStrs <= len(a.strs)/2+128 {
		return
	}
	a.deadStrs = 0
	n := uint32(0)
	move := func(r *strRef) {
		copy(a.strs[n:], a.strs[r.off:r.off+r.n])
		r.off = n
		n += r.n
	}
	for i := range a.Lots {
		move(&a.Lots[i].Tx)
		move(&a.Lots[i].Ref)
	}
	a.strs = a.strs[:n]
}

// growthDay is the growth value counted on one civil day.
type growthDay struct {
	Day   day
	Value int64
}

// noFloor is the growth floor of an account that holds every day.
const noFloor = day(-1 << 31)

// Card period statuses.
const (
	cardActive    uint8 = 1
	cardSettled   uint8 = 2
	cardCancelled uint8 = 3
)

var cardStatusNames = [...]string{"", "active", "settled", "cancelled"}

type cardPeriod struct {
	Product   string
	Tx        string
	Start     time.Time
	End       time.Time
	Fee       int64
	Savings   int64
	Guarantee int64 // refunded at or after settlement
	Refunded  int64 // refunded on cancellation
	Status    uint8
}

// absorbed is a member whose account was merged into this one, directly
// or through a member merged in later. Its documents (orders,
// redemptions, spends) stay under its own ID; an operation here that
// names one finds it there and shifts its lot IDs and card indices by
// these offsets into this account's numbering.
type absorbed struct {
	Member     uint32
	LotOffset  uint32
	CardOffset uint32
}

// account is the whole mutable state of one member, rewritten by every
// operation on them.
type account struct {
	Member  uint32
	Version uint64 // operations recorded so far
	Seq     uint64 // entries written so far
	// LotsIssued is the highest lot ID issued; Lots holds, by ascending
	// ID, those still held (compaction drops the rest).
	LotsIssued uint32
	Lots       []lot
	Debt       int64
	Lifetime   int64
	Tier       string
	TierSince  time.Time
	// Growth holds the days from GrowthFloor on, ascending; earlier days
	// were compacted away (noFloor: none were).
	GrowthFloor day
	Growth      []growthDay
	Cards       []cardPeriod
	Principal   int64
	Bonus       int64
	// Clock is the latest time of an operation recorded on the account.
	Clock time.Time
	// MergedInto is the survivor of a Merge that closed this account
	// (Closed set).
	Closed     bool
	MergedInto uint32
	Absorbed   []absorbed // in merge order, each followed by those it had absorbed
	// strs holds the lots' strings (see lot); deadStrs of its bytes
	// belong to lots no longer held.
	strs     []byte
	deadStrs int
}

// lotIndex returns the position of lot id in a.Lots, or −1 if the
// account does not hold it.
func (a *account) lotIndex(id uint32) int {
	i, ok := slices.BinarySearchFunc(a.Lots, id, func(l lot, id uint32) int { return cmp.Compare(l.ID, id) })
	if !ok {
		return -1
	}
	return i
}

func (a *account) encode() []byte {
	w := wbuf{b: make([]byte, 0, 80+56*len(a.Lots)+6*len(a.Growth)+48*len(a.Cards))}
	w.byte(tagAccount2)
	w.uint(uint64(a.Member))
	w.uint(a.Version)
	w.uint(a.Seq)
	w.uint(uint64(a.LotsIssued))
	w.uint(uint64(len(a.Lots)))
	for i := range a.Lots {
		l := &a.Lots[i]
		w.uint(uint64(l.ID))
		w.raw(a.str(l.Tx))
		w.raw(a.str(l.Ref))
		w.instant(l.EarnedAt)
		w.instant(l.AvailableAt)
		w.instant(l.ExpiresAt)
		w.int(l.Earned)
		w.int(l.Pending)
		w.int(l.Available)
		w.int(l.Spent)
		w.int(l.Expired)
		w.int(l.Reversed)
		w.int(l.ClawedOut)
		w.int(l.Clawed)
		w.bool(l.Notified)
		w.instant(l.LastUsed)
	}
	w.int(a.Debt)
	w.int(a.Lifetime)
	w.str(a.Tier)
	w.time(a.TierSince)
	w.int(int64(a.GrowthFloor))
	w.uint(uint64(len(a.Growth)))
	for _, g := range a.Growth {
		w.int(int64(g.Day))
		w.int(g.Value)
	}
	w.uint(uint64(len(a.Cards)))
	for _, c := range a.Cards {
		w.str(c.Product)
		w.str(c.Tx)
		w.time(c.Start)
		w.time(c.End)
		w.int(c.Fee)
		w.int(c.Savings)
		w.int(c.Guarantee)
		w.int(c.Refunded)
		w.byte(c.Status)
	}
	w.int(a.Principal)
	w.int(a.Bonus)
	w.time(a.Clock)
	w.bool(a.Closed)
	w.uint(uint64(a.MergedInto))
	w.uint(uint64(len(a.Absorbed)))
	for _, x := range a.Absorbed {
		w.uint(uint64(x.Member))
		w.uint(uint64(x.LotOffset))
		w.uint(uint64(x.CardOffset))
	}
	return w.b
}

// decodeAccount reads an account record, in the current layout or in the
// first one (tagAccount: lots numbered 1..n, no clock, no merges).
func decodeAccount(b []byte) (*account, error) {
	r := rbuf{b: b}
	a := &account{GrowthFloor: noFloor}
	legacy := len(b) > 0 && b[0] == tagAccount
	if legacy {
		r.tag(tagAccount, "account")
	} else {
		r.tag(tagAccount2, "account")
	}
	a.Member = r.uint32()
	a.Version = r.uint()
	a.Seq = r.uint()
	if !legacy {
		a.LotsIssued = r.uint32()
	}
	// One spare slot in Lots and Growth: most operations are orders, which
	// add a lot and a growth day.
	if n := r.count(); n > 0 {
		a.Lots = make([]lot, n, n+1)
		for i := range a.Lots {
			l := &a.Lots[i]
			l.ID = r.uint32()
			l.Tx = a.addStrBytes(r.bytes())
			l.Ref = a.addStrBytes(r.bytes())
			l.EarnedAt = r.instant()
			l.AvailableAt = r.instant()
			l.ExpiresAt = r.instant()
			l.Earned = r.int()
			l.Pending = r.int()
			l.Available = r.int()
			l.Spent = r.int()
			l.Expired = r.int()
			l.Reversed = r.int()
			l.ClawedOut = r.int()
			l.Clawed = r.int()
			l.Notified = r.bool()
			if legacy {
				// The first layout did not record when a lot was last
				// spent from: keep any lot with spent points for good.
				if l.Spent > 0 {
					l.LastUsed = instantOf(maxTime)
				}
				if r.err == nil && l.ID != uint32(i+1) {
					r.fail("lot IDs out of sequence")
				}
				a.LotsIssued = l.ID
				continue
			}
			l.LastUsed = r.instant()
			if r.err == nil && (l.ID == 0 || l.ID > a.LotsIssued || i > 0 && l.ID <= a.Lots[i-1].ID) {
				r.fail("lot IDs out of sequence")
			}
		}
	}
	a.Debt = r.int()
	a.Lifetime = r.int()
	a.Tier = r.str()
	a.TierSince = r.time()
	if !legacy {
		a.GrowthFloor = day(r.int32())
	}
	if n := r.count(); n > 0 {
		a.Growth = make([]growthDay, n, n+1)
		for i := range a.Growth {
			a.Growth[i] = growthDay{Day: day(r.int32()), Value: r.int()}
			if r.err == nil && (a.Growth[i].Day < a.GrowthFloor || i > 0 && a.Growth[i].Day <= a.Growth[i-1].Day) {
				r.fail("growth days out of order")
			}
		}
	}
	if n := r.count(); n > 0 {
		a.Cards = make([]cardPeriod, n)
		for i := range a.Cards {
			c := &a.Cards[i]
			c.Product = r.str()
			c.Tx = r.str()
			c.Start = r.time()
			c.End = r.time()
			c.Fee = r.int()
			c.Savings = r.int()
			c.Guarantee = r.int()
			c.Refunded = r.int()
			c.Status = r.byte()
			if r.err == nil && (c.Status < cardActive || c.Status > cardCancelled) {
				r.fail("bad card status")
			}
		}
	}
	a.Principal = r.int()
	a.Bonus = r.int()
	if !legacy {
		a.Clock = r.time()
		a.Closed = r.bool()
		a.MergedInto = r.uint32()
		if n := r.count(); n > 0 {
			a.Absorbed = make([]absorbed, n)
			for i := range a.Absorbed {
				a.Absorbed[i] = absorbed{Member: r.uint32(), LotOffset: r.uint32(), CardOffset: r.uint32()}
			}
		}
	}
	return a, r.done("account")
}

// alloc records points taken from one lot, so a refund can put them back.
type alloc struct {
	Lot      uint32
	Points   int64
	Restored int64
}

func encodeAllocs(w *wbuf, as []alloc) {
	w.uint(uint64(len(as)))
	for _, a := range as {
		w.uint(uint64(a.Lot))
		w.int(a.Points)
		w.int(a.Restored)
	}
}

func decodeAllocs(r *rbuf) []alloc {
	n := r.count()
	if n == 0 {
		return nil
	}
	as := make([]alloc, n)
	for i := range as {
		as[i] = alloc{Lot: r.uint32(), Points: r.int(), Restored: r.int()}
	}
	return as
}

// catLine is an order's paid amount in one category and the exact rate it
// earned at ("" when the category was excluded), so refunds recompute the
// points of what is left with the rules the order was placed under.
type catLine struct {
	Category string
	Paid     int64
	Refunded int64
	Rate     string
}

// orderDoc is what a refund needs to know about its order.
type orderDoc struct {
	OrderID string
	Tx      string
	At      time.Time
	Day     day
	PPY     int64 // points per yuan when placed
	Cats    []catLine
	Lot     uint32 // 0 if it earned nothing
	Earned  int64
	// Reversed points so far: Earned minus what the unrefunded lines earn.
	Reversed        int64
	GrowthPerYuan   int64
	Growth          int64
	GrowthReversed  int64
	GrowthOrder     int64 // the per-order part, reversed on a full refund
	PointsUsed      int64
	Allocs          []alloc
	Savings         int64
	SavingsRefunded int64
	Card            int32 // card period credited with the savings, −1 none
}

// docWriter is a document an operation writes: the store gets its
// encoding, appended wherever the store keeps it.
type docWriter interface {
	appendTo(b []byte) []byte
}

func encodeDoc(d docWriter) []byte { return d.appendTo(make([]byte, 0, 128)) }

func (d *orderDoc) encode() []byte { return encodeDoc(d) }

func (d *orderDoc) appendTo(b []byte) []byte {
	w := wbuf{b: b}
	w.byte(tagOrderDoc)
	w.str(d.OrderID)
	w.str(d.Tx)
	w.time(d.At)
	w.int(int64(d.Day))
	w.int(d.PPY)
	w.uint(uint64(len(d.Cats)))
	for _, c := range d.Cats {
		w.str(c.Category)
		w.int(c.Paid)
		w.int(c.Refunded)
		w.str(c.Rate)
	}
	w.uint(uint64(d.Lot))
	w.int(d.Earned)
	w.int(d.Reversed)
	w.int(d.GrowthPerYuan)
	w.int(d.Growth)
	w.int(d.GrowthReversed)
	w.int(d.GrowthOrder)
	w.int(d.PointsUsed)
	encodeAllocs(&w, d.Allocs)
	w.int(d.Savings)
	w.int(d.SavingsRefunded)
	w.int(int64(d.Card))
	return w.b
}

func decodeOrderDoc(b []byte) (*orderDoc, error) {
	r := rbuf{b: b}
	d := &orderDoc{}
	r.tag(tagOrderDoc, "order")
	d.OrderID = r.str()
	d.Tx = r.str()
	d.At = r.time()
	d.Day = day(r.int32())
	d.PPY = r.int()
	if n := r.count(); n > 0 {
		d.Cats = make([]catLine, n)
		for i := range d.Cats {
			d.Cats[i] = catLine{Category: r.str(), Paid: r.int(), Refunded: r.int(), Rate: r.str()}
		}
	}
	d.Lot = r.uint32()
	d.Earned = r.int()
	d.Reversed = r.int()
	d.GrowthPerYuan = r.int()
	d.Growth = r.int()
	d.GrowthReversed = r.int()
	d.GrowthOrder = r.int()
	d.PointsUsed = r.int()
	d.Allocs = decodeAllocs(&r)
	d.Savings = r.int()
	d.SavingsRefunded = r.int()
	d.Card = r.int32()
	return d, r.done("order")
}

// redeemDoc is a standalone redemption, kept so it can be reversed.
type redeemDoc struct {
	Tx       string
	Points   int64
	Allocs   []alloc
	Reversed bool
	At       time.Time // zero in records of the first layout: no refund window applies
}

func (d *redeemDoc) encode() []byte { return encodeDoc(d) }

func (d *redeemDoc) appendTo(b []byte) []byte {
	w := wbuf{b: b}
	w.byte(tagRedeem)
	w.str(d.Tx)
	w.int(d.Points)
	encodeAllocs(&w, d.Allocs)
	w.bool(d.Reversed)
	if !d.At.IsZero() {
		w.time(d.At) // optional trailing field
	}
	return w.b
}

func decodeRedeemDoc(b []byte) (*redeemDoc, error) {
	r := rbuf{b: b}
	d := &redeemDoc{}
	r.tag(tagRedeem, "redemption")
	d.Tx = r.str()
	d.Points = r.int()
	d.Allocs = decodeAllocs(&r)
	d.Reversed = r.bool()
	if r.err == nil && len(r.b) > 0 {
		if d.At = r.time(); r.err == nil && d.At.IsZero() {
			r.fail("zero redemption time")
		}
	}
	return d, r.done("redemption")
}

// spendDoc is a stored-value spend, kept so it can be refunded.
type spendDoc struct {
	Tx        string
	Amount    int64
	Principal int64
	Bonus     int64
	Refunded  int64
	RefundedP int64
	RefundedB int64
}

func (d *spendDoc) encode() []byte { return encodeDoc(d) }

func (d *spendDoc) appendTo(b []byte) []byte {
	w := wbuf{b: b}
	w.byte(tagSpendDoc)
	w.str(d.Tx)
	w.int(d.Amount)
	w.int(d.Principal)
	w.int(d.Bonus)
	w.int(d.Refunded)
	w.int(d.RefundedP)
	w.int(d.RefundedB)
	return w.b
}

func decodeSpendDoc(b []byte) (*spendDoc, error) {
	r := rbuf{b: b}
	d := &spendDoc{}
	r.tag(tagSpendDoc, "spend")
	d.Tx = r.str()
	d.Amount = r.int()
	d.Principal = r.int()
	d.Bonus = r.int()
	d.Refunded = r.int()
	d.RefundedP = r.int()
	d.RefundedB = r.int()
	return d, r.done("spend")
}

// mulDiv returns floor(a × b / c) for 0 ≤ a ≤ c, 0 ≤ b, without
// overflowing the product: a ≤ c keeps the quotient ≤ b.
func mulDiv(a, b, c int64) int64 {
	if c <= 0 || a <= 0 || b <= 0 {
		return 0
	}
	a = min(a, c) // callers guarantee it; clamping keeps Div64 from panicking
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}
