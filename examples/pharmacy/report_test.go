package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleReport() *report {
	g := &grid{Title: "RFM grid", RowTitle: "recency", ColTitle: "frequency",
		RowLabels: []string{"R5", "R4", "R3", "R2", "R1"}, ColLabels: []string{"F1", "F2", "F3", "F4", "F5"}}
	for r := range 5 {
		g.Counts = append(g.Counts, make([]int, 5))
		g.Names = append(g.Names, make([]string, 5))
		for c := range 5 {
			g.Counts[r][c] = (r + 1) * (c + 1) * 100
			g.Names[r][c] = "cell"
		}
	}
	return &report{
		Title:    "Pharmacy <chain>",
		Subtitle: "test",
		Stages:   []stage{{"identity", 1500 * time.Millisecond, "resolved"}},
		Facts:    []fact{{"members", "1,000"}},
		RFM:      g,
		Sections: []section{
			{Title: "Segment sizes", Bars: []bar{{Label: "Champions", Value: 300}, {Label: "At Risk", Value: 120}}},
			{Title: "Tiers", Bars: []bar{{Label: "silver", Value: 700}, {Label: "gold", Value: 250}, {Label: "black", Value: 50}},
				Table: &table{Head: []string{"tier", "members"}, Rows: [][]string{{"silver", "700"}}}},
		},
	}
}

func TestReportHTML(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, sampleReport().render(&buf))
	html := buf.String()
	assert.Contains(t, html, "Pharmacy &lt;chain&gt;", "text is escaped")
	assert.Equal(t, 25, strings.Count(html, `class="cell"`), "one rect per RFM cell")
	assert.Equal(t, 5, strings.Count(html, `class="bar"`), "one rect per bar")
	assert.NotRegexp(t, regexp.MustCompile(`(?i)<script|https?://(?:[^"]*)\.(js|css)`), html, "no scripts or external resources")
	assert.Contains(t, html, "1.50 s")
	assert.Contains(t, html, "2,500", "largest cell count with separators")
}

// TestReportRendersInChromium opens report.html in headless Chromium and
// checks that the charts are drawn: the DOM holds the SVG elements and the
// screenshot holds their colours.
func TestReportRendersInChromium(t *testing.T) {
	browser := findChromium()
	if browser == "" {
		if os.Getenv("CDPKIT_CI") == "1" {
			t.Fatal("chromium is not installed; CI installs Debian's chromium package")
		}
		t.Skip("chromium not found; install Debian's chromium package to run this test")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, sampleReport().render(f))
	require.NoError(t, f.Close())

	dom := chromium(t, browser, dir, "--dump-dom", "file://"+path)
	assert.Equal(t, 25, strings.Count(dom, `class="cell"`), "the heat map's cells are in the rendered DOM")
	assert.Equal(t, 5, strings.Count(dom, `class="bar"`), "the bars are in the rendered DOM")

	shot := filepath.Join(dir, "shot.png")
	chromium(t, browser, dir, "--screenshot="+shot, "--window-size=1200,2600", "file://"+path)
	img := readPNG(t, shot)
	// The darkest heat-map cell is #0c5c76; bars are #1f7a8c.
	assert.Greater(t, countColour(img, 0x0c, 0x5c, 0x76), 5000, "the heat map's darkest cell is painted")
	assert.Greater(t, countColour(img, 0x1f, 0x7a, 0x8c), 2000, "the bars are painted")
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func chromium(t *testing.T, browser, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + filepath.Join(dir, "profile")}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), "chromium: %s", errOut.String())
	return out.String()
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	return img
}

func countColour(img image.Image, r, g, b uint8) int {
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if near(cr, r) && near(cg, g) && near(cb, b) {
				n++
			}
		}
	}
	return n
}

func near(c uint32, want uint8) bool {
	d := int(c>>8) - int(want)
	return d >= -2 && d <= 2
}
