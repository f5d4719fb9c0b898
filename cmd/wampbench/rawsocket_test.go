package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/transport/websocket"
)

// serveRawSocket serves Junction (package server) in this process until the
// test ends, and returns its URLs: RawSocket on the WebSocket port
// (rs://), on a Unix socket (unix://), and its metrics.
func serveRawSocket(t *testing.T, rc router.Config) (rs, unix, metrics string) {
	t.Helper()
	_, rs, unix, metrics = serveAll(t, server.Config{Router: rc})
	return rs, unix, metrics
}

// serveAll serves cfg, with a Unix socket for RawSocket, and returns its
// URLs: WebSocket, RawSocket on the same port, the Unix socket, and its
// metrics.
func serveAll(t *testing.T, cfg server.Config) (ws, rs, unix, metrics string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "jwb") // short: a socket's path has at most 108 octets
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "r.sock")
	cfg.RawSocket.Unix = sock
	addr := routertest.Serve(t, cfg)
	return "ws://" + addr + "/ws", "rs://" + addr, "unix://" + sock, "http://" + addr + "/metrics"
}

// TestScenariosRawSocket runs rpc and pubsub over rs:// and unix:// with
// each serializer, and sessions and churn over each, small, against an
// in-process Junction, and checks the JSON reports as TestScenarios does.
func TestScenariosRawSocket(t *testing.T) {
	t.Parallel()
	rs, unix, _ := serveRawSocket(t, router.Config{})
	for _, url := range []string{rs, unix} {
		for _, ser := range []string{"json", "msgpack", "cbor"} {
			res := runScenario(t, "rpc", url, ser)
			if res["errors"] != float64(0) || res["calls"] != float64(200) {
				t.Errorf("rpc over %s, %s: %v", url, ser, res)
			}
			res = runScenario(t, "pubsub", url, ser)
			if res["lost"] != float64(0) || res["delivered"] != float64(600) {
				t.Errorf("pubsub over %s, %s: %v", url, ser, res)
			}
		}
		if res := runScenario(t, "sessions", url, "msgpack"); res["sessions"] != float64(200) || res["rss_per_session_bytes"] == nil {
			t.Errorf("sessions over %s: %v", url, res)
		}
		if res := runScenario(t, "churn", url, "cbor"); res["sessions"] != float64(200) || res["errors"] != float64(0) {
			t.Errorf("churn over %s: %v", url, res)
		}
	}
}

// runScenario runs one scenario, small, with this process's PID as the
// router's, and returns its JSON report.
func runScenario(t *testing.T, name, url, ser string) map[string]any {
	t.Helper()
	var out, errOut bytes.Buffer
	args := []string{name, "--url", url, "--serializer", ser, "-n", "200", "-c", "2", "-w", "4", "-s", "3", "--json", "--pid", strconv.Itoa(os.Getpid())}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("%s over %s, %s: exit %d: %s", name, url, ser, code, errOut.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%s over %s, %s: %v: %s", name, url, ser, err, out.String())
	}
	return res
}

// TestSoakRawSocket runs the soak scenario for three seconds over rs://, as
// TestSoak does over WebSocket: every kind of traffic, the hostile clients
// and the stalled subscriber over RawSocket, no failure.
func TestSoakRawSocket(t *testing.T) {
	t.Parallel()
	rs, _, metrics := serveRawSocket(t, router.Config{MaxSubscriptionsPerSession: 100})
	out := t.TempDir()
	// 3 s, not 2: a churn session leaves without GOODBYE every third time,
	// and at 10 joins a second only one of those could end within 2 s.
	args := []string{"soak", "--url", rs, "--metrics", metrics, "--pid", strconv.Itoa(os.Getpid()), "--out", out,
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
	for _, k := range []string{"calls", "published", "delivered", "joins", "left_goodbye", "left_abrupt", "hostile"} {
		if n, _ := res[k].(float64); n <= 0 {
			t.Errorf("%s = %v, want some", k, res[k])
		}
	}
	if res["sessions_after"] != float64(0) {
		t.Errorf("sessions_after = %v, want 0", res["sessions_after"])
	}
}

// TestHostileKinds runs each of the soak's hostile clients once over
// WebSocket, RawSocket on the same port and on a Unix socket, against a
// router with short timeouts, and wants each answered as it should be: with
// the default limits, and with a 1 MiB message limit (the oversized
// message over RawSocket then declares the limit and 1 octet, not a
// length the prefix cannot carry).
func TestHostileKinds(t *testing.T) {
	t.Parallel()
	for _, limit := range []int64{0, 1 << 20} {
		cfg := server.Config{
			Router:            router.Config{HelloTimeout: time.Second, MaxSubscriptionsPerSession: 50},
			ReadHeaderTimeout: time.Second,
			RawSocket:         server.RawSocketConfig{Transport: rawsocket.Config{HandshakeTimeout: time.Second}},
		}
		maxMessage := int64(16 << 20)
		if limit != 0 {
			// Path too: the server's mux takes it from this config as it is.
			cfg.WebSocket = websocket.Config{Path: "/ws", ReadLimit: limit}
			maxMessage = limit
		}
		ws, rs, unix, _ := serveAll(t, cfg)
		for _, url := range []string{ws, rs, unix} {
			o := &options{url: url, realm: "realm1"}
			s := &soak{o: o, so: &soakOptions{answerTimeout: 2 * time.Second, subLimit: 50, maxMessage: maxMessage}, run: "hostile"}
			for _, k := range s.hostileKinds() {
				t.Run(fmt.Sprintf("%s limit %d %s", url[:strings.Index(url, ":")], limit, k.name), func(t *testing.T) {
					t.Parallel()
					if err := k.run(routertest.Context(t)); err != nil {
						t.Errorf("%s: %v", url, err)
					}
				})
			}
		}
	}
}
