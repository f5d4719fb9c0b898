package clientlib_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/wamp"
)

// guard bounds a wait that must end: a hang fails the test, no timing is
// asserted.
const guard = 20 * time.Second

// restartable is a Junction that can be stopped and started again on the
// same address, as a router process restarted.
type restartable struct {
	t    *testing.T
	addr string
	stop func()
}

func startRestartable(t *testing.T) *restartable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &restartable{t: t, addr: ln.Addr().String()}
	r.serve(ln)
	t.Cleanup(func() { r.stopNow() })
	return r
}

func (r *restartable) start() {
	r.t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.serve(ln)
}

func (r *restartable) serve(ln net.Listener) {
	srv, err := server.New(server.Config{}, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("serve: %v", err)
		}
	}
}

func (r *restartable) stopNow() {
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
}

// watch records a reconnecting client's sessions going and coming.
type watch struct {
	ups      chan wamp.ID
	downs    chan error
	restores chan error
}

func newWatch() *watch {
	return &watch{ups: make(chan wamp.ID, 64), downs: make(chan error, 64), restores: make(chan error, 1024)}
}

// options are Options reconnecting quickly, reporting to w.
func (w *watch) options(urls ...string) clientlib.Options {
	return clientlib.Options{Reconnect: &clientlib.Reconnect{
		URLs:     urls,
		MinDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond,
		OnUp:           func(id wamp.ID, _ wamp.Dict) { w.ups <- id },
		OnDown:         func(err error) { w.downs <- err },
		OnRestoreError: func(_ string, err error) { w.restores <- err },
	}}
}

func recvT[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func add(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
	a, _ := wamp.AsInt(inv.Args[0])
	b, _ := wamp.AsInt(inv.Args[1])
	return &clientlib.Result{Args: []any{a + b}}, nil
}

func callAdd(t *testing.T, c *clientlib.Client, procedure string) {
	t.Helper()
	res, err := c.Call(testCtx(t), procedure, []any{2, 3}, nil, nil)
	if err != nil {
		t.Fatalf("call %s: %v", procedure, err)
	}
	if n, _ := wamp.AsInt(res.Args[0]); n != 5 {
		t.Fatalf("result %v", res.Args)
	}
}

// TestReconnectRouterRestart: the router under a service stops and starts
// again on its address. The service sees its session go and come (a new
// id), its procedure is callable again and its subscription gets events
// again; a Call made while it was down waits for the new session and
// succeeds, a Publish then fails at once with ErrNotConnected.
func TestReconnectRouterRestart(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"ws", "rs"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			r := startRestartable(t)
			url := scheme + "://" + r.addr
			if scheme == "ws" {
				url += "/ws"
			}
			w := newWatch()
			ctx := testCtx(t)
			svc, err := clientlib.Connect(ctx, url, "realm1", w.options())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = svc.Close(context.Background()) })
			reg, err := svc.Register(ctx, "com.test.add", add, nil)
			if err != nil {
				t.Fatal(err)
			}
			events := make(chan *clientlib.Event, 16)
			if _, err := svc.Subscribe(ctx, "com.test.news", func(ev *clientlib.Event) { events <- ev }, nil); err != nil {
				t.Fatal(err)
			}
			first := svc.ID()

			r.stopNow()
			down := recvT(t, w.downs, "the session down")
			if !errors.Is(down, clientlib.ErrClosed) {
				t.Fatalf("session down with %v", down)
			}
			if id := svc.ID(); id != first {
				t.Fatalf("ID %d while down, want the last session's %d", id, first)
			}
			if err := svc.Publish(ctx, "com.test.news", []any{"lost"}, nil, nil); !errors.Is(err, clientlib.ErrNotConnected) {
				t.Fatalf("Publish while down: %v", err)
			}
			waited := make(chan error, 1)
			go func() {
				res, err := svc.Call(ctx, "com.test.add", []any{20, 22}, nil, nil)
				if err == nil {
					if n, _ := wamp.AsInt(res.Args[0]); n != 42 {
						err = errors.New("wrong result")
					}
				}
				waited <- err
			}()

			r.start()
			second := recvT(t, w.ups, "the session up again")
			if second == 0 || second == first || svc.ID() != second {
				t.Fatalf("sessions %d then %d, ID %d", first, second, svc.ID())
			}
			if err := recvT(t, waited, "the call made while down"); err != nil {
				t.Fatalf("call made while down: %v", err)
			}
			caller := connect(t, url, "json")
			callAdd(t, caller, "com.test.add")
			if err := caller.Publish(ctx, "com.test.news", []any{"back"}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
				t.Fatal(err)
			}
			if ev := recvT(t, events, "an event after the restart"); ev.Args[0] != "back" {
				t.Fatalf("event %v", ev.Args)
			}
			// The registration restored is the one Unregister ends.
			if err := svc.Unregister(ctx, reg); err != nil {
				t.Fatal(err)
			}
			_, err = caller.Call(ctx, "com.test.add", []any{1, 1}, nil, nil)
			var rerr *wamp.RPCError
			if !errors.As(err, &rerr) || rerr.URI != wamp.ErrNoSuchProcedure {
				t.Fatalf("call after Unregister: %v", err)
			}
			if err := svc.Close(ctx); err != nil {
				t.Fatalf("close: %v", err)
			}
			select {
			case <-svc.Done():
			default:
				t.Fatal("not done after Close")
			}
		})
	}
}

// TestCallInFlightWhenConnectionDrops: the connection of a service drops
// (cut between it and the router) while it calls its own procedure: the
// call fails with ErrConnectionLost, the invocation's handler sees its ctx
// end (abandoned, no panic), and the service is back, procedure and all,
// on a new connection. Without Reconnect the same call fails with an error
// that is also ErrClosed, and the Client is done.
func TestCallInFlightWhenConnectionDrops(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	for _, reconnect := range []bool{true, false} {
		name := "reconnect"
		if !reconnect {
			name = "once"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, strings.TrimSuffix(strings.TrimPrefix(srv.URL, "ws://"), "/ws"))
			w := newWatch()
			opts := w.options()
			if !reconnect {
				opts = clientlib.Options{}
			}
			ctx := testCtx(t)
			svc, err := clientlib.Connect(ctx, "ws://"+p.addr()+"/ws", "realm1", opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = svc.Close(context.Background()) })
			started, abandoned := make(chan struct{}, 1), make(chan error, 1)
			slow := "com.test.slow." + name
			if _, err := svc.Register(ctx, slow, func(ctx context.Context, _ *clientlib.Invocation) (*clientlib.Result, error) {
				started <- struct{}{}
				<-ctx.Done()
				abandoned <- ctx.Err()
				return &clientlib.Result{Args: []any{"too late"}}, nil
			}, nil); err != nil {
				t.Fatal(err)
			}
			called := make(chan error, 1)
			go func() {
				_, err := svc.Call(ctx, slow, nil, nil, nil)
				called <- err
			}()
			recvT(t, started, "the invocation")
			p.cut()
			err = recvT(t, called, "the call in flight")
			if !errors.Is(err, clientlib.ErrConnectionLost) || !errors.Is(err, clientlib.ErrClosed) {
				t.Fatalf("call in flight: %v", err)
			}
			if err := recvT(t, abandoned, "the handler's ctx"); !errors.Is(err, context.Canceled) {
				t.Fatalf("handler ctx: %v", err)
			}
			if !reconnect {
				<-svc.Done()
				if _, err := svc.Call(ctx, slow, nil, nil, nil); !errors.Is(err, clientlib.ErrClosed) {
					t.Fatalf("call after the end: %v", err)
				}
				return
			}
			recvT(t, w.downs, "the session down")
			recvT(t, w.ups, "the session up again")
			if _, err := svc.Register(ctx, "com.test.add", add, nil); err != nil {
				t.Fatal(err)
			}
			callAdd(t, svc, "com.test.add")
			go func() {
				_, err := svc.Call(ctx, slow, nil, nil, nil)
				called <- err
			}()
			recvT(t, started, "the restored procedure's invocation")
		})
	}
}

// TestReconnectLocal: an in-process service (ConnectLocal) whose session
// the router kills (wamp.session.kill) joins again in-process, its
// procedure registered again.
func TestReconnectLocal(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{Realms: []router.RealmConfig{{
		Name: "realm1", Anonymous: true, Roles: routertest.TrustedRoles("anonymous"),
	}}}})
	w := newWatch()
	ctx := testCtx(t)
	svc, err := clientlib.ConnectLocal(ctx, srv.Router, "realm1", w.options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	if _, err := svc.Register(ctx, "com.test.add", add, nil); err != nil {
		t.Fatal(err)
	}
	first := svc.ID()
	admin := connect(t, srv.URL, "json")
	if _, err := admin.Call(ctx, "wamp.session.kill", []any{first}, nil, nil); err != nil {
		t.Fatal(err)
	}
	recvT(t, w.downs, "the killed session down")
	if second := recvT(t, w.ups, "a new session"); second == first {
		t.Fatal("same session")
	}
	callAdd(t, admin, "com.test.add")
}

// TestReconnectOptions: with FailFast, a Call made while there is no
// session fails at once with ErrNotConnected; with PublishWaits, a Publish
// made while there is none waits for the next session and goes out on it
// (the service's own restored subscription, not excluded, receives it).
func TestReconnectOptions(t *testing.T) {
	t.Parallel()
	r := startRestartable(t)
	url := "ws://" + r.addr + "/ws"
	w := newWatch()
	opts := w.options()
	opts.Reconnect.FailFast = true
	opts.Reconnect.PublishWaits = true
	ctx := testCtx(t)
	svc, err := clientlib.Connect(ctx, url, "realm1", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	events := make(chan *clientlib.Event, 16)
	if _, err := svc.Subscribe(ctx, "com.test.news", func(ev *clientlib.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	r.stopNow()
	recvT(t, w.downs, "the session down")
	if _, err := svc.Call(ctx, "com.test.add", []any{1, 2}, nil, nil); !errors.Is(err, clientlib.ErrNotConnected) {
		t.Fatalf("Call while down with FailFast: %v, want ErrNotConnected", err)
	}
	published := make(chan error, 1)
	go func() {
		no := false
		published <- svc.Publish(ctx, "com.test.news", []any{"while down"}, nil, &clientlib.PublishOptions{Acknowledge: true, ExcludeMe: &no})
	}()
	r.start()
	recvT(t, w.ups, "the session up again")
	if err := recvT(t, published, "the publish made while down"); err != nil {
		t.Fatalf("Publish while down with PublishWaits: %v", err)
	}
	if ev := recvT(t, events, "the event published while down"); ev.Args[0] != "while down" {
		t.Fatalf("event %v", ev.Args)
	}
}
