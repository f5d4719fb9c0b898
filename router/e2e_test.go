package router_test

import (
	"context"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/transport/websocket"
)

// TestBadInputEndsOnlyThatSession sends each kind of bad input over a real
// WebSocket: the offending session ends with the right ABORT and close code,
// and a session next to it keeps calling.
func TestBadInputEndsOnlyThatSession(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.ReadLimit = 4096
	srv := routertest.Start(t, routertest.Options{Transport: cfg})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel) // after the parallel subtests
	healthy, err := clientlib.Connect(ctx, srv.URL, "realm1", clientlib.Options{Serializer: "msgpack"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = healthy.Close(ctx) })
	if _, err := healthy.Register(ctx, "com.example.ping", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{"pong"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	const hello = `[1,"realm1",{"roles":{"caller":{}}}]`
	tests := []struct {
		name      string
		msgType   int
		frames    []string
		abort     string // ABORT reason expected before the close, "" if none
		closeCode int
	}{
		{"malformed frame", gws.TextMessage, []string{hello, `[48,1,{}`}, "wamp.error.protocol_violation", gws.CloseProtocolError},
		{"unknown message type", gws.TextMessage, []string{hello, `[99,1]`}, "wamp.error.protocol_violation", gws.CloseProtocolError},
		{"wrong frame type", gws.BinaryMessage, []string{hello}, "wamp.error.protocol_violation", gws.CloseUnsupportedData},
		{"message invalid for the state", gws.TextMessage, []string{hello, `[2,1,{}]`}, "wamp.error.protocol_violation", gws.CloseProtocolError},
		{"CALL before HELLO", gws.TextMessage, []string{`[48,1,{},"com.example.ping"]`}, "wamp.error.protocol_violation", gws.CloseProtocolError},
		{"oversized", gws.TextMessage, []string{hello, `[48,1,{},"p",["` + strings.Repeat("x", 5000) + `"]]`}, "", gws.CloseMessageTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := gws.Dialer{Subprotocols: []string{"wamp.2.json"}}
			c, _, err := d.Dial(srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for i, f := range tt.frames {
				mt := gws.TextMessage
				if i == len(tt.frames)-1 {
					mt = tt.msgType
				}
				if err := c.WriteMessage(mt, []byte(f)); err != nil {
					t.Fatal(err)
				}
				if f == hello && i < len(tt.frames)-1 {
					if _, msg, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), "[2,") {
						t.Fatalf("WELCOME: %s %v", msg, err)
					}
				}
			}
			var abort string
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					ce, ok := err.(*gws.CloseError)
					if !ok || ce.Code != tt.closeCode {
						t.Fatalf("closed with %v, want code %d", err, tt.closeCode)
					}
					break
				}
				abort = string(msg)
			}
			if tt.abort != "" && !strings.Contains(abort, tt.abort) {
				t.Fatalf("last message %q, want ABORT %s", abort, tt.abort)
			}
			res, err := healthy.Call(ctx, "com.example.ping", nil, nil, nil)
			if err != nil || res.Args[0] != "pong" {
				t.Fatalf("healthy session: %v %v", res, err)
			}
		})
	}
}

// TestSlowSubscriberDoesNotStallOthers: a subscriber that never reads is
// disconnected as a slow consumer, and a fast subscriber gets every event.
func TestSlowSubscriberDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.QueueMessages = 100
	cfg.QueueBytes = 1 << 20
	cfg.SlowConsumerTimeout = 100 * time.Millisecond
	cfg.WriteTimeout = time.Second
	srv := routertest.Start(t, routertest.Options{Transport: cfg})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The slow subscriber: a raw WebSocket that subscribes, then never reads.
	d := gws.Dialer{Subprotocols: []string{"wamp.2.json"}, ReadBufferSize: 1024}
	slow, _, err := d.Dial(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	for _, f := range []string{`[1,"realm1",{"roles":{"subscriber":{}}}]`, `[32,1,{},"com.example.firehose"]`} {
		if err := slow.WriteMessage(gws.TextMessage, []byte(f)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := slow.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}

	fast, err := clientlib.Connect(ctx, srv.URL, "realm1", clientlib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close(ctx)
	const limit = 50000 // bounds the loop; the kernel's socket buffers absorb a few MB first
	got := make(chan int, limit+200)
	if _, err := fast.Subscribe(ctx, "com.example.firehose", func(ev *clientlib.Event) { got <- len(ev.Args) }, nil); err != nil {
		t.Fatal(err)
	}
	pub, err := clientlib.Connect(ctx, srv.URL, "realm1", clientlib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	payload := strings.Repeat("x", 4096)
	disconnected := func() bool { return srv.Transport.Stats().SlowConsumerDisconnects.Load() >= 1 }
	// The fast subscriber keeps up: the publisher lets at most `window`
	// events be on their way to it (a reader that keeps up is never over
	// its queue's bound), while the slow one's queue only grows.
	const window = 50
	received, n := 0, 0
	receive := func() {
		select {
		case <-got:
			received++
		case <-ctx.Done():
			t.Fatalf("fast subscriber got %d events, %d published", received, n)
		}
	}
	// Publish until the slow subscriber is cut off, then 200 more.
	for extra := 0; extra < 200 && n < limit; n++ {
		if disconnected() {
			extra++
		}
		if err := pub.Publish(ctx, "com.example.firehose", []any{n, payload}, nil, &clientlib.PublishOptions{Acknowledge: n%100 == 99}); err != nil {
			t.Fatal(err)
		}
		for n+1-received > window {
			receive()
		}
	}
	if c := srv.Transport.Stats().SlowConsumerDisconnects.Load(); c != 1 {
		t.Fatalf("%d slow-consumer disconnects after %d events, want the slow subscriber's alone", c, n)
	}
	for received < n {
		receive()
	}
}
