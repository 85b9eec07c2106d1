package rfm

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// A Channel is where an order was placed. Offline and Online are the two
// that most rules need ("omnichannel" = bought on both); a host that wants
// more (store, mini program, platform, O2O) numbers its own from 0 up to
// Config.Channels-1.
type Channel uint8

// The default channels.
const (
	Offline Channel = 0
	Online  Channel = 1
)

// A Tx is one order, or one refund, of one member.
type Tx struct {
	Member uint32
	Time   time.Time
	// Amount is in minor units (fen). A refund has RefundOf set; its amount
	// may be given negative or positive and is subtracted either way. A
	// negative amount without RefundOf is rejected with ErrUnlinkedRefund.
	Amount   int64
	Channel  Channel
	Order    uint64 // the order's ID; informational
	RefundOf uint64 // the refunded order's ID; non-zero marks a refund
	Lines    []Line // optional line items, for repurchase timing by category
}

// A Line is one line item of an order.
type Line struct {
	Category uint32 // the host's category ID (e.g. a drug class)
	Amount   int64  // minor units; informational
	// DaysSupply is how many days the line lasts (quantity already
	// included); 0 when unknown.
	DaysSupply int32
}

// Config says which transactions a Summaries covers. The zero Config is not
// usable: AsOf is required.
type Config struct {
	// Location gives the calendar days that recency, distinct purchase days
	// and windows are counted in. Nil means UTC.
	Location *time.Location
	// From is the start of the window (inclusive); zero means all history.
	From time.Time
	// AsOf is the time the summaries describe: transactions after it are
	// outside the window and skipped, and recency is counted to its day.
	AsOf time.Time
	// Channels is the number of channels counted per member; 0 means 2
	// (Offline and Online). At most 16.
	Channels int
}

// Stats counts what Add and AddBatch did with the transactions they saw.
type Stats struct {
	Read         int // transactions seen
	Purchases    int // orders added
	Refunds      int // refunds subtracted
	BeforeWindow int // skipped: before Config.From
	AfterAsOf    int // skipped: after Config.AsOf
	Rejected     int // bad transactions (see TxError)
	// Unordered counts purchases that arrived more than 63 days before the
	// member's latest purchase day and fell strictly between the member's
	// first and last days: they are counted as a new purchase day, which
	// overcounts Days if the member already bought that day.
	Unordered int
}

func (a *Stats) add(b Stats) {
	a.Read += b.Read
	a.Purchases += b.Purchases
	a.Refunds += b.Refunds
	a.BeforeWindow += b.BeforeWindow
	a.AfterAsOf += b.AfterAsOf
	a.Rejected += b.Rejected
	a.Unordered += b.Unordered
}

// blockBits sets the width of a member block: category state is kept per
// block of 2^16 members (roaring's container size), so writers on
// block-aligned ranges never share a map.
const blockBits = 16

// Summaries holds per-member purchase summaries for dense member IDs
// 0..Len()-1 in column arrays (about 56 bytes per member with two
// channels, plus 24 bytes per member × category seen in line items).
//
// Concurrency: the writes (Add, AddBatch, Merge, Remove, Grow, Advance)
// must not run concurrently with each other or with reads. Writers from Writers may run concurrently with each other
// (they cover disjoint member ranges) but not with Add, AddBatch or reads.
// Reads (Member, Score, Segment, CLV data, repurchase) may run concurrently
// with each other.
type Summaries struct {
	loc       *time.Location
	fromUnix  int64
	asOfUnix  int64
	asOfDay   int32
	nChannels int

	firstDay, lastDay []int32
	orders, days      []uint32
	spend, refunded   []int64
	firstSpend        []int64 // purchases on the first purchase day
	mask              []uint64
	chans             []uint32 // nChannels per member

	cats []map[uint64]catState // one map per block of 2^16 members

	mu    sync.Mutex
	stats Stats
	clk   clock // for Add
}

// catState is one member's history in one category.
type catState struct {
	first, last int32 // purchase days
	runOut      int32 // day the supply bought so far runs out
	n           uint32
	supplied    bool // some line carried days-supply
}

// New returns empty Summaries for members 0..members-1.
func New(members int, cfg Config) (*Summaries, error) {
	if members < 0 || uint64(members) > 1<<32 {
		return nil, fmt.Errorf("members %d out of range: %w", members, ErrConfig)
	}
	if cfg.AsOf.IsZero() {
		return nil, fmt.Errorf("as-of time is required: %w", ErrConfig)
	}
	if cfg.Channels == 0 {
		cfg.Channels = 2
	}
	if cfg.Channels < 0 || cfg.Channels > 16 {
		return nil, fmt.Errorf("channels %d out of range 1..16: %w", cfg.Channels, ErrConfig)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if !cfg.From.IsZero() && cfg.From.After(cfg.AsOf) {
		return nil, fmt.Errorf("window start %s after as-of %s: %w", cfg.From, cfg.AsOf, ErrConfig)
	}
	s := &Summaries{
		loc:       cfg.Location,
		fromUnix:  minInt64,
		asOfUnix:  cfg.AsOf.Unix(),
		asOfDay:   dayOf(cfg.AsOf, cfg.Location),
		nChannels: cfg.Channels,
		clk:       newClock(cfg.Location),
	}
	if !cfg.From.IsZero() {
		s.fromUnix = unixCeil(cfg.From)
	}
	s.Grow(members)
	return s, nil
}

// unixCeil rounds t up to a whole second, so that a window starting at a
// fraction of a second excludes the second before it.
func unixCeil(t time.Time) int64 {
	u := t.Unix()
	if t.Nanosecond() > 0 {
		u++
	}
	return u
}

// Grow extends the Summaries to hold members 0..members-1; it never
// shrinks. It must not run concurrently with anything else.
func (s *Summaries) Grow(members int) {
	if members <= len(s.orders) {
		return
	}
	s.firstDay = growTo(s.firstDay, members)
	s.lastDay = growTo(s.lastDay, members)
	s.orders = growTo(s.orders, members)
	s.days = growTo(s.days, members)
	s.spend = growTo(s.spend, members)
	s.refunded = growTo(s.refunded, members)
	s.firstSpend = growTo(s.firstSpend, members)
	s.mask = growTo(s.mask, members)
	s.chans = growTo(s.chans, members*s.nChannels)
	blocks := (members + 1<<blockBits - 1) >> blockBits
	for len(s.cats) < blocks {
		s.cats = append(s.cats, nil)
	}
}

func growTo[T any](a []T, n int) []T {
	if n <= len(a) {
		return a
	}
	if n <= cap(a) {
		return a[:n]
	}
	b := make([]T, n, n)
	copy(b, a)
	return b
}

// Len returns the number of members the Summaries holds.
func (s *Summaries) Len() int { return len(s.orders) }

// Location returns the time zone days are counted in.
func (s *Summaries) Location() *time.Location { return s.loc }

// AsOf returns the local midnight of the as-of day.
func (s *Summaries) AsOf() time.Time { return dateOf(s.asOfDay, s.loc) }

// Advance moves the as-of time forward to t, for incremental use: later
// transactions up to t are then accepted and recency grows. A t before the
// current as-of time is ignored, because transactions after it may already
// have been added.
func (s *Summaries) Advance(t time.Time) {
	if t.Unix() <= s.asOfUnix {
		return
	}
	s.asOfUnix = t.Unix()
	s.asOfDay = dayOf(t, s.loc)
}

// Stats returns what has been added so far, over Add, AddBatch and closed
// Writers.
func (s *Summaries) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Add adds one transaction. A bad transaction is returned as a *TxError
// (with Row -1) and changes nothing. A transaction outside the window is
// skipped without error and counted in Stats.
func (s *Summaries) Add(tx *Tx) error {
	w := Writer{s: s, lo: 0, hi: uint64(len(s.orders)), clk: s.clk}
	err := w.add(tx.Member, tx.Time.Unix(), tx.Amount, tx.Channel, tx.RefundOf, tx.Lines)
	s.clk = w.clk
	s.mu.Lock()
	s.stats.add(w.stats)
	s.mu.Unlock()
	if err != nil {
		return &TxError{Row: -1, Member: tx.Member, Err: err}
	}
	return nil
}

// A Writer adds transactions for the members of one range. Writers from
// one call to Writers cover disjoint ranges and may be used from different
// goroutines at once; one Writer must not be shared. Close it to add its
// counts to the Summaries' Stats.
type Writer struct {
	s      *Summaries
	lo, hi uint64
	clk    clock
	stats  Stats
}

// Writers splits the members into k ranges aligned to blocks of 65,536
// members (so some may be empty when there are few members) and returns
// one Writer for each, in increasing member order.
func (s *Summaries) Writers(k int) []*Writer {
	k = max(k, 1)
	n := uint64(len(s.orders))
	blocks := (n + 1<<blockBits - 1) >> blockBits
	ws := make([]*Writer, k)
	for i := range k {
		lo := min(blocks*uint64(i)/uint64(k)<<blockBits, n)
		hi := min(blocks*uint64(i+1)/uint64(k)<<blockBits, n)
		ws[i] = &Writer{s: s, lo: lo, hi: hi, clk: newClock(s.loc)}
	}
	return ws
}

// Range returns the members [lo, hi) the Writer accepts.
func (w *Writer) Range() (lo, hi uint64) { return w.lo, w.hi }

// Contains reports whether the Writer accepts member m.
func (w *Writer) Contains(m uint32) bool { return uint64(m) >= w.lo && uint64(m) < w.hi }

// Add adds one transaction of a member in the Writer's range; a member
// outside it is rejected with ErrOutOfRange (or ErrUnknownMember past the
// last member).
func (w *Writer) Add(tx *Tx) error {
	if err := w.add(tx.Member, tx.Time.Unix(), tx.Amount, tx.Channel, tx.RefundOf, tx.Lines); err != nil {
		return &TxError{Row: -1, Member: tx.Member, Err: err}
	}
	return nil
}

// Close adds the Writer's counts to the Summaries' Stats. The Writer must
// not be used afterwards.
func (w *Writer) Close() {
	w.s.mu.Lock()
	w.s.stats.add(w.stats)
	w.s.mu.Unlock()
	w.stats = Stats{}
}

// add is the hot path shared by every way in.
func (w *Writer) add(m uint32, unix, amount int64, ch Channel, refundOf uint64, lines []Line) error {
	s := w.s
	w.stats.Read++
	switch {
	case uint64(m) >= uint64(len(s.orders)):
		w.stats.Rejected++
		return ErrUnknownMember
	case !w.Contains(m):
		w.stats.Rejected++
		return ErrOutOfRange
	case int(ch) >= s.nChannels:
		w.stats.Rejected++
		return fmt.Errorf("%w: %d of %d", ErrBadChannel, ch, s.nChannels)
	case amount < 0 && refundOf == 0:
		w.stats.Rejected++
		return ErrUnlinkedRefund
	}
	for i := range lines {
		if lines[i].DaysSupply < 0 {
			w.stats.Rejected++
			return fmt.Errorf("%w: line %d: days-supply %d", ErrBadLine, i, lines[i].DaysSupply)
		}
	}
	if unix < s.fromUnix {
		w.stats.BeforeWindow++
		return nil
	}
	if unix > s.asOfUnix {
		w.stats.AfterAsOf++
		return nil
	}
	if refundOf != 0 {
		if amount < 0 {
			amount = -amount
		}
		s.refunded[m] += amount
		w.stats.Refunds++
		return nil
	}
	w.stats.Purchases++
	d := w.clk.day(unix)
	s.spend[m] += amount
	s.chans[int(m)*s.nChannels+int(ch)]++
	if s.orders[m] == 0 {
		s.orders[m] = 1
		s.days[m] = 1
		s.firstDay[m], s.lastDay[m] = d, d
		s.firstSpend[m] = amount
		s.mask[m] = 1
	} else {
		s.orders[m]++
		if w.addDay(m, d) {
			s.days[m]++
		}
		switch {
		case d < s.firstDay[m]:
			s.firstDay[m] = d
			s.firstSpend[m] = amount
		case d == s.firstDay[m]:
			s.firstSpend[m] += amount
		}
	}
	if len(lines) > 0 {
		w.addLines(m, d, lines)
	}
	return nil
}

// addDay records purchase day d of member m and reports whether it is a
// new purchase day. The mask remembers the 64 days ending at the last
// purchase day, so purchases that arrive late by up to 63 days are still
// counted exactly.
func (w *Writer) addDay(m uint32, d int32) bool {
	s := w.s
	last := s.lastDay[m]
	switch {
	case d > last:
		if shift := uint64(d - last); shift >= 64 {
			s.mask[m] = 1
		} else {
			s.mask[m] = s.mask[m]<<shift | 1
		}
		s.lastDay[m] = d
		return true
	case last-d < 64:
		bit := uint64(1) << uint(last-d)
		if s.mask[m]&bit != 0 {
			return false
		}
		s.mask[m] |= bit
		return true
	case d < s.firstDay[m]:
		return true
	case d == s.firstDay[m]:
		return false
	default:
		w.stats.Unordered++
		return true
	}
}

func (w *Writer) addLines(m uint32, d int32, lines []Line) {
	s := w.s
	b := m >> blockBits
	if s.cats[b] == nil {
		s.cats[b] = make(map[uint64]catState)
	}
	cm := s.cats[b]
	for _, l := range lines {
		k := uint64(m)<<32 | uint64(l.Category)
		st, ok := cm[k]
		switch {
		case !ok:
			st = catState{first: d, last: d, runOut: d, n: 1}
		case d > st.last:
			st.last = d
			st.n++
		case d < st.first:
			st.first = d
			st.n++
		case d != st.first && d != st.last:
			st.n++
		}
		if l.DaysSupply > 0 {
			st.runOut = max(st.runOut, d) + l.DaysSupply
			st.supplied = true
		}
		cm[k] = st
	}
}

// A Batch is transactions in columns, the fast way in: no time.Time and
// no line items. All columns that are not nil have the same length.
type Batch struct {
	Member   []uint32
	Time     []int64   // Unix seconds
	Amount   []int64   // minor units; see Tx.Amount
	Channel  []Channel // nil: all Offline
	RefundOf []uint64  // nil: no refunds
}

// Len returns the number of rows.
func (b *Batch) Len() int { return len(b.Member) }

// AddBatch adds the rows of b on GOMAXPROCS workers, each taking the rows
// of its own member range in row order, so each member's transactions are
// applied in row order. Rejected rows are reported in a *BatchError and
// the rest are added; a cancelled context stops the work part way and
// returns ctx.Err().
func (s *Summaries) AddBatch(ctx context.Context, b *Batch) error {
	n := len(b.Member)
	if len(b.Time) != n || len(b.Amount) != n || (b.Channel != nil && len(b.Channel) != n) || (b.RefundOf != nil && len(b.RefundOf) != n) {
		return fmt.Errorf("batch columns of unequal length: %w", ErrConfig)
	}
	workers := runtime.GOMAXPROCS(0)
	if n < 1<<14 {
		workers = 1
	}
	ws := s.Writers(workers)
	errs := make([][]*TxError, len(ws))
	var wg sync.WaitGroup
	var cancelled error
	var once sync.Once
	for i, w := range ws {
		wg.Go(func() {
			var bad []*TxError
			for start := 0; start < n; start += 1 << 16 {
				if err := ctx.Err(); err != nil {
					once.Do(func() { cancelled = err })
					break
				}
				end := min(start+1<<16, n)
				for r := start; r < end; r++ {
					m := b.Member[r]
					// Members past the end belong to the last writer, which
					// rejects them as unknown.
					if !w.Contains(m) && (i < len(ws)-1 || uint64(m) < uint64(len(s.orders))) {
						continue
					}
					var ch Channel
					if b.Channel != nil {
						ch = b.Channel[r]
					}
					var ref uint64
					if b.RefundOf != nil {
						ref = b.RefundOf[r]
					}
					if err := w.add(m, b.Time[r], b.Amount[r], ch, ref, nil); err != nil {
						bad = append(bad, &TxError{Row: r, Member: m, Err: err})
					}
				}
			}
			errs[i] = bad
			w.Close()
		})
	}
	wg.Wait()
	if cancelled != nil {
		return cancelled
	}
	return collectErrors(errs)
}

// collectErrors merges per-worker row errors into one *BatchError in row
// order, keeping the first maxKeptErrors.
func collectErrors(parts [][]*TxError) error {
	var all []*TxError
	for _, p := range parts {
		all = append(all, p...)
	}
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b *TxError) int { return cmp.Compare(a.Row, b.Row) })
	return &BatchError{Rows: all[:min(len(all), maxKeptErrors)], Count: len(all)}
}
