package router

import (
	"context"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// pushPeer is a fakePeer driven in the push model: the test hands its
// messages to the Session Attach returned; Recv must never be called.
type pushPeer struct {
	*fakePeer
	t       testing.TB
	s       transport.Session
	resumed chan struct{}
}

func (p *pushPeer) Recv() (wamp.Message, error) {
	p.t.Error("Recv called on an attached peer")
	return nil, io.EOF
}

func (p *pushPeer) Resume() { p.resumed <- struct{}{} }

var _ transport.Resumer = (*pushPeer)(nil)

// attach attaches a new push-driven peer to r.
func attach(t testing.TB, r *Router, serializer string) *pushPeer {
	t.Helper()
	p := &pushPeer{fakePeer: newFakePeer(t, serializer), t: t, resumed: make(chan struct{}, 16)}
	p.s = r.Attach(p)
	t.Cleanup(func() { p.s.Closed(io.EOF) })
	return p
}

// attachJoin attaches a peer and completes HELLO/WELCOME on realm1.
func attachJoin(t testing.TB, r *Router, serializer string) (*pushPeer, wamp.ID) {
	t.Helper()
	p := attach(t, r, serializer)
	p.s.Handle(&wamp.Hello{Realm: "realm1", Details: allRoles})
	return p, expectType[*wamp.Welcome](t, p.fakePeer).Session
}

// TestAttachCallAndEvent: attached sessions join, call, are called,
// subscribe and publish, with ServePeer sessions in the same realm.
func TestAttachCallAndEvent(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	callee, _ := attachJoin(t, r, "msgpack")
	caller, _ := attachJoin(t, r, "json")
	pulled, _ := join(t, r, "cbor")

	callee.s.Handle(&wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "com.example.add"})
	expectType[*wamp.Registered](t, callee.fakePeer)
	for i, c := range []func(wamp.Message){func(m wamp.Message) { caller.s.Handle(m) }, func(m wamp.Message) { pulled.in <- m }} {
		out := []*fakePeer{caller.fakePeer, pulled}[i]
		c(&wamp.Call{Request: 7, Options: wamp.Dict{}, Procedure: "com.example.add", Payload: wamp.Values([]any{2, 3}, nil)})
		inv := expectType[*wamp.Invocation](t, callee.fakePeer)
		callee.s.Handle(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.Values([]any{5}, nil)})
		res := expectType[*wamp.Result](t, out)
		if res.Request != 7 {
			t.Fatalf("RESULT for %d", res.Request)
		}
	}

	caller.s.Handle(&wamp.Subscribe{Request: 2, Options: wamp.Dict{}, Topic: "com.example.news"})
	sub := expectType[*wamp.Subscribed](t, caller.fakePeer).Subscription
	subscribe(t, pulled, 2, "com.example.news")
	callee.s.Handle(&wamp.Publish{Request: 3, Options: wamp.Dict{"acknowledge": true}, Topic: "com.example.news", Payload: wamp.Values([]any{"hi"}, nil)})
	expectType[*wamp.Published](t, callee.fakePeer)
	if ev := expectType[*wamp.Event](t, caller.fakePeer); ev.Subscription != sub {
		t.Fatalf("EVENT for subscription %d, want %d", ev.Subscription, sub)
	}
	expectType[*wamp.Event](t, pulled)
}

// TestAttachHelloTimeout: the HELLO timeout applies to an attached session
// that is handed nothing at all.
func TestAttachHelloTimeout(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{HelloTimeout: 20 * time.Millisecond})
	p := attach(t, r, "json")
	expectAbort(t, p.fakePeer, wamp.ErrProtocolViolation, transport.ClosePolicyViolation)
	waitFor(t, "session untracked", func() bool { return len(r.liveSessions()) == 0 })
}

// blockedRouter is a router with attached inboxes of 4 messages whose
// authorizer holds the first publication until release is closed (entered
// is closed once it holds it): the session's goroutine is then busy, and
// what the test hands the session stays in its inbox.
func blockedRouter(t *testing.T) (r *Router, entered, release chan struct{}) {
	t.Helper()
	entered, release = make(chan struct{}), make(chan struct{})
	var asked atomic.Int32
	hook := AuthorizerFunc(func(_ context.Context, req AuthzRequest) (Decision, error) {
		if req.Action == ActionPublish && asked.Add(1) == 1 {
			close(entered)
			<-release
		}
		return Decision{Allow: true, Cache: true}, nil
	})
	cfg := Config{AuthTimeout: time.Minute, Realms: []RealmConfig{{Name: "realm1", Anonymous: true, AuthorizerHook: hook}}}
	r, err := New(cfg, Options{Logger: quiet, InboxMessages: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return r, entered, release
}

// TestAttachInboxFull: while the session's goroutine is blocked (on the
// dynamic authorizer), Handle queues, and says false at the bound; the
// messages are then handled in order, none lost, and the peer is resumed.
func TestAttachInboxFull(t *testing.T) {
	t.Parallel()
	r, entered, release := blockedRouter(t)
	p, _ := attachJoin(t, r, "json")
	sub, _ := attachJoin(t, r, "json")
	sub.s.Handle(&wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "t.order"})
	expectType[*wamp.Subscribed](t, sub.fakePeer)

	publish := func(i int) bool {
		return p.s.Handle(&wamp.Publish{Request: wamp.ID(i), Options: wamp.Dict{"acknowledge": true}, Topic: "t.order", Payload: wamp.Values([]any{i}, nil)})
	}
	if !publish(1) {
		t.Fatal("Handle said full with an empty inbox")
	}
	<-entered // the session's goroutine waits for the authorizer
	for i := 2; i <= 4; i++ {
		if !publish(i) {
			t.Fatalf("Handle said full at message %d of a bound of 4", i)
		}
	}
	if publish(5) {
		t.Fatal("Handle did not say full at the bound")
	}
	select {
	case <-p.resumed:
		t.Fatal("resumed before the inbox drained")
	default:
	}
	close(release)
	for i := 1; i <= 5; i++ {
		if ack := expectType[*wamp.Published](t, p.fakePeer); ack.Request != wamp.ID(i) {
			t.Fatalf("PUBLISHED %d, want %d", ack.Request, i)
		}
		ev := expectType[*wamp.Event](t, sub.fakePeer)
		if got := args(t, &ev.Payload); len(got) != 1 || got[0] != float64(i) && got[0] != int64(i) && got[0] != uint64(i) {
			t.Fatalf("EVENT %v, want %d", got, i)
		}
	}
	select {
	case <-p.resumed:
	case <-time.After(10 * time.Second):
		t.Fatal("not resumed")
	}
}

// TestAttachIdleSessionsHoldNoGoroutine: N established, idle attached
// sessions hold no goroutine; N ServePeer sessions hold one each. Not
// parallel: it counts the process's goroutines.
func TestAttachIdleSessionsHoldNoGoroutine(t *testing.T) {
	const n = 200
	r := newTestRouter(t, Config{MaxSessionsPerAddress: -1, MaxSessions: 4 * n})
	before := runtime.NumGoroutine()
	peers := make([]*pushPeer, n)
	for i := range peers {
		peers[i], _ = attachJoin(t, r, "json")
	}
	waitFor(t, "attached sessions' goroutines to exit", func() bool { return runtime.NumGoroutine()-before < n/10 })
	// They still work: one is woken by a message and goes idle again.
	peers[n/2].s.Handle(&wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "still.here"})
	expectType[*wamp.Subscribed](t, peers[n/2].fakePeer)
	waitFor(t, "the woken session's goroutine to exit", func() bool { return runtime.NumGoroutine()-before < n/10 })
	t.Logf("%d idle attached sessions: %d more goroutines", n, runtime.NumGoroutine()-before)

	pulledBefore := runtime.NumGoroutine()
	for range n {
		join(t, r, "json")
	}
	if d := runtime.NumGoroutine() - pulledBefore; d < n*9/10 {
		t.Fatalf("%d ServePeer sessions: %d more goroutines, want about %d", n, d, n)
	}
}

// TestAttachEndsOnce: the session ends once (one on_leave, one
// SessionsLeft, untracked), whether the end comes from Closed (twice),
// from a kill, or from the client, and what was queued before Closed is
// handled first.
func TestAttachEndsOnce(t *testing.T) {
	t.Parallel()
	ends := []struct {
		name string
		end  func(t *testing.T, p *pushPeer, killer *fakePeer, id wamp.ID)
	}{
		{"Closed", func(t *testing.T, p *pushPeer, _ *fakePeer, _ wamp.ID) {
			p.s.Handle(&wamp.Publish{Request: 9, Options: wamp.Dict{"acknowledge": true}, Topic: "a.b"})
			p.s.Closed(io.EOF)
			p.s.Closed(transport.ErrClosed)
			expectType[*wamp.Published](t, p.fakePeer)
		}},
		{"protocol error", func(t *testing.T, p *pushPeer, _ *fakePeer, _ wamp.ID) {
			p.s.Closed(&transport.ProtocolError{Code: transport.CloseMessageTooBig, Err: io.ErrShortBuffer})
			expectAbort(t, p.fakePeer, wamp.ErrProtocolViolation, transport.CloseMessageTooBig)
			p.s.Closed(io.EOF)
		}},
		{"kill", func(t *testing.T, p *pushPeer, killer *fakePeer, id wamp.ID) {
			killer.in <- &wamp.Call{Request: 5, Options: wamp.Dict{}, Procedure: "wamp.session.kill", Payload: wamp.Values([]any{uint64(id)}, nil)}
			expectType[*wamp.Goodbye](t, p.fakePeer)
			<-p.Done()
			p.s.Closed(transport.ErrClosed)
		}},
		{"GOODBYE", func(t *testing.T, p *pushPeer, _ *fakePeer, _ wamp.ID) {
			p.s.Handle(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal})
			expectType[*wamp.Goodbye](t, p.fakePeer)
			<-p.Done()
			p.s.Closed(io.EOF)
		}},
	}
	for _, tt := range ends {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newTestRouter(t, Config{Realms: adminRealm})
			watcher, _ := join(t, r, "json")
			subscribe(t, watcher, 1, "wamp.session.on_leave")
			p, id := attachJoin(t, r, "json")
			tt.end(t, p, watcher, id)
			ev := nextEventMsg(t, watcher)
			if got := args(t, &ev.Payload); len(got) == 0 || got[0] != float64(id) && got[0] != uint64(id) && got[0] != int64(id) {
				t.Fatalf("on_leave %v, want session %d", got, id)
			}
			waitFor(t, "session untracked", func() bool { return len(r.liveSessions()) == 1 })
			<-p.Done()
			p.s.Closed(io.EOF)
			// A round trip on the watcher: a second on_leave would come before its answer.
			watcher.in <- &wamp.Subscribe{Request: 2, Options: wamp.Dict{}, Topic: "still.here"}
			for done := false; !done; {
				switch m := watcher.expect(t).(type) {
				case *wamp.Subscribed:
					done = true
				case *wamp.Result: // the kill's
				default:
					t.Fatalf("unexpected %v after the session left", m)
				}
			}
			if n := r.Stats().SessionsLeft.Load(); n != 1 {
				t.Fatalf("SessionsLeft %d, want 1", n)
			}
		})
	}
}

// nextEventMsg skips RESULTs to the next EVENT.
func nextEventMsg(t *testing.T, p *fakePeer) *wamp.Event {
	t.Helper()
	for {
		switch m := p.expect(t).(type) {
		case *wamp.Event:
			return m
		case *wamp.Result:
		default:
			t.Fatalf("unexpected %v", m)
		}
	}
}

// TestAttachShutdown: Shutdown ends idle attached sessions (GOODBYE,
// going away) and waits for them; an Attach after it is refused.
func TestAttachShutdown(t *testing.T) {
	t.Parallel()
	r, err := New(Config{Realms: []RealmConfig{{Name: "realm1", Anonymous: true}}}, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := attachJoin(t, r, "json")
	b, _ := attachJoin(t, r, "cbor")
	pending := attach(t, r, "json") // no HELLO yet
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*pushPeer{a, b} {
		if g := expectType[*wamp.Goodbye](t, p.fakePeer); g.Reason != wamp.CloseSystemShutdown {
			t.Fatalf("GOODBYE %s", g.Reason)
		}
		if p.code() != transport.CloseGoingAway {
			t.Fatalf("close code %d", p.code())
		}
	}
	<-pending.Done()
	if n := r.Stats().SessionsLeft.Load(); n != 2 {
		t.Fatalf("SessionsLeft %d, want 2", n)
	}
	late := attach(t, r, "json")
	late.s.Handle(&wamp.Hello{Realm: "realm1", Details: allRoles})
	expectAbort(t, late.fakePeer, wamp.CloseSystemShutdown, transport.CloseGoingAway)
}

// TestAttachAuthenticate: CHALLENGE and AUTHENTICATE through Handle, and
// the AUTHENTICATE timeout with no input after the CHALLENGE.
func TestAttachAuthenticate(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{AuthTimeout: 50 * time.Millisecond, Realms: []RealmConfig{{Name: "realm1", AuthMethods: []AuthMethod{AuthTicket},
		Principals: []Principal{{AuthID: "u", Role: "user", Ticket: "right"}}}}})
	hello := &wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": allRoles["roles"], "authmethods": []any{"ticket"}, "authid": "u"}}

	p := attach(t, r, "json")
	p.s.Handle(hello)
	if c := expectType[*wamp.Challenge](t, p.fakePeer); c.AuthMethod != string(AuthTicket) {
		t.Fatalf("CHALLENGE %s", c.AuthMethod)
	}
	p.s.Handle(&wamp.Authenticate{Signature: "right", Extra: wamp.Dict{}})
	if w := expectType[*wamp.Welcome](t, p.fakePeer); w.Details.String("authid") != "u" {
		t.Fatalf("WELCOME %v", w.Details)
	}

	silent := attach(t, r, "json")
	silent.s.Handle(hello)
	expectType[*wamp.Challenge](t, silent.fakePeer)
	expectAbort(t, silent.fakePeer, wamp.ErrAuthenticationFailed, transport.ClosePolicyViolation)
}

// TestAttachInboxOverflow: a transport that goes on calling Handle after it
// said the inbox is full is held to twice the bound: the session ends with
// ABORT protocol_violation and ClosePolicyViolation, the messages queued
// before are handled, and the router holds no more of them.
func TestAttachInboxOverflow(t *testing.T) {
	t.Parallel()
	r, entered, release := blockedRouter(t)
	p, _ := attachJoin(t, r, "json")
	publish := func(i int) bool {
		return p.s.Handle(&wamp.Publish{Request: wamp.ID(i), Options: wamp.Dict{"acknowledge": true}, Topic: "t", Payload: wamp.Values([]any{i}, nil)})
	}
	publish(1)
	<-entered // the session's goroutine waits for the authorizer
	for i := 2; i <= 100; i++ {
		publish(i) // a transport ignoring "full"
	}
	close(release)
	acks := 0
	for {
		m := p.expect(t)
		if _, ok := m.(*wamp.Published); ok {
			acks++
			continue
		}
		a, ok := m.(*wamp.Abort)
		if !ok || a.Reason != wamp.ErrProtocolViolation {
			t.Fatalf("got %s %+v, want PUBLISHED or ABORT protocol_violation", m.MessageType(), m)
		}
		break
	}
	// 1 was taken before the flood; 8 (twice the bound) were queued.
	if acks != 9 {
		t.Errorf("%d publications acknowledged before the end, want 9", acks)
	}
	waitFor(t, "the close", func() bool { return p.code() == transport.ClosePolicyViolation })
}
