package clientlib

import (
	"testing"
	"time"
)

// TestBackoff: each delay is within [d/2, d] of its doubling series, capped
// at MaxDelay, for every attempt (large ones included: no overflow).
func TestBackoff(t *testing.T) {
	r := Reconnect{MinDelay: 100 * time.Millisecond, MaxDelay: 3 * time.Second}
	r.withDefaults()
	for n := range 100 {
		want := r.MinDelay
		for i := 0; i < n && want < r.MaxDelay; i++ {
			want *= 2
		}
		want = min(want, r.MaxDelay)
		for range 50 {
			d := r.backoff(n)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: %s, want within [%s, %s]", n, d, want/2, want)
			}
		}
	}
	var zero Reconnect
	zero.withDefaults()
	if zero.MinDelay != 250*time.Millisecond || zero.MaxDelay != 30*time.Second || zero.AttemptTimeout != 10*time.Second {
		t.Fatalf("defaults %+v", zero)
	}
}
