package router_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
)

// mapStore is an embedding program's user store: a Go authenticator backed
// by a map. "broken" makes it fail, "boom" panic, "slow" hang past any
// deadline (it ignores ctx).
type mapStore struct {
	users map[string]router.Principal
	hang  chan struct{}

	mu    sync.Mutex
	asked []router.AuthRequest
}

func (m *mapStore) Authenticate(_ context.Context, req router.AuthRequest) (*router.Principal, error) {
	m.mu.Lock()
	m.asked = append(m.asked, req)
	m.mu.Unlock()
	switch req.AuthID {
	case "broken":
		return nil, errors.New("user store down")
	case "boom":
		panic("user store bug")
	case "slow":
		<-m.hang
	}
	p, ok := m.users[req.AuthID]
	if !ok {
		return nil, router.ErrUnknownAuthID
	}
	return &p, nil
}

// CRASalting: the store's WAMP-CRA principals are salted alike.
func (m *mapStore) CRASalting() router.CRASalting {
	return router.CRASalting{Iterations: 100, KeyLen: 32, SaltLen: 6, HexSalt: true, DecoyKey: []byte("stable decoy key")}
}

func (m *mapStore) requests() []router.AuthRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.asked)
}

func newMapStore(t *testing.T) *mapStore {
	m := &mapStore{hang: make(chan struct{}), users: map[string]router.Principal{
		"alice":   {Role: "user", Ticket: "alice-ticket"},
		"bob":     {Role: "user", Secret: "bob-secret", Salt: "c0ffee", Iterations: 100, KeyLen: 32},
		"nosec":   {Role: "user", Ticket: "nosec-ticket"},
		"norole":  {Secret: "x", Salt: "abcdef", Iterations: 100, KeyLen: 32},
		"old":     {Role: "user", Ticket: "old-ticket", TicketExpires: time.Now().Add(-time.Hour)},
		"renamed": {AuthID: "carol", Role: "admin", Ticket: "carol-ticket"},
	}}
	t.Cleanup(func() { close(m.hang) })
	return m
}

func hookRouter(t *testing.T, store router.Authenticator, limit int) *routertest.Server {
	return routertest.Start(t, routertest.Options{Router: router.Config{
		AuthTimeout: 300 * time.Millisecond, AuthFailureLimit: limit,
		Realms: []router.RealmConfig{{
			Name: "app", AuthMethods: []router.AuthMethod{router.AuthTicket, router.AuthWAMPCRA},
			AuthenticatorHook: store,
			Principals:        []router.Principal{{AuthID: "static", Role: "user", Ticket: "static-ticket"}},
			Roles:             []router.RoleConfig{{Name: "user"}, {Name: "admin"}},
		}},
	}})
}

// TestAuthenticatorHook: a Go authenticator backed by a map logs in ticket
// and WAMP-CRA users, which the router then checks as static principals:
// wrong secrets, expired tickets, principals without the method's
// credentials or a role, errors and panics all fail closed.
func TestAuthenticatorHook(t *testing.T) {
	t.Parallel()
	store := newMapStore(t)
	srv := hookRouter(t, store, -1)
	for _, tt := range []struct {
		authid, role string
		auth         clientlib.Authenticator
	}{
		{"alice", "user", clientlib.TicketAuth("alice-ticket")},
		{"bob", "user", clientlib.CRAAuth("bob-secret")},
		{"renamed", "admin", clientlib.TicketAuth("carol-ticket")},
		{"static", "user", clientlib.TicketAuth("static-ticket")},
	} {
		c, err := connectAs(t, srv.URL, "app", tt.authid, tt.auth)
		if err != nil {
			t.Errorf("%s with %s: %v", tt.authid, tt.auth.Method(), err)
			continue
		}
		d := c.Details()
		want := map[string]string{"authid": tt.authid, "authrole": tt.role, "authmethod": tt.auth.Method(), "authprovider": "dynamic"}
		if tt.authid == "renamed" {
			want["authid"] = "carol"
		}
		if tt.authid == "static" {
			want["authprovider"] = "static"
		}
		for k, v := range want {
			if d.String(k) != v {
				t.Errorf("%s: WELCOME %s %q, want %q", tt.authid, k, d.String(k), v)
			}
		}
		_ = c.Close(ctx(t))
	}
	for _, tt := range []struct {
		authid string
		auth   clientlib.Authenticator
	}{
		{"alice", clientlib.TicketAuth("wrong")},
		{"alice", clientlib.TicketAuth("")},
		{"alice", rawCRA{}}, // a ticket user has no WAMP-CRA secret
		{"bob", clientlib.CRAAuth("wrong")},
		{"bob", clientlib.TicketAuth("")}, // nor a WAMP-CRA user a ticket
		{"old", clientlib.TicketAuth("old-ticket")},
		{"norole", clientlib.CRAAuth("x")},
		{"nobody", clientlib.TicketAuth("x")},
		{"nobody", clientlib.CRAAuth("x")},
		{"broken", clientlib.TicketAuth("x")},
		{"broken", clientlib.CRAAuth("x")},
		{"boom", clientlib.TicketAuth("x")},
		{"boom", clientlib.CRAAuth("x")},
		{"slow", clientlib.CRAAuth("x")},
	} {
		c, err := connectAs(t, srv.URL, "app", tt.authid, tt.auth)
		wantAuthFailed(t, fmt.Sprintf("%s with %s", tt.authid, tt.auth.Method()), c, err)
	}
	// The router survived the panics and the hang.
	c, err := connectAs(t, srv.URL, "app", "alice", clientlib.TicketAuth("alice-ticket"))
	if err != nil {
		t.Fatalf("after the hook's panics: %v", err)
	}
	_ = c.Close(ctx(t))

	// What the hook is told; the static principal is never asked about.
	var sawTicket, sawCRA bool
	for _, req := range store.requests() {
		if req.AuthID == "static" {
			t.Errorf("the hook was asked about a static principal: %+v", req)
		}
		if req.Realm != "app" || req.RemoteAddr == "" || len(req.AuthMethods) == 0 || router.AuthMethod(req.AuthMethods[0]) != req.AuthMethod {
			t.Errorf("request %+v", req)
		}
		switch {
		case req.AuthID == "alice" && req.AuthMethod == router.AuthTicket:
			sawTicket = sawTicket || req.Ticket == "alice-ticket"
		case req.AuthID == "bob" && req.AuthMethod == router.AuthWAMPCRA:
			sawCRA = true
			if req.Ticket != "" {
				t.Errorf("a WAMP-CRA request carries a ticket: %+v", req)
			}
		}
	}
	if !sawTicket || !sawCRA {
		t.Errorf("the hook saw alice's ticket %v, bob's WAMP-CRA request %v", sawTicket, sawCRA)
	}
}

// TestAuthenticatorHookSameChallenge: through a Go authenticator, an
// unknown authid, one the hook fails or panics on, and one without a
// WAMP-CRA secret get the CHALLENGE of a known one: same fields, authrole
// "", a decoy salt of the declared shape, stable per authid.
func TestAuthenticatorHookSameChallenge(t *testing.T) {
	t.Parallel()
	srv := hookRouter(t, newMapStore(t), -1)
	known := challengeOf(t, srv.URL, "app", "bob")
	if known.String("salt") != "c0ffee" {
		t.Fatalf("bob's challenge %v", known)
	}
	wantTypes, wantFields, _ := shape(t, known)
	for _, authid := range []string{"nobody", "alice", "broken", "boom", "norole"} {
		extra := challengeOf(t, srv.URL, "app", authid)
		types, fields, ch := shape(t, extra)
		if types != wantTypes || !slices.Equal(fields, wantFields) {
			t.Errorf("%q: CHALLENGE.Extra %s, challenge fields %v; bob's: %s, %v", authid, types, fields, wantTypes, wantFields)
		}
		if ch["authrole"] != "" || ch["authid"] != authid {
			t.Errorf("%q: challenge %v", authid, ch)
		}
		for _, k := range []string{"iterations", "keylen"} {
			if fmt.Sprint(extra[k]) != fmt.Sprint(known[k]) {
				t.Errorf("%q: %s %v, bob's %v", authid, k, extra[k], known[k])
			}
		}
		if s := extra.String("salt"); len(s) != len("c0ffee") || s == "c0ffee" || s == "abcdef" {
			t.Errorf("%q: salt %q", authid, s)
		}
	}
	if a, b := challengeOf(t, srv.URL, "app", "nobody"), challengeOf(t, srv.URL, "app", "nobody"); a.String("salt") != b.String("salt") {
		t.Errorf("an unknown authid got salt %q, then %q", a.String("salt"), b.String("salt"))
	}
}

// TestAuthenticatorHookFailureLimit: failures through a Go authenticator
// count toward the per-address limit as a static principal's do: past it
// the right secret is refused too, and the hook is no longer asked.
func TestAuthenticatorHookFailureLimit(t *testing.T) {
	t.Parallel()
	const limit = 3
	store := newMapStore(t)
	srv := hookRouter(t, store, limit)
	for _, a := range []struct {
		authid string
		auth   clientlib.Authenticator
	}{{"bob", clientlib.CRAAuth("wrong")}, {"nobody", clientlib.TicketAuth("x")}, {"boom", clientlib.CRAAuth("x")}} {
		c, err := connectAs(t, srv.URL, "app", a.authid, a.auth)
		wantAuthFailed(t, a.authid, c, err)
	}
	asked := len(store.requests())
	c, err := connectAs(t, srv.URL, "app", "bob", clientlib.CRAAuth("bob-secret"))
	wantAuthFailed(t, fmt.Sprintf("the right secret after %d failures", limit), c, err)
	if n := len(store.requests()); n != asked {
		t.Errorf("the hook was asked %d more times after the limit", n-asked)
	}
	if got := srv.Router.Stats().LimitsReached()["router.auth_failures_per_minute"]; got != 1 {
		t.Errorf("limit reached %d times, want 1", got)
	}
}
