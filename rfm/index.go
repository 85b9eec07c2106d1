package rfm

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/cdpkit/cdpkit/segment"
)

// IndexData says what Load writes into a segment.Index. Summaries is
// required; the other parts are written when set.
//
// With the default prefix "rfm_", the fields are, for members with a
// purchase in the window (others get no value):
//
//	rfm_recency, rfm_orders, rfm_days    int: days since last purchase; orders; purchase days
//	rfm_monetary                         int: minor units, as Monetary (net total or mean per Frequency)
//	rfm_first_day, rfm_last_day          int: purchase days as segment.Day numbers
//	rfm_r, rfm_f, rfm_m                  int: scores 1..Bins (with Scores)
//	<each key of Segments>               enum: one value per segment name
//	rfm_due_<N>d, rfm_overdue_<N>d       tag: Repurchase.DueWithin(N), Overdue(N)
//	rfm_due_<N>d:<category>              tag: CategoryDueWithin for each of Categories
//	rfm_overdue_<N>d:<category>          tag: CategoryOverdue
//
// Each field is replaced whole, so loading again after a new scoring run
// leaves no stale members behind.
type IndexData struct {
	Summaries *Summaries
	Frequency Frequency // counts behind rfm_monetary with Mean
	Monetary  Monetary
	Scores    *Scores
	// Segments maps enum field names to segment assignments, e.g.
	// {"rfm_segment": grid, "rfm_class": classes}.
	Segments   map[string]*Segments
	Repurchase *Repurchase
	DueWithin  []int             // days ahead for due tags
	Overdue    []int             // days late for overdue tags
	Categories map[uint32]string // category IDs to tag, with the names the tags carry
	Prefix     string            // field name prefix; "" means "rfm_"
}

// Load writes d into ix in one write transaction: readers see all of it
// at once or none of it.
func Load(ix *segment.Index, d *IndexData) error {
	return ix.Update(d.Apply)
}

// Apply writes d within a transaction the host already holds, so the RFM
// fields can change together with its own.
func (d *IndexData) Apply(tx *segment.Tx) error {
	s := d.Summaries
	if s == nil {
		return fmt.Errorf("index data without summaries: %w", ErrConfig)
	}
	n := s.Len()
	if d.Scores != nil && d.Scores.Len() != n {
		return fmt.Errorf("scores of %d members, summaries of %d: %w", d.Scores.Len(), n, ErrConfig)
	}
	for name, sg := range d.Segments {
		if len(sg.Of) != n {
			return fmt.Errorf("segments %q of %d members, summaries of %d: %w", name, len(sg.Of), n, ErrConfig)
		}
	}
	p := d.Prefix
	if p == "" {
		p = "rfm_"
	}
	buyers := roaring.New()
	for m, o := range s.orders {
		if o > 0 {
			buyers.Add(uint32(m))
		}
	}
	first, last := make([]int64, n), make([]int64, n)
	orders, days := make([]int64, n), make([]int64, n)
	parallel(n, func(lo, hi int) {
		for m := lo; m < hi; m++ {
			first[m], last[m] = int64(s.firstDay[m]), int64(s.lastDay[m])
			orders[m], days[m] = int64(s.orders[m]), int64(s.days[m])
		}
	})
	ints := []struct {
		name string
		col  []int64
	}{
		{"recency", s.Recency()},
		{"orders", orders},
		{"days", days},
		{"monetary", s.Monetary(d.Monetary, d.Frequency)},
		{"first_day", first},
		{"last_day", last},
	}
	if sc := d.Scores; sc != nil {
		for _, dim := range []struct {
			name string
			col  []uint8
		}{{"r", sc.R}, {"f", sc.F}, {"m", sc.M}} {
			col := make([]int64, n)
			parallel(n, func(lo, hi int) {
				for m := lo; m < hi; m++ {
					col[m] = int64(dim.col[m])
				}
			})
			ints = append(ints, struct {
				name string
				col  []int64
			}{dim.name, col})
		}
	}
	for _, f := range ints {
		// Non-buyers carry NoValue in some columns; they are outside
		// present, but a zero keeps the bit slices as narrow as the data.
		for m, o := range s.orders {
			if o == 0 {
				f.col[m] = 0
			}
		}
		if err := declareReplaceInt(tx, p+f.name, f.col, buyers); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(d.Segments))
	for name := range d.Segments {
		names = append(names, name)
	}
	slices.Sort(names) // a fixed order, so a failure names the same field every time
	for _, name := range names {
		sg := d.Segments[name]
		codes := make([]int32, n)
		for m, o := range sg.Of {
			codes[m] = int32(o) - 1
		}
		if err := tx.Declare(name, segment.KindEnum); err != nil {
			return fmt.Errorf("load %q: %w", name, err)
		}
		if err := tx.ReplaceEnumColumn(name, sg.Names, codes); err != nil {
			return fmt.Errorf("load %q: %w", name, err)
		}
	}
	if rp := d.Repurchase; rp != nil {
		tags := map[string][]uint32{}
		for _, days := range d.DueWithin {
			tags[p+"due_"+strconv.Itoa(days)+"d"] = rp.DueWithin(days)
			for c, cname := range d.Categories {
				tags[p+"due_"+strconv.Itoa(days)+"d:"+cname] = rp.CategoryDueWithin(c, days)
			}
		}
		for _, days := range d.Overdue {
			tags[p+"overdue_"+strconv.Itoa(days)+"d"] = rp.Overdue(days)
			for c, cname := range d.Categories {
				tags[p+"overdue_"+strconv.Itoa(days)+"d:"+cname] = rp.CategoryOverdue(c, days)
			}
		}
		tagNames := make([]string, 0, len(tags))
		for name := range tags {
			tagNames = append(tagNames, name)
		}
		slices.Sort(tagNames)
		for _, name := range tagNames {
			if err := tx.Declare(name, segment.KindTag); err != nil {
				return fmt.Errorf("load %q: %w", name, err)
			}
			if err := tx.ReplaceTag(name, roaring.BitmapOf(tags[name]...)); err != nil {
				return fmt.Errorf("load %q: %w", name, err)
			}
		}
	}
	return nil
}

func declareReplaceInt(tx *segment.Tx, name string, col []int64, present *roaring.Bitmap) error {
	if err := tx.Declare(name, segment.KindInt); err != nil {
		return fmt.Errorf("load %q: %w", name, err)
	}
	if err := tx.ReplaceIntColumn(name, col, present); err != nil {
		return fmt.Errorf("load %q: %w", name, err)
	}
	return nil
}
