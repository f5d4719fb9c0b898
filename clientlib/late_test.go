package clientlib_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
)

// logSeen is a slog.Handler that reports when a record whose message
// starts with prefix was logged.
type logSeen struct {
	prefix string
	once   sync.Once
	seen   chan struct{}
}

func newLogSeen(prefix string) *logSeen {
	return &logSeen{prefix: prefix, seen: make(chan struct{})}
}

func (h *logSeen) Enabled(context.Context, slog.Level) bool { return true }
func (h *logSeen) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.prefix) {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}
func (h *logSeen) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logSeen) WithGroup(string) slog.Handler      { return h }

// heldRouter is a router whose authorizer holds the hold-th decision on
// uri until release is closed; asked is closed when it is asked.
func heldRouter(t *testing.T, uri string, hold int32) (srv *routertest.Server, asked, release chan struct{}) {
	asked, release = make(chan struct{}), make(chan struct{})
	var n atomic.Int32
	hook := router.AuthorizerFunc(func(ctx context.Context, req router.AuthzRequest) (router.Decision, error) {
		if string(req.URI) == uri && n.Add(1) == hold {
			close(asked)
			<-release
		}
		return router.Decision{Allow: true}, nil
	})
	srv = routertest.Start(t, routertest.Options{Router: router.Config{Realms: []router.RealmConfig{{Name: "realm1", Anonymous: true, AuthorizerHook: hook}}}})
	return srv, asked, release
}

// lookup is what wamp.<kind>.lookup says of uri: its id, or nil.
func lookup(t *testing.T, c *clientlib.Client, kind, uri string) any {
	t.Helper()
	res, err := c.Call(testCtx(t), "wamp."+kind+".lookup", []any{uri}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Args) == 0 {
		return nil
	}
	return res.Args[0]
}

// TestLateRegistered: a Register whose ctx ends once its REGISTER went out
// (here while the router's authorizer decides) returns ctx's error; the
// router's REGISTERED, coming after, is taken back with an UNREGISTER.
// Without that, the router kept routing calls to a procedure no handler
// serves, and refused it to every other session.
func TestLateRegistered(t *testing.T) {
	t.Parallel()
	const proc = "com.app.late"
	srv, asked, release := heldRouter(t, proc, 1)
	logs := newLogSeen("REGISTERED after its REGISTER was given up")
	c, err := clientlib.Connect(testCtx(t), srv.URL, "realm1", clientlib.Options{Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := c.Register(ctx, proc, func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
			return &clientlib.Result{}, nil
		}, nil)
		done <- err
	}()
	recvT(t, asked, "the REGISTER at the router")
	cancel()
	if err := recvT(t, done, "Register given up"); err != context.Canceled {
		t.Fatalf("Register whose ctx ended: %v", err)
	}
	close(release)
	recvT(t, logs.seen, "the late REGISTERED taken back")
	other := routertest.Connect(t, srv.URL, clientlib.Options{})
	routertest.WaitUntil(t, "the late registration gone", func() bool { return lookup(t, other, "registration", proc) == nil })
	if _, err := other.Register(testCtx(t), proc, func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{"other"}}, nil
	}, nil); err != nil {
		t.Fatalf("another session registering the procedure: %v", err)
	}
	if res, err := c.Call(testCtx(t), proc, nil, nil, nil); err != nil || res.Args[0] != "other" {
		t.Fatalf("call after the late REGISTERED: %v %v", res, err)
	}
}

// TestLateSubscribed: the same for SUBSCRIBE. A late SUBSCRIBED is taken
// back, unless the router's subscription is another Subscribe's of the
// same session too (the router has one per topic): then it stays, and that
// Subscribe's handler goes on receiving.
func TestLateSubscribed(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "alone", true: "shared"}[shared]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			topic := "com.app.late." + name
			hold := int32(1)
			prefix := "SUBSCRIBED after its SUBSCRIBE was given up: unsubscribing"
			if shared {
				hold, prefix = 2, "SUBSCRIBED after its SUBSCRIBE was given up: kept"
			}
			srv, asked, release := heldRouter(t, topic, hold)
			logs := newLogSeen(prefix)
			c, err := clientlib.Connect(testCtx(t), srv.URL, "realm1", clientlib.Options{Logger: slog.New(logs)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close(context.Background()) })
			events := make(chan any, 1)
			if shared {
				if _, err := c.Subscribe(testCtx(t), topic, func(e *clientlib.Event) { events <- e.Args[0] }, nil); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(testCtx(t))
			done := make(chan error, 1)
			go func() {
				_, err := c.Subscribe(ctx, topic, func(*clientlib.Event) {}, nil)
				done <- err
			}()
			recvT(t, asked, "the SUBSCRIBE at the router")
			cancel()
			if err := recvT(t, done, "Subscribe given up"); err != context.Canceled {
				t.Fatalf("Subscribe whose ctx ended: %v", err)
			}
			close(release)
			recvT(t, logs.seen, "the late SUBSCRIBED handled")
			other := routertest.Connect(t, srv.URL, clientlib.Options{})
			if !shared {
				routertest.WaitUntil(t, "the late subscription gone", func() bool { return lookup(t, other, "subscription", topic) == nil })
				return
			}
			if lookup(t, other, "subscription", topic) == nil {
				t.Fatal("the shared subscription was taken back")
			}
			if err := other.Publish(testCtx(t), topic, []any{"still"}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
				t.Fatal(err)
			}
			if got := recvT(t, events, "the event"); got != "still" {
				t.Fatalf("event %v", got)
			}
		})
	}
}
