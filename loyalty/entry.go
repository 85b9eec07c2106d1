package loyalty

import (
	"fmt"
	"time"
)

// EntryKind says what an Entry records.
type EntryKind uint8

// Entry kinds. Each changes only the fields listed.
const (
	_ EntryKind = iota
	// EntryEarn creates lot Lot with Pending or Points, and Lifetime.
	EntryEarn
	// EntryMature moves a lot's points from Pending to Points.
	EntryMature
	// EntryRedeem spends Points (negative) from a lot.
	EntryRedeem
	// EntryRestore gives spent points (positive) back to their lot.
	EntryRestore
	// EntryReverse takes back (negative Points or Pending, and Lifetime)
	// points earned on a refunded order, from its lot or, when those were
	// spent, from other lots.
	EntryReverse
	// EntryExpire removes expired points from a lot.
	EntryExpire
	// EntryAdjust is a manual correction: a new lot (positive) or a
	// deduction from a lot (negative).
	EntryAdjust
	// EntryDebt records points owed after a reversal found too few to take.
	EntryDebt
	// EntryRepay pays Debt (negative) from a lot's Points (negative).
	EntryRepay
	// EntryGrowth changes growth value on GrowthDay.
	EntryGrowth
	// EntryTier moves the member from FromTier to ToTier.
	EntryTier
	// EntryCardFee records a paid card period bought or renewed (Amount is
	// the fee, Card the period).
	EntryCardFee
	// EntrySavings changes a card period's member savings by Amount.
	EntrySavings
	// EntryGuarantee records money owed back at a card period's end
	// (Amount = fee − savings, when positive).
	EntryGuarantee
	// EntryCardCancel records a cancelled period and the Amount refunded.
	EntryCardCancel
	// EntryTopUp adds Principal and Bonus.
	EntryTopUp
	// EntrySpend spends Principal and Bonus (negative).
	EntrySpend
	// EntrySpendRefund gives back Principal and Bonus of a spend.
	EntrySpendRefund
	// EntryWithdraw pays out Principal (negative) and forfeits Bonus.
	EntryWithdraw
	// EntryMergeOut, on the ledger of a member merged into another (Ref
	// is the survivor's ID), and EntryMergeIn, on the survivor's (Ref is
	// the merged member's ID), move one part of the account, with
	// opposite signs: the totals (Lifetime, Debt, Principal, Bonus; one
	// entry, first), one lot (Lot, with its Points, Pending, Expires,
	// Matures and Earned, and PeerLot, its ID on the other side) or one
	// day of growth value (Growth, GrowthDay).
	EntryMergeOut
	EntryMergeIn
	// EntryCardMergeOut and EntryCardMergeIn move one paid card period
	// (Card is its index on this side, Amount its fee, Savings its
	// member savings, Ref the other member's ID), with opposite signs.
	EntryCardMergeOut
	EntryCardMergeIn
	entryKinds
)

var entryNames = [...]string{"", "earn", "mature", "redeem", "restore", "reverse", "expire", "adjust",
	"debt", "repay", "growth", "tier", "card_fee", "savings", "guarantee", "card_cancel",
	"top_up", "spend", "spend_refund", "withdraw", "merge_out", "merge_in", "card_merge_out", "card_merge_in"}

// String returns the kind's name ("earn", "redeem"…).
func (k EntryKind) String() string {
	if k > 0 && k < entryKinds {
		return entryNames[k]
	}
	return fmt.Sprintf("entry(%d)", uint8(k))
}

// MarshalText writes the kind's name.
func (k EntryKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Entry is one append-only line of a member's ledger. Every field that
// holds a change is signed: balances are the sums of these fields over the
// member's entries (Audit checks it).
type Entry struct {
	Seq  uint64    `json:"seq"` // position in the member's ledger, from 0
	Tx   string    `json:"tx"`  // the transaction that wrote it
	Kind EntryKind `json:"kind"`
	At   time.Time `json:"at"` // the operation's business time

	Lot      uint32 `json:"lot,omitempty"`      // points lot, from 1
	Points   int64  `json:"points,omitempty"`   // change to the lot's available points
	Pending  int64  `json:"pending,omitempty"`  // change to the lot's pending points
	Lifetime int64  `json:"lifetime,omitempty"` // change to lifetime earned
	Debt     int64  `json:"debt,omitempty"`     // change to points owed
	// Expires is an earned lot's expiry (zero: never).
	Expires time.Time `json:"expires,omitzero"`

	Growth int64 `json:"growth,omitempty"`
	// GrowthDay is the civil date (programme zone) the growth counts on,
	// as days since 1970-01-01: a refund's growth goes back to the order's
	// day so it leaves the window when the order would have.
	GrowthDay int32  `json:"growth_day,omitempty"`
	FromTier  string `json:"from_tier,omitempty"`
	ToTier    string `json:"to_tier,omitempty"`

	// Card is the index of the member's card period (from 0) for card
	// entries; Amount is money in fen.
	Card   int32 `json:"card,omitempty"`
	Amount int64 `json:"amount,omitempty"`

	Principal int64 `json:"principal,omitempty"`
	Bonus     int64 `json:"bonus,omitempty"`

	// Ref links the entry to what it is about: the order ID, the reversed
	// redemption's transaction, the card product, a reason, the other
	// member of a merge (in decimal).
	Ref string `json:"ref,omitempty"`

	// Fields of merge entries, which move a lot or a card period whole.
	//
	// Matures is a moved lot's time its pending points become available;
	// Earned the points it was earned with; PeerLot its ID in the other
	// member's ledger. Savings is a moved card period's member savings
	// (negative on the side it leaves).
	Matures time.Time `json:"matures,omitzero"`
	Earned  int64     `json:"earned,omitempty"`
	PeerLot uint32    `json:"peer_lot,omitempty"`
	Savings int64     `json:"savings,omitempty"`
}

// Entries are written in the third layout (tagEntry3): the fields every
// entry has, then a bit mask of the other fields that are not zero, then
// those fields in order. An entry sets two to five of its nineteen other
// fields, so this writes and reads a quarter of the fields the first two
// layouts did (tagEntry, tagEntryX: every field in a fixed order), in
// somewhat fewer bytes (the strings and times dominate). All three are
// read.
const (
	efLot = 1 << iota
	efPoints
	efPending
	efLifetime
	efDebt
	efExpires
	efGrowth
	efGrowthDay
	efFromTier
	efToTier
	efCard
	efAmount
	efPrincipal
	efBonus
	efRef
	efMatures
	efEarned
	efPeerLot
	efSavings
	efAll = 1<<iota - 1
)

func (e *Entry) encode(w *wbuf) {
	var mask uint64
	if e.Lot != 0 {
		mask |= efLot
	}
	if e.Points != 0 {
		mask |= efPoints
	}
	if e.Pending != 0 {
		mask |= efPending
	}
	if e.Lifetime != 0 {
		mask |= efLifetime
	}
	if e.Debt != 0 {
		mask |= efDebt
	}
	if !e.Expires.IsZero() {
		mask |= efExpires
	}
	if e.Growth != 0 {
		mask |= efGrowth
	}
	if e.GrowthDay != 0 {
		mask |= efGrowthDay
	}
	if e.FromTier != "" {
		mask |= efFromTier
	}
	if e.ToTier != "" {
		mask |= efToTier
	}
	if e.Card != 0 {
		mask |= efCard
	}
	if e.Amount != 0 {
		mask |= efAmount
	}
	if e.Principal != 0 {
		mask |= efPrincipal
	}
	if e.Bonus != 0 {
		mask |= efBonus
	}
	if e.Ref != "" {
		mask |= efRef
	}
	if !e.Matures.IsZero() {
		mask |= efMatures
	}
	if e.Earned != 0 {
		mask |= efEarned
	}
	if e.PeerLot != 0 {
		mask |= efPeerLot
	}
	if e.Savings != 0 {
		mask |= efSavings
	}

	w.byte(tagEntry3)
	w.uint(e.Seq)
	w.str(e.Tx)
	w.byte(byte(e.Kind))
	w.time(e.At)
	w.uint(mask)
	if mask&efLot != 0 {
		w.uint(uint64(e.Lot))
	}
	if mask&efPoints != 0 {
		w.int(e.Points)
	}
	if mask&efPending != 0 {
		w.int(e.Pending)
	}
	if mask&efLifetime != 0 {
		w.int(e.Lifetime)
	}
	if mask&efDebt != 0 {
		w.int(e.Debt)
	}
	if mask&efExpires != 0 {
		w.int(e.Expires.UnixNano())
	}
	if mask&efGrowth != 0 {
		w.int(e.Growth)
	}
	if mask&efGrowthDay != 0 {
		w.int(int64(e.GrowthDay))
	}
	if mask&efFromTier != 0 {
		w.str(e.FromTier)
	}
	if mask&efToTier != 0 {
		w.str(e.ToTier)
	}
	if mask&efCard != 0 {
		w.int(int64(e.Card))
	}
	if mask&efAmount != 0 {
		w.int(e.Amount)
	}
	if mask&efPrincipal != 0 {
		w.int(e.Principal)
	}
	if mask&efBonus != 0 {
		w.int(e.Bonus)
	}
	if mask&efRef != 0 {
		w.str(e.Ref)
	}
	if mask&efMatures != 0 {
		w.int(e.Matures.UnixNano())
	}
	if mask&efEarned != 0 {
		w.int(e.Earned)
	}
	if mask&efPeerLot != 0 {
		w.uint(uint64(e.PeerLot))
	}
	if mask&efSavings != 0 {
		w.int(e.Savings)
	}
}

func decodeEntry(b []byte) (Entry, error) {
	if len(b) > 0 && b[0] == tagEntry3 {
		return decodeEntry3(b)
	}
	r := rbuf{b: b}
	var e Entry
	x := len(b) > 0 && b[0] == tagEntryX
	if x {
		r.tag(tagEntryX, "entry")
	} else {
		r.tag(tagEntry, "entry")
	}
	e.Seq = r.uint()
	e.Tx = r.str()
	e.Kind = EntryKind(r.byte())
	e.At = r.time()
	e.Lot = r.uint32()
	e.Points = r.int()
	e.Pending = r.int()
	e.Lifetime = r.int()
	e.Debt = r.int()
	e.Expires = r.time()
	e.Growth = r.int()
	e.GrowthDay = r.int32()
	e.FromTier = r.str()
	e.ToTier = r.str()
	e.Card = r.int32()
	e.Amount = r.int()
	e.Principal = r.int()
	e.Bonus = r.int()
	e.Ref = r.str()
	if x {
		e.Matures = r.time()
		e.Earned = r.int()
		e.PeerLot = r.uint32()
		e.Savings = r.int()
	}
	if r.err == nil && (e.Kind == 0 || e.Kind >= entryKinds) {
		r.fail("unknown entry kind")
	}
	return e, r.done("entry")
}

func decodeEntry3(b []byte) (Entry, error) {
	r := rbuf{b: b}
	var e Entry
	r.tag(tagEntry3, "entry")
	e.Seq = r.uint()
	e.Tx = r.str()
	e.Kind = EntryKind(r.byte())
	e.At = r.time()
	mask := r.uint()
	if r.err == nil && mask&^efAll != 0 {
		r.fail("unknown entry fields")
	}
	opt := func(bit uint64) bool { return mask&bit != 0 }
	if opt(efLot) {
		e.Lot = r.uint32()
	}
	for _, f := range [...]struct {
		bit uint64
		v   *int64
	}{{efPoints, &e.Points}, {efPending, &e.Pending}, {efLifetime, &e.Lifetime}, {efDebt, &e.Debt}} {
		if opt(f.bit) {
			*f.v = r.int()
		}
	}
	if opt(efExpires) {
		e.Expires = time.Unix(0, r.int()).UTC()
	}
	if opt(efGrowth) {
		e.Growth = r.int()
	}
	if opt(efGrowthDay) {
		e.GrowthDay = r.int32()
	}
	if opt(efFromTier) {
		e.FromTier = r.str()
	}
	if opt(efToTier) {
		e.ToTier = r.str()
	}
	if opt(efCard) {
		e.Card = r.int32()
	}
	for _, f := range [...]struct {
		bit uint64
		v   *int64
	}{{efAmount, &e.Amount}, {efPrincipal, &e.Principal}, {efBonus, &e.Bonus}} {
		if opt(f.bit) {
			*f.v = r.int()
		}
	}
	if opt(efRef) {
		e.Ref = r.str()
	}
	if opt(efMatures) {
		e.Matures = time.Unix(0, r.int()).UTC()
	}
	if opt(efEarned) {
		e.Earned = r.int()
	}
	if opt(efPeerLot) {
		e.PeerLot = r.uint32()
	}
	if opt(efSavings) {
		e.Savings = r.int()
	}
	if r.err == nil && (e.Kind == 0 || e.Kind >= entryKinds) {
		r.fail("unknown entry kind")
	}
	return e, r.done("entry")
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	_ EventKind = iota
	// EventTierChanged: FromTier → ToTier (upgrade on an order, downgrade
	// or upgrade on evaluation).
	EventTierChanged
	// EventPointsExpiringSoon: Points expire at ExpiresAt, within the
	// programme's notice days. Raised once per lot.
	EventPointsExpiringSoon
	// EventCardGuaranteeDue: a card period ended (or a late refund lowered
	// its savings) and Refund fen are owed to the member.
	EventCardGuaranteeDue
	eventKinds
)

var eventNames = [...]string{"", "tier_changed", "points_expiring_soon", "card_guarantee_due"}

// String returns the kind's name ("tier_changed"…).
func (k EventKind) String() string {
	if k > 0 && k < eventKinds {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// MarshalText writes the kind's name.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is something the host may want to act on: turn into a tag, start a
// journey, pay a guarantee refund.
type Event struct {
	Kind   EventKind `json:"kind"`
	Member uint32    `json:"member"`
	Tx     string    `json:"tx"`
	At     time.Time `json:"at"`

	FromTier string `json:"from_tier,omitempty"`
	ToTier   string `json:"to_tier,omitempty"`

	Points    int64     `json:"points,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`

	Card      string    `json:"card,omitempty"`
	PeriodEnd time.Time `json:"period_end,omitzero"`
	Fee       int64     `json:"fee,omitempty"`
	Savings   int64     `json:"savings,omitempty"`
	Refund    int64     `json:"refund,omitempty"`
}

func (e *Event) encode(w *wbuf) {
	w.byte(byte(e.Kind))
	w.uint(uint64(e.Member))
	w.str(e.Tx)
	w.time(e.At)
	w.str(e.FromTier)
	w.str(e.ToTier)
	w.int(e.Points)
	w.time(e.ExpiresAt)
	w.str(e.Card)
	w.time(e.PeriodEnd)
	w.int(e.Fee)
	w.int(e.Savings)
	w.int(e.Refund)
}

func (e *Event) decode(r *rbuf) {
	e.Kind = EventKind(r.byte())
	e.Member = r.uint32()
	e.Tx = r.str()
	e.At = r.time()
	e.FromTier = r.str()
	e.ToTier = r.str()
	e.Points = r.int()
	e.ExpiresAt = r.time()
	e.Card = r.str()
	e.PeriodEnd = r.time()
	e.Fee = r.int()
	e.Savings = r.int()
	e.Refund = r.int()
	if r.err == nil && (e.Kind == 0 || e.Kind >= eventKinds) {
		r.fail("unknown event kind")
	}
}

// Notifier receives events once their operation is durable. Notify is
// called from the goroutine that applied the operation, after the
// member's lock is released, so it may call back into the Ledger; events
// of one member from concurrent callers may arrive out of order (the
// Receipt's Version orders them). A crash between the commit and
// Notify loses the call: hosts that must not miss one re-apply the
// operation, whose replayed Receipt carries the same events.
type Notifier interface {
	Notify(Event)
}

// NotifierFunc adapts a function to a Notifier.
type NotifierFunc func(Event)

// Notify calls f(e).
func (f NotifierFunc) Notify(e Event) { f(e) }

// Totals are a member's balances right after an operation.
type Totals struct {
	// Available points; negative only under AllowNegative, as lots minus
	// debt.
	Available int64 `json:"available"`
	Pending   int64 `json:"pending"`
	// Debt is points owed (always shown; under AllowNegative it is also
	// subtracted from Available).
	Debt     int64  `json:"debt"`
	Lifetime int64  `json:"lifetime"`
	Tier     string `json:"tier"`
	// Growth value in the window ending at the operation.
	Growth    int64 `json:"growth"`
	Principal int64 `json:"principal"`
	Bonus     int64 `json:"bonus"`
}

func (t *Totals) encode(w *wbuf) {
	w.int(t.Available)
	w.int(t.Pending)
	w.int(t.Debt)
	w.int(t.Lifetime)
	w.str(t.Tier)
	w.int(t.Growth)
	w.int(t.Principal)
	w.int(t.Bonus)
}

func (t *Totals) decode(r *rbuf) {
	t.Available = r.int()
	t.Pending = r.int()
	t.Debt = r.int()
	t.Lifetime = r.int()
	t.Tier = r.str()
	t.Growth = r.int()
	t.Principal = r.int()
	t.Bonus = r.int()
}

// Receipt is the result of an operation: the entries it appended, the
// events it raised and the balances after it. Applying the same
// transaction again returns the same Receipt with Replayed set.
type Receipt struct {
	Tx     string    `json:"tx"`
	Member uint32    `json:"member"`
	Op     OpKind    `json:"op"`
	At     time.Time `json:"at"`
	// Version numbers the member's recorded operations from 1, in the
	// order they were applied (0 when not recorded): it orders receipts
	// and their events when concurrent callers deliver them out of order.
	Version uint64  `json:"version,omitempty"`
	Entries []Entry `json:"entries"`
	// FromEntries are, for a Merge, the entries written on the merged
	// member's ledger (Entries are the survivor's).
	FromEntries []Entry `json:"from_entries,omitempty"`
	Events      []Event `json:"events,omitempty"`
	After       Totals  `json:"after"`
	Replayed    bool    `json:"replayed,omitempty"`
	// Recorded is false for an operation that changed nothing (a Settle
	// with nothing due): it was not stored and its ID stays free.
	Recorded bool `json:"recorded"`
}

// Sum adds up a field over the receipt's entries of one kind, e.g. the
// points a redemption took: r.Sum(EntryRedeem, func(e Entry) int64 { return -e.Points }).
func (r *Receipt) Sum(kind EntryKind, field func(Entry) int64) int64 {
	var s int64
	for _, e := range r.Entries {
		if e.Kind == kind {
			s += field(e)
		}
	}
	return s
}

// txRecord is what the store keeps per transaction: enough to rebuild the
// Receipt (entries are read back from the member's ledger) and to tell a
// replay from a conflict.
type txRecord struct {
	Digest   [16]byte
	Member   uint32
	Op       OpKind
	At       time.Time
	Version  uint64
	FirstSeq uint64
	Count    uint64
	Events   []Event
	After    Totals
	// A Merge also writes entries PeerFirstSeq… on member Peer's ledger.
	HasPeer      bool
	Peer         uint32
	PeerFirstSeq uint64
	PeerCount    uint64
}

func (t *txRecord) encode() []byte { return t.appendTo(make([]byte, 0, 96)) }

func (t *txRecord) appendTo(b []byte) []byte {
	w := wbuf{b: b}
	w.byte(tagTx)
	w.b = append(w.b, t.Digest[:]...)
	w.uint(uint64(t.Member))
	w.byte(byte(t.Op))
	w.time(t.At)
	w.uint(t.Version)
	w.uint(t.FirstSeq)
	w.uint(t.Count)
	w.uint(uint64(len(t.Events)))
	for i := range t.Events {
		t.Events[i].encode(&w)
	}
	t.After.encode(&w)
	if t.HasPeer {
		// An optional trailing section, so records without it keep the
		// first layout.
		w.byte(1)
		w.uint(uint64(t.Peer))
		w.uint(t.PeerFirstSeq)
		w.uint(t.PeerCount)
	}
	return w.b
}

func decodeTxRecord(b []byte) (txRecord, error) {
	r := rbuf{b: b}
	var t txRecord
	r.tag(tagTx, "tx record")
	if r.err == nil {
		if len(r.b) < len(t.Digest) {
			r.fail("truncated digest")
		} else {
			copy(t.Digest[:], r.b)
			r.b = r.b[len(t.Digest):]
		}
	}
	t.Member = r.uint32()
	t.Op = OpKind(r.byte())
	t.At = r.time()
	t.Version = r.uint()
	t.FirstSeq = r.uint()
	t.Count = r.uint()
	if n := r.count(); n > 0 {
		t.Events = make([]Event, n)
		for i := range t.Events {
			t.Events[i].decode(&r)
		}
	}
	t.After.decode(&r)
	if r.err == nil && len(r.b) > 0 {
		if r.byte() != 1 {
			r.fail("bad peer section")
		}
		t.HasPeer = true
		t.Peer = r.uint32()
		t.PeerFirstSeq = r.uint()
		t.PeerCount = r.uint()
	}
	if r.err == nil && (t.Op == 0 || t.Op >= opKinds) {
		r.fail("unknown op kind")
	}
	return t, r.done("tx record")
}
