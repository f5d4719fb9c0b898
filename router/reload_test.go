package router_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/wamp"
)

// reloadRealm is realm1 with ticket principals and two roles; observers
// (anonymous) may watch the meta events.
func reloadRealm(principals []router.Principal, user []router.Permission) router.RealmConfig {
	return router.RealmConfig{
		Name: "realm1", Anonymous: true, AnonymousRole: "observer",
		AuthMethods: []router.AuthMethod{router.AuthTicket},
		Principals:  principals,
		Roles: []router.RoleConfig{
			{Name: "observer", Permissions: []router.Permission{{URI: "wamp.", Match: "prefix", Subscribe: true}}},
			{Name: "user", Permissions: user},
			{Name: "admin", Permissions: []router.Permission{{URI: "com.", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true}}},
		},
	}
}

var userRules = []router.Permission{{URI: "com.app.", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true}}

// ended waits until c's session ends and returns why.
func ended(t *testing.T, c *clientlib.Client) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(routertest.Timeout):
		t.Fatal("the session did not end")
		return nil
	}
}

// metaWatch subscribes c to topic and returns positional argument arg of
// each event.
func metaWatch(t *testing.T, c *clientlib.Client, topic string, arg int) <-chan any {
	t.Helper()
	ch := make(chan any, 64)
	if _, err := c.Subscribe(ctx(t), topic, func(ev *clientlib.Event) {
		if len(ev.Args) > arg {
			ch <- ev.Args[arg]
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	return ch
}

// waitFor reads ch until want arrives.
func waitFor(t *testing.T, ch <-chan any, want any, what string) {
	t.Helper()
	timeout := time.After(routertest.Timeout)
	for {
		select {
		case got := <-ch:
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return
			}
		case <-timeout:
			t.Fatalf("no %s for %v", what, want)
		}
	}
}

func ticketClient(t *testing.T, url, authid, ticket string) *clientlib.Client {
	t.Helper()
	c, err := connectAs(t, url, "realm1", authid, clientlib.TicketAuth(ticket))
	if err != nil {
		t.Fatalf("%s: %v", authid, err)
	}
	return c
}

// TestReloadPrincipals: a reload ends, with GOODBYE wamp.close.killed and
// the session meta events, the sessions whose principal was removed, got
// another role or other credentials; the others stay and work; a new
// principal logs in; a removed one no longer does.
func TestReloadPrincipals(t *testing.T) {
	t.Parallel()
	users := []router.Principal{
		{AuthID: "alice", Role: "user", Ticket: "a"}, {AuthID: "bob", Role: "user", Ticket: "b"},
		{AuthID: "carol", Role: "user", Ticket: "c"}, {AuthID: "dan", Role: "user", Ticket: "d"},
	}
	cfg := router.Config{AuthFailureLimit: 1000, Realms: []router.RealmConfig{reloadRealm(users, userRules)}}
	srv := routertest.Start(t, routertest.Options{Router: cfg})
	obs := routertest.Connect(t, srv.URL, clientlib.Options{})
	leaves := metaWatch(t, obs, "wamp.session.on_leave", 0)
	alice := ticketClient(t, srv.URL, "alice", "a")
	bob := ticketClient(t, srv.URL, "bob", "b")
	carol := ticketClient(t, srv.URL, "carol", "c")
	dan := ticketClient(t, srv.URL, "dan", "d")
	if _, err := carol.Register(ctx(t), "com.app.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	next := cfg
	next.Realms = []router.RealmConfig{reloadRealm([]router.Principal{
		{AuthID: "bob", Role: "admin", Ticket: "b"},  // role changed
		{AuthID: "carol", Role: "user", Ticket: "c"}, // unchanged
		{AuthID: "dan", Role: "user", Ticket: "d2"},  // ticket rotated
		{AuthID: "erin", Role: "admin", Ticket: "e"}, // new
	}, userRules)} // alice removed
	res, err := srv.Router.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	if res.SessionsEnded != 3 {
		t.Errorf("sessions ended: %d, want 3 (alice, bob, dan)", res.SessionsEnded)
	}
	left := map[string]bool{}
	for name, c := range map[string]*clientlib.Client{"alice": alice, "bob": bob, "dan": dan} {
		if err := ended(t, c); err == nil || !strings.Contains(err.Error(), string(wamp.CloseKilled)) {
			t.Errorf("%s: session ended with %v, want GOODBYE %s", name, err, wamp.CloseKilled)
		}
		left[fmt.Sprint(uint64(c.ID()))] = true
	}
	for timeout := time.After(routertest.Timeout); len(left) > 0; {
		select {
		case id := <-leaves:
			delete(left, fmt.Sprint(id))
		case <-timeout:
			t.Fatalf("no wamp.session.on_leave for %v", left)
		}
	}
	select {
	case <-carol.Done():
		t.Fatalf("carol's session ended: %v", carol.Err())
	default:
	}
	if res, err := carol.Call(ctx(t), "com.app.echo", []any{"still here"}, nil, nil); err != nil || fmt.Sprint(res.Args) != "[still here]" {
		t.Errorf("carol after the reload: %v %v", res, err)
	}
	erin := ticketClient(t, srv.URL, "erin", "e")
	if role := erin.Details().String("authrole"); role != "admin" {
		t.Errorf("erin joined as %q, want admin", role)
	}
	c, err := connectAs(t, srv.URL, "realm1", "alice", clientlib.TicketAuth("a"))
	wantAuthFailed(t, "removed principal", c, err)
	c, err = connectAs(t, srv.URL, "realm1", "dan", clientlib.TicketAuth("d"))
	wantAuthFailed(t, "old ticket", c, err)
	ticketClient(t, srv.URL, "dan", "d2")
}

// rawSession is a WAMP session over a bare WebSocket (JSON) that announces
// subscription and registration revocation, which clientlib does not.
type rawSession struct {
	t    *testing.T
	conn *gws.Conn
	req  int
}

func rawJoin(t *testing.T, url string) *rawSession {
	t.Helper()
	d := gws.Dialer{Subprotocols: []string{"wamp.2.json"}}
	conn, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	s := &rawSession{t: t, conn: conn}
	s.write(`[1,"realm1",{"roles":{"subscriber":{"features":{"subscription_revocation":true}},"callee":{"features":{"registration_revocation":true}}}}]`)
	if m := s.read(); m[0] != float64(wamp.WELCOME) {
		t.Fatalf("HELLO answered %v", m)
	}
	return s
}

func (s *rawSession) write(msg string) {
	s.t.Helper()
	if err := s.conn.WriteMessage(gws.TextMessage, []byte(msg)); err != nil {
		s.t.Fatal(err)
	}
}

func (s *rawSession) read() []any {
	s.t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(routertest.Timeout))
	_, b, err := s.conn.ReadMessage()
	if err != nil {
		s.t.Fatal(err)
	}
	var m []any
	if err := json.Unmarshal(b, &m); err != nil {
		s.t.Fatal(err)
	}
	return m
}

// request sends a SUBSCRIBE or REGISTER and returns the id its answer gives.
func (s *rawSession) request(typ wamp.MessageType, uri string) uint64 {
	s.t.Helper()
	s.req++
	s.write(fmt.Sprintf(`[%d,%d,{},%q]`, typ, s.req, uri))
	m := s.read()
	if len(m) < 3 || m[0] == float64(wamp.ERROR) {
		s.t.Fatalf("%s %s answered %v", typ, uri, m)
	}
	return uint64(m[2].(float64))
}

// TestReloadRevokes: a session whose role's rules change stays; what it
// held that the new rules no longer grant is revoked, with UNSUBSCRIBED or
// UNREGISTERED [.., 0, {subscription|registration, reason}] for a session
// that announced revocation, the meta events for all; what is still
// granted keeps working; the new rules decide the next request.
func TestReloadRevokes(t *testing.T) {
	t.Parallel()
	anon := []router.Permission{
		{URI: "com.app.", Match: "prefix", Call: true, Register: true, Subscribe: true, Publish: true},
		{URI: "wamp.", Match: "prefix", Subscribe: true},
	}
	realm := func(perms []router.Permission) router.Config {
		return router.Config{Realms: []router.RealmConfig{{Name: "realm1", Anonymous: true,
			Roles: []router.RoleConfig{{Name: "anonymous", Permissions: perms}}}}}
	}
	srv := routertest.Start(t, routertest.Options{Router: realm(anon)})
	obs := routertest.Connect(t, srv.URL, clientlib.Options{})
	unsubs := metaWatch(t, obs, "wamp.subscription.on_unsubscribe", 1)
	unregs := metaWatch(t, obs, "wamp.registration.on_unregister", 1)

	raw := rawJoin(t, srv.URL)
	subGone := raw.request(wamp.SUBSCRIBE, "com.app.gone")
	raw.request(wamp.SUBSCRIBE, "com.app.keep")
	regGone := raw.request(wamp.REGISTER, "com.app.rawproc")
	callee := routertest.Connect(t, srv.URL, clientlib.Options{})
	echo := func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}
	for _, p := range []string{"com.app.keep", "com.app.gone"} {
		if _, err := callee.Register(ctx(t), p, echo, nil); err != nil {
			t.Fatal(err)
		}
	}

	res, err := srv.Router.Reload(realm([]router.Permission{
		{URI: "com.app.", Match: "prefix", Call: true, Publish: true},
		{URI: "com.app.keep", Call: true, Subscribe: true, Register: true},
		{URI: "wamp.", Match: "prefix", Subscribe: true},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if res.SubscriptionsRevoked != 1 || res.RegistrationsRevoked != 2 || res.SessionsEnded != 0 {
		t.Errorf("reload: %+v, want 1 subscription and 2 registrations revoked, no session ended", res)
	}
	got := map[float64]map[string]any{}
	for range 2 {
		m := raw.read()
		if len(m) != 3 || m[1] != float64(0) {
			t.Fatalf("got %v, want a revocation", m)
		}
		got[m[0].(float64)] = m[2].(map[string]any)
	}
	if d := got[float64(wamp.UNSUBSCRIBED)]; d["subscription"] != float64(subGone) || d["reason"] != string(wamp.ErrNotAuthorized) {
		t.Errorf("UNSUBSCRIBED details %v, want subscription %d", d, subGone)
	}
	if d := got[float64(wamp.UNREGISTERED)]; d["registration"] != float64(regGone) || d["reason"] != string(wamp.ErrNotAuthorized) {
		t.Errorf("UNREGISTERED details %v, want registration %d", d, regGone)
	}
	waitFor(t, unsubs, subGone, "wamp.subscription.on_unsubscribe")
	waitFor(t, unregs, regGone, "wamp.registration.on_unregister")

	caller := routertest.Connect(t, srv.URL, clientlib.Options{})
	if _, err := caller.Call(ctx(t), "com.app.gone", nil, nil, nil); !isRPCError(err, wamp.ErrNoSuchProcedure) {
		t.Errorf("call of a revoked registration: %v, want %s", err, wamp.ErrNoSuchProcedure)
	}
	if res, err := caller.Call(ctx(t), "com.app.keep", []any{1}, nil, nil); err != nil || fmt.Sprint(res.Args) != "[1]" {
		t.Errorf("call of a kept registration: %v %v", res, err)
	}
	if _, err := caller.Subscribe(ctx(t), "com.app.gone", func(*clientlib.Event) {}, nil); !isRPCError(err, wamp.ErrNotAuthorized) {
		t.Errorf("subscribe after the reload: %v, want %s", err, wamp.ErrNotAuthorized)
	}
	select {
	case <-callee.Done():
		t.Fatalf("the callee's session ended: %v", callee.Err())
	default:
	}
}

func isRPCError(err error, uri wamp.URI) bool {
	var e *wamp.RPCError
	return errors.As(err, &e) && e.URI == uri
}

// TestReloadInvalidChangesNothing: a config with errors is refused as a
// whole, every error named; sessions, realms and rules stay as they were.
func TestReloadInvalidChangesNothing(t *testing.T) {
	t.Parallel()
	users := []router.Principal{{AuthID: "alice", Role: "user", Ticket: "a"}}
	cfg := router.Config{Realms: []router.RealmConfig{reloadRealm(users, userRules)}}
	srv := routertest.Start(t, routertest.Options{Router: cfg})
	alice := ticketClient(t, srv.URL, "alice", "a")

	bad := router.Config{Realms: []router.RealmConfig{
		reloadRealm(nil, []router.Permission{{URI: "com.app.", Match: "sideways", Call: true}}),
		{Name: "realm2", AuthMethods: []router.AuthMethod{"password"}},
		{Name: "realm2"},
	}}
	_, err := srv.Router.Reload(bad)
	if err == nil {
		t.Fatal("an invalid config was applied")
	}
	for _, want := range []string{"sideways", `"password"`, "duplicate realm realm2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := alice.Call(ctx(t), "com.app.nothing", nil, nil, nil); !isRPCError(err, wamp.ErrNoSuchProcedure) {
		t.Errorf("alice after a refused reload: %v, want %s (still allowed to call)", err, wamp.ErrNoSuchProcedure)
	}
	ticketClient(t, srv.URL, "alice", "a")
	if _, err := clientlib.Connect(ctx(t), srv.URL, "realm2", clientlib.Options{}); err == nil {
		t.Error("realm2 of the refused config exists")
	}
}

// TestReloadRealms: a realm added is joinable at once; the sessions of a
// realm removed get GOODBYE wamp.close.system_shutdown, and a HELLO to it
// then gets wamp.error.no_such_realm.
func TestReloadRealms(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{Realms: []router.RealmConfig{{Name: "realm1", Anonymous: true}}}})
	old := routertest.Connect(t, srv.URL, clientlib.Options{})
	res, err := srv.Router.Reload(router.Config{Realms: []router.RealmConfig{{Name: "realm2", Anonymous: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.RealmsAdded, res.RealmsRemoved) != "[realm2] [realm1]" {
		t.Errorf("added %v, removed %v", res.RealmsAdded, res.RealmsRemoved)
	}
	if err := ended(t, old); err == nil || !strings.Contains(err.Error(), string(wamp.CloseSystemShutdown)) {
		t.Errorf("session of a removed realm ended with %v, want GOODBYE %s", err, wamp.CloseSystemShutdown)
	}
	c, err := clientlib.Connect(ctx(t), srv.URL, "realm2", clientlib.Options{})
	if err != nil {
		t.Fatalf("the added realm: %v", err)
	}
	_ = c.Close(ctx(t))
	if _, err := clientlib.Connect(ctx(t), srv.URL, "realm1", clientlib.Options{}); err == nil || !strings.Contains(err.Error(), string(wamp.ErrNoSuchRealm)) {
		t.Errorf("HELLO to the removed realm: %v, want %s", err, wamp.ErrNoSuchRealm)
	}
}

// TestReloadLimits: a limit lowered applies to the next request of an
// open session; what it holds stays.
func TestReloadLimits(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	c := routertest.Connect(t, srv.URL, clientlib.Options{})
	for _, topic := range []string{"a.1", "a.2"} {
		if _, err := c.Subscribe(ctx(t), topic, func(*clientlib.Event) {}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Router.Reload(router.Config{MaxSubscriptionsPerSession: 2, Realms: []router.RealmConfig{{Name: "realm1", Anonymous: true}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx(t), "a.3", func(*clientlib.Event) {}, nil); !isRPCError(err, router.ErrLimitExceeded) {
		t.Errorf("subscribe past the lowered limit: %v, want %s", err, router.ErrLimitExceeded)
	}
}

// TestReloadDuringHandshake: a principal removed while its client is
// between CHALLENGE and AUTHENTICATE does not keep a session: the reload
// ran before the session was in the list it walks, so the session checks
// itself once established, and gets GOODBYE wamp.close.killed.
func TestReloadDuringHandshake(t *testing.T) {
	t.Parallel()
	users := []router.Principal{{AuthID: "alice", Role: "user", Ticket: "a"}}
	cfg := router.Config{Realms: []router.RealmConfig{reloadRealm(users, userRules)}}
	srv := routertest.Start(t, routertest.Options{Router: cfg})
	conn, msg := helloTicket(t, srv.URL, "alice")
	if !strings.HasPrefix(msg, fmt.Sprintf("[%d,", wamp.CHALLENGE)) {
		t.Fatalf("HELLO answered %s", msg)
	}
	if _, err := srv.Router.Reload(router.Config{Realms: []router.RealmConfig{reloadRealm(nil, userRules)}}); err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteMessage(gws.TextMessage, []byte(fmt.Sprintf(`[%d,"a",{}]`, wamp.AUTHENTICATE))); err != nil {
		t.Fatal(err)
	}
	var last string
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			break
		}
		last = string(b)
	}
	if !strings.Contains(last, string(wamp.CloseKilled)) && !strings.Contains(last, string(wamp.ErrAuthenticationFailed)) {
		t.Errorf("the last message was %s, want GOODBYE %s (or ABORT)", last, wamp.CloseKilled)
	}
}
