package router

import (
	"math"
	"strings"
	"testing"

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
		a          action
		want       bool
	}{
		{"exact", "app.status", actionSubscribe, true},
		{"prefix", "app.status", actionSubscribe, false}, // would get app.status.payroll
		{"wildcard", "app.", actionSubscribe, false},
		{"prefix", "app.fn", actionRegister, false}, // would get app.fn.admin.reset
		{"exact", "app.fn", actionRegister, true},
		{"prefix", "pub.news", actionSubscribe, true},
		{"prefix", "pub.", actionSubscribe, false},         // covers pub.secret and pub.hidden
		{"prefix", "pub.secret.x", actionSubscribe, false}, // governed by the deny
		{"wildcard", "pub..x", actionSubscribe, false},     // meets pub.secret.x
		{"wildcard", "pub.news.", actionSubscribe, true},
		{"prefix", "open", actionSubscribe, false}, // covers open.x.admin
		{"prefix", "open.y", actionSubscribe, true},
		{"wildcard", "open..admin", actionSubscribe, false},
		{"wildcard", "dev..telemetry", actionSubscribe, false}, // meets dev.17.telemetry
		{"wildcard", "dev.18.telemetry", actionSubscribe, true},
		{"exact", "dev.18.telemetry", actionSubscribe, true},
		{"wildcard", "any..x", actionSubscribe, false}, // meets the prefix deny any.b.
		{"wildcard", "any.c.x", actionSubscribe, true},
		{"prefix", "nothing", actionSubscribe, false},
		{"wildcard", "..", actionSubscribe, false},
	} {
		got, _ := p.allowsPattern(tt.a, tt.match, wamp.URI(tt.uri))
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

// TestReservedURIs: wamp.* belongs to the router.
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
