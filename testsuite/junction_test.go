package testsuite

import (
	"testing"

	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
)

var drivers = []Driver{ClientlibDriver{}, NexusDriver{}}

// TestJunction runs the suite against an in-process Junction with our client
// and the nexus client, every serializer, with and without compression, and
// mixed.
func TestJunction(t *testing.T) {
	t.Parallel()
	srv := startJunction(t)
	Run(t, Target{URL: srv.URL, Realm: "realm1"}, drivers, RunOptions{HistoryPrefix: "test"})
}

func startJunction(t *testing.T) *routertest.Server {
	return routertest.Start(t, routertest.Options{Router: router.Config{Realms: []router.RealmConfig{{
		Name: "realm1", Anonymous: true, Roles: routertest.TrustedRoles("anonymous"), // session_kill
		EventHistory: []router.HistoryConfig{{Topic: "test", Match: "prefix", Limit: 10000}},
	}}}})
}

// TestJunctionLocal runs the suite with clients of the in-process transport
// (LocalDriver), each serializer declared, and mixed with WebSocket clients
// of every serializer in the same scenarios: in-process callers, callees,
// publishers and subscribers with WebSocket ones.
func TestJunctionLocal(t *testing.T) {
	t.Parallel()
	srv := startJunction(t)
	Run(t, Target{URL: srv.URL, Realm: "realm1"}, []Driver{LocalDriver{Handler: srv.Router}, ClientlibDriver{}},
		RunOptions{HistoryPrefix: "test"})
}
