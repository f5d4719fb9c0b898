package bridge_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/bridge"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/wamp"
)

const addBody = `{"procedure": "com.example.add", "args": [1, 2]}`

// TestTicketAuth checks bearer tickets: a principal's, a wrong one, an
// expired one, none, and another scheme.
func TestTicketAuth(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	want(t, f.post(t, "/call", bearer(aliceTicket), addBody), http.StatusOK, "")
	for name, h := range map[string]http.Header{
		"wrong":   bearer("not-a-ticket"),
		"expired": bearer("expired-ticket-0123456789"),
		"prefix":  bearer(aliceTicket[:len(aliceTicket)-1]),
		"none":    nil,
		"basic":   {"Authorization": {"Basic YWxpY2U6eA=="}},
	} {
		r := f.post(t, "/call", h, addBody)
		want(t, r, http.StatusUnauthorized, string(wamp.ErrAuthenticationFailed))
		if got := r.header.Values("WWW-Authenticate"); len(got) != 2 || !strings.HasPrefix(got[0], "Bearer ") {
			t.Errorf("%s: WWW-Authenticate %q", name, got)
		}
	}
}

// TestAnonymous checks that anonymous requests go through only where the
// endpoint allows them, and that a ticket is refused where only
// anonymous is.
func TestAnonymous(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	want(t, f.post(t, "/open", nil, addBody), http.StatusOK, "")
	want(t, f.post(t, "/call", nil, addBody), http.StatusUnauthorized, string(wamp.ErrAuthenticationFailed))
	want(t, f.post(t, "/publish", nil, `{"topic": "com.example.news"}`), http.StatusUnauthorized, string(wamp.ErrAuthenticationFailed))
	want(t, f.post(t, "/open", bearer(aliceTicket), addBody), http.StatusUnauthorized, string(wamp.ErrAuthenticationFailed))
	// The anonymous role's rules hold.
	want(t, f.post(t, "/open", nil, `{"procedure": "com.example.echo"}`), http.StatusForbidden, string(wamp.ErrNotAuthorized))
}

// TestSignedAuth checks signed requests: a good one, then a replay, a
// replay with the digits of seq and nonce shifted, a wrong signature, a
// changed body, stale and future timestamps, an unknown key, a key of
// another realm, and malformed parameters.
func TestSignedAuth(t *testing.T) {
	t.Parallel()
	bc := bridgeConfig()
	bc.TimestampWindow = 30 * time.Second
	f := start(t, bc)
	now := time.Now()
	path := signedPath("/call", keyName, keySecret, now, 123, addBody)
	want(t, f.post(t, path, nil, addBody), http.StatusOK, "")
	r := f.post(t, path, nil, addBody)
	want(t, r, http.StatusUnauthorized, string(wamp.ErrAuthenticationFailed))
	if !strings.Contains(r.raw, "used already") {
		t.Errorf("replay: %s", r.raw)
	}
	// seq "1" nonce "123" and seq "11" nonce "23" sign the same bytes.
	u, _ := url.Parse(path)
	q := u.Query()
	q.Set("seq", "11")
	q.Set("nonce", "23")
	want(t, f.post(t, "/call?"+q.Encode(), nil, addBody), http.StatusUnauthorized, string(wamp.ErrAuthenticationFailed))

	bad := map[string]string{
		"wrong secret":  signedPath("/call", keyName, "another-secret-0123456789", now, 1, addBody),
		"other body":    signedPath("/call", keyName, keySecret, now, 2, `{"procedure": "com.example.add", "args": [1, 3]}`),
		"stale":         signedPath("/call", keyName, keySecret, now.Add(-time.Minute), 3, addBody),
		"future":        signedPath("/call", keyName, keySecret, now.Add(time.Minute), 4, addBody),
		"unknown key":   signedPath("/call", "nobody", keySecret, now, 5, addBody),
		"no parameters": "/call?signature=x",
	}
	for name, p := range bad {
		r := f.post(t, p, nil, addBody)
		if r.code != http.StatusUnauthorized {
			t.Errorf("%s: got %d %s, want 401", name, r.code, r.raw)
		}
	}
	for _, mangle := range []func(url.Values){
		func(q url.Values) { q.Set("nonce", "-1") },
		func(q url.Values) { q.Add("nonce", "7") },
		func(q url.Values) { q.Set("timestamp", "yesterday") },
		func(q url.Values) { q.Set("signature", "!!") },
		func(q url.Values) { q.Set("key", strings.Repeat("k", 200)) },
	} {
		u, _ := url.Parse(signedPath("/call", keyName, keySecret, now, 9, addBody))
		q := u.Query()
		mangle(q)
		if r := f.post(t, "/call?"+q.Encode(), nil, addBody); r.code != http.StatusUnauthorized {
			t.Errorf("%v: got %d %s, want 401", q, r.code, r.raw)
		}
	}
}

// TestSignedKeyRealm checks that a key acts only on its own realm.
func TestSignedKeyRealm(t *testing.T) {
	t.Parallel()
	bc := bridgeConfig()
	bc.Keys = append(bc.Keys, bridge.Key{Key: "elsewhere", Secret: keySecret, Realm: "realm2", AuthID: "x", Role: "client"})
	bc.AutoCreateRealms = false
	_, err := bridge.New(bc, bridge.Options{Handler: nopHandler{}})
	if err == nil || !strings.Contains(err.Error(), `realm "realm2"`) {
		t.Fatalf("a key of an unknown realm: %v", err)
	}
}

// TestReplayMemoryBounded checks that when the replay memory is full of
// unexpired signatures a signed request is answered 503, not accepted by
// forgetting one.
func TestReplayMemoryBounded(t *testing.T) {
	t.Parallel()
	bc := bridgeConfig()
	bc.MaxNonces = 2
	f := start(t, bc)
	now := time.Now()
	for i := range 2 {
		want(t, f.post(t, signedPath("/call", keyName, keySecret, now, i, addBody), nil, addBody), http.StatusOK, "")
	}
	r := f.post(t, signedPath("/call", keyName, keySecret, now, 2, addBody), nil, addBody)
	want(t, r, http.StatusServiceUnavailable, string(wamp.ErrUnavailable))
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// Tickets do not use the memory.
	want(t, f.post(t, "/call", bearer(aliceTicket), addBody), http.StatusOK, "")
}

// TestPublisher checks an acknowledged publication: its id in the answer,
// the event at a subscriber with the publisher's identity, and the role
// rules.
func TestPublisher(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	events := make(chan *clientlib.Event, 1)
	if _, err := f.callee.Subscribe(ctx, "com.example.news", func(ev *clientlib.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	body := `{"topic": "com.example.news", "args": ["hello"], "kwargs": {"n": 1}, "options": {"disclose_me": true}}`
	r := f.post(t, "/publish", bearer(aliceTicket), body)
	want(t, r, http.StatusOK, "")
	id, _ := r.body["id"].(float64)
	if id <= 0 {
		t.Fatalf("no publication id: %s", r.raw)
	}
	select {
	case ev := <-events:
		if len(ev.Args) != 1 || ev.Args[0] != "hello" || ev.Details.String("publisher_authid") != "alice" || uint64(ev.Publication) != uint64(id) {
			t.Errorf("event %+v, details %v", ev, ev.Details)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
	want(t, f.post(t, "/publish", bearer(aliceTicket), `{"topic": "com.example.other"}`), http.StatusForbidden, string(wamp.ErrNotAuthorized))
	want(t, f.post(t, "/publish", bearer(aliceTicket), `{"topic": "com.example.news", "options": {"timeout": 5}}`), http.StatusBadRequest, string(wamp.ErrInvalidArgument))
	want(t, f.post(t, "/publish", bearer(aliceTicket), `{"procedure": "com.example.news"}`), http.StatusBadRequest, string(wamp.ErrInvalidArgument))
	p := signedPath("/publish", keyName, keySecret, time.Now(), 1, body)
	want(t, f.post(t, p, nil, body), http.StatusOK, "")
}

// TestAuthFailureLimit checks that wrong tickets and signatures count
// against the router's auth_failures_per_minute for the client's address:
// past it even a right ticket is answered 429, and anonymous requests,
// which guess nothing, still go through.
func TestAuthFailureLimit(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig(), func(c *server.Config) { c.Router.AuthFailureLimit = 3 })
	want(t, f.post(t, "/call", bearer("wrong-1"), addBody), http.StatusUnauthorized, string(wamp.ErrAuthenticationFailed))
	want(t, f.post(t, "/call", bearer("wrong-2"), addBody), http.StatusUnauthorized, string(wamp.ErrAuthenticationFailed))
	bad := signedPath("/call", keyName, "wrong-secret-0123456789", time.Now(), 1, addBody)
	want(t, f.post(t, bad, nil, addBody), http.StatusUnauthorized, string(wamp.ErrAuthenticationFailed))
	r := f.post(t, "/call", bearer(aliceTicket), addBody)
	want(t, r, http.StatusTooManyRequests, string(wamp.ErrAuthenticationFailed))
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	good := signedPath("/call", keyName, keySecret, time.Now(), 2, addBody)
	want(t, f.post(t, good, nil, addBody), http.StatusTooManyRequests, string(wamp.ErrAuthenticationFailed))
	want(t, f.post(t, "/open", nil, addBody), http.StatusOK, "")
}
