package webhook_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
)

// TestShutdownLeavesNoGoroutine: after Shutdown, nothing of the set runs:
// no supervisor, worker, session or kept-alive connection. Not parallel:
// the parallel tests run after it, so the count is this test's alone.
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	srv := startRouter(t)
	rc := &recorder{}
	ts := target(t, rc.ServeHTTP)
	tc := target(t, sum)
	caller := connect(t, srv)
	before := runtime.NumGoroutine()

	set := webhook.New(srv.Router, webhook.Options{})
	ctx := routertest.Context(t)
	if err := set.Apply(ctx, webhook.Config{
		Subscribers: []webhook.SubscriberConfig{{Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: ts.URL}}},
		Callees:     []webhook.CalleeConfig{{Session: hookSession, Procedure: "com.sum", Endpoint: webhook.Endpoint{URL: tc.URL}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := caller.Call(ctx, "com.sum", []any{1}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := caller.Publish(ctx, "com.t", nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool { return len(rc.requests()) == 1 })
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := set.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(routertest.Timeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond) // polling a condition
	}
}
