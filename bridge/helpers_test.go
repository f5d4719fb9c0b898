package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/junction-wamp/junction/internal/routertest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/junction-wamp/junction/bridge"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 30 * time.Second

const (
	realm       = "realm1"
	aliceTicket = "alice-ticket-0123456789"
	keyName     = "svc-key"
	keySecret   = "svc-secret-0123456789"
)

// realmConfig is the realm of the tests: a callee "backend" that may
// register com.example.*, "alice" (role client) and the key svc-key (role
// client) that may call com.example.add, com.example.echo and
// com.example.fail and publish on com.example.news, and anonymous
// sessions (role public) that may call com.example.add only.
func realmConfig() router.RealmConfig {
	call := func(uri string) router.Permission { return router.Permission{URI: uri, Call: true} }
	return router.RealmConfig{
		Name: realm, Anonymous: true, AnonymousRole: "public",
		AuthMethods: []router.AuthMethod{router.AuthTicket},
		Principals: []router.Principal{
			{AuthID: "backend", Role: "backend", Ticket: "backend-ticket-0123456789"},
			{AuthID: "alice", Role: "client", Ticket: aliceTicket},
			{AuthID: "old", Role: "client", Ticket: "expired-ticket-0123456789", TicketExpires: time.Now().Add(-time.Hour)},
		},
		Roles: []router.RoleConfig{
			{Name: "backend", Permissions: []router.Permission{{URI: "com.example.", Match: wamp.MatchPrefix, Register: true, Subscribe: true, Call: true},
				call("wamp.session.get"), call("wamp.session.kill")}},
			{Name: "client", Permissions: []router.Permission{call("com.example.add"), call("com.example.echo"), call("com.example.fail"),
				call("com.example.slow"), call("com.example.nobody"), call("com.example.whoami"), {URI: "com.example.news", Publish: true}}},
			{Name: "public", Permissions: []router.Permission{call("com.example.add"), call("com.example.whoami")}},
		},
	}
}

// bridgeConfig is the bridge of the tests: /call and /publish take
// tickets and signed requests, /open calls anonymously.
func bridgeConfig() bridge.Config {
	both := []bridge.AuthMethod{bridge.AuthTicket, bridge.AuthSigned}
	return bridge.Config{
		Callers: []bridge.Endpoint{{Path: "/call", Realm: realm, Auth: both},
			{Path: "/open", Realm: realm, Auth: []bridge.AuthMethod{bridge.AuthAnonymous}}},
		Publishers: []bridge.Endpoint{{Path: "/publish", Realm: realm, Auth: both}},
		Keys:       []bridge.Key{{Key: keyName, Secret: keySecret, Realm: realm, AuthID: "svc", Role: "client"}},
	}
}

// fixture is a served router with the bridge, and a callee.
type fixture struct {
	srv    *server.Server
	base   string // http://127.0.0.1:port
	callee *clientlib.Client
}

// start serves a router with bc on 127.0.0.1 and connects the callee over
// WebSocket, with com.example.add, echo, fail and slow registered.
// The router allows 1000 failed authentications a minute per address,
// unless set changes it.
func start(t testing.TB, bc bridge.Config, set ...func(*server.Config)) *fixture {
	t.Helper()
	rc := router.DefaultConfig()
	rc.Realms = []router.RealmConfig{realmConfig()}
	rc.AuthFailureLimit = 1000
	cfg := server.Config{Router: rc, Bridge: bc}
	for _, f := range set {
		f(&cfg)
	}
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	f := &fixture{srv: srv, base: "http://" + ln.Addr().String()}
	f.callee = connect(t, "ws://"+ln.Addr().String()+"/ws")
	register(t, f.callee)
	return f
}

func connect(t testing.TB, url string) *clientlib.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := clientlib.Connect(ctx, url, realm, clientlib.Options{AuthID: "backend",
		Auth: []clientlib.Authenticator{clientlib.TicketAuth("backend-ticket-0123456789")}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func register(t testing.TB, c *clientlib.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	handlers := map[string]clientlib.InvocationHandler{
		"com.example.add": func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
			a, _ := inv.Args[0].(int64)
			b, _ := inv.Args[1].(int64)
			return &clientlib.Result{Args: []any{a + b}}, nil
		},
		"com.example.echo": func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
			return &clientlib.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
		},
		"com.example.fail": func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
			return nil, &wamp.RPCError{URI: "com.example.error.bad_input", Args: []any{"no"}, Kwargs: map[string]any{"field": "x"}}
		},
		"com.example.slow": func(ctx context.Context, _ *clientlib.Invocation) (*clientlib.Result, error) {
			<-ctx.Done() // interrupted when the call times out
			return nil, ctx.Err()
		},
		"com.example.secret": func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
			return &clientlib.Result{Args: []any{"secret"}}, nil
		},
	}
	for name, h := range handlers {
		if _, err := c.Register(ctx, name, h, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// response is an answer of the bridge.
type response struct {
	code   int
	header http.Header
	body   map[string]any
	raw    string
}

// post sends body to path with header set.
func (f *fixture) post(t *testing.T, path string, header http.Header, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s answered %d with a body that is not a JSON object: %q", path, resp.StatusCode, raw)
	}
	return r
}

func bearer(ticket string) http.Header {
	return http.Header{"Authorization": {"Bearer " + ticket}}
}

// signedPath returns path with the parameters of a request signed with
// secret at ts, with nonce.
func signedPath(path, key, secret string, ts time.Time, nonce int, body string) string {
	stamp := ts.UTC().Format(time.RFC3339Nano)
	seq, n := "1", strconv.Itoa(nonce)
	q := url.Values{"key": {key}, "timestamp": {stamp}, "seq": {seq}, "nonce": {n},
		"signature": {bridge.Sign(secret, key, stamp, seq, n, []byte(body))}}
	return path + "?" + q.Encode()
}

// want checks a response's status and error URI ("" for none).
func want(t *testing.T, r response, code int, uri string) {
	t.Helper()
	if r.code != code || r.body["error"] != nil && r.body["error"] != uri || r.body["error"] == nil && uri != "" {
		t.Fatalf("got %d %s, want %d with error %q", r.code, r.raw, code, uri)
	}
}

// waitFor polls cond until it holds, or fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	routertest.WaitUntil(t, what, cond)
}

// nopHandler is a router that serves no session, for tests of New and
// Apply that join none.
type nopHandler struct{}

func (nopHandler) ServePeer(p transport.Peer) { p.Close(transport.CloseGoingAway, "no router") }
