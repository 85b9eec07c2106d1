package rfm

import (
	"bufio"
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cdnowSummaries reads testdata/CDNOW_sample.txt (master_id sample_id
// yyyymmdd cds dollars) as of the end of 1997-09-30, the calibration
// period of Fader, Hardie & Lee (2005). Member IDs are sample_id - 1.
func cdnowSummaries(t testing.TB) *Summaries {
	t.Helper()
	f, err := os.Open("testdata/CDNOW_sample.txt")
	require.NoError(t, err)
	defer f.Close()
	asOf := time.Date(1997, 10, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
	s, err := New(2357, Config{AsOf: asOf})
	require.NoError(t, err)
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		require.Len(t, fields, 5, "line %d", line)
		id, err := strconv.Atoi(fields[1])
		require.NoError(t, err)
		day, err := time.Parse("20060102", fields[2])
		require.NoError(t, err)
		dollars, err := strconv.ParseFloat(fields[4], 64)
		require.NoError(t, err)
		require.NoError(t, s.Add(&Tx{Member: uint32(id - 1), Time: day, Amount: int64(math.Round(dollars * 100))}))
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 6919, line)
	return s
}

func TestCDNOWBGNBD(t *testing.T) {
	s := cdnowSummaries(t)
	h := s.Histories(HistoryOptions{Unit: Week, SpendScale: 100})
	require.Equal(t, 2357, h.Len())
	p, fr, err := FitBGNBD(context.Background(), h)
	require.NoError(t, err)
	t.Logf("%+v %+v", p, fr)
	// Fader, Hardie & Lee (2005), table in section 4.
	assert.InDelta(t, 0.243, p.R, 0.0005)
	assert.InDelta(t, 4.414, p.Alpha, 0.0005)
	assert.InDelta(t, 0.793, p.A, 0.0005)
	assert.InDelta(t, 2.426, p.B, 0.0005)
	assert.InDelta(t, -9582.4, fr.LogLikelihood, 0.05)
	assert.Equal(t, 2357, fr.Customers)
}

func TestCDNOWGammaGamma(t *testing.T) {
	s := cdnowSummaries(t)
	h := s.Histories(HistoryOptions{Unit: Week, SpendScale: 100})
	g, fr, err := FitGammaGamma(context.Background(), h)
	require.NoError(t, err)
	t.Logf("%+v %+v", g, fr)
	// Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value".
	assert.Equal(t, 946, fr.Customers)
	assert.InDelta(t, 6.25, g.P, 0.005)
	assert.InDelta(t, 3.74, g.Q, 0.005)
	assert.InDelta(t, 15.44, g.Gamma, 0.005)
}
