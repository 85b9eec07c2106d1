package loyalty

import (
	"errors"
	"fmt"
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
)

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
