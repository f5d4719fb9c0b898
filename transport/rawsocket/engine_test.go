package rawsocket_test

import (
	"os"

	"github.com/junction-wamp/junction/transport/rawsocket"
)

// testEngine is the engine the package's tests run the server on:
// JUNCTION_WS_ENGINE ("gorilla" or "nbio": websocket.engine chooses the
// engine of both transports), or the default. CI runs them on both.
var testEngine = os.Getenv("JUNCTION_WS_ENGINE")

// withEngine is cfg on the engine under test, unless cfg names one.
func withEngine(cfg rawsocket.Config) rawsocket.Config {
	if cfg.Engine == "" && testEngine != "" {
		cfg.Engine = testEngine
	}
	return cfg
}
