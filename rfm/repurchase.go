package rfm

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"time"
)

// RepurchaseOptions configures Summaries.Repurchase.
type RepurchaseOptions struct {
	// Shrinkage is the weight, in intervals, of the population's (or the
	// category's) mean interval when it is blended with a member's own:
	//
	//	interval = (sum of own intervals + Shrinkage · mean) / (own intervals + Shrinkage)
	//
	// so a member with one interval leans on the mean and a member with
	// twenty on its own habit. 0 means 2; negative means no shrinkage.
	Shrinkage float64
}

// NoDay marks a member or category with no due date: no purchase, or no
// interval to go by.
const NoDay = math.MinInt32

// Repurchase holds, per member and per member × category, the day the
// next purchase is expected. It is not modified after it is returned and
// may be read concurrently.
type Repurchase struct {
	loc      *time.Location
	asOfDay  int32
	due      []int32   // member level, NoDay when unknown
	interval []float32 // member level, days, 0 when unknown
	recency  []int32   // days since last purchase, -1 for none
	cats     []CategoryDue

	means RepurchaseMeans
}

// Intervals add up purchase intervals: Span days over Gaps intervals
// (purchase days less one, per member), so the mean is Span/Gaps.
type Intervals struct{ Span, Gaps int64 }

// RepurchaseMeans are what a Repurchase shrinks each member's intervals
// toward: the shrinkage weight, the intervals of all members and those of
// each category. A host keeps them (they are small) to recompute single
// members with Summaries.MemberDue exactly as the full run would have.
type RepurchaseMeans struct {
	Shrinkage  float64
	Members    Intervals
	Categories map[uint32]Intervals
}

// A CategoryDue is when a member is expected to buy in a category again.
type CategoryDue struct {
	Member, Category uint32
	Last, Due        time.Time // local midnights
	// FromSupply says the due date is when the days-supply bought so far
	// runs out; otherwise it is the last purchase plus Interval.
	FromSupply bool
	Interval   float64 // expected days between purchases, shrunk
	Purchases  int     // purchase days in the category
}

// Repurchase estimates each buyer's next purchase date from the member's
// own intervals shrunk toward the mean interval of all members, and each
// member × category's from days-supply where line items carried it,
// otherwise from the member's intervals in that category shrunk toward the
// category's mean. Members or categories with no intervals of their own
// take the mean; with no intervals anywhere they have no due date.
func (s *Summaries) Repurchase(o RepurchaseOptions) *Repurchase {
	k := o.Shrinkage
	if k == 0 {
		k = 2
	}
	k = max(k, 0)
	n := s.Len()
	rp := &Repurchase{
		loc:      s.loc,
		asOfDay:  s.asOfDay,
		due:      make([]int32, n),
		interval: make([]float32, n),
		recency:  make([]int32, n),
	}
	var span, gaps int64
	for m := range n {
		if s.days[m] > 1 {
			span += int64(s.lastDay[m] - s.firstDay[m])
			gaps += int64(s.days[m] - 1)
		}
	}
	parallel(n, func(lo, hi int) {
		for m := lo; m < hi; m++ {
			rp.due[m], rp.recency[m] = NoDay, -1
			if s.orders[m] == 0 {
				continue
			}
			rp.recency[m] = s.asOfDay - s.lastDay[m]
			iv, ok := shrunk(int64(s.lastDay[m]-s.firstDay[m]), int64(s.days[m]-1), span, gaps, k)
			if !ok {
				continue
			}
			rp.interval[m] = float32(iv)
			rp.due[m] = s.lastDay[m] + int32(math.Round(iv))
		}
	})
	rp.means = RepurchaseMeans{Shrinkage: k, Members: Intervals{span, gaps}}
	rp.cats, rp.means.Categories = s.categoryDue(k)
	return rp
}

// shrunk returns the blended mean interval of own intervals (span days
// over gaps intervals) and the population's (pspan over pgaps).
func shrunk(span, gaps, pspan, pgaps int64, k float64) (float64, bool) {
	switch {
	case pgaps == 0 && gaps == 0:
		return 0, false
	case pgaps == 0:
		return float64(span) / float64(gaps), true
	}
	mean := float64(pspan) / float64(pgaps)
	return (float64(span) + k*mean) / (float64(gaps) + k), true
}

func (s *Summaries) categoryDue(k float64) ([]CategoryDue, map[uint32]Intervals) {
	pop := map[uint32]Intervals{}
	var all []uint64
	for _, cm := range s.cats {
		for key, st := range cm {
			all = append(all, key)
			if st.n > 1 {
				a := pop[uint32(key)]
				a.Span += int64(st.last - st.first)
				a.Gaps += int64(st.n - 1)
				pop[uint32(key)] = a
			}
		}
	}
	slices.Sort(all)
	out := make([]CategoryDue, 0, len(all))
	for _, key := range all {
		out = append(out, s.categoryEntry(key, pop, k))
	}
	return out, pop
}

// categoryEntry estimates one member × category's due date.
func (s *Summaries) categoryEntry(key uint64, pop map[uint32]Intervals, k float64) CategoryDue {
	m, c := uint32(key>>32), uint32(key)
	st := s.cats[m>>blockBits][key]
	cd := CategoryDue{Member: m, Category: c, Last: dateOf(st.last, s.loc), Purchases: int(st.n)}
	p := pop[c]
	iv, ok := shrunk(int64(st.last-st.first), int64(st.n-1), p.Span, p.Gaps, k)
	if ok {
		cd.Interval = iv
	}
	switch {
	case st.supplied:
		cd.FromSupply = true
		cd.Due = dateOf(st.runOut, s.loc)
	case ok:
		cd.Due = dateOf(st.last+int32(math.Round(iv)), s.loc)
	}
	return cd
}

// Means returns the population means the estimates were shrunk toward.
func (rp *Repurchase) Means() RepurchaseMeans {
	m := rp.means
	m.Categories = maps.Clone(m.Categories)
	return m
}

// MemberDue estimates member m's next purchase from the Summaries as they
// are now, shrunk toward given population means (from Repurchase.Means):
// what Repurchase would give m if only m's purchases had been added since
// the means were taken. It keeps one member current between full runs —
// after a refill, the member's "refill due" must clear at once — at the
// cost of that member's categories. The member-level estimate is as Due
// gives it, and cats are m's entries in category order, as Categories
// gives them. A member past the end, or without purchases, has nothing.
func (s *Summaries) MemberDue(m uint32, means RepurchaseMeans) (due time.Time, intervalDays float64, ok bool, cats []CategoryDue) {
	if uint64(m) >= uint64(s.Len()) || s.orders[m] == 0 {
		return time.Time{}, 0, false, nil
	}
	k := means.Shrinkage
	if iv, has := shrunk(int64(s.lastDay[m]-s.firstDay[m]), int64(s.days[m]-1), means.Members.Span, means.Members.Gaps, k); has {
		due, intervalDays, ok = dateOf(s.lastDay[m]+int32(math.Round(iv)), s.loc), float64(float32(iv)), true
	}
	for _, key := range s.memberKeys(m) {
		cats = append(cats, s.categoryEntry(key, means.Categories, k))
	}
	return due, intervalDays, ok, cats
}

// AsOf returns the as-of day the due dates are measured against.
func (rp *Repurchase) AsOf() time.Time { return dateOf(rp.asOfDay, rp.loc) }

// Due returns member m's expected next purchase day and the interval it
// rests on, or ok false when there is none.
func (rp *Repurchase) Due(m uint32) (due time.Time, intervalDays float64, ok bool) {
	if uint64(m) >= uint64(len(rp.due)) || rp.due[m] == NoDay {
		return time.Time{}, 0, false
	}
	return dateOf(rp.due[m], rp.loc), float64(rp.interval[m]), true
}

// DueWithin returns, in increasing order, the members expected to buy
// within the next days days: due on the as-of day or up to days after
// it. Members already past due are in Overdue instead.
func (rp *Repurchase) DueWithin(days int) []uint32 {
	var out []uint32
	for m, d := range rp.due {
		if d != NoDay && d >= rp.asOfDay && int64(d)-int64(rp.asOfDay) <= int64(days) {
			out = append(out, uint32(m))
		}
	}
	return out
}

// Overdue returns, in increasing order, the members whose due day was at
// least days days before the as-of day (days >= 1: strictly past due).
func (rp *Repurchase) Overdue(days int) []uint32 {
	days = max(days, 1)
	var out []uint32
	for m, d := range rp.due {
		if d != NoDay && int64(rp.asOfDay)-int64(d) >= int64(days) {
			out = append(out, uint32(m))
		}
	}
	return out
}

// Categories returns every member × category with line items, ordered
// by member then category.
func (rp *Repurchase) Categories() []CategoryDue { return rp.cats }

// CategoryDueWithin returns the members expected to buy in category cat
// within the next days days (as DueWithin), in increasing order; for a
// category with days-supply, the members whose medicine runs out then.
func (rp *Repurchase) CategoryDueWithin(cat uint32, days int) []uint32 {
	asOf := rp.AsOf()
	end := asOf.AddDate(0, 0, days)
	var out []uint32
	for _, cd := range rp.cats {
		if cd.Category == cat && !cd.Due.IsZero() && !cd.Due.Before(asOf) && !cd.Due.After(end) {
			out = append(out, cd.Member)
		}
	}
	return out
}

// CategoryOverdue returns the members whose due day in category cat was
// at least days (>= 1) days before the as-of day, in increasing order.
func (rp *Repurchase) CategoryOverdue(cat uint32, days int) []uint32 {
	limit := rp.AsOf().AddDate(0, 0, -max(days, 1))
	var out []uint32
	for _, cd := range rp.cats {
		if cd.Category == cat && !cd.Due.IsZero() && !cd.Due.After(limit) {
			out = append(out, cd.Member)
		}
	}
	return out
}

// LapseRisk combines how long member m has been away with its usual
// interval and its probability of being alive (from Model.Predict; pass 1
// without a model) into a number in [0, 1]:
//
//	risk = 1 − pAlive · exp(−max(0, recency − interval) / interval)
//
// Within its usual interval a member's risk is just 1 − pAlive; each
// further interval of silence takes e^−1 of what is left. A member with
// no interval is at 1 − pAlive; one with no purchase at 1.
func (rp *Repurchase) LapseRisk(m uint32, pAlive float64) float64 {
	if uint64(m) >= uint64(len(rp.due)) || rp.recency[m] < 0 {
		return 1
	}
	pAlive = min(max(pAlive, 0), 1)
	iv := float64(rp.interval[m])
	if iv <= 0 {
		return 1 - pAlive
	}
	over := max(0, float64(rp.recency[m])-iv)
	return 1 - pAlive*math.Exp(-over/iv)
}

// findCategory returns the index of member m's entry for category c.
func (rp *Repurchase) findCategory(m, c uint32) (int, bool) {
	return slices.BinarySearchFunc(rp.cats, [2]uint32{m, c}, func(cd CategoryDue, k [2]uint32) int {
		if r := cmp.Compare(cd.Member, k[0]); r != 0 {
			return r
		}
		return cmp.Compare(cd.Category, k[1])
	})
}

// Category returns member m's entry for category c, or false when the
// member bought nothing in it.
func (rp *Repurchase) Category(m, c uint32) (CategoryDue, bool) {
	i, ok := rp.findCategory(m, c)
	if !ok {
		return CategoryDue{}, false
	}
	return rp.cats[i], true
}
