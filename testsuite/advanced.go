package testsuite

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// AdvancedScenarios is the Advanced Profile suite.
//
//	pattern_subscription       prefix and wildcard subscriptions, EVENT.Details.topic
//	pattern_registration       exact beats prefix beats wildcard; INVOCATION.Details.procedure
//	shared_registration        roundrobin over two callees
//	caller_identification      disclose_me reaches the callee as Details.caller
//	publisher_identification   disclose_me reaches subscribers as Details.publisher
//	subscriber_blacklisting    exclude and eligible by session id
//	progressive_call_results   progressive results arrive in order before the final one
//	call_canceling             the caller's ctx ends: the callee is interrupted
//	call_timeout               the router ends a call past its timeout with wamp.error.timeout
//	event_retention            a late subscriber asking get_retained gets the retained event
//	session_meta_api           on_join, wamp.session.count and wamp.session.get
//	registration_meta_api      wamp.registration.lookup and list_callees
//	testament                  a session's testament is published when it leaves
//	subscription_meta_api      wamp.subscription.lookup, count_subscribers, on_subscribe
//	session_kill               wamp.session.kill ends the other session
//	publish_acknowledged_error an acknowledged publish to an invalid URI gets ERROR
//	event_history              wamp.subscription.get_events (targets with history configured)
//	progressive_call_invocations a call's args sent in chunks reach one invocation
var AdvancedScenarios = []Scenario{
	{"pattern_subscription", patternSubscription, 2},
	{"pattern_registration", patternRegistration, 3},
	{"shared_registration", sharedRegistration, 3},
	{"caller_identification", callerIdentification, 2},
	{"publisher_identification", publisherIdentification, 2},
	{"subscriber_blacklisting", subscriberBlacklisting, 3},
	{"progressive_call_results", progressiveCallResults, 2},
	{"call_canceling", callCanceling, 2},
	{"call_timeout", callTimeout, 2},
	{"event_retention", eventRetention, 2},
	{"session_meta_api", sessionMetaAPI, 2},
	{"registration_meta_api", registrationMetaAPI, 2},
	{"testament", testamentScenario, 2},
	{"subscription_meta_api", subscriptionMetaAPI, 2},
	{"session_kill", sessionKill, 2},
	{"publish_acknowledged_error", publishAcknowledgedError, 1},
	{"event_history", eventHistory, 2},
	{"progressive_call_invocations", progressiveCallInvocations, 2},
}

func patternSubscription(t *testing.T, e *env) {
	sub, pub := e.connect(t), e.connect(t)
	prefix := make(chan Event, 2)
	wild := make(chan Event, 2)
	_, err := sub.Subscribe(e.timeout, e.uri("p"), func(ev Event) { prefix <- ev }, SubscribeOptions{Match: "prefix"})
	must(t, err)
	_, err = sub.Subscribe(e.timeout, e.uri("w")+"..end", func(ev Event) { wild <- ev }, SubscribeOptions{Match: "wildcard"})
	must(t, err)
	must(t, pub.Publish(e.timeout, e.uri("p.deep.topic"), []any{1}, nil, PublishOptions{Acknowledge: true}))
	must(t, pub.Publish(e.timeout, e.uri("w.any.end"), []any{2}, nil, PublishOptions{Acknowledge: true}))
	if ev := recv(t, e, prefix); ev.Details["topic"] != e.uri("p.deep.topic") {
		t.Fatalf("prefix event details %v", ev.Details)
	}
	if ev := recv(t, e, wild); ev.Details["topic"] != e.uri("w.any.end") || !Equal(ev.Args, []any{2}) {
		t.Fatalf("wildcard event %v %v", ev.Details, ev.Args)
	}
}

func patternRegistration(t *testing.T, e *env) {
	exact, pattern, caller := e.connect(t), e.connect(t), e.connect(t)
	answer := func(name string) Handler {
		return func(_ context.Context, inv Invocation) ([]any, map[string]any, error) {
			return []any{name, inv.Details["procedure"]}, nil, nil
		}
	}
	_, err := exact.Register(e.timeout, e.uri("api.get"), answer("exact"), RegisterOptions{})
	must(t, err)
	_, err = pattern.Register(e.timeout, e.uri("api"), answer("prefix"), RegisterOptions{Match: "prefix"})
	must(t, err)
	_, err = pattern.Register(e.timeout, e.uri("api")+"..x", answer("wildcard"), RegisterOptions{Match: "wildcard"})
	must(t, err)
	for proc, want := range map[string][]any{
		e.uri("api.get"):   {"exact", nil},
		e.uri("api.put"):   {"prefix", e.uri("api.put")},
		e.uri("api.put.x"): {"prefix", e.uri("api.put.x")}, // prefix wins over wildcard
	} {
		args, _, err := caller.Call(e.timeout, proc, nil, nil, CallOptions{})
		must(t, err)
		if !Equal(args[0], want[0]) || (want[1] != nil && !Equal(args[1], want[1])) {
			t.Errorf("call %s went to %v", proc, args)
		}
	}
}

func sharedRegistration(t *testing.T, e *env) {
	a, b, caller := e.connect(t), e.connect(t), e.connect(t)
	for i, c := range []Client{a, b} {
		name := []string{"a", "b"}[i]
		_, err := c.Register(e.timeout, e.uri("shared"), func(context.Context, Invocation) ([]any, map[string]any, error) {
			return []any{name}, nil, nil
		}, RegisterOptions{Invoke: "roundrobin"})
		must(t, err)
	}
	var got []any
	for range 4 {
		args, _, err := caller.Call(e.timeout, e.uri("shared"), nil, nil, CallOptions{})
		must(t, err)
		got = append(got, args[0])
	}
	if Equal(got[0], got[1]) || !Equal(got[0], got[2]) || !Equal(got[1], got[3]) {
		t.Fatalf("roundrobin answered %v", got)
	}
	_, err := caller.Register(e.timeout, e.uri("shared"), echo, RegisterOptions{Invoke: "random"})
	wantCallError(t, err, "wamp.error.procedure_already_exists")
}

func callerIdentification(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	_, err := callee.Register(e.timeout, e.uri("who"), func(_ context.Context, inv Invocation) ([]any, map[string]any, error) {
		return []any{inv.Details["caller"]}, nil, nil
	}, RegisterOptions{})
	must(t, err)
	args, _, err := caller.Call(e.timeout, e.uri("who"), nil, nil, CallOptions{DiscloseMe: true})
	must(t, err)
	if !Equal(args[0], caller.ID()) {
		t.Fatalf("callee saw caller %v, want %d", args[0], caller.ID())
	}
}

func publisherIdentification(t *testing.T, e *env) {
	sub, pub := e.connect(t), e.connect(t)
	events := make(chan Event, 1)
	_, err := sub.Subscribe(e.timeout, e.uri("t"), func(ev Event) { events <- ev }, SubscribeOptions{})
	must(t, err)
	must(t, pub.Publish(e.timeout, e.uri("t"), nil, nil, PublishOptions{Acknowledge: true, DiscloseMe: true}))
	if ev := recv(t, e, events); !Equal(ev.Details["publisher"], pub.ID()) {
		t.Fatalf("details %v, want publisher %d", ev.Details, pub.ID())
	}
}

func subscriberBlacklisting(t *testing.T, e *env) {
	a, b, pub := e.connect(t), e.connect(t), e.connect(t)
	toA := make(chan Event, 4)
	toB := make(chan Event, 4)
	_, err := a.Subscribe(e.timeout, e.uri("t"), func(ev Event) { toA <- ev }, SubscribeOptions{})
	must(t, err)
	_, err = b.Subscribe(e.timeout, e.uri("t"), func(ev Event) { toB <- ev }, SubscribeOptions{})
	must(t, err)
	must(t, pub.Publish(e.timeout, e.uri("t"), []any{"not for a"}, nil, PublishOptions{Acknowledge: true, Exclude: []uint64{a.ID()}}))
	must(t, pub.Publish(e.timeout, e.uri("t"), []any{"only for a"}, nil, PublishOptions{Acknowledge: true, Eligible: []uint64{a.ID()}}))
	if ev := recv(t, e, toA); !Equal(ev.Args, []any{"only for a"}) {
		t.Fatalf("a got %v first", ev.Args)
	}
	if ev := recv(t, e, toB); !Equal(ev.Args, []any{"not for a"}) {
		t.Fatalf("b got %v", ev.Args)
	}
	must(t, pub.Publish(e.timeout, e.uri("t"), []any{"all"}, nil, PublishOptions{Acknowledge: true}))
	if ev := recv(t, e, toB); !Equal(ev.Args, []any{"all"}) {
		t.Fatalf("b got %v, which was only for a", ev.Args)
	}
}

func progressiveCallResults(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	_, err := callee.Register(e.timeout, e.uri("count"), func(ctx context.Context, inv Invocation) ([]any, map[string]any, error) {
		for i := range 3 {
			if err := inv.Progress(ctx, []any{i}); err != nil {
				return nil, nil, err
			}
		}
		return []any{"done"}, nil, nil
	}, RegisterOptions{})
	must(t, err)
	var mu sync.Mutex
	var progress []any
	args, _, err := caller.Call(e.timeout, e.uri("count"), nil, nil, CallOptions{OnProgress: func(a []any) {
		mu.Lock()
		progress = append(progress, a[0])
		mu.Unlock()
	}})
	must(t, err)
	mu.Lock()
	defer mu.Unlock()
	if !Equal(args, []any{"done"}) || !Equal(progress, []any{0, 1, 2}) {
		t.Fatalf("final %v, progress %v", args, progress)
	}
}

func callCanceling(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	started := make(chan struct{})
	interrupted := make(chan struct{})
	_, err := callee.Register(e.timeout, e.uri("long"), func(ctx context.Context, _ Invocation) ([]any, map[string]any, error) {
		close(started)
		select {
		case <-ctx.Done():
			close(interrupted)
			return nil, nil, ctx.Err()
		case <-e.timeout.Done():
			return nil, nil, errors.New("never interrupted")
		}
	}, RegisterOptions{})
	must(t, err)
	ctx, cancel := context.WithCancel(e.timeout)
	errc := make(chan error, 1)
	go func() {
		_, _, err := caller.Call(ctx, e.uri("long"), nil, nil, CallOptions{})
		errc <- err
	}()
	recv(t, e, started)
	cancel()
	if err := recv(t, e, errc); err == nil {
		t.Fatal("canceled call returned a result")
	}
	recv(t, e, interrupted) // the router sent INTERRUPT and the callee's ctx ended
}

func callTimeout(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	_, err := callee.Register(e.timeout, e.uri("slow"), func(ctx context.Context, _ Invocation) ([]any, map[string]any, error) {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}, RegisterOptions{})
	must(t, err)
	_, _, err = caller.Call(e.timeout, e.uri("slow"), nil, nil, CallOptions{Timeout: 100 * time.Millisecond})
	wantCallError(t, err, "wamp.error.timeout")
}

func eventRetention(t *testing.T, e *env) {
	pub, sub := e.connect(t), e.connect(t)
	must(t, pub.Publish(e.timeout, e.uri("state"), []any{"old"}, nil, PublishOptions{Acknowledge: true, Retain: true}))
	must(t, pub.Publish(e.timeout, e.uri("state"), []any{"current"}, nil, PublishOptions{Acknowledge: true, Retain: true}))
	events := make(chan Event, 2)
	_, err := sub.Subscribe(e.timeout, e.uri("state"), func(ev Event) { events <- ev }, SubscribeOptions{GetRetained: true})
	must(t, err)
	ev := recv(t, e, events)
	if !Equal(ev.Args, []any{"current"}) || ev.Details["retained"] != true {
		t.Fatalf("retained event %v %v", ev.Args, ev.Details)
	}
}

func sessionMetaAPI(t *testing.T, e *env) {
	watcher := e.connect(t)
	joins := make(chan Event, 16)
	_, err := watcher.Subscribe(e.timeout, "wamp.session.on_join", func(ev Event) { joins <- ev }, SubscribeOptions{})
	must(t, err)
	other := e.connect(t)
	for {
		ev := recv(t, e, joins) // sessions of parallel scenarios join too
		if d, ok := Normalize(ev.Args[0]).(map[string]any); ok && Equal(d["session"], other.ID()) {
			break
		}
	}
	args, _, err := watcher.Call(e.timeout, "wamp.session.get", []any{other.ID()}, nil, CallOptions{})
	must(t, err)
	if d, _ := Normalize(args[0]).(map[string]any); !Equal(d["session"], other.ID()) {
		t.Fatalf("wamp.session.get: %v", args)
	}
	args, _, err = watcher.Call(e.timeout, "wamp.session.count", nil, nil, CallOptions{})
	must(t, err)
	if n, _ := Normalize(args[0]).(float64); n < 2 {
		t.Fatalf("wamp.session.count: %v", args)
	}
	_, _, err = watcher.Call(e.timeout, "wamp.session.get", []any{1}, nil, CallOptions{})
	wantCallError(t, err, "wamp.error.no_such_session")
}

func registrationMetaAPI(t *testing.T, e *env) {
	callee, watcher := e.connect(t), e.connect(t)
	_, err := callee.Register(e.timeout, e.uri("meta.target"), echo, RegisterOptions{})
	must(t, err)
	args, _, err := watcher.Call(e.timeout, "wamp.registration.lookup", []any{e.uri("meta.target")}, nil, CallOptions{})
	must(t, err)
	if args[0] == nil {
		t.Fatal("lookup found no registration")
	}
	callees, _, err := watcher.Call(e.timeout, "wamp.registration.list_callees", []any{args[0]}, nil, CallOptions{})
	must(t, err)
	if !Equal(callees[0], []any{callee.ID()}) {
		t.Fatalf("list_callees %v, want [%d]", callees, callee.ID())
	}
}

func testamentScenario(t *testing.T, e *env) {
	leaver, watcher := e.connect(t), e.connect(t)
	events := make(chan Event, 1)
	_, err := watcher.Subscribe(e.timeout, e.uri("gone"), func(ev Event) { events <- ev }, SubscribeOptions{})
	must(t, err)
	_, _, err = leaver.Call(e.timeout, "wamp.session.add_testament", []any{e.uri("gone"), []any{"bye"}, map[string]any{}}, nil, CallOptions{})
	must(t, err)
	must(t, leaver.Close(e.timeout))
	if ev := recv(t, e, events); !Equal(ev.Args, []any{"bye"}) {
		t.Fatalf("testament %v", ev.Args)
	}
}

func subscriptionMetaAPI(t *testing.T, e *env) {
	sub, watcher := e.connect(t), e.connect(t)
	onSubscribe := make(chan Event, 16)
	_, err := watcher.Subscribe(e.timeout, "wamp.subscription.on_subscribe", func(ev Event) { onSubscribe <- ev }, SubscribeOptions{})
	must(t, err)
	_, err = sub.Subscribe(e.timeout, e.uri("watched"), func(Event) {}, SubscribeOptions{})
	must(t, err)
	for { // subscriptions of parallel scenarios show up too
		if ev := recv(t, e, onSubscribe); Equal(ev.Args[0], sub.ID()) {
			break
		}
	}
	args, _, err := watcher.Call(e.timeout, "wamp.subscription.lookup", []any{e.uri("watched")}, nil, CallOptions{})
	must(t, err)
	if args[0] == nil {
		t.Fatal("lookup found no subscription")
	}
	n, _, err := watcher.Call(e.timeout, "wamp.subscription.count_subscribers", []any{args[0]}, nil, CallOptions{})
	must(t, err)
	if !Equal(n[0], 1) {
		t.Fatalf("count_subscribers %v", n)
	}
}

func sessionKill(t *testing.T, e *env) {
	victim, killer := e.connect(t), e.connect(t)
	_, _, err := killer.Call(e.timeout, "wamp.session.kill", []any{victim.ID()}, map[string]any{"reason": "com.example.bye"}, CallOptions{})
	must(t, err)
	recv(t, e, victim.Done())
	_, _, err = killer.Call(e.timeout, "wamp.session.kill", []any{killer.ID()}, nil, CallOptions{})
	wantCallError(t, err, "wamp.error.no_such_session")
}

func publishAcknowledgedError(t *testing.T, e *env) {
	c := e.connect(t)
	err := c.Publish(e.timeout, "com.bad uri", nil, nil, PublishOptions{Acknowledge: true})
	wantCallError(t, err, "wamp.error.invalid_uri")
}

func eventHistory(t *testing.T, e *env) {
	if e.history == "" {
		t.Skip("the target keeps no event history for the scenarios' topics")
	}
	pub, reader := e.connect(t), e.connect(t)
	subID := make(chan any, 1)
	_, err := reader.Subscribe(e.timeout, e.uri("log"), func(Event) {}, SubscribeOptions{})
	must(t, err)
	for i := range 3 {
		must(t, pub.Publish(e.timeout, e.uri("log"), []any{i}, nil, PublishOptions{Acknowledge: true}))
	}
	args, _, err := reader.Call(e.timeout, "wamp.subscription.lookup", []any{e.uri("log")}, nil, CallOptions{})
	must(t, err)
	subID <- args[0]
	events, _, err := reader.Call(e.timeout, "wamp.subscription.get_events", []any{<-subID}, map[string]any{"limit": 2}, CallOptions{})
	must(t, err)
	list, _ := Normalize(events[0]).([]any)
	if len(list) != 2 {
		t.Fatalf("get_events returned %v", events)
	}
	first, _ := list[0].(map[string]any)
	if !Equal(first["args"], []any{0}) {
		t.Fatalf("first event %v", first)
	}
}

func progressiveCallInvocations(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	cc, ok := caller.(ChunkCaller)
	if !ok {
		t.Skip("this driver cannot make progressive call invocations")
	}
	noChunks := make(chan struct{}, 1)
	_, err := callee.Register(e.timeout, e.uri("sum"), func(ctx context.Context, inv Invocation) ([]any, map[string]any, error) {
		if inv.NextChunk == nil {
			noChunks <- struct{}{}
			return nil, nil, errors.New("no chunk API")
		}
		var sum float64
		add := func(args []any) {
			if len(args) > 0 {
				n, _ := Normalize(args[0]).(float64)
				sum += n
			}
		}
		add(inv.Args)
		for {
			args, ok, err := inv.NextChunk(ctx)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				return []any{sum}, nil, nil
			}
			add(args)
		}
	}, RegisterOptions{})
	must(t, err)
	res, err := cc.CallChunks(e.timeout, e.uri("sum"), []any{1}, [][]any{{2}, {3}, {4}})
	select {
	case <-noChunks:
		t.Skip("the callee's driver has no API for progressive call invocations")
	default:
	}
	must(t, err)
	if !Equal(res, []any{10}) {
		t.Fatalf("sum of chunks %v", res)
	}
}
