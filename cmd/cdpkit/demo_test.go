package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDemo(t *testing.T) {
	html := filepath.Join(t.TempDir(), "report.html")
	code, out, errOut := runCmd(t, "", "demo", "-members", "2000", "-seed", "3", "-html", html)
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{
		"cdpkit pharmacy story: 2,000 members, seed 3",
		"OneID", "precision", "RFM: ", "BG/NBD", "Tags", "chronic:diabetes", "refill_due_7d", "pre_dormant",
		"omnichannel_4", "Loyalty", "platinum", "Audience: chronic members whose refill is due this week",
		"split 90/10",
	} {
		assert.Contains(t, out, want)
	}
	for _, stage := range []string{"oneid", "orders", "record", "contacts", "loyalty", "refresh", "audience"} {
		assert.Regexp(t, regexp.MustCompile(`(?m)^\s+\d+\.\ds  `+stage+`$`), errOut, "progress names stage %s", stage)
	}
	// The campaign and hold-out add up to the audience.
	m := regexp.MustCompile(`not lapsed ([\d,]+)\n\s+split 90/10 with salt "[^"]+": campaign ([\d,]+), hold-out ([\d,]+)`).FindStringSubmatch(out)
	require.Len(t, m, 4, "the audience lines:\n%s", out)
	assert.Equal(t, atoi(t, m[1]), atoi(t, m[2])+atoi(t, m[3]))

	raw, err := os.ReadFile(html)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `<svg class="chart heatmap"`)

	// The same seed gives the same report, timings aside.
	code, again, _ := runCmd(t, "", "demo", "-members", "2000", "-seed", "3", "-quiet")
	require.Equal(t, 0, code)
	assert.Equal(t, withoutTimings(out), withoutTimings(again))
}

func TestDemoUsage(t *testing.T) {
	code, _, errOut := runCmd(t, "", "demo", "-members", "0")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "-members 0 out of range")
	code, _, errOut = runCmd(t, "", "demo", "extra")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "demo takes no arguments")
	code, out, _ := runCmd(t, "", "demo", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "usage: cdpkit demo")
}

var timing = regexp.MustCompile(` *\d+(\.\d+)? (ms|s)\b`)

// withoutTimings blanks the times and the stages' own timing notes.
func withoutTimings(s string) string {
	return timing.ReplaceAllString(s, "T")
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range strings.ReplaceAll(s, ",", "") {
		require.True(t, c >= '0' && c <= '9', "number %q", s)
		n = n*10 + int(c-'0')
	}
	return n
}
