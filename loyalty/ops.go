package loyalty

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OpKind names an operation.
type OpKind uint8

// Operation kinds, one per Op type.
const (
	_ OpKind = iota
	OpOrder
	OpRefund
	OpRedeem
	OpReverse
	OpAdjust
	OpSettle
	OpEvaluate
	OpBuyCard
	OpRenewCard
	OpCancelCard
	OpTopUp
	OpSpend
	OpRefundSpend
	OpWithdraw
	OpMerge
	opKinds
)

var opNames = [...]string{"", "order", "refund", "redeem", "reverse", "adjust", "settle", "evaluate",
	"buy_card", "renew_card", "cancel_card", "top_up", "spend", "refund_spend", "withdraw", "merge"}

// String returns the kind's name as used in JSON ("order", "buy_card"…).
func (k OpKind) String() string {
	if k > 0 && k < opKinds {
		return opNames[k]
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// MarshalText writes the kind's name, as used in the "op" field of JSON.
func (k OpKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Op is one operation on a member's account. The types below are the only
// implementations. Every Op carries a transaction ID, unique across the
// ledger: applying it twice returns the first Receipt, applying different
// content under it fails with a *ConflictError.
type Op interface {
	Kind() OpKind
	// TxID is the transaction ID (derived from member and time for Settle
	// and Evaluate when left empty).
	TxID() string
	MemberID() uint32
	// Time is the operation's business time.
	Time() time.Time

	// head returns Kind, TxID, MemberID and Time at once: through the
	// interface each of those copies the whole operation.
	head() opHead
	encode(w *wbuf) // canonical content, for the conflict digest
	check(p *Program) (field, msg string)
	docKey() string // the document the operation reads, if any
	apply(s *state) error
}

// Line is one category's share of an order. Paid is the net amount paid
// in fen after discounts and coupons: the base for points and growth
// value. Points used as payment (Order.PointsUsed) are not part of it;
// whether stored value is, is the host's choice.
type Line struct {
	Category string `json:"category,omitempty"`
	Paid     int64  `json:"paid"`
}

// Order records a purchase: it earns points and growth value, adds member
// savings to the active paid card and may pay with points.
type Order struct {
	Tx      string    `json:"tx"`
	Member  uint32    `json:"member"`
	At      time.Time `json:"at"`
	OrderID string    `json:"order"`
	Channel string    `json:"channel,omitempty"`
	Lines   []Line    `json:"lines"`
	// Savings is what the member saved on the order thanks to the paid
	// card (discounts, free items, coupons), in fen.
	Savings int64 `json:"savings,omitempty"`
	// PointsUsed are redeemed as part of the payment; a refund can
	// restore them.
	PointsUsed int64 `json:"points_used,omitempty"`
}

// Refund returns part or all of an order: Lines give the refunded net paid
// per category, Points the points of the payment to give back, Savings the
// member savings to take back from the card period.
type Refund struct {
	Tx      string    `json:"tx"`
	Member  uint32    `json:"member"`
	At      time.Time `json:"at"`
	OrderID string    `json:"order"`
	Lines   []Line    `json:"lines,omitempty"`
	Points  int64     `json:"points,omitempty"`
	Savings int64     `json:"savings,omitempty"`
}

// Redeem spends points outside an order (a gift, a coupon), earliest
// expiring first.
type Redeem struct {
	Tx     string    `json:"tx"`
	Member uint32    `json:"member"`
	At     time.Time `json:"at"`
	Points int64     `json:"points"`
	Reason string    `json:"reason,omitempty"`
}

// Reverse cancels a Redeem entirely, restoring its points to the lots they
// came from (expired ones come back expired).
type Reverse struct {
	Tx     string    `json:"tx"`
	Member uint32    `json:"member"`
	At     time.Time `json:"at"`
	Of     string    `json:"of"` // the Redeem's transaction ID
}

// Adjust corrects a balance by hand: positive Points make a new lot with
// the programme's expiry, negative ones are taken like a redemption.
type Adjust struct {
	Tx     string    `json:"tx"`
	Member uint32    `json:"member"`
	At     time.Time `json:"at"`
	Points int64     `json:"points"`
	Reason string    `json:"reason"`
}

// Settle brings an account up to At: pending points mature, points expire,
// expiry notices go out, ended card periods settle their guarantee. Every
// operation settles its account first; Settle is for accounts with no
// other activity (run it daily over Members). Its ID defaults to
// "settle/<member>/<At>", so a run is idempotent for an as-of time.
type Settle struct {
	Tx     string    `json:"tx,omitempty"`
	Member uint32    `json:"member"`
	At     time.Time `json:"at"`
}

// Evaluate reviews a member's tier at At: after the retention period, a
// member whose growth value no longer supports the tier goes down by the
// programme's policy. Its ID defaults to "evaluate/<member>/<At>".
type Evaluate struct {
	Tx     string    `json:"tx,omitempty"`
	Member uint32    `json:"member"`
	At     time.Time `json:"at"`
}

// BuyCard starts a paid card period of Product at At.
type BuyCard struct {
	Tx      string    `json:"tx"`
	Member  uint32    `json:"member"`
	At      time.Time `json:"at"`
	Product string    `json:"product"`
}

// RenewCard buys the next period: it starts when the current one ends, or
// at At if the card has lapsed. Product defaults to the current one.
type RenewCard struct {
	Tx      string    `json:"tx"`
	Member  uint32    `json:"member"`
	At      time.Time `json:"at"`
	Product string    `json:"product,omitempty"`
}

// CancelCard ends the active period (refunding fee − savings within the
// cooling-off days, nothing after) and any renewal not yet started (in
// full).
type CancelCard struct {
	Tx     string    `json:"tx"`
	Member uint32    `json:"member"`
	At     time.Time `json:"at"`
}

// TopUp adds Amount fen of principal to stored value, plus the bonus the
// programme's ladder gives.
type TopUp struct {
	Tx     string    `json:"tx"`
	Member uint32    `json:"member"`
	At     time.Time `json:"at"`
	Amount int64     `json:"amount"`
}

// Spend pays Amount fen from stored value, splitting it between principal
// and bonus by the programme's spending order.
type Spend struct {
	Tx      string    `json:"tx"`
	Member  uint32    `json:"member"`
	At      time.Time `json:"at"`
	Amount  int64     `json:"amount"`
	OrderID string    `json:"order,omitempty"`
}

// RefundSpend gives back Amount fen of an earlier Spend, in the same
// principal/bonus proportion it was taken.
type RefundSpend struct {
	Tx     string    `json:"tx"`
	Member uint32    `json:"member"`
	At     time.Time `json:"at"`
	Spend  string    `json:"spend"` // the Spend's transaction ID
	Amount int64     `json:"amount"`
}

// Withdraw pays Amount fen of principal back to the member (bonus is never
// paid out, and is forfeited in proportion if the programme says so).
type Withdraw struct {
	Tx     string    `json:"tx"`
	Member uint32    `json:"member"`
	At     time.Time `json:"at"`
	Amount int64     `json:"amount"`
}

var (
	_ Op = Order{}
	_ Op = Refund{}
	_ Op = Redeem{}
	_ Op = Reverse{}
	_ Op = Adjust{}
	_ Op = Settle{}
	_ Op = Evaluate{}
	_ Op = BuyCard{}
	_ Op = RenewCard{}
	_ Op = CancelCard{}
	_ Op = TopUp{}
	_ Op = Spend{}
	_ Op = RefundSpend{}
	_ Op = Withdraw{}
)

// Kind returns OpOrder.
func (o Order) Kind() OpKind { return OpOrder }

// Kind returns OpRefund.
func (o Refund) Kind() OpKind { return OpRefund }

// Kind returns OpRedeem.
func (o Redeem) Kind() OpKind { return OpRedeem }

// Kind returns OpReverse.
func (o Reverse) Kind() OpKind { return OpReverse }

// Kind returns OpAdjust.
func (o Adjust) Kind() OpKind { return OpAdjust }

// Kind returns OpSettle.
func (o Settle) Kind() OpKind { return OpSettle }

// Kind returns OpEvaluate.
func (o Evaluate) Kind() OpKind { return OpEvaluate }

// Kind returns OpBuyCard.
func (o BuyCard) Kind() OpKind { return OpBuyCard }

// Kind returns OpRenewCard.
func (o RenewCard) Kind() OpKind { return OpRenewCard }

// Kind returns OpCancelCard.
func (o CancelCard) Kind() OpKind { return OpCancelCard }

// Kind returns OpTopUp.
func (o TopUp) Kind() OpKind { return OpTopUp }

// Kind returns OpSpend.
func (o Spend) Kind() OpKind { return OpSpend }

// Kind returns OpRefundSpend.
func (o RefundSpend) Kind() OpKind { return OpRefundSpend }

// Kind returns OpWithdraw.
func (o Withdraw) Kind() OpKind { return OpWithdraw }

// TxID returns the transaction ID.
func (o Order) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o Refund) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o Redeem) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o Reverse) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o Adjust) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o BuyCard) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o RenewCard) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o CancelCard) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o TopUp) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o Spend) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o RefundSpend) TxID() string { return o.Tx }

// TxID returns the transaction ID.
func (o Withdraw) TxID() string { return o.Tx }

// TxID returns Tx, or "settle/<member>/<At in UTC>" when it is empty.
func (o Settle) TxID() string { return derivedTx("settle", o.Tx, o.Member, o.At) }

// TxID returns Tx, or "evaluate/<member>/<At in UTC>" when it is empty.
func (o Evaluate) TxID() string { return derivedTx("evaluate", o.Tx, o.Member, o.At) }

func derivedTx(kind, tx string, m uint32, at time.Time) string {
	if tx != "" {
		return tx
	}
	return kind + "/" + strconv.FormatUint(uint64(m), 10) + "/" + at.UTC().Format(time.RFC3339Nano)
}

// MemberID returns the member.
func (o Order) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o Refund) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o Redeem) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o Reverse) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o Adjust) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o Settle) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o Evaluate) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o BuyCard) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o RenewCard) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o CancelCard) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o TopUp) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o Spend) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o RefundSpend) MemberID() uint32 { return o.Member }

// MemberID returns the member.
func (o Withdraw) MemberID() uint32 { return o.Member }

// Time returns the business time.
func (o Order) Time() time.Time { return o.At }

// Time returns the business time.
func (o Refund) Time() time.Time { return o.At }

// Time returns the business time.
func (o Redeem) Time() time.Time { return o.At }

// Time returns the business time.
func (o Reverse) Time() time.Time { return o.At }

// Time returns the business time.
func (o Adjust) Time() time.Time { return o.At }

// Time returns the business time.
func (o Settle) Time() time.Time { return o.At }

// Time returns the business time.
func (o Evaluate) Time() time.Time { return o.At }

// Time returns the business time.
func (o BuyCard) Time() time.Time { return o.At }

// Time returns the business time.
func (o RenewCard) Time() time.Time { return o.At }

// Time returns the business time.
func (o CancelCard) Time() time.Time { return o.At }

// Time returns the business time.
func (o TopUp) Time() time.Time { return o.At }

// Time returns the business time.
func (o Spend) Time() time.Time { return o.At }

// Time returns the business time.
func (o RefundSpend) Time() time.Time { return o.At }

// Time returns the business time.
func (o Withdraw) Time() time.Time { return o.At }

// opHead is what every operation has.
type opHead struct {
	kind   OpKind
	tx     string
	member uint32
	at     time.Time
}

func (o Order) head() opHead       { return opHead{OpOrder, o.TxID(), o.Member, o.At} }
func (o Refund) head() opHead      { return opHead{OpRefund, o.TxID(), o.Member, o.At} }
func (o Redeem) head() opHead      { return opHead{OpRedeem, o.TxID(), o.Member, o.At} }
func (o Reverse) head() opHead     { return opHead{OpReverse, o.TxID(), o.Member, o.At} }
func (o Adjust) head() opHead      { return opHead{OpAdjust, o.TxID(), o.Member, o.At} }
func (o Settle) head() opHead      { return opHead{OpSettle, o.TxID(), o.Member, o.At} }
func (o Evaluate) head() opHead    { return opHead{OpEvaluate, o.TxID(), o.Member, o.At} }
func (o BuyCard) head() opHead     { return opHead{OpBuyCard, o.TxID(), o.Member, o.At} }
func (o RenewCard) head() opHead   { return opHead{OpRenewCard, o.TxID(), o.Member, o.At} }
func (o CancelCard) head() opHead  { return opHead{OpCancelCard, o.TxID(), o.Member, o.At} }
func (o TopUp) head() opHead       { return opHead{OpTopUp, o.TxID(), o.Member, o.At} }
func (o Spend) head() opHead       { return opHead{OpSpend, o.TxID(), o.Member, o.At} }
func (o RefundSpend) head() opHead { return opHead{OpRefundSpend, o.TxID(), o.Member, o.At} }
func (o Withdraw) head() opHead    { return opHead{OpWithdraw, o.TxID(), o.Member, o.At} }

// Document keys: orders by order ID, redemptions and spends by their own
// transaction ID.
func orderKey(id string) string  { return "o:" + id }
func redeemKey(tx string) string { return "r:" + tx }
func spendKey(tx string) string  { return "s:" + tx }

func (o Order) docKey() string       { return orderKey(o.OrderID) }
func (o Refund) docKey() string      { return orderKey(o.OrderID) }
func (o Redeem) docKey() string      { return "" }
func (o Reverse) docKey() string     { return redeemKey(o.Of) }
func (o Adjust) docKey() string      { return "" }
func (o Settle) docKey() string      { return "" }
func (o Evaluate) docKey() string    { return "" }
func (o BuyCard) docKey() string     { return "" }
func (o RenewCard) docKey() string   { return "" }
func (o CancelCard) docKey() string  { return "" }
func (o TopUp) docKey() string       { return "" }
func (o Spend) docKey() string       { return "" }
func (o RefundSpend) docKey() string { return spendKey(o.Spend) }
func (o Withdraw) docKey() string    { return "" }

// appendDocKey appends op's docKey to b, without making a string.
func appendDocKey(b []byte, op Op) []byte {
	var prefix, id string
	switch o := op.(type) {
	case Order:
		prefix, id = "o:", o.OrderID
	case Refund:
		prefix, id = "o:", o.OrderID
	case Reverse:
		prefix, id = "r:", o.Of
	case RefundSpend:
		prefix, id = "s:", o.Spend
	default:
		return b
	}
	return append(append(b, prefix...), id...)
}

func encodeLines(w *wbuf, ls []Line) {
	w.uint(uint64(len(ls)))
	for _, l := range ls {
		w.str(l.Category)
		w.int(l.Paid)
	}
}

func (o Order) encode(w *wbuf) {
	w.str(o.OrderID)
	w.str(o.Channel)
	encodeLines(w, o.Lines)
	w.int(o.Savings)
	w.int(o.PointsUsed)
}
func (o Refund) encode(w *wbuf) {
	w.str(o.OrderID)
	encodeLines(w, o.Lines)
	w.int(o.Points)
	w.int(o.Savings)
}
func (o Redeem) encode(w *wbuf)      { w.int(o.Points); w.str(o.Reason) }
func (o Reverse) encode(w *wbuf)     { w.str(o.Of) }
func (o Adjust) encode(w *wbuf)      { w.int(o.Points); w.str(o.Reason) }
func (o Settle) encode(w *wbuf)      {}
func (o Evaluate) encode(w *wbuf)    {}
func (o BuyCard) encode(w *wbuf)     { w.str(o.Product) }
func (o RenewCard) encode(w *wbuf)   { w.str(o.Product) }
func (o CancelCard) encode(w *wbuf)  {}
func (o TopUp) encode(w *wbuf)       { w.int(o.Amount) }
func (o Spend) encode(w *wbuf)       { w.int(o.Amount); w.str(o.OrderID) }
func (o RefundSpend) encode(w *wbuf) { w.str(o.Spend); w.int(o.Amount) }
func (o Withdraw) encode(w *wbuf)    { w.int(o.Amount) }

// digest identifies an operation's content: same ID and same digest is a
// replay, same ID and another digest a conflict. The time is compared as
// an instant, so the same moment written in two zones is the same.
func digest(op Op) [16]byte {
	w := wbuf{b: make([]byte, 0, 128)}
	appendDigestInput(&w, op)
	sum := sha256.Sum256(w.b)
	var d [16]byte
	copy(d[:], sum[:])
	return d
}

// appendDigestInput writes what digest hashes.
func appendDigestInput(w *wbuf, op Op) { appendDigestHead(w, op, op.head()) }

func appendDigestHead(w *wbuf, op Op, h opHead) {
	w.byte(byte(h.kind))
	w.str(h.tx)
	w.uint(uint64(h.member))
	w.time(h.at)
	op.encode(w)
}

// Bounds on operations: tx IDs and references are keys in the store, and
// times must fit in int64 nanoseconds.
const maxIDLen = 256

var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// validate checks what every operation needs, then the op's own fields.
func validate(op Op, p *Program) error { return validateHead(op, op.head(), p) }

func validateHead(op Op, h opHead, p *Program) error {
	field, msg := "", ""
	switch {
	case h.tx == "":
		field, msg = "tx", "empty transaction ID"
	case len(h.tx) > maxIDLen:
		field, msg = "tx", fmt.Sprintf("longer than %d bytes", maxIDLen)
	case h.at.IsZero():
		field, msg = "at", "missing time"
	case h.at.Before(minTime) || !h.at.Before(maxTime):
		field, msg = "at", "outside 1900..2200"
	default:
		field, msg = op.check(p)
	}
	if msg == "" {
		return nil
	}
	return &OpError{Tx: h.tx, Member: h.member, Op: h.kind, Msg: field + ": " + msg, Err: ErrInvalidOp}
}

func checkID(field, v string) (string, string) {
	switch {
	case v == "":
		return field, "empty"
	case len(v) > maxIDLen:
		return field, fmt.Sprintf("longer than %d bytes", maxIDLen)
	}
	return "", ""
}

func checkLines(ls []Line) (string, string) {
	for i, l := range ls {
		if l.Paid < 0 {
			return fmt.Sprintf("lines[%d].paid", i), "negative"
		}
		if l.Paid > 1e13 {
			return fmt.Sprintf("lines[%d].paid", i), "above 10^13 fen"
		}
	}
	return "", ""
}

func checkAmount(field string, v int64, positive bool) (string, string) {
	switch {
	case v < 0:
		return field, "negative"
	case positive && v == 0:
		return field, "must be positive"
	case v > 1e13:
		return field, "above 10^13"
	}
	return "", ""
}

func firstProblem(checks ...[2]string) (string, string) {
	for _, c := range checks {
		if c[1] != "" {
			return c[0], c[1]
		}
	}
	return "", ""
}

func pair(a, b string) [2]string { return [2]string{a, b} }

func (o Order) check(*Program) (string, string) {
	return firstProblem(pair(checkID("order", o.OrderID)), pair(checkLines(o.Lines)),
		pair(checkAmount("savings", o.Savings, false)), pair(checkAmount("points_used", o.PointsUsed, false)))
}
func (o Redeem) check(*Program) (string, string) { return checkAmount("points", o.Points, true) }
func (o Reverse) check(*Program) (string, string) {
	return checkID("of", o.Of)
}
func (o Adjust) check(*Program) (string, string) {
	if o.Points == 0 {
		return "points", "must not be zero"
	}
	if o.Points > 1e13 || o.Points < -1e13 {
		return "points", "beyond ±10^13"
	}
	return "", ""
}
func (o Settle) check(*Program) (string, string)   { return "", "" }
func (o Evaluate) check(*Program) (string, string) { return "", "" }
func (o BuyCard) check(p *Program) (string, string) {
	if _, ok := p.cards[o.Product]; !ok {
		return "product", fmt.Sprintf("no card product %q", o.Product)
	}
	return "", ""
}
func (o RenewCard) check(p *Program) (string, string) {
	if _, ok := p.cards[o.Product]; o.Product != "" && !ok {
		return "product", fmt.Sprintf("no card product %q", o.Product)
	}
	return "", ""
}
func (o CancelCard) check(*Program) (string, string) { return "", "" }
func (o TopUp) check(*Program) (string, string)      { return checkAmount("amount", o.Amount, true) }
func (o Spend) check(*Program) (string, string)      { return checkAmount("amount", o.Amount, true) }
func (o RefundSpend) check(*Program) (string, string) {
	return firstProblem(pair(checkID("spend", o.Spend)), pair(checkAmount("amount", o.Amount, true)))
}
func (o Withdraw) check(*Program) (string, string) { return checkAmount("amount", o.Amount, true) }

// UnmarshalOp decodes one operation from JSON: an object whose "op" field
// names the kind ("order", "refund", "redeem", …, as OpKind.String) and
// whose other fields are those of the Op type's JSON tags. Unknown fields
// are errors.
func UnmarshalOp(data []byte) (Op, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, errors.New("want a JSON object")
	}
	rawKind, ok := fields["op"]
	if !ok {
		return nil, errors.New(`missing "op"`)
	}
	var name string
	if err := json.Unmarshal(rawKind, &name); err != nil {
		return nil, fmt.Errorf(`"op": %w`, err)
	}
	delete(fields, "op")
	rest, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	i := slices.Index(opNames[:], name)
	if i <= 0 {
		return nil, fmt.Errorf("unknown op %q (want one of %s)", name, strings.Join(opNames[1:], ", "))
	}
	kind := OpKind(i)
	switch kind {
	case OpOrder:
		return decodeStrict[Order](rest)
	case OpRefund:
		return decodeStrict[Refund](rest)
	case OpRedeem:
		return decodeStrict[Redeem](rest)
	case OpReverse:
		return decodeStrict[Reverse](rest)
	case OpAdjust:
		return decodeStrict[Adjust](rest)
	case OpSettle:
		return decodeStrict[Settle](rest)
	case OpEvaluate:
		return decodeStrict[Evaluate](rest)
	case OpBuyCard:
		return decodeStrict[BuyCard](rest)
	case OpRenewCard:
		return decodeStrict[RenewCard](rest)
	case OpCancelCard:
		return decodeStrict[CancelCard](rest)
	case OpTopUp:
		return decodeStrict[TopUp](rest)
	case OpSpend:
		return decodeStrict[Spend](rest)
	case OpRefundSpend:
		return decodeStrict[RefundSpend](rest)
	case OpMerge:
		return decodeStrict[Merge](rest)
	default:
		return decodeStrict[Withdraw](rest)
	}
}

func decodeStrict[T Op](data []byte) (Op, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %w", v.Kind(), err)
	}
	return v, nil
}

// MarshalOp encodes an operation as UnmarshalOp reads it.
func MarshalOp(op Op) ([]byte, error) {
	b, err := json.Marshal(op)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf(`{"op":%q`, op.Kind().String())
	if len(b) > 2 {
		head += ","
	}
	return append([]byte(head), b[1:]...), nil
}
