package router

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// TestPatternAuthorization: a pattern is allowed only if the rules grant
// every URI it can match.
func TestPatternAuthorization(t *testing.T) {
	t.Parallel()
	p, err := compilePermissions(RoleConfig{Name: "r", Permissions: []Permission{
		{URI: "app.status", Subscribe: true, Register: true},
		{URI: "app.fn", Register: true},
		{URI: "pub.", Match: "prefix", Subscribe: true},
		{URI: "pub.secret", Match: "prefix", Subscribe: false},
		{URI: "pub.hidden", Subscribe: false},
		{URI: "open", Match: "prefix", Subscribe: true},
		{URI: "open.x.admin", Subscribe: false},
		{URI: "dev..telemetry", Match: "wildcard", Subscribe: true},
		{URI: "dev.17.telemetry", Subscribe: false},
		{URI: "any..x", Match: "wildcard", Subscribe: true},
		{URI: "any.b.", Match: "prefix", Subscribe: false},
	}}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		match, uri string
		a          Action
		want       bool
	}{
		{"exact", "app.status", ActionSubscribe, true},
		{"prefix", "app.status", ActionSubscribe, false}, // would get app.status.payroll
		{"wildcard", "app.", ActionSubscribe, false},
		{"prefix", "app.fn", ActionRegister, false}, // would get app.fn.admin.reset
		{"exact", "app.fn", ActionRegister, true},
		{"prefix", "pub.news", ActionSubscribe, true},
		{"prefix", "pub.", ActionSubscribe, false},         // covers pub.secret and pub.hidden
		{"prefix", "pub.secret.x", ActionSubscribe, false}, // governed by the deny
		{"wildcard", "pub..x", ActionSubscribe, false},     // meets pub.secret.x
		{"wildcard", "pub.news.", ActionSubscribe, true},
		{"prefix", "open", ActionSubscribe, false}, // covers open.x.admin
		{"prefix", "open.y", ActionSubscribe, true},
		{"wildcard", "open..admin", ActionSubscribe, false},
		{"wildcard", "dev..telemetry", ActionSubscribe, false}, // meets dev.17.telemetry
		{"wildcard", "dev.18.telemetry", ActionSubscribe, true},
		{"exact", "dev.18.telemetry", ActionSubscribe, true},
		{"wildcard", "any..x", ActionSubscribe, false}, // meets the prefix deny any.b.
		{"wildcard", "any.c.x", ActionSubscribe, true},
		{"prefix", "nothing", ActionSubscribe, false},
		{"wildcard", "..", ActionSubscribe, false},
	} {
		got, _ := p.allowsPattern(tt.a, wamp.MatchPolicy(tt.match), wamp.URI(tt.uri))
		if got != tt.want {
			t.Errorf("%s %s %q: allowed %v, want %v", tt.a, tt.match, tt.uri, got, tt.want)
		}
	}
}

// TestPatternSubscribeBeyondGrant: over the wire, a prefix or wildcard
// SUBSCRIBE or REGISTER beyond an exact grant is refused.
func TestPatternSubscribeBeyondGrant(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{Realms: []RealmConfig{{Name: "realm1", Anonymous: true, Roles: []RoleConfig{{Name: "anonymous",
		Permissions: []Permission{{URI: "app.status", Subscribe: true}, {URI: "app.fn", Register: true}}}}}}})
	p, _ := join(t, r, "json")
	p.in <- &wamp.Subscribe{Request: 1, Options: wamp.Dict{"match": "prefix"}, Topic: "app.status"}
	expectError(t, p, wamp.SUBSCRIBE, 1, wamp.ErrNotAuthorized)
	p.in <- &wamp.Register{Request: 2, Options: wamp.Dict{"match": "prefix"}, Procedure: "app.fn"}
	expectError(t, p, wamp.REGISTER, 2, wamp.ErrNotAuthorized)
	p.in <- &wamp.Register{Request: 3, Options: wamp.Dict{"match": "wildcard"}, Procedure: "app."}
	expectError(t, p, wamp.REGISTER, 3, wamp.ErrNotAuthorized)
	subscribe(t, p, 4, "app.status")
	register(t, p, 5, "app.fn")
}

// TestReservedURIs: wamp.* (and junction.cluster.*) belong to the router.
func TestReservedURIs(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	watcher, _ := join(t, r, "json")
	subscribe(t, watcher, 1, "wamp.session.on_join")
	p, _ := join(t, r, "json")
	if got := nextEvent(t, watcher); len(got) == 0 {
		t.Fatal("no on_join")
	}
	p.in <- &wamp.Publish{Request: 1, Options: wamp.Dict{"acknowledge": true}, Topic: "wamp.session.on_join",
		Payload: wamp.Values([]any{map[string]any{"authid": "ceo", "authrole": "admin"}}, nil)}
	expectError(t, p, wamp.PUBLISH, 1, wamp.ErrInvalidURI)
	// junction.cluster.on_rejoin tells sessions they may have missed
	// events: a client cannot forge it, by PUBLISH or by testament.
	p.in <- &wamp.Publish{Request: 2, Options: wamp.Dict{"acknowledge": true}, Topic: "junction.cluster.on_rejoin",
		Payload: wamp.Values([]any{map[string]any{"node": "forged"}}, nil)}
	expectError(t, p, wamp.PUBLISH, 2, wamp.ErrInvalidURI)
	p.in <- &wamp.Call{Request: 3, Options: wamp.Dict{}, Procedure: "wamp.session.add_testament",
		Payload: wamp.Values([]any{"junction.cluster.on_rejoin", []any{}, map[string]any{}}, nil)}
	expectError(t, p, wamp.CALL, 3, wamp.ErrInvalidURI)
	for i, reg := range []*wamp.Register{
		{Options: wamp.Dict{}, Procedure: "wamp.session.kill_all"},
		{Options: wamp.Dict{"match": "prefix"}, Procedure: "wamp"},
		{Options: wamp.Dict{"match": "wildcard"}, Procedure: "wamp..kill"},
	} {
		reg.Request = wamp.ID(10 + i)
		p.in <- reg
		expectError(t, p, wamp.REGISTER, reg.Request, wamp.ErrInvalidURI)
	}
	// A client's wildcard that would match a wamp.* URI is never called for it.
	p.in <- &wamp.Register{Request: 20, Options: wamp.Dict{"match": "wildcard"}, Procedure: ".session.whoami"}
	expectType[*wamp.Registered](t, p)
	caller, _ := join(t, r, "json")
	caller.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "wamp.session.whoami"}
	expectError(t, caller, wamp.CALL, 1, wamp.ErrNoSuchProcedure)
	// The forged on_join never reached the watcher: the next event it gets is
	// the caller's real join, then the marker below.
	if got := nextEvent(t, watcher); wamp.AsDict(got[0]).String("authid") == "ceo" {
		t.Fatalf("forged on_join delivered: %v", got)
	}
}

// TestKillNeedsExplicitGrant: in a realm without roles (the default realm)
// the kill procedures are refused; a role naming them may call them.
func TestKillNeedsExplicitGrant(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	p, _ := join(t, r, "json")
	other, _ := join(t, r, "json")
	for i, proc := range []wamp.URI{"wamp.session.kill_all", "wamp.session.kill_by_authrole", "wamp.session.kill_by_authid", "wamp.session.kill"} {
		if _, uri := metaCall(t, p, wamp.ID(i+1), proc, []any{"anonymous"}, nil); uri != wamp.ErrNotAuthorized {
			t.Fatalf("%s in a realm without roles: %q, want %s", proc, uri, wamp.ErrNotAuthorized)
		}
	}
	if res, _ := metaCall(t, p, 9, "wamp.session.count", nil, nil); len(res) == 0 {
		t.Fatal("harmless meta procedure refused")
	}
	select {
	case <-other.Done():
		t.Fatal("another session was killed")
	default:
	}

	// A catch-all grant is not explicit; a rule naming wamp.session. is.
	catchAll := newTestRouter(t, Config{Realms: []RealmConfig{{Name: "realm1", Anonymous: true, Roles: []RoleConfig{{Name: "anonymous",
		Permissions: []Permission{{URI: "", Match: "prefix", Call: true}}}}}}})
	q, _ := join(t, catchAll, "json")
	if _, uri := metaCall(t, q, 1, "wamp.session.kill_all", nil, nil); uri != wamp.ErrNotAuthorized {
		t.Fatalf("kill_all with a catch-all rule: %q", uri)
	}
	admin := newTestRouter(t, Config{Realms: adminRealm})
	a, _ := join(t, admin, "json")
	victim, _ := join(t, admin, "json")
	if res, uri := metaCall(t, a, 1, "wamp.session.kill_all", nil, nil); uri != "" || len(res) != 1 {
		t.Fatalf("kill_all with a grant naming it: %v %q", res, uri)
	}
	<-victim.Done()
}

// TestDiscloseCallerNever: a realm that never discloses callers refuses a
// registration asking for it, and no INVOCATION carries the caller.
func TestDiscloseCallerNever(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{Realms: []RealmConfig{{Name: "realm1", Anonymous: true, DiscloseCaller: DiscloseNever,
		Roles: []RoleConfig{{Name: "anonymous", Permissions: []Permission{
			{URI: "", Match: "prefix", Call: true, Register: true, DiscloseCaller: true}}}}}}})
	callee, _ := join(t, r, "json")
	callee.in <- &wamp.Register{Request: 1, Options: wamp.Dict{"disclose_caller": true}, Procedure: "com.p"}
	expectError(t, callee, wamp.REGISTER, 1, wamp.ErrOptionNotAllowed)
	register(t, callee, 2, "com.p")
	caller, _ := join(t, r, "json")
	caller.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.p"}
	inv := expectType[*wamp.Invocation](t, callee)
	if _, ok := inv.Details["caller"]; ok {
		t.Fatalf("INVOCATION discloses the caller: %v", inv.Details)
	}
}

// TestCallsInFlightBounded: past max_calls_per_session the CALL is refused,
// and past max_invocations_per_session too.
func TestCallsInFlightBounded(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{MaxCallsPerSession: 3, MaxInvocationsPerSession: 5})
	callee, _ := join(t, r, "json")
	register(t, callee, 1, "com.slow")
	caller, _ := join(t, r, "json")
	for i := 1; i <= 3; i++ {
		caller.in <- &wamp.Call{Request: wamp.ID(i), Options: wamp.Dict{}, Procedure: "com.slow"}
		expectType[*wamp.Invocation](t, callee)
	}
	caller.in <- &wamp.Call{Request: 4, Options: wamp.Dict{}, Procedure: "com.slow"}
	e := expectError(t, caller, wamp.CALL, 4, ErrLimitExceeded)
	if msg := args(t, &e.Payload); !strings.Contains(msg[0].(string), "router.max_calls_per_session") {
		t.Fatalf("ERROR says %v", msg)
	}
	other, _ := join(t, r, "json")
	for i := 1; i <= 2; i++ {
		other.in <- &wamp.Call{Request: wamp.ID(i), Options: wamp.Dict{}, Procedure: "com.slow"}
		expectType[*wamp.Invocation](t, callee)
	}
	other.in <- &wamp.Call{Request: 3, Options: wamp.Dict{}, Procedure: "com.slow"}
	expectError(t, other, wamp.CALL, 3, ErrLimitExceeded)
	if got := r.stats.LimitsReached(); got["router.max_calls_per_session"] != 1 || got["router.max_invocations_per_session"] != 1 {
		t.Fatalf("limits reached %v", got)
	}
}

// TestUnconvertibleAnswers: a callee's answer the caller's serializer
// cannot carry gets the caller an ERROR instead of nothing.
func TestUnconvertibleAnswers(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	callee, _ := join(t, r, "msgpack")
	register(t, callee, 1, "com.nan")
	caller, _ := join(t, r, "json")
	nan := encodedPayload(t, "msgpack", []any{math.NaN()}, nil)
	for i, answer := range []func(id wamp.ID) wamp.Message{
		func(id wamp.ID) wamp.Message { return &wamp.Yield{Request: id, Options: wamp.Dict{}, Payload: nan} },
		func(id wamp.ID) wamp.Message {
			return &wamp.Error{Type: wamp.INVOCATION, Request: id, Details: wamp.Dict{}, Error: "com.err", Payload: nan}
		},
	} {
		req := wamp.ID(i + 1)
		caller.in <- &wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: "com.nan"}
		inv := expectType[*wamp.Invocation](t, callee)
		callee.in <- answer(inv.Request)
		expectError(t, caller, wamp.CALL, req, wamp.ErrInvalidArgument)
	}
	// The other way: a JSON number msgpack cannot carry.
	jcallee, _ := join(t, r, "json")
	register(t, jcallee, 1, "com.json")
	mcaller, _ := join(t, r, "msgpack")
	mcaller.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.json"}
	inv := expectType[*wamp.Invocation](t, jcallee)
	jcallee.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.Payload{Encoding: wamp.EncodingJSON, RawArgs: []byte("[1e400]")}}
	expectError(t, mcaller, wamp.CALL, 1, wamp.ErrInvalidArgument)
	jcaller, _ := join(t, r, "json")
	jcaller.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.nan",
		Payload: wamp.Payload{Encoding: wamp.EncodingJSON, RawArgs: []byte("[1e400]")}}
	expectError(t, jcaller, wamp.CALL, 1, wamp.ErrInvalidArgument)
	if r.stats.ConversionFailures.Load() != 4 {
		t.Fatalf("conversion failures counted: %d, want 4", r.stats.ConversionFailures.Load())
	}
}

// TestUnconvertiblePublication: an acknowledged publication that some
// subscriber's serializer cannot carry gets the publisher an ERROR; the
// subscribers that can take it get it.
func TestUnconvertiblePublication(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	jsonSub, _ := join(t, r, "json")
	subscribe(t, jsonSub, 1, "com.t")
	msgpackSub, _ := join(t, r, "msgpack")
	subscribe(t, msgpackSub, 1, "com.t")
	pub, _ := join(t, r, "msgpack")
	pub.in <- &wamp.Publish{Request: 1, Options: wamp.Dict{"acknowledge": true}, Topic: "com.t",
		Payload: encodedPayload(t, "msgpack", []any{math.Inf(1)}, nil)}
	expectError(t, pub, wamp.PUBLISH, 1, wamp.ErrInvalidArgument)
	ev := expectType[*wamp.Event](t, msgpackSub)
	if got := args(t, &ev.Payload); !math.IsInf(got[0].(float64), 1) {
		t.Fatalf("msgpack subscriber got %v", got)
	}
	// The JSON subscriber got nothing broken: its next event is the next one.
	pub.in <- &wamp.Publish{Request: 2, Options: wamp.Dict{"acknowledge": true}, Topic: "com.t",
		Payload: encodedPayload(t, "msgpack", []any{"marker"}, nil)}
	expectType[*wamp.Published](t, pub)
	if got := args(t, &expectType[*wamp.Event](t, jsonSub).Payload); got[0] != "marker" {
		t.Fatalf("json subscriber got %v", got)
	}
}

// TestRetainedBounded: past the realm's bound a retained publication to a
// new topic is refused; replacing a kept topic's event still works.
func TestRetainedBounded(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{MaxRetainedEvents: 2})
	p, _ := join(t, r, "json")
	retain := func(req wamp.ID, topic wamp.URI) wamp.Message {
		p.in <- &wamp.Publish{Request: req, Options: wamp.Dict{"acknowledge": true, "retain": true}, Topic: topic,
			Payload: wamp.Values([]any{string(topic)}, nil)}
		return p.expect(t)
	}
	for i, topic := range []wamp.URI{"com.a", "com.b", "com.a"} {
		if m, ok := retain(wamp.ID(i+1), topic).(*wamp.Published); !ok {
			t.Fatalf("retained publication %d to %s: %v", i+1, topic, m)
		}
	}
	if e, ok := retain(9, "com.c").(*wamp.Error); !ok || e.Error != ErrLimitExceeded {
		t.Fatalf("a third retained topic: %v", e)
	}
	other, _ := join(t, r, "json")
	other.in <- &wamp.Subscribe{Request: 1, Options: wamp.Dict{"get_retained": true, "match": "prefix"}, Topic: "com"}
	expectType[*wamp.Subscribed](t, other)
	got := map[string]bool{}
	for range 2 {
		got[args(t, &expectType[*wamp.Event](t, other).Payload)[0].(string)] = true
	}
	if !got["com.a"] || !got["com.b"] {
		t.Fatalf("retained events %v", got)
	}
}

// TestHistoryBounded: a realm's histories hold at most max_history_bytes,
// dropping the oldest, and get_events answers at most
// max_history_result_bytes.
func TestHistoryBounded(t *testing.T) {
	t.Parallel()
	const payload = 10 << 10
	r := newTestRouter(t, Config{MaxHistoryBytes: 50 * payload, MaxHistoryResultBytes: 20 * payload,
		Realms: []RealmConfig{{Name: "realm1", Anonymous: true, EventHistory: []HistoryConfig{{Topic: "com.log", Match: "prefix", Limit: 1000}}}}})
	sub, _ := join(t, r, "json")
	subID := subscribe(t, sub, 1, "com.log")
	pub, _ := join(t, r, "json")
	for i := range 200 {
		pub.in <- &wamp.Publish{Request: wamp.ID(i + 1), Options: wamp.Dict{"acknowledge": true}, Topic: "com.log",
			Payload: encodedPayload(t, "json", []any{i, strings.Repeat("x", payload)}, nil)}
		expectType[*wamp.Published](t, pub)
	}
	st := r.realm("realm1").events
	st.mu.Lock()
	held, kept := st.historyBytes, len(st.histories[0].events)
	st.mu.Unlock()
	if held > 50*payload || kept > 50 || kept < 40 {
		t.Fatalf("history holds %d events, %d bytes; bound %d bytes", kept, held, 50*payload)
	}
	res, uri := metaCall(t, sub, 2, "wamp.subscription.get_events", []any{uint64(subID)}, nil)
	if uri != "" {
		t.Fatal(uri)
	}
	events := res[0].([]any)
	if len(events) == 0 || len(events) > 20 {
		t.Fatalf("get_events answered %d events of 10 KiB, bound 200 KiB", len(events))
	}
	first := wamp.AsDict(events[0])["args"].([]any)[0]
	if n, _ := wamp.AsInt(first); n < 150 {
		t.Fatalf("oldest event answered %v: the oldest should have been dropped", first)
	}
}

// TestTestamentsBounded: testaments are bounded in number and in bytes.
func TestTestamentsBounded(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{MaxTestamentsPerSession: 3, MaxTestamentBytesPerSession: 4 << 10})
	p, _ := join(t, r, "json")
	add := func(req wamp.ID, topic string, size int) wamp.URI {
		_, uri := metaCall(t, p, req, "wamp.session.add_testament", []any{topic, []any{strings.Repeat("x", size)}}, nil)
		return uri
	}
	if uri := add(1, "com.gone", 5<<10); uri != ErrLimitExceeded {
		t.Fatalf("a 5 KiB testament with a 4 KiB bound: %q", uri)
	}
	for i := range 3 {
		if uri := add(wamp.ID(2+i), "com.gone", 10); uri != "" {
			t.Fatalf("testament %d: %q", i+1, uri)
		}
	}
	if uri := add(9, "com.gone", 10); uri != ErrLimitExceeded {
		t.Fatalf("a fourth testament with a bound of 3: %q", uri)
	}
	if uri := add(10, "wamp.session.on_leave", 10); uri != wamp.ErrInvalidURI {
		t.Fatalf("a testament on a wamp.* topic: %q", uri)
	}
	if _, uri := metaCall(t, p, 11, "wamp.session.flush_testaments", nil, nil); uri != "" {
		t.Fatal(uri)
	}
	if uri := add(12, "com.gone", 10); uri != "" {
		t.Fatalf("after a flush: %q", uri)
	}
}

// TestShutdownDrainsCalls: on shutdown the calls in flight may finish; a
// new call is refused unless its caller is finishing an invocation; once
// no call is in flight the sessions get GOODBYE, without waiting for the
// deadline (a generous one: nothing here depends on timing).
func TestShutdownDrainsCalls(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	callee, _ := join(t, r, "json")
	register(t, callee, 1, "com.slow")
	register(t, callee, 2, "com.helper")
	caller, _ := join(t, r, "json")
	var invs []*wamp.Invocation
	for i := 1; i <= 2; i++ {
		caller.in <- &wamp.Call{Request: wamp.ID(i), Options: wamp.Dict{}, Procedure: "com.slow"}
		invs = append(invs, expectType[*wamp.Invocation](t, callee))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- r.Shutdown(ctx) }()
	waitFor(t, "the drain", r.draining.Load)

	caller.in <- &wamp.Call{Request: 3, Options: wamp.Dict{}, Procedure: "com.slow"}
	expectError(t, caller, wamp.CALL, 3, wamp.ErrCanceled) // no new call from a plain caller
	callee.in <- &wamp.Call{Request: 7, Options: wamp.Dict{}, Procedure: "com.helper"}
	nested := expectType[*wamp.Invocation](t, callee) // a callee finishing its work may call
	callee.in <- &wamp.Yield{Request: nested.Request, Options: wamp.Dict{}}
	expectType[*wamp.Result](t, callee)

	for i, inv := range invs {
		callee.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.Values([]any{"done"}, nil)}
		if res := expectType[*wamp.Result](t, caller); res.Request != wamp.ID(i+1) {
			t.Fatalf("RESULT for %d, want %d", res.Request, i+1)
		}
	}
	for _, p := range []*fakePeer{caller, callee} {
		if g := expectType[*wamp.Goodbye](t, p); g.Reason != wamp.CloseSystemShutdown {
			t.Fatalf("GOODBYE %s", g.Reason)
		}
		p.in <- &wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut}
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

// TestShutdownCancelsCallsLeft: a call still in flight when the drain ends
// (a quarter of the time left before the deadline, at most 1s) gets ERROR
// wamp.error.canceled before its caller's GOODBYE.
func TestShutdownCancelsCallsLeft(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	callee, _ := join(t, r, "json")
	register(t, callee, 1, "com.never")
	caller, _ := join(t, r, "json")
	caller.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.never"}
	expectType[*wamp.Invocation](t, callee)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- r.Shutdown(ctx) }()
	expectError(t, caller, wamp.CALL, 1, wamp.ErrCanceled)
	if g := expectType[*wamp.Goodbye](t, caller); g.Reason != wamp.CloseSystemShutdown {
		t.Fatalf("GOODBYE %s", g.Reason)
	}
	caller.in <- &wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut}
	callee.in <- &wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut}
	// The sessions may outlive a deadline this short on a loaded machine:
	// Shutdown then says so, which is all that is asked of it here.
	if err := <-shut; err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

// TestAuthProceduresNeedExactGrant: the realm's authenticator and
// authorizer decide who logs in and what sessions may do, so only a role
// naming them exactly may register them, and the router calls only an
// exact registration of them.
func TestAuthProceduresNeedExactGrant(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{Realms: []RealmConfig{{Name: "realm1", Anonymous: true,
		Authenticator: "com.auth.authenticate", Authorizer: "com.auth.authorize",
		Roles: []RoleConfig{
			{Name: "anonymous", Permissions: []Permission{{URI: "com", Match: "prefix", Register: true, Call: true}}},
		}}}})
	p, _ := join(t, r, "json")
	for i, proc := range []wamp.URI{"com.auth.authenticate", "com.auth.authorize"} {
		p.in <- &wamp.Register{Request: wamp.ID(i + 1), Options: wamp.Dict{}, Procedure: proc}
		expectError(t, p, wamp.REGISTER, wamp.ID(i+1), wamp.ErrNotAuthorized)
	}
	// A pattern covering them may be registered, but never answers for them.
	p.in <- &wamp.Register{Request: 3, Options: wamp.Dict{"match": "prefix"}, Procedure: "com.auth"}
	expectType[*wamp.Registered](t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := r.callInternal(ctx, r.realm("realm1"), "com.auth.authorize", nil, nil); err == nil {
		t.Fatal("the router's own call was answered by a pattern registration")
	}
	select {
	case m := <-p.out:
		t.Fatalf("the pattern's callee was invoked: %v", m)
	default:
	}
}

// TestDecoySaltStable: an unknown authid's decoy salt is the same on every
// start of the same config, as a known authid's real salt is.
func TestDecoySaltStable(t *testing.T) {
	t.Parallel()
	cfg := Config{Realms: []RealmConfig{{Name: "realm1", AuthMethods: []AuthMethod{AuthWAMPCRA},
		Principals: []Principal{{AuthID: "billing", Role: "backend", Secret: "s3cret", Salt: "0123456789abcdef", Iterations: 100, KeyLen: 32}}}}}
	salt := func(c Config) string {
		r := newTestRouter(t, c)
		return r.realm("realm1").conf().auth.decoySalt("nobody")
	}
	first := salt(cfg)
	if again := salt(cfg); again != first {
		t.Fatalf("decoy salt changed across starts: %q, then %q", first, again)
	}
	other := cfg
	other.Realms = []RealmConfig{cfg.Realms[0]}
	other.Realms[0].Principals = []Principal{{AuthID: "billing", Role: "backend", Secret: "other", Salt: "0123456789abcdef", Iterations: 100, KeyLen: 32}}
	if salt(other) == first {
		t.Fatal("decoy salt does not depend on the secrets")
	}
}

// TestRealmsCreatedOnDemandGoAway: with auto_create_realms, a realm
// created for a HELLO goes away with its last session, so HELLOs to ever
// new names do not make the router hold ever more realms; sessions joining
// while others leave always end up in the realm the table holds.
func TestRealmsCreatedOnDemandGoAway(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{AutoCreateRealms: true, Realms: []RealmConfig{}})
	for i := range 50 {
		p := serve(t, r, "json")
		p.in <- &wamp.Hello{Realm: wamp.URI(fmt.Sprintf("com.junk.r%d", i)), Details: allRoles}
		expectType[*wamp.Welcome](t, p)
		p.in <- &wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal}
		expectType[*wamp.Goodbye](t, p)
		<-p.Done()
	}
	waitFor(t, "the realms created on demand to go", func() bool {
		r.realmsMu.RLock()
		defer r.realmsMu.RUnlock()
		return len(r.realms) == 0
	})

	// Churn on one name: whoever is joined is in the realm the table holds.
	var wg sync.WaitGroup
	stay := make([]*fakePeer, 8)
	for i := range stay {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				p, _ := joinRealm(t, r, "com.busy")
				p.Close(transport.CloseNormal, "churn")
			}
			stay[i], _ = joinRealm(t, r, "com.busy")
		}()
	}
	wg.Wait()
	waitFor(t, "the churned sessions to leave", func() bool { return len(r.liveSessions()) == len(stay) })
	r.realmsMu.RLock()
	busy := r.realms["com.busy"]
	r.realmsMu.RUnlock()
	for _, s := range r.liveSessions() {
		if s.realm != busy {
			t.Fatal("a session joined a realm that went away")
		}
	}
	if n := busy.SessionCount(); n != len(stay) {
		t.Fatalf("%d sessions in the realm, want %d", n, len(stay))
	}
}

// joinRealm serves a new peer joined to realm.
func joinRealm(t *testing.T, r *Router, realm wamp.URI) (*fakePeer, wamp.ID) {
	t.Helper()
	p := serve(t, r, "json")
	p.in <- &wamp.Hello{Realm: realm, Details: allRoles}
	w := expectType[*wamp.Welcome](t, p)
	return p, w.Session
}

// TestAuthorizerCacheBounded: the dynamic authorizer's cache holds at most
// its size: a client trying ever new URIs cannot make it grow, only leave
// its own answers uncached; answers that have expired make room.
func TestAuthorizerCacheBounded(t *testing.T) {
	t.Parallel()
	d := &dynamicAuthz{size: 3}
	held := func() int {
		n := 0
		d.cache.Range(func(any, any) bool { n++; return true })
		return n
	}
	live := authzEntry{allowed: true, expires: time.Now().Add(time.Hour)}
	for i := range 1000 {
		d.store(authzKey{authid: "mallory", a: ActionCall, uri: wamp.URI(fmt.Sprintf("app.p%d", i))}, live)
	}
	if n := held(); n != 3 || d.count.Load() != 3 {
		t.Fatalf("cache holds %d answers (counted %d) after 1,000 URIs, bound 3", n, d.count.Load())
	}
	// Once they have expired, the held answers give way to new ones.
	d.cache.Range(func(k, _ any) bool {
		d.cache.Store(k, authzEntry{expires: time.Now().Add(-time.Second)})
		return true
	})
	fresh := authzKey{authid: "alice", a: ActionCall, uri: "app.fresh"}
	d.store(fresh, live)
	if _, ok := d.cache.Load(fresh); !ok || held() != 1 || d.count.Load() != 1 {
		t.Fatalf("after expiry: fresh answer cached %v, %d held (counted %d)", ok, held(), d.count.Load())
	}
}
