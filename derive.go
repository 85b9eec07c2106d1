package cdpkit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cdpkit/cdpkit/rfm"
	"github.com/cdpkit/cdpkit/segment"
	"github.com/cdpkit/cdpkit/tags"
)

// derivedIndex locates each derived field's column in the derived table;
// -1 marks a field the configuration leaves out.
type derivedIndex struct {
	orders, spend, days, first, last, recency int
	winOrders, winSpend                       []int
	channels, channelsUsed                    int
	chanOrders                                []int
	r, f, m, seg                              int
	pAlive, alivePct, clv                     int
	next, refill                              int
	catDue                                    []int
	tier, points, growth                      int
}

func newDerivedIndex(fields []derivedField, c Config) derivedIndex {
	at := func(name string) int {
		return slices.IndexFunc(fields, func(f derivedField) bool { return f.Name == name })
	}
	dx := derivedIndex{
		orders: at(FieldOrders), spend: at(FieldSpend), days: at(FieldPurchaseDays),
		first: at(FieldFirstOrder), last: at(FieldLastOrder), recency: at(FieldRecency),
		channels: at(FieldChannels), channelsUsed: at(FieldChannelsUsed),
		r: at(FieldRFMR), f: at(FieldRFMF), m: at(FieldRFMM), seg: at(FieldRFMSegment),
		pAlive: at(FieldPAlive), alivePct: at(FieldAlivePct), clv: at(FieldCLV),
		next: at(FieldNextPurchase), refill: at(FieldRefillDue),
		tier: at(FieldTier), points: at(FieldPoints), growth: at(FieldGrowth),
	}
	for _, w := range c.Windows {
		dx.winOrders = append(dx.winOrders, at(windowOrdersField(w)))
		dx.winSpend = append(dx.winSpend, at(windowSpendField(w)))
	}
	for _, ch := range c.Channels {
		dx.chanOrders = append(dx.chanOrders, at(channelField(ch)))
	}
	for _, cat := range c.Categories {
		dx.catDue = append(dx.catDue, at(categoryField(cat)))
	}
	return dx
}

// liveInputs is what a person's live fields are computed from.
type liveInputs struct {
	sum     rfm.Summary
	asOfDay int32
	wins    [][2]int64 // orders and spend per window
	due     time.Time  // expected next order; zero when none
	cats    []rfm.CategoryDue
}

// setLive computes person p's live fields (all but the loyalty ones,
// which follow the ledger's receipts) into the derived table.
func (e *Engine) setLive(p uint32, in *liveInputs) {
	d, dx, loc := e.st.der, &e.dx, e.cfg.Location
	c := func(i int) *column { return &d.cols[i] }
	setOrClear := func(i int, ok bool, v int64) {
		if i < 0 {
			return
		}
		if ok {
			c(i).setInt(p, v)
		} else {
			c(i).clear(p)
		}
	}
	s := in.sum
	bought := s.Orders > 0
	c(dx.orders).setInt(p, int64(s.Orders))
	c(dx.spend).setInt(p, s.Monetary)
	c(dx.days).setInt(p, int64(s.Days))
	var firstDay, lastDay int32
	if bought {
		firstDay, lastDay = int32(segment.DayOf(s.First, loc)), int32(segment.DayOf(s.Last, loc))
		c(dx.first).setTime(p, s.First)
		c(dx.last).setTime(p, s.Last)
		c(dx.recency).setInt(p, int64(max(0, in.asOfDay-lastDay)))
	} else {
		c(dx.first).clear(p)
		c(dx.last).clear(p)
		c(dx.recency).clear(p)
	}
	for j := range dx.winOrders {
		c(dx.winOrders[j]).setInt(p, in.wins[j][0])
		c(dx.winSpend[j]).setInt(p, in.wins[j][1])
	}
	var used []string
	for ch, i := range dx.chanOrders {
		n := 0
		if ch < len(s.Channels) {
			n = s.Channels[ch]
		}
		c(i).setInt(p, int64(n))
		if n > 0 {
			used = append(used, e.cfg.Channels[ch])
		}
	}
	c(dx.channels).setList(p, used)
	c(dx.channelsUsed).setInt(p, int64(len(used)))
	if dx.pAlive >= 0 {
		ok := bought && e.st.model != nil
		var pa float64
		if ok {
			tx := float64(lastDay - firstDay)
			pa = e.st.model.Purchases.PAlive(s.Days-1, tx, max(float64(in.asOfDay-firstDay), tx))
			ok = !math.IsNaN(pa)
		}
		if ok {
			c(dx.pAlive).setDouble(p, pa)
		} else {
			c(dx.pAlive).clear(p)
		}
		setOrClear(dx.alivePct, ok, int64(math.Round(100*pa)))
	}
	dayOf := func(t time.Time) int64 { return int64(int32(segment.DayOf(t, loc)) - in.asOfDay) }
	setOrClear(dx.next, !in.due.IsZero(), dayOf(in.due))
	refill, hasRefill := int64(0), false
	for _, i := range dx.catDue {
		c(i).clear(p)
	}
	for _, cd := range in.cats {
		if cd.Due.IsZero() {
			continue
		}
		v := dayOf(cd.Due)
		if cd.FromSupply && (!hasRefill || v < refill) {
			refill, hasRefill = v, true
		}
		if j, ok := e.st.catOf[cd.Category]; ok {
			c(dx.catDue[j]).setInt(p, v)
		}
	}
	setOrClear(dx.refill, hasRefill, refill)
}

// liveOf gathers person p's inputs at asOf from the current state, for
// re-deriving one person.
func (e *Engine) liveOf(p uint32, asOf time.Time) *liveInputs {
	in := &liveInputs{sum: e.st.sums.Member(p), asOfDay: int32(segment.DayOf(asOf, e.cfg.Location))}
	for _, w := range e.cfg.Windows {
		o, s := e.st.win.window(p, in.asOfDay, w)
		in.wins = append(in.wins, [2]int64{o, s})
	}
	if e.st.means != nil {
		in.due, _, _, in.cats = e.st.sums.MemberDue(p, *e.st.means)
	}
	return in
}

// A TagChange reports the tags one person gained and lost when the
// Engine re-derived the person after a change (an order, new attributes,
// a merge), at AsOf. A changed value of an enumerated tag is a loss of
// the old value and a gain of the new one.
type TagChange struct {
	Person       uint32          // the person re-derived
	AsOf         time.Time       // the time the rules were evaluated at
	Gained, Lost []tags.TagValue // tags the person now has and no longer has
}

// ixOp is one member's change to one index field.
type ixOp struct {
	field string
	kind  segment.Kind // KindInt or KindEnum
	id    uint32
	clear bool
	i     int64
	s     string
}

func (o ixOp) apply(tx *segment.Tx) error {
	switch {
	case o.kind == segment.KindInt && o.clear:
		return tx.ClearInt(o.field, o.id)
	case o.kind == segment.KindInt:
		return tx.SetInt(o.field, o.id, o.i)
	case o.clear:
		return tx.ClearEnum(o.field, o.id)
	default:
		return tx.SetEnum(o.field, o.id, o.s)
	}
}

// rowOps returns the index writes that bring the index's copy of row p
// of tbl (whose field i is schema field off+i) in line with the table,
// for the fields where the table differs from before (row 0 of old).
func (e *Engine) rowOps(tbl, old *table, off int, p uint32, ops []ixOp) []ixOp {
	for i := range tbl.cols {
		f, _ := e.schema.Field(tags.FieldID(off + i))
		if f.Index == tags.NotIndexed || tbl.cols[i].equalRow(p, &old.cols[i], 0) {
			continue
		}
		ops = append(ops, e.fieldOp(tbl, i, f, p))
	}
	return ops
}

// fieldOp is the index write that sets member p's value of field f
// (column i of tbl) as the table holds it.
func (e *Engine) fieldOp(tbl *table, i int, f tags.Field, p uint32) ixOp {
	c := &tbl.cols[i]
	op := ixOp{field: indexName(f), kind: segment.KindInt, id: p, clear: !c.has(p)}
	if op.clear {
		if f.Index == tags.AsEnum {
			op.kind = segment.KindEnum
		}
		return op
	}
	switch f.Index {
	case tags.AsInt:
		op.i = c.i64[p]
	case tags.AsDay:
		op.i = tags.DayNumber(time.Unix(c.i64[p], int64(c.ns[p])), e.cfg.Location)
	case tags.AsEnum:
		op.kind, op.s = segment.KindEnum, c.dict.values[c.str[p]]
	}
	return op
}

// snapshotRow copies row p of tbl into row 0 of a scratch table.
func snapshotRow(tbl *table, p uint32) *table {
	types := make([]tags.Type, len(tbl.cols))
	for i := range tbl.cols {
		types[i] = tbl.cols[i].typ
	}
	s := newTable(types, time.UTC)
	s.grow(1)
	for i := range tbl.cols {
		c, sc := &tbl.cols[i], &s.cols[i]
		if v, ok := c.value(p); ok {
			_ = sc.setValue(0, v) // a value of the column's own type
		}
	}
	return s
}

// record fills rec with person p's attributes and derived fields.
func (e *Engine) record(p uint32, rec *tags.Record) error {
	rec.Reset(p)
	for i := range e.st.attrs.cols {
		if err := e.st.attrs.cols[i].toRecord(p, rec, tags.FieldID(i)); err != nil {
			return fmt.Errorf("person %d: %w", p, err)
		}
	}
	for i := range e.st.der.cols {
		if err := e.st.der.cols[i].toRecord(p, rec, tags.FieldID(e.hostN+i)); err != nil {
			return fmt.Errorf("person %d: %w", p, err)
		}
	}
	return nil
}

// rederiveDirty re-derives the persons whose data changed during this
// write — live fields and tags — once a refresh has set a clock, and
// writes the changes to the index in one transaction. The lock is held.
func (e *Engine) rederiveDirty(ctx context.Context) ([]TagChange, error) {
	if len(e.st.dirty) == 0 {
		return nil, nil
	}
	dirty := e.st.dirty
	e.st.dirty = map[uint32]dirtyAt{}
	if e.st.asOf.IsZero() {
		return nil, nil // nothing is derived before the first refresh
	}
	persons := make([]uint32, 0, len(dirty))
	for p := range dirty {
		if !e.st.gone[p] && !e.isAlias(p) {
			persons = append(persons, p)
		}
	}
	slices.Sort(persons)
	view := e.ix.View()
	hasRules := e.hasRuleTags()
	var ops []ixOp
	var changes []TagChange
	var tagOps []func(tx *segment.Tx) error
	rec := e.schema.NewRecord(0)
	for _, p := range persons {
		at := later(dirty[p].at, e.st.asOf)
		old := snapshotRow(e.st.der, p)
		e.setLive(p, e.liveOf(p, at))
		ops = e.rowOps(e.st.der, old, e.hostN, p, ops)
		if !hasRules {
			continue
		}
		if err := e.record(p, rec); err != nil {
			return changes, err
		}
		res, err := e.set.EvalMember(view, tags.Clock{AsOf: at, Location: e.cfg.Location}, rec)
		if err != nil {
			return changes, fmt.Errorf("re-tag person %d: %w", p, err)
		}
		if len(res.Gained)+len(res.Lost) > 0 {
			changes = append(changes, TagChange{Person: p, AsOf: at, Gained: res.Gained, Lost: res.Lost})
			tagOps = append(tagOps, e.tagWrites(p, res)...)
		}
	}
	err := e.ix.Update(func(tx *segment.Tx) error {
		for _, op := range ops {
			if err := op.apply(tx); err != nil {
				return fmt.Errorf("person %d: field %q: %w", op.id, op.field, err)
			}
		}
		for _, w := range tagOps {
			if err := w(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("re-derive: %w", err)
	}
	return changes, nil
}

func (e *Engine) isAlias(p uint32) bool {
	_, ok := e.st.alias[p]
	return ok
}

// tagWrites are the index writes that give person p the tags of res.
func (e *Engine) tagWrites(p uint32, res *tags.MemberResult) []func(tx *segment.Tx) error {
	var out []func(tx *segment.Tx) error
	for _, l := range res.Lost {
		name := l.Tag
		out = append(out, func(tx *segment.Tx) error {
			if k, _ := tx.FieldKind(name); k == segment.KindEnum {
				return tx.ClearEnum(name, p)
			}
			return tx.RemoveTag(name, p)
		})
	}
	for _, g := range res.Gained {
		name, value := g.Tag, g.Value
		out = append(out, func(tx *segment.Tx) error {
			if k, _ := tx.FieldKind(name); k == segment.KindEnum {
				return tx.SetEnum(name, p, value)
			}
			return tx.AddTag(name, p)
		})
	}
	return out
}

// hasRuleTags reports whether any tag is decided by a rule.
func (e *Engine) hasRuleTags() bool {
	return slices.ContainsFunc(e.set.Tags(), func(t *tags.Tag) bool { return t.Kind() != tags.KindManual })
}

// deriveAll computes every person's derived fields at asOf — the live
// ones and the population ones (scores, segments, lifetime value) — into
// the derived table. The lock is held.
func (e *Engine) deriveAll(ctx context.Context, asOf time.Time) error {
	st := &e.st
	n := st.persons
	st.sums.Advance(asOf)
	asOfDay := int32(segment.DayOf(asOf, e.cfg.Location))
	scores, err := st.sums.Score(nil)
	if err != nil {
		return fmt.Errorf("rfm scores: %w", err)
	}
	segs, err := rfm.Grid().Assign(scores)
	if err != nil {
		return fmt.Errorf("rfm segments: %w", err)
	}
	st.model = nil
	var clv map[uint32]int64
	if !e.cfg.NoLifetimeValue {
		if clv, err = e.fitLifetime(ctx); err != nil {
			return err
		}
	}
	rp := st.sums.Repurchase(rfm.RepurchaseOptions{})
	means := rp.Means()
	st.means = &means
	cats := rp.Categories()
	catStart := make([]int32, n+1) // person p's entries are cats[catStart[p]:catStart[p+1]]
	for _, cd := range cats {
		if int(cd.Member) < n {
			catStart[cd.Member+1]++
		}
	}
	for p := range n {
		catStart[p+1] += catStart[p]
	}
	wins := e.windowsAll(asOfDay)
	for _, name := range segs.Names {
		st.der.cols[e.dx.seg].dict.code(name) // workers only read the dictionary
	}

	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	chunk := (n/workers + 63) &^ 63 // rows of one bitset word stay with one worker
	for lo := 0; lo < n; lo += max(chunk, 64) {
		hi := min(n, lo+max(chunk, 64))
		wg.Go(func() {
			in := &liveInputs{asOfDay: asOfDay, wins: make([][2]int64, len(e.cfg.Windows))}
			for p := uint32(lo); p < uint32(hi); p++ {
				if st.gone[p] || e.isAlias(p) {
					st.der.clearRow(p)
					continue
				}
				in.sum = st.sums.Member(p)
				for j := range wins {
					in.wins[j] = [2]int64{wins[j][0][p], wins[j][1][p]}
				}
				in.due = time.Time{}
				if due, _, ok := rp.Due(p); ok {
					in.due = due
				}
				in.cats = cats[catStart[p]:catStart[p+1]]
				e.setLive(p, in)
				e.setPopulation(p, scores, segs, clv)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return e.loyaltyAll(ctx, asOf)
}

// loyaltyAll reads every live account's tier, points and growth as of
// asOf from the ledger, on all cores. Between refreshes the fields follow
// each operation's receipt, as of the operation.
func (e *Engine) loyaltyAll(ctx context.Context, asOf time.Time) error {
	if e.ledger == nil {
		return nil
	}
	if b := e.st.balances; b.ok && b.gen == e.st.ledgerGen && b.asOf.Equal(asOf) {
		return nil // read back at this as-of, and nothing changed since
	}
	var accounts []uint32
	for it := e.st.accounts.Iterator(); it.HasNext(); {
		if m := it.Next(); int(m) < e.st.persons && !e.st.gone[m] && !e.isAlias(m) {
			accounts = append(accounts, m)
		}
	}
	d, dx := e.st.der, &e.dx
	for _, t := range e.cfg.Program.Tiers() {
		d.cols[dx.tier].dict.code(t.Name) // workers only read the dictionary
	}
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	// Accounts are split by 64-person blocks, so workers never share a
	// presence word.
	for w := range workers {
		wg.Go(func() {
			for _, m := range accounts {
				if int(m>>6)%workers != w {
					continue
				}
				b, err := e.ledger.Balance(ctx, m, asOf)
				if err != nil {
					errs[w] = fmt.Errorf("loyalty balance of %d: %w", m, err)
					return
				}
				d.cols[dx.tier].setString(m, b.Tier)
				d.cols[dx.points].setInt(m, b.Available)
				d.cols[dx.growth].setInt(m, b.Growth)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	e.st.balances = balancesRead{gen: e.st.ledgerGen, asOf: asOf, ok: true}
	return nil
}

// setPopulation sets person p's population fields.
func (e *Engine) setPopulation(p uint32, sc *rfm.Scores, segs *rfm.Segments, clv map[uint32]int64) {
	d, dx := e.st.der, &e.dx
	r, f, m := sc.Cell(p)
	for i, v := range [3]int{r, f, m} {
		col := &d.cols[[3]int{dx.r, dx.f, dx.m}[i]]
		if v > 0 {
			col.setInt(p, int64(v))
		} else {
			col.clear(p)
		}
	}
	if name := segs.Name(p); name != "" {
		d.cols[dx.seg].setString(p, name) // interned before the workers start
	} else {
		d.cols[dx.seg].clear(p)
	}
	if dx.clv >= 0 {
		if v, ok := clv[p]; ok {
			d.cols[dx.clv].setInt(p, v)
		} else {
			d.cols[dx.clv].clear(p)
		}
	}
}

// fitLifetime fits BG/NBD and Gamma-Gamma on the buyers' histories and
// returns each buyer's expected spend over the next 365 days. A fit that
// finds nothing to fit leaves the model out; one that stops short of
// convergence keeps its best estimates, as rfm recommends.
func (e *Engine) fitLifetime(ctx context.Context) (map[uint32]int64, error) {
	h := e.st.sums.Histories(rfm.HistoryOptions{Unit: rfm.Day, SpendScale: 1})
	if h.Len() == 0 {
		return nil, nil
	}
	bg, _, err := rfm.FitBGNBD(ctx, h)
	switch {
	case errors.Is(err, rfm.ErrNoData):
		return nil, nil
	case err != nil && !errors.Is(err, rfm.ErrNotConverged):
		return nil, fmt.Errorf("fit BG/NBD: %w", err)
	}
	model := &rfm.Model{Purchases: bg}
	if gg, _, err := rfm.FitGammaGamma(ctx, h); err == nil || errors.Is(err, rfm.ErrNotConverged) {
		model.Spend = &gg
	}
	e.st.model = model
	if model.Spend == nil {
		return nil, nil
	}
	preds, err := model.PredictAll(ctx, h, rfm.ValueOptions{Horizon: 365})
	if err != nil {
		return nil, fmt.Errorf("predict lifetime value: %w", err)
	}
	clv := make(map[uint32]int64, len(preds))
	for i, pr := range preds {
		if !math.IsNaN(pr.CLV) && !math.IsInf(pr.CLV, 0) {
			clv[h.Member[i]] = int64(math.Round(pr.CLV))
		}
	}
	return clv, nil
}

// windowsAll sums every person's orders and spend per window at asOfDay:
// wins[j][0][p] orders and wins[j][1][p] spend in window j.
func (e *Engine) windowsAll(asOfDay int32) [][2][]int64 {
	n := e.st.persons
	w := e.st.win
	out := make([][2][]int64, len(e.cfg.Windows))
	for j := range out {
		out[j] = [2][]int64{make([]int64, n), make([]int64, n)}
	}
	for i, p := range w.person {
		k := w.kind[i]
		if k == entryDeleted || int(p) >= n {
			continue
		}
		d := w.day[i]
		if d > asOfDay {
			continue
		}
		for j, days := range e.cfg.Windows {
			if d <= asOfDay-int32(days) {
				continue
			}
			if k == entryOrder {
				out[j][0][p]++
			}
			out[j][1][p] += w.amount[i]
		}
	}
	return out
}

// writeColumns replaces the index's copy of the indexed columns of tbl
// (field i is schema field off+i) for persons 0..n-1.
func (e *Engine) writeColumns(tx *segment.Tx, tbl *table, off, n int) error {
	for i := range tbl.cols {
		f, _ := e.schema.Field(tags.FieldID(off + i))
		if f.Index == tags.NotIndexed {
			continue
		}
		name, c := indexName(f), &tbl.cols[i]
		present := tbl.present(i, n)
		switch f.Index {
		case tags.AsInt:
			if err := tx.ReplaceIntColumn(name, c.i64[:n], present); err != nil {
				return fmt.Errorf("field %q: %w", name, err)
			}
		case tags.AsDay:
			days := make([]int64, n)
			for it := present.Iterator(); it.HasNext(); {
				p := it.Next()
				days[p] = tags.DayNumber(time.Unix(c.i64[p], int64(c.ns[p])), e.cfg.Location)
			}
			if err := tx.ReplaceIntColumn(name, days, present); err != nil {
				return fmt.Errorf("field %q: %w", name, err)
			}
		case tags.AsEnum:
			codes := make([]int32, n)
			for p := range codes {
				codes[p] = -1
			}
			for it := present.Iterator(); it.HasNext(); {
				p := it.Next()
				codes[p] = int32(c.str[p])
			}
			if err := tx.ReplaceEnumColumn(name, c.dict.values, codes); err != nil {
				return fmt.Errorf("field %q: %w", name, err)
			}
		}
	}
	return nil
}

// livePersons returns the persons that are neither aliases nor gone.
func (e *Engine) livePersons() *roaring.Bitmap {
	bm := roaring.New()
	bm.AddRange(0, uint64(e.st.persons))
	for p := range e.st.alias {
		bm.Remove(p)
	}
	for p := range e.st.gone {
		bm.Remove(p)
	}
	return bm
}

// LifetimeModel returns the BG/NBD and Gamma-Gamma model fitted at the
// last refresh (time in days, spend in fen), and false when there is
// none: before the first refresh, with Config.NoLifetimeValue, or when
// no buyer had a history to fit. Its Spend is nil when Gamma-Gamma could
// not be fitted.
func (e *Engine) LifetimeModel() (rfm.Model, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.st.model == nil {
		return rfm.Model{}, false
	}
	m := *e.st.model
	if m.Spend != nil {
		g := *m.Spend
		m.Spend = &g
	}
	return m, true
}
