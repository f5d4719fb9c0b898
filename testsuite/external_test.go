package testsuite

import (
	"os"
	"strings"
	"testing"
)

// TestExternal runs the suite against the router at JUNCTION_TESTSUITE_URL
// (ws://, wss://, rs://, rss:// or unix:///path; realm
// JUNCTION_TESTSUITE_REALM, default realm1). Optional:
// JUNCTION_TESTSUITE_SERIALIZERS=json,msgpack limits the serializers;
// JUNCTION_TESTSUITE_TRANSPORTS=rs://host:port,unix:///path adds URLs of the
// same router over other transports (Target.Transports).
func TestExternal(t *testing.T) {
	url := os.Getenv("JUNCTION_TESTSUITE_URL")
	if url == "" {
		t.Skip("set JUNCTION_TESTSUITE_URL=ws://host:port/path (or rs://host:port, unix:///path) to run the scenarios against an external router")
	}
	realm := os.Getenv("JUNCTION_TESTSUITE_REALM")
	if realm == "" {
		realm = "realm1"
	}
	var opts RunOptions
	if s := os.Getenv("JUNCTION_TESTSUITE_SERIALIZERS"); s != "" {
		opts.Serializers = strings.Split(s, ",")
	}
	target := Target{URL: url, Realm: realm}
	if s := os.Getenv("JUNCTION_TESTSUITE_TRANSPORTS"); s != "" {
		target.Transports = strings.Split(s, ",")
	}
	Run(t, target, drivers, opts)
}
