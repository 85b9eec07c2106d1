package pharmacy

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// page is everything report.html shows. It renders to one HTML file with
// inline SVG charts and no scripts or external resources, so it opens in a
// browser with no network.
type page struct {
	Title    string
	Subtitle string
	Stages   []Stage
	Facts    []fact
	// RFM is the grid of members by recency (rows) and frequency (columns)
	// score, drawn as a heat map.
	RFM      *grid
	Sections []section
}

type fact struct{ Label, Value string }

// grid is a heat map: Counts[r][c], with optional cell names.
type grid struct {
	Title     string
	RowTitle  string
	ColTitle  string
	RowLabels []string
	ColLabels []string
	Counts    [][]int
	Names     [][]string
}

// section is a bar chart, a table, or both.
type section struct {
	ID    string // the chart's id attribute
	Title string
	Note  string
	Bars  []bar
	Table *table
}

type bar struct {
	Label string
	Value float64
	Text  string // shown at the end of the bar; defaults to the value
}

type table struct {
	Head []string
	Rows [][]string
}

func (pg *page) render(w io.Writer) error {
	return pageTemplate.Execute(w, pg)
}

// WriteHTML renders the report as one self-contained HTML page: inline SVG
// charts (the RFM grid as a heat map; segment sizes, tags, the audience
// funnel, tiers and P(alive) as bar charts), no scripts and no external
// resources, so it opens in any browser with no network.
func (r *Report) WriteHTML(w io.Writer) error {
	return r.page().render(w)
}

func (r *Report) page() *page {
	pg := &page{
		Title: "cdpkit pharmacy story",
		Subtitle: fmt.Sprintf("%s members, seed %d, as of %s (%s); the whole run took %s",
			thousands(r.Members), r.Seed, r.AsOf.In(r.Location).Format("2006-01-02 15:04"), r.Location, seconds(r.Total())),
		Stages: r.Stages,
	}
	addFact := func(label, value string) { pg.Facts = append(pg.Facts, fact{label, value}) }
	addFact("members", thousands(r.Members))
	if r.OneID != nil {
		addFact("persons after OneID", thousands(r.OneID.Persons))
		addFact("OneID precision / recall", fmt.Sprintf("%.4f / %.4f", r.OneID.Score.Precision, r.OneID.Score.Recall))
	}
	addFact("orders and refunds", thousands(r.Orders.Rows))
	addFact("buyers scored", thousands(r.RFM.Buyers))
	addFact("mean P(alive)", fmt.Sprintf("%.3f", r.CLV.MeanPAlive))
	addFact("audience", thousands(r.Audience.Count))
	addFact("campaign / hold-out", thousands(r.Audience.Campaign)+" / "+thousands(r.Audience.Holdout))

	if o := r.OneID; o != nil {
		t := &table{Head: []string{"what", "count"}}
		row := func(what string, n int) { t.Rows = append(t.Rows, []string{what, thousands(n)}) }
		row("observations", o.Observations)
		row("identifiers in them", o.Identifiers)
		row("true members behind them", o.Members)
		row("persons after resolution", o.Persons)
		row("junk values rejected", sum(o.Rejected))
		for _, k := range topCounts(o.Refused) {
			row("links refused by limits: "+k, o.Refused[k])
		}
		row("persons over-merged (holding two or more members)", o.Score.OverMerged)
		row("members split over two or more persons", o.Score.UnderMerged)
		row("members whose own identifiers do not link all their accounts", o.Score.Unlinkable)
		row("members split although their own identifiers link them", o.Score.SplitLinkable)
		pg.Sections = append(pg.Sections, section{ID: "oneid", Title: "OneID",
			Note: fmt.Sprintf("Against the true members: precision %.4f, recall %.4f over pairs of observations; at most %d members in one person.",
				o.Score.Precision, o.Score.Recall, o.Score.Largest), Table: t})
	}

	g := &grid{Title: "RFM grid: buyers by recency and frequency score", RowTitle: "recency score", ColTitle: "frequency score",
		RowLabels: []string{"R5", "R4", "R3", "R2", "R1"}, ColLabels: []string{"F1", "F2", "F3", "F4", "F5"}}
	for i := range 5 {
		g.Counts = append(g.Counts, r.RFM.Grid[i][:])
		g.Names = append(g.Names, r.RFM.Names[i][:])
	}
	pg.RFM = g

	var segs []bar
	for _, s := range r.RFM.Segments {
		segs = append(segs, bar{Label: s.Name, Value: float64(s.Count), Text: thousands(s.Count) + " · " + pct(s.Count, r.RFM.Buyers)})
	}
	pg.Sections = append(pg.Sections, section{ID: "segments", Title: "Segment sizes", Note: "Buyers per named cell of the R×F grid.", Bars: segs})

	var tags []bar
	for _, t := range r.Tags {
		tags = append(tags, bar{Label: t.Name, Value: float64(t.Count)})
	}
	pg.Sections = append(pg.Sections, section{ID: "tags", Title: "Tags", Note: "Persons carrying each tag.", Bars: tags,
		Table: tagTable(r.Tags)})

	var funnel []bar
	for _, s := range r.Audience.Funnel {
		funnel = append(funnel, bar{Label: s.Name, Value: float64(s.Count)})
	}
	funnel = append(funnel,
		bar{Label: "campaign (90%)", Value: float64(r.Audience.Campaign)},
		bar{Label: "hold-out (10%)", Value: float64(r.Audience.Holdout)})
	pg.Sections = append(pg.Sections, section{ID: "audience", Title: "Audience: " + r.Audience.Description,
		Note: r.Audience.Expr, Bars: funnel})

	var tiers []bar
	tt := &table{Head: []string{"tier", "growth from", "members", "points available"}}
	for _, t := range r.Loyalty.Tiers {
		tiers = append(tiers, bar{Label: t.Name, Value: float64(t.Members)})
		tt.Rows = append(tt.Rows, []string{t.Name, thousands(int(t.Threshold)), thousands(t.Members), thousands(int(t.Available))})
	}
	pg.Sections = append(pg.Sections, section{ID: "tiers", Title: "Tier distribution", Note: r.Loyalty.Rules, Bars: tiers, Table: tt})

	var alive []bar
	for i, lo := range PAliveBands {
		hi := 1.0
		if i > 0 {
			hi = PAliveBands[i-1]
		}
		alive = append(alive, bar{Label: fmt.Sprintf("P(alive) %.1f–%.1f", lo, hi), Value: float64(r.CLV.PAlive[i])})
	}
	pg.Sections = append(pg.Sections, section{ID: "palive", Title: "Probability of being alive (BG/NBD)",
		Note: fmt.Sprintf("BG/NBD r = %.3f, α = %.2f days, a = %.3f, b = %.3f; Gamma-Gamma p = %.2f, q = %.2f, γ = %.2f yuan.",
			r.CLV.R, r.CLV.Alpha, r.CLV.A, r.CLV.B, r.CLV.P, r.CLV.Q, r.CLV.Gamma), Bars: alive})

	var took []bar
	for _, s := range r.Stages {
		took = append(took, bar{Label: s.Name, Value: s.Took.Seconds(), Text: seconds(s.Took)})
	}
	pg.Sections = append(pg.Sections, section{ID: "timings", Title: "Where the time went", Bars: took})
	return pg
}

func tagTable(tags []TagCount) *table {
	t := &table{Head: []string{"tag", "persons", "meaning"}}
	for _, x := range tags {
		t.Rows = append(t.Rows, []string{x.Name, thousands(x.Count), x.Description})
	}
	return t
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"heatmap":  heatmap,
	"barchart": barchart,
	"numeric":  numeric,
	"ms": func(d time.Duration) string {
		if d >= time.Second {
			return fmt.Sprintf("%.2f s", d.Seconds())
		}
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC",sans-serif;margin:2em auto;max-width:1060px;color:#1d2731;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.1em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #dde3e8;padding-bottom:.2em}
.sub{color:#5b6b79;margin-top:0}
table{border-collapse:collapse;margin:.6em 0}td,th{padding:.25em .8em;border-bottom:1px solid #eef1f4;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:.6em}
.fact{background:#f4f7f9;border-radius:6px;padding:.6em .8em}.fact b{display:block;font-size:1.3em}
.note{color:#5b6b79}
svg text{font-family:inherit}
</style></head><body>
<h1>{{.Title}}</h1>
<p class="sub">{{.Subtitle}}</p>
{{if .Facts}}<div class="facts">{{range .Facts}}<div class="fact">{{.Label}}<b>{{.Value}}</b></div>{{end}}</div>{{end}}
{{if .Stages}}<h2>Stages</h2>
<table><tr><th>stage</th><th class="n">took</th><th>what it did</th></tr>
{{range .Stages}}<tr><td>{{.Name}}</td><td class="n">{{ms .Took}}</td><td>{{.What}}</td></tr>{{end}}
</table>{{end}}
{{with .RFM}}<section id="rfm"><h2>{{.Title}}</h2>{{heatmap .}}</section>{{end}}
{{range .Sections}}<section id="{{.ID}}"><h2>{{.Title}}</h2>{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
{{if .Bars}}{{barchart .Bars}}{{end}}
{{with .Table}}<table><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>{{range .Rows}}<tr>{{range .}}<td{{if numeric .}} class="n"{{end}}>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
</section>{{end}}
</body></html>
`))

// heatmap draws g as an SVG grid of cells shaded by count.
func heatmap(g *grid) template.HTML {
	const cell, left, top = 112, 64, 28
	rows, cols := len(g.Counts), 0
	maxCount := 1
	for _, row := range g.Counts {
		cols = max(cols, len(row))
		for _, c := range row {
			maxCount = max(maxCount, c)
		}
	}
	w, h := left+cols*cell+10, top+rows*cell+44
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart heatmap" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, h, w, h, esc(g.Title))
	for r, row := range g.Counts {
		for c, n := range row {
			x, y := left+c*cell, top+r*cell
			t := math.Sqrt(float64(n) / float64(maxCount)) // sqrt keeps small cells visible
			fill := mix([3]float64{240, 246, 250}, [3]float64{12, 92, 118}, t)
			ink := "#1d2731"
			if t > 0.55 {
				ink = "#ffffff"
			}
			fmt.Fprintf(&b, `<rect class="cell" x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#fff" stroke-width="2"><title>%s</title></rect>`,
				x, y, cell, cell, fill, esc(fmt.Sprintf("%s %s, %s %s: %d", g.RowTitle, label(g.RowLabels, r), g.ColTitle, label(g.ColLabels, c), n)))
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="15" font-weight="600" fill="%s">%s</text>`, x+cell/2, y+cell/2, ink, thousands(n))
			if g.Names != nil && r < len(g.Names) && c < len(g.Names[r]) {
				fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="10.5" fill="%s">%s</text>`, x+cell/2, y+cell/2+18, ink, esc(g.Names[r][c]))
			}
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="12">%s</text>`, left-8, top+r*cell+cell/2+4, esc(label(g.RowLabels, r)))
	}
	for c := range cols {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="12">%s</text>`, left+c*cell+cell/2, top-8, esc(label(g.ColLabels, c)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="12" fill="#5b6b79">%s →</text>`, left+cols*cell/2, top+rows*cell+24, esc(g.ColTitle))
	fmt.Fprintf(&b, `<text x="14" y="%d" font-size="12" fill="#5b6b79" transform="rotate(-90 14 %d)" text-anchor="middle">%s →</text>`, top+rows*cell/2, top+rows*cell/2, esc(g.RowTitle))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barchart draws horizontal bars scaled to the largest value.
func barchart(bars []bar) template.HTML {
	const labelW, barW, rowH = 260, 560, 26
	maxV := 0.0
	for _, x := range bars {
		maxV = max(maxV, x.Value)
	}
	if maxV <= 0 {
		maxV = 1
	}
	w, h := labelW+barW+120, len(bars)*rowH+8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart bars" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, w, h, w, h)
	for i, x := range bars {
		y := 4 + i*rowH
		bw := int(math.Round(float64(barW) * max(x.Value, 0) / maxV))
		text := x.Text
		if text == "" {
			text = thousands(int(math.Round(x.Value)))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="12.5">%s</text>`, labelW-8, y+rowH/2+4, esc(x.Label))
		fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%d" height="%d" rx="3" fill="#1f7a8c"><title>%s: %s</title></rect>`, labelW, y+3, max(bw, 1), rowH-8, esc(x.Label), esc(text))
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12.5" fill="#1d2731">%s</text>`, labelW+max(bw, 1)+6, y+rowH/2+4, esc(text))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// numeric reports whether a table cell is a number, to align it right.
func numeric(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != ',' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func label(labels []string, i int) string {
	if i < len(labels) {
		return labels[i]
	}
	return fmt.Sprint(i + 1)
}

func mix(a, b [3]float64, t float64) string {
	t = min(max(t, 0), 1)
	return fmt.Sprintf("#%02x%02x%02x",
		int(a[0]+(b[0]-a[0])*t), int(a[1]+(b[1]-a[1])*t), int(a[2]+(b[2]-a[2])*t))
}

func esc(s string) string { return template.HTMLEscapeString(s) }
