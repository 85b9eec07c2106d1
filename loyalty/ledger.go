package loyalty

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"
)

// Options configure a Ledger; nil means defaults.
type Options struct {
	// Notifier receives the events of each operation once it is durable.
	Notifier Notifier
	// NoCompaction keeps every lot and growth day in the accounts instead
	// of dropping those no accepted operation can reach any more (see
	// HistoryRules). Results are the same either way; only the size of
	// each account, and so the cost of each operation, differs. It is
	// for tests and for audits that compare the two.
	NoCompaction bool
}

// lockStripes is the number of member locks. Members share a lock only
// when their IDs are equal modulo this, which at a few thousand
// concurrent callers rarely happens and costs only a wait, never a
// deadlock (an operation takes one lock; a Merge takes two, always the
// lower-numbered first).
const lockStripes = 4096

// Ledger applies operations of a Program to accounts kept in a Store.
//
// A Ledger is safe for concurrent use. Operations on one member are
// serialised (each takes the member's lock from reading the account to
// the durable commit; a Merge takes both members'), operations on
// different members run in parallel, and a durable store batches their
// commits. Reads (Balance, Entries, Receipt) see the last committed state
// and never wait for a commit to reach the disk (on a MemStore, whose
// commits are in memory, they take the member's lock stripe for a
// moment). Only one Ledger may write to a Store at a time.
//
// On a MemStore, the Ledger keeps accounts decoded in the store and
// changes them in place under the store's lock stripe of the member
// (members m with equal m % 256 share one), copying an account first only
// for an operation that may fail after it began to change it.
type Ledger struct {
	p     *Program
	store Store
	mem   *MemStore // store, when it is one: the fast path
	opts  Options
	locks [lockStripes]sync.Mutex
}

// NewLedger returns a ledger applying p to the accounts in s.
func NewLedger(p *Program, s Store, o *Options) *Ledger {
	l := &Ledger{p: p, store: s}
	l.mem, _ = s.(*MemStore)
	if o != nil {
		l.opts = *o
	}
	return l
}

// Program returns the ledger's programme.
func (l *Ledger) Program() *Program { return l.p }

// Apply performs op and returns its receipt once it is durable.
//
// If op's transaction ID was applied before with the same content, Apply
// returns the original receipt (Replayed set) and changes nothing; with
// different content it fails with a *ConflictError. A failed operation
// records nothing. Errors wrap the sentinels of this package (see
// errors.go) inside an *OpError naming the transaction; an operation on
// an account closed by a Merge fails with a *MergedError naming the
// survivor, one outside the programme's history window with a
// *WindowError.
func (l *Ledger) Apply(ctx context.Context, op Op) (*Receipt, error) {
	h := op.head()
	if err := validateHead(op, h, l.p); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		r   *Receipt
		err error
	)
	sc := scratchPool.Get().(*scratch)
	switch mg, isMerge := op.(Merge); {
	case l.mem != nil && isMerge:
		r, err = l.applyMergeMem(ctx, mg, sc, true)
	case l.mem != nil:
		r, err = l.applyMem(ctx, op, h, sc, true)
	case isMerge:
		r, err = l.applyMerge(ctx, mg)
	default:
		mu := &l.locks[h.member%lockStripes]
		mu.Lock()
		r, err = l.applyLocked(ctx, op, h, sc)
		mu.Unlock()
	}
	scratchPool.Put(sc)
	if err == nil && !r.Replayed && l.opts.Notifier != nil {
		for _, e := range r.Events {
			l.opts.Notifier.Notify(e)
		}
	}
	return r, err
}

// admit checks that op may apply to a at all: the account is open and op
// is not dated too far back.
func (l *Ledger) admit(op Op, a *account, at time.Time) error {
	if a.Closed {
		return opErr(op, "member", &MergedError{Member: a.Member, Into: a.MergedInto})
	}
	return checkLateAt(l.p, a, op, at)
}

// receiptOf allocates the receipt of s's operation with a copy of its
// entries, in one allocation when they are few (s builds its entries in a
// buffer that is reused).
func receiptOf(s *state) *Receipt {
	var r *Receipt
	var es []Entry
	switch n := len(s.entries); {
	case n == 0:
		r = new(Receipt)
	case n <= 2:
		b := new(struct {
			r  Receipt
			es [2]Entry
		})
		r, es = &b.r, b.es[:n]
	case n <= 4:
		b := new(struct {
			r  Receipt
			es [4]Entry
		})
		r, es = &b.r, b.es[:n]
	default:
		r, es = new(Receipt), make([]Entry, n)
	}
	copy(es, s.entries)
	r.Entries = es
	return r
}

// finish completes an operation that op.apply performed on s: it makes
// the receipt (if want) and, if the operation changed anything, moves the
// account's clock, compacts it, counts its version and returns the
// transaction's record.
func (l *Ledger) finish(s *state, kind OpKind, firstSeq uint64, dg [16]byte, want bool) (r *Receipt, rec txRecord, changed bool) {
	a, at := s.a, s.at
	after := totals(l.p, a, at)
	if want {
		r = receiptOf(s)
		r.Tx, r.Member, r.Op, r.At, r.Events, r.After = s.tx, a.Member, kind, at, s.events, after
	}
	if !s.changed() {
		return r, txRecord{}, false
	}
	if at.After(a.Clock) {
		a.Clock = at
	}
	if !l.opts.NoCompaction {
		s.compact()
	}
	a.Version++
	if r != nil {
		r.Version = a.Version
	}
	return r, txRecord{Digest: dg, Member: a.Member, Op: kind, At: at, Version: a.Version, FirstSeq: firstSeq,
		Count: uint64(len(s.entries)), Events: s.events, After: after}, true
}

// applyLocked applies op, whose head is h, holding its member's lock.
//
// It does not look op's transaction up first: almost every transaction
// is new, and the store's commit refuses a recorded one anyway
// (ErrTxExists). The lookup is made only when op was not committed — it
// failed, changed nothing or was refused — so a replay still returns the
// original receipt (or a conflict) whatever op would do now, and a new
// transaction is spared a read of the transaction index, a random page
// of the store's largest index.
func (l *Ledger) applyLocked(ctx context.Context, op Op, h opHead, sc *scratch) (*Receipt, error) {
	dg := sc.digest(op, h)
	r, final, err := l.applyNew(ctx, op, h, dg, sc)
	if final {
		return r, err
	}
	raw, terr := l.store.Tx(ctx, h.tx)
	switch {
	case terr == nil && raw != nil:
		return l.replay(ctx, h.tx, raw, dg)
	case terr != nil && err == nil:
		return nil, fmt.Errorf("load tx %q: %w", h.tx, terr)
	}
	return r, err
}

// applyNew applies op as a transaction not yet recorded. final is false
// when op was not committed (it failed, changed nothing, or the store
// refused it as already recorded): the outcome holds only if the
// transaction is indeed not recorded.
func (l *Ledger) applyNew(ctx context.Context, op Op, h opHead, dg [16]byte, sc *scratch) (r *Receipt, final bool, err error) {
	tx, m, docKey := h.tx, h.member, op.docKey()
	ld, err := l.store.Load(ctx, m, "", docKey)
	if err != nil {
		return nil, true, fmt.Errorf("load member %d: %w", m, err)
	}
	a := &account{Member: m, GrowthFloor: noFloor}
	if ld.Account != nil {
		if a, err = decodeAccount(ld.Account); err != nil {
			return nil, false, fmt.Errorf("member %d: %w", m, err)
		}
	}
	if err := l.admit(op, a, h.at); err != nil {
		return nil, false, err
	}
	s := &sc.s
	*s = state{p: l.p, a: a, tx: tx, at: h.at, docKey: docKey, orderBuf: &sc.order, entries: sc.entries[:0]}
	defer func() { sc.entries = s.entries[:0] }()
	switch {
	case ld.Doc != nil:
		if s.doc, err = decodeDoc(s.docKey, ld.Doc); err != nil {
			return nil, false, fmt.Errorf("member %d document %q: %w", m, s.docKey, err)
		}
	case s.docKey != "" && len(a.Absorbed) > 0:
		if s.doc, s.docFrom, err = l.movedDoc(ctx, a, s.docKey); err != nil {
			return nil, false, err
		}
		s.docMoved = s.doc != nil
	}
	firstSeq := a.Seq
	if err := op.apply(s); err != nil {
		return nil, false, err
	}
	r, rec, changed := l.finish(s, h.kind, firstSeq, dg, true)
	if !changed {
		l.localize(r)
		return r, false, nil
	}
	c := &Commit{Member: m, Tx: tx, TxRecord: rec.encode(), Account: a.encode(), FirstSeq: firstSeq}
	if s.docOut != nil {
		c.DocKey, c.Doc = s.docKey, encodeDoc(s.docOut)
	}
	c.Entries = encodeEntries(s.entries)
	if err := l.store.Commit(ctx, c); err != nil {
		return nil, !errors.Is(err, ErrTxExists), fmt.Errorf("commit tx %q member %d: %w", tx, m, err)
	}
	r.Recorded = true
	l.localize(r)
	return r, true, nil
}

// encodeEntries encodes es, all in one allocation.
func encodeEntries(es []Entry) [][]byte {
	out := make([][]byte, len(es))
	w := wbuf{b: make([]byte, 0, 64*len(es))}
	for i := range es {
		start := len(w.b)
		es[i].encode(&w)
		out[i] = w.b[start:len(w.b):len(w.b)]
	}
	return out
}

func decodeDoc[K docKey](key K, b []byte) (any, error) {
	switch string(key[:min(len(key), 2)]) {
	case "o:":
		return decodeOrderDoc(b)
	case "r:":
		return decodeRedeemDoc(b)
	case "s:":
		return decodeSpendDoc(b)
	}
	return nil, fmt.Errorf("unknown document key %q: %w", key, errCorrupt)
}

func (l *Ledger) replay(ctx context.Context, tx string, raw []byte, dg [16]byte) (*Receipt, error) {
	rec, err := decodeTxRecord(raw)
	if err != nil {
		return nil, fmt.Errorf("tx %q: %w", tx, err)
	}
	if rec.Digest != dg {
		return nil, &ConflictError{Tx: tx, Member: rec.Member, Op: rec.Op}
	}
	return l.receiptOf(ctx, tx, rec)
}

func (l *Ledger) receiptOf(ctx context.Context, tx string, rec txRecord) (*Receipt, error) {
	r := &Receipt{Tx: tx, Member: rec.Member, Op: rec.Op, At: rec.At, Version: rec.Version, Events: rec.Events, After: rec.After,
		Replayed: true, Recorded: true}
	var err error
	if r.Entries, err = l.entriesOf(ctx, tx, rec.Member, rec.FirstSeq, rec.Count); err != nil {
		return nil, err
	}
	if rec.HasPeer {
		if r.FromEntries, err = l.entriesOf(ctx, tx, rec.Peer, rec.PeerFirstSeq, rec.PeerCount); err != nil {
			return nil, err
		}
	}
	l.localize(r)
	return r, nil
}

// entriesOf reads the count entries of transaction tx from member's
// ledger, starting at first.
func (l *Ledger) entriesOf(ctx context.Context, tx string, member uint32, first, count uint64) ([]Entry, error) {
	if count == 0 {
		return nil, nil
	}
	var es []Entry
	for b, err := range l.store.Entries(ctx, member, first) {
		if err != nil {
			return nil, fmt.Errorf("tx %q entries: %w", tx, err)
		}
		e, err := decodeEntry(b)
		if err != nil {
			return nil, fmt.Errorf("tx %q member %d: %w", tx, member, err)
		}
		es = append(es, e)
		if uint64(len(es)) == count {
			break
		}
	}
	if uint64(len(es)) != count {
		return nil, fmt.Errorf("tx %q member %d: %d of %d entries found: %w", tx, member, len(es), count, errCorrupt)
	}
	return es, nil
}

// localize shows a receipt's times in the programme's zone, so a fresh
// receipt and its replay compare equal.
func (l *Ledger) localize(r *Receipt) {
	in := func(t *time.Time) {
		if !t.IsZero() {
			*t = t.In(l.p.loc)
		}
	}
	in(&r.At)
	for _, es := range [][]Entry{r.Entries, r.FromEntries} {
		for i := range es {
			in(&es[i].At)
			in(&es[i].Expires)
			in(&es[i].Matures)
		}
	}
	for i := range r.Events {
		localizeEvent(&r.Events[i], l.p.loc)
	}
}

func localizeEvent(e *Event, loc *time.Location) {
	for _, t := range [...]*time.Time{&e.At, &e.ExpiresAt, &e.PeriodEnd} {
		if !t.IsZero() {
			*t = t.In(loc)
		}
	}
}

// Receipt returns the receipt of a recorded transaction, or ok false.
func (l *Ledger) Receipt(ctx context.Context, tx string) (r *Receipt, ok bool, err error) {
	raw, err := l.store.Tx(ctx, tx)
	if err != nil || raw == nil {
		return nil, false, err
	}
	rec, err := decodeTxRecord(raw)
	if err != nil {
		return nil, false, fmt.Errorf("tx %q: %w", tx, err)
	}
	r, err = l.receiptOf(ctx, tx, rec)
	return r, err == nil, err
}

// Balance is a member's position at an as-of time: balances as they stand
// once everything due by then (maturity, expiry) has happened, whether or
// not a Settle has recorded it yet.
type Balance struct {
	Member uint32    `json:"member"`
	AsOf   time.Time `json:"as_of"`
	Totals
	// Expiring lists the available points by expiry instant, soonest
	// first; never-expiring points are not listed.
	Expiring  []Expiring `json:"expiring,omitempty"`
	TierSince time.Time  `json:"tier_since,omitzero"`
	// Cards are the member's paid card periods, oldest first.
	Cards []Card `json:"cards,omitempty"`
	// Entries is the number of ledger entries so far.
	Entries uint64 `json:"entries"`
	// Merged is set when a Merge closed the account; its balances are
	// then zero and MergedInto is the survivor.
	Merged     bool   `json:"merged,omitempty"`
	MergedInto uint32 `json:"merged_into,omitempty"`
	// MergedFrom lists the members merged into this account, directly or
	// through members merged in later, in merge order.
	MergedFrom []uint32 `json:"merged_from,omitempty"`
}

// Expiring is an amount of points that expires at one instant.
type Expiring struct {
	At     time.Time `json:"at"`
	Points int64     `json:"points"`
}

// Card is one paid card period.
type Card struct {
	Product   string    `json:"product"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Fee       int64     `json:"fee"`
	Savings   int64     `json:"savings"`
	Guarantee int64     `json:"guarantee,omitempty"`
	Refunded  int64     `json:"refunded,omitempty"`
	Status    string    `json:"status"` // active, settled, cancelled
}

// Balance returns member's balances as of asOf. A member with no account
// has zero balances in the base tier.
func (l *Ledger) Balance(ctx context.Context, member uint32, asOf time.Time) (Balance, error) {
	if l.mem != nil {
		if l.mem.closed.Load() {
			return Balance{}, ErrClosed
		}
		a, err := l.mem.accountCopy(member)
		if err != nil {
			return Balance{}, err
		}
		return l.balanceOf(a, asOf), nil
	}
	ld, err := l.store.Load(ctx, member, "", "")
	if err != nil {
		return Balance{}, err
	}
	a := &account{Member: member, GrowthFloor: noFloor}
	if ld.Account != nil {
		if a, err = decodeAccount(ld.Account); err != nil {
			return Balance{}, fmt.Errorf("member %d: %w", member, err)
		}
	}
	return l.balanceOf(a, asOf), nil
}

// balanceOf settles a (a private copy: nothing is written) to asOf.
func (l *Ledger) balanceOf(a *account, asOf time.Time) Balance {
	seq := a.Seq
	s := &state{p: l.p, a: a, at: asOf}
	s.settle()
	b := Balance{Member: a.Member, AsOf: asOf.In(l.p.loc), Totals: totals(l.p, s.a, asOf), Entries: seq}
	if !s.a.TierSince.IsZero() {
		b.TierSince = s.a.TierSince.In(l.p.loc)
	}
	for _, i := range s.spendable() {
		lt := &s.a.Lots[i]
		if lt.ExpiresAt.IsZero() {
			continue
		}
		if n := len(b.Expiring); n > 0 && b.Expiring[n-1].At.Equal(lt.ExpiresAt.Time()) {
			b.Expiring[n-1].Points += lt.Available
		} else {
			b.Expiring = append(b.Expiring, Expiring{At: lt.ExpiresAt.Time().In(l.p.loc), Points: lt.Available})
		}
	}
	for _, c := range s.a.Cards {
		b.Cards = append(b.Cards, Card{Product: c.Product, Start: c.Start.In(l.p.loc), End: c.End.In(l.p.loc),
			Fee: c.Fee, Savings: c.Savings, Guarantee: c.Guarantee, Refunded: c.Refunded, Status: cardStatusNames[c.Status]})
	}
	b.Merged, b.MergedInto = a.Closed, a.MergedInto
	for _, x := range a.Absorbed {
		b.MergedFrom = append(b.MergedFrom, x.Member)
	}
	return b
}

// Entries yields member's ledger entries in order. The walk reads
// committed entries; entries committed while it runs may be included.
func (l *Ledger) Entries(ctx context.Context, member uint32) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		for b, err := range l.store.Entries(ctx, member, 0) {
			if err != nil {
				yield(Entry{}, err)
				return
			}
			e, err := decodeEntry(b)
			if err != nil {
				yield(Entry{}, fmt.Errorf("member %d: %w", member, err))
				return
			}
			e.At = e.At.In(l.p.loc)
			if !e.Expires.IsZero() {
				e.Expires = e.Expires.In(l.p.loc)
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// Members yields the IDs of members with an account, in increasing order,
// including accounts a Merge closed.
func (l *Ledger) Members(ctx context.Context) iter.Seq2[uint32, error] {
	return func(yield func(uint32, error) bool) {
		for r, err := range l.store.Accounts(ctx) {
			if !yield(r.Member, err) || err != nil {
				return
			}
		}
	}
}

// RunSummary reports a run over all members.
type RunSummary struct {
	Members int // accounts visited
	Changed int // operations recorded
	Events  int
	// Failed holds one error per member that could not be processed; the
	// run carries on with the others.
	Failed []error
}

// SettleAll applies Settle at asOf to every member (expiry, maturity,
// notices, card guarantees), skipping accounts a Merge closed. Each
// member's settlement is its own transaction "settle/<member>/<asOf>", so
// running it again for the same asOf, or after a crash part-way, changes
// nothing twice.
func (l *Ledger) SettleAll(ctx context.Context, asOf time.Time) (RunSummary, error) {
	return l.runAll(ctx, func(m uint32) Op { return Settle{Member: m, At: asOf} })
}

// EvaluateAll applies Evaluate at asOf to every member (tier review),
// skipping accounts a Merge closed.
func (l *Ledger) EvaluateAll(ctx context.Context, asOf time.Time) (RunSummary, error) {
	return l.runAll(ctx, func(m uint32) Op { return Evaluate{Member: m, At: asOf} })
}

// runAll applies op to every member with an account, members in
// parallel (ApplyBatch): each member's operation is its own transaction,
// so the order between members changes nothing but the order the
// Notifier hears them in.
func (l *Ledger) runAll(ctx context.Context, op func(uint32) Op) (RunSummary, error) {
	var ops []Op
	if l.mem != nil {
		// Straight from the directory: Members would encode every
		// account's state only to give its ID.
		for _, m := range l.mem.memberIDs() {
			ops = append(ops, op(m))
		}
	} else {
		for m, err := range l.Members(ctx) {
			if err != nil {
				return RunSummary{}, err
			}
			ops = append(ops, op(m))
		}
	}
	res, err := l.ApplyBatch(ctx, ops, nil)
	sum := RunSummary{Members: len(ops), Changed: res.Recorded, Events: res.Events}
	for _, f := range res.Failed {
		if !errors.Is(f.Err, ErrMerged) {
			sum.Failed = append(sum.Failed, f.Err)
		}
	}
	return sum, err
}
