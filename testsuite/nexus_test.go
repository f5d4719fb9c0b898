package testsuite

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	nexusrouter "github.com/gammazero/nexus/v3/router"
)

// TestNexusRouter runs the same scenarios against the nexus router, to show
// that they test WAMP and not Junction's reading of it.
func TestNexusRouter(t *testing.T) {
	t.Parallel()
	r, err := nexusrouter.NewRouter(&nexusrouter.Config{
		RealmConfigs: []*nexusrouter.RealmConfig{{URI: "realm1", AnonymousAuth: true, AllowDisclose: true, EnableMetaKill: true}},
	}, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(nexusrouter.NewWebsocketServer(r))
	t.Cleanup(func() { hs.Close(); r.Close() }) // after the parallel subtests
	Run(t, Target{URL: "ws" + strings.TrimPrefix(hs.URL, "http"), Realm: "realm1"}, drivers, RunOptions{
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
