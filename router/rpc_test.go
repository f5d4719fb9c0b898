package router

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

func register(t testing.TB, p *fakePeer, req wamp.ID, proc wamp.URI) wamp.ID {
	t.Helper()
	p.in <- &wamp.Register{Request: req, Options: wamp.Dict{}, Procedure: proc}
	r := expectType[*wamp.Registered](t, p)
	if r.Request != req {
		t.Fatalf("REGISTERED for %d, want %d", r.Request, req)
	}
	return r.Registration
}

func encodedPayload(t testing.TB, serializer string, args []any, kwargs map[string]any) wamp.Payload {
	t.Helper()
	ser, _ := serializers.ByName(serializer)
	p, err := serializers.EncodePayload(ser.Encoding(), args, kwargs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCallRoundTrip(t *testing.T) {
	t.Parallel()
	for _, pair := range [][2]string{{"json", "json"}, {"msgpack", "msgpack"}, {"cbor", "cbor"}, {"json", "msgpack"}, {"cbor", "json"}, {"msgpack", "cbor"}} {
		t.Run(pair[0]+"_to_"+pair[1], func(t *testing.T) {
			t.Parallel()
			r := newTestRouter(t, Config{})
			caller, _ := join(t, r, pair[0])
			callee, _ := join(t, r, pair[1])
			regID := register(t, callee, 1, "com.example.add2")

			payload := encodedPayload(t, pair[0], []any{int64(2), int64(3), []byte{0, 1, 2}}, map[string]any{"k": "v"})
			caller.in <- &wamp.Call{Request: 7, Options: wamp.Dict{}, Procedure: "com.example.add2", Payload: payload}
			inv := expectType[*wamp.Invocation](t, callee)
			if inv.Registration != regID {
				t.Fatalf("INVOCATION registration %d, want %d", inv.Registration, regID)
			}
			if pair[0] == pair[1] && !bytes.Equal(inv.RawArgs, payload.RawArgs) {
				t.Fatalf("args not passed through: %q != %q", inv.RawArgs, payload.RawArgs)
			}
			got := args(t, &inv.Payload)
			if len(got) != 3 || fmt.Sprint(got[2]) != fmt.Sprint([]byte{0, 1, 2}) {
				t.Fatalf("INVOCATION args %#v", got)
			}
			callee.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: encodedPayload(t, pair[1], []any{int64(5)}, nil)}
			res := expectType[*wamp.Result](t, caller)
			if res.Request != 7 || fmt.Sprint(args(t, &res.Payload)) != "[5]" {
				t.Fatalf("RESULT %d %v", res.Request, args(t, &res.Payload))
			}
		})
	}
}

func TestCalleeError(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	caller, _ := join(t, r, "json")
	callee, _ := join(t, r, "json")
	register(t, callee, 1, "com.example.fail")
	caller.in <- &wamp.Call{Request: 3, Options: wamp.Dict{}, Procedure: "com.example.fail"}
	inv := expectType[*wamp.Invocation](t, callee)
	callee.in <- &wamp.Error{Type: wamp.INVOCATION, Request: inv.Request, Details: wamp.Dict{}, Error: "com.example.oops",
		Payload: encodedPayload(t, "json", []any{"bad"}, map[string]any{"code": int64(4)})}
	e := expectError(t, caller, wamp.CALL, 3, "com.example.oops")
	if fmt.Sprint(args(t, &e.Payload)) != "[bad]" {
		t.Fatalf("error args %v", args(t, &e.Payload))
	}
}

func TestDealerErrors(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{StrictURI: true})
	a, _ := join(t, r, "json")
	b, _ := join(t, r, "json")
	register(t, a, 1, "com.example.p")

	b.in <- &wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "com.example.p"}
	expectError(t, b, wamp.REGISTER, 1, wamp.ErrProcedureAlreadyExists)
	b.in <- &wamp.Call{Request: 2, Options: wamp.Dict{}, Procedure: "com.example.none"}
	e := expectError(t, b, wamp.CALL, 2, wamp.ErrNoSuchProcedure)
	if len(args(t, &e.Payload)) == 0 {
		t.Error("no_such_procedure carries no message")
	}
	b.in <- &wamp.Register{Request: 3, Options: wamp.Dict{}, Procedure: "com.Example.upper"}
	expectError(t, b, wamp.REGISTER, 3, wamp.ErrInvalidURI)
	b.in <- &wamp.Call{Request: 4, Options: wamp.Dict{}, Procedure: "bad..uri"}
	expectError(t, b, wamp.CALL, 4, wamp.ErrInvalidURI)
	b.in <- &wamp.Unregister{Request: 5, Registration: 999}
	expectError(t, b, wamp.UNREGISTER, 5, wamp.ErrNoSuchRegistration)

	// Someone else's registration cannot be unregistered.
	reg := r.realm("realm1").Dealer.Match("com.example.p")
	b.in <- &wamp.Unregister{Request: 7, Registration: reg.ID}
	expectError(t, b, wamp.UNREGISTER, 7, wamp.ErrNoSuchRegistration)

	a.in <- &wamp.Unregister{Request: 8, Registration: reg.ID}
	expectType[*wamp.Unregistered](t, a)
	b.in <- &wamp.Call{Request: 9, Options: wamp.Dict{}, Procedure: "com.example.p"}
	expectError(t, b, wamp.CALL, 9, wamp.ErrNoSuchProcedure)
}

func TestCalleeLeavesMidCall(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	caller, _ := join(t, r, "json")
	callee, _ := join(t, r, "msgpack")
	register(t, callee, 1, "com.example.slow")
	caller.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "com.example.slow"}
	caller.in <- &wamp.Call{Request: 2, Options: wamp.Dict{}, Procedure: "com.example.slow"}
	expectType[*wamp.Invocation](t, callee)
	expectType[*wamp.Invocation](t, callee)
	callee.Close(transport.CloseGoingAway, "gone")
	seen := map[wamp.ID]bool{}
	for range 2 {
		e := expectType[*wamp.Error](t, caller)
		if e.Error != wamp.ErrCanceled || e.Type != wamp.CALL {
			t.Fatalf("got %s for %s", e.Error, e.Type)
		}
		seen[e.Request] = true
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("errors for %v", seen)
	}
	caller.in <- &wamp.Call{Request: 3, Options: wamp.Dict{}, Procedure: "com.example.slow"}
	expectError(t, caller, wamp.CALL, 3, wamp.ErrNoSuchProcedure)
}

func TestUnknownYieldIgnored(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	p, _ := join(t, r, "json")
	p.in <- &wamp.Yield{Request: 42, Options: wamp.Dict{}}
	p.in <- &wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "a.b"}
	expectType[*wamp.Subscribed](t, p)
}
