package testsuite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Scenario is one protocol behaviour, checked through Client.
type Scenario struct {
	Name string
	Run  func(t *testing.T, e *env)
	// Peers is how many clients the scenario connects; mixed runs give each a
	// different driver or serializer.
	Peers int
}

// Scenarios is the Basic Profile suite.
//
//	join_leave                 a session joins and says goodbye
//	call_args_kwargs           args and kwargs of many types survive a call both ways
//	call_no_args               a call without payload returns an empty result
//	callee_error               a callee's error URI, args and kwargs reach the caller
//	no_such_procedure          calling an unregistered procedure
//	procedure_already_exists   a second session registering the same procedure
//	unregister                 after UNREGISTER, calls fail with no_such_procedure
//	callee_leaves_mid_call     the caller gets an error, not a hang
//	publish_subscribe          an acknowledged publication reaches a subscriber
//	publisher_exclusion        excluded by default; exclude_me=false opts back in
//	each_subscriber_once       every subscriber gets every event exactly once
//	unsubscribe                no event after UNSUBSCRIBE
//	event_order                events of one publisher arrive in publish order
//	binary_payload             []byte round trips (JSON's \u0000+base64 convention)
//	large_payload              a 1 MiB argument
//	concurrent_calls           200 calls in flight from one caller
//	invalid_uri                registering or subscribing an invalid URI
var Scenarios = []Scenario{
	{"join_leave", joinLeave, 1},
	{"call_args_kwargs", callArgsKwargs, 2},
	{"call_no_args", callNoArgs, 2},
	{"callee_error", calleeError, 2},
	{"no_such_procedure", noSuchProcedure, 1},
	{"procedure_already_exists", procedureAlreadyExists, 2},
	{"unregister", unregister, 2},
	{"callee_leaves_mid_call", calleeLeavesMidCall, 2},
	{"publish_subscribe", publishSubscribe, 2},
	{"publisher_exclusion", publisherExclusion, 2},
	{"each_subscriber_once", eachSubscriberOnce, 4},
	{"unsubscribe", unsubscribe, 2},
	{"event_order", eventOrder, 2},
	{"binary_payload", binaryPayload, 2},
	{"large_payload", largePayload, 2},
	{"concurrent_calls", concurrentCalls, 2},
	{"invalid_uri", invalidURI, 1},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCallError(t *testing.T, err error, uri string) *CallError {
	t.Helper()
	var ce *CallError
	if !errors.As(err, &ce) || ce.URI != uri {
		t.Fatalf("got error %v, want %s", err, uri)
	}
	return ce
}

func echo(_ context.Context, inv Invocation) ([]any, map[string]any, error) {
	return inv.Args, inv.Kwargs, nil
}

// recv waits for a value from ch, failing when the scenario's time is up.
func recv[T any](t *testing.T, e *env, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-e.timeout.Done():
		t.Fatal("timed out waiting for a message")
		var zero T
		return zero
	}
}

func joinLeave(t *testing.T, e *env) {
	c := e.connect(t)
	if c.ID() == 0 {
		t.Fatal("session id 0")
	}
	must(t, c.Close(e.timeout))
}

func callArgsKwargs(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	_, err := callee.Register(e.timeout, e.uri("echo"), echo, RegisterOptions{})
	must(t, err)
	args := []any{"text", "ünïcödé ✓", 42, -7, 3.25, true, false, nil, []any{1, "two", []any{3}}, map[string]any{"nested": map[string]any{"x": 1}}, ""}
	kwargs := map[string]any{"a": 1, "b": "two", "c": []any{true}, "d": map[string]any{}}
	gotArgs, gotKwargs, err := caller.Call(e.timeout, e.uri("echo"), args, kwargs, CallOptions{})
	must(t, err)
	if !Equal(gotArgs, args) {
		t.Errorf("args:\n got %#v\nwant %#v", Normalize(gotArgs), Normalize(args))
	}
	if !Equal(gotKwargs, kwargs) {
		t.Errorf("kwargs:\n got %#v\nwant %#v", Normalize(gotKwargs), Normalize(kwargs))
	}
}

func callNoArgs(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	_, err := callee.Register(e.timeout, e.uri("nothing"), func(context.Context, Invocation) ([]any, map[string]any, error) {
		return nil, nil, nil
	}, RegisterOptions{})
	must(t, err)
	args, kwargs, err := caller.Call(e.timeout, e.uri("nothing"), nil, nil, CallOptions{})
	must(t, err)
	if len(args) != 0 || len(kwargs) != 0 {
		t.Fatalf("got %v %v", args, kwargs)
	}
}

func calleeError(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	_, err := callee.Register(e.timeout, e.uri("fail"), func(context.Context, Invocation) ([]any, map[string]any, error) {
		return nil, nil, &CallError{URI: "com.example.error.not_today", Args: []any{"sorry", 7}, Kwargs: map[string]any{"retry": true}}
	}, RegisterOptions{})
	must(t, err)
	_, _, err = caller.Call(e.timeout, e.uri("fail"), nil, nil, CallOptions{})
	ce := wantCallError(t, err, "com.example.error.not_today")
	if !Equal(ce.Args, []any{"sorry", 7}) || !Equal(ce.Kwargs, map[string]any{"retry": true}) {
		t.Fatalf("error payload %v %v", ce.Args, ce.Kwargs)
	}
}

func noSuchProcedure(t *testing.T, e *env) {
	c := e.connect(t)
	_, _, err := c.Call(e.timeout, e.uri("nobody.home"), nil, nil, CallOptions{})
	wantCallError(t, err, "wamp.error.no_such_procedure")
}

func procedureAlreadyExists(t *testing.T, e *env) {
	a, b := e.connect(t), e.connect(t)
	_, err := a.Register(e.timeout, e.uri("mine"), echo, RegisterOptions{})
	must(t, err)
	_, err = b.Register(e.timeout, e.uri("mine"), echo, RegisterOptions{})
	wantCallError(t, err, "wamp.error.procedure_already_exists")
}

func unregister(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	unreg, err := callee.Register(e.timeout, e.uri("temp"), echo, RegisterOptions{})
	must(t, err)
	_, _, err = caller.Call(e.timeout, e.uri("temp"), []any{1}, nil, CallOptions{})
	must(t, err)
	must(t, unreg(e.timeout))
	_, _, err = caller.Call(e.timeout, e.uri("temp"), []any{1}, nil, CallOptions{})
	wantCallError(t, err, "wamp.error.no_such_procedure")
}

func calleeLeavesMidCall(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	_, err := callee.Register(e.timeout, e.uri("slow"), func(ctx context.Context, _ Invocation) ([]any, map[string]any, error) {
		close(started)
		select {
		case <-ctx.Done():
		case <-release:
		}
		return nil, nil, errors.New("interrupted")
	}, RegisterOptions{})
	must(t, err)
	errc := make(chan error, 1)
	go func() {
		_, _, err := caller.Call(e.timeout, e.uri("slow"), nil, nil, CallOptions{})
		errc <- err
	}()
	recv(t, e, started)
	go func() { _ = callee.Close(e.timeout) }()
	err = recv(t, e, errc)
	var ce *CallError
	if !errors.As(err, &ce) {
		t.Fatalf("caller got %v, want a WAMP error", err)
	}
	if ce.URI != "wamp.error.canceled" && ce.URI != "wamp.error.cancelled" {
		t.Logf("caller got %s (the Basic Profile asks for wamp.error.canceled)", ce.URI)
		t.Fail()
	}
}

func publishSubscribe(t *testing.T, e *env) {
	sub, pub := e.connect(t), e.connect(t)
	events := make(chan Event, 1)
	_, err := sub.Subscribe(e.timeout, e.uri("topic"), func(ev Event) { events <- ev }, SubscribeOptions{})
	must(t, err)
	must(t, pub.Publish(e.timeout, e.uri("topic"), []any{"hello", 1}, map[string]any{"k": "v"}, PublishOptions{Acknowledge: true}))
	ev := recv(t, e, events)
	if !Equal(ev.Args, []any{"hello", 1}) || !Equal(ev.Kwargs, map[string]any{"k": "v"}) {
		t.Fatalf("event %v %v", ev.Args, ev.Kwargs)
	}
}

func publisherExclusion(t *testing.T, e *env) {
	pub, other := e.connect(t), e.connect(t)
	own := make(chan Event, 4)
	theirs := make(chan Event, 4)
	_, err := pub.Subscribe(e.timeout, e.uri("t"), func(ev Event) { own <- ev }, SubscribeOptions{})
	must(t, err)
	_, err = other.Subscribe(e.timeout, e.uri("t"), func(ev Event) { theirs <- ev }, SubscribeOptions{})
	must(t, err)
	must(t, pub.Publish(e.timeout, e.uri("t"), []any{"excluded"}, nil, PublishOptions{Acknowledge: true}))
	no := false
	must(t, pub.Publish(e.timeout, e.uri("t"), []any{"included"}, nil, PublishOptions{Acknowledge: true, ExcludeMe: &no}))
	// Events from one publisher arrive in order: the publisher's first event
	// must be the second publication.
	if ev := recv(t, e, own); !Equal(ev.Args, []any{"included"}) {
		t.Fatalf("publisher received %v: it was not excluded by default", ev.Args)
	}
	if ev := recv(t, e, theirs); !Equal(ev.Args, []any{"excluded"}) {
		t.Fatalf("other subscriber got %v first", ev.Args)
	}
	recv(t, e, theirs)
}

func eachSubscriberOnce(t *testing.T, e *env) {
	const n = 20
	var subs []chan Event
	for range 3 {
		c := e.connect(t)
		ch := make(chan Event, n+1)
		_, err := c.Subscribe(e.timeout, e.uri("fanout"), func(ev Event) { ch <- ev }, SubscribeOptions{})
		must(t, err)
		subs = append(subs, ch)
	}
	pub := e.connect(t)
	for i := range n {
		must(t, pub.Publish(e.timeout, e.uri("fanout"), []any{i}, nil, PublishOptions{Acknowledge: i == n-1}))
	}
	must(t, pub.Publish(e.timeout, e.uri("fanout"), []any{"end"}, nil, PublishOptions{Acknowledge: true}))
	for s, ch := range subs {
		for i := range n {
			if ev := recv(t, e, ch); !Equal(ev.Args, []any{i}) {
				t.Fatalf("subscriber %d event %d: %v", s, i, ev.Args)
			}
		}
		if ev := recv(t, e, ch); !Equal(ev.Args, []any{"end"}) {
			t.Fatalf("subscriber %d got an extra event %v", s, ev.Args)
		}
	}
}

func unsubscribe(t *testing.T, e *env) {
	sub, pub := e.connect(t), e.connect(t)
	one := make(chan Event, 2)
	two := make(chan Event, 2)
	unsub, err := sub.Subscribe(e.timeout, e.uri("one"), func(ev Event) { one <- ev }, SubscribeOptions{})
	must(t, err)
	_, err = sub.Subscribe(e.timeout, e.uri("two"), func(ev Event) { two <- ev }, SubscribeOptions{})
	must(t, err)
	must(t, unsub(e.timeout))
	must(t, pub.Publish(e.timeout, e.uri("one"), []any{"late"}, nil, PublishOptions{Acknowledge: true}))
	must(t, pub.Publish(e.timeout, e.uri("two"), []any{"marker"}, nil, PublishOptions{Acknowledge: true}))
	recv(t, e, two) // the router routed both publications by now, in order
	select {
	case ev := <-one:
		t.Fatalf("event %v after unsubscribe", ev.Args)
	default:
	}
}

func eventOrder(t *testing.T, e *env) {
	const n = 100
	sub, pub := e.connect(t), e.connect(t)
	events := make(chan Event, n)
	_, err := sub.Subscribe(e.timeout, e.uri("seq"), func(ev Event) { events <- ev }, SubscribeOptions{})
	must(t, err)
	for i := range n {
		must(t, pub.Publish(e.timeout, e.uri("seq"), []any{i}, nil, PublishOptions{Acknowledge: i%25 == 0}))
	}
	for i := range n {
		if ev := recv(t, e, events); !Equal(ev.Args, []any{i}) {
			t.Fatalf("event %d arrived as %v", i, ev.Args)
		}
	}
}

func binaryPayload(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	_, err := callee.Register(e.timeout, e.uri("bin"), func(_ context.Context, inv Invocation) ([]any, map[string]any, error) {
		b, ok := Normalize(inv.Args[0]).([]byte)
		if !ok {
			return nil, nil, fmt.Errorf("callee got %T, not binary", inv.Args[0])
		}
		return []any{append(bytes.Clone(b), 0xff)}, nil, nil
	}, RegisterOptions{})
	must(t, err)
	args, _, err := caller.Call(e.timeout, e.uri("bin"), []any{[]byte{0, 1, 2, 254}}, nil, CallOptions{})
	must(t, err)
	if !Equal(args, []any{[]byte{0, 1, 2, 254, 255}}) {
		t.Fatalf("got %#v", Normalize(args))
	}
}

func largePayload(t *testing.T, e *env) {
	callee, caller := e.connect(t), e.connect(t)
	_, err := callee.Register(e.timeout, e.uri("big"), echo, RegisterOptions{})
	must(t, err)
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	args, _, err := caller.Call(e.timeout, e.uri("big"), []any{big}, nil, CallOptions{})
	must(t, err)
	if len(args) != 1 || args[0] != big {
		t.Fatal("1 MiB argument changed on the way")
	}
}

func concurrentCalls(t *testing.T, e *env) {
	const n = 200
	callee, caller := e.connect(t), e.connect(t)
	_, err := callee.Register(e.timeout, e.uri("echo"), echo, RegisterOptions{})
	must(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			args, _, err := caller.Call(e.timeout, e.uri("echo"), []any{i}, nil, CallOptions{})
			if err == nil && !Equal(args, []any{i}) {
				err = fmt.Errorf("call %d returned %v", i, args)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func invalidURI(t *testing.T, e *env) {
	c := e.connect(t)
	_, err := c.Register(e.timeout, "com.example.bad uri", echo, RegisterOptions{})
	wantCallError(t, err, "wamp.error.invalid_uri")
	_, err = c.Subscribe(e.timeout, "com..bad#topic", func(Event) {}, SubscribeOptions{})
	wantCallError(t, err, "wamp.error.invalid_uri")
}
