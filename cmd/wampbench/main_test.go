package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/junction-wamp/junction/internal/routertest"
)

// TestScenarios runs every scenario, small, against an in-process Junction
// and checks the JSON report.
func TestScenarios(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	pid := os.Getpid() // the router runs in this process
	for name, want := range map[string][]string{
		"rpc":      {"calls", "calls_per_s", "p99_us", "errors", "router_cpu_us_per_calls"},
		"pubsub":   {"published", "delivered", "lost", "delivered_per_s", "p99_us", "router_cpu_us_per_delivered"},
		"sessions": {"sessions", "joins_per_s", "rss_per_session_bytes", "router_cpu_us_per_join"},
		"churn":    {"sessions", "sessions_per_s"},
	} {
		var out, errOut bytes.Buffer
		args := []string{name, "--url", srv.URL, "-n", "200", "-c", "2", "-w", "4", "-s", "3", "--json", "--pid", itoa(pid)}
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errOut.String())
		}
		var res map[string]any
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%s: %v: %s", name, err, out.String())
		}
		for _, k := range want {
			if _, ok := res[k]; !ok {
				t.Errorf("%s: no %q in %v", name, k, res)
			}
		}
		if name == "pubsub" && (res["lost"] != float64(0) || res["delivered"] != float64(600)) {
			t.Errorf("pubsub: %v", res)
		}
		if name == "rpc" && (res["errors"] != float64(0) || res["calls"] != float64(200)) {
			t.Errorf("rpc: %v", res)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
