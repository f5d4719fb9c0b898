package clientlib_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/wamp"
)

// TestRawSocket: calls and events over rs:// and unix://, each serializer,
// and a Close that ends the session (RawSocket has no close frame).
func TestRawSocket(t *testing.T) {
	t.Parallel()
	r := startRS(t, rsOptions{})
	for _, tr := range []struct{ name, url string }{{"rs", r.rs}, {"unix", r.unix}} {
		for _, ser := range serializerNames {
			t.Run(tr.name+"/"+ser, func(t *testing.T) {
				t.Parallel()
				ctx := testCtx(t)
				callee := connect(t, tr.url, ser)
				caller := connect(t, tr.url, ser)
				p := "com.example." + tr.name + "." + ser
				if _, err := callee.Register(ctx, p+".add2", add2, nil); err != nil {
					t.Fatal(err)
				}
				res, err := caller.Call(ctx, p+".add2", []any{2, 3}, map[string]any{"k": "v"}, nil)
				checkSum(t, res, err)
				events := make(chan *clientlib.Event, 1)
				if _, err := callee.Subscribe(ctx, p+".topic", func(ev *clientlib.Event) { events <- ev }, nil); err != nil {
					t.Fatal(err)
				}
				if err := caller.Publish(ctx, p+".topic", []any{"hi"}, map[string]any{"k": 1}, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
					t.Fatal(err)
				}
				if ev := <-events; ev.Args[0] != "hi" {
					t.Fatalf("event %v", ev.Args)
				}
				if err := caller.Close(ctx); err != nil {
					t.Fatalf("Close: %v", err)
				}
				<-caller.Done()
				if _, err := caller.Call(ctx, p+".add2", []any{1, 1}, nil, nil); !errors.Is(err, clientlib.ErrClosed) {
					t.Fatalf("call after Close: %v", err)
				}
			})
		}
	}
}

// TestRawSocketMixed: a WebSocket caller and a RawSocket callee, a
// RawSocket publisher and WebSocket and Unix subscribers, of different
// serializers.
func TestRawSocketMixed(t *testing.T) {
	t.Parallel()
	r := startRS(t, rsOptions{})
	ctx := testCtx(t)
	callee := connect(t, r.rs, "msgpack")
	caller := connect(t, r.ws, "json")
	if _, err := callee.Register(ctx, "com.example.mixed.add2", add2, nil); err != nil {
		t.Fatal(err)
	}
	res, err := caller.Call(ctx, "com.example.mixed.add2", []any{2, 3}, map[string]any{"k": "v"}, nil)
	checkSum(t, res, err)

	pub := connect(t, r.rs, "cbor")
	events := make(chan *clientlib.Event, 2)
	for _, s := range []*clientlib.Client{connect(t, r.ws, "json"), connect(t, r.unix, "msgpack")} {
		if _, err := s.Subscribe(ctx, "com.example.mixed.topic", func(ev *clientlib.Event) { events <- ev }, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish(ctx, "com.example.mixed.topic", []any{"x", 1.5}, map[string]any{"k": "v"}, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ev := <-events
		if ev.Args[0] != "x" || ev.Args[1] != 1.5 || ev.Kwargs["k"] != "v" {
			t.Fatalf("event %v %v", ev.Args, ev.Kwargs)
		}
	}
}

// TestRawSocketTooLarge: a message over the router's announced maximum is
// an error wrapping ErrTooLarge for the method that would send it, and the
// session goes on; a YIELD over it reaches the caller as
// wamp.error.payload_size_exceeded.
func TestRawSocketTooLarge(t *testing.T) {
	t.Parallel()
	r := startRS(t, rsOptions{readLimit: 64 << 10})
	ctx := testCtx(t)
	c, err := clientlib.Connect(ctx, r.rs, "realm1", clientlib.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	big := strings.Repeat("x", 100<<10)
	_, err = c.Call(ctx, "com.example.big.echo", []any{big}, nil, nil)
	if !errors.Is(err, clientlib.ErrTooLarge) {
		t.Fatalf("call over the limit: %v", err)
	}
	if !strings.Contains(err.Error(), "CALL") || !strings.Contains(err.Error(), "65536") {
		t.Fatalf("error says neither the message nor the limit: %v", err)
	}
	if err := c.Publish(ctx, "com.example.big.topic", []any{big}, nil, nil); !errors.Is(err, clientlib.ErrTooLarge) {
		t.Fatalf("publish over the limit: %v", err)
	}

	if _, err := c.Register(ctx, "com.example.big.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{strings.Repeat("y", 100<<10)}}, nil
	}, nil); err != nil {
		t.Fatalf("register after the refusals: %v", err)
	}
	caller := connect(t, r.ws, "msgpack")
	_, err = caller.Call(ctx, "com.example.big.echo", nil, nil, nil)
	var re *wamp.RPCError
	if !errors.As(err, &re) || re.URI != wamp.ErrPayloadSizeExceeded {
		t.Fatalf("caller of a callee whose YIELD is too large: %v", err)
	}

	// A chunk of a progressive call over the limit: the call ends with
	// the error (and is canceled at the router), not left waiting.
	if _, err := caller.Register(ctx, "com.example.big.chunks", func(ctx context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		for {
			if _, ok, err := inv.NextChunk(ctx); !ok || err != nil {
				return nil, err
			}
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	chunks := make(chan clientlib.Chunk, 1)
	chunks <- clientlib.Chunk{Args: []any{big}}
	_, err = c.Call(ctx, "com.example.big.chunks", []any{"first"}, nil, &clientlib.CallOptions{Chunks: chunks})
	if !errors.Is(err, clientlib.ErrTooLarge) {
		t.Fatalf("progressive call with a chunk over the limit: %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("session ended: %v", c.Err())
	}
}

// fakeRouter accepts connections on 127.0.0.1 and hands each to serve.
func fakeRouter(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				serve(c)
			}()
		}
	}()
	return "rs://" + ln.Addr().String()
}

// TestRawSocketHandshake: the maximum length announced, a refusal, and a
// router that never answers, against fake routers.
func TestRawSocketHandshake(t *testing.T) {
	t.Parallel()
	requests := make(chan [4]byte, 2)
	refusing := fakeRouter(t, func(c net.Conn) {
		var b [4]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return
		}
		requests <- b
		reply := rawsocket.ErrorReply(rawsocket.ErrSerializerUnsupported)
		_, _ = c.Write(reply[:])
	})
	for _, c := range []struct {
		opts clientlib.Options
		want byte
	}{
		{clientlib.Options{}, 0xF1}, // json, 16 MiB
		{clientlib.Options{Serializer: "cbor", ReadLimit: 3000}, 0x2<<4 | 3}, // 2048
	} {
		_, err := clientlib.Connect(testCtx(t), refusing, "realm1", c.opts)
		var he rawsocket.HandshakeError
		if !errors.As(err, &he) || he != rawsocket.ErrSerializerUnsupported {
			t.Fatalf("refused handshake: %v", err)
		}
		if b := <-requests; b != [4]byte{0x7F, c.want, 0, 0} {
			t.Fatalf("request % x, want 7f %02x 00 00", b, c.want)
		}
	}

	silent := fakeRouter(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := clientlib.Connect(ctx, silent, "realm1", clientlib.Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent router, ctx done: %v", err)
	}
	opts := clientlib.Options{Dialer: &websocket.Dialer{HandshakeTimeout: 100 * time.Millisecond}}
	if _, err := clientlib.Connect(testCtx(t), silent, "realm1", opts); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent router, handshake timeout: %v", err)
	}
	// A router that accepts the handshake but never answers HELLO: ctx
	// bounds joining as well.
	mute := fakeRouter(t, func(c net.Conn) {
		var b [4]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return
		}
		_, _ = c.Write(b[:])
		_, _ = io.Copy(io.Discard, c)
	})
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := clientlib.Connect(ctx, mute, "realm1", clientlib.Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("mute router: %v", err)
	}
}

// TestRawSocketTLS: rss:// and wss:// on one port with the same options,
// the TLS config of Options.Dialer; rss:// refused without it (the
// certificate is the test's own).
func TestRawSocketTLS(t *testing.T) {
	t.Parallel()
	r := startRS(t, rsOptions{tls: true})
	ctx := testCtx(t)
	opts := clientlib.Options{Dialer: &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: r.roots}}}
	opts.Serializer = "json"
	ws, err := clientlib.Connect(ctx, r.ws, "realm1", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close(ctx)
	if _, err := ws.Register(ctx, "com.example.tls.add2", add2, nil); err != nil {
		t.Fatal(err)
	}
	for _, ser := range serializerNames {
		opts.Serializer = ser
		c, err := clientlib.Connect(ctx, r.rss, "realm1", opts)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Call(ctx, "com.example.tls.add2", []any{2, 3}, map[string]any{"k": "v"}, nil)
		checkSum(t, res, err)
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, err = clientlib.Connect(testCtx(t), r.rss, "realm1", clientlib.Options{})
	if err == nil || !strings.Contains(fmt.Sprint(err), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
}

// TestRawSocketReadLimit: the maximum a client announces holds: what it
// could not take is not sent to it (its caller hears
// wamp.error.payload_size_exceeded from the router), and its session goes
// on.
func TestRawSocketReadLimit(t *testing.T) {
	t.Parallel()
	r := startRS(t, rsOptions{})
	ctx := testCtx(t)
	callee, err := clientlib.Connect(ctx, r.unix, "realm1", clientlib.Options{Serializer: "cbor", ReadLimit: 1500})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close(ctx)
	if _, err := callee.Register(ctx, "com.example.limit.len", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		s, _ := inv.Args[0].(string)
		return &clientlib.Result{Args: []any{len(s)}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := connect(t, r.ws, "json")
	var re *wamp.RPCError
	if _, err := caller.Call(ctx, "com.example.limit.len", []any{strings.Repeat("x", 2000)}, nil, nil); !errors.As(err, &re) || re.URI != wamp.ErrPayloadSizeExceeded {
		t.Fatalf("call too large for the callee (1024 announced): %v", err)
	}
	res, err := caller.Call(ctx, "com.example.limit.len", []any{strings.Repeat("x", 900)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := wamp.AsInt(res.Args[0]); n != 900 {
		t.Fatalf("result %v", res.Args)
	}
}

// TestRawSocketBinaryAcrossTransports: []byte from a WebSocket json caller
// (WAMP's \u0000+base64 in JSON) reaches a RawSocket msgpack callee as
// bytes, and back.
func TestRawSocketBinaryAcrossTransports(t *testing.T) {
	t.Parallel()
	r := startRS(t, rsOptions{})
	ctx := testCtx(t)
	callee := connect(t, r.rs, "msgpack")
	caller := connect(t, r.ws, "json")
	if _, err := callee.Register(ctx, "com.example.bin", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		b, ok := inv.Args[0].([]byte)
		if !ok {
			return nil, fmt.Errorf("got %T", inv.Args[0])
		}
		return &clientlib.Result{Args: []any{append(b, 0xff)}}, nil
	}, nil); err != nil {
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
