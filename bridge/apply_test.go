package bridge_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/bridge"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/wamp"
)

// registerCallerID registers com.example.whoami answering the caller's
// session id (disclosed on request).
func registerCallerID(t *testing.T, c *clientlib.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := c.Register(ctx, "com.example.whoami", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		id, _ := inv.Details.Int("caller")
		return &clientlib.Result{Args: []any{id}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

const whoami = `{"procedure": "com.example.whoami", "options": {"disclose_me": true}}`

// callerID calls whoami through path with header and returns the
// session id the callee saw.
func (f *fixture) callerID(t *testing.T, path string, header http.Header) float64 {
	t.Helper()
	r := f.post(t, path, header, whoami)
	want(t, r, http.StatusOK, "")
	args, _ := r.body["args"].([]any)
	id, _ := args[0].(float64)
	if id == 0 {
		t.Fatalf("no caller id: %s", r.raw)
	}
	return id
}

// TestApply checks a config swapped while the bridge serves: an invalid
// one changes nothing; a valid one adds and removes endpoints, keeps the
// session of an identity it still has and closes that of one it dropped.
func TestApply(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	registerCallerID(t, f.callee)
	b := f.srv.Bridge()
	alice := f.callerID(t, "/call", bearer(aliceTicket))
	anon := f.callerID(t, "/open", nil)
	if again := f.callerID(t, "/call", bearer(aliceTicket)); again != alice {
		t.Fatalf("alice's requests went through two sessions: %v, %v", alice, again)
	}

	invalid := f.srv.BridgeConfig(bridgeConfig())
	invalid.Callers = append(invalid.Callers, bridge.Endpoint{Path: "/call", Realm: realm, Auth: []bridge.AuthMethod{"magic"}})
	err := b.Apply(invalid)
	if err == nil || !strings.Contains(err.Error(), "taken by another endpoint") || !strings.Contains(err.Error(), `auth "magic"`) {
		t.Fatalf("Apply of an invalid config: %v", err)
	}
	want(t, f.post(t, "/open", nil, whoami), http.StatusOK, "")

	next := f.srv.BridgeConfig(bridgeConfig())
	next.Callers = []bridge.Endpoint{{Path: "/v2/call", Realm: realm, Auth: []bridge.AuthMethod{bridge.AuthTicket}}}
	if err := b.Apply(next); err != nil {
		t.Fatal(err)
	}
	if got := f.callerID(t, "/v2/call", bearer(aliceTicket)); got != alice {
		t.Errorf("alice's session was not kept: %v, then %v", alice, got)
	}
	if b.Handles("/open") || b.Handles("/call") || !b.Handles("/v2/call") || !b.Handles("/publish") {
		t.Error("the endpoints did not change")
	}
	// The anonymous session, which no endpoint needs any more, is closed.
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	waitFor(t, "the anonymous session to leave", func() bool {
		_, err := f.callee.Call(ctx, "wamp.session.get", []any{int64(anon)}, nil, nil)
		return errors.Is(err, &wamp.RPCError{URI: wamp.ErrNoSuchSession})
	})
	if b.Config().MaxBody != 1<<20 {
		t.Errorf("defaults not filled in: %+v", b.Config())
	}
}

// TestConfigValidation checks what New and Apply refuse.
func TestConfigValidation(t *testing.T) {
	t.Parallel()
	rc := realmConfig()
	closed := rc
	closed.Name, closed.Anonymous = "closed", false
	dup := rc
	dup.Name = "dup"
	dup.Principals = []router.Principal{{AuthID: "a", Role: "client", Ticket: "same"}, {AuthID: "b", Role: "client", Ticket: "same"}}
	base := bridge.Config{Realms: []router.RealmConfig{rc, closed, dup}}
	ep := func(path, realm string, auth ...bridge.AuthMethod) bridge.Endpoint {
		return bridge.Endpoint{Path: path, Realm: realm, Auth: auth}
	}
	cases := map[string]func(c *bridge.Config){
		"path":           func(c *bridge.Config) { c.Callers = []bridge.Endpoint{ep("call", realm, bridge.AuthTicket)} },
		"trailing slash": func(c *bridge.Config) { c.Callers = []bridge.Endpoint{ep("/call/", realm, bridge.AuthTicket)} },
		"no auth":        func(c *bridge.Config) { c.Callers = []bridge.Endpoint{ep("/call", realm)} },
		"unknown realm":  func(c *bridge.Config) { c.Callers = []bridge.Endpoint{ep("/call", "nowhere", bridge.AuthTicket)} },
		"anonymous":      func(c *bridge.Config) { c.Callers = []bridge.Endpoint{ep("/call", "closed", bridge.AuthAnonymous)} },
		"shared ticket":  func(c *bridge.Config) { c.Callers = []bridge.Endpoint{ep("/call", "dup", bridge.AuthTicket)} },
		"short secret": func(c *bridge.Config) {
			c.Keys = []bridge.Key{{Key: "k", Secret: "short", Realm: realm, AuthID: "a", Role: "r"}}
		},
		"key no role": func(c *bridge.Config) {
			c.Keys = []bridge.Key{{Key: "k", Secret: keySecret, Realm: realm, AuthID: "a"}}
		},
		"key role": func(c *bridge.Config) {
			c.Keys = []bridge.Key{{Key: "k", Secret: keySecret, Realm: realm, AuthID: "a", Role: "admin"}}
		},
		"negative": func(c *bridge.Config) { c.MaxBody = -1 },
		"timeouts": func(c *bridge.Config) { c.DefaultCallTimeout, c.MaxCallTimeout = 10e9, 1e9 },
		"publisher twice": func(c *bridge.Config) {
			c.Publishers = []bridge.Endpoint{ep("/p", realm, bridge.AuthTicket), ep("/p", realm, bridge.AuthSigned)}
		},
	}
	for name, mutate := range cases {
		c := base
		c.Realms = slices.Clone(base.Realms)
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: not refused", name)
		}
	}
	if err := base.Validate(); err != nil {
		t.Errorf("a config with no endpoint: %v", err)
	}
}

// TestSessionRejoin checks that when a bridge session ends (killed by an
// administrator) the next request joins a new one.
func TestSessionRejoin(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	registerCallerID(t, f.callee)
	first := f.callerID(t, "/call", bearer(aliceTicket))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := f.callee.Call(ctx, "wamp.session.kill", []any{int64(first)}, nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the killed session to leave", func() bool {
		_, err := f.callee.Call(ctx, "wamp.session.get", []any{int64(first)}, nil, nil)
		return errors.Is(err, &wamp.RPCError{URI: wamp.ErrNoSuchSession})
	})
	var next float64
	waitFor(t, "a request through a new session", func() bool {
		r := f.post(t, "/call", bearer(aliceTicket), whoami)
		if r.code != http.StatusOK {
			return false // the bridge saw the session end in the middle of this request: 503
		}
		args, _ := r.body["args"].([]any)
		next, _ = args[0].(float64)
		return true
	})
	if next == first || next == 0 {
		t.Errorf("the same session %v answered after it was killed", next)
	}
}

// TestApplyUnderLoad swaps the config back and forth while requests run,
// for the race detector: every request gets an answer of one config or
// the other.
func TestApplyUnderLoad(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	b := f.srv.Bridge()
	one := f.srv.BridgeConfig(bridgeConfig())
	two := f.srv.BridgeConfig(bridgeConfig())
	two.Callers = two.Callers[:1]
	two.MaxConcurrent = 8
	done := make(chan error, 4)
	for range 4 {
		go func() {
			for range 25 {
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.base+"/call", strings.NewReader(addBody))
				req.Header.Set("Authorization", "Bearer "+aliceTicket)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				cancel()
				if err != nil {
					done <- err
					return
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
					done <- errors.New(resp.Status)
					return
				}
			}
			done <- nil
		}()
	}
	for i := range 50 {
		cfg := one
		if i%2 == 1 {
			cfg = two
		}
		if err := b.Apply(cfg); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestApplyCannotTakeServerPaths checks that an endpoint Apply puts at the
// WebSocket path does not take it from WAMP clients.
func TestApplyCannotTakeServerPaths(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	next := f.srv.BridgeConfig(bridgeConfig())
	next.Callers = append(next.Callers, bridge.Endpoint{Path: "/ws", Realm: realm, Auth: []bridge.AuthMethod{bridge.AuthAnonymous}})
	if err := f.srv.Bridge().Apply(next); err != nil {
		t.Fatal(err)
	}
	connect(t, strings.Replace(f.base, "http", "ws", 1)+"/ws") // still WAMP
}
