package loyalty

import (
	"errors"
	"fmt"
	"time"
)

// Errors an operation can fail with. Nothing is recorded when an operation
// fails, so the same transaction ID can be retried once the cause is gone.
var (
	// ErrInvalidOp: the operation itself is malformed (empty transaction
	// ID, zero time, negative amount, unknown card product…). Wrapped by
	// an *OpError that says which field.
	ErrInvalidOp = errors.New("invalid operation")
	// ErrConflict: the transaction ID was already used for a different
	// operation. Wrapped by a *ConflictError.
	ErrConflict = errors.New("transaction ID reused with different content")
	// ErrInsufficientPoints: a redemption or negative adjustment asks for
	// more points than are available. Wrapped by *InsufficientError.
	ErrInsufficientPoints = errors.New("insufficient points")
	// ErrInsufficientFunds: a stored-value spend or withdrawal asks for
	// more than the balance. Wrapped by *InsufficientError.
	ErrInsufficientFunds = errors.New("insufficient stored value")
	// ErrUnknownOrder: a refund names an order the member never placed.
	ErrUnknownOrder = errors.New("unknown order")
	// ErrDuplicateOrder: an order ID was already recorded for the member
	// under another transaction ID.
	ErrDuplicateOrder = errors.New("order already recorded")
	// ErrRefundTooLarge: a refund returns more money, points or savings
	// than the order (or stored-value spend) has left to refund.
	ErrRefundTooLarge = errors.New("refund exceeds what is left to refund")
	// ErrUnknownTx: a reversal or stored-value refund names a transaction
	// that is not a redemption (or spend) of the member.
	ErrUnknownTx = errors.New("unknown transaction")
	// ErrAlreadyReversed: a redemption was already reversed.
	ErrAlreadyReversed = errors.New("already reversed")
	// ErrCardActive: buying a card while one is active, or renewing one
	// that was already renewed.
	ErrCardActive = errors.New("paid card already active")
	// ErrNoCard: renewing or cancelling without a card.
	ErrNoCard = errors.New("no paid card")
	// ErrTxExists is returned by Store.Commit when the transaction ID is
	// already recorded; the Ledger turns it into a replay or a conflict.
	ErrTxExists = errors.New("transaction already recorded")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrMerged: the operation names a member whose account was merged
	// into another by a Merge; nothing can be applied to it any more.
	// Wrapped by a *MergedError that names the survivor.
	ErrMerged = errors.New("account merged into another")
	// ErrRefundWindowClosed: a refund or reversal comes
	// HistoryRules.RefundDays or more after its order or redemption.
	// Wrapped by a *WindowError.
	ErrRefundWindowClosed = errors.New("refund window closed")
	// ErrTooLate: the operation's time lies more than
	// HistoryRules.LateDays before the latest operation already recorded
	// on the account. Wrapped by a *WindowError.
	ErrTooLate = errors.New("operation dated too far back")
)

// MergedError reports an operation on an account that a Merge closed.
// Into is the member it was merged into; if that one was merged in turn,
// applying the operation there fails with another MergedError, so a
// caller can follow the chain (identity's canonical person is its end).
type MergedError struct {
	Member uint32
	Into   uint32
}

// Error names the closed account and its survivor.
func (e *MergedError) Error() string {
	return fmt.Sprintf("member %d was merged into member %d: %v", e.Member, e.Into, ErrMerged)
}

// Unwrap returns ErrMerged.
func (e *MergedError) Unwrap() error { return ErrMerged }

// WindowError reports an operation outside the programme's history
// window. Err is ErrRefundWindowClosed (At is when the order or
// redemption was placed, Limit when its refund window closed) or
// ErrTooLate (At is the operation's time, Limit the earliest time the
// account still accepts).
type WindowError struct {
	Member uint32
	What   string // what was refused: order "SO-1", redemption "r-7", the operation
	At     time.Time
	Limit  time.Time
	Err    error
}

// Error gives both instants.
func (e *WindowError) Error() string {
	if errors.Is(e.Err, ErrTooLate) {
		return fmt.Sprintf("member %d: %s dated %s, before %s: %v", e.Member, e.What,
			e.At.Format(time.RFC3339), e.Limit.Format(time.RFC3339), e.Err)
	}
	return fmt.Sprintf("member %d: %s placed %s, refundable until %s: %v", e.Member, e.What,
		e.At.Format(time.RFC3339), e.Limit.Format(time.RFC3339), e.Err)
}

// Unwrap returns ErrRefundWindowClosed or ErrTooLate.
func (e *WindowError) Unwrap() error { return e.Err }

// OpError says which operation and field were wrong.
type OpError struct {
	Tx     string
	Member uint32
	Op     OpKind
	Msg    string
	Err    error
}

// Error describes the operation and what was wrong with it.
func (e *OpError) Error() string {
	return fmt.Sprintf("%s tx %q member %d: %s: %v", e.Op, e.Tx, e.Member, e.Msg, e.Err)
}

// Unwrap returns the sentinel or typed error underneath.
func (e *OpError) Unwrap() error { return e.Err }

// ConflictError reports a transaction ID reused with different content.
type ConflictError struct {
	Tx string
	// Member and Op of the transaction as first recorded.
	Member uint32
	Op     OpKind
}

// Error names the transaction and what it was first recorded as.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("tx %q (recorded as %s for member %d): %v", e.Tx, e.Op, e.Member, ErrConflict)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// InsufficientError reports a spend larger than the balance. Err is
// ErrInsufficientPoints or ErrInsufficientFunds.
type InsufficientError struct {
	Member    uint32
	Requested int64
	Available int64
	Err       error
}

// Error gives the amounts asked for and available.
func (e *InsufficientError) Error() string {
	return fmt.Sprintf("member %d: requested %d, available %d: %v", e.Member, e.Requested, e.Available, e.Err)
}

// Unwrap returns ErrInsufficientPoints or ErrInsufficientFunds.
func (e *InsufficientError) Unwrap() error { return e.Err }
