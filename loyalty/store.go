package loyalty

import (
	"context"
	"iter"
)

// Store keeps a ledger's records as opaque bytes: one account state per
// member, the member's entries by sequence number, documents (orders,
// redemptions, spends) by key, and one record per transaction ID. The
// Ledger owns the encoding and the rules; a Store owns atomicity and
// durability. NewMemStore is the in-memory implementation; the durable
// default lives in package loyalty/boltstore.
//
// A Store is used by one Ledger at a time, which serialises operations on
// each member; implementations must be safe for concurrent use by
// operations on different members.
type Store interface {
	// Load reads, in one consistent view, the record of transaction tx,
	// the member's account and the member's document doc (tx or doc may
	// be empty). Missing records are nil.
	Load(ctx context.Context, member uint32, tx, doc string) (Loaded, error)
	// Commit applies c atomically and returns once it is durable. If c.Tx
	// is already recorded it applies nothing and returns ErrTxExists:
	// the Ledger relies on this, and reads a transaction's record only
	// for an operation it does not commit or that Commit refused. An
	// error other than ErrTxExists leaves the store as if Commit had not
	// been called, except that a cancelled context may be reported for a
	// commit that was already applied; callers learn the truth by loading
	// the transaction.
	Commit(ctx context.Context, c *Commit) error
	// Tx returns the record of transaction tx, or nil.
	Tx(ctx context.Context, tx string) ([]byte, error)
	// Entries yields the member's entries from sequence number from on,
	// in increasing order, stopping at the first error.
	Entries(ctx context.Context, member uint32, from uint64) iter.Seq2[[]byte, error]
	// Accounts yields every member's account in increasing member order.
	// Accounts committed during the walk may or may not be seen.
	Accounts(ctx context.Context) iter.Seq2[MemberRecord, error]
	// Close releases the store; a durable store flushes nothing, since
	// every Commit already was.
	Close() error
}

// MultiStore is a Store that can also commit writes to several members as
// one atomic, durable step, which Merge needs (both accounts change or
// neither does). Both stores of this module implement it; a Ledger on a
// Store without it refuses Merge with errors.ErrUnsupported.
type MultiStore interface {
	Store
	// CommitMulti applies cs atomically and returns once they are
	// durable. They are one transaction, cs[0].Tx, recorded as
	// cs[0].TxRecord; the other commits' Tx and TxRecord are ignored, and
	// every commit names a different member. If the transaction is
	// already recorded, or any commit's entry sequence numbers are taken,
	// nothing is applied (ErrTxExists in the first case). Errors are as
	// for Store.Commit.
	CommitMulti(ctx context.Context, cs []*Commit) error
}

// Loaded is what Store.Load found.
type Loaded struct {
	Tx, Account, Doc []byte
}

// MemberRecord is one member's account bytes.
type MemberRecord struct {
	Member  uint32
	Account []byte
}

// Commit is one operation's writes. The store may keep the slices.
type Commit struct {
	Member   uint32
	Tx       string
	TxRecord []byte
	Account  []byte
	DocKey   string // empty: no document
	Doc      []byte
	// Entries are the member's entries FirstSeq, FirstSeq+1, …; entries
	// are never overwritten, and a store refuses a commit whose sequence
	// numbers are taken.
	FirstSeq uint64
	Entries  [][]byte
}
