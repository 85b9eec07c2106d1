package synth

import (
	"iter"
	"slices"
	"time"
)

// Order is one order, or the refund of one. Amounts are in fen.
type Order struct {
	// ID is unique across the chain: member ID << 24 | the member's order
	// sequence in time order.
	ID      uint64
	Member  uint32
	Time    time.Time
	Channel Channel
	// Store is the store that sold or delivered the order; 0 for Taobao and
	// JD orders, shipped from the central warehouse.
	Store uint32
	// Amount is the net amount paid: the sum of the lines' amounts;
	// negative for a refund.
	Amount int64
	// RefundOf is, for a refund, the ID of the order refunded; 0 otherwise.
	RefundOf uint64
	// Lines are the order's line items. The slice is reused by the walk.
	Lines []Line
}

// IsRefund reports whether the order is the refund of an earlier one.
func (o *Order) IsRefund() bool { return o.RefundOf != 0 }

// Clone returns a copy of o that does not share Lines with the walk.
func (o Order) Clone() Order {
	o.Lines = slices.Clone(o.Lines)
	return o
}

// Line is one line item of an order.
type Line struct {
	Category string // e.g. "otc_cold", "rx_diabetes", "grocery"
	SKU      uint32
	Qty      int32
	Amount   int64 // fen, the line's total; negative in a refund
	// DaysSupply is how many days of a chronic medicine the line supplies
	// (28, 30, 60 or 90); 0 for anything else.
	DaysSupply int32
}

// Orders walks the orders and refunds of every member, member by member in
// increasing ID order, each member's in time order.
func (g *Generator) Orders() iter.Seq[Order] { return g.OrdersRange(0, uint32(g.cfg.Members)) }

// OrdersRange walks the orders and refunds of members lo..hi-1.
func (g *Generator) OrdersRange(lo, hi uint32) iter.Seq[Order] {
	hi = min(hi, uint32(g.cfg.Members))
	return func(yield func(Order) bool) {
		w := orderWalk{g: g}
		for id := lo; id < hi; id++ {
			w.generate(id)
			for i := range w.orders {
				o := &w.orders[i]
				out := Order{
					ID:       o.id,
					Member:   id,
					Time:     time.Unix(g.start+o.sec, 0).In(g.cfg.Location),
					Channel:  o.channel,
					Store:    o.store,
					Amount:   o.amount,
					RefundOf: o.refundOf,
					Lines:    w.lines[o.lo:o.hi:o.hi],
				}
				if !yield(out) {
					return
				}
			}
		}
	}
}

type genOrder struct {
	sec      int64 // seconds since Start
	id       uint64
	refundOf uint64
	amount   int64
	lo, hi   int
	store    uint32
	channel  Channel
}

// orderWalk holds the buffers of one walk over orders.
type orderWalk struct {
	g      *Generator
	mp, op pcg
	m      Member
	orders []genOrder
	sorted []genOrder
	keys   []uint64
	merged []uint64
	// runs holds the end of each run of orders generated nearly in time
	// order, the last one len(orders).
	runs  []int
	lines []Line
}

// Hours of the day at which stores and online shops take orders: stores
// trade 08:00-22:00 with a lunchtime and an evening peak; online orders
// run late into the evening.
var (
	storeHours  = newCategorical(0, 0, 0, 0, 0, 0, 0, 0, 4, 6, 7, 7, 6, 5, 5, 5, 6, 7, 9, 9, 8, 6, 0, 0)
	onlineHours = newCategorical(1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 3, 4, 5, 5, 6, 5, 5, 5, 5, 6, 7, 9, 10, 10, 8, 4)
)

func (w *orderWalk) generate(id uint32) {
	g := w.g
	g.member(&w.mp, id, &w.m)
	m := &w.m
	seedStream(&w.op, g.cfg.Seed, streamOrders, id)
	r := newRNG(&w.op)
	w.orders, w.lines, w.runs = w.orders[:0], w.lines[:0], w.runs[:0]

	start := m.RegisteredAt.Sub(g.cfg.Start).Hours() / 24
	end := g.days
	if m.Lapsed() {
		end = m.LapsedAt.Sub(g.cfg.Start).Hours() / 24
	}
	// Ordinary orders: a Poisson process at the member's rate.
	if m.OrdersPerDay > 0 {
		for t := start + r.ExpFloat64()/m.OrdersPerDay; t < end; t += r.ExpFloat64() / m.OrdersPerDay {
			w.ordinary(r, t)
		}
	}
	w.runs = append(w.runs, len(w.orders))
	// Refills: every days-supply over adherence, with jitter.
	for c := range numConditions {
		if !m.Conditions.Has(c) {
			continue
		}
		supply := [...]int32{28, 30, 30, 30, 60, 90}[r.IntN(6)]
		adherence := 0.6 + float64(0.4*r.Float64())
		price := int64(6000 + r.IntN(24000)) // fen per 30 days
		for t := start + float64(30*r.Float64()); t < end; {
			w.refill(r, t, c, supply, price)
			gap := float64(supply) / adherence * (1 + float64(0.08*r.NormFloat64()))
			t += max(gap, 1)
		}
		w.runs = append(w.runs, len(w.orders))
	}
	w.sortOrders()
	for i := range w.orders {
		w.orders[i].id = uint64(id)<<24 | uint64(i)
	}
	// Refunds, 1-14 days after their order, if before End.
	n := len(w.orders)
	for i := range n {
		if r.Float64() >= g.cfg.RefundShare {
			continue
		}
		sec := w.orders[i].sec + int64((1+float64(13*r.Float64()))*86400)
		if sec >= g.secs {
			continue
		}
		w.refund(r, i, sec)
	}
	if len(w.orders) > n {
		w.runs = append(w.runs[:0], n, len(w.orders))
		w.sortOrders()
		for i := range w.orders {
			if w.orders[i].refundOf != 0 {
				w.orders[i].id = uint64(id)<<24 | uint64(n)
				n++
			}
		}
	}
}

// sortOrders puts the orders in time order, ties in generation order. It
// sorts packed (seconds, index) keys, far cheaper than sorting the structs.
// The orders come in runs each nearly in time order (ordinary orders day by
// day, each condition's refills, the refunds), so it sorts each run by
// insertion and merges it into the runs before; the keys are distinct, so
// the order is the one any sort gives.
func (w *orderWalk) sortOrders() {
	keys := w.keys[:0]
	for i, o := range w.orders {
		keys = append(keys, uint64(o.sec)<<24|uint64(i))
	}
	lo := 0
	for _, hi := range w.runs {
		sortRun(keys[lo:hi])
		if lo > 0 && lo < hi && keys[lo-1] > keys[lo] {
			w.merged = mergeKeys(w.merged[:0], keys[:lo], keys[lo:hi])
			copy(keys, w.merged)
		}
		lo = hi
	}
	w.keys = keys
	// Most members' orders come out in time order already: keep them.
	i := 0
	for i < len(keys) && keys[i]&(1<<24-1) == uint64(i) {
		i++
	}
	if i == len(keys) {
		return
	}
	w.sorted = append(w.sorted[:0], w.orders[:i]...)
	for _, k := range keys[i:] {
		w.sorted = append(w.sorted, w.orders[k&(1<<24-1)])
	}
	w.orders, w.sorted = w.sorted, w.orders
}

// sortRun sorts a run of keys, by insertion when it is short enough that
// its disorder cannot cost much.
func sortRun(k []uint64) {
	if len(k) > 64 {
		slices.Sort(k)
		return
	}
	for i := 1; i < len(k); i++ {
		v := k[i]
		j := i
		for ; j > 0 && k[j-1] > v; j-- {
			k[j] = k[j-1]
		}
		k[j] = v
	}
}

// mergeKeys appends the merge of sorted a and b to dst.
func mergeKeys(dst, a, b []uint64) []uint64 {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < b[j] {
			dst = append(dst, a[i])
			i++
		} else {
			dst = append(dst, b[j])
			j++
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}

// timeOfDay moves day t to a second of an hour the channel trades at,
// keeping its date, and returns it as seconds since Start.
func timeOfDay(r rng, t float64, c Channel) int64 {
	hours := &onlineHours
	if c == ChannelStore {
		hours = &storeHours
	}
	return int64(t)*86400 + int64(hours.sample(r))*3600 + int64(r.IntN(3600))
}

func (w *orderWalk) channel(r rng) Channel {
	m := &w.m
	if m.Channels == 1<<m.Channel || r.Float64() < 0.75 {
		return m.Channel
	}
	for {
		c := Channel(r.IntN(int(numChannels)))
		if m.Channels.Has(c) {
			return c
		}
	}
}

func (w *orderWalk) store(r rng, c Channel) uint32 {
	switch c {
	case ChannelTaobao, ChannelJD:
		return 0
	case ChannelStore:
		if r.Float64() < 0.1 {
			stores := w.g.storesOfCity[w.g.cityOfStore[w.m.Store]]
			return stores[r.IntN(len(stores))]
		}
	}
	return w.m.Store
}

// ordinary adds an order of everyday goods at day t. Its amount is
// Gamma(p=3, ν) with mean MeanOrderValue, split over one to four lines.
func (w *orderWalk) ordinary(r rng, t float64) {
	c := w.channel(r)
	sec := timeOfDay(r, t, c)
	amount := max(int64(gamma3.sample(r)*w.m.MeanOrderValue/3), 100)
	lo := len(w.lines)
	w.addLines(r, 1+w.g.lineCount.sample(r), amount)
	w.orders = append(w.orders, genOrder{sec: sec, amount: amount, lo: lo, hi: len(w.lines), store: w.store(r, c), channel: c})
}

// refill adds a medicine refill for condition c at day t, sometimes with
// everyday goods in the same basket.
func (w *orderWalk) refill(r rng, t float64, c Condition, supply int32, price int64) {
	ch := ChannelStore
	if w.m.Channels.Has(ChannelMeituan) && r.Float64() < 0.3 {
		ch = ChannelMeituan
	} else if w.m.Channels.Has(ChannelWeChat) && r.Float64() < 0.2 {
		ch = ChannelWeChat
	}
	sec := timeOfDay(r, t, ch)
	lo := len(w.lines)
	med := price * int64(supply) / 30
	w.lines = append(w.lines, Line{Category: c.Category(), SKU: 10_000 + uint32(c)*100 + uint32(r.IntN(20)), Qty: max(supply/30, 1), Amount: med, DaysSupply: supply})
	amount := med
	if r.Float64() < 0.3 {
		extra := max(int64(gamma3.sample(r)*w.m.MeanOrderValue/6), 100)
		w.addLines(r, 1+r.IntN(2), extra)
		amount += extra
	}
	w.orders = append(w.orders, genOrder{sec: sec, amount: amount, lo: lo, hi: len(w.lines), store: w.store(r, ch), channel: ch})
}

// addLines appends n lines of everyday goods whose amounts sum to amount.
func (w *orderWalk) addLines(r rng, n int, amount int64) {
	left := amount
	for k := range n {
		a := left
		if k < n-1 {
			a = int64(float64(left) * (0.2 + float64(0.6*r.Float64())))
		}
		left -= a
		cat := w.g.lineCats.sample(r)
		w.lines = append(w.lines, Line{Category: w.g.lineNames[cat], SKU: uint32(cat)*1000 + uint32(r.IntN(500)), Qty: 1 + int32(r.IntN(3)), Amount: a})
	}
}

// refund adds the refund of order i at day t: all of it (70%), or one of
// its lines, or half of a single-line order.
func (w *orderWalk) refund(r rng, i int, sec int64) {
	o := w.orders[i]
	lo := len(w.lines)
	switch n := o.hi - o.lo; {
	case r.Float64() < 0.7:
		for _, l := range w.lines[o.lo:o.hi] {
			l.Amount = -l.Amount
			w.lines = append(w.lines, l)
		}
	case n > 1:
		l := w.lines[o.lo+r.IntN(n)]
		l.Amount = -l.Amount
		w.lines = append(w.lines, l)
	default:
		l := w.lines[o.lo]
		l.Amount = -(l.Amount / 2)
		l.Qty = max(l.Qty/2, 1)
		l.DaysSupply /= 2
		w.lines = append(w.lines, l)
	}
	var amount int64
	for _, l := range w.lines[lo:] {
		amount += l.Amount
	}
	w.orders = append(w.orders, genOrder{sec: sec, refundOf: o.id, amount: amount, lo: lo, hi: len(w.lines), store: o.store, channel: o.channel})
}
