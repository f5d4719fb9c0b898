package clientlib

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/junction-wamp/junction/wamp"
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

// TestRetryDelay: a REGISTER refused with retry_after_ms is retried after
// that long, held within [MinDelay, MaxDelay] whatever a router says (zero,
// negative, huge, not a number: a hostile router can neither make the
// client spin nor park it); without advice the backoff applies.
func TestRetryDelay(t *testing.T) {
	r := Reconnect{MinDelay: 100 * time.Millisecond, MaxDelay: 3 * time.Second}
	r.withDefaults()
	refused := func(advice any) error {
		return fmt.Errorf("register: %w", &wamp.RPCError{URI: wamp.ErrProcedureAlreadyExists, Kwargs: wamp.Dict{"retry_after_ms": advice}})
	}
	for _, tc := range []struct {
		advice   any
		min, max time.Duration
	}{
		{int64(1500), 1500 * time.Millisecond, 1500 * time.Millisecond},
		{uint64(1500), 1500 * time.Millisecond, 1500 * time.Millisecond},
		{int64(1), r.MinDelay, r.MinDelay},                     // spin: raised to MinDelay
		{int64(10 * 60 * 1000), r.MaxDelay, r.MaxDelay},        // ten minutes: capped
		{int64(math.MaxInt64), r.MinDelay / 2, r.MinDelay * 2}, // absurd: ignored, backoff(0)
		{int64(0), r.MinDelay / 2, r.MinDelay},                 // ignored
		{int64(-5), r.MinDelay / 2, r.MinDelay},                // ignored
		{"soon", r.MinDelay / 2, r.MinDelay},                   // not a number: ignored
		{float64(math.Inf(1)), r.MinDelay / 2, r.MinDelay},     // ignored
	} {
		if d := r.retryDelay(0, refused(tc.advice)); d < tc.min || d > tc.max {
			t.Errorf("retry_after_ms %v: waits %s, want within [%s, %s]", tc.advice, d, tc.min, tc.max)
		}
	}
	if d := r.retryDelay(3, errors.New("no advice")); d < 400*time.Millisecond || d > 800*time.Millisecond {
		t.Errorf("no advice, 4th retry: %s, want backoff(3) within [400ms, 800ms]", d)
	}
}
