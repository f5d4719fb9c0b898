package websocket_test

import (
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/websocket"
	"github.com/junction-wamp/junction/wamp"
)

// testEngine is the engine this package's tests run their servers on:
// JUNCTION_WS_ENGINE ("gorilla" or "nbio"), or the default. CI runs the
// package once per engine (.ci/run).
var testEngine = os.Getenv("JUNCTION_WS_ENGINE")

// withEngine is cfg on the engine under test.
func withEngine(cfg websocket.Config) websocket.Config {
	if testEngine != "" {
		cfg.Engine = testEngine
	}
	return cfg
}

func TestUnknownEngine(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.Engine = "epoll"
	if _, err := websocket.NewServer(cfg, newEcho(), websocket.Options{Logger: quiet}); err == nil {
		t.Fatal("an unknown engine was accepted")
	}
}

// attacher admits each peer as the router's push model does, sends it one
// message, and records what its session is handed.
type attacher struct {
	mu   sync.Mutex
	msgs int
}

func (a *attacher) ServePeer(transport.Peer) { panic("ServePeer on an attaching transport") }

func (a *attacher) Attach(p transport.Peer) transport.Session {
	_ = p.Send(&wamp.Welcome{Session: 1, Details: wamp.Dict{}})
	return a
}

func (a *attacher) Handle(wamp.Message) bool {
	a.mu.Lock()
	a.msgs++
	a.mu.Unlock()
	return true
}

func (a *attacher) Closed(error) {}

// TestNbioIdleHoldsNoGoroutine: on the nbio engine, with a push handler
// (the router's), 200 idle connections add no goroutine each: the poller
// reads them, and the writer ran only to send the first message. On
// gorilla each would hold one.
func TestNbioIdleHoldsNoGoroutine(t *testing.T) {
	const n = 200
	cfg := websocket.DefaultConfig()
	cfg.Engine = websocket.EngineNbio
	a := &attacher{}
	s, err := websocket.NewServer(cfg, a, websocket.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	before := runtime.NumGoroutine()
	for range n {
		c, _, err := dial(t, url, []string{"wamp.2.json"}, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil { // the session's first message
			t.Fatal(err)
		}
		if err := c.WriteMessage(gws.TextMessage, []byte(`[1,"realm1",{}]`)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every message handed to its session", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.msgs == n
	})
	// The client's own goroutines: gorilla's client Conns hold none.
	waitFor(t, "no goroutine per connection", func() bool { return runtime.NumGoroutine()-before < n/4 })
	if got := s.Stats().Connections.Load(); got != n {
		t.Fatalf("%d connections open, want %d", got, n)
	}
}
