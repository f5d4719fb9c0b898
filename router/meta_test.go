package router

import (
	"fmt"
	"testing"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// metaCall calls a meta procedure and returns the RESULT args, or the ERROR URI.
func metaCall(t *testing.T, p *fakePeer, req wamp.ID, proc wamp.URI, a []any, kw map[string]any) ([]any, wamp.URI) {
	t.Helper()
	p.in <- &wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: proc, Payload: wamp.Values(a, kw)}
	for {
		switch m := p.expect(t).(type) {
		case *wamp.Result:
			if m.Request == req {
				return args(t, &m.Payload), ""
			}
		case *wamp.Error:
			if m.Request == req {
				return nil, m.Error
			}
		}
	}
}

// nextEvent returns the next EVENT's args, skipping other messages.
func nextEvent(t *testing.T, p *fakePeer) []any {
	t.Helper()
	for {
		if ev, ok := p.expect(t).(*wamp.Event); ok {
			return args(t, &ev.Payload)
		}
	}
}

// adminRealm lets anonymous sessions do everything, the kill procedures
// included: they need a rule that names them.
var adminRealm = []RealmConfig{{Name: "realm1", Anonymous: true, Roles: []RoleConfig{{Name: "anonymous", Permissions: []Permission{
	{URI: "", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true},
	{URI: "wamp.session.", Match: "prefix", Call: true, Subscribe: true},
}}}}}

func TestSessionMeta(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{Realms: adminRealm})
	watcher, watcherID := join(t, r, "json")
	subscribe(t, watcher, 1, "wamp.session.on_join")
	subscribe(t, watcher, 2, "wamp.session.on_leave")
	alice, aliceID := joinWith(t, r, wamp.Dict{}, "")
	aliceAuth := authidOf(t, r, aliceID)
	if got := nextEvent(t, watcher); fmt.Sprint(wamp.AsDict(got[0])["authid"]) != aliceAuth {
		t.Fatalf("on_join %v", got)
	}
	res, _ := metaCall(t, watcher, 10, "wamp.session.count", nil, nil)
	if n, _ := wamp.AsInt(res[0]); n != 2 {
		t.Fatalf("count %v", res)
	}
	res, _ = metaCall(t, watcher, 11, "wamp.session.list", []any{[]any{"nobody"}}, nil)
	if len(res[0].([]any)) != 0 {
		t.Fatalf("filtered list %v", res)
	}
	res, _ = metaCall(t, watcher, 12, "wamp.session.get", []any{uint64(aliceID)}, nil)
	if d := wamp.AsDict(res[0]); d.String("authid") != aliceAuth || d.String("authmethod") != "anonymous" {
		t.Fatalf("get %v", res)
	}
	if _, uri := metaCall(t, watcher, 13, "wamp.session.get", []any{12345}, nil); uri != wamp.ErrNoSuchSession {
		t.Fatalf("get unknown: %s", uri)
	}
	if _, uri := metaCall(t, watcher, 14, "wamp.session.kill", []any{uint64(watcherID)}, nil); uri != wamp.ErrNoSuchSession {
		t.Fatalf("kill self: %s", uri)
	}
	// alice leaves a testament, then is killed.
	alice.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "wamp.session.add_testament",
		Payload: wamp.Values([]any{"com.example.gone", []any{"bye"}, map[string]any{"who": "alice"}}, nil)}
	expectType[*wamp.Result](t, alice)
	subscribe(t, watcher, 3, "com.example.gone")
	// alice leaves on her own goroutine once killed: her testament and
	// on_leave may reach the watcher before or after the RESULT.
	watcher.in <- &wamp.Call{Request: 15, Options: wamp.Dict{}, Procedure: "wamp.session.kill_by_authid",
		Payload: wamp.Values([]any{aliceAuth}, map[string]any{"reason": "com.example.go_away", "message": "bye"})}
	var events [][]any
	res = nil
	for res == nil || len(events) < 2 {
		switch m := watcher.expect(t).(type) {
		case *wamp.Result:
			if m.Request == 15 {
				res = args(t, &m.Payload)
			}
		case *wamp.Event:
			events = append(events, args(t, &m.Payload))
		}
	}
	if fmt.Sprint(res[0]) != fmt.Sprint([]any{uint64(aliceID)}) {
		t.Fatalf("kill_by_authid %v", res)
	}
	if g := expectType[*wamp.Goodbye](t, alice); g.Reason != "com.example.go_away" || g.Details.String("message") != "bye" {
		t.Fatalf("GOODBYE %v", g)
	}
	<-alice.Done()
	if alice.code() != transport.CloseNormal {
		t.Fatalf("close code %d", alice.code())
	}
	if got := events[0]; fmt.Sprint(got) != "[bye]" {
		t.Fatalf("testament %v", got)
	}
	if got := events[1]; fmt.Sprint(got[1]) != aliceAuth {
		t.Fatalf("on_leave %v", got)
	}
}

func TestRegistrationAndSubscriptionMeta(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	watcher, _ := join(t, r, "msgpack")
	for i, topic := range []wamp.URI{"wamp.registration.on_create", "wamp.registration.on_register", "wamp.registration.on_unregister", "wamp.registration.on_delete"} {
		subscribe(t, watcher, wamp.ID(i+1), topic)
	}
	callee, calleeID := join(t, r, "json")
	callee.in <- &wamp.Register{Request: 1, Options: wamp.Dict{"match": "prefix"}, Procedure: "com.example"}
	regID := expectType[*wamp.Registered](t, callee).Registration
	if got := nextEvent(t, watcher); wamp.AsDict(got[1]).String("uri") != "com.example" || wamp.AsDict(got[1]).String("match") != "prefix" {
		t.Fatalf("on_create %v", got)
	}
	if got := nextEvent(t, watcher); fmt.Sprint(got) != fmt.Sprint([]any{uint64(calleeID), uint64(regID)}) {
		t.Fatalf("on_register %v", got)
	}
	res, _ := metaCall(t, watcher, 10, "wamp.registration.match", []any{"com.example.x"}, nil)
	if id, _ := wamp.AsID(res[0]); id != regID {
		t.Fatalf("match %v", res)
	}
	res, _ = metaCall(t, watcher, 11, "wamp.registration.lookup", []any{"com.example"}, nil)
	if res[0] != nil {
		t.Fatalf("exact lookup of a prefix registration: %v", res)
	}
	res, _ = metaCall(t, watcher, 12, "wamp.registration.lookup", []any{"com.example", map[string]any{"match": "prefix"}}, nil)
	if id, _ := wamp.AsID(res[0]); id != regID {
		t.Fatalf("prefix lookup %v", res)
	}
	res, _ = metaCall(t, watcher, 13, "wamp.registration.list_callees", []any{uint64(regID)}, nil)
	if fmt.Sprint(res[0]) != fmt.Sprint([]any{uint64(calleeID)}) {
		t.Fatalf("list_callees %v", res)
	}
	res, _ = metaCall(t, watcher, 14, "wamp.registration.list", nil, nil)
	if l := wamp.AsDict(res[0]); len(l["prefix"].([]any)) != 1 || len(l["exact"].([]any)) != 0 {
		t.Fatalf("list %v", res)
	}
	if _, uri := metaCall(t, watcher, 15, "wamp.registration.get", []any{999}, nil); uri != wamp.ErrNoSuchRegistration {
		t.Fatalf("get unknown: %s", uri)
	}
	res, _ = metaCall(t, watcher, 16, "wamp.subscription.count_subscribers", []any{uint64(1)}, nil)
	if n, _ := wamp.AsInt(res[0]); n != 1 {
		t.Fatalf("count_subscribers %v", res)
	}
	callee.Close(transport.CloseNormal, "bye") // leaving unregisters and deletes
	if got := nextEvent(t, watcher); fmt.Sprint(got) != fmt.Sprint([]any{uint64(calleeID), uint64(regID)}) {
		t.Fatalf("on_unregister %v", got)
	}
	if got := nextEvent(t, watcher); fmt.Sprint(got) != fmt.Sprint([]any{uint64(calleeID), uint64(regID)}) {
		t.Fatalf("on_delete %v", got)
	}
}

func TestRetentionAndHistory(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{Realms: []RealmConfig{{Name: "realm1", Anonymous: true,
		EventHistory: []HistoryConfig{{Topic: "com.log", Match: "prefix", Limit: 3}}}}})
	pub, _ := join(t, r, "json")
	for i := range 5 {
		pub.in <- &wamp.Publish{Request: wamp.ID(i + 1), Options: wamp.Dict{"acknowledge": true, "retain": i == 3}, Topic: "com.log.auth", Payload: wamp.Values([]any{i}, nil)}
		expectType[*wamp.Published](t, pub)
	}
	// A new subscriber asking for the retained event gets the one marked retain.
	sub, _ := join(t, r, "msgpack")
	sub.in <- &wamp.Subscribe{Request: 1, Options: wamp.Dict{"get_retained": true}, Topic: "com.log.auth"}
	expectType[*wamp.Subscribed](t, sub)
	ev := expectType[*wamp.Event](t, sub)
	if !ev.Details.Bool("retained", false) || fmt.Sprint(args(t, &ev.Payload)) != "[3]" {
		t.Fatalf("retained event %v %v", ev.Details, args(t, &ev.Payload))
	}
	// History: the last 3 events of the prefix pattern.
	sub.in <- &wamp.Subscribe{Request: 2, Options: wamp.Dict{"match": "prefix"}, Topic: "com.log"}
	subID := expectType[*wamp.Subscribed](t, sub).Subscription
	res, _ := metaCall(t, sub, 3, "wamp.subscription.get_events", []any{uint64(subID)}, map[string]any{"reverse": true, "limit": 2})
	events := res[0].([]any)
	if len(events) != 2 {
		t.Fatalf("events %v", events)
	}
	for i, want := range []string{"[4]", "[3]"} {
		e := wamp.AsDict(events[i])
		if fmt.Sprint(e["args"]) != want || e.String("timestamp") == "" || wamp.AsDict(e["details"]).String("topic") != "com.log.auth" {
			t.Fatalf("event %d: %v", i, e)
		}
	}
}
