package router

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestRouter(t testing.TB, cfg Config) *Router {
	t.Helper()
	if cfg.Realms == nil {
		cfg.Realms = []RealmConfig{{Name: "realm1", Anonymous: true}}
	}
	r, err := New(cfg, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return r
}

var allRoles = wamp.Dict{"roles": wamp.Dict{
	"caller": wamp.Dict{}, "callee": wamp.Dict{}, "publisher": wamp.Dict{}, "subscriber": wamp.Dict{},
}}

// serve starts a session for a new fake peer and returns the peer.
func serve(t testing.TB, r *Router, serializer string) *fakePeer {
	t.Helper()
	p := newFakePeer(t, serializer)
	done := make(chan struct{})
	go func() { r.ServePeer(p); close(done) }()
	t.Cleanup(func() { p.Close(transport.CloseNormal, "test over"); <-done })
	return p
}

// join serves a new peer and completes HELLO/WELCOME on realm1.
func join(t testing.TB, r *Router, serializer string) (*fakePeer, wamp.ID) {
	t.Helper()
	p := serve(t, r, serializer)
	p.in <- &wamp.Hello{Realm: "realm1", Details: allRoles}
	w, ok := p.expect(t).(*wamp.Welcome)
	if !ok {
		t.Fatalf("expected WELCOME")
	}
	return p, w.Session
}

func expectType[M wamp.Message](t testing.TB, p *fakePeer) M {
	t.Helper()
	m := p.expect(t)
	out, ok := m.(M)
	if !ok {
		t.Fatalf("got %s %+v, want %T", m.MessageType(), m, out)
	}
	return out
}

func expectError(t testing.TB, p *fakePeer, reqType wamp.MessageType, req wamp.ID, uri wamp.URI) *wamp.Error {
	t.Helper()
	e := expectType[*wamp.Error](t, p)
	if e.Type != reqType || e.Request != req || e.Error != uri {
		t.Fatalf("got ERROR %s %d %s, want %s %d %s", e.Type, e.Request, e.Error, reqType, req, uri)
	}
	return e
}

func expectAbort(t testing.TB, p *fakePeer, reason wamp.URI, code transport.CloseCode) {
	t.Helper()
	a := expectType[*wamp.Abort](t, p)
	if a.Reason != reason {
		t.Fatalf("ABORT %s (%v), want %s", a.Reason, a.Details, reason)
	}
	if a.Details.String("message") == "" {
		t.Errorf("ABORT %s carries no message for people", a.Reason)
	}
	<-p.Done()
	if got := p.code(); got != code {
		t.Fatalf("close code %d, want %d", got, code)
	}
}

func args(t testing.TB, p *wamp.Payload) []any {
	t.Helper()
	a, _, err := serializers.DecodePayload(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestHandshakeRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		first  wamp.Message
		reason wamp.URI
		code   transport.CloseCode
	}{
		{"unknown realm", &wamp.Hello{Realm: "nope", Details: allRoles}, wamp.ErrNoSuchRealm, transport.CloseNormal},
		{"invalid realm uri", &wamp.Hello{Realm: "a b", Details: allRoles}, wamp.ErrInvalidURI, transport.CloseNormal},
		{"no roles", &wamp.Hello{Realm: "realm1", Details: wamp.Dict{}}, wamp.ErrProtocolViolation, transport.CloseProtocolError},
		{"unknown role", &wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": wamp.Dict{"dealer": wamp.Dict{}}}}, wamp.ErrProtocolViolation, transport.CloseProtocolError},
		{"auth method not enabled", &wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": allRoles["roles"], "authmethods": []any{"ticket"}}}, wamp.ErrNoAuthMethod, transport.CloseNormal},
		{"not HELLO first", &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "x"}, wamp.ErrProtocolViolation, transport.CloseProtocolError},
		{"WELCOME from client", &wamp.Welcome{Session: 1, Details: wamp.Dict{}}, wamp.ErrProtocolViolation, transport.CloseProtocolError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRouter(t, Config{})
			p := serve(t, r, "json")
			p.in <- tt.first
			expectAbort(t, p, tt.reason, tt.code)
		})
	}
}

func TestWelcome(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	p := serve(t, r, "msgpack")
	p.in <- &wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": allRoles["roles"], "authmethods": []any{"anonymous"}, "authid": "alice"}}
	w := expectType[*wamp.Welcome](t, p)
	if !w.Session.Valid() {
		t.Fatalf("session id %d", w.Session)
	}
	roles := w.Details.Dict("roles")
	if roles.Dict("broker") == nil || roles.Dict("dealer") == nil {
		t.Fatalf("roles %v", roles)
	}
	if got := roles.Dict("broker").Dict("features"); !got.Bool("publisher_exclusion", false) {
		t.Errorf("broker features %v", got)
	}
	if got := w.Details.String("authid"); got == "alice" || got == "" {
		t.Errorf("anonymous session got authid %q: it may not choose one", got)
	}
	for key, want := range map[string]string{"authrole": "anonymous", "authmethod": "anonymous", "realm": "realm1"} {
		if got := w.Details.String(key); got != want {
			t.Errorf("WELCOME %s = %q, want %q", key, got, want)
		}
	}
}

func TestAutoCreateRealm(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{AutoCreateRealms: true})
	p := serve(t, r, "json")
	p.in <- &wamp.Hello{Realm: "brand.new", Details: allRoles}
	expectType[*wamp.Welcome](t, p)
}

func TestHelloTimeout(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{HelloTimeout: 20 * time.Millisecond})
	p := serve(t, r, "json")
	expectAbort(t, p, wamp.ErrProtocolViolation, transport.ClosePolicyViolation)
}

// TestGoodbye: the router answers GOODBYE once the session has left, so a
// client that reads the answer and reconnects at once can register the same
// procedures again (many here, so that leaving takes a while).
func TestGoodbye(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	p, _ := join(t, r, "json")
	const n = 500
	for i := 1; i <= n; i++ {
		p.in <- &wamp.Register{Request: wamp.ID(i), Options: wamp.Dict{}, Procedure: wamp.URI(fmt.Sprintf("com.example.p%d", i))}
		p.in <- &wamp.Subscribe{Request: wamp.ID(n + i), Options: wamp.Dict{}, Topic: wamp.URI(fmt.Sprintf("com.example.t%d", i))}
		expectType[*wamp.Registered](t, p)
		expectType[*wamp.Subscribed](t, p)
	}
	p.in <- &wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal}
	g := expectType[*wamp.Goodbye](t, p)
	if g.Reason != wamp.CloseGoodbyeAndOut {
		t.Fatalf("GOODBYE reason %s", g.Reason)
	}
	rm := r.realm("realm1")
	if rm.SessionCount() != 0 || rm.Dealer.Count() != 0 || rm.Broker.Count() != 0 {
		t.Fatalf("GOODBYE answered before the session left: %d sessions, %d registrations, %d subscriptions",
			rm.SessionCount(), rm.Dealer.Count(), rm.Broker.Count())
	}
	<-p.Done()
	if p.code() != transport.CloseNormal {
		t.Fatalf("close code %d", p.code())
	}
}

func TestProtocolViolations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  wamp.Message
	}{
		{"second HELLO", &wamp.Hello{Realm: "realm1", Details: allRoles}},
		{"router message", &wamp.Event{Subscription: 1, Publication: 1, Details: wamp.Dict{}}},
		{"request id 0", &wamp.Call{Request: 0, Options: wamp.Dict{}, Procedure: "a.b"}},
		{"ERROR for CALL", &wamp.Error{Type: wamp.CALL, Request: 1, Details: wamp.Dict{}, Error: "x.y"}},
		{"AUTHENTICATE", &wamp.Authenticate{Signature: "x", Extra: wamp.Dict{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRouter(t, Config{})
			p, _ := join(t, r, "json")
			other, _ := join(t, r, "json")
			p.in <- tt.msg
			expectAbort(t, p, wamp.ErrProtocolViolation, transport.CloseProtocolError)
			// The other session is unaffected.
			other.in <- &wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "still.here"}
			expectType[*wamp.Subscribed](t, other)
		})
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	r, err := New(Config{Realms: []RealmConfig{{Name: "realm1", Anonymous: true}}}, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := join(t, r, "cbor")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	g := expectType[*wamp.Goodbye](t, p)
	if g.Reason != wamp.CloseSystemShutdown {
		t.Fatalf("GOODBYE %s", g.Reason)
	}
	if p.code() != transport.CloseGoingAway {
		t.Fatalf("close code %d", p.code())
	}
	if r.Serving() {
		t.Fatal("still serving after shutdown")
	}
	late := newFakePeer(t, "json")
	go r.ServePeer(late)
	late.in <- &wamp.Hello{Realm: "realm1", Details: allRoles}
	expectAbort(t, late, wamp.CloseSystemShutdown, transport.CloseGoingAway)
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestInternalErrorEndsOnlyThatSession: a panic while handling a message
// closes that session with 1011 and cleans it up; the router goes on. The
// panic is injected where the router sends the PUBLISHED of an acknowledged
// PUBLISH: inside the handling of that message, on the session's goroutine.
func TestInternalErrorEndsOnlyThatSession(t *testing.T) {
	r := newTestRouter(t, Config{})
	p, _ := join(t, r, "json")
	other, _ := join(t, r, "json")
	register(t, p, 1, "com.example.p")
	boom := func(m wamp.Message) {
		if _, ok := m.(*wamp.Published); ok {
			panic("injected by the test")
		}
	}
	p.onSend.Store(&boom)
	p.in <- &wamp.Publish{Request: 2, Options: wamp.Dict{"acknowledge": true}, Topic: "boom"}
	expectAbort(t, p, "wamp.error.internal_error", transport.CloseInternalError)
	waitFor(t, "cleanup", func() bool { return r.realm("realm1").Dealer.Count() == 0 })
	if r.Stats().InternalErrors.Load() != 1 {
		t.Fatal("internal error not counted")
	}
	subscribe(t, other, 1, "still.fine")
}
