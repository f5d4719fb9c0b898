package webhook_test

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/wamp"
)

// request is what a target received.
type request struct {
	header http.Header
	body   []byte
}

// recorder is a target handler that keeps each request and answers status.
type recorder struct {
	mu     sync.Mutex
	got    []request
	status func(n int) int // the status of the n-th request (from 0)
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.got)
	rc.got = append(rc.got, request{r.Header.Clone(), b})
	rc.mu.Unlock()
	status := http.StatusOK
	if rc.status != nil {
		status = rc.status(n)
	}
	w.WriteHeader(status)
}

func (rc *recorder) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

func TestSubscriberDelivers(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	rc := &recorder{}
	ts := target(t, rc.ServeHTTP)
	set, _ := startSet(t, srv, webhook.Config{Subscribers: []webhook.SubscriberConfig{{
		Name: "orders", Session: hookSession, Topic: "com.shop.order",
		Endpoint: webhook.Endpoint{URL: ts.URL, Secret: "shared", Headers: map[string]string{"Authorization": "Bearer x"}},
	}}})
	pub := connect(t, srv)
	ctx := routertest.Context(t)
	if err := pub.Publish(ctx, "com.shop.order", []any{"book", []byte{0, 1, 2}}, map[string]any{"qty": 2},
		&clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool { return len(rc.requests()) == 1 })
	req := rc.requests()[0]
	var body struct {
		Topic       string
		Publication uint64
		Args        []any
		Kwargs      map[string]any
		Details     map[string]any
	}
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("body %s: %v", req.body, err)
	}
	if body.Topic != "com.shop.order" || body.Publication == 0 || len(body.Args) != 2 || body.Args[0] != "book" ||
		body.Args[1] != "\x00AAEC" || body.Kwargs["qty"] != 2.0 || body.Details == nil {
		t.Fatalf("body %s", req.body)
	}
	if req.header.Get("Authorization") != "Bearer x" || req.header.Get(webhook.HeaderWebhook) != "orders" ||
		req.header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", req.header)
	}
	checkSignature(t, "shared", req)
	waitFor(t, "the delivery counted", func() bool {
		return metric(t, set, "junction_bridge_webhook_deliveries_total", "webhook", "orders", "outcome", "delivered") == 1
	})
	if v := metric(t, set, "junction_bridge_webhook_up", "webhook", "orders"); v != 1 {
		t.Fatalf("up = %v", v)
	}
}

// checkSignature verifies X-Junction-Signature as a receiver would.
func checkSignature(t *testing.T, secret string, req request) {
	t.Helper()
	sig := req.header.Get(webhook.HeaderSignature)
	ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
	var unix int64
	if _, err := fmtSscan(ts, &unix); err != nil || time.Since(time.Unix(unix, 0)).Abs() > time.Minute {
		t.Fatalf("signature %q: bad time", sig)
	}
	want := webhook.Sign(secret, time.Unix(unix, 0), req.body)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		t.Fatalf("signature %q, want %q", sig, want)
	}
	if hmac.Equal([]byte(sig), []byte(webhook.Sign("other", time.Unix(unix, 0), req.body))) {
		t.Fatal("signature does not depend on the secret")
	}
}

func TestSubscriberPatterns(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	prefix, wildcard := &recorder{}, &recorder{}
	tp, tw := target(t, prefix.ServeHTTP), target(t, wildcard.ServeHTTP)
	startSet(t, srv, webhook.Config{Subscribers: []webhook.SubscriberConfig{
		{Session: hookSession, Topic: "com.shop.", Match: wamp.MatchPrefix, Endpoint: webhook.Endpoint{URL: tp.URL}},
		{Session: hookSession, Topic: "com..temp", Match: wamp.MatchWildcard, Endpoint: webhook.Endpoint{URL: tw.URL}},
	}})
	pub := connect(t, srv)
	ctx := routertest.Context(t)
	ack := &clientlib.PublishOptions{Acknowledge: true}
	for _, topic := range []string{"com.shop.a", "com.shop.b.c", "com.room.temp", "com.other"} {
		if err := pub.Publish(ctx, topic, nil, nil, ack); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "3 deliveries", func() bool { return len(prefix.requests()) == 2 && len(wildcard.requests()) == 1 })
	topics := func(rc *recorder) (out []string) {
		for _, r := range rc.requests() {
			var b struct{ Topic string }
			_ = json.Unmarshal(r.body, &b)
			out = append(out, b.Topic)
		}
		return out
	}
	if p, w := topics(prefix), topics(wildcard); strings.Join(p, " ") != "com.shop.a com.shop.b.c" || w[0] != "com.room.temp" {
		t.Fatalf("prefix got %v, wildcard got %v", p, w)
	}
}

func TestSubscriberRetries(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	rc := &recorder{status: func(n int) int {
		if n < 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	ts := target(t, rc.ServeHTTP)
	set, _ := startSet(t, srv, webhook.Config{Subscribers: []webhook.SubscriberConfig{{
		Name: "flaky", Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: ts.URL},
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
	}}})
	pub := connect(t, srv)
	if err := pub.Publish(routertest.Context(t), "com.t", []any{1}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool {
		return metric(t, set, "junction_bridge_webhook_deliveries_total", "webhook", "flaky", "outcome", "delivered") == 1
	})
	if n := len(rc.requests()); n != 3 {
		t.Fatalf("%d requests, want 3 (two failures, then the delivery)", n)
	}
	if r := metric(t, set, "junction_bridge_webhook_retries_total", "webhook", "flaky"); r != 2 {
		t.Fatalf("retries = %v", r)
	}
}

func TestSubscriberGivesUp(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	failing := &recorder{status: func(int) int { return http.StatusInternalServerError }}
	refusing := &recorder{status: func(int) int { return http.StatusBadRequest }}
	tf, tr := target(t, failing.ServeHTTP), target(t, refusing.ServeHTTP)
	set, l := startSet(t, srv, webhook.Config{Subscribers: []webhook.SubscriberConfig{
		{Name: "failing", Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: tf.URL},
			Retries: intp(2), BackoffBase: time.Millisecond, BackoffMax: time.Millisecond},
		{Name: "refusing", Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: tr.URL}},
	}})
	pub := connect(t, srv)
	if err := pub.Publish(routertest.Context(t), "com.t", nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	l.WaitFor(t, `msg="webhook delivery failed: given up after retries" webhook=failing retries=2 status=500`)
	l.WaitFor(t, `msg="webhook delivery rejected by the endpoint: given up" webhook=refusing status=400`)
	if v := metric(t, set, "junction_bridge_webhook_deliveries_total", "webhook", "failing", "outcome", "failed"); v != 1 {
		t.Fatalf("failed = %v", v)
	}
	if v := metric(t, set, "junction_bridge_webhook_deliveries_total", "webhook", "refusing", "outcome", "rejected"); v != 1 {
		t.Fatalf("rejected = %v", v)
	}
	if a, b := len(failing.requests()), len(refusing.requests()); a != 3 || b != 1 {
		t.Fatalf("%d and %d requests, want 3 (1 + 2 retries) and 1 (a 400 is not retried)", a, b)
	}
}

// stuck is a target that holds every request until released.
type stuck struct {
	inflight atomic.Int32
	served   atomic.Int32
	release  chan struct{}
}

func newStuck() *stuck { return &stuck{release: make(chan struct{})} }

func (s *stuck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leaving once the body is read
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	select {
	case <-s.release:
	case <-r.Context().Done():
		return
	}
	s.served.Add(1)
}

func TestSubscriberOverflow(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	st := newStuck()
	ts := target(t, st.ServeHTTP)
	defer close(st.release)
	set, l := startSet(t, srv, webhook.Config{Subscribers: []webhook.SubscriberConfig{{
		Name: "slow", Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: ts.URL, Timeout: time.Minute},
		QueueMessages: 3,
	}}})
	pub := connect(t, srv)
	ctx := routertest.Context(t)
	const n = 50
	for i := range n {
		if err := pub.Publish(ctx, "com.t", []any{i}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}
	// One event at the endpoint, three queued, the rest dropped, counted.
	waitFor(t, "the overflow counted", func() bool {
		return metric(t, set, "junction_bridge_webhook_dropped_total", "webhook", "slow", "reason", "queue_full") == n-4
	})
	if q := metric(t, set, "junction_bridge_webhook_queue_length", "webhook", "slow"); q != 3 || st.inflight.Load() != 1 {
		t.Fatalf("queue_length %v, in flight %d", q, st.inflight.Load())
	}
	l.WaitFor(t, `msg="webhook queue full: event dropped" webhook=slow bound=queue_messages`)
	// The stuck endpoint held nobody else up: the webhook's session is
	// still there, and the publisher's calls go on.
	if v := metric(t, set, "junction_bridge_webhook_up", "webhook", "slow"); v != 1 {
		t.Fatalf("up = %v", v)
	}
	if err := pub.Publish(ctx, "com.t", nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
}

func TestSubscriberQueueBytes(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	st := newStuck()
	ts := target(t, st.ServeHTTP)
	defer close(st.release)
	set, _ := startSet(t, srv, webhook.Config{Subscribers: []webhook.SubscriberConfig{{
		Name: "big", Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: ts.URL, Timeout: time.Minute},
		QueueBytes: 10_000,
	}}})
	pub := connect(t, srv)
	ctx := routertest.Context(t)
	big := strings.Repeat("x", 4000)
	for range 6 {
		if err := pub.Publish(ctx, "com.t", []any{big}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}
	// One at the endpoint, two queued (8 KB of 10 KB), three dropped.
	waitFor(t, "the overflow counted", func() bool {
		return metric(t, set, "junction_bridge_webhook_dropped_total", "webhook", "big", "reason", "queue_full") == 3
	})
	if b := metric(t, set, "junction_bridge_webhook_queue_bytes", "webhook", "big"); b > 10_000 || b < 8000 {
		t.Fatalf("queue_bytes %v", b)
	}
}

func TestSubscriberDenied(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	ts := target(t, (&recorder{}).ServeHTTP)
	set, _ := startSet(t, srv, webhook.Config{})
	anonymous := webhook.Session{Realm: "realm1"}
	err := set.Apply(routertest.Context(t), webhook.Config{Subscribers: []webhook.SubscriberConfig{
		{Name: "private", Session: anonymous, Topic: "com.private.x", Endpoint: webhook.Endpoint{URL: ts.URL}},
		{Name: "public", Session: anonymous, Topic: "com.public.x", Endpoint: webhook.Endpoint{URL: ts.URL}},
		{Name: "pattern", Session: anonymous, Topic: "com.", Match: wamp.MatchPrefix, Endpoint: webhook.Endpoint{URL: ts.URL}},
		{Name: "badticket", Session: webhook.Session{Realm: "realm1", AuthID: "hook", Ticket: "wrong"}, Topic: "com.x", Endpoint: webhook.Endpoint{URL: ts.URL}},
		{Name: "norealm", Session: webhook.Session{Realm: "nowhere"}, Topic: "com.x", Endpoint: webhook.Endpoint{URL: ts.URL}},
	}})
	if err == nil {
		t.Fatal("Apply accepted subscriptions the realm's roles deny")
	}
	for _, want := range []string{"webhook private: wamp.error.not_authorized", "webhook pattern: wamp.error.not_authorized",
		"webhook badticket: joining realm realm1:", "webhook norealm: joining realm nowhere:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "webhook public") {
		t.Errorf("the allowed subscription failed: %v", err)
	}
	if v := metric(t, set, "junction_bridge_webhook_up", "webhook", "public"); v != 1 {
		t.Fatalf("the allowed webhook is not up: %v", v)
	}
	if v := metric(t, set, "junction_bridge_webhook_up", "webhook", "private"); v != 0 {
		t.Fatalf("the denied webhook is up: %v", v)
	}
}

// TestSubscriberRetryAfter: a Retry-After is waited for, up to backoff_max.
func TestSubscriberRetryAfter(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	var first, second atomic.Int64
	ts := target(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if first.CompareAndSwap(0, time.Now().UnixNano()) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		second.CompareAndSwap(0, time.Now().UnixNano())
	})
	hostile := &recorder{status: func(n int) int { return http.StatusServiceUnavailable }}
	th := target(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "999999999")
		hostile.ServeHTTP(w, r)
	})
	set, _ := startSet(t, srv, webhook.Config{Subscribers: []webhook.SubscriberConfig{
		{Name: "polite", Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: ts.URL},
			BackoffBase: time.Millisecond, BackoffMax: 5 * time.Second},
		{Name: "hostile", Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: th.URL},
			Retries: intp(2), BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond},
	}})
	if err := connect(t, srv).Publish(routertest.Context(t), "com.t", nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both outcomes", func() bool {
		return metric(t, set, "junction_bridge_webhook_deliveries_total", "webhook", "polite", "outcome", "delivered") == 1 &&
			metric(t, set, "junction_bridge_webhook_deliveries_total", "webhook", "hostile", "outcome", "failed") == 1
	})
	if d := time.Duration(second.Load() - first.Load()); d < time.Second {
		t.Fatalf("retried after %s, before the endpoint's Retry-After of 1s", d)
	}
}

// TestSubscriberConcurrency: with concurrency n, n deliveries are in flight
// at once, never more.
func TestSubscriberConcurrency(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	st := newStuck()
	ts := target(t, st.ServeHTTP)
	set, _ := startSet(t, srv, webhook.Config{Subscribers: []webhook.SubscriberConfig{{
		Name: "wide", Session: hookSession, Topic: "com.t", Endpoint: webhook.Endpoint{URL: ts.URL, Timeout: time.Minute},
		Concurrency: 3,
	}}})
	pub := connect(t, srv)
	for i := range 5 {
		if err := pub.Publish(routertest.Context(t), "com.t", []any{i}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "3 in flight, 2 queued", func() bool {
		return st.inflight.Load() == 3 && metric(t, set, "junction_bridge_webhook_queue_length", "webhook", "wide") == 2
	})
	close(st.release)
	waitFor(t, "5 delivered", func() bool {
		return metric(t, set, "junction_bridge_webhook_deliveries_total", "webhook", "wide", "outcome", "delivered") == 5
	})
	if n := st.served.Load(); n != 5 {
		t.Fatalf("%d served", n)
	}
}
