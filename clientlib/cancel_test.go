package clientlib_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
)

// TestCancelInterrupts: a call whose ctx ends is canceled at the router,
// which interrupts the callee (its handler's ctx ends), in each mode that
// interrupts.
func TestCancelInterrupts(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	ctx := testCtx(t)
	callee := connect(t, srv.URL, "json")
	blocked, interrupted := make(chan string, 4), make(chan string, 4)
	if _, err := callee.Register(ctx, "com.test.block", func(c context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		blocked <- fmt.Sprint(inv.Args)
		<-c.Done()
		interrupted <- fmt.Sprint(inv.Args)
		return nil, c.Err()
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := connect(t, srv.URL, "cbor")
	for _, mode := range []string{"kill", "killnowait"} {
		c, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := caller.Call(c, "com.test.block", []any{mode}, nil, &clientlib.CallOptions{CancelMode: mode})
			done <- err
		}()
		if got := recvT(t, blocked, "the invocation"); got != "["+mode+"]" {
			t.Fatalf("%s: callee runs %s", mode, got)
		}
		cancel()
		if err := recvT(t, done, "the call"); err == nil {
			t.Fatalf("%s: canceled call succeeded", mode)
		}
		if got := recvT(t, interrupted, "the interrupt"); got != "["+mode+"]" {
			t.Fatalf("%s: interrupted %s", mode, got)
		}
	}
}
