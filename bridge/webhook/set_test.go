package webhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/wamp"
)

// TestApply: a new config starts the new webhooks, stops the removed ones,
// restarts the changed ones and leaves the others running.
func TestApply(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	a, b1, b2, c := &recorder{}, &recorder{}, &recorder{}, &recorder{}
	ta, tb1, tb2, tc := target(t, a.ServeHTTP), target(t, b1.ServeHTTP), target(t, b2.ServeHTTP), target(t, c.ServeHTTP)
	sub := func(name, topic, url string) webhook.SubscriberConfig {
		return webhook.SubscriberConfig{Name: name, Session: hookSession, Topic: topic, Endpoint: webhook.Endpoint{URL: url}}
	}
	first := webhook.Config{
		Subscribers: []webhook.SubscriberConfig{sub("a", "com.a", ta.URL), sub("b", "com.b", tb1.URL), sub("gone", "com.gone", tc.URL)},
		Callees:     []webhook.CalleeConfig{{Name: "sum", Session: hookSession, Procedure: "com.sum", Endpoint: webhook.Endpoint{URL: target(t, sum).URL}}},
	}
	set, l := startSet(t, srv, first)
	pub := connect(t, srv)
	ctx := routertest.Context(t)
	publish := func(topics ...string) {
		t.Helper()
		for _, topic := range topics {
			if err := pub.Publish(ctx, topic, nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish("com.a", "com.b", "com.gone")
	waitFor(t, "3 deliveries", func() bool { return len(a.requests()) == 1 && len(b1.requests()) == 1 && len(c.requests()) == 1 })

	// An invalid config changes nothing.
	bad := first
	bad.Subscribers = []webhook.SubscriberConfig{sub("a", "com.a", "ftp://x")}
	if err := set.Apply(ctx, bad); err == nil || !strings.Contains(err.Error(), "bridge.subscriber[0].url") {
		t.Fatalf("Apply of an invalid config: %v", err)
	}
	publish("com.a", "com.gone")
	waitFor(t, "2 more deliveries", func() bool { return len(a.requests()) == 2 && len(c.requests()) == 2 })

	second := webhook.Config{
		Subscribers: []webhook.SubscriberConfig{sub("a", "com.a", ta.URL), sub("b", "com.b", tb2.URL), sub("new", "com.new", tc.URL)},
		Callees:     first.Callees,
	}
	if err := set.Apply(ctx, second); err != nil {
		t.Fatal(err)
	}
	publish("com.a", "com.b", "com.gone", "com.new")
	waitFor(t, "the new deliveries", func() bool {
		return len(a.requests()) == 3 && len(b2.requests()) == 1 && len(c.requests()) == 3
	})
	var topic struct{ Topic string }
	if err := jsonUnmarshal(c.requests()[2].body, &topic); err != nil || topic.Topic != "com.new" {
		t.Fatalf("after Apply, c got %s: the removed webhook still runs", c.requests()[2].body)
	}
	if len(b1.requests()) != 1 {
		t.Fatal("the changed webhook still posts to its old URL")
	}
	logged := l.String()
	for name, want := range map[string]int{"a": 1, "b": 2, "new": 1, "gone": 1, "sum": 1} {
		if n := count(logged, `msg="webhook started" webhook=`+name+"\n"); n != want {
			t.Errorf("webhook %s started %d times, want %d:\n%s", name, n, want, logged)
		}
	}
	if v := metric(t, set, "junction_bridge_webhook_deliveries_total", "webhook", "a", "outcome", "delivered"); v != 3 {
		t.Fatalf("a's deliveries = %v: its counters did not survive", v)
	}
	if strings.Contains(scrapeAll(t, set), `webhook="gone"`) {
		t.Fatal("the metrics of a removed webhook remain")
	}
	if _, err := connect(t, srv).Call(ctx, "com.sum", []any{1, 2}, nil, nil); err != nil {
		t.Fatalf("the unchanged callee: %v", err)
	}
}

// TestShutdownDrains: Shutdown delivers what is queued within its context,
// then counts and logs what is left.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	st := newStuck()
	ts := target(t, st.ServeHTTP)
	defer close(st.release)
	set, l := startSet(t, srv, webhook.Config{Subscribers: []webhook.SubscriberConfig{{
		Name: "stuck", Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: ts.URL, Timeout: time.Minute},
	}}})
	pub := connect(t, srv)
	for range 5 {
		if err := pub.Publish(routertest.Context(t), "com.t", nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "4 queued", func() bool { return metric(t, set, "junction_bridge_webhook_queue_length", "webhook", "stuck") == 4 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := set.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if v := metric(t, set, "junction_bridge_webhook_dropped_total", "webhook", "stuck", "reason", "shutdown"); v != 5 {
		t.Fatalf("dropped at shutdown = %v, want 5 (one in flight, four queued)", v)
	}
	l.WaitFor(t, `msg="webhook stopped before delivering its queue: events dropped" webhook=stuck dropped=5`)
	if err := set.Apply(routertest.Context(t), webhook.Config{}); !errors.Is(err, webhook.ErrClosed) {
		t.Fatalf("Apply after Shutdown: %v", err)
	}
}

// TestRejoin: a webhook whose session the router ends joins again.
func TestRejoin(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	rc := &recorder{}
	ts := target(t, rc.ServeHTTP)
	set, l := startSet(t, srv, webhook.Config{Subscribers: []webhook.SubscriberConfig{{
		Name: "h", Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: ts.URL},
	}}})
	ctx := routertest.Context(t)
	admin := routertest.Connect(t, srv.URL, clientlib.Options{AuthID: "admin", Auth: []clientlib.Authenticator{clientlib.TicketAuth("admin-ticket")}})
	if _, err := admin.Call(ctx, "wamp.session.kill_by_authid", []any{"hook"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	l.WaitFor(t, `msg="webhook session ended; joining again" webhook=h`)
	l.WaitFor(t, `msg="webhook session joined again" webhook=h`)
	waitFor(t, "up again", func() bool { return metric(t, set, "junction_bridge_webhook_up", "webhook", "h") == 1 })
	if err := connect(t, srv).Publish(ctx, "com.t", nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool { return len(rc.requests()) == 1 })
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := webhook.Endpoint{URL: "http://127.0.0.1:1/x"}
	s := webhook.Session{Realm: "realm1"}
	cfg := webhook.Config{
		Subscribers: []webhook.SubscriberConfig{
			{Session: s, Endpoint: ok, Topic: "com..x"},
			{Session: webhook.Session{AuthID: "a"}, Endpoint: webhook.Endpoint{URL: "file:///etc/passwd"}, Topic: "com.x", Match: "regex"},
			{Name: "dup", Session: s, Endpoint: ok, Topic: "com.x", Retries: intp(-1), BackoffBase: time.Second, BackoffMax: time.Millisecond,
				QueueMessages: 1 << 30},
		},
		Callees: []webhook.CalleeConfig{
			{Name: "dup", Session: s, Endpoint: webhook.Endpoint{URL: "http://h", Headers: map[string]string{"X-A": "1\r\nX-B: 2"}}, Procedure: "com.p", Invoke: "all"},
			{Session: s, Endpoint: ok, Procedure: "com..", Match: wamp.MatchWildcard, MaxConcurrent: -1},
			{Session: webhook.Session{Realm: "realm1", Role: "r", AuthID: "a", Ticket: "t"}, Endpoint: ok, Procedure: "com.p"},
		},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{
		"bridge.subscriber[0].topic", "bridge.subscriber[1].realm", "bridge.subscriber[1].authid", "bridge.subscriber[1].url",
		"bridge.subscriber[1].match", "bridge.subscriber[2].retries", "bridge.subscriber[2].backoff_max", "bridge.subscriber[2].queue_messages",
		"bridge.callee[0].name", "bridge.callee[0].headers", "bridge.callee[0].invoke", "bridge.callee[1].max_concurrent",
		"bridge.callee[2].role",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "bridge.callee[1].procedure") {
		t.Errorf("a wildcard pattern refused: %v", err)
	}
	if err := (webhook.Config{Subscribers: cfg.Subscribers[:1:1]}).Validate(); err == nil {
		t.Error("an exact topic with an empty component accepted")
	}
}
