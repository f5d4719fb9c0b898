package local_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/local"
	"github.com/junction-wamp/junction/wamp"
)

func newRouter(t *testing.T, cfg router.Config) *router.Router {
	t.Helper()
	cfg.Realms = []router.RealmConfig{{Name: "app", Anonymous: true}}
	r, err := router.New(cfg, router.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return r
}

var roles = wamp.Dict{"roles": wamp.Dict{
	wamp.RolePublisher: wamp.Dict{}, wamp.RoleSubscriber: wamp.Dict{},
}}

// join opens a local session and reads the router's answer to HELLO.
func join(t *testing.T, r *router.Router, cfg local.Config) (*local.Client, wamp.Message) {
	t.Helper()
	c, err := local.Serve(r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Write(context.Background(), &wamp.Hello{Realm: "app", Details: roles}); err != nil {
		t.Fatal(err)
	}
	m, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

func read[T wamp.Message](t *testing.T, c *local.Client) T {
	t.Helper()
	m, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	v, ok := m.(T)
	if !ok {
		t.Fatalf("got %s (%+v)", m.MessageType(), m)
	}
	return v
}

// TestPubSub: what the router sends with Send arrives as a value; an event,
// a fan-out's frame, is decoded with the serializer the local end declared.
func TestPubSub(t *testing.T) {
	t.Parallel()
	r := newRouter(t, router.Config{})
	for _, ser := range []string{"json", "msgpack", "cbor"} {
		sub, w := join(t, r, local.Config{Serializer: ser})
		if _, ok := w.(*wamp.Welcome); !ok {
			t.Fatalf("%s: HELLO answered with %+v", ser, w)
		}
		if sub.Serializer().Subprotocol() == "" || sub.Peer().Info().RemoteAddr != "in-process" {
			t.Fatalf("%s: info %+v", ser, sub.Peer().Info())
		}
		pub, _ := join(t, r, local.Config{})
		_ = sub.Write(context.Background(), &wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "t." + wamp.URI(ser)})
		read[*wamp.Subscribed](t, sub)
		_ = pub.Write(context.Background(), &wamp.Publish{Request: 1, Options: wamp.Dict{"acknowledge": true}, Topic: "t." + wamp.URI(ser),
			Payload: wamp.Values([]any{"hi"}, nil)})
		read[*wamp.Published](t, pub)
		ev := read[*wamp.Event](t, sub)
		if ev.Encoding != sub.Serializer().Encoding() {
			t.Fatalf("%s: event payload in %s", ser, ev.Encoding)
		}
		if args, _, err := serializers.DecodePayload(&ev.Payload); err != nil || len(args) != 1 || args[0] != "hi" {
			t.Fatalf("%s: event args %v, %v", ser, args, err)
		}
	}
}

// TestSlowConsumer: a local subscriber that stops reading is cut as a slow
// consumer, as a WebSocket one is.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	r := newRouter(t, router.Config{})
	sub, _ := join(t, r, local.Config{QueueMessages: 4, SlowConsumerTimeout: time.Hour})
	pub, _ := join(t, r, local.Config{})
	_ = sub.Write(context.Background(), &wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "t"})
	read[*wamp.Subscribed](t, sub)
	// The subscriber reads no more: the queue reaches twice its bound.
	for i := range 20 {
		err := pub.Write(context.Background(), &wamp.Publish{Request: wamp.ID(i + 1), Options: wamp.Dict{}, Topic: "t",
			Payload: wamp.Values([]any{i}, nil)})
		if err != nil {
			t.Fatal(err)
		}
	}
	<-sub.Done()
	if reason := sub.Peer().SlowConsumer(); reason == "" {
		t.Fatal("not closed as a slow consumer")
	}
	var ce *local.CloseError
	for {
		_, err := sub.Read()
		if err == nil {
			continue // the event the writer held when it was cut
		}
		if !errors.As(err, &ce) || ce.Code != transport.ClosePolicyViolation {
			t.Fatalf("read: %v", err)
		}
		break
	}
}

// TestSessionLimit: a per-address limit refuses a local session like any
// other: every local session comes from "in-process".
func TestSessionLimit(t *testing.T) {
	t.Parallel()
	r := newRouter(t, router.Config{MaxSessionsPerAddress: 1})
	if _, w := join(t, r, local.Config{}); w.MessageType() != wamp.WELCOME {
		t.Fatalf("first session: %+v", w)
	}
	c, m := join(t, r, local.Config{})
	a, ok := m.(*wamp.Abort)
	if !ok || a.Reason != router.ErrLimitExceeded {
		t.Fatalf("second session: %+v", m)
	}
	var ce *local.CloseError
	if _, err := c.Read(); !errors.As(err, &ce) || ce.Code != transport.ClosePolicyViolation {
		t.Fatalf("after ABORT: %v", err)
	}
	// Another origin is not counted with them.
	if _, w := join(t, r, local.Config{RemoteAddr: "plugin"}); w.MessageType() != wamp.WELCOME {
		t.Fatalf("other origin: %+v", w)
	}
}

// TestClientClose: the router's session sees the client end closed as the
// end of its input.
func TestClientClose(t *testing.T) {
	t.Parallel()
	r := newRouter(t, router.Config{})
	c, _ := join(t, r, local.Config{})
	c.Close()
	<-c.Done()
	if _, err := c.Read(); !errors.Is(err, local.ErrClientClosed) {
		t.Fatalf("read after close: %v", err)
	}
}

// TestReadLimits: the read limits bound what a local client writes, as the
// WebSocket transport's bound a message's bytes: before WELCOME the
// handshake limit (a HELLO with 100 KiB of details), after it the message
// limit (a PUBLISH of 2 MiB with a 1 MiB limit); either ends the session
// with CloseMessageTooBig. A message within them passes.
func TestReadLimits(t *testing.T) {
	t.Parallel()
	r := newRouter(t, router.Config{})
	tooBig := func(c *local.Client, what string) {
		t.Helper()
		var ce *local.CloseError
		for {
			m, err := c.Read()
			if err == nil {
				if m.MessageType() == wamp.ABORT {
					continue // the router's ABORT before the close
				}
				t.Fatalf("%s: %s instead of the close", what, m.MessageType())
			}
			if !errors.As(err, &ce) || ce.Code != transport.CloseMessageTooBig {
				t.Fatalf("%s: %v, want a close with CloseMessageTooBig", what, err)
			}
			return
		}
	}

	c, err := local.Serve(r, local.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	big := wamp.Dict{"roles": roles["roles"], "pad": string(make([]byte, 100<<10))}
	if err := c.Write(context.Background(), &wamp.Hello{Realm: "app", Details: big}); err != nil {
		t.Fatal(err)
	}
	tooBig(c, "a HELLO of 100 KiB")

	c, w := join(t, r, local.Config{ReadLimit: 1 << 20})
	if w.MessageType() != wamp.WELCOME {
		t.Fatalf("join: %+v", w)
	}
	ok := &wamp.Publish{Request: 1, Options: wamp.Dict{"acknowledge": true}, Topic: "t", Payload: wamp.Values([]any{string(make([]byte, 512<<10))}, nil)}
	if err := c.Write(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	read[*wamp.Published](t, c)
	huge := &wamp.Publish{Request: 2, Options: wamp.Dict{}, Topic: "t", Payload: wamp.Values([]any{[]any{string(make([]byte, 1<<20)), string(make([]byte, 1<<20))}}, nil)}
	if err := c.Write(context.Background(), huge); err != nil {
		t.Fatal(err)
	}
	tooBig(c, "a PUBLISH of 2 MiB")
}

func TestValueSize(t *testing.T) {
	t.Parallel()
	if n := local.ValueSize([]any{"abc", []byte{1, 2}, 42, map[string]any{"k": "v"}}); n < 3+2+8+2 || n > 64 {
		t.Fatalf("size %d", n)
	}
	deep := any("x")
	for range 100 {
		deep = []any{deep}
	}
	if n := local.ValueSize(deep); n < 1<<20 {
		t.Fatalf("100 levels deep counted %d bytes, want at least 1 MiB", n)
	}
}
