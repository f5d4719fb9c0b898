package router

import (
	"strings"
	"testing"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// joinFrom serves a new peer from addr and completes HELLO/WELCOME on realm1.
func joinFrom(t *testing.T, r *Router, addr string) *fakePeer {
	t.Helper()
	p := newFakePeer(t, "json")
	p.info.RemoteAddr = addr
	done := make(chan struct{})
	go func() { r.ServePeer(p); close(done) }()
	t.Cleanup(func() { p.Close(transport.CloseNormal, "test over"); <-done })
	p.in <- &wamp.Hello{Realm: "realm1", Details: allRoles}
	expectType[*wamp.Welcome](t, p)
	return p
}

// addressHeld is what the sessions of ip hold together, by the router's
// count: subscriptions, registrations, calls, testament bytes.
func addressHeld(r *Router, ip string) [4]int64 {
	r.sessionsMu.Lock()
	defer r.sessionsMu.Unlock()
	b := r.perAddress[ip]
	if b == nil {
		return [4]int64{}
	}
	return [4]int64{b.subscriptions.Load(), b.registrations.Load(), b.calls.Load(), b.testamentBytes.Load()}
}

// expectLimit reads the ERROR of request req and checks it names key.
func expectLimit(t *testing.T, p *fakePeer, reqType wamp.MessageType, req wamp.ID, key string) {
	t.Helper()
	e := expectError(t, p, reqType, req, ErrLimitExceeded)
	if msg := args(t, &e.Payload); !strings.Contains(msg[0].(string), key) {
		t.Fatalf("ERROR %q does not name %s", msg[0], key)
	}
}

// TestAddressBudgets: the sessions of one address share bounds on
// subscriptions, registrations, calls in flight and testament bytes, so
// that opening more sessions does not multiply the per-session bounds;
// another address is not affected; what a session held is given back when
// it gives it up or leaves.
func TestAddressBudgets(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{MaxSubscriptionsPerAddress: 3, MaxRegistrationsPerAddress: 2,
		MaxCallsPerAddress: 2, MaxTestamentBytesPerAddress: 100})
	const ip = "192.0.2.7"
	a, b := joinFrom(t, r, ip+":1"), joinFrom(t, r, ip+":2")
	other := joinFrom(t, r, "198.51.100.9:1")

	subA := subscribe(t, a, 1, "t.1")
	subscribe(t, a, 2, "t.2")
	subscribe(t, b, 3, "t.3")
	b.in <- &wamp.Subscribe{Request: 4, Options: wamp.Dict{}, Topic: "t.4"}
	expectLimit(t, b, wamp.SUBSCRIBE, 4, "router.max_subscriptions_per_address")
	b.in <- &wamp.Subscribe{Request: 5, Options: wamp.Dict{"match": "prefix"}, Topic: "t"}
	expectLimit(t, b, wamp.SUBSCRIBE, 5, "router.max_subscriptions_per_address") // patterns count alike
	subscribe(t, other, 6, "t.4")                                                // another address
	a.in <- &wamp.Unsubscribe{Request: 7, Subscription: subA}
	expectType[*wamp.Unsubscribed](t, a)
	subscribe(t, b, 8, "t.4") // given back

	register(t, a, 10, "p.1")
	register(t, b, 11, "p.2")
	b.in <- &wamp.Register{Request: 12, Options: wamp.Dict{}, Procedure: "p.3"}
	expectLimit(t, b, wamp.REGISTER, 12, "router.max_registrations_per_address")
	register(t, other, 13, "slow")

	a.in <- &wamp.Call{Request: 20, Options: wamp.Dict{}, Procedure: "slow"}
	inv1 := expectType[*wamp.Invocation](t, other)
	b.in <- &wamp.Call{Request: 21, Options: wamp.Dict{}, Procedure: "slow"}
	expectType[*wamp.Invocation](t, other)
	a.in <- &wamp.Call{Request: 22, Options: wamp.Dict{}, Procedure: "slow"}
	expectLimit(t, a, wamp.CALL, 22, "router.max_calls_per_address")
	other.in <- &wamp.Yield{Request: inv1.Request, Options: wamp.Dict{}}
	expectType[*wamp.Result](t, a)
	a.in <- &wamp.Call{Request: 23, Options: wamp.Dict{}, Procedure: "slow"} // given back
	expectType[*wamp.Invocation](t, other)

	add := func(p *fakePeer, req wamp.ID, size int) wamp.URI {
		_, uri := metaCall(t, p, req, "wamp.session.add_testament", []any{"com.gone", []any{strings.Repeat("x", size)}}, nil)
		return uri
	}
	if uri := add(a, 30, 50); uri != "" {
		t.Fatal(uri)
	}
	if uri := add(b, 31, 60); uri != ErrLimitExceeded {
		t.Fatalf("testaments of 110 bytes from one address with a bound of 100: %q", uri)
	}
	if got := r.stats.LimitsReached(); got["router.max_testament_bytes_per_address"] != 1 || got["router.max_subscriptions_per_address"] != 2 {
		t.Fatalf("limits reached %v", got)
	}

	// 3 subscriptions, 2 registrations, 2 calls, and a's testament (its
	// encoded arguments: 50 bytes and a little more).
	if got := addressHeld(r, ip); got[0] != 3 || got[1] != 2 || got[2] != 2 || got[3] < 50 || got[3] > 100 {
		t.Fatalf("address holds %v, want [3 2 2 50..100]", got)
	}
	// a leaves: its subscription, registration, call and testament are
	// given back; b's remain.
	a.Close(transport.CloseNormal, "done")
	waitFor(t, "a's leave", func() bool { return addressHeld(r, ip) == [4]int64{2, 1, 1, 0} })
	b.Close(transport.CloseNormal, "done")
	waitFor(t, "the address's budget to go", func() bool {
		r.sessionsMu.Lock()
		defer r.sessionsMu.Unlock()
		return r.perAddress[ip] == nil
	})
}
