package chat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport/websocket"
	"github.com/junction-wamp/junction/wamp"
)

func TestHistoryKeepsTheLast(t *testing.T) {
	t.Parallel()
	h := NewHistory(3)
	for i := 1; i <= 5; i++ {
		h.Add(Message{Publication: wamp.ID(i), Text: strconv.Itoa(i)})
	}
	texts := func(msgs []Message) string {
		var out []string
		for _, m := range msgs {
			out = append(out, m.Text)
		}
		return strings.Join(out, ",")
	}
	if got := texts(h.Last(0)); got != "3,4,5" {
		t.Errorf("Last(0) = %s, want 3,4,5", got)
	}
	if got := texts(h.Last(2)); got != "4,5" {
		t.Errorf("Last(2) = %s, want 4,5", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := h.WaitAdded(ctx, 5); err != nil {
		t.Errorf("WaitAdded(5) after 5 messages: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := h.WaitAdded(ctx, 6); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitAdded(6) after 5 messages: %v, want context.Canceled", err)
	}
}

func TestFromEvent(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ev := func(kwargs map[string]any) *clientlib.Event {
		return &clientlib.Event{Publication: 7, Kwargs: kwargs, Details: wamp.Dict{"publisher": uint64(42)}}
	}
	m, ok := FromEvent(ev(map[string]any{"name": " alice ", "text": " hi "}), now)
	if !ok || m != (Message{Publication: 7, Session: 42, Name: "alice", Text: "hi", Time: now}) {
		t.Errorf("FromEvent: %+v %v", m, ok)
	}
	if m, ok := FromEvent(ev(map[string]any{"text": "hi"}), now); !ok || m.Name != "anonymous" {
		t.Errorf("no name: %+v %v", m, ok)
	}
	for _, kw := range []map[string]any{
		nil,
		{"name": "alice"},
		{"name": "alice", "text": "   "},
		{"name": "alice", "text": 5},
		{"name": "alice", "text": strings.Repeat("é", MaxText+1)},
		{"name": strings.Repeat("n", MaxName+1), "text": "hi"},
	} {
		if m, ok := FromEvent(ev(kw), now); ok {
			t.Errorf("FromEvent(%v) = %+v, want refused", kw, m)
		}
	}
}

// TestService runs the service against an in-process router: messages a
// JSON client publishes come back from chat.history, oldest first, with the
// publisher the router disclosed.
func TestService(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	history := startService(ctx, t, srv.URL, 2)

	page, err := clientlib.Connect(ctx, srv.URL, "realm1", clientlib.Options{Serializer: "json"})
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close(ctx)
	opts := &clientlib.PublishOptions{Acknowledge: true, DiscloseMe: true}
	for _, text := range []string{"one", "two", "three"} {
		if err := page.Publish(ctx, TopicMessage, nil, map[string]any{"name": "alice", "text": text}, opts); err != nil {
			t.Fatal(err)
		}
	}
	if err := page.Publish(ctx, TopicMessage, nil, map[string]any{"name": "alice"}, opts); err != nil {
		t.Fatal(err)
	}
	if err := history.WaitAdded(ctx, 3); err != nil {
		t.Fatal(err)
	}
	res, err := page.Call(ctx, ProcedureHistory, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := res.Args[0].([]any)
	if len(list) != 2 {
		t.Fatalf("chat.history = %v, want the last 2 messages", res.Args)
	}
	for i, want := range []string{"two", "three"} {
		m := wamp.AsDict(list[i])
		if m.String("text") != want || m.String("name") != "alice" {
			t.Errorf("message %d = %v, want %s from alice", i, m, want)
		}
		if id, _ := wamp.AsID(m["session"]); id != page.ID() {
			t.Errorf("message %d session %v, want the publisher %d", i, m["session"], page.ID())
		}
		if _, err := time.Parse(time.RFC3339Nano, m.String("time")); err != nil {
			t.Errorf("message %d time: %v", i, err)
		}
	}
	res, err = page.Call(ctx, ProcedureHistory, []any{1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := res.Args[0].([]any); len(list) != 1 || wamp.AsDict(list[0]).String("text") != "three" {
		t.Errorf("chat.history(1) = %v", res.Args)
	}
	if _, err := page.Call(ctx, ProcedureHistory, []any{"all"}, nil, nil); !errors.Is(err, &wamp.RPCError{URI: wamp.ErrInvalidArgument}) {
		t.Errorf("chat.history(\"all\"): %v, want invalid_argument", err)
	}
}

// startService connects the chat service to url until the test ends.
func startService(ctx context.Context, t *testing.T, url string, keep int) *History {
	t.Helper()
	c, err := clientlib.Connect(ctx, url, "realm1", clientlib.Options{Serializer: "msgpack"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	h := NewHistory(keep)
	if err := Serve(ctx, c, h, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return h
}

// demoAllowedOrigins reads websocket.allowed_origins from the demo's
// config.toml, so that the tests run the Origin policy the demo runs. The
// key is one line whose value, a TOML array of plain strings, is also JSON.
func demoAllowedOrigins(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("config.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.TrimSpace(key) == "allowed_origins" {
			var origins []string
			if err := json.Unmarshal([]byte(value), &origins); err != nil {
				t.Fatalf("config.toml allowed_origins: %v", err)
			}
			return origins
		}
	}
	t.Fatal("config.toml sets no allowed_origins")
	return nil
}

// wsEngine is the WebSocket engine the tests' routers run on:
// JUNCTION_WS_ENGINE ("gorilla", "nbio"), or the default. CI runs these
// tests on each engine (.ci/run).
var wsEngine = os.Getenv("JUNCTION_WS_ENGINE")

// TestDemoOriginPolicy checks the demo's allow-list as the router applies
// it: a listed development origin and the router's own origin may open a
// WebSocket, another origin gets 403.
func TestDemoOriginPolicy(t *testing.T) {
	t.Parallel()
	origins := demoAllowedOrigins(t)
	srv := routertest.Start(t, routertest.Options{Transport: websocket.Config{Engine: wsEngine, AllowedOrigins: origins}})
	d := gws.Dialer{Subprotocols: []string{"wamp.2.json"}}
	for _, tt := range []struct {
		origin string
		want   int
	}{
		{origins[0], http.StatusSwitchingProtocols},
		{srv.HTTP.URL, http.StatusSwitchingProtocols}, // same origin
		{"http://127.0.0.1:8001", http.StatusForbidden},
		{"https://evil.example", http.StatusForbidden},
	} {
		conn, resp, err := d.Dial(srv.URL, http.Header{"Origin": {tt.origin}})
		if conn != nil {
			conn.Close()
		}
		if resp == nil || resp.StatusCode != tt.want {
			t.Errorf("Origin %s: %v %v, want HTTP %d", tt.origin, resp, err, tt.want)
		}
	}
}

// syncBuffer is a log sink for the router's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// browserTools finds node, Chromium and the npm packages the browser test
// needs. It skips the test when one is missing, or fails it under CI.
func browserTools(t *testing.T) (node, chromium string) {
	t.Helper()
	var missing []string
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, "Chromium at "+chromium+" (Debian package chromium)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node in PATH")
	}
	for _, f := range []string{"node_modules/playwright-core/package.json", "node_modules/autobahn-browser/package.json", "web/vendor/autobahn.min.js"} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, "examples/chat/"+f+" (npm ci in examples/chat)")
		}
	}
	if len(missing) > 0 {
		msg := "browser test needs " + strings.Join(missing, ", ") + "; .ci/install-chat installs what it needs"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, chromium
}

// artifactsDir is where the browser test saves its screenshots:
// $CHAT_ARTIFACTS, or examples/chat/artifacts.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CHAT_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestChatInChromium runs the demo as a person would, in headless Chromium
// driven by browser-test.mjs (playwright-core): the router serves the page
// and the WebSocket endpoint on one port, with the demo's Origin policy; the
// chat service keeps the history; a second server, another origin, serves
// the same page, which the router must refuse.
func TestChatInChromium(t *testing.T) {
	t.Parallel()
	node, chromium := browserTools(t)
	start := time.Now()

	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	r, err := router.New(router.Config{Realms: []router.RealmConfig{
		{Name: "realm1", Anonymous: true, DisclosePublisher: router.DiscloseOnRequest},
	}}, router.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewServer(websocket.Config{Engine: wsEngine, AllowedOrigins: demoAllowedOrigins(t)}, r,
		websocket.Options{Logger: logger, Ready: r.Serving})
	if err != nil {
		t.Fatal(err)
	}
	// The routes cmd/junction serves with the demo's [web] section.
	mux := http.NewServeMux()
	mux.Handle("/ws", ws.Handler())
	mux.Handle("/healthz", ws.Handler())
	mux.Handle("/", http.FileServer(http.Dir("web")))
	site := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
		_ = ws.Shutdown(ctx)
		site.Close()
	})
	wsURL := "ws" + strings.TrimPrefix(site.URL, "http") + "/ws"

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	history := startService(ctx, t, wsURL, 100)

	// Another origin serving the same page, pointed at the router; and the
	// test's hook to wait until the service has stored n messages.
	other := http.NewServeMux()
	other.Handle("/", http.FileServer(http.Dir("web")))
	other.HandleFunc("GET /_test/history", func(w http.ResponseWriter, req *http.Request) {
		n, _ := strconv.Atoi(req.URL.Query().Get("added"))
		wctx, cancel := context.WithTimeout(req.Context(), 15*time.Second)
		defer cancel()
		if err := history.WaitAdded(wctx, n); err != nil {
			http.Error(w, fmt.Sprintf("the service has not stored %d messages: %v", n, err), http.StatusGatewayTimeout)
			return
		}
		_, _ = fmt.Fprintln(w, "ok")
	})
	foreign := httptest.NewServer(other)
	defer foreign.Close()

	cmd := exec.CommandContext(ctx, node, "browser-test.mjs")
	cmd.Env = append(os.Environ(),
		"CHAT_URL="+site.URL+"/",
		"FOREIGN_URL="+foreign.URL+"/?router="+wsURL,
		"HISTORY_WAIT_URL="+foreign.URL+"/_test/history",
		"ARTIFACTS="+artifactsDir(t),
		"CHROMIUM="+chromium,
	)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("browser-test.mjs (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("browser-test.mjs: %v (router log:\n%s)", err, logs.String())
	}

	// The foreign page was refused by the Origin policy, not by anything else.
	if l := logs.String(); !strings.Contains(l, "websocket origin refused") || !strings.Contains(l, "origin="+foreign.URL) {
		t.Errorf("router log has no refusal of origin %s:\n%s", foreign.URL, l)
	}
	if msgs := history.Last(0); len(msgs) != 2 || msgs[0].Name != "alice" || msgs[1].Name != "bob" {
		t.Errorf("history %+v, want alice's and bob's messages", msgs)
	}
}
