package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
)

// The realm of these tests: anonymous sessions (role guest) may publish and
// call anything under com., and subscribe only under com.public.; the
// principal "hook" (ticket "hook-ticket", role hooks) may subscribe and
// register anything under com.; "admin" may kill sessions.
const hookTicket = "hook-ticket"

func startRouter(t *testing.T) *routertest.Server {
	t.Helper()
	return routertest.Start(t, routertest.Options{Router: router.Config{Realms: []router.RealmConfig{{
		Name: "realm1", Anonymous: true, AnonymousRole: "guest",
		AuthMethods: []router.AuthMethod{router.AuthTicket},
		Principals: []router.Principal{
			{AuthID: "hook", Role: "hooks", Ticket: hookTicket},
			{AuthID: "admin", Role: "admin", Ticket: "admin-ticket"},
		},
		Roles: append([]router.RoleConfig{
			{Name: "guest", Permissions: []router.Permission{
				{URI: "com.", Match: "prefix", Call: true, Publish: true},
				{URI: "com.public.", Match: "prefix", Subscribe: true},
			}},
			{Name: "hooks", Permissions: []router.Permission{
				{URI: "com.", Match: "prefix", Subscribe: true, Register: true},
			}},
		}, routertest.TrustedRoles("admin")...),
	}}}})
}

// hookSession is the principal webhooks join as.
var hookSession = webhook.Session{Realm: "realm1", AuthID: "hook", Ticket: hookTicket}

// logs collects a Set's log lines.
type logs struct{ routertest.WatchBuffer }

func startSet(t *testing.T, srv *routertest.Server, cfg webhook.Config) (*webhook.Set, *logs) {
	t.Helper()
	l := &logs{}
	set := webhook.New(srv.Router, webhook.Options{
		Logger:          slog.New(slog.NewTextHandler(&l.WatchBuffer, nil)),
		WarningInterval: time.Nanosecond, // every warning logged
		RejoinMin:       10 * time.Millisecond,
		RejoinMax:       50 * time.Millisecond,
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = set.Shutdown(ctx)
	})
	if err := set.Apply(routertest.Context(t), cfg); err != nil {
		t.Fatal(err)
	}
	return set, l
}

// target is an HTTP endpoint on 127.0.0.1 closed when the test ends.
func target(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// connect joins realm1 over WebSocket, anonymously.
func connect(t *testing.T, srv *routertest.Server) *clientlib.Client {
	return routertest.Connect(t, srv.URL, clientlib.Options{})
}

// metric reads the value of the metric name with labels (name, value
// pairs) from set's collector, as Prometheus scrapes it; 0 when absent.
func metric(t *testing.T, set *webhook.Set, name string, labels ...string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(set)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
line:
	for l := range strings.SplitSeq(rec.Body.String(), "\n") {
		if !strings.HasPrefix(l, name+"{") && !strings.HasPrefix(l, name+" ") {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(l, labels[i]+`="`+labels[i+1]+`"`) {
				continue line
			}
		}
		v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return 0
}

// waitFor polls cond until it holds, or fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	routertest.WaitUntil(t, what, cond)
}

func count(s, sub string) int { return strings.Count(s, sub) }

func intp(n int) *int { return &n }

func fmtSscan(s string, v *int64) (int, error) { return fmt.Sscan(s, v) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// scrapeAll is the text of every metric of set.
func scrapeAll(t *testing.T, set *webhook.Set) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(set)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// targetURL is target for benchmarks: the endpoint's URL.
func targetURL(b testing.TB, h http.HandlerFunc) string {
	ts := httptest.NewServer(h)
	b.Cleanup(ts.Close)
	return ts.URL
}

func pollPause() { time.Sleep(time.Millisecond) } // polling the delivered count
