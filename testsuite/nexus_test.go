package testsuite

import (
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	nexusrouter "github.com/gammazero/nexus/v3/router"
)

// TestNexusRouter runs the same scenarios against the nexus router, over
// WebSocket and its RawSocket server (TCP and Unix), to show that they test
// WAMP and not Junction's reading of it.
func TestNexusRouter(t *testing.T) {
	t.Parallel()
	r, err := nexusrouter.NewRouter(&nexusrouter.Config{
		RealmConfigs: []*nexusrouter.RealmConfig{{URI: "realm1", AnonymousAuth: true, AllowDisclose: true, EnableMetaKill: true}},
	}, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(nexusrouter.NewWebsocketServer(r))
	rs := nexusrouter.NewRawSocketServer(r)
	tcp, err := rs.ListenAndServe("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "jts") // short: a socket's path has at most 108 octets
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "r.sock")
	unix, err := rs.ListenAndServe("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the parallel subtests
		_ = tcp.Close()
		_ = unix.Close()
		hs.Close()
		r.Close()
		_ = os.RemoveAll(dir)
	})
	target := Target{URL: "ws" + strings.TrimPrefix(hs.URL, "http"), Realm: "realm1",
		Transports: []string{"rs://" + tcp.(net.Listener).Addr().String(), "unix://" + sock}}
	Run(t, target, drivers, RunOptions{
		Deviations: map[string]string{
			"concurrent_calls":      "nexus answers wamp.error.network_failure \"callee blocked\" once its queue to a callee (about 128 messages) is full",
			"subscription_meta_api": "nexus v3.3.0 registers wamp.subscription.count_suscribers (sic), not count_subscribers",
			"event_order":           "nexus drops an event silently when the subscriber's queue is full (broker.trySend), so a burst of 100 may arrive incomplete under load",
			"each_subscriber_once":  "nexus drops an event silently when the subscriber's queue is full (broker.trySend)",
			"event_retention":       "nexus v3.3.0 has no event retention: retain and get_retained are ignored",
			"binary_payload/mixed":  "nexus does not transcode JSON's \\u0000+base64 binary convention to msgpack/cbor binary",
		},
	})
}
