package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/server"
)

// TestWebhooks: Serve starts the configured webhooks, the metrics show
// them, and Shutdown drains them.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	var delivered atomic.Int32
	events := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		delivered.Add(1)
	}))
	t.Cleanup(events.Close)
	calls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"args": ["pong"]}`)
	}))
	t.Cleanup(calls.Close)
	addr := routertest.Serve(t, server.Config{Webhooks: webhook.Config{
		Subscribers: []webhook.SubscriberConfig{{Name: "events", Session: webhook.Session{Realm: "realm1"},
			Topic: "com.t", Endpoint: webhook.Endpoint{URL: events.URL}}},
		Callees: []webhook.CalleeConfig{{Name: "ping", Session: webhook.Session{Realm: "realm1"},
			Procedure: "com.ping", Endpoint: webhook.Endpoint{URL: calls.URL}}},
	}})
	c := routertest.Connect(t, "ws://"+addr+"/ws", clientlib.Options{})
	ctx := routertest.Context(t)
	res, err := c.Call(ctx, "com.ping", nil, nil, nil)
	if err != nil || len(res.Args) != 1 || res.Args[0] != "pong" {
		t.Fatalf("call: %v %v", res, err)
	}
	if err := c.Publish(ctx, "com.t", nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	routertest.WaitUntil(t, "the event delivered and counted", func() bool {
		return delivered.Load() == 1 &&
			scrape(t, "http://"+addr+"/metrics")[`junction_bridge_webhook_deliveries_total{outcome="delivered",webhook="events"}`] == 1
	})
	m := scrape(t, "http://"+addr+"/metrics")
	if m[`junction_bridge_webhook_calls_total{outcome="result",webhook="ping"}`] != 1 ||
		m[`junction_bridge_webhook_up{kind="callee",webhook="ping"}`] != 1 {
		t.Fatalf("metrics: %v", m)
	}
}

// TestWebhookDeniedStopsServe: a webhook the realm's roles deny stops the
// server from starting, with an error naming it.
func TestWebhookDeniedStopsServe(t *testing.T) {
	t.Parallel()
	srv, err := server.New(server.Config{
		Router: router.Config{Realms: []router.RealmConfig{{Name: "realm1", Anonymous: true, Roles: []router.RoleConfig{
			{Name: "anonymous", Permissions: []router.Permission{{URI: "com.", Match: "prefix", Call: true}}}}}}},
		Webhooks: webhook.Config{Callees: []webhook.CalleeConfig{{Name: "sneaky", Session: webhook.Session{Realm: "realm1"},
			Procedure: "com.ping", Endpoint: webhook.Endpoint{URL: "http://127.0.0.1:1"}}}},
	}, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Serve(context.Background(), ln)
	if err == nil || !strings.Contains(err.Error(), "webhook sneaky: wamp.error.not_authorized") {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := server.New(server.Config{Webhooks: webhook.Config{Callees: []webhook.CalleeConfig{{Procedure: "com.x"}}}},
		server.Options{Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "bridge.callee[0].url") {
		t.Fatalf("New with an invalid webhook: %v", err)
	}
}
