package harness

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// heapMetric is the Go heap occupied by objects, live or not yet swept: the
// figure that rises while work allocates and falls at each collection.
const heapMetric = "/memory/classes/heap/objects:bytes"

// heapBytes reads the heap now. Reading one metric does not stop the world,
// unlike runtime.ReadMemStats, so it can be sampled during a timed run.
func heapBytes() int64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// settledHeap collects garbage and returns the heap that is left: the
// baseline a measurement starts from.
func settledHeap() int64 {
	runtime.GC()
	return heapBytes()
}

// heapSampler records the highest heap seen while it runs. It samples every
// millisecond: a run that allocates and frees faster than that between two
// samples can peak higher than recorded, which is why the figure is called
// a sampled peak in the report.
type heapSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	peak  int64
}

func startHeapSampler() *heapSampler {
	s := &heapSampler{stopc: make(chan struct{}), peak: heapBytes()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				return
			case <-t.C:
				s.observe(heapBytes())
			}
		}
	}()
	return s
}

func (s *heapSampler) observe(b int64) {
	s.mu.Lock()
	s.peak = max(s.peak, b)
	s.mu.Unlock()
}

// stop ends the sampling and returns the peak, including the heap at the
// moment of stopping.
func (s *heapSampler) stop() int64 {
	s.observe(heapBytes())
	close(s.stopc)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}
