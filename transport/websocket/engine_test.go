package websocket_test

import (
	"os"
	"testing"

	"github.com/junction-wamp/junction/transport/websocket"
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
