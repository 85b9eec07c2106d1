package cdpkit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/loyalty"
	"github.com/cdpkit/cdpkit/rfm"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// An Engine wires cdpkit's packages for a host that wants all of them:
// identity resolution issues person IDs; orders feed RFM summaries,
// trailing windows, activity days, repurchase timing and the loyalty
// ledger; host attributes and derived fields feed tag rules; tags and
// fields feed audiences, splits and saved segments; identity merges,
// splits and erasures re-key all of it.
//
// An Engine is safe for concurrent use. Writes — Observe, RecordOrder,
// SetAttributes, the bulk loads, RefreshTags, merges — take turns on one
// lock; a bulk load takes it per chunk of records, so live calls
// interleave with it, while RefreshTags holds it for its whole run.
// Identity resolution runs before the lock is taken (the resolver has its
// own). Audience reads — Count, Members, IDs, Split, View — never take
// the lock: they read an immutable version of the index, which writers
// replace with one pointer swap, so they never wait and never see half a
// write. Profile, Summary, Explain and Balance read the Engine's columns
// under a shared lock and wait only for a write in progress.
type Engine struct {
	cfg     Config
	ids     *identity.Resolver
	unsub   func()
	ix      *segment.Index
	schema  *tags.Schema // host attributes first, then the derived fields
	hostN   int          // number of host attribute fields
	derived []derivedField
	dx      derivedIndex
	set     *tags.Set
	ledger  *loyalty.Ledger
	store   loyalty.Store
	chanIdx map[string]int

	mu sync.RWMutex // guards st and orders writes to the index
	st state

	// idMu is held shared around every mutation of the resolver, and
	// exclusively by Snapshot, so that the identity graph it writes has
	// had all its changes delivered and applied.
	idMu sync.RWMutex

	pendMu  sync.Mutex
	pending []identity.Change // identity changes not yet applied
	issued  atomic.Uint32     // person IDs issued so far (highest + 1)

	asOf   atomic.Pointer[time.Time] // the last refresh's as-of, for readers
	closed atomic.Bool

	subMu     sync.Mutex
	subs      map[int]func(SegmentChange)
	nextSub   int
	deliverMu sync.Mutex
}

// state is what the Engine's lock guards.
type state struct {
	persons int               // rows in every per-person structure
	alias   map[uint32]uint32 // persons merged or moved away, to where
	gone    map[uint32]bool   // persons erased or retired by a split
	// resplit holds persons a split cleared: their orders are recorded
	// again, which the ledger (whose merges are final) sees as replays or
	// refuses for an account merged away; the rest of the Engine takes
	// them all the same.
	resplit map[uint32]bool

	sums  *rfm.Summaries
	win   *winLog
	attrs *table // host attributes
	der   *table // derived fields

	cats     map[string]uint32 // line-item category → rfm category ID
	catNames []string

	asOf  time.Time                  // the last refresh's; zero before the first
	model *rfm.Model                 // fitted at the last refresh, or nil
	means *rfm.RepurchaseMeans       // repurchase means at the last refresh, or nil
	seen  map[string]*roaring.Bitmap // saved segments' members when last compared
	// accounts holds the persons that may have a ledger account: every
	// person a ledger operation named. Refreshes read these balances.
	accounts *roaring.Bitmap
	// balances says which ledger state and as-of the tier, points and
	// growth fields were last read back at (loyaltyAll), so that a
	// refresh right after a settle at the same as-of skips the second
	// read; every change to the ledger, to those fields or to which
	// persons are live moves ledgerGen on.
	balances  balancesRead
	ledgerGen uint64
	catOf     map[uint32]int     // rfm category ID → index in Config.Categories
	tierN     map[string]int     // loyalty tier names, for validation
	recs      []*tags.Record     // scratch records, one per worker
	_         [0]func()          // not comparable
	dirty     map[uint32]dirtyAt // persons to re-derive at the end of a write
}

// balancesRead is when loyaltyAll last read every balance back.
type balancesRead struct {
	gen  uint64
	asOf time.Time
	ok   bool
}

// dirtyAt is when a person's data changed.
type dirtyAt struct{ at time.Time }

// New returns an empty Engine for cfg.
func New(cfg Config) (*Engine, error) {
	c, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: c, subs: map[int]func(SegmentChange){}}
	if e.ids, err = identity.New(c.Identity); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if err := e.init(); err != nil {
		return nil, err
	}
	e.st.sums, err = rfm.New(0, rfm.Config{Location: c.Location, AsOf: time.Unix(0, 0), Channels: len(c.Channels)})
	if err != nil {
		return nil, fmt.Errorf("summaries: %w", err)
	}
	e.ix = segment.New(&segment.Options{Location: c.Location})
	if err := e.declare(); err != nil {
		return nil, err
	}
	e.openLedger(nil)
	if c.LoyaltyStore != nil {
		if err := e.loadAccounts(context.Background()); err != nil {
			return nil, err
		}
	}
	e.subscribe()
	return e, nil
}

// init builds what depends only on the configuration: the schema, the
// derived columns, the tag set.
func (e *Engine) init() error {
	c := e.cfg
	e.derived = derivedFields(c)
	var fields []tags.Field
	if c.Attributes != nil {
		fields = c.Attributes.Fields()
	}
	e.hostN = len(fields)
	for _, d := range e.derived {
		if slices.ContainsFunc(fields, func(f tags.Field) bool { return f.Name == d.Name || f.IndexName == d.Name }) {
			return invalid("attribute %q: the Engine derives a field of that name", d.Name)
		}
		fields = append(fields, d.Field)
	}
	var err error
	if e.schema, err = tags.NewSchema(fields...); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	e.set = tags.NewSet(e.schema, c.Tags)
	e.dx = newDerivedIndex(e.derived, c)
	e.chanIdx = map[string]int{}
	for i, ch := range c.Channels {
		e.chanIdx[ch] = i
	}
	hostTypes := make([]tags.Type, e.hostN)
	for i := range hostTypes {
		hostTypes[i] = fields[i].Type
	}
	derTypes := make([]tags.Type, len(e.derived))
	for i, d := range e.derived {
		derTypes[i] = d.Type
	}
	e.st.attrs = newTable(hostTypes, c.Location)
	e.st.der = newTable(derTypes, c.Location)
	e.st.alias = map[uint32]uint32{}
	e.st.gone = map[uint32]bool{}
	e.st.resplit = map[uint32]bool{}
	e.st.seen = map[string]*roaring.Bitmap{}
	e.st.accounts = roaring.New()
	e.st.cats = map[string]uint32{}
	e.st.catOf = map[uint32]int{}
	e.st.dirty = map[uint32]dirtyAt{}
	e.st.win = newWinLog(slices.Max(append([]int{0}, c.Windows...)))
	e.st.tierN = map[string]int{}
	if c.Program != nil {
		for i, t := range c.Program.Tiers() {
			e.st.tierN[t.Name] = i
		}
	}
	for i, cat := range c.Categories {
		e.st.catOf[e.categoryID(cat)] = i
	}
	return nil
}

// declare declares the index fields the Engine writes: activity events,
// the derived fields and the host's indexed attributes.
func (e *Engine) declare() error {
	return e.ix.Update(func(tx *segment.Tx) error {
		for _, name := range append([]string{EventPurchase}, mapSlice(e.cfg.Channels, channelEvent)...) {
			if err := tx.Declare(name, segment.KindEvent); err != nil {
				return fmt.Errorf("declare %q: %w", name, err)
			}
		}
		for _, f := range e.schema.Fields() {
			var kind segment.Kind
			switch f.Index {
			case tags.AsInt, tags.AsDay:
				kind = segment.KindInt
			case tags.AsEnum:
				kind = segment.KindEnum
			default:
				continue
			}
			if err := tx.Declare(indexName(f), kind); err != nil {
				return fmt.Errorf("declare field %q: %w", indexName(f), err)
			}
		}
		return nil
	})
}

func indexName(f tags.Field) string {
	if f.IndexName != "" {
		return f.IndexName
	}
	return f.Name
}

func mapSlice[T, U any](s []T, f func(T) U) []U {
	out := make([]U, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// openLedger sets up the loyalty ledger on store (nil: the configured
// store, or a new in-memory one).
func (e *Engine) openLedger(store loyalty.Store) {
	if e.cfg.Program == nil {
		return
	}
	switch {
	case store != nil:
	case e.cfg.LoyaltyStore != nil:
		store = e.cfg.LoyaltyStore
	default:
		store = loyalty.NewMemStore()
	}
	e.store = store
	e.ledger = loyalty.NewLedger(e.cfg.Program, store, &loyalty.Options{Notifier: e.cfg.Notifier})
}

// loadAccounts learns which persons have ledger accounts from a store
// the Engine did not fill itself (a durable store opened again).
func (e *Engine) loadAccounts(ctx context.Context) error {
	for m, err := range e.ledger.Members(ctx) {
		if err != nil {
			return fmt.Errorf("loyalty accounts: %w", err)
		}
		e.st.accounts.Add(m)
	}
	return nil
}

// subscribe queues identity's changes; the Engine applies them under its
// own lock (drain), never from the resolver's delivery, so a change never
// waits for the Engine and the Engine never calls back into the resolver
// while it delivers.
func (e *Engine) subscribe() {
	e.unsub = e.ids.Subscribe(func(c identity.Change) {
		e.pendMu.Lock()
		e.pending = append(e.pending, c)
		e.pendMu.Unlock()
		for _, p := range c.After {
			e.noteIssued(p)
		}
	})
}

// noteIssued records that person p exists.
func (e *Engine) noteIssued(p identity.PersonID) {
	if p == identity.NoPerson {
		return
	}
	for {
		cur := e.issued.Load()
		if uint32(p) < cur || e.issued.CompareAndSwap(cur, uint32(p)+1) {
			return
		}
	}
}

// Close releases the Engine: it stops following identity and closes the
// loyalty store. Later writes fail with ErrClosed.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unsub()
	if e.store != nil {
		return e.store.Close()
	}
	return nil
}

// lock takes the write lock and applies pending identity changes.
func (e *Engine) lock(ctx context.Context) error {
	if e.closed.Load() {
		return ErrClosed
	}
	e.mu.Lock()
	if err := e.drain(ctx); err != nil {
		e.mu.Unlock()
		return err
	}
	return nil
}

// unlock re-derives the persons whose data changed, then releases the
// lock. The error is the re-derivation's.
func (e *Engine) unlock(ctx context.Context) ([]TagChange, error) {
	defer e.mu.Unlock()
	return e.rederiveDirty(ctx)
}

// growTo extends every per-person structure to n persons.
func (e *Engine) growTo(n int) {
	if n <= e.st.persons {
		return
	}
	if n > e.st.sums.Len() {
		e.st.sums.Grow(max(n, 2*e.st.sums.Len(), 1024))
	}
	e.st.win.grow(n)
	e.st.attrs.grow(n)
	e.st.der.grow(n)
	e.st.persons = n
}

// drain applies identity's pending changes and the persons created since
// the last drain to every structure: new persons join the index's
// universe; merges move bits, summaries, window entries, attributes and
// loyalty accounts to the survivor; splits clear the persons they
// recomputed; erasures delete. The lock is held.
func (e *Engine) drain(ctx context.Context) error {
	e.pendMu.Lock()
	changes := e.pending
	e.pending = nil
	e.pendMu.Unlock()
	old, n := e.st.persons, int(e.issued.Load())
	if n <= old && len(changes) == 0 {
		return nil
	}
	e.growTo(n)
	err := e.ix.Update(func(tx *segment.Tx) error {
		if n > old {
			if err := tx.AddMemberRange(uint32(old), uint32(n)); err != nil {
				return err
			}
		}
		for _, c := range changes {
			if _, err := c.Rekey(tx); err != nil {
				return fmt.Errorf("index: %v change: %w", c.Kind, err)
			}
			if c.Kind == identity.Split {
				// Rekey cleared them; they are live persons still.
				if err := tx.AddMembers(mapSlice(c.After, func(p identity.PersonID) uint32 { return uint32(p) })...); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("re-key index: %w", err)
	}
	var errs []error
	for _, c := range changes {
		e.st.ledgerGen++ // which persons are live, and so read back, changes
		switch c.Kind {
		case identity.Merged:
			s := uint32(c.Survivor)
			for _, l := range c.Losers {
				errs = append(errs, e.mergeState(ctx, s, uint32(l), c.Time))
			}
			e.markDirty(s, c.Time)
		case identity.Split:
			for _, p := range slices.Concat(c.Before, c.After) {
				e.clearState(uint32(p))
				e.st.resplit[uint32(p)] = true
			}
			for _, m := range c.Moved {
				if m.To == identity.NoPerson {
					e.st.gone[uint32(m.From)] = true
				} else {
					e.st.alias[uint32(m.From)] = uint32(m.To)
				}
			}
			for _, p := range c.After {
				delete(e.st.alias, uint32(p))
				delete(e.st.gone, uint32(p))
				e.markDirty(uint32(p), time.Time{})
			}
		case identity.Erased:
			for _, p := range append([]identity.PersonID{c.Person}, c.Aliases...) {
				e.clearState(uint32(p))
				e.st.gone[uint32(p)] = true
				delete(e.st.dirty, uint32(p))
				delete(e.st.resplit, uint32(p))
			}
		}
	}
	return errors.Join(errs...)
}

// mergeState folds the loser's state into the survivor's.
func (e *Engine) mergeState(ctx context.Context, s, l uint32, at time.Time) error {
	var err error
	if mErr := e.st.sums.Merge(s, l); mErr != nil {
		err = fmt.Errorf("merge person %d into %d: summaries: %w", l, s, mErr)
	}
	e.st.win.merge(s, l)
	e.st.attrs.mergeRow(s, l)
	e.st.der.mergeRow(s, l)
	e.st.alias[l] = s
	e.st.ledgerGen++
	delete(e.st.dirty, l)
	if e.ledger != nil {
		// A loser without an account has nothing to move. Merging it
		// anyway would date the survivor's account at the merge, and a
		// history loaded after its identities (ObserveAll, then
		// RecordOrders) would then be refused as too late.
		if !e.st.accounts.Contains(l) {
			return err
		}
		if b, bErr := e.ledger.Balance(ctx, l, at); bErr == nil && b.Entries == 0 {
			return err
		}
		e.st.accounts.Add(s)
		at = later(at, e.cfg.LoyaltyFrom)
		rc, lErr := e.ledger.Apply(ctx, loyalty.Merge{Tx: fmt.Sprintf("merge/%d/%d", l, s), Member: s, From: l, At: at})
		if lErr != nil {
			err = errors.Join(err, fmt.Errorf("merge person %d into %d: loyalty: %w", l, s, lErr))
		} else {
			e.noteReceipt(s, rc)
		}
	}
	return err
}

// clearState deletes a person's data from the Engine's own structures
// (the index is handled by Rekey).
func (e *Engine) clearState(p uint32) {
	if int(p) >= e.st.persons {
		return
	}
	e.st.ledgerGen++
	_ = e.st.sums.Remove(p) // in range: growTo covers every issued person
	e.st.win.clear(p)
	e.st.attrs.clearRow(p)
	e.st.der.clearRow(p)
}

// markDirty schedules person p for re-derivation at the end of the write,
// at the later of at and the last refresh's as-of.
func (e *Engine) markDirty(p uint32, at time.Time) {
	if int(p) >= e.st.persons {
		return
	}
	d := e.st.dirty[p]
	d.at = later(d.at, at)
	e.st.dirty[p] = d
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// canon returns the live person p stands for, after the merges and
// splits applied so far. The lock is held.
func (e *Engine) canon(p identity.PersonID) (uint32, error) {
	q := uint32(p)
	if p == identity.NoPerson || int(q) >= e.st.persons {
		return 0, fmt.Errorf("person %d: %w", p, ErrUnknownPerson)
	}
	for range len(e.st.alias) + 1 {
		if e.st.gone[q] {
			return 0, fmt.Errorf("person %d: %w", p, ErrErased)
		}
		s, ok := e.st.alias[q]
		if !ok {
			if q != uint32(p) {
				e.st.alias[uint32(p)] = q // shorten the chain
			}
			return q, nil
		}
		q = s
	}
	return 0, fmt.Errorf("person %d: alias cycle: %w", p, ErrCorrupt)
}

// categoryID interns a line-item category name for rfm.
func (e *Engine) categoryID(name string) uint32 {
	if id, ok := e.st.cats[name]; ok {
		return id
	}
	id := uint32(len(e.st.catNames))
	e.st.cats[name] = id
	e.st.catNames = append(e.st.catNames, name)
	return id
}

// Schema returns the schema tag rules are checked against: the host's
// attributes followed by the derived fields.
func (e *Engine) Schema() *tags.Schema { return e.schema }

// Location returns the tenant's time zone.
func (e *Engine) Location() *time.Location { return e.cfg.Location }

// AsOf returns the as-of time of the last RefreshTags, and false before
// the first.
func (e *Engine) AsOf() (time.Time, bool) {
	if t := e.asOf.Load(); t != nil {
		return *t, true
	}
	return time.Time{}, false
}
