package pharmacy

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func samplePage() *page {
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
	return &page{
		Title:    "Pharmacy <chain>",
		Subtitle: "test",
		Stages:   []Stage{{Name: "identity", Took: 1500 * time.Millisecond, What: "resolved"}},
		Facts:    []fact{{"members", "1,000"}},
		RFM:      g,
		Sections: []section{
			{ID: "segments", Title: "Segment sizes", Bars: []bar{{Label: "Champions", Value: 300}, {Label: "At Risk", Value: 120}}},
			{ID: "tiers", Title: "Tiers", Bars: []bar{{Label: "silver", Value: 700}, {Label: "gold", Value: 250}, {Label: "black", Value: 50}},
				Table: &table{Head: []string{"tier", "members"}, Rows: [][]string{{"silver", "700"}}}},
		},
	}
}

func TestPageHTML(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, samplePage().render(&buf))
	html := buf.String()
	assert.Contains(t, html, "Pharmacy &lt;chain&gt;", "text is escaped")
	assert.Equal(t, 25, strings.Count(html, `class="cell"`), "one rect per RFM cell")
	assert.Equal(t, 5, strings.Count(html, `class="bar"`), "one rect per bar")
	assert.NotRegexp(t, regexp.MustCompile(`(?i)<script|https?://(?:[^"]*)\.(js|css)`), html, "no scripts or external resources")
	assert.Contains(t, html, "1.50 s")
	assert.Contains(t, html, "2,500", "largest cell count with separators")
	assert.Contains(t, html, `<section id="tiers">`)
}
