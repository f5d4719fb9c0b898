package webhook_test

import (
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
)

// BenchmarkSubscriberDelivery: events published over WebSocket (acknowledged,
// one at a time) until every one was POSTed to a local endpoint.
func BenchmarkSubscriberDelivery(b *testing.B) {
	srv := routertest.Start(b, routertest.Options{})
	var n atomic.Int64
	ts := targetURL(b, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
	})
	set := webhook.New(srv.Router, webhook.Options{Logger: slog.New(slog.DiscardHandler)})
	b.Cleanup(func() { _ = set.Shutdown(routertest.Context(b)) })
	if err := set.Apply(routertest.Context(b), webhook.Config{Subscribers: []webhook.SubscriberConfig{{
		Session: webhook.Session{Realm: "realm1"}, Topic: "com.t", Endpoint: webhook.Endpoint{URL: ts},
		QueueMessages: 1 << 20, QueueBytes: 1 << 30,
	}}}); err != nil {
		b.Fatal(err)
	}
	pub := routertest.Connect(b, srv.URL, clientlib.Options{})
	ctx := routertest.Context(b)
	args := []any{"order", 42, map[string]any{"sku": "abc-123", "qty": 2}}
	b.ResetTimer()
	for range b.N {
		if err := pub.Publish(ctx, "com.t", args, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	for n.Load() < int64(b.N) {
		if ctx.Err() != nil {
			b.Fatal("not all delivered")
		}
		pollPause()
	}
}

// BenchmarkCalleeCall: calls over WebSocket, one at a time, each answered
// by a local endpoint.
func BenchmarkCalleeCall(b *testing.B) {
	srv := routertest.Start(b, routertest.Options{})
	ts := targetURL(b, sum)
	set := webhook.New(srv.Router, webhook.Options{Logger: slog.New(slog.DiscardHandler)})
	b.Cleanup(func() { _ = set.Shutdown(routertest.Context(b)) })
	if err := set.Apply(routertest.Context(b), webhook.Config{Callees: []webhook.CalleeConfig{{
		Session: webhook.Session{Realm: "realm1"}, Procedure: "com.sum", Endpoint: webhook.Endpoint{URL: ts},
	}}}); err != nil {
		b.Fatal(err)
	}
	c := routertest.Connect(b, srv.URL, clientlib.Options{})
	ctx := routertest.Context(b)
	b.ResetTimer()
	for range b.N {
		if _, err := c.Call(ctx, "com.sum", []any{1, 2}, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishStuckWebhook: acknowledged publications to a topic whose
// webhook endpoint never answers (its queue full, every event dropped),
// against BenchmarkPublishNoWebhook: what a stuck endpoint costs a
// publisher.
func BenchmarkPublishStuckWebhook(b *testing.B) { benchPublish(b, true) }

// BenchmarkPublishNoWebhook is BenchmarkPublishStuckWebhook's baseline.
func BenchmarkPublishNoWebhook(b *testing.B) { benchPublish(b, false) }

func benchPublish(b *testing.B, stuckHook bool) {
	srv := routertest.Start(b, routertest.Options{})
	if stuckHook {
		st := newStuck()
		b.Cleanup(func() { close(st.release) })
		url := targetURL(b, st.ServeHTTP)
		set := webhook.New(srv.Router, webhook.Options{Logger: slog.New(slog.DiscardHandler)})
		b.Cleanup(func() { _ = set.Shutdown(routertest.Context(b)) })
		if err := set.Apply(routertest.Context(b), webhook.Config{Subscribers: []webhook.SubscriberConfig{{
			Session: webhook.Session{Realm: "realm1"}, Topic: "com.t", Endpoint: webhook.Endpoint{URL: url}, QueueMessages: 10,
		}}}); err != nil {
			b.Fatal(err)
		}
	}
	pub := routertest.Connect(b, srv.URL, clientlib.Options{})
	ctx := routertest.Context(b)
	args := []any{"order", 42}
	b.ResetTimer()
	for range b.N {
		if err := pub.Publish(ctx, "com.t", args, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
			b.Fatal(err)
		}
	}
}
