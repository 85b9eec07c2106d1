package cdpkit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/loyalty"
	"github.com/cdpkit/cdpkit/rfm"
	"github.com/cdpkit/cdpkit/segment"
)

// An Order is a purchase, or the refund of one, by a person.
//
// The person is named by Identifiers when there are any, else by Person.
// Identifiers are looked up; when all the usable ones belong to one
// person, that is the person, and nothing is stored in the identity
// graph. Otherwise — an identifier never seen, or identifiers of
// different persons — the order is evidence that they belong together:
// it is observed as event "order:<ID>" from source Channel, which creates
// a person for unknown identifiers or merges persons, under identity's
// rules, before the order is recorded. Blocked and invalid identifiers are
// ignored; an order with no usable identifier fails.
type Order struct {
	// ID identifies the order across the chain. The ledger records it as
	// transaction "order:<ID>" ("refund:<ID>" for a refund), and the
	// Engine recognises an order recorded again (a retry) as a replay: by
	// the ledger when there is a programme, and otherwise when it lies
	// within the longest window.
	ID string
	// Person is the buyer's person ID, used when Identifiers is empty.
	Person identity.PersonID
	// Identifiers name the buyer as the channel knows them: a phone, a
	// member card, a platform ID (see above).
	Identifiers []identity.Identifier
	Time        time.Time // when the order was paid
	// Channel is one of Config.Channels; empty means the first.
	Channel string
	// Amount is the net paid in fen (positive, also for a refund: what
	// is returned). Zero means the sum of the lines' amounts; otherwise it
	// must be at least that sum (the rest is uncategorised).
	Amount int64
	// Lines are the order's category shares: repurchase timing and the
	// ledger's category rules read them.
	Lines []Line
	// RefundOf, when set, makes this the refund of the order with that
	// ID: Amount is subtracted from spend (never from order counts or
	// dates), and the ledger takes back the points of its Lines, which
	// must name categories of the order.
	RefundOf string
	// Savings is what a paid card saved the member on the order (or, for
	// a refund, what it takes back); PointsUsed are points paid with (or
	// given back). Both are for the ledger only.
	Savings    int64
	PointsUsed int64
}

// A Line is one category's share of an order.
type Line struct {
	Category string // e.g. "rx_diabetes", "otc_cold"
	Amount   int64  // net paid in fen
	// DaysSupply is how many days a chronic medicine lasts (quantity
	// included); 0 for other goods.
	DaysSupply int32
}

// An OrderResult says what recording an order did.
type OrderResult struct {
	Person identity.PersonID // the person it was recorded for
	// Identity is set when the order's identifiers were observed (new
	// or bridging identifiers): what that observation did.
	Identity *identity.Result
	// Replayed is set when the order had been recorded before; nothing
	// changed.
	Replayed bool
	// Receipt is the ledger's receipt; nil without a programme or for an
	// order before Config.LoyaltyFrom.
	Receipt *loyalty.Receipt
	// Tags are the tag changes of the persons re-derived because of the
	// order (once RefreshTags has set a clock).
	Tags []TagChange
}

// maxIDLen bounds order and event IDs, as the ledger does.
const maxIDLen = 200

// prepared is an order checked and reduced to what the structures need.
type prepared struct {
	o       *Order
	amount  int64
	channel int
	day     int32
	hash    uint64
	kind    uint8
	person  uint32
	replay  bool
	failed  bool
	logged  bool // has a window entry
	// ledger is set when the order goes to the ledger's batch, whose
	// answer may still fail it or find it replayed.
	ledger bool
	// early is set when nothing the ledger says can change the order's
	// effect on the summaries: it does not go to the ledger, nor does an
	// earlier order of its person in the chunk.
	early bool
}

// orderHash identifies an order for replay detection: 64 bits of FNV-1a,
// fixed across processes (maphash's seed is not).
func orderHash(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h | 1 // never 0, which marks a deleted entry
}

// prepare checks an order.
func (e *Engine) prepare(o *Order, clk *dayClock) (prepared, error) {
	pr := prepared{o: o, kind: entryOrder}
	switch {
	case o.ID == "":
		return pr, invalid("order: empty ID")
	case len(o.ID) > maxIDLen:
		return pr, invalid("order %q: ID longer than %d bytes", o.ID[:20]+"…", maxIDLen)
	case o.Time.IsZero():
		return pr, invalid("order %q: no time", o.ID)
	case o.Time.Year() < 1970 || o.Time.Year() >= 2200:
		return pr, invalid("order %q: time %s outside 1970..2199", o.ID, o.Time.Format(time.RFC3339))
	case o.Amount < 0:
		return pr, invalid("order %q: amount %d is negative", o.ID, o.Amount)
	case o.Savings < 0 || o.PointsUsed < 0:
		return pr, invalid("order %q: negative savings or points", o.ID)
	case len(o.RefundOf) > maxIDLen:
		return pr, invalid("order %q: refunded order ID longer than %d bytes", o.ID, maxIDLen)
	}
	var sum int64
	for i, l := range o.Lines {
		switch {
		case l.Amount < 0:
			return pr, invalid("order %q: line %d: amount %d is negative", o.ID, i, l.Amount)
		case l.DaysSupply < 0:
			return pr, invalid("order %q: line %d: days-supply %d is negative", o.ID, i, l.DaysSupply)
		case len(l.Category) > maxIDLen:
			return pr, invalid("order %q: line %d: category longer than %d bytes", o.ID, i, maxIDLen)
		}
		if sum > math.MaxInt64-l.Amount {
			return pr, invalid("order %q: lines overflow", o.ID)
		}
		sum += l.Amount
	}
	pr.amount = o.Amount
	if pr.amount == 0 {
		pr.amount = sum
	} else if pr.amount < sum {
		return pr, invalid("order %q: amount %d is less than its lines' %d", o.ID, o.Amount, sum)
	}
	if o.Channel == "" {
		pr.channel = 0
	} else if c, ok := e.chanIdx[o.Channel]; ok {
		pr.channel = c
	} else {
		return pr, invalid("order %q: channel %q is not one of %v", o.ID, o.Channel, e.cfg.Channels)
	}
	if len(o.Identifiers) == 0 && o.Person == identity.NoPerson {
		return pr, invalid("order %q: names no person", o.ID)
	}
	pr.day = clk.day(o.Time)
	if o.RefundOf != "" {
		pr.kind = entryRefund
		pr.hash = orderHash("refund:" + o.ID)
	} else {
		pr.hash = orderHash("order:" + o.ID)
	}
	return pr, nil
}

// resolveOne finds the person an order names, observing its identifiers
// when they are new or bridge persons. The lock is not held.
func (e *Engine) resolveOne(o *Order) (identity.PersonID, *identity.Result, error) {
	if len(o.Identifiers) == 0 {
		return o.Person, nil, nil
	}
	if p, ok, err := e.lookupAll(o.Identifiers); err != nil || ok {
		return p, nil, err
	}
	e.idMu.RLock()
	res, err := e.ids.Observe(e.orderObservation(o))
	e.idMu.RUnlock()
	e.noteIssued(res.Person)
	if err != nil {
		return identity.NoPerson, nil, fmt.Errorf("identifiers: %w", err)
	}
	return res.Person, &res, nil
}

// lookupAll returns the one person all usable identifiers belong to (ok),
// or ok false when one is unknown or they name different persons. Blocked
// and invalid identifiers are skipped; none usable is an error.
func (e *Engine) lookupAll(ids []identity.Identifier) (identity.PersonID, bool, error) {
	p, usable := identity.NoPerson, 0
	for _, id := range ids {
		q, err := e.ids.Lookup(id)
		switch {
		case err == nil:
			usable++
			if p != identity.NoPerson && q != p {
				return identity.NoPerson, false, nil
			}
			p = q
		case errors.Is(err, identity.ErrBlocked) || errors.Is(err, identity.ErrInvalid):
		case errors.Is(err, identity.ErrNotFound) || errors.Is(err, identity.ErrUnlinked):
			return identity.NoPerson, false, nil
		default:
			return identity.NoPerson, false, fmt.Errorf("identifier %v: %w", id, err)
		}
	}
	if usable == 0 {
		return identity.NoPerson, false, fmt.Errorf("identifiers: %w", identity.ErrNoIdentifier)
	}
	return p, true, nil
}

func (e *Engine) orderObservation(o *Order) identity.Observation {
	source := o.Channel
	if source == "" {
		source = e.cfg.Channels[0]
	}
	id := "order:" + o.ID
	if o.RefundOf != "" {
		id = "refund:" + o.ID
	}
	return identity.Observation{EventID: id, Source: source, Time: o.Time, Identifiers: o.Identifiers}
}

// RecordOrder records one order or refund: RFM summaries, the trailing
// windows, the activity days "purchase" and "purchase:<channel>",
// repurchase timing by category, and the ledger (points, growth, tier).
// Once RefreshTags has set a clock, the person's live fields and tags are
// re-derived at the order's time (or the refresh's, if later), and the
// tags gained and lost are returned. A bad order changes nothing and is a
// *RecordError.
func (e *Engine) RecordOrder(ctx context.Context, o Order) (*OrderResult, error) {
	fail := func(p identity.PersonID, err error) (*OrderResult, error) {
		return nil, &RecordError{Index: -1, ID: o.ID, Person: p, Err: err}
	}
	clk := newDayClock(e.cfg.Location)
	pr, err := e.prepare(&o, &clk)
	if err != nil {
		return fail(identity.NoPerson, err)
	}
	p, obs, err := e.resolveOne(&o)
	if err != nil {
		return fail(identity.NoPerson, err)
	}
	if err := e.lock(ctx); err != nil {
		return nil, err
	}
	res, err := e.recordLocked(ctx, &pr, p)
	tc, tagErr := e.unlock(ctx)
	if err != nil {
		return fail(p, err)
	}
	res.Identity, res.Tags = obs, tc
	return res, tagErr
}

// RecordRefund records a refund: an Order whose RefundOf names the
// refunded order. It is RecordOrder with a check that RefundOf is set.
func (e *Engine) RecordRefund(ctx context.Context, r Order) (*OrderResult, error) {
	if r.RefundOf == "" {
		return nil, &RecordError{Index: -1, ID: r.ID, Person: identity.NoPerson, Err: invalid("refund %q: RefundOf is empty", r.ID)}
	}
	return e.RecordOrder(ctx, r)
}

// recordLocked applies one prepared order to person p. The lock is held.
func (e *Engine) recordLocked(ctx context.Context, pr *prepared, p identity.PersonID) (*OrderResult, error) {
	q, err := e.canon(p)
	if err != nil {
		return nil, err
	}
	pr.person = q
	res := &OrderResult{Person: identity.PersonID(q)}
	if e.st.win.has(q, pr.kind, pr.hash) {
		res.Replayed = true
		return res, nil
	}
	if e.loyaltyApplies(pr.o) {
		e.st.accounts.Add(q)
		e.st.ledgerGen++
		rc, err := e.ledger.Apply(ctx, e.loyaltyOp(pr))
		switch outcome := e.ledgerOutcome(pr, rc, err); outcome {
		case ledgerFailed:
			return nil, fmt.Errorf("loyalty: %w", err)
		case ledgerReplayed:
			res.Replayed, res.Receipt = true, rc
			return res, nil
		case ledgerApplied:
			res.Receipt = rc
			e.noteReceipt(q, rc)
		}
	}
	if err := e.applySummaries(pr); err != nil {
		return nil, err
	}
	e.st.win.add(q, pr.day, e.signed(pr), pr.kind, pr.hash)
	if pr.kind == entryOrder {
		ch := e.cfg.Channels[pr.channel]
		err := e.ix.Update(func(tx *segment.Tx) error {
			if err := tx.RecordActivityDay(EventPurchase, segment.Day(pr.day), q); err != nil {
				return err
			}
			return tx.RecordActivityDay(channelEvent(ch), segment.Day(pr.day), q)
		})
		if err != nil {
			return nil, fmt.Errorf("activity: %w", err)
		}
	}
	e.markDirty(q, pr.o.Time)
	return res, nil
}

// What the ledger's answer to an order means for the rest of the Engine.
const (
	ledgerApplied  = iota // recorded: apply the order everywhere
	ledgerSkipped         // not the ledger's (see ledgerOutcome): apply it elsewhere
	ledgerReplayed        // recorded before: a retry, apply it nowhere
	ledgerFailed          // refused: the order fails
)

// ledgerOutcome classifies the ledger's answer to an order's operation.
// A refund of an order from before Config.LoyaltyFrom is not the
// ledger's. For a person a split cleared, an order recorded again is a
// replay in the ledger (merges are final) and one for an account merged
// away is refused; both are the host re-deriving the person, and the
// rest of the Engine takes the order.
func (e *Engine) ledgerOutcome(pr *prepared, rc *loyalty.Receipt, err error) int {
	resplit := e.st.resplit[pr.person]
	switch {
	case err == nil && rc.Replayed && resplit:
		return ledgerSkipped
	case err == nil && rc.Replayed:
		return ledgerReplayed
	case err == nil:
		return ledgerApplied
	case pr.kind == entryRefund && errors.Is(err, loyalty.ErrUnknownOrder) && !e.cfg.LoyaltyFrom.IsZero():
		return ledgerSkipped
	case resplit && errors.Is(err, loyalty.ErrMerged):
		return ledgerSkipped
	}
	return ledgerFailed
}

// signed is the order's effect on spend.
func (e *Engine) signed(pr *prepared) int64 {
	if pr.kind == entryRefund {
		return -pr.amount
	}
	return pr.amount
}

// applySummaries adds the order to the RFM summaries.
func (e *Engine) applySummaries(pr *prepared) error {
	e.st.sums.Advance(pr.o.Time)
	var tx rfm.Tx
	e.rfmTx(pr, &tx, true)
	if err := e.st.sums.Add(&tx); err != nil {
		return fmt.Errorf("summaries: %w", err)
	}
	return nil
}

// rfmTx converts a prepared order for rfm into tx, reusing its lines.
// Categories must have been interned (categoryID) unless intern is set.
func (e *Engine) rfmTx(pr *prepared, tx *rfm.Tx, intern bool) {
	o := pr.o
	lines := tx.Lines[:0]
	*tx = rfm.Tx{Member: pr.person, Time: o.Time, Amount: pr.amount, Channel: rfm.Channel(pr.channel), Order: pr.hash}
	if pr.kind == entryRefund {
		tx.RefundOf = orderHash("order:" + o.RefundOf)
		tx.Lines = lines
		return
	}
	for _, l := range o.Lines {
		if l.Category == "" {
			continue
		}
		var id uint32
		if intern {
			id = e.categoryID(l.Category)
		} else {
			id = e.st.cats[l.Category]
		}
		lines = append(lines, rfm.Line{Category: id, Amount: l.Amount, DaysSupply: l.DaysSupply})
	}
	tx.Lines = lines
}

// loyaltyApplies reports whether the ledger takes the order.
func (e *Engine) loyaltyApplies(o *Order) bool {
	return e.ledger != nil && !o.Time.Before(e.cfg.LoyaltyFrom)
}

// loyaltyOp converts a prepared order for the ledger.
func (e *Engine) loyaltyOp(pr *prepared) loyalty.Op {
	o := pr.o
	lines := make([]loyalty.Line, 0, len(o.Lines)+1)
	var sum int64
	for _, l := range o.Lines {
		lines = append(lines, loyalty.Line{Category: l.Category, Paid: l.Amount})
		sum += l.Amount
	}
	if rest := pr.amount - sum; rest > 0 || len(lines) == 0 {
		lines = append(lines, loyalty.Line{Paid: rest})
	}
	ch := e.cfg.Channels[pr.channel]
	if pr.kind == entryRefund {
		return loyalty.Refund{Tx: "refund:" + o.ID, Member: pr.person, At: o.Time, OrderID: o.RefundOf,
			Lines: lines, Points: o.PointsUsed, Savings: o.Savings}
	}
	return loyalty.Order{Tx: "order:" + o.ID, Member: pr.person, At: o.Time, OrderID: o.ID, Channel: ch,
		Lines: lines, Savings: o.Savings, PointsUsed: o.PointsUsed}
}

// BulkStats counts what a bulk load did.
type BulkStats struct {
	Read     int // records read from the sequence
	Applied  int // records applied
	Replayed int // orders recorded before (retries): nothing changed
	Failed   int // records rejected (see the *BulkError)
	Created  int // persons created by observations
	Merged   int // persons merged into others
}

// bulkChunk is how many records a bulk load reads before applying them
// under the lock.
const bulkChunk = 1 << 17

// RecordOrders records many orders and refunds, the way to load history:
// it reads them in chunks, resolves their persons on all cores (observing
// new identifiers in input order), and applies each chunk under the lock
// with the packages' batch paths — RFM summaries by member range on all
// cores, activity days in one index transaction, the ledger on all cores
// with each person's operations in input order. Each person's orders
// should come in time order, as the ledger's windows and RFM's distinct
// days expect. Live fields and tags are not re-derived: run RefreshTags
// afterwards. A bad order is reported in the *BulkError and the rest are
// applied; a cancelled context stops between chunks.
func (e *Engine) RecordOrders(ctx context.Context, orders iter.Seq[Order]) (BulkStats, error) {
	var st BulkStats
	var errs bulkErrors
	// Reading a chunk (the caller's sequence and the copies below) and
	// applying the one before overlap: this goroutine fills one chunk
	// while another applies the previous, chunks in input order.
	free := make(chan *orderChunk, 2)
	free <- newOrderChunk()
	free <- newOrderChunk()
	full := make(chan *orderChunk)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var err error
		for c := range full {
			if err == nil {
				if err = e.recordChunk(ctx, c.orders, c.base, &st, &errs); err != nil {
					failed.Store(true)
				}
			}
			// Nothing keeps the chunk's orders once it is applied.
			c.orders, c.lines, c.ids = c.orders[:0], c.lines[:0], c.ids[:0]
			free <- c
		}
		done <- err
	}()
	read := 0
	cur := <-free
	for o := range orders {
		// The sequence may reuse its slices between iterations: copy them
		// into arenas that live as long as the chunk.
		start := len(cur.lines)
		cur.lines = append(cur.lines, o.Lines...)
		o.Lines = cur.lines[start:len(cur.lines):len(cur.lines)]
		start = len(cur.ids)
		cur.ids = append(cur.ids, o.Identifiers...)
		o.Identifiers = cur.ids[start:len(cur.ids):len(cur.ids)]
		cur.orders = append(cur.orders, o)
		read++
		if len(cur.orders) == bulkChunk {
			cur.base = read - len(cur.orders)
			full <- cur
			if cur = <-free; failed.Load() {
				break
			}
		}
	}
	if len(cur.orders) > 0 && !failed.Load() {
		cur.base = read - len(cur.orders)
		full <- cur
	}
	close(full)
	err := <-done
	st.Read = read
	if err != nil {
		return st, err
	}
	st.Failed = errs.failed
	return st, errs.err()
}

// orderChunk is a chunk of orders read for RecordOrders, with the arenas
// holding copies of their lines and identifiers; base is the index of
// its first order in the sequence.
type orderChunk struct {
	orders []Order
	lines  []Line
	ids    []identity.Identifier
	base   int
}

func newOrderChunk() *orderChunk {
	return &orderChunk{
		orders: make([]Order, 0, bulkChunk),
		lines:  make([]Line, 0, 2*bulkChunk),
		ids:    make([]identity.Identifier, 0, bulkChunk),
	}
}

// recordChunk applies one chunk of orders; base is the index of its first.
func (e *Engine) recordChunk(ctx context.Context, chunk []Order, base int, st *BulkStats, errs *bulkErrors) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	prs := make([]prepared, len(chunk))
	persons := make([]identity.PersonID, len(chunk))
	perr := make([]error, len(chunk))
	parallelRange(len(chunk), func(lo, hi int) {
		clk := newDayClock(e.cfg.Location)
		// Histories come person by person: the previous order's lookup
		// answers the next one with the same identifiers (no observation
		// runs during this phase, so it cannot go stale).
		var lastIDs []identity.Identifier
		var lastP identity.PersonID
		var lastOK bool
		var lastErr error
		for i := lo; i < hi; i++ {
			prs[i], perr[i] = e.prepare(&chunk[i], &clk)
			if perr[i] != nil {
				continue
			}
			if len(chunk[i].Identifiers) == 0 {
				persons[i] = chunk[i].Person
				continue
			}
			if !slices.Equal(chunk[i].Identifiers, lastIDs) {
				lastIDs = chunk[i].Identifiers
				lastP, lastOK, lastErr = e.lookupAll(lastIDs)
			}
			p, ok, err := lastP, lastOK, lastErr
			switch {
			case err != nil:
				perr[i] = err
			case ok:
				persons[i] = p
			default:
				persons[i] = identity.NoPerson // to observe
			}
		}
	})
	// Orders whose identifiers are new or bridge persons are observed in
	// input order, as RecordOrder would observe them one by one.
	var obs []identity.Observation
	var obsAt []int
	for i := range chunk {
		if perr[i] == nil && len(chunk[i].Identifiers) > 0 && persons[i] == identity.NoPerson {
			obs = append(obs, e.orderObservation(&chunk[i]))
			obsAt = append(obsAt, i)
		}
	}
	if len(obs) > 0 {
		results := make([]identity.Result, len(obs))
		e.idMu.RLock()
		err := e.ids.ObserveBatch(obs, results)
		e.idMu.RUnlock()
		var be *identity.BatchError
		if err != nil && !errors.As(err, &be) {
			return fmt.Errorf("observe order identifiers: %w", err)
		}
		failed := map[int]error{}
		if be != nil {
			for _, oe := range be.Errors {
				failed[oe.Index] = oe
			}
		}
		for j, i := range obsAt {
			if ferr, bad := failed[j]; bad || results[j].Person == identity.NoPerson {
				if ferr == nil {
					ferr = fmt.Errorf("identifiers: %w", identity.ErrNoIdentifier)
				}
				perr[i] = ferr
				continue
			}
			persons[i] = results[j].Person
			e.noteIssued(results[j].Person)
			if results[j].Created {
				st.Created++
			}
			st.Merged += len(results[j].Merged)
		}
	}

	if err := e.lock(ctx); err != nil {
		return err
	}
	defer func() {
		// Re-derives merged persons only: the orders are left to RefreshTags.
		if _, uerr := e.unlock(ctx); err == nil {
			err = uerr
		}
	}()
	// Replays and window entries in input order, which is also the order
	// each person's operations reach the ledger.
	var maxTime time.Time
	for i := range prs {
		pr := &prs[i]
		if perr[i] != nil {
			pr.failed = true
			continue
		}
		q, err := e.canon(persons[i])
		if err != nil {
			perr[i], pr.failed = err, true
			continue
		}
		pr.person = q
		if e.st.win.has(q, pr.kind, pr.hash) {
			pr.replay = true
			continue
		}
		pr.logged = e.st.win.add(q, pr.day, e.signed(pr), pr.kind, pr.hash)
		maxTime = later(maxTime, pr.o.Time)
		if pr.kind == entryOrder {
			for _, l := range pr.o.Lines {
				if l.Category != "" {
					e.categoryID(l.Category)
				}
			}
		}
	}
	if !maxTime.IsZero() {
		e.st.sums.Advance(maxTime)
	}
	// The ledger's batch runs alongside the summaries and activity days
	// of the orders its answers cannot touch (see markEarly); the rest
	// follow once it has answered. Each person's orders still reach the
	// summaries in input order, and activity days are sets, so the
	// result is the serial one.
	var ops []loyalty.Op
	var at []int
	if e.ledger != nil {
		ops, at = e.ledgerOps(ctx, prs, perr)
	}
	e.markEarly(prs)
	var ledgerErr, earlyErr error
	var wg sync.WaitGroup
	if len(ops) > 0 {
		wg.Go(func() { ledgerErr = e.applyLedgerBatch(ctx, ops, at, prs, perr) })
	}
	early := func(pr *prepared) bool { return pr.early }
	earlyErr = e.summariesBulk(ctx, prs, perr, early)
	if earlyErr == nil {
		earlyErr = e.activityBulk(prs, early)
	}
	wg.Wait()
	if err := cmp.Or(ledgerErr, earlyErr); err != nil {
		return err
	}
	for i := range prs {
		pr := &prs[i]
		switch {
		case perr[i] != nil:
			errs.add(&RecordError{Index: base + i, ID: chunk[i].ID, Person: persons[i], Err: perr[i]})
			if pr.logged { // the ledger refused it: undo its window entry
				e.st.win.remove(pr.person, pr.kind, pr.hash)
			}
			pr.failed = true
		case pr.replay:
			if pr.logged { // the ledger knew it from before the window
				e.st.win.remove(pr.person, pr.kind, pr.hash)
			}
			st.Replayed++
		default:
			st.Applied++
		}
	}
	late := func(pr *prepared) bool { return !pr.early }
	if err := e.summariesBulk(ctx, prs, perr, late); err != nil {
		return err
	}
	return e.activityBulk(prs, late)
}

// markEarly marks the orders whose summaries and activity days need not
// wait for the ledger's answers: those of a person before the person's
// first order in the chunk that goes to the ledger. Failed and replayed
// orders are never applied and stay unmarked.
func (e *Engine) markEarly(prs []prepared) {
	// A bit per person, as a map of a chunk's persons costs more.
	waiting := make([]uint64, (e.st.persons+63)/64)
	for i := range prs {
		pr := &prs[i]
		if pr.failed || pr.replay || int(pr.person) >= e.st.persons {
			continue
		}
		w, bit := pr.person/64, uint64(1)<<(pr.person%64)
		if pr.ledger {
			waiting[w] |= bit
			continue
		}
		if waiting[w]&bit == 0 {
			pr.early = true
		}
	}
}

// summariesBulk adds the chunk's applied orders that pick selects to the
// RFM summaries on all cores, one writer per member range, each in input
// order.
func (e *Engine) summariesBulk(ctx context.Context, prs []prepared, perr []error, pick func(*prepared) bool) error {
	ws := e.st.sums.Writers(runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	bad := make([][]int, len(ws))
	for k, w := range ws {
		wg.Go(func() {
			var tx rfm.Tx
			for i := range prs {
				pr := &prs[i]
				if pr.failed || pr.replay || !w.Contains(pr.person) || !pick(pr) {
					continue
				}
				e.rfmTx(pr, &tx, false)
				if err := w.Add(&tx); err != nil {
					perr[i] = err
					bad[k] = append(bad[k], i)
				}
			}
			w.Close()
		})
	}
	wg.Wait()
	for _, b := range bad {
		if len(b) > 0 {
			// prepare checked everything rfm checks; a rejection here is a bug.
			return fmt.Errorf("summaries rejected prepared order %d: %w", b[0], perr[b[0]])
		}
	}
	return ctx.Err()
}

// activityBulk records the chunk's applied orders that pick selects as
// activity days in one index transaction, one bulk add per event and day.
func (e *Engine) activityBulk(prs []prepared, pick func(*prepared) bool) error {
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	for i := range prs {
		if pr := &prs[i]; !pr.failed && !pr.replay && pr.kind == entryOrder && pick(pr) {
			lo, hi = min(lo, pr.day), max(hi, pr.day)
		}
	}
	if lo > hi {
		return nil
	}
	// One list per event (purchase, then each channel) and day.
	events := 1 + len(e.cfg.Channels)
	lists := make([][]uint32, int(hi-lo+1)*events)
	for i := range prs {
		pr := &prs[i]
		if pr.failed || pr.replay || pr.kind != entryOrder || !pick(pr) {
			continue
		}
		at := int(pr.day-lo) * events
		lists[at] = append(lists[at], pr.person)
		lists[at+1+pr.channel] = append(lists[at+1+pr.channel], pr.person)
	}
	return e.ix.Update(func(tx *segment.Tx) error {
		for k, ids := range lists {
			if len(ids) == 0 {
				continue
			}
			day, ev := segment.Day(lo+int32(k/events)), k%events
			event := EventPurchase
			if ev > 0 {
				event = channelEvent(e.cfg.Channels[ev-1])
			}
			if err := tx.RecordActivityDay(event, day, ids...); err != nil {
				return fmt.Errorf("activity %q on %s: %w", event, day, err)
			}
		}
		return nil
	})
}

// ledgerOps builds the chunk's ledger operations for the ledger's batch
// path, marking their orders (prepared.ledger); at holds each one's
// order. An order older than the windows that the ledger may know is
// applied here, one at a time.
func (e *Engine) ledgerOps(ctx context.Context, prs []prepared, perr []error) (ops []loyalty.Op, at []int) {
	for i := range prs {
		pr := &prs[i]
		if pr.failed || pr.replay || !e.loyaltyApplies(pr.o) {
			continue
		}
		op := e.loyaltyOp(pr)
		e.st.accounts.Add(pr.person)
		e.st.ledgerGen++
		// An order older than the windows may have been recorded before:
		// let the ledger tell a replay from a conflicting reuse of its ID,
		// one at a time (the batch path only counts replays). One the
		// windows hold and did not know is new.
		if pr.logged {
			ops = append(ops, op)
			at = append(at, i)
			pr.ledger = true
			continue
		}
		if rec, err := e.store.Tx(ctx, op.TxID()); err == nil && rec != nil {
			rc, err := e.ledger.Apply(ctx, op)
			switch e.ledgerOutcome(pr, rc, err) {
			case ledgerFailed:
				perr[i], pr.failed = fmt.Errorf("loyalty: %w", err), true
			case ledgerReplayed:
				pr.replay = true
			}
			continue
		}
		ops = append(ops, op)
		at = append(at, i)
		pr.ledger = true
	}
	return ops, at
}

// applyLedgerBatch applies ops, built by ledgerOps, with the ledger's
// batch path (each person's operations in input order, persons in
// parallel). An operation the ledger refuses marks its order failed; one
// it recorded before marks it replayed. Receipts are not built, so the
// tier and points fields wait for the next refresh, as every derived
// field of a bulk load does. It writes only the perr entries of ops'
// orders and reads only their prepared entries.
func (e *Engine) applyLedgerBatch(ctx context.Context, ops []loyalty.Op, at []int, prs []prepared, perr []error) error {
	res, err := e.ledger.ApplyBatch(ctx, ops, nil)
	if err != nil {
		return fmt.Errorf("loyalty: %w", err)
	}
	for _, f := range res.Failed {
		i := at[f.Index]
		if e.ledgerOutcome(&prs[i], nil, f.Err) == ledgerFailed {
			perr[i] = fmt.Errorf("loyalty: %w", f.Err)
		}
	}
	return nil
}

// parallelRange runs fn over [0, n) split into GOMAXPROCS ranges.
func parallelRange(n int, fn func(lo, hi int)) {
	k := runtime.GOMAXPROCS(0)
	if n < 4096 || k == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range k {
		lo, hi := n*i/k, n*(i+1)/k
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}
