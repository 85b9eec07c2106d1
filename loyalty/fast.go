package loyalty

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync"
)

// The fast path: a Ledger on a MemStore. The store keeps each account
// decoded between operations, so an operation changes it in place and
// appends its entries, document and transaction record to the store's
// arenas, all under the member's lock stripe in the store. Nothing is
// decoded or re-encoded but the new records.
//
// In place means a failed operation must leave the account as it found
// it. Most operations cannot fail once they have begun to change it (see
// mayFailLate); for the others the account is copied first and copied
// back on failure.

// scratch is what an operation needs besides the account, kept between
// operations so the fast path allocates little.
type scratch struct {
	s, peer          state
	saved, savedPeer account  // the accounts before an operation that may fail late
	w                wbuf     // digest input and the encoded transaction record
	entries          []Entry  // the operation's entries (a receipt gets a copy)
	events           []Event  // the operation's events, when no receipt is wanted
	order            orderDoc // a new order's document
	out              outcome  // what the last operation came to
	key              []byte   // the document key the operation names
}

// outcome is what an operation that did not fail came to.
type outcome uint8

const (
	outRecorded  outcome = iota // applied and recorded
	outUnchanged                // applied, changing nothing, so not recorded
	outReplayed                 // recorded before: nothing applied
)

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// digest is the package's digest of op, whose head is h, computed in the
// scratch buffer.
func (sc *scratch) digest(op Op, h opHead) [16]byte {
	sc.w.b = sc.w.b[:0]
	appendDigestHead(&sc.w, op, h)
	sum := sha256.Sum256(sc.w.b)
	var d [16]byte
	copy(d[:], sum[:])
	return d
}

// txStatus is what reserve found.
type txStatus uint8

const (
	txFree     txStatus = iota // reserved for the caller
	txRecorded                 // already recorded
	txBusy                     // being applied by another caller
	txFull                     // the shard's arena is full
)

// reserve looks tx up and, if it is neither recorded nor being applied,
// marks it as being applied.
func (t *txShard) reserve(h uint64, tx string) ([]byte, txStatus) {
	t.mu.Lock()
	defer t.mu.Unlock()
	off, taken := t.idx[h]
	switch {
	case taken && off == txPending:
		// Being applied (or, as good as never, another ID with its hash
		// is: wait for it all the same).
		return nil, txBusy
	case taken:
		if id, rec := t.log.cs.keyed(off); string(id) == tx {
			return rec, txRecorded
		}
		// Another ID has its hash: this one lives in over.
		if off, ok := t.over[tx]; ok {
			if off == txPending {
				return nil, txBusy
			}
			_, rec := t.log.cs.keyed(off)
			return rec, txRecorded
		}
	}
	if t.log.full() {
		return nil, txFull
	}
	if taken {
		if t.over == nil {
			t.over = map[string]uint32{}
		}
		t.over[tx] = txPending
	} else {
		if t.idx == nil {
			t.idx = map[uint64]uint32{}
		}
		t.idx[h] = txPending
	}
	return nil, txFree
}

// release drops a reservation that was not recorded.
func (t *txShard) release(h uint64, tx string) {
	t.mu.Lock()
	if v, ok := t.over[tx]; ok && v == txPending {
		delete(t.over, tx)
	} else {
		delete(t.idx, h)
	}
	t.mu.Unlock()
}

// settle records a reserved transaction.
func (t *txShard) settle(h uint64, tx string, rec []byte) {
	t.mu.Lock()
	t.add(h, tx, rec)
	t.mu.Unlock()
}

// mayFailLate reports whether op may fail after it began to change the
// account (its apply settles the account, then checks something that
// depends on the settled state). Operations for which it is false check
// everything that can fail before their first change.
func mayFailLate(p *Program, op Op) bool {
	switch o := op.(type) {
	case Order:
		// Paying with points may find too few; an order may earn more
		// than maxPoints only under extreme multipliers.
		return o.PointsUsed > 0 || !p.earnsBelowMax(o.Lines)
	case Adjust:
		return o.Points < 0
	case Settle, Evaluate, TopUp, Spend, RefundSpend, Withdraw:
		return false
	}
	return true
}

// memAccountOf returns member m's account from ms for an operation,
// decoding stored bytes once; fresh reports a member without one, whose
// account is new. The caller holds m's stripe for writing.
func (ms *MemStore) memAccountOf(m uint32) (ma *memAccount, a *account, fresh bool, err error) {
	ma = ms.member(m)
	if ma != nil && ma.acct == nil && ma.state != nil {
		if a, err = decodeAccount(ma.state); err != nil {
			return nil, nil, false, fmt.Errorf("member %d: %w", m, err)
		}
		if a.Closed {
			// A closed account is read by operations on its survivor
			// without its lock: leave its records as they are.
			return ma, a, false, nil
		}
		ma.acct, ma.state = a, nil
	}
	if ms.stripe(m).log.full() {
		return nil, nil, false, fmt.Errorf("member %d: %w", m, errStoreFull)
	}
	if ma != nil && ma.acct != nil {
		return ma, ma.acct, false, nil
	}
	return ma, &account{Member: m, GrowthFloor: noFloor}, true, nil
}

// applyMem is Apply on the ledger's MemStore. With want false it builds
// no Receipt (a replay or an unchanged operation returns nil, nil).
func (l *Ledger) applyMem(ctx context.Context, op Op, h opHead, sc *scratch, want bool) (*Receipt, error) {
	ms := l.mem
	tx, m := h.tx, h.member
	dg := sc.digest(op, h)
	t, hash := ms.txShard(tx)
	mu := &ms.stripe(m).mu
	for {
		if ms.closed.Load() {
			return nil, fmt.Errorf("load member %d: %w", m, ErrClosed)
		}
		mu.Lock()
		rec, st := t.reserve(hash, tx)
		if st == txFree {
			r, err := l.applyMemReserved(ctx, op, h, hash, t, dg, sc, want)
			mu.Unlock()
			return r, err
		}
		mu.Unlock()
		switch st {
		case txRecorded:
			sc.out = outReplayed
			return l.replayMem(ctx, tx, rec, dg, want)
		case txFull:
			return nil, fmt.Errorf("commit tx %q member %d: %w", tx, m, errStoreFull)
		}
		// Another member is applying the same transaction ID: its
		// outcome decides whether this is a replay.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		runtime.Gosched()
	}
}

// replayMem answers an operation whose transaction is recorded.
func (l *Ledger) replayMem(ctx context.Context, tx string, raw []byte, dg [16]byte, want bool) (*Receipt, error) {
	if want {
		return l.replay(ctx, tx, raw, dg)
	}
	rec, err := decodeTxRecord(raw)
	if err != nil {
		return nil, fmt.Errorf("tx %q: %w", tx, err)
	}
	if rec.Digest != dg {
		return nil, &ConflictError{Tx: tx, Member: rec.Member, Op: rec.Op}
	}
	return nil, nil
}

// applyMemReserved applies op, whose transaction the caller reserved,
// holding m's stripe; it records or releases the reservation.
func (l *Ledger) applyMemReserved(ctx context.Context, op Op, oh opHead, h uint64, t *txShard, dg [16]byte,
	sc *scratch, want bool) (*Receipt, error) {
	ms := l.mem
	tx, m := oh.tx, oh.member
	ma, a, fresh, err := ms.memAccountOf(m)
	if err == nil {
		err = l.admit(op, a, oh.at)
	}
	s := &sc.s
	if err == nil {
		// The operation's document key is built in the scratch buffer,
		// not as a string: s.docKey is set only by operations that write
		// a document under another key (redemptions, spends).
		// Accounts kept decoded must hold times as records do: without a
		// monotonic clock reading, which would make comparisons with later
		// operations' times use it.
		*s = state{p: l.p, a: a, tx: tx, at: oh.at.Round(0), orderBuf: &sc.order}
		sc.key = appendDocKey(sc.key[:0], op)
		err = l.loadDocMem(s, ma, a, sc.key)
	}
	if err != nil {
		t.release(h, tx)
		return nil, err
	}
	// Entries go to a buffer kept between operations; the receipt gets a
	// copy. Events stay with the receipt, which keeps them.
	s.entries = sc.entries[:0]
	if !want {
		s.events = sc.events[:0]
	}
	snap := !fresh && mayFailLate(l.p, op)
	if snap {
		a.copyTo(&sc.saved)
	}
	firstSeq := a.Seq
	if err := op.apply(s); err != nil {
		if snap {
			sc.saved.copyTo(a)
		}
		t.release(h, tx)
		return nil, err
	}
	r, rec, changed := l.finish(s, oh.kind, firstSeq, dg, want)
	sc.entries = s.entries
	if !want {
		sc.events = s.events
	}
	if !changed {
		t.release(h, tx)
		sc.out = outUnchanged
		if r != nil {
			l.localize(r)
		}
		return r, nil
	}
	sc.out = outRecorded
	if ma == nil {
		ma = ms.memberForWrite(m)
	}
	if fresh {
		ma.acct, ma.state = a, nil
	}
	log := &ms.stripe(m).log
	sc.appendEntries(ma, log, s.entries)
	if s.docOut != nil {
		sc.w.b = s.docOut.appendTo(sc.w.b[:0])
		if s.docKey != "" {
			putDoc(ma, ms.seed, log, s.docKey, sc.w.b)
		} else {
			putDoc(ma, ms.seed, log, sc.key, sc.w.b)
		}
	}
	sc.w.b = rec.appendTo(sc.w.b[:0])
	t.settle(h, tx, sc.w.b)
	if r != nil {
		r.Recorded = true
		l.localize(r)
	}
	return r, nil
}

// loadDocMem finds the document key names: the member's own, or one of a
// member merged into it.
func (l *Ledger) loadDocMem(s *state, ma *memAccount, a *account, key []byte) error {
	if len(key) == 0 {
		return nil
	}
	var raw []byte
	if ma != nil {
		raw = memDoc(ma, l.mem.seed, l.mem.stripe(a.Member).log.cs, key)
	}
	if raw != nil {
		d, err := decodeDoc(key, raw)
		if err != nil {
			return fmt.Errorf("member %d document %q: %w", a.Member, key, err)
		}
		s.doc = d
		return nil
	}
	for _, x := range a.Absorbed {
		// A merged member's account is closed: no operation writes its
		// records any more, and the merge that closed it held this
		// member's stripe too, so reading them here needs no lock.
		xa := l.mem.member(x.Member)
		if xa == nil {
			continue
		}
		raw := memDoc(xa, l.mem.seed, l.mem.stripe(x.Member).log.unlocked(), key)
		if raw == nil {
			continue
		}
		d, err := decodeDoc(key, raw)
		if err != nil {
			return fmt.Errorf("member %d document %q: %w", x.Member, key, err)
		}
		s.doc, s.docFrom, s.docMoved = shiftDoc(d, x), x.Member, true
		return nil
	}
	return nil
}

// appendEntries encodes es onto the member's stripe log.
func (sc *scratch) appendEntries(ma *memAccount, log *chunkLog, es []Entry) {
	for i := range es {
		sc.w.b = sc.w.b[:0]
		es[i].encode(&sc.w)
		ma.eoff = append(ma.eoff, log.add(sc.w.b))
	}
}

// applyMergeMem is applyMerge on the ledger's MemStore.
func (l *Ledger) applyMergeMem(ctx context.Context, o Merge, sc *scratch, want bool) (*Receipt, error) {
	ms := l.mem
	tx := o.TxID()
	dg := sc.digest(o, o.head())
	t, h := ms.txShard(tx)
	for {
		if ms.closed.Load() {
			return nil, fmt.Errorf("load member %d: %w", o.Member, ErrClosed)
		}
		unlock := ms.lockMembers(o.Member, o.From)
		rec, st := t.reserve(h, tx)
		if st == txFree {
			r, err := l.mergeMemReserved(o, tx, h, t, dg, sc, want)
			unlock()
			return r, err
		}
		unlock()
		switch st {
		case txRecorded:
			sc.out = outReplayed
			return l.replayMem(ctx, tx, rec, dg, want)
		case txFull:
			return nil, fmt.Errorf("commit tx %q member %d: %w", tx, o.Member, errStoreFull)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		runtime.Gosched()
	}
}

func (l *Ledger) mergeMemReserved(o Merge, tx string, h uint64, t *txShard, dg [16]byte, sc *scratch, want bool) (*Receipt, error) {
	ms := l.mem
	var (
		mas   [2]*memAccount
		accts [2]*account
		fresh [2]bool
	)
	for k, m := range [2]uint32{o.Member, o.From} {
		var err error
		mas[k], accts[k], fresh[k], err = ms.memAccountOf(m)
		if err == nil && accts[k].Closed {
			err = opErr(o, [2]string{"member", "from"}[k], &MergedError{Member: m, Into: accts[k].MergedInto})
		}
		if err == nil {
			err = checkLate(l.p, accts[k], o)
		}
		if err != nil {
			t.release(h, tx)
			return nil, err
		}
	}
	a, b := accts[0], accts[1]
	s, peer := &sc.s, &sc.peer
	at := o.At.Round(0) // as in applyMemReserved
	*s = state{p: l.p, a: a, tx: tx, at: at}
	*peer = state{p: l.p, a: b, tx: tx, at: at}
	s.peer = peer
	saved := [2]*account{&sc.saved, &sc.savedPeer}
	for k := range accts {
		if !fresh[k] {
			accts[k].copyTo(saved[k])
		}
	}
	firstA, firstB := a.Seq, b.Seq
	if err := o.apply(s); err != nil {
		for k := range accts {
			if !fresh[k] {
				saved[k].copyTo(accts[k])
			}
		}
		t.release(h, tx)
		return nil, err
	}
	after := totals(l.p, a, o.At)
	var r *Receipt
	if want {
		r = &Receipt{Tx: tx, Member: o.Member, Op: OpMerge, At: o.At, Entries: s.entries, FromEntries: peer.entries,
			Events: s.events, After: after}
	}
	if !l.opts.NoCompaction {
		s.compact()
	}
	a.Version++
	b.Version++
	rec := txRecord{Digest: dg, Member: o.Member, Op: OpMerge, At: o.At, Version: a.Version, FirstSeq: firstA,
		Count: uint64(len(s.entries)), Events: s.events, After: after,
		HasPeer: true, Peer: o.From, PeerFirstSeq: firstB, PeerCount: uint64(len(peer.entries))}
	for k, m := range [2]uint32{o.Member, o.From} {
		if mas[k] == nil {
			mas[k] = ms.memberForWrite(m)
		}
		mas[k].acct, mas[k].state = accts[k], nil
		sc.appendEntries(mas[k], &ms.stripe(m).log, [2]*state{s, peer}[k].entries)
	}
	sc.w.b = rec.appendTo(sc.w.b[:0])
	t.settle(h, tx, sc.w.b)
	s.peer = nil
	sc.out = outRecorded
	if r != nil {
		r.Version = a.Version
		r.Recorded = true
		l.localize(r)
	}
	return r, nil
}

// accountCopy returns a private copy of member's account (a fresh one if
// there is none).
func (ms *MemStore) accountCopy(member uint32) (*account, error) {
	st := ms.stripe(member)
	st.mu.RLock()
	defer st.mu.RUnlock()
	if ma := ms.member(member); ma != nil {
		if ma.acct != nil {
			a := new(account)
			ma.acct.copyTo(a)
			return a, nil
		}
		if ma.state != nil {
			a, err := decodeAccount(ma.state)
			if err != nil {
				return nil, fmt.Errorf("member %d: %w", member, err)
			}
			return a, nil
		}
	}
	return &account{Member: member, GrowthFloor: noFloor}, nil
}

// copyTo makes dst a deep copy of a, reusing dst's slices.
func (a *account) copyTo(dst *account) {
	lots, growth, cards, abs, strs := dst.Lots[:0], dst.Growth[:0], dst.Cards[:0], dst.Absorbed[:0], dst.strs[:0]
	*dst = *a
	dst.Lots = append(lots, a.Lots...)
	dst.Growth = append(growth, a.Growth...)
	dst.Cards = append(cards, a.Cards...)
	dst.Absorbed = append(abs, a.Absorbed...)
	dst.strs = append(strs, a.strs...)
}
