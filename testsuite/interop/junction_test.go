package interop

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/transport/websocket"
)

// startJunction serves realms as the junction binary does with its default
// config, a RawSocket listener of its own and a Unix socket: WebSocket and
// RawSocket on one TCP port, told apart by the first octet, RawSocket on
// a second TCP port and on a Unix socket, with rs as the RawSocket config.
// It returns the URL of each transport.
func startJunction(t *testing.T, realms []router.RealmConfig, rs rawsocket.Config) targets {
	t.Helper()
	sock := filepath.Join(socketDir(t), "junction.sock")
	// Every client comes from 127.0.0.1 and the auth scenarios of all of
	// them run at once: authentications in progress count against the
	// per-address failure limit, which would refuse some of them.
	//
	// A client flooding 2,000 calls (concurrent_calls) can leave its socket
	// unread for seconds while the race detector and the other clients
	// load a 2-core machine (AutobahnJS's callee lost its connection so
	// once, at 20 s): the slow-consumer and write bounds, which their own
	// tests cover, are raised here so that they judge the clients' wire
	// format, not the machine's load.
	cfg := server.Config{
		Router:    router.Config{Realms: realms, AuthFailureLimit: -1},
		RawSocket: server.RawSocketConfig{Listen: "127.0.0.1:0", Unix: sock, Transport: rs},
		WebSocket: websocket.Config{Engine: wsEngine, SlowConsumerTimeout: time.Minute, WriteTimeout: time.Minute},
	}
	a := routertest.ServeAll(t, cfg)
	return targets{
		webSocket.id:       "ws://" + a.HTTP + "/ws",
		rawSocketTCP.id:    "rs://" + a.HTTP,
		rawSocketListen.id: "rs://" + a.RawSocketTCP,
		rawSocketUnix.id:   "unix://" + a.RawSocketUnix,
	}
}

// wsEngine is the WebSocket engine the routers of these tests run on:
// JUNCTION_WS_ENGINE ("gorilla", "nbio"), or the default. CI runs the
// interop tests on each engine (.ci/run).
var wsEngine = os.Getenv("JUNCTION_WS_ENGINE")

// socketDir is a directory for Unix sockets, removed when the test ends:
// short, unlike t.TempDir's, since a socket's path is at most 107 bytes.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "interop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
