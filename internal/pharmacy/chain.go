package pharmacy

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cdpkit/cdpkit/identity"
	"github.com/cdpkit/cdpkit/internal/synth"
)

// chain is the synthetic pharmacy chain the story runs on: the generator
// and the way its data is cut into work for the workers.
type chain struct {
	gen     *synth.Generator
	cfg     synth.Config // with defaults filled in
	workers int
}

func newChain(c *Config) (*chain, error) {
	g, err := synth.New(synth.Config{Seed: c.Seed, Members: c.Members, MeanOrders: c.MeanOrders})
	if err != nil {
		return nil, err
	}
	return &chain{gen: g, cfg: g.Config(), workers: c.Workers}, nil
}

// parallel runs fn on contiguous member ranges, one per worker, and returns
// the first error. Each range's results are the worker's own, so callers
// concatenate them in range order to keep member order.
func (c *chain) parallel(ctx context.Context, fn func(w int, lo, hi uint32) error) error {
	n := c.cfg.Members
	k := min(c.workers, max(n, 1))
	errs := make([]error, k)
	var wg sync.WaitGroup
	for w := range k {
		lo, hi := uint32(n*w/k), uint32(n*(w+1)/k)
		wg.Go(func() {
			if err := ctx.Err(); err != nil {
				errs[w] = err
				return
			}
			errs[w] = fn(w, lo, hi)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// identityConfig is the resolver configuration of the story: identity's
// defaults for a Chinese chain (whose kind names internal/synth writes),
// plus the placeholder phone numbers cashiers type when a customer gives
// none. The store counters' own phones and the kiosks' tablets are
// deliberately not blocked: the story shows the per-person limits refusing
// them.
func identityConfig(members int) identity.Config {
	kinds := identity.DefaultKinds()
	for i := range kinds {
		if kinds[i].Name == identity.KindPhone {
			// 13800000000 is a well-formed mobile number that cashiers type
			// as a placeholder; 13800138000 is China Mobile's service
			// number, typed for the same reason.
			kinds[i].Blocked = append(kinds[i].Blocked, "13800000000", "13800138000")
		}
	}
	return identity.Config{Kinds: kinds, SizeHint: members * 3}
}

// identifier converts a generated identifier for the resolver.
func identifier(x synth.Identifier) identity.Identifier {
	return identity.Identifier{Kind: x.Kind, Value: x.Value, Scope: x.Scope}
}

// feed is the identifier feed as the chain's systems send it: every
// observation of every member, in time order.
type feed struct {
	obs   []identity.Observation
	truth []uint32 // the true member behind obs[i], for scoring only
	ids   int      // identifiers in all
}

// observations generates the feed on all workers and puts it in time
// order (ties in event-ID order), the order a backfill from the chain's
// event logs would replay it in.
func (c *chain) observations(ctx context.Context) (*feed, error) {
	type part struct {
		obs   []identity.Observation
		truth []uint32
		ids   int
	}
	parts := make([]part, c.workers)
	err := c.parallel(ctx, func(w int, lo, hi uint32) error {
		p := &parts[w]
		// Members are seen about 3.6 times each.
		p.obs = make([]identity.Observation, 0, int(hi-lo)*4)
		p.truth = make([]uint32, 0, int(hi-lo)*4)
		var idBuf []identity.Identifier
		for o := range c.gen.ObservationsRange(lo, hi) {
			if len(idBuf)+len(o.IDs) > cap(idBuf) {
				idBuf = make([]identity.Identifier, 0, 1<<16)
			}
			start := len(idBuf)
			for _, x := range o.IDs {
				idBuf = append(idBuf, identifier(x))
			}
			p.obs = append(p.obs, identity.Observation{
				EventID:     strconv.FormatUint(o.EventID, 10),
				Source:      o.Source,
				Time:        o.Time,
				Identifiers: idBuf[start:len(idBuf):len(idBuf)],
			})
			p.truth = append(p.truth, o.Member)
			p.ids += len(o.IDs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	f := &feed{}
	n := 0
	for _, p := range parts {
		n += len(p.obs)
		f.ids += p.ids
	}
	// Sort packed (seconds since start, position) keys rather than the
	// observations themselves: an 8-byte sort, then one gather.
	start := c.cfg.Start.Unix()
	keys := make([]uint64, 0, n)
	all := make([]identity.Observation, 0, n)
	truth := make([]uint32, 0, n)
	for _, p := range parts {
		all = append(all, p.obs...)
		truth = append(truth, p.truth...)
	}
	for i, o := range all {
		keys = append(keys, uint64(o.Time.Unix()-start)<<32|uint64(i))
	}
	slices.Sort(keys)
	f.obs = make([]identity.Observation, n)
	f.truth = make([]uint32, n)
	for j, k := range keys {
		i := uint32(k)
		f.obs[j], f.truth[j] = all[i], truth[i]
	}
	return f, nil
}

// orderKinds is, per channel, the identifier an order placed there carries:
// the member card at the till, the UnionID in the WeChat mini program, the
// platforms' buyer IDs elsewhere.
var orderKinds = [...]string{
	synth.ChannelStore:   synth.KindMemberCard,
	synth.ChannelWeChat:  synth.KindWeChatUnionID,
	synth.ChannelAlipay:  synth.KindAlipayUID,
	synth.ChannelTaobao:  synth.KindTaobaoID,
	synth.ChannelJD:      synth.KindJDID,
	synth.ChannelMeituan: synth.KindMeituanID,
}

const numChannels = len(orderKinds)

// orderIdentifier returns the identifier orders of member m on channel ch
// carry, from the member's own identifiers, or false when the member has
// none of that kind.
func orderIdentifier(own []synth.Identifier, ch synth.Channel) (synth.Identifier, bool) {
	want := orderKinds[ch]
	for _, x := range own {
		if x.Kind == want {
			return x, true
		}
	}
	if ch == synth.ChannelStore {
		// Members without a card give their phone at the till.
		for _, x := range own {
			if x.Kind == synth.KindPhone {
				return x, true
			}
		}
	}
	return synth.Identifier{}, false
}

// orders is the order history keyed to persons, in columns: each person's
// orders and refunds together, in time order.
type orders struct {
	person   []uint32
	unix     []int64
	amount   []int64 // fen; negative for a refund
	id       []uint64
	refundOf []uint64
	channel  []uint8
	cat      []uint8 // condition+1 of the order's medicine line; 0 for none
	supply   []int16 // days-supply of the medicine line
	med      []int64 // fen paid (or refunded) for the medicine line
	// persons is one past the highest person ID with an order.
	persons int
	// firstSeen counts the buyer identifiers OneID had never seen when
	// their first order arrived: the order was observed and started (or
	// joined) a person.
	firstSeen int
	// unkeyed counts orders that reached no person even so, because
	// their member gave no identifier at all.
	unkeyed int
	// keys holds, at member*numChannels+channel, the person the member's
	// orders on the channel reached, or noPerson.
	keys []uint32
}

func (o *orders) len() int { return len(o.person) }

// missing is a buyer identifier OneID did not know when its first order
// arrived.
type missing struct {
	member  uint32
	channel synth.Channel
	order   uint64
	at      time.Time
	id      synth.Identifier
}

// keyer resolves buyer identifiers: lookup finds the person holding one,
// observe records the first orders of identifiers lookup did not find (in
// the order given) so that they start or join persons.
type keyer struct {
	lookup  func(synth.Identifier) (uint32, bool)
	observe func([]missing) error
}

// ordersFor generates every order and keys it to the person its buyer
// identifier resolves to, then groups the orders by person in time order:
// the order in which a backfill loads history, and the order the ledger
// and the summaries need for each person.
//
// An order carries the identifier its channel knows the buyer by
// (orderIdentifier), never the generator's member ID. Each member's
// identifier per channel is looked up once, when the member's orders are
// complete; identifiers OneID has never seen are observed afterwards, in
// the time order of their first orders, so that the person IDs they get do
// not depend on how the work was split.
func (c *chain) ordersFor(ctx context.Context, k keyer) (*orders, error) {
	n := c.cfg.Members
	keys := make([]uint32, n*numChannels)
	parts := make([]orders, c.workers)
	misses := make([][]missing, c.workers)
	err := c.parallel(ctx, func(w int, lo, hi uint32) error {
		p := &parts[w]
		// Pharmacy members place about 1.5 orders per everyday order
		// counted in MeanOrders (refills and refunds come on top).
		p.grow(int(float64(hi-lo) * (c.cfg.MeanOrders*1.5 + 1)))
		var first [numChannels]int // row of the member's first order per channel, -1 for none
		cur := ^uint32(0)
		done := func() {
			if cur == ^uint32(0) {
				return
			}
			own := c.gen.Identifiers(cur)
			for ch, row := range first {
				key := &keys[int(cur)*numChannels+ch]
				*key = noPerson
				if row < 0 {
					continue
				}
				x, ok := orderIdentifier(own, synth.Channel(ch))
				if !ok {
					continue
				}
				if pid, ok := k.lookup(x); ok {
					*key = pid
				} else {
					misses[w] = append(misses[w], missing{cur, synth.Channel(ch), p.id[row], time.Unix(p.unix[row], 0), x})
				}
			}
		}
		for o := range c.gen.OrdersRange(lo, hi) {
			if o.Member != cur {
				done()
				cur = o.Member
				first = [numChannels]int{-1, -1, -1, -1, -1, -1}
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if first[o.Channel] < 0 {
				first[o.Channel] = len(p.id)
			}
			var cat uint8
			var supply int16
			var med int64
			for _, l := range o.Lines {
				if c := conditionOf[l.Category]; c != 0 {
					cat, supply, med = c, int16(l.DaysSupply), med+max(l.Amount, -l.Amount)
				}
			}
			p.person = append(p.person, o.Member) // the member for now; keyed below
			p.unix = append(p.unix, o.Time.Unix())
			p.amount = append(p.amount, o.Amount)
			p.id = append(p.id, o.ID)
			p.refundOf = append(p.refundOf, o.RefundOf)
			p.channel = append(p.channel, uint8(o.Channel))
			p.cat = append(p.cat, cat)
			p.supply = append(p.supply, supply)
			p.med = append(p.med, med)
		}
		done()
		return nil
	})
	if err != nil {
		return nil, err
	}
	all := slices.Concat(misses...)
	slices.SortFunc(all, func(a, b missing) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.order, b.order))
	})
	if len(all) > 0 {
		if err := k.observe(all); err != nil {
			return nil, err
		}
		for _, m := range all {
			if pid, ok := k.lookup(m.id); ok {
				keys[int(m.member)*numChannels+int(m.channel)] = pid
			}
		}
	}
	// Key the rows: from here on person holds persons.
	unkeyed := 0
	persons := 0
	for w := range parts {
		p := &parts[w]
		keep := 0
		for i, m := range p.person {
			pid := keys[int(m)*numChannels+int(p.channel[i])]
			if pid == noPerson {
				unkeyed++
				continue
			}
			persons = max(persons, int(pid)+1)
			p.person[keep] = pid
			p.unix[keep] = p.unix[i]
			p.amount[keep] = p.amount[i]
			p.id[keep] = p.id[i]
			p.refundOf[keep] = p.refundOf[i]
			p.channel[keep] = p.channel[i]
			p.cat[keep] = p.cat[i]
			p.supply[keep] = p.supply[i]
			p.med[keep] = p.med[i]
			keep++
		}
		p.truncate(keep)
	}
	out := groupByPerson(parts, persons)
	out.firstSeen, out.unkeyed, out.keys = len(all), unkeyed, keys
	return out, nil
}

func (o *orders) grow(n int) {
	o.person, o.unix, o.amount, o.id = make([]uint32, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]uint64, 0, n)
	o.refundOf, o.channel, o.cat, o.supply = make([]uint64, 0, n), make([]uint8, 0, n), make([]uint8, 0, n), make([]int16, 0, n)
	o.med = make([]int64, 0, n)
}

func (o *orders) truncate(n int) {
	o.person, o.unix, o.amount, o.id = o.person[:n], o.unix[:n], o.amount[:n], o.id[:n]
	o.refundOf, o.channel, o.cat, o.supply, o.med = o.refundOf[:n], o.channel[:n], o.cat[:n], o.supply[:n], o.med[:n]
}

const noPerson = ^uint32(0)

// conditionOf maps a medicine category to its condition+1.
var conditionOf = func() map[string]uint8 {
	m := map[string]uint8{}
	for _, c := range synth.AllConditions() {
		m[c.Category()] = uint8(c) + 1
	}
	return m
}()

// groupByPerson concatenates the parts and orders the rows by person,
// stably (a counting sort), then sorts by time the rows of the few persons
// whose orders came from more than one generated member.
func groupByPerson(parts []orders, persons int) *orders {
	out := &orders{persons: persons}
	n := 0
	for _, p := range parts {
		n += p.len()
	}
	start := make([]int, out.persons+1)
	for _, p := range parts {
		for _, pid := range p.person {
			start[pid+1]++
		}
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	out.person = make([]uint32, n)
	out.unix = make([]int64, n)
	out.amount = make([]int64, n)
	out.id = make([]uint64, n)
	out.refundOf = make([]uint64, n)
	out.channel = make([]uint8, n)
	out.cat = make([]uint8, n)
	out.supply = make([]int16, n)
	out.med = make([]int64, n)
	next := slices.Clone(start[:out.persons])
	// A person whose rows came from more than one generated member (an
	// over-merge, or a household) needs its rows sorted by time.
	from := make([]uint32, out.persons)
	for i := range from {
		from[i] = noPerson
	}
	var mixed []uint32
	// Each row's place first, then the columns moved on all cores.
	dst := make([][]int32, len(parts))
	for w, p := range parts {
		dst[w] = make([]int32, len(p.person))
		for i, pid := range p.person {
			j := next[pid]
			next[pid]++
			dst[w][i] = int32(j)
			out.person[j] = pid
			switch m := uint32(p.id[i] >> 24); from[pid] {
			case noPerson:
				from[pid] = m
			case m, noPerson - 1:
			default:
				from[pid] = noPerson - 1
				mixed = append(mixed, pid)
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { scatter(out.unix, parts, dst, func(p *orders) []int64 { return p.unix }) })
	wg.Go(func() { scatter(out.amount, parts, dst, func(p *orders) []int64 { return p.amount }) })
	wg.Go(func() { scatter(out.id, parts, dst, func(p *orders) []uint64 { return p.id }) })
	wg.Go(func() { scatter(out.refundOf, parts, dst, func(p *orders) []uint64 { return p.refundOf }) })
	wg.Go(func() { scatter(out.channel, parts, dst, func(p *orders) []uint8 { return p.channel }) })
	wg.Go(func() { scatter(out.cat, parts, dst, func(p *orders) []uint8 { return p.cat }) })
	wg.Go(func() { scatter(out.supply, parts, dst, func(p *orders) []int16 { return p.supply }) })
	wg.Go(func() { scatter(out.med, parts, dst, func(p *orders) []int64 { return p.med }) })
	wg.Wait()
	for _, pid := range mixed {
		out.sortRows(start[pid], start[pid+1])
	}
	return out
}

// scatter moves one column of the parts to its rows in out: part w's row
// i goes to dst[w][i].
func scatter[T any](out []T, parts []orders, dst [][]int32, col func(*orders) []T) {
	for w := range parts {
		for i, v := range col(&parts[w]) {
			out[dst[w][i]] = v
		}
	}
}

// sortRows sorts rows [lo, hi) by time, ties by order ID, so that an order
// always precedes its refund.
func (o *orders) sortRows(lo, hi int) {
	idx := make([]int, hi-lo)
	for i := range idx {
		idx[i] = lo + i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Or(cmp.Compare(o.unix[a], o.unix[b]), cmp.Compare(o.id[a], o.id[b]))
	})
	permute(o.unix[lo:hi], idx, lo)
	permute(o.amount[lo:hi], idx, lo)
	permute(o.id[lo:hi], idx, lo)
	permute(o.refundOf[lo:hi], idx, lo)
	permute(o.channel[lo:hi], idx, lo)
	permute(o.cat[lo:hi], idx, lo)
	permute(o.supply[lo:hi], idx, lo)
	permute(o.med[lo:hi], idx, lo)
}

func permute[T any](s []T, idx []int, lo int) {
	c := slices.Clone(s)
	for i, j := range idx {
		s[i] = c[j-lo]
	}
}

// day returns t's calendar day in loc as a count of days since 1970-01-01.
func day(t time.Time, loc *time.Location) int {
	y, m, d := t.In(loc).Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}
