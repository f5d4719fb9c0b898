package hostile

import (
	"fmt"
	"testing"

	"github.com/junction-wamp/junction/clientlib"
)

// TestDiscloseCallerNever: in a realm with disclose_caller = "never", whose
// role's permission even says disclose_caller = true, REGISTER with
// disclose_caller=true gets ERROR wamp.error.option_not_allowed, CALL with
// disclose_me ERROR wamp.error.disclose_me.not_allowed, and no INVOCATION
// carries the caller's identity.
func TestDiscloseCallerNever(t *testing.T) {
	t.Parallel()
	j := start(t, `
[[realms]]
name = "realm1"
auth = ["anonymous"]
disclose_caller = "never"

[[realms.roles]]
name = "anonymous"
[[realms.roles.permissions]]
uri = ""
match = "prefix"
call = true
register = true
publish = true
subscribe = true
disclose_caller = true
`)
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	callee := Dial(t, j.URL(), JSON, DialOptions{})
	callee.Join(t, "realm1")
	callee.Send(t, REGISTER, 1, map[string]any{"disclose_caller": true}, "app.one")
	if m := callee.Recv(t); m.Type() != ERROR || m.Reason() != "wamp.error.option_not_allowed" {
		t.Errorf("REGISTER disclose_caller=true: %v, want ERROR wamp.error.option_not_allowed", clipMsg(m))
	}
	callee.Send(t, REGISTER, 2, map[string]any{}, "app.two")
	callee.Expect(t, REGISTERED)
	callee.Send(t, REGISTER, 3, map[string]any{"match": "prefix"}, "app.pre")
	callee.Expect(t, REGISTERED)

	caller := Dial(t, j.URL(), JSON, DialOptions{})
	caller.Join(t, "realm1")
	caller.Send(t, CALL, 1, map[string]any{"disclose_me": true}, "app.two", []any{})
	caller.ExpectError(t, "wamp.error.disclose_me.not_allowed")
	for i, proc := range []string{"app.two", "app.pre.x"} {
		caller.Send(t, CALL, 2+i, map[string]any{}, proc, []any{})
		inv := callee.Expect(t, INVOCATION)
		for _, key := range []string{"caller", "caller_authid", "caller_authrole"} {
			if v, ok := inv.Dict(3)[key]; ok {
				t.Errorf("INVOCATION of %s discloses %s = %v", proc, key, v)
			}
		}
		callee.Send(t, YIELD, inv.ID(1), map[string]any{})
		caller.Expect(t, RESULT)
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestReservedURIs: PUBLISH to wamp.session.on_join (acknowledged) gets
// ERROR wamp.error.invalid_uri and subscribers to on_join get no forged
// event (the next one they get is a real join, the marker); REGISTER of
// wamp.* (exact or a pattern starting with "wamp") and add_testament on a
// wamp.* topic get ERROR wamp.error.invalid_uri; a CALL to wamp.nosuch is
// never routed to a client's wildcard registration that would match it:
// ERROR wamp.error.no_such_procedure.
func TestReservedURIs(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	joins := make(chan *clientlib.Event, 16)
	if _, err := b.Client().Subscribe(Ctx(t), "wamp.session.on_join", func(ev *clientlib.Event) { joins <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	a := Dial(t, j.URL(), JSON, DialOptions{})
	expectJoin(t, joins, a.Join(t, "realm1"))

	forged := []any{map[string]any{"session": 1234, "authid": "forged", "authrole": "admin"}}
	a.Send(t, PUBLISH, 1, map[string]any{"acknowledge": true}, "wamp.session.on_join", forged)
	a.ExpectError(t, "wamp.error.invalid_uri")
	a.Send(t, PUBLISH, 2, map[string]any{}, "wamp.session.on_join", forged)
	a.Send(t, CALL, 3, map[string]any{}, "wamp.session.count", []any{}) // PUBLISH 2 is handled once this is
	a.Expect(t, RESULT)
	marker := Dial(t, j.URL(), JSON, DialOptions{})
	expectJoin(t, joins, marker.Join(t, "realm1"))

	req := 3
	for _, p := range [][2]string{{"exact", "wamp.session.get"}, {"exact", "wamp.nosuch"}, {"prefix", "wamp"}, {"prefix", "wamp.session"}, {"wildcard", "wamp..get"}, {"wildcard", "wamp."}} {
		req++
		a.Send(t, REGISTER, req, map[string]any{"match": p[0]}, p[1])
		if m := a.Recv(t); m.Type() != ERROR || m.Reason() != "wamp.error.invalid_uri" {
			t.Errorf("REGISTER %s %q: %v, want ERROR wamp.error.invalid_uri", p[0], p[1], clipMsg(m))
		}
	}
	a.Send(t, CALL, 20, map[string]any{}, "wamp.session.add_testament", []any{"wamp.session.on_join", forged, map[string]any{}})
	a.ExpectError(t, "wamp.error.invalid_uri")

	a.Send(t, REGISTER, 21, map[string]any{"match": "wildcard"}, ".nosuch")
	a.Expect(t, REGISTERED)
	a.Send(t, CALL, 22, map[string]any{}, "wamp.nosuch", []any{})
	a.ExpectError(t, "wamp.error.no_such_procedure")
	a.Send(t, CALL, 23, map[string]any{}, "app.nosuch", []any{}) // the marker: routed to a
	if inv := a.Expect(t, INVOCATION); inv.Dict(3)["procedure"] != "app.nosuch" {
		t.Fatalf("INVOCATION %v, want the marker call of app.nosuch", clipMsg(inv))
	}
	_ = a.WS.Close()
	b.Check(t)
	j.CheckRSS(t, 64)
}

// expectJoin fails the test unless the next on_join event is session's.
func expectJoin(t *testing.T, joins <-chan *clientlib.Event, session int64) {
	t.Helper()
	select {
	case ev := <-joins:
		if got, _ := Int(Dict(first(ev.Args))["session"]); got != session {
			t.Fatalf("on_join event %v, want session %d's join", ev.Args, session)
		}
	case <-Ctx(t).Done():
		t.Fatalf("no on_join for session %d", session)
	}
}

// TestKillNotGranted: with the default config (one realm, no roles), an
// anonymous session calling wamp.session.kill, kill_by_authid,
// kill_by_authrole or kill_all gets ERROR wamp.error.not_authorized and the
// other sessions stay.
func TestKillNotGranted(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	other := Dial(t, j.URL(), JSON, DialOptions{})
	otherID := other.Join(t, "realm1")
	a := Dial(t, j.URL(), JSON, DialOptions{})
	a.Join(t, "realm1")
	for i, call := range []struct {
		proc string
		args []any
	}{
		{"wamp.session.kill_all", []any{}},
		{"wamp.session.kill", []any{otherID}},
		{"wamp.session.kill", []any{int64(b.Client().ID())}},
		{"wamp.session.kill_by_authid", []any{b.Client().Details().String("authid")}},
		{"wamp.session.kill_by_authrole", []any{"anonymous"}},
	} {
		a.Send(t, CALL, i+1, map[string]any{}, call.proc, call.args)
		if m := a.Recv(t); m.Type() != ERROR || m.Reason() != "wamp.error.not_authorized" {
			t.Errorf("CALL %s %v: %v, want ERROR wamp.error.not_authorized", call.proc, call.args, clipMsg(m))
		}
	}
	other.Send(t, CALL, 1, map[string]any{}, "wamp.session.count", []any{})
	if m := other.Expect(t, RESULT); fmt.Sprint(m.Args(3)) == "[0]" {
		t.Fatalf("wamp.session.count %v", clipMsg(m))
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}
