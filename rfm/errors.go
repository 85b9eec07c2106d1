package rfm

import (
	"errors"
	"fmt"
)

// Errors about one transaction. They are wrapped in a *TxError that names
// the member and, in a batch, the row.
var (
	// ErrUnknownMember is returned for a member ID at or above the number of
	// members the Summaries were made for.
	ErrUnknownMember = errors.New("unknown member")
	// ErrUnlinkedRefund is returned for a negative amount that does not name
	// the order it refunds (Tx.RefundOf is zero).
	ErrUnlinkedRefund = errors.New("refund without a linked order")
	// ErrBadChannel is returned for a channel at or above Config.Channels.
	ErrBadChannel = errors.New("channel out of range")
	// ErrBadLine is returned for a line item with a negative days-supply.
	ErrBadLine = errors.New("bad line item")
	// ErrOutOfRange is returned by a Writer for a member outside its range.
	ErrOutOfRange = errors.New("member outside the writer's range")
)

// Errors about configuration and models.
var (
	// ErrConfig is returned for an invalid configuration: bins out of range,
	// thresholds not ascending, a rule set that leaves cells unassigned.
	ErrConfig = errors.New("invalid configuration")
	// ErrNoData is returned when a model is fitted on no usable customers.
	ErrNoData = errors.New("no data to fit")
	// ErrNotConverged is returned when the optimiser stops without meeting
	// its convergence criterion; the parameters returned with it are the
	// best found.
	ErrNotConverged = errors.New("fit did not converge")
)

// A TxError reports one transaction that was rejected.
type TxError struct {
	Row    int    // index in the batch, or -1 for a single Add
	Member uint32 // the transaction's member ID
	Err    error  // one of the sentinel errors above, possibly wrapped
}

// Error says which row and member, and why.
func (e *TxError) Error() string {
	if e.Row < 0 {
		return fmt.Sprintf("member %d: %v", e.Member, e.Err)
	}
	return fmt.Sprintf("row %d: member %d: %v", e.Row, e.Member, e.Err)
}

// Unwrap returns the sentinel error, for errors.Is.
func (e *TxError) Unwrap() error { return e.Err }

// maxKeptErrors bounds the rows a BatchError keeps: a file of bad rows
// should not turn into a second copy of itself in memory.
const maxKeptErrors = 100

// A BatchError reports the rows of a batch that were rejected; the other
// rows were added.
type BatchError struct {
	Rows  []*TxError // the first rejected rows, in row order, at most 100
	Count int        // how many rows were rejected in all
}

// Error gives the count and the first rejected row.
func (e *BatchError) Error() string {
	if len(e.Rows) == 0 {
		return fmt.Sprintf("%d rows rejected", e.Count)
	}
	return fmt.Sprintf("%d rows rejected; first: %v", e.Count, e.Rows[0])
}

// Unwrap returns the kept row errors, so errors.Is finds a sentinel that
// any of them carries.
func (e *BatchError) Unwrap() []error {
	errs := make([]error, len(e.Rows))
	for i, r := range e.Rows {
		errs[i] = r
	}
	return errs
}
