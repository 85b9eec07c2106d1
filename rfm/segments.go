package rfm

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// A Range is an inclusive range of scores; the zero Range matches any
// score.
type Range struct{ Min, Max int }

func (r Range) contains(v int) bool {
	return r == Range{} || (v >= r.Min && v <= r.Max)
}

// A Rule names the cells of the R×F×M score cube whose scores fall in its
// ranges.
type Rule struct {
	Name    string
	R, F, M Range
}

// A Segmenter maps score cells to segment names. It is immutable and safe
// for concurrent use.
type Segmenter struct {
	bins  int
	names []string
	cell  []uint8 // (r-1)*bins*bins + (f-1)*bins + (m-1) → name index + 1
}

// NewSegmenter compiles rules over scores 1..bins. Every cell of the
// R×F×M cube must be matched by exactly one rule, or by none when
// otherwise names a segment for the rest; overlaps and gaps are errors
// that name the cell (and the rules). At most 255 names.
func NewSegmenter(bins int, rules []Rule, otherwise string) (*Segmenter, error) {
	if bins < 1 || bins > 255 || bins*bins*bins > 1<<24 {
		return nil, fmt.Errorf("bins %d out of range: %w", bins, ErrConfig)
	}
	g := &Segmenter{bins: bins, cell: make([]uint8, bins*bins*bins)}
	index := map[string]uint8{}
	nameIndex := func(name string) (uint8, error) {
		if i, ok := index[name]; ok {
			return i, nil
		}
		if len(g.names) == 255 {
			return 0, fmt.Errorf("more than 255 segment names: %w", ErrConfig)
		}
		g.names = append(g.names, name)
		index[name] = uint8(len(g.names))
		return index[name], nil
	}
	owner := make([]int, len(g.cell)) // rule index + 1
	var errs []error
	for ri, rule := range rules {
		if strings.TrimSpace(rule.Name) == "" {
			return nil, fmt.Errorf("rule %d has no name: %w", ri, ErrConfig)
		}
		for _, rg := range []Range{rule.R, rule.F, rule.M} {
			if rg != (Range{}) && (rg.Min < 1 || rg.Max > bins || rg.Min > rg.Max) {
				return nil, fmt.Errorf("rule %q: range %d..%d outside 1..%d: %w", rule.Name, rg.Min, rg.Max, bins, ErrConfig)
			}
		}
		ni, err := nameIndex(rule.Name)
		if err != nil {
			return nil, err
		}
		matched := false
		for r := 1; r <= bins; r++ {
			for f := 1; f <= bins; f++ {
				for m := 1; m <= bins; m++ {
					if !rule.R.contains(r) || !rule.F.contains(f) || !rule.M.contains(m) {
						continue
					}
					matched = true
					c := g.index(r, f, m)
					if o := owner[c]; o != 0 {
						errs = append(errs, fmt.Errorf("cell R=%d F=%d M=%d matched by %q and %q: %w", r, f, m, rules[o-1].Name, rule.Name, ErrConfig))
						continue
					}
					owner[c] = ri + 1
					g.cell[c] = ni
				}
			}
		}
		if !matched {
			errs = append(errs, fmt.Errorf("rule %q matches no cell: %w", rule.Name, ErrConfig))
		}
	}
	for c := range g.cell {
		if g.cell[c] != 0 {
			continue
		}
		if otherwise == "" {
			r, f, m := c/(bins*bins)+1, c/bins%bins+1, c%bins+1
			errs = append(errs, fmt.Errorf("cell R=%d F=%d M=%d matched by no rule: %w", r, f, m, ErrConfig))
			continue
		}
		ni, err := nameIndex(otherwise)
		if err != nil {
			return nil, err
		}
		g.cell[c] = ni
	}
	if len(errs) > 0 {
		if len(errs) > 10 {
			errs = append(errs[:10], fmt.Errorf("and %d more", len(errs)-10))
		}
		return nil, errors.Join(errs...)
	}
	return g, nil
}

func (g *Segmenter) index(r, f, m int) int {
	return (r-1)*g.bins*g.bins + (f-1)*g.bins + (m - 1)
}

// Bins returns the number of score bins the Segmenter was built for.
func (g *Segmenter) Bins() int { return g.bins }

// Names returns the segment names in the order rules first named them.
func (g *Segmenter) Names() []string { return append([]string(nil), g.names...) }

// Name returns the segment of a score cell, or "" for scores out of range.
func (g *Segmenter) Name(r, f, m int) string {
	if r < 1 || f < 1 || m < 1 || r > g.bins || f > g.bins || m > g.bins {
		return ""
	}
	return g.names[g.cell[g.index(r, f, m)]-1]
}

// The segment names of the R×F grid.
const (
	Champions          = "Champions"
	LoyalCustomers     = "Loyal Customers"
	PotentialLoyalists = "Potential Loyalists"
	NewCustomers       = "New Customers"
	Promising          = "Promising"
	NeedAttention      = "Need Attention"
	AboutToSleep       = "About To Sleep"
	AtRisk             = "At Risk"
	CantLoseThem       = "Can't Lose Them"
	Hibernating        = "Hibernating"
)

// GridRules are the rules of the R×F grid that most RFM tools use, on 5
// bins, M ignored (rows R, columns F):
//
//	R\F  1            2             3             4        5
//	5    New          Potential     Potential     Champ.   Champ.
//	4    Promising    Potential     Potential     Loyal    Loyal
//	3    About To Sl. About To Sl.  Need Attn.    Loyal    Loyal
//	2    Hibernating  Hibernating   At Risk       At Risk  Can't Lose
//	1    Hibernating  Hibernating   At Risk       At Risk  Can't Lose
func GridRules() []Rule {
	return []Rule{
		{Name: Champions, R: Range{5, 5}, F: Range{4, 5}},
		{Name: LoyalCustomers, R: Range{3, 4}, F: Range{4, 5}},
		{Name: PotentialLoyalists, R: Range{4, 5}, F: Range{2, 3}},
		{Name: NewCustomers, R: Range{5, 5}, F: Range{1, 1}},
		{Name: Promising, R: Range{4, 4}, F: Range{1, 1}},
		{Name: NeedAttention, R: Range{3, 3}, F: Range{3, 3}},
		{Name: AboutToSleep, R: Range{3, 3}, F: Range{1, 2}},
		{Name: AtRisk, R: Range{1, 2}, F: Range{3, 4}},
		{Name: CantLoseThem, R: Range{1, 2}, F: Range{5, 5}},
		{Name: Hibernating, R: Range{1, 2}, F: Range{1, 2}},
	}
}

// Grid returns the Segmenter of GridRules.
func Grid() *Segmenter {
	g, err := NewSegmenter(5, GridRules(), "")
	if err != nil {
		// GridRules is a constant table covered by TestGridCoversEveryCell.
		panic(err)
	}
	return g
}

// Segments holds one segment per member. It is not modified after it is
// returned and may be read concurrently.
type Segments struct {
	Names []string // the segment names
	// Of holds, per member, the index+1 into Names of its segment, or 0
	// for a member in no segment (no purchase in the window).
	Of []uint8
}

// Name returns member m's segment, or "".
func (sg *Segments) Name(m uint32) string {
	if uint64(m) >= uint64(len(sg.Of)) || sg.Of[m] == 0 {
		return ""
	}
	return sg.Names[sg.Of[m]-1]
}

// Count returns the number of members per segment, indexed like Names.
func (sg *Segments) Count() []int {
	counts := make([]int, len(sg.Names)+1)
	for _, o := range sg.Of {
		counts[o]++
	}
	return counts[1:]
}

// Members yields the members of segment name in increasing ID order.
func (sg *Segments) Members(name string) iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		idx := -1
		for i, n := range sg.Names {
			if n == name {
				idx = i + 1
			}
		}
		if idx < 0 {
			return
		}
		for m, o := range sg.Of {
			if int(o) == idx && !yield(uint32(m)) {
				return
			}
		}
	}
}

// Assign names every scored member's segment.
func (g *Segmenter) Assign(sc *Scores) (*Segments, error) {
	if sc.Bins != g.bins {
		return nil, fmt.Errorf("scores have %d bins, segmenter %d: %w", sc.Bins, g.bins, ErrConfig)
	}
	sg := &Segments{Names: g.Names(), Of: make([]uint8, len(sc.R))}
	b := g.bins
	parallel(len(sc.R), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r, f, m := int(sc.R[i]), int(sc.F[i]), int(sc.M[i])
			if r == 0 || f == 0 || m == 0 {
				continue
			}
			sg.Of[i] = g.cell[(r-1)*b*b+(f-1)*b+(m-1)]
		}
	})
	return sg, nil
}

// The eight classes of the Chinese RFM scheme (RFM八类客户), each R, F and
// M either high (高) or low (低) against the buyers' mean.
const (
	ImportantValue   = "重要价值" // R high, F high, M high
	ImportantGrowth  = "重要发展" // R high, F low, M high
	ImportantRetain  = "重要保持" // R low, F high, M high
	ImportantWinBack = "重要挽留" // R low, F low, M high
	OrdinaryValue    = "一般价值" // R high, F high, M low
	OrdinaryGrowth   = "一般发展" // R high, F low, M low
	OrdinaryRetain   = "一般保持" // R low, F high, M low
	OrdinaryWinBack  = "一般挽留" // R low, F low, M low
)

// classNames is indexed by the bits M<<2 | F<<1 | R (1 = high).
var classNames = [8]string{
	OrdinaryWinBack, OrdinaryGrowth, OrdinaryRetain, OrdinaryValue,
	ImportantWinBack, ImportantGrowth, ImportantRetain, ImportantValue,
}

// Classes puts every buyer in one of the eight classes of the Chinese
// scheme. R is high when the member bought recently: recency (days) at or
// below the buyers' mean recency. F and M are high at or above the
// buyers' mean frequency (counted as f) and net spend (total or mean per
// purchase, as mon). A value exactly at the mean is high. The means are of
// the raw values, not of scores.
func (s *Summaries) Classes(f Frequency, mon Monetary) *Segments {
	rec, freq, money := s.Recency(), s.Frequency(f), s.Monetary(mon, f)
	var n uint64
	var sr, sf, sm int128
	for i := range rec {
		if rec[i] == NoValue {
			continue
		}
		n++
		sr = sr.add(int128Of(rec[i]))
		sf = sf.add(int128Of(freq[i]))
		sm = sm.add(int128Of(money[i]))
	}
	sg := &Segments{Names: slices.Clone(classNames[:]), Of: make([]uint8, len(rec))}
	if n == 0 {
		return sg
	}
	// v against the mean sum/n, exactly: v*n against sum.
	parallel(len(rec), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if rec[i] == NoValue {
				continue
			}
			var c uint8
			if mulInt64(rec[i], n).cmp(sr) <= 0 {
				c |= 1
			}
			if mulInt64(freq[i], n).cmp(sf) >= 0 {
				c |= 2
			}
			if mulInt64(money[i], n).cmp(sm) >= 0 {
				c |= 4
			}
			sg.Of[i] = c + 1
		}
	})
	return sg
}
