package pharmacy

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/cdpkit/cdpkit/internal/synth"
)

// The reference recomputes the story's numbers from the raw generated
// data with plain maps, sorts and loops, sharing no code with the
// packages the story runs on (rfm, tags, segment, loyalty). It takes three
// things from the story as given: the OneID keys (which person each
// member's orders on each channel reached; identity is scored against the
// true members separately), the fitted BG/NBD parameters (their fit is
// checked separately, as a maximum of a likelihood written out here), and
// the contact log (input data, generated from the persons).

// refInput is what the reference needs besides the generator.
type refInput struct {
	gen  *synth.Generator
	keys func(member uint32, ch synth.Channel) (person uint32, ok bool)
	// r, alpha, a, b are BG/NBD parameters with alpha in days.
	r, alpha, a, b float64
	contacts       []Contact
	asOf           time.Time
	loyaltyFrom    time.Time
	loc            *time.Location
	tierNames      []string
	tierThresholds []int64
	growthMonths   int
}

// refPerson is everything the reference keeps about one person.
type refPerson struct {
	rows []refRow
	// Derived by finish.
	orders, days       int
	first, last        int // purchase days
	spend, refunded    int64
	store              int // orders in a store
	channels           map[synth.Channel]bool
	medDays            [4]int
	medRunOut          [4]int
	medBought          [4]bool
	growth             int64
	interval           float64
	due                int
	hasDue             bool
	pAlive             float64
	alivePct           int
	rScore, fScore     int
	chronic, due7      bool
	lapsed, preDormant bool
	omni4, contacted7  bool
	inAudience         bool
	tier               string
	distinctDays       map[int]bool
	remaining          map[uint64]int64 // order ID → net paid left after refunds
	orderDay           map[uint64]int
}

type refRow struct {
	unix     int64
	id       uint64
	refundOf uint64
	amount   int64
	channel  synth.Channel
	medCat   int // condition index, -1 for none
	supply   int
}

// refResult is the reference's answer.
type refResult struct {
	persons    map[uint32]*refPerson
	buyers     int
	grid       [5][5]int // rows R5..R1, columns F1..F5
	chronic    [4][]uint32
	tags       map[string][]uint32 // ascending person IDs
	audience   []uint32
	tiers      map[string]int
	funnel     []int
	growthSum  int64
	asOfDay    int
	windowFrom int
}

// civilDay numbers t's calendar day in loc from 1970-01-01.
func civilDay(t time.Time, loc *time.Location) int {
	y, m, d := t.In(loc).Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func computeReference(in refInput) *refResult {
	loc := in.loc
	res := &refResult{persons: map[uint32]*refPerson{}, tags: map[string][]uint32{}, tiers: map[string]int{}}
	res.asOfDay = civilDay(in.asOf, loc)
	// The programme's rolling window: the growthMonths months ending with
	// the as-of day.
	ad := in.asOf.In(loc)
	res.windowFrom = civilDay(time.Date(ad.Year(), ad.Month()-time.Month(in.growthMonths), ad.Day(), 0, 0, 0, 0, loc), loc) + 1

	cats := map[string]int{}
	for _, c := range synth.AllConditions() {
		cats[c.Category()] = int(c)
	}
	for o := range in.gen.Orders() {
		p, ok := in.keys(o.Member, o.Channel)
		if !ok {
			continue
		}
		row := refRow{unix: o.Time.Unix(), id: o.ID, refundOf: o.RefundOf, amount: o.Amount, channel: o.Channel, medCat: -1}
		if c, ok := cats[o.Lines[0].Category]; ok && o.Lines[0].DaysSupply > 0 {
			row.medCat, row.supply = c, int(o.Lines[0].DaysSupply)
		}
		rp := res.persons[p]
		if rp == nil {
			rp = &refPerson{}
			res.persons[p] = rp
		}
		rp.rows = append(rp.rows, row)
	}

	// Per person: summaries, medicine supply, growth.
	var spanSum, gapSum int64
	for _, rp := range res.persons {
		slices.SortStableFunc(rp.rows, func(a, b refRow) int {
			return cmp.Or(cmp.Compare(a.unix, b.unix), cmp.Compare(a.id, b.id))
		})
		rp.distinctDays = map[int]bool{}
		rp.remaining = map[uint64]int64{}
		rp.orderDay = map[uint64]int{}
		rp.channels = map[synth.Channel]bool{}
		medDaySeen := [4]map[int]bool{}
		for _, row := range rp.rows {
			d := civilDay(time.Unix(row.unix, 0), loc)
			if row.refundOf != 0 {
				rp.refunded += -row.amount
				rp.remaining[row.refundOf] += row.amount
				continue
			}
			rp.orders++
			rp.spend += row.amount
			rp.remaining[row.id] = row.amount
			rp.orderDay[row.id] = d
			if !rp.distinctDays[d] {
				rp.distinctDays[d] = true
			}
			if rp.orders == 1 || d < rp.first {
				rp.first = d
			}
			if rp.orders == 1 || d > rp.last {
				rp.last = d
			}
			if row.channel == synth.ChannelStore {
				rp.store++
			}
			rp.channels[row.channel] = true
			if c := row.medCat; c >= 0 {
				if medDaySeen[c] == nil {
					medDaySeen[c] = map[int]bool{}
				}
				medDaySeen[c][d] = true
				// The supply bought so far runs out: a refill bought early
				// adds to what is left, one bought late starts afresh.
				if !rp.medBought[c] {
					rp.medRunOut[c] = d
				}
				rp.medRunOut[c] = max(rp.medRunOut[c], d) + row.supply
				rp.medBought[c] = true
			}
		}
		for c := range 4 {
			rp.medDays[c] = len(medDaySeen[c])
		}
		rp.days = len(rp.distinctDays)
		if rp.days > 1 {
			spanSum += int64(rp.last - rp.first)
			gapSum += int64(rp.days - 1)
		}
		// Growth value: one per whole yuan of what is left of each order
		// after its refunds, counted on the order's day, for orders in the
		// window.
		for id, left := range rp.remaining {
			d, ok := rp.orderDay[id]
			if !ok || d < res.windowFrom || d > res.asOfDay || left <= 0 {
				continue
			}
			rp.growth += left / 100
		}
	}

	// Member-level repurchase interval: the person's mean interval shrunk
	// toward the population's with weight 2 (in intervals).
	const shrinkage = 2.0
	popMean := float64(spanSum) / float64(gapSum)
	ids := make([]uint32, 0, len(res.persons))
	for p, rp := range res.persons {
		if rp.orders > 0 {
			ids = append(ids, p)
		}
		rp.interval = (float64(rp.last-rp.first) + shrinkage*popMean) / (float64(rp.days-1) + shrinkage)
		rp.due = rp.last + int(math.Round(rp.interval))
		rp.hasDue = rp.orders > 0
	}
	slices.Sort(ids)
	res.buyers = len(ids)

	// RFM scores: NTILE(5) over the buyers ranked by value, ties by person
	// ID; recency ranks descending so that recent buyers score 5.
	ntile := func(less func(a, b uint32) int, set func(rp *refPerson, bin int)) {
		order := slices.Clone(ids)
		slices.SortStableFunc(order, less)
		n := len(order)
		q, r := n/5, n%5
		i := 0
		for bin := 1; bin <= 5; bin++ {
			size := q
			if bin <= r {
				size++
			}
			for range size {
				set(res.persons[order[i]], bin)
				i++
			}
		}
	}
	recency := func(p uint32) int { return res.asOfDay - res.persons[p].last }
	ntile(func(a, b uint32) int { return cmp.Or(cmp.Compare(recency(b), recency(a)), cmp.Compare(a, b)) },
		func(rp *refPerson, bin int) { rp.rScore = bin })
	ntile(func(a, b uint32) int {
		return cmp.Or(cmp.Compare(res.persons[a].orders, res.persons[b].orders), cmp.Compare(a, b))
	}, func(rp *refPerson, bin int) { rp.fScore = bin })

	// P(alive) under BG/NBD (Fader, Hardie & Lee 2005, eq. 13), in days.
	pAlive := func(x int, tx, T float64) float64 {
		if x == 0 {
			return 1
		}
		return 1 / (1 + in.a/(in.b+float64(x)-1)*math.Pow((in.alpha+T)/(in.alpha+tx), in.r+float64(x)))
	}

	contacted := map[uint32]bool{}
	for _, c := range in.contacts {
		if d := civilDay(c.At, loc); d <= res.asOfDay && d > res.asOfDay-7 {
			contacted[c.Person] = true
		}
	}

	tagNames := []string{"chronic", "refill_due_7d", "pre_dormant", "omnichannel_4", "lapsed", "contacted_7d"}
	for _, c := range synth.AllConditions() {
		tagNames = append(tagNames, "chronic:"+c.String())
	}
	for _, n := range tagNames {
		res.tags[n] = []uint32{}
	}
	var funnel [4]int
	for _, p := range ids {
		rp := res.persons[p]
		res.grid[5-rp.rScore][rp.fScore-1]++
		rec := res.asOfDay - rp.last
		rp.pAlive = pAlive(rp.days-1, float64(rp.last-rp.first), float64(res.asOfDay-rp.first))
		rp.alivePct = int(math.Round(100 * rp.pAlive))
		for _, c := range synth.AllConditions() {
			if rp.medBought[c] {
				rp.chronic = true
				res.tags["chronic:"+c.String()] = append(res.tags["chronic:"+c.String()], p)
			}
			if rp.medBought[c] && rp.medRunOut[c] >= res.asOfDay && rp.medRunOut[c] <= res.asOfDay+7 {
				rp.due7 = true
			}
		}
		rp.lapsed = rec >= 180 || rp.alivePct < 20
		rp.preDormant = res.asOfDay-rp.due >= 7 && rp.alivePct >= 50 && !rp.lapsed
		rp.omni4 = rp.orders >= 4 && rp.store > 0 && len(rp.channels) >= 2
		rp.contacted7 = contacted[p]
		for name, has := range map[string]bool{"chronic": rp.chronic, "refill_due_7d": rp.due7, "pre_dormant": rp.preDormant,
			"omnichannel_4": rp.omni4, "lapsed": rp.lapsed, "contacted_7d": rp.contacted7} {
			if has {
				res.tags[name] = append(res.tags[name], p)
			}
		}
		if rp.chronic {
			funnel[0]++
			if rp.due7 {
				funnel[1]++
				if !rp.contacted7 {
					funnel[2]++
					if !rp.lapsed {
						funnel[3]++
						rp.inAudience = true
						res.audience = append(res.audience, p)
					}
				}
			}
		}
		if civilDay(in.loyaltyFrom, loc) > rp.last {
			continue // no order since the programme started: no account
		}
		tier := in.tierNames[0]
		for i, th := range in.tierThresholds {
			if rp.growth >= th {
				tier = in.tierNames[i]
			}
		}
		rp.tier = tier
		res.tiers[tier]++
		res.growthSum += rp.growth
	}
	res.funnel = funnel[:]
	return res
}
