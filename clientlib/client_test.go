package clientlib_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/wamp"
)

var serializerNames = []string{"json", "msgpack", "cbor"}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, url, serializer string) *clientlib.Client {
	t.Helper()
	c, err := clientlib.Connect(testCtx(t), url, "realm1", clientlib.Options{Serializer: serializer, Compression: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func TestCallAndErrors(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	for _, ser := range serializerNames {
		t.Run(ser, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			callee := connect(t, srv.URL, ser)
			caller := connect(t, srv.URL, ser)
			p := "com.example." + ser + "."
			_, err := callee.Register(ctx, p+"add2", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
				a, _ := wamp.AsInt(inv.Args[0])
				b, _ := wamp.AsInt(inv.Args[1])
				return &clientlib.Result{Args: []any{a + b}, Kwargs: map[string]any{"echo": inv.Kwargs["k"]}}, nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := caller.Call(ctx, p+"add2", []any{2, 3}, map[string]any{"k": "v"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := wamp.AsInt(res.Args[0]); n != 5 || res.Kwargs["echo"] != "v" {
				t.Fatalf("result %v %v", res.Args, res.Kwargs)
			}

			_, err = callee.Register(ctx, p+"fail", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
				return nil, &wamp.RPCError{URI: "com.example.oops", Args: []any{"bad"}, Kwargs: map[string]any{"code": 7}}
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = caller.Call(ctx, p+"fail", nil, nil, nil)
			var rpcErr *wamp.RPCError
			if !errors.As(err, &rpcErr) || rpcErr.URI != "com.example.oops" || rpcErr.Args[0] != "bad" {
				t.Fatalf("error %v", err)
			}
			if n, _ := wamp.AsInt(rpcErr.Kwargs["code"]); n != 7 {
				t.Fatalf("error kwargs %v", rpcErr.Kwargs)
			}

			_, err = callee.Register(ctx, p+"runtime", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
				return nil, errors.New("disk full")
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = caller.Call(ctx, p+"runtime", nil, nil, nil)
			if !errors.As(err, &rpcErr) || rpcErr.URI != clientlib.ErrRuntime || rpcErr.Args[0] != "disk full" {
				t.Fatalf("runtime error %v", err)
			}

			_, err = caller.Call(ctx, p+"nobody", nil, nil, nil)
			if !errors.Is(err, &wamp.RPCError{URI: wamp.ErrNoSuchProcedure}) {
				t.Fatalf("unknown procedure: %v", err)
			}
		})
	}
}

func TestBinaryAcrossSerializers(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	ctx := testCtx(t)
	callee := connect(t, srv.URL, "msgpack")
	caller := connect(t, srv.URL, "json")
	_, err := callee.Register(ctx, "com.example.bin", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		b, ok := inv.Args[0].([]byte)
		if !ok {
			return nil, fmt.Errorf("got %T", inv.Args[0])
		}
		return &clientlib.Result{Args: []any{append(b, 0xff)}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := caller.Call(ctx, "com.example.bin", []any{[]byte{0, 1, 2}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Args[0]); got != fmt.Sprint([]byte{0, 1, 2, 0xff}) {
		t.Fatalf("got %s", got)
	}
}

func TestPubSub(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	for _, ser := range serializerNames {
		t.Run(ser, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			pub := connect(t, srv.URL, ser)
			sub := connect(t, srv.URL, "json")
			topic := "com.example.topic." + ser
			events := make(chan *clientlib.Event, 200)
			if _, err := sub.Subscribe(ctx, topic, func(ev *clientlib.Event) { events <- ev }, nil); err != nil {
				t.Fatal(err)
			}
			self := make(chan *clientlib.Event, 10)
			if _, err := pub.Subscribe(ctx, topic, func(ev *clientlib.Event) { self <- ev }, nil); err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				if err := pub.Publish(ctx, topic, []any{i}, map[string]any{"n": i}, &clientlib.PublishOptions{Acknowledge: i%10 == 0}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 100 {
				ev := <-events
				if n, _ := wamp.AsInt(ev.Args[0]); n != int64(i) || ev.Topic != topic {
					t.Fatalf("event %d: %v on %s", i, ev.Args, ev.Topic)
				}
			}
			no := false
			if err := pub.Publish(ctx, topic, []any{"me too"}, nil, &clientlib.PublishOptions{Acknowledge: true, ExcludeMe: &no}); err != nil {
				t.Fatal(err)
			}
			if ev := <-self; ev.Args[0] != "me too" {
				t.Fatalf("publisher got %v first: excluded events reached it", ev.Args)
			}
			<-events
		})
	}
}

func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	ctx := testCtx(t)
	callee := connect(t, srv.URL, "cbor")
	caller := connect(t, srv.URL, "msgpack")
	_, err := callee.Register(ctx, "com.example.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			res, err := caller.Call(ctx, "com.example.echo", []any{i}, nil, nil)
			if err == nil {
				if n, _ := wamp.AsInt(res.Args[0]); n != int64(i) {
					err = fmt.Errorf("call %d got %v", i, res.Args)
				}
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSessionEndFailsPendingCalls(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	ctx := testCtx(t)
	callee := connect(t, srv.URL, "json")
	caller := connect(t, srv.URL, "json")
	started := make(chan struct{}, 2)
	_, err := callee.Register(ctx, "com.example.block", func(ctx context.Context, _ *clientlib.Invocation) (*clientlib.Result, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	callErr := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctx, "com.example.block", nil, nil, nil)
		callErr <- err
	}()
	<-started
	if err := caller.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-callErr; !errors.Is(err, clientlib.ErrClosed) {
		t.Fatalf("pending call after close: %v", err)
	}

	// The callee leaving fails its callers' calls with wamp.error.canceled.
	caller2 := connect(t, srv.URL, "json")
	go func() {
		_, err := caller2.Call(ctx, "com.example.block", nil, nil, nil)
		callErr <- err
	}()
	<-started
	waitCalls(t, srv, 1)
	if err := callee.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-callErr; !errors.Is(err, &wamp.RPCError{URI: wamp.ErrCanceled}) {
		t.Fatalf("call to departed callee: %v", err)
	}
}

// waitCalls waits until the router has routed n calls that are not answered.
func waitCalls(t *testing.T, srv *routertest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Router.PendingInvocations() < n {
		if time.Now().After(deadline) {
			t.Fatal("call never reached the callee")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCallContextTimeout(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	ctx := testCtx(t)
	callee := connect(t, srv.URL, "json")
	release := make(chan struct{})
	defer close(release)
	_, err := callee.Register(ctx, "com.example.never", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		<-release
		return nil, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	caller := connect(t, srv.URL, "json")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := caller.Call(short, "com.example.never", nil, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownRealmAndUnregister(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	ctx := testCtx(t)
	_, err := clientlib.Connect(ctx, srv.URL, "no.such.realm", clientlib.Options{})
	if !errors.Is(err, &wamp.RPCError{URI: wamp.ErrNoSuchRealm}) {
		t.Fatalf("got %v", err)
	}
	c := connect(t, srv.URL, "msgpack")
	reg, err := c.Register(ctx, "com.example.tmp", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) { return nil, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, "com.example.tmp", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Unregister(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, "com.example.tmp", nil, nil, nil); !errors.Is(err, &wamp.RPCError{URI: wamp.ErrNoSuchProcedure}) {
		t.Fatalf("after unregister: %v", err)
	}
	if err := c.Unregister(ctx, reg); !errors.Is(err, &wamp.RPCError{URI: wamp.ErrNoSuchRegistration}) {
		t.Fatalf("second unregister: %v", err)
	}
}

func BenchmarkCall(b *testing.B) {
	srv := routertest.Start(b, routertest.Options{})
	benchCall(b, func(ctx context.Context) (*clientlib.Client, error) {
		return clientlib.Connect(ctx, srv.URL, "realm1", clientlib.Options{})
	})
}

// BenchmarkCallLocal is BenchmarkCall with both sessions in-process
// (ConnectLocal): no socket, no encoding.
func BenchmarkCallLocal(b *testing.B) {
	srv := routertest.Start(b, routertest.Options{})
	benchCall(b, func(ctx context.Context) (*clientlib.Client, error) {
		return clientlib.ConnectLocal(ctx, srv.Router, "realm1", clientlib.Options{})
	})
}

func benchCall(b *testing.B, connect func(context.Context) (*clientlib.Client, error)) {
	ctx := context.Background()
	callee, err := connect(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer callee.Close(ctx)
	caller, err := connect(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer caller.Close(ctx)
	if _, err := callee.Register(ctx, "bench.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := caller.Call(ctx, "bench.echo", []any{42, "hello"}, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUnencodableResult: a result the callee's serializer cannot carry (NaN
// in JSON) reaches the caller as wamp.error.invalid_argument rather than
// leaving it waiting.
func TestUnencodableResult(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	ctx := testCtx(t)
	callee, err := clientlib.Connect(ctx, srv.URL, "realm1", clientlib.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close(ctx)
	if _, err := callee.Register(ctx, "com.example.nan", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{math.NaN()}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = connect(t, srv.URL, "msgpack").Call(ctx, "com.example.nan", nil, nil, nil)
	var re *wamp.RPCError
	if !errors.As(err, &re) || re.URI != wamp.ErrInvalidArgument {
		t.Fatalf("call of a callee whose result JSON cannot carry: %v", err)
	}
}
