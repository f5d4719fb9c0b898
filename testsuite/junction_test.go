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
	srv := routertest.Start(t, routertest.Options{Router: router.Config{Realms: []router.RealmConfig{{
		Name: "realm1", Anonymous: true, Roles: routertest.TrustedRoles("anonymous"), // session_kill
		EventHistory: []router.HistoryConfig{{Topic: "test", Match: "prefix", Limit: 10000}},
	}}}})
	Run(t, Target{URL: srv.URL, Realm: "realm1"}, drivers, RunOptions{HistoryPrefix: "test"})
}
