package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/bridge"
	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/server"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestReloadNeedsRestart: Reload applies the router's part and leaves the
// settings that need a restart as they run, naming each in its result and
// its log; an invalid config changes nothing.
func TestReloadNeedsRestart(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0"}, server.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithTimeout(context.Background(), testTimeout)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	url := "ws://" + ln.Addr().String() + "/ws"
	c, err := clientlib.Connect(ctx, url, "realm1", clientlib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)

	realms := []router.RealmConfig{{Name: "realm1", Anonymous: true}, {Name: "realm2", Anonymous: true}}
	res, err := srv.Reload(server.Config{Listen: "127.0.0.1:1", ShutdownGrace: time.Minute, Router: router.Config{Realms: realms}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server.listen", "server.shutdown_grace"} {
		if !slices.Contains(res.NeedsRestart, want) {
			t.Errorf("needs restart %v, want %s among them", res.NeedsRestart, want)
		}
		if !strings.Contains(logs.String(), "needs a restart; not applied\" setting="+want) {
			t.Errorf("%s not logged as needing a restart:\n%s", want, logs.String())
		}
	}
	if cfg := srv.Config(); cfg.Listen != "127.0.0.1:0" || cfg.ShutdownGrace == time.Minute || len(cfg.Router.Realms) != 2 {
		t.Errorf("running config after the reload: listen %s, grace %s, realms %v", cfg.Listen, cfg.ShutdownGrace, cfg.Router.Realms)
	}
	c2, err := clientlib.Connect(ctx, url, "realm2", clientlib.Options{})
	if err != nil {
		t.Fatalf("the realm added: %v", err)
	}
	_ = c2.Close(ctx)

	bad := server.Config{Router: router.Config{Realms: []router.RealmConfig{{Name: "realm1", Roles: []router.RoleConfig{{Name: "r",
		Permissions: []router.Permission{{URI: "x", Match: "sideways"}}}}}}}}
	if _, err := srv.Reload(bad); err == nil || !strings.Contains(err.Error(), "sideways") {
		t.Errorf("invalid reload: %v", err)
	}
	if cfg := srv.Config(); len(cfg.Router.Realms) != 2 {
		t.Errorf("an invalid reload changed the config: %v", cfg.Router.Realms)
	}
	if _, err := c.Call(ctx, "wamp.session.count", nil, nil, nil); err != nil {
		t.Errorf("the session after the reloads: %v", err)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// TestReloadBridge: a reload adds an HTTP bridge endpoint and a subscriber
// webhook on a realm the same reload adds, which then serve; a reload
// whose bridge part is invalid applies nothing, the router's part
// included.
func TestReloadBridge(t *testing.T) {
	t.Parallel()
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0"}, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithTimeout(context.Background(), testTimeout)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	post := func() int {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/call",
			strings.NewReader(`{"procedure": "wamp.session.count"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != http.StatusNotFound {
		t.Fatalf("POST /call before the reload: %d, want 404", code)
	}

	delivered := make(chan string, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case delivered <- string(b):
		default:
		}
	}))
	defer hook.Close()
	realms := []router.RealmConfig{{Name: "realm1", Anonymous: true}, {Name: "realm2", Anonymous: true}}
	withBridge := server.Config{Router: router.Config{Realms: realms}, Bridge: bridge.Config{
		Callers: []bridge.Endpoint{{Path: "/call", Realm: "realm2", Auth: []bridge.AuthMethod{bridge.AuthAnonymous}}}},
		Webhooks: webhook.Config{Subscribers: []webhook.SubscriberConfig{{Name: "events", Session: webhook.Session{Realm: "realm2"},
			Topic: "com.example.t", Endpoint: webhook.Endpoint{URL: hook.URL}}}}}
	if _, err := srv.Reload(withBridge); err != nil {
		t.Fatal(err)
	}
	if code := post(); code != http.StatusOK {
		t.Fatalf("POST /call after the reload: %d, want 200", code)
	}
	pub, err := clientlib.Connect(ctx, "ws://"+ln.Addr().String()+"/ws", "realm2", clientlib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	if err := pub.Publish(ctx, "com.example.t", []any{"hello"}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-delivered:
		if !strings.Contains(body, "hello") {
			t.Errorf("the webhook the reload added got %s", body)
		}
	case <-ctx.Done():
		t.Fatal("the webhook the reload added got no event")
	}

	// realm3 is valid, the caller's realm is not: nothing is applied.
	bad := withBridge
	bad.Router.Realms = append(slices.Clone(realms), router.RealmConfig{Name: "realm3", Anonymous: true})
	bad.Bridge.Callers = []bridge.Endpoint{{Path: "/call", Realm: "nowhere", Auth: []bridge.AuthMethod{bridge.AuthAnonymous}}}
	if _, err := srv.Reload(bad); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("reload with an invalid bridge: %v", err)
	}
	if cfg := srv.Config(); len(cfg.Router.Realms) != 2 {
		t.Errorf("an invalid bridge part let the router's apply: realms %v", cfg.Router.Realms)
	}
	if code := post(); code != http.StatusOK {
		t.Errorf("POST /call after the refused reload: %d, want 200", code)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
