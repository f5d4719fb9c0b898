package clientlib_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/wamp"
)

// stallURLs are the URLs of a router through p, one per transport.
func stallURLs(p *tcpProxy) map[string]string {
	return map[string]string{"ws": "ws://" + p.addr() + "/ws", "rs": "rs://" + p.addr()}
}

func routerAddr(srv *routertest.Server) string {
	return strings.TrimSuffix(strings.TrimPrefix(srv.URL, "ws://"), "/ws")
}

// TestStalledNetworkNeverHangs: the network between a client and the
// router stalls (the proxy stops reading and forwarding): a call times out
// with its ctx; publications fill the socket buffers until one waits on a
// blocked write, and gives up at its ctx's deadline; one whose ctx is only
// cancelled (no deadline) returns when it is; Close returns within its ctx;
// and the write blocked on the network ends the connection when the write
// timeout passes. Before the write pump, the cancelled Publish and Close
// waited forever for the write lock held by the blocked write.
func TestStalledNetworkNeverHangs(t *testing.T) {
	t.Parallel()
	addr := routertest.Serve(t, server.Config{}) // WebSocket and RawSocket
	for _, scheme := range []string{"ws", "rs"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, addr)
			ctx := testCtx(t)
			c, err := clientlib.Connect(ctx, stallURLs(p)[scheme], "realm1", clientlib.Options{WriteTimeout: 2 * time.Second, KeepAlive: -1})
			if err != nil {
				t.Fatal(err)
			}
			proc := "com.test.add." + scheme
			if _, err := c.Register(ctx, proc, add, nil); err != nil {
				t.Fatal(err)
			}
			p.stall(true)

			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			_, err = c.Call(short, proc, []any{1, 2}, nil, nil)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("call over a stalled network: %v", err)
			}

			big := strings.Repeat("x", 256<<10)
			blocked := false
			for range 400 { // 100 MiB at most: far more than socket buffers hold
				short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				err := c.Publish(short, "com.test.flood", []any{big}, nil, nil)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					blocked = true
					break
				}
				if err != nil {
					t.Fatalf("publish: %v", err)
				}
			}
			if !blocked {
				t.Fatal("the writes never blocked on the stalled network")
			}

			cctx, cancelOnly := context.WithCancel(context.Background())
			published := make(chan error, 1)
			go func() { published <- c.Publish(cctx, "com.test.flood", []any{big}, nil, nil) }()
			cancelOnly()
			if err := recvT(t, published, "a cancelled publish"); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled publish: %v", err)
			}

			closeCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			closed := make(chan error, 1)
			go func() { closed <- c.Close(closeCtx) }()
			if err := recvT(t, closed, "Close"); err == nil {
				t.Log("Close said GOODBYE over the stalled network?") // possible only if the write timeout ended it first
			}
			recvT(t, c.Done(), "the end of the session")
		})
	}
}

// TestStalledAnswer: a callee's answer cannot be written (the network
// stalled under a large YIELD). With a short write timeout, the timeout
// ends the connection by itself; with the default one (10s), Close returns
// within its ctx all the same. Either way the caller gets an error, and
// nothing hangs. Before the write pump the answer was written with no
// deadline at all, holding the write lock: the session never ended, Close
// never returned.
func TestStalledAnswer(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	for _, name := range []string{"timeout", "close"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, routerAddr(srv))
			ctx := testCtx(t)
			opts := clientlib.Options{KeepAlive: -1}
			if name == "timeout" {
				opts.WriteTimeout = 500 * time.Millisecond
			}
			callee, err := clientlib.Connect(ctx, stallURLs(p)["ws"], "realm1", opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = callee.Close(context.Background()) })
			started, release := make(chan struct{}, 1), make(chan struct{})
			big := strings.Repeat("y", 12<<20) // more than the socket buffers hold
			proc := "com.test.big." + name
			if _, err := callee.Register(ctx, proc, func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
				started <- struct{}{}
				<-release
				return &clientlib.Result{Args: []any{big}}, nil
			}, nil); err != nil {
				t.Fatal(err)
			}
			caller := connect(t, srv.URL, "json")
			called := make(chan error, 1)
			go func() {
				_, err := caller.Call(ctx, proc, nil, nil, nil)
				called <- err
			}()
			recvT(t, started, "the invocation")
			p.stall(true)
			close(release)
			if name == "close" {
				closeCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				closed := make(chan error, 1)
				go func() { closed <- callee.Close(closeCtx) }()
				recvT(t, closed, "Close")
			}
			recvT(t, callee.Done(), "the callee's session ended")
			if err := callee.Err(); !errors.Is(err, clientlib.ErrClosed) {
				t.Fatalf("callee ended with %v", err)
			}
			p.cut() // the router sees the callee go
			var rerr *wamp.RPCError
			if err := recvT(t, called, "the call's answer"); !errors.As(err, &rerr) {
				t.Fatalf("call to a callee whose answer stalled: %v", err)
			}
		})
	}
}

// TestReconnectAfterStall: the network to the router a service is on
// stalls; the keepalive takes the connection for dead, and the service
// moves to its second URL (another path to the router), its procedure
// with it.
func TestReconnectAfterStall(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	p := startProxy(t, routerAddr(srv))
	w := newWatch()
	opts := w.options(srv.URL)
	opts.KeepAlive = 500 * time.Millisecond // short, so the test is; long enough that a loaded machine does not trip it before the stall
	ctx := testCtx(t)
	svc, err := clientlib.Connect(ctx, stallURLs(p)["ws"], "realm1", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	if _, err := svc.Register(ctx, "com.test.add", add, nil); err != nil {
		t.Fatal(err)
	}
	first := svc.ID()
	p.stall(true)
	if err := recvT(t, w.downs, "the stalled session taken for dead"); !strings.Contains(err.Error(), "nothing from the router") {
		t.Fatalf("down with %v", err)
	}
	p.cut() // the router sees the first session go, so the procedure is free
	second := recvT(t, w.ups, "the session up on the second URL")
	if second == first {
		t.Fatal("same session")
	}
	caller := connect(t, srv.URL, "json")
	routertest.WaitUntil(t, "the procedure callable again", func() bool {
		_, err := caller.Call(ctx, "com.test.add", []any{1, 1}, nil, nil)
		return err == nil
	})
	callAdd(t, caller, "com.test.add")
}
