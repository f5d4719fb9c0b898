package router

import (
	"testing"

	"github.com/junction-wamp/junction/wamp"
)

// BenchmarkAuthorize is the check every CALL, PUBLISH, SUBSCRIBE and
// REGISTER of a session with a role goes through: the role's rules (an
// exact rule, prefixes, a wildcard) looked up for a URI a prefix grants.
func BenchmarkAuthorize(b *testing.B) {
	r := newTestRouter(b, Config{Realms: []RealmConfig{{Name: "realm1", Anonymous: true, Roles: []RoleConfig{{Name: "anonymous",
		Permissions: []Permission{
			{URI: "com.app.status", Call: true},
			{URI: "com.app.", Match: "prefix", Call: true, Publish: true},
			{URI: "com.app.admin.", Match: "prefix"},
			{URI: "com..get", Match: "wildcard", Call: true},
		}}}}}})
	benchJoin(b, r, "json")
	s := r.liveSessions()[0]
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := s.authorize(ActionCall, wamp.CALL, 1, "com.app.orders.list", "", false); !ok {
			b.Fatal("not authorized")
		}
	}
}
