package router

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds of Histogram's buckets.
var LatencyBuckets = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
	30 * time.Second, time.Minute,
}

// Histogram counts durations in LatencyBuckets with atomic adds only, so
// the hot path takes no lock to be measured; exporters read a Snapshot.
type Histogram struct {
	counts [len(LatencyBuckets) + 1]atomic.Uint64 // the last is +Inf
	sum    atomic.Int64                           // nanoseconds
}

// Observe counts d.
func (h *Histogram) Observe(d time.Duration) {
	i := 0
	for i < len(LatencyBuckets) && d > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// HistogramSnapshot is a Histogram's state at one moment.
type HistogramSnapshot struct {
	Buckets []uint64 // cumulative count at or under each of LatencyBuckets
	Count   uint64
	Sum     time.Duration
}

// Snapshot reads the histogram. Concurrent observations may be half
// counted (in the buckets and not yet the sum); exporters accept that.
func (h *Histogram) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{Buckets: make([]uint64, len(LatencyBuckets))}
	var cum uint64
	for i := range LatencyBuckets {
		cum += h.counts[i].Load()
		s.Buckets[i] = cum
	}
	s.Count = cum + h.counts[len(LatencyBuckets)].Load()
	s.Sum = time.Duration(h.sum.Load())
	return s
}
