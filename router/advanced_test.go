package router

import (
	"fmt"
	"testing"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// authidOf returns the authid the router gave session id.
func authidOf(t testing.TB, r *Router, id wamp.ID) string {
	t.Helper()
	s, ok := r.realm("realm1").Session(id)
	if !ok {
		t.Fatalf("no session %d", id)
	}
	return s.(*session).authid
}

// joinWith joins realm1 announcing the given callee features.
func joinWith(t testing.TB, r *Router, calleeFeatures wamp.Dict, authid string) (*fakePeer, wamp.ID) {
	t.Helper()
	p := serve(t, r, "json")
	p.in <- &wamp.Hello{Realm: "realm1", Details: wamp.Dict{"authid": authid, "roles": wamp.Dict{
		"caller": wamp.Dict{}, "callee": wamp.Dict{"features": calleeFeatures}, "publisher": wamp.Dict{}, "subscriber": wamp.Dict{},
	}}}
	return p, expectType[*wamp.Welcome](t, p).Session
}

func TestWelcomeAnnouncesAdvancedFeatures(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	p := serve(t, r, "json")
	p.in <- &wamp.Hello{Realm: "realm1", Details: allRoles}
	roles := expectType[*wamp.Welcome](t, p).Details.Dict("roles")
	for role, features := range map[string][]string{
		"broker": {"publisher_exclusion", "publisher_identification", "subscriber_blackwhite_listing", "pattern_based_subscription"},
		"dealer": {"caller_identification", "pattern_based_registration", "shared_registration", "progressive_call_results", "call_canceling", "call_timeout"},
	} {
		for _, f := range features {
			if !roles.Dict(role).Dict("features").Bool(f, false) {
				t.Errorf("%s does not announce %s", role, f)
			}
		}
	}
}

func TestPatternSubscription(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	sub, _ := join(t, r, "json")
	pub, _ := join(t, r, "msgpack")
	sub.in <- &wamp.Subscribe{Request: 1, Options: wamp.Dict{"match": "prefix"}, Topic: "com.example"}
	prefixID := expectType[*wamp.Subscribed](t, sub).Subscription
	sub.in <- &wamp.Subscribe{Request: 2, Options: wamp.Dict{"match": "wildcard"}, Topic: "com..topic"}
	wildID := expectType[*wamp.Subscribed](t, sub).Subscription
	pub.in <- &wamp.Publish{Request: 1, Options: wamp.Dict{"acknowledge": true}, Topic: "com.example.topic"}
	expectType[*wamp.Published](t, pub)
	got := map[wamp.ID]string{}
	for range 2 {
		ev := expectType[*wamp.Event](t, sub)
		got[ev.Subscription] = ev.Details.String("topic")
	}
	if got[prefixID] != "com.example.topic" || got[wildID] != "com.example.topic" {
		t.Fatalf("events %v", got)
	}
	pub.in <- &wamp.Publish{Request: 2, Options: wamp.Dict{"acknowledge": true}, Topic: "com.exampleX.other"}
	expectType[*wamp.Published](t, pub)
	sub.in <- &wamp.Subscribe{Request: 3, Options: wamp.Dict{}, Topic: "probe"}
	expectType[*wamp.Subscribed](t, sub) // nothing matched com.exampleX.other
}

func TestPatternRegistrationAndSharing(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	caller, _ := join(t, r, "json")
	a, aID := join(t, r, "json")
	b, bID := join(t, r, "json")
	a.in <- &wamp.Register{Request: 1, Options: wamp.Dict{"match": "prefix"}, Procedure: "com.example"}
	expectType[*wamp.Registered](t, a)
	caller.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.example.do.it"}
	inv := expectType[*wamp.Invocation](t, a)
	if inv.Details.String("procedure") != "com.example.do.it" {
		t.Fatalf("INVOCATION details %v", inv.Details)
	}
	a.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}}
	expectType[*wamp.Result](t, caller)

	// Shared: roundrobin between a and b; mixing policies is refused.
	for i, p := range []*fakePeer{a, b} {
		p.in <- &wamp.Register{Request: 10, Options: wamp.Dict{"invoke": "roundrobin"}, Procedure: "com.shared"}
		if _, ok := p.expect(t).(*wamp.Registered); !ok {
			t.Fatalf("callee %d not registered", i)
		}
	}
	caller.in <- &wamp.Register{Request: 2, Options: wamp.Dict{"invoke": "random"}, Procedure: "com.shared"}
	expectError(t, caller, wamp.REGISTER, 2, wamp.ErrProcedureAlreadyExists)
	order := []wamp.ID{}
	for i := range 4 {
		caller.in <- &wamp.Call{Request: wamp.ID(10 + i), Options: wamp.Dict{}, Procedure: "com.shared"}
		select {
		case m := <-a.out:
			order = append(order, aID)
			a.in <- &wamp.Yield{Request: m.(*wamp.Invocation).Request, Options: wamp.Dict{}}
		case m := <-b.out:
			order = append(order, bID)
			b.in <- &wamp.Yield{Request: m.(*wamp.Invocation).Request, Options: wamp.Dict{}}
		}
		expectType[*wamp.Result](t, caller)
	}
	if order[0] == order[1] || order[0] != order[2] || order[1] != order[3] {
		t.Fatalf("roundrobin order %v", order)
	}
}

func TestIdentificationAndListing(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	pub, pubID := joinWith(t, r, wamp.Dict{}, "")
	bob, bobID := joinWith(t, r, wamp.Dict{}, "")
	carol, carolID := joinWith(t, r, wamp.Dict{}, "")
	alice, bobAuth, carolAuth := authidOf(t, r, pubID), authidOf(t, r, bobID), authidOf(t, r, carolID)
	for _, p := range []*fakePeer{bob, carol} {
		subscribe(t, p, 1, "com.news")
	}
	// disclose_me discloses the publisher.
	pub.in <- &wamp.Publish{Request: 1, Options: wamp.Dict{"acknowledge": true, "disclose_me": true}, Topic: "com.news"}
	expectType[*wamp.Published](t, pub)
	for _, p := range []*fakePeer{bob, carol} {
		ev := expectType[*wamp.Event](t, p)
		if id, _ := wamp.AsID(ev.Details["publisher"]); id != pubID || ev.Details.String("publisher_authid") != alice {
			t.Fatalf("details %v", ev.Details)
		}
	}
	// Black and white lists: only the admitted subscriber gets the event; a
	// marker to both proves the other got nothing.
	for i, opts := range []wamp.Dict{
		{"exclude": []any{uint64(bobID)}},
		{"exclude_authid": []any{bobAuth}},
		{"eligible_authid": []any{carolAuth}},
		{"exclude_authrole": []any{"nobody"}, "eligible": []any{uint64(bobID)}},
	} {
		opts["acknowledge"] = true
		pub.in <- &wamp.Publish{Request: wamp.ID(10 + i), Options: opts, Topic: "com.news", Payload: wamp.Values([]any{"listed"}, nil)}
		expectType[*wamp.Published](t, pub)
		pub.in <- &wamp.Publish{Request: wamp.ID(20 + i), Options: wamp.Dict{"acknowledge": true}, Topic: "com.news", Payload: wamp.Values([]any{"marker"}, nil)}
		expectType[*wamp.Published](t, pub)
		wantBob := i == 3
		for who, p := range map[string]*fakePeer{"bob": bob, "carol": carol} {
			ev := expectType[*wamp.Event](t, p)
			gotListed := fmt.Sprint(args(t, &ev.Payload)) == "[listed]"
			if gotListed {
				expectType[*wamp.Event](t, p) // the marker
			}
			if want := (who == "bob") == wantBob; gotListed != want {
				t.Fatalf("case %d: %s got the listed event: %v", i, who, gotListed)
			}
		}
	}
}

func TestDisclosureRealmSettings(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{Realms: []RealmConfig{{Name: "realm1", Anonymous: true, DiscloseCaller: DiscloseAlways, DisclosePublisher: DiscloseNever}}})
	caller, callerID := join(t, r, "json")
	callee, _ := join(t, r, "json")
	register(t, callee, 1, "com.p")
	caller.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.p"}
	inv := expectType[*wamp.Invocation](t, callee)
	if id, _ := wamp.AsID(inv.Details["caller"]); id != callerID {
		t.Fatalf("caller not disclosed with disclose_caller=always: %v", inv.Details)
	}
	caller.in <- &wamp.Publish{Request: 2, Options: wamp.Dict{"acknowledge": true, "disclose_me": true}, Topic: "com.t"}
	expectError(t, caller, wamp.PUBLISH, 2, "wamp.error.option_disallowed.disclose_me")
}

var cancelingCallee = wamp.Dict{"call_canceling": true, "progressive_call_results": true}

func TestProgressiveResults(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	caller, _ := join(t, r, "json")
	callee, _ := joinWith(t, r, cancelingCallee, "")
	register(t, callee, 1, "com.progress")
	caller.in <- &wamp.Call{Request: 5, Options: wamp.Dict{"receive_progress": true}, Procedure: "com.progress"}
	inv := expectType[*wamp.Invocation](t, callee)
	if !inv.Details.Bool("receive_progress", false) {
		t.Fatalf("INVOCATION details %v", inv.Details)
	}
	for i := range 3 {
		callee.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{"progress": true}, Payload: wamp.Values([]any{i}, nil)}
		res := expectType[*wamp.Result](t, caller)
		if !res.Details.Bool("progress", false) || fmt.Sprint(args(t, &res.Payload)) != fmt.Sprint([]any{int64(i)}) {
			t.Fatalf("progress %d: %v %v", i, res.Details, args(t, &res.Payload))
		}
	}
	callee.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.Values([]any{"done"}, nil)}
	if res := expectType[*wamp.Result](t, caller); res.Details.Bool("progress", false) {
		t.Fatal("final result marked progress")
	}
}

func TestCancelModes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mode      string
		canceling bool // the callee announces call_canceling
		interrupt bool // the callee gets INTERRUPT
		waits     bool // the caller's error waits for the callee
	}{
		{"skip", true, false, false},
		{"kill", true, true, true},
		{"killnowait", true, true, false},
		{"", true, true, false},       // default killnowait
		{"kill", false, false, false}, // no call_canceling: skip
	} {
		t.Run(fmt.Sprintf("%s_canceling=%v", tt.mode, tt.canceling), func(t *testing.T) {
			t.Parallel()
			r := newTestRouter(t, Config{})
			caller, _ := join(t, r, "json")
			features := wamp.Dict{}
			if tt.canceling {
				features = cancelingCallee
			}
			callee, _ := joinWith(t, r, features, "")
			register(t, callee, 1, "com.slow")
			caller.in <- &wamp.Call{Request: 7, Options: wamp.Dict{}, Procedure: "com.slow"}
			inv := expectType[*wamp.Invocation](t, callee)
			opts := wamp.Dict{}
			if tt.mode != "" {
				opts["mode"] = tt.mode
			}
			caller.in <- &wamp.Cancel{Request: 7, Options: opts}
			if tt.interrupt {
				if in := expectType[*wamp.Interrupt](t, callee); in.Request != inv.Request {
					t.Fatalf("INTERRUPT for %d", in.Request)
				}
			}
			if tt.waits {
				callee.in <- &wamp.Error{Type: wamp.INVOCATION, Request: inv.Request, Details: wamp.Dict{}, Error: wamp.ErrCanceled}
			}
			expectError(t, caller, wamp.CALL, 7, wamp.ErrCanceled)
			// A late answer is discarded; the next call works.
			callee.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}}
			caller.in <- &wamp.Call{Request: 8, Options: wamp.Dict{}, Procedure: "com.slow"}
			inv2 := expectType[*wamp.Invocation](t, callee)
			callee.in <- &wamp.Yield{Request: inv2.Request, Options: wamp.Dict{}}
			if res := expectType[*wamp.Result](t, caller); res.Request != 8 {
				t.Fatalf("RESULT for %d", res.Request)
			}
		})
	}
}

func TestCallTimeout(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	caller, _ := join(t, r, "json")
	callee, _ := joinWith(t, r, wamp.Dict{"call_canceling": true, "call_timeout": true}, "")
	register(t, callee, 1, "com.never")
	caller.in <- &wamp.Call{Request: 3, Options: wamp.Dict{"timeout": 30}, Procedure: "com.never"}
	inv := expectType[*wamp.Invocation](t, callee)
	expectError(t, caller, wamp.CALL, 3, wamp.ErrTimeout)
	if in := expectType[*wamp.Interrupt](t, callee); in.Request != inv.Request || in.Options.String("mode") != "killnowait" {
		t.Fatalf("INTERRUPT %v", in)
	}
	// forward_timeout with a callee that handles timeouts: the router forwards it.
	callee.in <- &wamp.Register{Request: 2, Options: wamp.Dict{"forward_timeout": true}, Procedure: "com.fwd"}
	expectType[*wamp.Registered](t, callee)
	caller.in <- &wamp.Call{Request: 4, Options: wamp.Dict{"timeout": 5000}, Procedure: "com.fwd"}
	if inv := expectType[*wamp.Invocation](t, callee); inv.Details["timeout"] == nil {
		t.Fatalf("timeout not forwarded: %v", inv.Details)
	}
}

func TestCallerLeavesInterruptsCallee(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	caller, _ := join(t, r, "json")
	callee, _ := joinWith(t, r, cancelingCallee, "")
	register(t, callee, 1, "com.slow")
	caller.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.slow"}
	inv := expectType[*wamp.Invocation](t, callee)
	caller.Close(transport.CloseNormal, "bye")
	if in := expectType[*wamp.Interrupt](t, callee); in.Request != inv.Request {
		t.Fatalf("INTERRUPT for %d", in.Request)
	}
}

func TestProgressiveCallInvocations(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	callerRoles := wamp.Dict{"roles": wamp.Dict{"caller": wamp.Dict{"features": wamp.Dict{"progressive_call_invocations": true}}}}
	caller := serve(t, r, "json")
	caller.in <- &wamp.Hello{Realm: "realm1", Details: callerRoles}
	expectType[*wamp.Welcome](t, caller)
	callee, _ := joinWith(t, r, wamp.Dict{"progressive_call_invocations": true, "call_canceling": true}, "")
	plain, _ := join(t, r, "json")
	register(t, callee, 1, "com.upload")
	register(t, plain, 1, "com.plain")

	for i, more := range []bool{true, true, false} {
		opts := wamp.Dict{}
		if more {
			opts["progress"] = true
		}
		caller.in <- &wamp.Call{Request: 9, Options: opts, Procedure: "com.upload", Payload: wamp.Values([]any{i}, nil)}
		inv := expectType[*wamp.Invocation](t, callee)
		if inv.Details.Bool("progress", false) != more || fmt.Sprint(args(t, &inv.Payload)) != fmt.Sprint([]any{int64(i)}) {
			t.Fatalf("chunk %d: %v %v", i, inv.Details, args(t, &inv.Payload))
		}
		if i == 2 {
			callee.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.Values([]any{"stored"}, nil)}
		}
	}
	if res := expectType[*wamp.Result](t, caller); res.Request != 9 {
		t.Fatalf("RESULT %d", res.Request)
	}
	caller.in <- &wamp.Call{Request: 10, Options: wamp.Dict{"progress": true}, Procedure: "com.plain"}
	expectError(t, caller, wamp.CALL, 10, wamp.ErrFeatureNotSupported)
	// A caller that did not announce the feature commits a protocol violation.
	other, _ := join(t, r, "json")
	other.in <- &wamp.Call{Request: 1, Options: wamp.Dict{"progress": true}, Procedure: "com.upload"}
	expectAbort(t, other, wamp.ErrProtocolViolation, transport.CloseProtocolError)
}
