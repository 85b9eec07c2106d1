package pharmacy

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a run of the story found, stage by stage, with the time
// each stage took. WriteText prints it; WriteHTML renders report.html.
type Report struct {
	Members  int
	Seed     uint64
	AsOf     time.Time // the end of the last day of data, in Location
	Location *time.Location

	Stages []Stage

	Chain   Chain
	OneID   *OneID
	Orders  Keying
	RFM     RFM
	CLV     CLV
	Tags    []TagCount
	Loyalty Loyalty
	// Audience is the refill-reminder campaign's audience and split.
	Audience Audience
}

// A Stage is one step of the run and the wall time it took.
type Stage struct {
	Name string
	What string
	Took time.Duration
}

// Total is the wall time of all stages.
func (r *Report) Total() time.Duration {
	var t time.Duration
	for _, s := range r.Stages {
		t += s.Took
	}
	return t
}

// Chain describes the generated chain.
type Chain struct {
	Stores       int
	Chronic      int // members with a chronic condition
	Lapsed       int // members the generator made stop buying
	Observations int
	Orders       int // orders, refunds excluded
	Refunds      int
	Revenue      int64 // net, fen
}

// Keying says how orders reached persons.
type Keying struct {
	Rows    int // orders and refunds keyed to a person
	Persons int // persons with at least one order
	// FirstSeen counts buyer identifiers OneID had never seen when their
	// first order arrived; the order was observed and started or joined a
	// person.
	FirstSeen int
	// Anonymous counts orders whose buyer gave no identifier: they reach
	// no person.
	Anonymous int
}

// RFM is the scoring of the persons who bought.
type RFM struct {
	Buyers int
	// Grid counts buyers by R score (rows, R5 first) and F score
	// (columns, F1 first); Names gives each cell's segment.
	Grid  [5][5]int
	Names [5][5]string
	// Segments are the R×F grid's named segments, largest first.
	Segments []NameCount
}

// NameCount is a name with a count.
type NameCount struct {
	Name  string
	Count int
}

// CLV is the lifetime-value fit and its predictions.
type CLV struct {
	// R, Alpha, A, B are the BG/NBD parameters (Alpha in days); P, Q,
	// Gamma the Gamma-Gamma ones (Gamma in yuan).
	R, Alpha, A, B float64
	P, Q, Gamma    float64
	// Customers is the number of buyers the models were fitted on.
	Customers int
	// MeanPAlive is the buyers' mean P(alive) (from alive_pct, a rounded
	// percentage).
	MeanPAlive float64
	// PAlive counts buyers by probability of being alive (alive_pct), in
	// the bands of PAliveBands.
	PAlive [len(PAliveBands)]int
	// Value is the expected spend of all buyers in the next 365 days, in
	// yuan (the clv field).
	Value float64
}

// PAliveBands are the lower bounds of the P(alive) bands the report counts.
var PAliveBands = [...]float64{0.9, 0.7, 0.5, 0.3, 0}

// TagCount is one tag, what it means and how many persons have it.
type TagCount struct {
	Name, Description string
	Count             int
}

// Loyalty is the member programme's state at the as-of time.
type Loyalty struct {
	// Tiers, lowest first, with the persons in each.
	Tiers []TierCount
	// Available points and the accounts holding them (persons who bought
	// since the programme started).
	Available int64
	Accounts  int
	// Rules describes the programme in a line.
	Rules string
}

// TierCount is one tier of the programme and its members.
type TierCount struct {
	Name      string
	Threshold int64 // growth value needed
	Members   int
	Available int64 // points available to its members
}

// Audience is the campaign audience, how each condition narrowed it, and
// its split.
type Audience struct {
	Description string
	Expr        string
	// Funnel counts the persons left after each condition.
	Funnel             []NameCount
	Count              int
	Salt               string
	Campaign, Holdout  int
	CampaignIDsExample []uint32 // the first few campaign members
}

// WriteText prints the report as plain text.
func (r *Report) WriteText(w io.Writer) error {
	p := &printer{w: w}
	p.f("cdpkit pharmacy story: %s members, seed %d, as of %s (%s)\n",
		thousands(r.Members), r.Seed, r.AsOf.In(r.Location).Format("2006-01-02 15:04"), r.Location)

	p.f("\nStages\n")
	for _, s := range r.Stages {
		p.f("  %-9s %8s  %s\n", s.Name, seconds(s.Took), s.What)
	}
	p.f("  %-9s %8s\n", "total", seconds(r.Total()))

	c := r.Chain
	p.f("\nChain\n  %s members (%s with a chronic condition), %s stores; %s orders and %s refunds, net %s yuan\n",
		thousands(r.Members), pct(c.Chronic, r.Members), thousands(c.Stores), thousands(c.Orders),
		thousands(c.Refunds), thousands(int(c.Revenue/100)))

	if o := r.OneID; o != nil {
		p.f("\nOneID\n  %s observations carrying %s identifiers from %s members → %s persons (%s merges on the way)\n",
			thousands(o.Observations), thousands(o.Identifiers), thousands(o.Members), thousands(o.Persons), thousands(o.Merged))
		p.f("  junk rejected      %s values: %s; %s observations had nothing else\n",
			thousands(sum(o.Rejected)), listCounts(o.Rejected, 5, quoted), thousands(o.Unresolved))
		p.f("  refused by limits  %s links: %s\n", thousands(sum(o.Refused)), listCounts(o.Refused, 6, plain))
		p.f("  shared values      %d of %d store counter phones and %d of %d kiosk tablets linked to a person (the first customer seen with one)\n",
			o.StorePhonesHeld, o.StorePhones, o.KiosksHeld, o.Kiosks)
		s := o.Score
		p.f("  vs true members    precision %.4f, recall %.4f (pairs of observations)\n", s.Precision, s.Recall)
		p.f("                     %s persons over-merged (%s members, at most %d in one)\n",
			thousands(s.OverMerged), thousands(s.OverMergedMembers), s.Largest)
		p.f("                     %s members split into %s extra persons: %s members' own identifiers do not link all their accounts,\n",
			thousands(s.UnderMerged), thousands(s.ExtraPersons), thousands(s.Unlinkable))
		p.f("                     and %s were split although they do\n", thousands(s.SplitLinkable))
	}

	k := r.Orders
	p.f("\nOrders keyed to persons\n  %s orders and refunds reached %s persons by the identifier their channel knows the buyer by;\n  %s buyer identifiers were first seen on an order; %s anonymous orders reached no one\n",
		thousands(k.Rows), thousands(k.Persons), thousands(k.FirstSeen), thousands(k.Anonymous))

	f := r.RFM
	p.f("\nRFM: %s buyers, 5 bins by rank (NTILE); F = orders, M = net spend\n", thousands(f.Buyers))
	tw := tabwriter.NewWriter(p, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  R\\F\tF1\tF2\tF3\tF4\tF5\t\n")
	for i := range 5 {
		fmt.Fprintf(tw, "  R%d\t", 5-i)
		for j := range 5 {
			fmt.Fprintf(tw, "%s\t", thousands(f.Grid[i][j]))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	var segs []string
	for _, s := range f.Segments {
		segs = append(segs, fmt.Sprintf("%s %s", s.Name, thousands(s.Count)))
	}
	p.f("  segments: %s\n", strings.Join(segs, ", "))

	v := r.CLV
	p.f("\nCLV: BG/NBD and Gamma-Gamma fitted on %s buyers' histories\n  BG/NBD       r = %.4f, α = %.4f days, a = %.4f, b = %.4f\n",
		thousands(v.Customers), v.R, v.Alpha, v.A, v.B)
	p.f("  Gamma-Gamma  p = %.4f, q = %.4f, γ = %.4f yuan\n", v.P, v.Q, v.Gamma)
	var bands []string
	for i, lo := range PAliveBands {
		hi := 1.0
		if i > 0 {
			hi = PAliveBands[i-1]
		}
		bands = append(bands, fmt.Sprintf("%.1f–%.1f %s", lo, hi, thousands(v.PAlive[i])))
	}
	p.f("  P(alive)     mean %.3f; %s\n", v.MeanPAlive, strings.Join(bands, ", "))
	p.f("  expected spend in the next 365 days: %s yuan\n", thousands(int(v.Value)))

	p.f("\nTags\n")
	tw = tabwriter.NewWriter(p, 0, 0, 2, ' ', 0)
	for _, t := range r.Tags {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Name, rightAlign(thousands(t.Count), 9), t.Description)
	}
	tw.Flush()

	l := r.Loyalty
	p.f("\nLoyalty: %s\n", l.Rules)
	tw = tabwriter.NewWriter(p, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  tier\tgrowth from\tmembers\tshare\tpoints available\t\n")
	total := 0
	for _, t := range l.Tiers {
		total += t.Members
	}
	for _, t := range l.Tiers {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t\n", t.Name, thousands(int(t.Threshold)), thousands(t.Members), pct(t.Members, total), thousands(int(t.Available)))
	}
	tw.Flush()
	p.f("  %s points available over %s members who bought since the launch\n", thousands(int(l.Available)), thousands(l.Accounts))

	a := r.Audience
	p.f("\nAudience: %s\n  %s\n  ", a.Description, a.Expr)
	for i, s := range a.Funnel {
		if i > 0 {
			p.f(" → ")
		}
		p.f("%s %s", s.Name, thousands(s.Count))
	}
	p.f("\n  split 90/10 with salt %q: campaign %s, hold-out %s\n", a.Salt, thousands(a.Campaign), thousands(a.Holdout))
	return p.err
}

// printer writes formatted text and keeps the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.w.Write(b)
	p.err = err
	return n, err
}

func (p *printer) f(format string, args ...any) { fmt.Fprintf(p, format, args...) }

func seconds(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func pct(n, of int) string { return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(max(of, 1))) }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func quoted(s string) string { return fmt.Sprintf("%q", s) }
func plain(s string) string  { return s }

// listCounts lists the n largest counts of m as "key count, …".
func listCounts(m map[string]int, n int, key func(string) string) string {
	var parts []string
	keys := topCounts(m)
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, key(k)+" "+thousands(m[k]))
	}
	if len(keys) > n {
		parts = append(parts, "…")
	}
	return strings.Join(parts, ", ")
}

func rightAlign(s string, w int) string {
	if n := w - len(s); n > 0 {
		return strings.Repeat(" ", n) + s
	}
	return s
}

// thousands writes n with comma separators: 1234567 → 1,234,567.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
