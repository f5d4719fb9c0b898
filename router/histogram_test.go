package router

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{0, 50 * time.Microsecond, 51 * time.Microsecond, 3 * time.Millisecond, time.Hour} {
		h.Observe(d)
	}
	s := h.Snapshot()
	if s.Count != 5 || s.Sum != time.Hour+3*time.Millisecond+101*time.Microsecond {
		t.Fatalf("count %d sum %v", s.Count, s.Sum)
	}
	// Buckets are cumulative: <=50us holds 0 and 50us; <=100us adds 51us;
	// <=5ms adds 3ms; an hour is only in the count (+Inf).
	want := map[time.Duration]uint64{50 * time.Microsecond: 2, 100 * time.Microsecond: 3, 2500 * time.Microsecond: 3, 5 * time.Millisecond: 4, time.Minute: 4}
	for i, le := range LatencyBuckets {
		if w, ok := want[le]; ok && s.Buckets[i] != w {
			t.Errorf("bucket le=%v: %d, want %d", le, s.Buckets[i], w)
		}
	}
}
