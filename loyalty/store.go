package loyalty

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sync"
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
	// is already recorded it applies nothing and returns ErrTxExists. An
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

// MemStore is an in-memory Store for tests and for replays that need no
// durability. It is safe for concurrent use.
type MemStore struct {
	mu       sync.RWMutex
	txs      map[string][]byte
	accounts map[uint32]*memAccount
}

type memAccount struct {
	state   []byte
	entries [][]byte
	docs    map[string][]byte
}

var _ MultiStore = (*MemStore)(nil)

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{txs: map[string][]byte{}, accounts: map[uint32]*memAccount{}}
}

// Load implements Store.
func (s *MemStore) Load(ctx context.Context, member uint32, tx, doc string) (Loaded, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.txs == nil {
		return Loaded{}, ErrClosed
	}
	var l Loaded
	if tx != "" {
		l.Tx = s.txs[tx]
	}
	if a := s.accounts[member]; a != nil {
		l.Account = a.state
		if doc != "" {
			l.Doc = a.docs[doc]
		}
	}
	return l, nil
}

// Commit implements Store.
func (s *MemStore) Commit(ctx context.Context, c *Commit) error {
	return s.CommitMulti(ctx, []*Commit{c})
}

// CommitMulti implements MultiStore.
func (s *MemStore) CommitMulti(ctx context.Context, cs []*Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(cs) == 0 {
		return errors.New("commit of nothing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.txs == nil {
		return ErrClosed
	}
	if _, ok := s.txs[cs[0].Tx]; ok {
		return ErrTxExists
	}
	for i, c := range cs {
		var have uint64
		if a := s.accounts[c.Member]; a != nil {
			have = uint64(len(a.entries))
		}
		if have != c.FirstSeq {
			return fmt.Errorf("member %d: commit starts at entry %d but the ledger has %d", c.Member, c.FirstSeq, have)
		}
		for _, d := range cs[:i] {
			if d.Member == c.Member {
				return fmt.Errorf("member %d named twice in one commit", c.Member)
			}
		}
	}
	s.txs[cs[0].Tx] = cs[0].TxRecord
	for _, c := range cs {
		a := s.accounts[c.Member]
		if a == nil {
			a = &memAccount{docs: map[string][]byte{}}
			s.accounts[c.Member] = a
		}
		a.state = c.Account
		a.entries = append(a.entries, c.Entries...)
		if c.DocKey != "" {
			a.docs[c.DocKey] = c.Doc
		}
	}
	return nil
}

// Tx implements Store.
func (s *MemStore) Tx(ctx context.Context, tx string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.txs[tx], nil
}

// Entries implements Store.
func (s *MemStore) Entries(ctx context.Context, member uint32, from uint64) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		for i := from; ; i++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			s.mu.RLock()
			var e []byte
			if a := s.accounts[member]; a != nil && i < uint64(len(a.entries)) {
				e = a.entries[i]
			}
			s.mu.RUnlock()
			if e == nil || !yield(e, nil) {
				return
			}
		}
	}
}

// Accounts implements Store.
func (s *MemStore) Accounts(ctx context.Context) iter.Seq2[MemberRecord, error] {
	return func(yield func(MemberRecord, error) bool) {
		s.mu.RLock()
		ms := slices.Sorted(maps.Keys(s.accounts))
		s.mu.RUnlock()
		for _, m := range ms {
			if err := ctx.Err(); err != nil {
				yield(MemberRecord{}, err)
				return
			}
			s.mu.RLock()
			st := s.accounts[m].state
			s.mu.RUnlock()
			if !yield(MemberRecord{Member: m, Account: st}, nil) {
				return
			}
		}
	}
}

// Close implements Store; later calls fail with ErrClosed.
func (s *MemStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txs = nil
	return nil
}
