package harness

import (
	"slices"
	"sync"
	"time"
)

// LatencyLog collects the latency of each single operation an
// implementation performs inside a timed run, when one run is many
// operations issued concurrently (a batch of transactions from many
// callers): the median per operation then says how much work the machine
// gets through, and the log's percentile says how long one caller waited.
// It is safe for concurrent use.
type LatencyLog struct {
	mu sync.Mutex
	d  []time.Duration
}

// Record adds one operation's latency.
func (l *LatencyLog) Record(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Since records the time elapsed since start; for
// `defer log.Since(time.Now())`-style use around one call.
func (l *LatencyLog) Since(start time.Time) { l.Record(time.Since(start)) }

// reset forgets what was recorded (the warm-up's operations).
func (l *LatencyLog) reset() {
	l.mu.Lock()
	l.d = l.d[:0]
	l.mu.Unlock()
}

// Percentile returns the q-th percentile (0 < q ≤ 100) of the recorded
// latencies by the nearest-rank method, and false when nothing was
// recorded.
func (l *LatencyLog) Percentile(q float64) (time.Duration, bool) {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	if len(d) == 0 || q <= 0 || q > 100 {
		return 0, false
	}
	slices.Sort(d)
	// Nearest rank: the smallest value with at least q% of the values at
	// or below it.
	rank := int(q/100*float64(len(d)) + 0.999999999)
	rank = min(max(rank, 1), len(d))
	return d[rank-1], true
}
