package rfm

import (
	"cmp"
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
	rp.cats = s.categoryDue(k)
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

func (s *Summaries) categoryDue(k float64) []CategoryDue {
	type agg struct{ span, gaps int64 }
	pop := map[uint32]agg{}
	var all []uint64
	for _, cm := range s.cats {
		for key, st := range cm {
			all = append(all, key)
			if st.n > 1 {
				a := pop[uint32(key)]
				a.span += int64(st.last - st.first)
				a.gaps += int64(st.n - 1)
				pop[uint32(key)] = a
			}
		}
	}
	slices.Sort(all)
	out := make([]CategoryDue, 0, len(all))
	for _, key := range all {
		m, c := uint32(key>>32), uint32(key)
		st := s.cats[m>>blockBits][key]
		cd := CategoryDue{Member: m, Category: c, Last: dateOf(st.last, s.loc), Purchases: int(st.n)}
		p := pop[c]
		iv, ok := shrunk(int64(st.last-st.first), int64(st.n-1), p.span, p.gaps, k)
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
		out = append(out, cd)
	}
	return out
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
