package router_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/wamp"
)

// securedRealm is the realm of examples/secured/config.toml: a ticket user,
// a salted WAMP-CRA service, a cryptosign-only operator and a TLS-only
// device.
func securedRealm(pub ed25519.PublicKey) router.RealmConfig {
	return router.RealmConfig{
		Name:        "app",
		AuthMethods: []router.AuthMethod{router.AuthTicket, router.AuthWAMPCRA, router.AuthCryptosign, router.AuthTLS},
		Principals: []router.Principal{
			{AuthID: "alice", Role: "frontend", Ticket: "alice-ticket"},
			{AuthID: "billing", Role: "backend", Secret: "billing-secret", Salt: "c0ffee", Iterations: 10000, KeyLen: 32},
			{AuthID: "ops", Role: "admin", PublicKeys: []string{hex.EncodeToString(pub)}},
			{AuthID: "sensor-17", Role: "device"},
		},
		Roles: []router.RoleConfig{{Name: "frontend"}, {Name: "backend"}, {Name: "admin"}, {Name: "device"}},
	}
}

// rawCRA answers a WAMP-CRA challenge with HMAC-SHA256 under key as is,
// ignoring any salt.
type rawCRA struct{ key []byte }

func (rawCRA) Method() string { return string(router.AuthWAMPCRA) }
func (a rawCRA) Authenticate(ch *wamp.Challenge) (string, wamp.Dict, error) {
	mac := hmac.New(sha256.New, a.key)
	mac.Write([]byte(ch.Extra.String("challenge")))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), wamp.Dict{}, nil
}

func connectAs(t *testing.T, url, realm, authid string, auth clientlib.Authenticator) (*clientlib.Client, error) {
	return clientlib.Connect(ctx(t), url, realm, clientlib.Options{AuthID: authid, Auth: []clientlib.Authenticator{auth}})
}

func wantAuthFailed(t *testing.T, what string, c *clientlib.Client, err error) {
	t.Helper()
	if err == nil {
		_ = c.Close(ctx(t))
		t.Errorf("%s: WELCOME %v, want ABORT %s", what, c.Details(), wamp.ErrAuthenticationFailed)
		return
	}
	if !errors.Is(err, &wamp.RPCError{URI: wamp.ErrAuthenticationFailed}) {
		t.Errorf("%s: %v, want ABORT %s", what, err, wamp.ErrAuthenticationFailed)
	}
}

// TestCRAWithoutSecretFails: a principal without a WAMP-CRA secret cannot
// log in with WAMP-CRA, whatever it answers (an HMAC under the empty key
// included); the principals' real credentials still work.
func TestCRAWithoutSecretFails(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(nil)
	srv := routertest.Start(t, routertest.Options{Router: router.Config{
		AuthFailureLimit: -1, Realms: []router.RealmConfig{securedRealm(pub)},
	}})
	for _, authid := range []string{"alice", "ops", "sensor-17", "billing", "nobody", ""} {
		for _, auth := range []clientlib.Authenticator{rawCRA{}, clientlib.CRAAuth("")} {
			c, err := connectAs(t, srv.URL, "app", authid, auth)
			wantAuthFailed(t, fmt.Sprintf("%q with %T and the empty key", authid, auth), c, err)
		}
	}
	for _, tt := range []struct {
		authid string
		auth   clientlib.Authenticator
	}{
		{"alice", clientlib.TicketAuth("alice-ticket")},
		{"billing", clientlib.CRAAuth("billing-secret")},
		{"ops", clientlib.CryptosignAuth(priv)},
	} {
		c, err := connectAs(t, srv.URL, "app", tt.authid, tt.auth)
		if err != nil {
			t.Errorf("%s with its %s credentials: %v", tt.authid, tt.auth.Method(), err)
			continue
		}
		_ = c.Close(ctx(t))
	}
}

// dynamicRealm starts a router whose realm "dyn" asks com.auth.authenticate,
// registered by a trusted session, which answers answer for every authid.
func dynamicRealm(t *testing.T, answer any) *routertest.Server {
	t.Helper()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{
		AuthTimeout: 5 * time.Second, AuthFailureLimit: -1,
		Realms: []router.RealmConfig{{
			Name: "dyn", AuthMethods: []router.AuthMethod{router.AuthTicket, router.AuthWAMPCRA, router.AuthCryptosign},
			Authenticator: "com.auth.authenticate",
			Principals:    []router.Principal{{AuthID: "authsvc", Role: "trusted", Ticket: "svc"}},
			Roles:         []router.RoleConfig{{Name: "trusted", Permissions: []router.Permission{{URI: "com.auth", Match: "prefix", Register: true}, {URI: "com.auth.authenticate", Register: true}}}, {Name: "user"}},
		}},
	}})
	svc, err := connectAs(t, srv.URL, "dyn", "authsvc", clientlib.TicketAuth("svc"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	if _, err := svc.Register(ctx(t), "com.auth.authenticate", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{answer}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestDynamicPrincipalNeedsCredentials: an authenticator's answer without
// the method's credentials authenticates nobody.
func TestDynamicPrincipalNeedsCredentials(t *testing.T) {
	t.Parallel()
	for _, answer := range []any{"user", map[string]any{"role": "user"}, map[string]any{"role": "user", "secret": ""}} {
		srv := dynamicRealm(t, answer)
		c, err := connectAs(t, srv.URL, "dyn", "dave", rawCRA{})
		wantAuthFailed(t, fmt.Sprintf("wampcra, authenticator answers %v", answer), c, err)
		_, priv, _ := ed25519.GenerateKey(nil)
		c, err = connectAs(t, srv.URL, "dyn", "dave", clientlib.CryptosignAuth(priv))
		wantAuthFailed(t, fmt.Sprintf("cryptosign, authenticator answers %v", answer), c, err)
	}
}

// TestCRAKeyDerivationFailsClosed: a salted WAMP-CRA secret whose key
// cannot be derived (PBKDF2 refuses the key length) is a config error for a
// static principal, and no login for a dynamic one.
func TestCRAKeyDerivationFailsClosed(t *testing.T) {
	t.Parallel()
	rc := securedRealm(nil)
	rc.Principals = append(rc.Principals, router.Principal{AuthID: "overlong", Role: "backend", Secret: "s", Salt: "salt", KeyLen: math.MaxInt})
	if _, err := router.New(router.Config{Realms: []router.RealmConfig{rc}}, router.Options{}); err == nil || !strings.Contains(err.Error(), `"overlong"`) {
		t.Errorf("router.New with an underivable WAMP-CRA key: %v, want an error naming the principal", err)
	}

	srv := dynamicRealm(t, map[string]any{"role": "user", "secret": "s", "salt": "salt", "keylen": int64(1) << 40})
	for _, key := range [][]byte{nil, []byte("s")} {
		c, err := connectAs(t, srv.URL, "dyn", "dave", rawCRA{key: key})
		wantAuthFailed(t, fmt.Sprintf("dynamic principal with an underivable key, HMAC key %q", key), c, err)
	}
}

// challengeOf returns the CHALLENGE.Extra the router sends for a WAMP-CRA
// HELLO with authid.
func challengeOf(t *testing.T, url, realm, authid string) wamp.Dict {
	t.Helper()
	var extra wamp.Dict
	_, err := connectAs(t, url, realm, authid, challengeSpy{rawCRA{}, &extra})
	if extra == nil {
		t.Fatalf("%q: no CHALLENGE (%v)", authid, err)
	}
	return extra
}

type challengeSpy struct {
	clientlib.Authenticator
	extra *wamp.Dict
}

func (s challengeSpy) Authenticate(ch *wamp.Challenge) (string, wamp.Dict, error) {
	*s.extra = ch.Extra
	return s.Authenticator.Authenticate(ch)
}

// shape is the keys of a CHALLENGE.Extra with the type of each value, and
// the fields of the challenge JSON.
func shape(t *testing.T, extra wamp.Dict) (string, []string, map[string]any) {
	t.Helper()
	var types []string
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		types = append(types, fmt.Sprintf("%s:%T", k, extra[k]))
	}
	var ch map[string]any
	if err := json.Unmarshal([]byte(extra.String("challenge")), &ch); err != nil {
		t.Fatalf("challenge %q: %v", extra.String("challenge"), err)
	}
	return strings.Join(types, " "), slices.Sorted(maps.Keys(ch)), ch
}

// TestCRAChallengeSameForEveryAuthid: the CHALLENGE tells nothing about
// whether an authid exists, has a WAMP-CRA secret, or what role it has.
func TestCRAChallengeSameForEveryAuthid(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{
		AuthFailureLimit: -1, Realms: []router.RealmConfig{securedRealm(nil)},
	}})
	known := challengeOf(t, srv.URL, "app", "billing")
	if known.String("salt") != "c0ffee" {
		t.Fatalf("billing's challenge %v", known)
	}
	wantTypes, wantFields, _ := shape(t, known)
	for _, authid := range []string{"nobody", "alice", "ops", "sensor-17", "nobody"} {
		extra := challengeOf(t, srv.URL, "app", authid)
		types, fields, ch := shape(t, extra)
		if types != wantTypes || !slices.Equal(fields, wantFields) {
			t.Errorf("%q: CHALLENGE.Extra %s, challenge fields %v; billing's: %s, %v", authid, types, fields, wantTypes, wantFields)
		}
		if ch["authrole"] != "" || ch["authid"] != authid {
			t.Errorf("%q: challenge %v, want authrole \"\" and the authid", authid, ch)
		}
		for _, k := range []string{"iterations", "keylen"} {
			if fmt.Sprint(extra[k]) != fmt.Sprint(known[k]) {
				t.Errorf("%q: %s %v, billing's %v", authid, k, extra[k], known[k])
			}
		}
		if s := extra.String("salt"); len(s) != len("c0ffee") || s == "c0ffee" {
			t.Errorf("%q: salt %q", authid, s)
		}
	}
	if a, b := challengeOf(t, srv.URL, "app", "nobody"), challengeOf(t, srv.URL, "app", "nobody"); a.String("salt") != b.String("salt") {
		t.Errorf("an unknown authid got salt %q, then %q: a real one keeps its salt", a.String("salt"), b.String("salt"))
	}
	if a, b := challengeOf(t, srv.URL, "app", "nobody"), challengeOf(t, srv.URL, "app", "somebody"); a.String("salt") == b.String("salt") {
		t.Errorf("two unknown authids got the same salt %q", a.String("salt"))
	}
	_, _, ch := shape(t, known)
	if ch["authrole"] != "" {
		t.Errorf("billing's challenge names its role: %v", ch)
	}
}

// helloTicket sends a ticket HELLO on a new connection and returns the
// connection and the router's first answer.
func helloTicket(t *testing.T, url, authid string) (*gws.Conn, string) {
	t.Helper()
	d := gws.Dialer{Subprotocols: []string{"wamp.2.json"}}
	conn, _, err := d.Dial(url, nil)
	if err != nil {
		t.Error(err)
		return nil, ""
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	hello := fmt.Sprintf(`[1,"realm1",{"roles":{"caller":{}},"authmethods":["ticket"],"authid":%q}]`, authid)
	if err := conn.WriteMessage(gws.TextMessage, []byte(hello)); err != nil {
		t.Error(err)
		return conn, ""
	}
	_, msg, err := conn.ReadMessage()
	if err != nil {
		t.Error(err)
	}
	return conn, string(msg)
}

// TestAuthRateLimitCountsAttemptsInProgress: authentications in progress
// count against the limit, so parallel HELLOs get no more challenges than
// the limit allows, and the right ticket after them is refused too.
func TestAuthRateLimitCountsAttemptsInProgress(t *testing.T) {
	t.Parallel()
	const limit, parallel = 10, 50
	srv := routertest.Start(t, routertest.Options{Router: router.Config{
		AuthTimeout: 20 * time.Second, AuthFailureLimit: limit,
		Realms: []router.RealmConfig{{Name: "realm1", AuthMethods: []router.AuthMethod{router.AuthTicket},
			Principals: []router.Principal{{AuthID: "u", Role: "user", Ticket: "right"}}}},
	}})
	conns := make([]*gws.Conn, parallel)
	answers := make([]string, parallel)
	var wg sync.WaitGroup
	for i := range parallel {
		wg.Go(func() { conns[i], answers[i] = helloTicket(t, srv.URL, "u") })
	}
	wg.Wait()
	challenged := 0
	for i, a := range answers {
		switch {
		case strings.HasPrefix(a, `[4,"ticket"`):
			challenged++
			if err := conns[i].WriteMessage(gws.TextMessage, []byte(fmt.Sprintf(`[5,"wrong-%d",{}]`, i))); err != nil {
				t.Fatal(err)
			}
			if _, msg, err := conns[i].ReadMessage(); err != nil || !strings.Contains(string(msg), string(wamp.ErrAuthenticationFailed)) {
				t.Fatalf("wrong ticket: %s %v", msg, err)
			}
		case !strings.HasPrefix(a, `[3,`) || !strings.Contains(a, string(wamp.ErrAuthenticationFailed)):
			t.Fatalf("HELLO %d: %s, want CHALLENGE or ABORT %s", i, a, wamp.ErrAuthenticationFailed)
		}
		if conns[i] != nil {
			_ = conns[i].Close()
		}
	}
	if challenged > limit {
		t.Errorf("%d of %d parallel HELLOs were challenged, limit %d", challenged, parallel, limit)
	}
	c, err := connectAs(t, srv.URL, "realm1", "u", clientlib.TicketAuth("right"))
	wantAuthFailed(t, fmt.Sprintf("the right ticket after %d wrong ones", parallel), c, err)
	if got := srv.Router.Stats().LimitsReached()["router.auth_failures_per_minute"]; got != uint64(parallel-challenged+1) {
		t.Errorf("limit reached %d times, want %d", got, parallel-challenged+1)
	}
}

// TestCRANoKeyDerivationAtAuthentication: static principals' keys are
// derived by router.New, so a known salted authid costs the same as an
// unknown one: no key derivation during either handshake.
func TestCRANoKeyDerivationAtAuthentication(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{
		AuthFailureLimit: -1, Realms: []router.RealmConfig{securedRealm(nil)},
	}})
	derivations := func() uint64 { return router.KeyDerivations(srv.Router, "app") }
	c, err := connectAs(t, srv.URL, "app", "billing", clientlib.CRAAuth("billing-secret"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx(t))
	known := derivations()
	c, err = connectAs(t, srv.URL, "app", "nobody", clientlib.CRAAuth("billing-secret"))
	wantAuthFailed(t, "unknown authid", c, err)
	if unknown := derivations() - known; known != 0 || unknown != 0 {
		t.Errorf("key derivations during the handshake: %d for a known salted authid, %d for an unknown one; want 0 and 0", known, unknown)
	}
}

// TestCRADynamicDerivationCount: with an authenticator, an authid it does
// not know costs the key derivation a salted dynamic principal costs.
func TestCRADynamicDerivationCount(t *testing.T) {
	t.Parallel()
	srv := dynamicRealm(t, map[string]any{"role": "user", "secret": "s", "salt": "salt"})
	derivations := func() uint64 { return router.KeyDerivations(srv.Router, "dyn") }
	c, err := connectAs(t, srv.URL, "dyn", "dave", clientlib.CRAAuth("s"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx(t))
	known := derivations()

	srv = dynamicRealm(t, "user") // no secret: as good as unknown
	c, err = connectAs(t, srv.URL, "dyn", "dave", clientlib.CRAAuth("s"))
	wantAuthFailed(t, "dynamic principal without a secret", c, err)
	if unknown := router.KeyDerivations(srv.Router, "dyn"); known != 1 || unknown != 1 {
		t.Errorf("key derivations: %d for a salted dynamic principal, %d for an authid without one; want 1 and 1", known, unknown)
	}
}

// TestAuthenticatorPatternRegistrationNotTrusted: a role allowed to
// register a prefix that covers the authenticator's URI cannot answer for
// the authenticator (and so log anyone in with any role) while it is not
// registered.
func TestAuthenticatorPatternRegistrationNotTrusted(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{
		AuthFailureLimit: -1,
		Realms: []router.RealmConfig{{
			Name: "r", AuthMethods: []router.AuthMethod{router.AuthTicket, router.AuthWAMPCRA}, Authenticator: "com.auth.authenticate",
			Principals: []router.Principal{{AuthID: "be", Role: "backend", Ticket: "be"}},
			Roles: []router.RoleConfig{
				{Name: "backend", Permissions: []router.Permission{{URI: "com", Match: "prefix", Register: true}}},
				{Name: "admin"},
			},
		}},
	}})
	be, err := connectAs(t, srv.URL, "r", "be", clientlib.TicketAuth("be"))
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close(ctx(t))
	if _, err := be.Register(ctx(t), "com.auth", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{map[string]any{"role": "admin", "secret": "mine"}}}, nil
	}, &clientlib.RegisterOptions{Match: "prefix"}); err != nil {
		t.Fatal(err)
	}
	c, err := connectAs(t, srv.URL, "r", "root", clientlib.TicketAuth("anything"))
	wantAuthFailed(t, "ticket, a prefix registration answering for the authenticator", c, err)
	c, err = connectAs(t, srv.URL, "r", "root", clientlib.CRAAuth("mine"))
	wantAuthFailed(t, "wampcra, a prefix registration answering for the authenticator", c, err)
}
