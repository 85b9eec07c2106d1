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

	"github.com/cdpkit/cdpkit/internal/pharmacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReportRendersInChromium runs the example at a small size, opens the
// report.html it writes in headless Chromium and checks that every chart is
// drawn: the rendered DOM holds each chart's SVG shapes, and the screenshot
// holds their colours.
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
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), pharmacy.Config{Members: 3000, Seed: 5}, path, &out, nil))
	assert.Contains(t, out.String(), "Audience: chronic members whose refill is due this week")
	assert.Contains(t, out.String(), "wrote "+path)

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotRegexp(t, regexp.MustCompile(`(?i)<script|<link|src=|https?://`), string(raw), "no scripts or external resources")

	dom := chromium(t, browser, dir, "--dump-dom", "file://"+path)
	assert.Equal(t, 25, strings.Count(section(t, dom, "rfm"), `class="cell"`), "the RFM heat map has its 25 cells")
	for id, bars := range map[string]int{
		"segments": 10, // the R×F grid's named segments
		"tags":     10, // nine tags and the contact window
		"audience": 6,  // four steps, campaign and hold-out
		"tiers":    4,
		"palive":   5,
		"timings":  7, // the stages
	} {
		assert.Equal(t, bars, strings.Count(section(t, dom, id), `class="bar"`), "chart %s has its bars", id)
	}

	shot := filepath.Join(dir, "shot.png")
	chromium(t, browser, dir, "--screenshot="+shot, "--window-size=1200,4000", "file://"+path)
	img := readPNG(t, shot)
	// The heat map's largest cell is #0c5c76; bars are #1f7a8c.
	assert.Greater(t, countColour(img, 0x0c, 0x5c, 0x76), 5000, "the heat map's darkest cell is painted")
	assert.Greater(t, countColour(img, 0x1f, 0x7a, 0x8c), 20000, "the bar charts are painted")
}

// section returns the rendered <section id="id"> element.
func section(t *testing.T, dom, id string) string {
	t.Helper()
	start := strings.Index(dom, `<section id="`+id+`">`)
	require.GreaterOrEqual(t, start, 0, "section %s is in the DOM", id)
	end := strings.Index(dom[start:], "</section>")
	require.Greater(t, end, 0, "section %s ends", id)
	return dom[start : start+end]
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
