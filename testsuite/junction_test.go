package testsuite

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/websocket"
)

var drivers = []Driver{ClientlibDriver{}, NexusDriver{}}

// TestJunction runs the suite against an in-process Junction with our client
// and the nexus client, every serializer, over WebSocket (with and without
// compression), RawSocket on the same port and RawSocket on a Unix socket,
// and mixed: clients of both libraries, serializers and transports in the
// same scenarios.
func TestJunction(t *testing.T) {
	t.Parallel()
	Run(t, serveJunction(t), drivers, RunOptions{HistoryPrefix: "test"})
}

// realmConfig is the router config of the suite's runs: realm1, open, with
// the kill meta procedures allowed and event history on the scenarios'
// topics.
func realmConfig() router.Config {
	return router.Config{Realms: []router.RealmConfig{{
		Name: "realm1", Anonymous: true, Roles: routertest.TrustedRoles("anonymous"), // session_kill
		EventHistory: []router.HistoryConfig{{Topic: "test", Match: "prefix", Limit: 10000}},
	}}}
}

// serveJunction serves Junction (package server) on 127.0.0.1 until the
// test ends: WebSocket and RawSocket on one port, RawSocket on a Unix
// socket.
func serveJunction(t *testing.T) Target {
	dir, err := os.MkdirTemp("", "jts") // short: a socket's path has at most 108 octets
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "r.sock")
	addr := routertest.Serve(t, server.Config{
		Router:    realmConfig(),
		RawSocket: server.RawSocketConfig{Unix: sock},
		// JUNCTION_WS_ENGINE: CI runs the scenarios on each engine.
		WebSocket: websocket.Config{Engine: os.Getenv("JUNCTION_WS_ENGINE")},
		// The runs open a few thousand sessions at once, all from 127.0.0.1.
		Connections: transport.ListenerLimits{ConnectionsPerAddress: -1},
	})
	return Target{URL: "ws://" + addr + "/ws", Realm: "realm1", Transports: []string{"rs://" + addr, "unix://" + sock}}
}

// TestJunctionLocal runs the suite with clients of the in-process transport
// (LocalDriver), each serializer declared, and mixed with WebSocket clients
// of every serializer in the same scenarios: in-process callers, callees,
// publishers and subscribers with WebSocket ones.
func TestJunctionLocal(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: realmConfig()})
	Run(t, Target{URL: srv.URL, Realm: "realm1"}, []Driver{LocalDriver{Handler: srv.Router}, ClientlibDriver{}},
		RunOptions{HistoryPrefix: "test"})
}
