package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/junction-wamp/junction/internal/buildinfo"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/metrics"
	"github.com/junction-wamp/junction/router"
)

// TestSoak runs the soak scenario for three seconds, at low rates, against an
// in-process Junction with its metrics, and checks the report, the CSV and
// the plot.
func TestSoak(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{MaxSubscriptionsPerSession: 100}})
	ms := httptest.NewServer(metrics.Handler(srv.Router, buildinfo.Info{}, nil, nil, srv.Transport))
	t.Cleanup(ms.Close)
	out := t.TempDir()
	// 3 s, not 2: a churn session leaves without GOODBYE every third time,
	// and at 10 joins a second only one of those could end within 2 s.
	args := []string{"soak", "--url", srv.URL, "--metrics", ms.URL, "--pid", strconv.Itoa(os.Getpid()), "--out", out,
		"--duration", "3s", "--sample", "250ms", "--warmup", "0s", "-c", "3", "-w", "2",
		"--call-rate", "200", "--publish-rate", "40", "--join-rate", "10", "--hostile-every", "100ms",
		"--sub-limit", "100", "--stall", "1m", "--json"}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	var res map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("exit %d: %v: %s\n%s", code, err, stdout.String(), stderr.String())
	}
	if code != 0 || res["failures"] != float64(0) {
		t.Fatalf("exit %d, failures %v: %v", code, res["failures"], res["failure_notes"])
	}
	for _, k := range []string{"calls", "app_errors", "published", "delivered", "bulk_published", "joins", "left_goodbye", "left_abrupt", "hostile"} {
		if n, _ := res[k].(float64); n <= 0 {
			t.Errorf("%s = %v, want some", k, res[k])
		}
	}
	for _, k := range []string{"rss_mib_first", "heap_inuse_mib_last", "goroutines_slope_per_h", "fds_first", "sessions_last", "sessions_after"} {
		if _, ok := res[k].(float64); !ok {
			t.Errorf("no %s in %v", k, res)
		}
	}
	if res["sessions_after"] != float64(0) {
		t.Errorf("sessions_after = %v, want 0", res["sessions_after"])
	}
	checkCSV(t, filepath.Join(out, "soak.csv"), res["samples"])
	checkPNG(t, filepath.Join(out, "soak.png"))
	if _, err := os.Stat(filepath.Join(out, "soak.json")); err != nil {
		t.Error(err)
	}
}

// checkCSV checks the CSV has its header and one row per sample, at least two.
func checkCSV(t *testing.T, path string, samples any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 3 || rows[0][0] != "seconds" || float64(len(rows)-1) != samples {
		t.Errorf("%d CSV rows for %v samples: %v", len(rows), samples, rows)
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 500 {
		t.Errorf("%s is %v", path, b)
	}
}
