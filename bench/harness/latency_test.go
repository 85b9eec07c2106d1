package harness

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPercentileNearestRank(t *testing.T) {
	var l LatencyLog
	_, ok := l.Percentile(99)
	assert.False(t, ok, "nothing recorded")
	// 1..100 ms recorded out of order: the nearest-rank p99 is the 99th
	// smallest, p50 the 50th, p100 the largest.
	for i := 100; i >= 1; i-- {
		l.Record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{99, 99 * time.Millisecond}, {50, 50 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.5, time.Millisecond}} {
		got, ok := l.Percentile(c.q)
		require.True(t, ok)
		assert.Equal(t, c.want, got, "p%v", c.q)
	}
	_, ok = l.Percentile(0)
	assert.False(t, ok, "q out of range")
	// Ten values: rank ceil(0.99*10) = 10, the largest.
	var ten LatencyLog
	for i := 1; i <= 10; i++ {
		ten.Record(time.Duration(i))
	}
	got, _ := ten.Percentile(99)
	assert.Equal(t, time.Duration(10), got)
}

// The warm-up's latencies are left out of the reported p99, and only an
// implementation with a log gets one.
func TestRunnerReportsP99OfTimedRuns(t *testing.T) {
	lat := &LatencyLog{}
	call := 0
	withLog := Impl{Name: "cdpkit", PerRun: 4, Latency: lat, Run: func(context.Context) (Answer, error) {
		call++
		d := time.Duration(call) * time.Microsecond // the warm-up's are the smallest...
		if call == 1 {
			d = time.Hour // ...but for one outlier that must not count
		}
		for range 4 {
			lat.Record(d)
		}
		return Answer{Count: 4}, nil
	}}
	without := Impl{Name: "scan", PerRun: 4, Run: func(context.Context) (Answer, error) { return Answer{Count: 4}, nil }}
	var emitted []Result
	r := NewRunner(slowOpts, func(res Result) { emitted = append(emitted, res) })
	require.NoError(t, r.Run(context.Background(), Case{Suite: "s", Name: "tx", Members: 10, Impls: []Impl{withLog, without}}))
	require.Len(t, emitted, 2)
	// Timed runs are calls 2..4: latencies 2, 3 and 4 µs, four each.
	assert.Equal(t, int64(4000), emitted[0].P99NS)
	assert.Zero(t, emitted[1].P99NS)

	var md bytes.Buffer
	require.NoError(t, WriteMarkdown(&md, Report{Command: "x", Results: emitted}))
	assert.Contains(t, md.String(), "| s/tx | 10 | cdpkit | 4.00 µs |")
	assert.Equal(t, 1, strings.Count(md.String(), "p99 latency of one call"))
	var tab bytes.Buffer
	require.NoError(t, WriteTable(&tab, emitted))
	assert.Contains(t, tab.String(), "4.00 µs")
}
