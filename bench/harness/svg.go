package harness

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// implColors gives each implementation one colour across every panel, so a
// reader learns the legend once. Unknown names take the fallback palette.
var implColors = map[string]string{
	"cdpkit":        "#1f5fbf",
	"cdpkit-interp": "#7fa7e0",
	"duckdb":        "#e08a00",
	"exprlang":      "#2e9e44",
	"celmap":        "#c93030",
	"closure":       "#8250c4",
	"scan":          "#8c6239",
	"unionfind":     "#d6458f",
	"memfloor":      "#707070",
}

var fallbackColors = []string{"#17a2b8", "#b5a000", "#5a5a9e", "#9e5a5a"}

const (
	panelW, panelH = 300, 210
	plotL, plotR   = 58, 12 // plot area insets within a panel
	plotT, plotB   = 26, 36
	pageMargin     = 16
)

// WriteSVG draws results as small multiples: a row of panels per suite, a
// panel per case, each plotting median time per operation against members
// on log–log axes, a line per implementation. It is plain SVG with no
// script and no external reference, readable offline and in a repository
// viewer.
func WriteSVG(w io.Writer, title string, results []Result) error {
	keys, rows := group(results)
	// suite -> cases in order, case -> series impl -> points
	type series struct {
		impl string
		pts  [][2]float64 // members, ns
	}
	type panel struct {
		suite, cas string
		series     []*series
	}
	var suites []string
	panels := map[string][]*panel{}
	find := map[[2]string]*panel{}
	var impls []string
	minX, maxX := math.Inf(1), math.Inf(-1)
	for _, k := range keys {
		pk := [2]string{k.suite, k.cas}
		p := find[pk]
		if p == nil {
			p = &panel{suite: k.suite, cas: k.cas}
			find[pk] = p
			if _, ok := panels[k.suite]; !ok {
				suites = append(suites, k.suite)
			}
			panels[k.suite] = append(panels[k.suite], p)
		}
		for _, r := range rows[k] {
			if r.MedianNS <= 0 {
				continue
			}
			if !slices.Contains(impls, r.Impl) {
				impls = append(impls, r.Impl)
			}
			var s *series
			for _, x := range p.series {
				if x.impl == r.Impl {
					s = x
				}
			}
			if s == nil {
				s = &series{impl: r.Impl}
				p.series = append(p.series, s)
			}
			s.pts = append(s.pts, [2]float64{float64(r.Members), float64(r.MedianNS)})
			minX, maxX = math.Min(minX, float64(r.Members)), math.Max(maxX, float64(r.Members))
		}
	}
	colors := map[string]string{}
	fb := 0
	for _, im := range impls {
		if c, ok := implColors[im]; ok {
			colors[im] = c
		} else {
			colors[im] = fallbackColors[fb%len(fallbackColors)]
			fb++
		}
	}
	cols := 1
	for _, s := range suites {
		cols = max(cols, len(panels[s]))
	}
	legendH := 24
	width := 2*pageMargin + cols*panelW
	height := 2*pageMargin + 28 + legendH + len(suites)*(panelH+22)
	x0, x1 := logRange(minX, maxX)

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="15" font-weight="bold">%s</text>`+"\n", pageMargin, pageMargin+14, esc(title))
	// Legend.
	lx, ly := pageMargin, pageMargin+28+14
	for _, im := range impls {
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="%s"/>`, lx, ly-4, lx+18, ly-4, colors[im], strokeW(im))
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", lx+22, ly, esc(im))
		lx += 34 + 7*len(im)
	}
	y := pageMargin + 28 + legendH
	for _, s := range suites {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", pageMargin, y+14, esc(s))
		y += 22
		for i, p := range panels[s] {
			px := pageMargin + i*panelW
			ymin, ymax := math.Inf(1), math.Inf(-1)
			for _, sr := range p.series {
				for _, pt := range sr.pts {
					ymin, ymax = math.Min(ymin, pt[1]), math.Max(ymax, pt[1])
				}
			}
			y0, y1 := logRange(ymin, ymax)
			drawPanel(&b, px, y, p.cas, x0, x1, y0, y1)
			for _, sr := range p.series {
				slices.SortFunc(sr.pts, func(a, c [2]float64) int { return int(math.Copysign(1, a[0]-c[0])) })
				var path bytes.Buffer
				for j, pt := range sr.pts {
					cx, cy := project(px, y, pt, x0, x1, y0, y1)
					if j == 0 {
						fmt.Fprintf(&path, "M%.1f %.1f", cx, cy)
					} else {
						fmt.Fprintf(&path, " L%.1f %.1f", cx, cy)
					}
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s %s: %s at %s members</title></circle>`+"\n",
						cx, cy, colors[sr.impl], esc(sr.impl), esc(p.cas), FormatNS(int64(pt[1])), FormatCount(int64(pt[0])))
				}
				if len(sr.pts) > 1 {
					fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="%s"/>`+"\n", path.String(), colors[sr.impl], strokeW(sr.impl))
				}
			}
		}
		y += panelH
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

func strokeW(impl string) string {
	if impl == Reference {
		return "2.5"
	}
	return "1.5"
}

// logRange widens [lo, hi] to whole decades in log10, at least one apart.
func logRange(lo, hi float64) (float64, float64) {
	if math.IsInf(lo, 0) || lo <= 0 {
		return 0, 1
	}
	a, c := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if c <= a {
		c = a + 1
	}
	return a, c
}

func project(px, py int, pt [2]float64, x0, x1, y0, y1 float64) (float64, float64) {
	w := float64(panelW - plotL - plotR)
	h := float64(panelH - plotT - plotB)
	fx := (math.Log10(pt[0]) - x0) / (x1 - x0)
	fy := (math.Log10(pt[1]) - y0) / (y1 - y0)
	return float64(px+plotL) + fx*w, float64(py+plotT) + (1-fy)*h
}

// drawPanel draws a panel's frame, title, decade grid and tick labels.
func drawPanel(b *bytes.Buffer, px, py int, title string, x0, x1, y0, y1 float64) {
	l, t := px+plotL, py+plotT
	w, h := panelW-plotL-plotR, panelH-plotT-plotB
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", l, py+14, esc(title))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", l, t, w, h)
	for d := x0; d <= x1; d++ {
		x := float64(l) + (d-x0)/(x1-x0)*float64(w)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e4e4e4"/>`, x, t, x, t+h)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x, t+h+14, FormatCount(int64(math.Round(math.Pow(10, d)))))
	}
	for d := y0; d <= y1; d++ {
		y := float64(t) + (1-(d-y0)/(y1-y0))*float64(h)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e4e4e4"/>`, l, y, l+w, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", l-4, y+4, decadeTime(d))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="#555">members</text>`+"\n", l+w/2, t+h+28)
}

// decadeTime labels 10^d nanoseconds: 1 µs, 10 ms, 100 s.
func decadeTime(d float64) string {
	s := FormatNS(int64(math.Round(math.Pow(10, d))))
	return strings.Replace(strings.Replace(s, ".00 ", " ", 1), ".0 ", " ", 1)
}

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
