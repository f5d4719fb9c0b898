package router_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"strings"
	"sync"
	"testing"
	"time"

	nexusclient "github.com/gammazero/nexus/v3/client"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"
	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/wamp"
)

// authRouter is a realm with one principal per method, and roles.
func authRouter(t *testing.T) (*routertest.Server, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := routertest.Start(t, routertest.Options{Router: router.Config{
		AuthTimeout:      200 * time.Millisecond,
		AuthFailureLimit: 1000,
		Realms: []router.RealmConfig{{
			Name: "realm1", Anonymous: true,
			AuthMethods: []router.AuthMethod{router.AuthTicket, router.AuthWAMPCRA, router.AuthCryptosign},
			Principals: []router.Principal{
				{AuthID: "ticketuser", Role: "frontend", Ticket: "s3cret-ticket"},
				{AuthID: "crauser", Role: "backend", Secret: "cra-secret"},
				{AuthID: "salteduser", Role: "backend", Secret: "salted-secret", Salt: "salt123", Iterations: 100, KeyLen: 32},
				{AuthID: "keyuser", Role: "backend", PublicKeys: []string{hex.EncodeToString(pub)}},
				{AuthID: "ghost", Role: "nosuchrole", Ticket: "boo"},
				{AuthID: "expired", Role: "frontend", Ticket: "old-ticket", TicketExpires: time.Now().Add(-time.Hour)},
			},
			Roles: []router.RoleConfig{
				{Name: "anonymous", Permissions: []router.Permission{{URI: "public", Match: "prefix", Call: true, Subscribe: true}}},
				{Name: "frontend", Permissions: []router.Permission{
					{URI: "com.app", Match: "prefix", Call: true, Subscribe: true},
					{URI: "com.app.chat", Match: "prefix", Call: true, Subscribe: true, Publish: true},
				}},
				{Name: "backend", Permissions: []router.Permission{
					{URI: "com.app", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true},
					{URI: "wamp.session", Match: "prefix", Call: true},
				}},
			},
		}},
	}})
	return srv, priv
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestAuthMethodsClientlib(t *testing.T) {
	t.Parallel()
	srv, priv := authRouter(t)
	for _, tt := range []struct {
		name, authid, role string
		auth               clientlib.Authenticator
	}{
		{"ticket", "ticketuser", "frontend", clientlib.TicketAuth("s3cret-ticket")},
		{"wampcra", "crauser", "backend", clientlib.CRAAuth("cra-secret")},
		{"wampcra salted", "salteduser", "backend", clientlib.CRAAuth("salted-secret")},
		{"cryptosign", "keyuser", "backend", clientlib.CryptosignAuth(priv)},
	} {
		for _, ser := range []string{"json", "msgpack", "cbor"} {
			c, err := clientlib.Connect(ctx(t), srv.URL, "realm1", clientlib.Options{Serializer: ser, AuthID: tt.authid, Auth: []clientlib.Authenticator{tt.auth}})
			if err != nil {
				t.Fatalf("%s/%s: %v", tt.name, ser, err)
			}
			d := c.Details()
			if d.String("authid") != tt.authid || d.String("authrole") != tt.role || d.String("authmethod") != tt.auth.Method() || d.String("authprovider") == "" {
				t.Errorf("%s/%s: WELCOME %v", tt.name, ser, d)
			}
			_ = c.Close(ctx(t))
		}
	}
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()
	srv, priv := authRouter(t)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	for _, tt := range []struct {
		name   string
		opts   clientlib.Options
		reason wamp.URI
	}{
		{"wrong ticket", clientlib.Options{AuthID: "ticketuser", Auth: []clientlib.Authenticator{clientlib.TicketAuth("nope")}}, wamp.ErrAuthenticationFailed},
		{"expired ticket", clientlib.Options{AuthID: "expired", Auth: []clientlib.Authenticator{clientlib.TicketAuth("old-ticket")}}, wamp.ErrAuthenticationFailed},
		{"missing ticket", clientlib.Options{AuthID: "ticketuser", Auth: []clientlib.Authenticator{clientlib.TicketAuth("")}}, wamp.ErrAuthenticationFailed},
		{"unknown authid", clientlib.Options{AuthID: "nobody", Auth: []clientlib.Authenticator{clientlib.TicketAuth("s3cret-ticket")}}, wamp.ErrAuthenticationFailed},
		{"wrong cra secret", clientlib.Options{AuthID: "crauser", Auth: []clientlib.Authenticator{clientlib.CRAAuth("guess")}}, wamp.ErrAuthenticationFailed},
		{"wrong salted secret", clientlib.Options{AuthID: "salteduser", Auth: []clientlib.Authenticator{clientlib.CRAAuth("cra-secret")}}, wamp.ErrAuthenticationFailed},
		{"bad signature", clientlib.Options{AuthID: "keyuser", Auth: []clientlib.Authenticator{clientlib.CryptosignAuth(otherKey)}}, wamp.ErrAuthenticationFailed},
		{"role missing on realm", clientlib.Options{AuthID: "ghost", Auth: []clientlib.Authenticator{clientlib.TicketAuth("boo")}}, wamp.ErrNoSuchRole},
	} {
		_, err := clientlib.Connect(ctx(t), srv.URL, "realm1", tt.opts)
		var re *wamp.RPCError
		if !errors.As(err, &re) || re.URI != tt.reason {
			t.Errorf("%s: %v, want ABORT %s", tt.name, err, tt.reason)
			continue
		}
		// No hint that helps guessing: the same words whatever went wrong.
		if tt.reason == wamp.ErrAuthenticationFailed && re.Args[0] != "authentication failed" {
			t.Errorf("%s: message %v", tt.name, re.Args)
		}
	}
	_ = priv
}

// TestCryptosignReplay: a signature captured from one session's challenge
// does not authenticate another session.
func TestCryptosignReplay(t *testing.T) {
	t.Parallel()
	srv, priv := authRouter(t)
	captured := &recorder{Authenticator: clientlib.CryptosignAuth(priv)}
	c, err := clientlib.Connect(ctx(t), srv.URL, "realm1", clientlib.Options{AuthID: "keyuser", Auth: []clientlib.Authenticator{captured}})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx(t))
	replay := replayAuth{method: "cryptosign", signature: captured.signature, pub: priv.Public().(ed25519.PublicKey)}
	_, err = clientlib.Connect(ctx(t), srv.URL, "realm1", clientlib.Options{AuthID: "keyuser", Auth: []clientlib.Authenticator{replay}})
	if !errors.Is(err, &wamp.RPCError{URI: wamp.ErrAuthenticationFailed}) {
		t.Fatalf("replayed signature: %v", err)
	}
}

type recorder struct {
	clientlib.Authenticator
	signature string
}

func (r *recorder) Authenticate(ch *wamp.Challenge) (string, wamp.Dict, error) {
	sig, extra, err := r.Authenticator.Authenticate(ch)
	r.signature = sig
	return sig, extra, err
}

type replayAuth struct {
	method, signature string
	pub               ed25519.PublicKey
}

func (r replayAuth) Method() string { return r.method }
func (r replayAuth) Authenticate(*wamp.Challenge) (string, wamp.Dict, error) {
	return r.signature, wamp.Dict{}, nil
}

// TestAuthTimeout: a client that never answers CHALLENGE is aborted.
func TestAuthTimeout(t *testing.T) {
	t.Parallel()
	srv, _ := authRouter(t)
	d := gws.Dialer{Subprotocols: []string{"wamp.2.json"}}
	conn, _, err := d.Dial(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteMessage(gws.TextMessage, []byte(`[1,"realm1",{"roles":{"caller":{}},"authmethods":["ticket"],"authid":"ticketuser"}]`)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := conn.ReadMessage()
	if err != nil || !strings.HasPrefix(string(msg), `[4,"ticket"`) {
		t.Fatalf("CHALLENGE: %s %v", msg, err)
	}
	_, msg, err = conn.ReadMessage() // nothing sent: the router gives up
	if err != nil || !strings.Contains(string(msg), "wamp.error.authentication_failed") {
		t.Fatalf("ABORT: %s %v", msg, err)
	}
}

// TestAuthRateLimit: past the limit, an address is refused without a challenge.
func TestAuthRateLimit(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{
		AuthFailureLimit: 3,
		Realms: []router.RealmConfig{{Name: "realm1", AuthMethods: []router.AuthMethod{router.AuthTicket},
			Principals: []router.Principal{{AuthID: "u", Role: "user", Ticket: "right"}}}},
	}})
	bad := clientlib.Options{AuthID: "u", Auth: []clientlib.Authenticator{clientlib.TicketAuth("wrong")}}
	for range 3 {
		if _, err := clientlib.Connect(ctx(t), srv.URL, "realm1", bad); !errors.Is(err, &wamp.RPCError{URI: wamp.ErrAuthenticationFailed}) {
			t.Fatal(err)
		}
	}
	good := clientlib.Options{AuthID: "u", Auth: []clientlib.Authenticator{clientlib.TicketAuth("right")}}
	_, err := clientlib.Connect(ctx(t), srv.URL, "realm1", good)
	var re *wamp.RPCError
	if !errors.As(err, &re) || !strings.Contains(re.Error(), "too many") {
		t.Fatalf("fourth attempt from the same address: %v", err)
	}
	if srv.Router.Stats().AuthFailures.Load() != 4 {
		t.Fatalf("auth failures counted: %d", srv.Router.Stats().AuthFailures.Load())
	}
}

func TestAuthMethodsNexusClient(t *testing.T) {
	t.Parallel()
	srv, priv := authRouter(t)
	quiet := log.New(io.Discard, "", 0)
	craSign := func(secret string) nexusclient.AuthFunc {
		return func(ch *nexuswamp.Challenge) (string, nexuswamp.Dict) {
			key := []byte(secret)
			if salt, _ := ch.Extra["salt"].(string); salt != "" {
				it, _ := nexuswamp.AsInt64(ch.Extra["iterations"])
				kl, _ := nexuswamp.AsInt64(ch.Extra["keylen"])
				d, _ := pbkdf2.Key(sha256.New, secret, []byte(salt), int(it), int(kl))
				key = []byte(base64.StdEncoding.EncodeToString(d))
			}
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(ch.Extra["challenge"].(string)))
			return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nexuswamp.Dict{}
		}
	}
	for _, tt := range []struct {
		name, authid, method string
		fn                   nexusclient.AuthFunc
		extra                nexuswamp.Dict
		ok                   bool
	}{
		{"ticket", "ticketuser", "ticket", func(*nexuswamp.Challenge) (string, nexuswamp.Dict) { return "s3cret-ticket", nexuswamp.Dict{} }, nil, true},
		{"wrong ticket", "ticketuser", "ticket", func(*nexuswamp.Challenge) (string, nexuswamp.Dict) { return "x", nexuswamp.Dict{} }, nil, false},
		{"wampcra", "crauser", "wampcra", craSign("cra-secret"), nil, true},
		{"wampcra salted", "salteduser", "wampcra", craSign("salted-secret"), nil, true},
		{"wrong cra", "crauser", "wampcra", craSign("nope"), nil, false},
		{"unknown authid", "nobody", "ticket", func(*nexuswamp.Challenge) (string, nexuswamp.Dict) { return "s3cret-ticket", nexuswamp.Dict{} }, nil, false},
		{"bad cryptosign signature", "keyuser", "cryptosign", func(ch *nexuswamp.Challenge) (string, nexuswamp.Dict) {
			nonce, _ := hex.DecodeString(ch.Extra["challenge"].(string))
			_, other, _ := ed25519.GenerateKey(nil)
			return hex.EncodeToString(append(ed25519.Sign(other, nonce), nonce...)), nexuswamp.Dict{}
		}, nexuswamp.Dict{"pubkey": hex.EncodeToString(priv.Public().(ed25519.PublicKey))}, false},
		{"cryptosign", "keyuser", "cryptosign", func(ch *nexuswamp.Challenge) (string, nexuswamp.Dict) {
			nonce, _ := hex.DecodeString(ch.Extra["challenge"].(string))
			return hex.EncodeToString(append(ed25519.Sign(priv, nonce), nonce...)), nexuswamp.Dict{}
		}, nexuswamp.Dict{"pubkey": hex.EncodeToString(priv.Public().(ed25519.PublicKey))}, true},
	} {
		details := nexuswamp.Dict{"authid": tt.authid}
		if tt.extra != nil {
			details["authextra"] = tt.extra
		}
		c, err := nexusclient.ConnectNet(ctx(t), srv.URL, nexusclient.Config{
			Realm: "realm1", HelloDetails: details, Logger: quiet,
			AuthHandlers: map[string]nexusclient.AuthFunc{tt.method: tt.fn},
		})
		if tt.ok != (err == nil) {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if err == nil {
			if got, _ := c.RealmDetails()["authrole"].(string); got == "" {
				t.Errorf("%s: no authrole in WELCOME", tt.name)
			}
			_ = c.Close()
		}
	}
}

// TestAuthorization: each action a role is denied gets not_authorized and is
// not routed; permitted ones route.
func TestAuthorization(t *testing.T) {
	t.Parallel()
	srv, _ := authRouter(t)
	c := ctx(t)
	backend, err := clientlib.Connect(c, srv.URL, "realm1", clientlib.Options{AuthID: "crauser", Auth: []clientlib.Authenticator{clientlib.CRAAuth("cra-secret")}})
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close(c)
	front, err := clientlib.Connect(c, srv.URL, "realm1", clientlib.Options{AuthID: "ticketuser", Auth: []clientlib.Authenticator{clientlib.TicketAuth("s3cret-ticket")}})
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close(c)
	anon, err := clientlib.Connect(c, srv.URL, "realm1", clientlib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close(c)

	echo := func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}
	if _, err := backend.Register(c, "com.app.echo", echo, nil); err != nil {
		t.Fatal(err)
	}
	notAuthorized := &wamp.RPCError{URI: wamp.ErrNotAuthorized}
	// register: denied to frontend
	if _, err := front.Register(c, "com.app.mine", echo, nil); !errors.Is(err, notAuthorized) {
		t.Errorf("frontend register: %v", err)
	}
	// call: permitted to frontend, denied to anonymous
	if res, err := front.Call(c, "com.app.echo", []any{"hi"}, nil, nil); err != nil || res.Args[0] != "hi" {
		t.Errorf("frontend call: %v %v", res, err)
	}
	if _, err := anon.Call(c, "com.app.echo", nil, nil, nil); !errors.Is(err, notAuthorized) {
		t.Errorf("anonymous call: %v", err)
	}
	// subscribe: denied to anonymous outside public.
	if _, err := anon.Subscribe(c, "com.app.news", func(*clientlib.Event) {}, nil); !errors.Is(err, notAuthorized) {
		t.Errorf("anonymous subscribe: %v", err)
	}
	// publish: frontend only under com.app.chat; a denied publication reaches nobody.
	events := make(chan *clientlib.Event, 4)
	if _, err := backend.Subscribe(c, "com.app", func(ev *clientlib.Event) { events <- ev }, &clientlib.SubscribeOptions{Match: "prefix"}); err != nil {
		t.Fatal(err)
	}
	if err := front.Publish(c, "com.app.news", []any{"denied"}, nil, &clientlib.PublishOptions{Acknowledge: true}); !errors.Is(err, notAuthorized) {
		t.Errorf("frontend publish: %v", err)
	}
	if err := front.Publish(c, "com.app.chat.room1", []any{"allowed"}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Errorf("frontend chat publish: %v", err)
	}
	if ev := <-events; ev.Args[0] != "allowed" {
		t.Errorf("the denied publication was routed: %v", ev.Args)
	}
	// The meta API is checked like any URI.
	if _, err := front.Call(c, "wamp.session.count", nil, nil, nil); !errors.Is(err, notAuthorized) {
		t.Errorf("frontend meta call: %v", err)
	}
	if _, err := backend.Call(c, "wamp.session.count", nil, nil, nil); err != nil {
		t.Errorf("backend meta call: %v", err)
	}
}

// TestDynamicAuthenticationAndAuthorization: an authenticator and an
// authorizer procedure, registered by a trusted session, decide for the
// authids and roles the config does not know.
func TestDynamicAuthenticationAndAuthorization(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{
		AuthTimeout: 5 * time.Second,
		Realms: []router.RealmConfig{{
			Name: "realm1", AuthMethods: []router.AuthMethod{router.AuthTicket, router.AuthWAMPCRA},
			Authenticator: "com.auth.authenticate", Authorizer: "com.auth.authorize", AuthorizerCacheTTL: time.Hour,
			Principals: []router.Principal{{AuthID: "authsvc", Role: "trusted", Ticket: "svc"}},
			Roles: []router.RoleConfig{{Name: "trusted", Permissions: []router.Permission{
				{URI: "com", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true},
				{URI: "com.auth.authenticate", Register: true}, {URI: "com.auth.authorize", Register: true},
			}}},
		}},
	}})
	c := ctx(t)
	svc, err := clientlib.Connect(c, srv.URL, "realm1", clientlib.Options{AuthID: "authsvc", Auth: []clientlib.Authenticator{clientlib.TicketAuth("svc")}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(c)
	if _, err := svc.Register(c, "com.auth.authenticate", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		authid, _ := inv.Args[1].(string)
		details := wamp.AsDict(inv.Args[2])
		switch details.String("authmethod") {
		case "ticket":
			if details.String("ticket") == "dyn-ok" {
				return &clientlib.Result{Args: []any{"user"}}, nil
			}
		case "wampcra":
			if authid == "carol" {
				return &clientlib.Result{Args: []any{map[string]any{"secret": "carol-secret", "role": "user"}}}, nil
			}
		}
		return nil, wamp.NewError(wamp.ErrAuthenticationFailed, "no")
	}, nil); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	asked := 0
	if _, err := svc.Register(c, "com.auth.authorize", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		mu.Lock()
		asked++
		mu.Unlock()
		uri, _ := inv.Args[1].(string)
		action, _ := inv.Args[2].(string)
		return &clientlib.Result{Args: []any{action == "call" && strings.HasPrefix(uri, "com.app.")}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Register(c, "com.app.hello", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{"hello"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	// Dynamic ticket: the authenticator accepts one ticket.
	if _, err := clientlib.Connect(c, srv.URL, "realm1", clientlib.Options{AuthID: "dave", Auth: []clientlib.Authenticator{clientlib.TicketAuth("wrong")}}); !errors.Is(err, &wamp.RPCError{URI: wamp.ErrAuthenticationFailed}) {
		t.Fatalf("dynamic ticket, wrong: %v", err)
	}
	dave, err := clientlib.Connect(c, srv.URL, "realm1", clientlib.Options{AuthID: "dave", Auth: []clientlib.Authenticator{clientlib.TicketAuth("dyn-ok")}})
	if err != nil {
		t.Fatal(err)
	}
	defer dave.Close(c)
	if dave.Details().String("authrole") != "user" {
		t.Fatalf("WELCOME %v", dave.Details())
	}
	// Dynamic WAMP-CRA: the authenticator hands out the secret.
	carol, err := clientlib.Connect(c, srv.URL, "realm1", clientlib.Options{AuthID: "carol", Auth: []clientlib.Authenticator{clientlib.CRAAuth("carol-secret")}})
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Close(c)

	// Dynamic authorization, cached.
	for range 3 {
		if res, err := dave.Call(c, "com.app.hello", nil, nil, nil); err != nil || res.Args[0] != "hello" {
			t.Fatalf("authorized call: %v %v", res, err)
		}
	}
	if _, err := dave.Register(c, "com.app.mine", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) { return nil, nil }, nil); !errors.Is(err, &wamp.RPCError{URI: wamp.ErrNotAuthorized}) {
		t.Fatalf("denied register: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked != 2 {
		t.Fatalf("authorizer asked %d times, want 2 (one call decision cached, one register)", asked)
	}
}
