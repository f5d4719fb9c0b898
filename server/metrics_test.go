package server_test

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/server"
)

// scrape reads the Prometheus text at url and returns each sample by its
// name and labels, and for each metric family (the name before the
// labels) its largest sample.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		name := line[:sp]
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		samples[name] = v // the sample itself, labels and all
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		samples[name] = max(samples[name], v)
	}
	return samples
}

// TestMetrics drives a live router through calls, events, a failed
// authentication and a slow consumer, then checks that every family the
// operator dashboards need has moved.
func TestMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ticket := filepath.Join(dir, "ticket")
	write(t, ticket, []byte("right\n"))
	cfg := load(t, `
[websocket]
queue_messages = 4
queue_bytes = "64KiB"
slow_consumer_timeout = "50ms"
[[realms]]
name = "realm1"
auth = ["anonymous", "ticket"]
[[realms.principals]]
authid = "alice"
role = "user"
ticket_file = "`+ticket+`"
`)
	addr := startServer(t, cfg)
	url := "ws://" + addr + "/ws"
	metricsURL := "http://" + addr + "/metrics"
	ctx := routertest.Context(t)

	callee := routertest.Connect(t, url, clientlib.Options{})
	if _, err := callee.Register(ctx, "test.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := routertest.Connect(t, url, clientlib.Options{Serializer: "msgpack"})
	for i := range 10 {
		if _, err := caller.Call(ctx, "test.echo", []any{i}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := clientlib.Connect(ctx, url, "realm1", clientlib.Options{AuthID: "alice", Auth: []clientlib.Authenticator{clientlib.TicketAuth("wrong")}}); err == nil {
		t.Fatal("a wrong ticket was accepted")
	}

	// A subscriber that never reads: the router queues events for it until
	// its queue passes twice its bound, then disconnects it.
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}}
	stuck, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	for _, m := range []string{`[1,"realm1",{"roles":{"subscriber":{}}}]`, `[32,1,{},"test.flood"]`} {
		if err := stuck.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := stuck.ReadMessage(); err != nil { // WELCOME, SUBSCRIBED
			t.Fatal(err)
		}
	}
	big := strings.Repeat("x", 256<<10)
	for i := 0; scrape(t, metricsURL)["junction_slow_consumer_disconnects_total"] == 0; i++ {
		if i == 400 { // 100 MiB: far past any socket buffer
			t.Fatal("the subscriber that does not read was never disconnected")
		}
		if err := caller.Publish(ctx, "test.flood", []any{big}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}

	got := scrape(t, metricsURL)
	for _, family := range []string{
		"junction_sessions", "junction_sessions_joined_total", "junction_messages_in_total",
		"junction_messages_out_total", "junction_received_bytes_total", "junction_sent_bytes_total",
		"junction_call_duration_seconds_count", "junction_call_duration_seconds_bucket",
		"junction_queue_high_water_messages", "junction_queue_high_water_bytes",
		"junction_slow_consumer_disconnects_total", "junction_auth_failures_total",
		"junction_connections", "junction_handshakes_accepted_total", "go_goroutines",
		"junction_tcp_connections",
	} {
		if got[family] <= 0 {
			t.Errorf("%s: %v, want a positive sample", family, got[family])
		}
	}
	// Three sessions joined (callee, caller, the stuck subscriber) and one
	// was refused: HELLO is counted before the handshake ends.
	if n := got[`junction_messages_in_total{type="HELLO"}`]; n < 4 {
		t.Errorf("HELLO messages in: %v, want at least 4", n)
	}
	for _, limit := range []string{"router.max_calls_per_session", "server.max_connections_per_address", "router.max_retained_bytes"} {
		if _, ok := got[`junction_limits_reached_total{limit="`+limit+`"}`]; !ok {
			t.Errorf("no junction_limits_reached_total for %s", limit)
		}
	}
	if _, ok := got["junction_conversion_failures_total"]; !ok {
		t.Error("no junction_conversion_failures_total")
	}
	if got["junction_call_duration_seconds_count"] != 10 {
		t.Errorf("call_duration count %v, want the 10 calls", got["junction_call_duration_seconds_count"])
	}
}

func TestMetricsOwnListenerAndOff(t *testing.T) {
	t.Parallel()
	cfg := load(t, "[metrics]\nlisten = \"127.0.0.1:0\"\npath = \"/m\"")
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	mhs, maddr, err := server.ServeMetrics(srv)
	if err != nil || mhs == nil {
		t.Fatalf("serveMetrics: %v, %v", mhs, err)
	}
	t.Cleanup(func() { _ = mhs.Close() })
	if resp, _ := get(t, "GET", "http://"+maddr+"/m"); resp.StatusCode != http.StatusOK {
		t.Errorf("metrics on their own listener: %s", resp.Status)
	}

	addr := startServer(t, cfg)
	if resp, _ := get(t, "GET", "http://"+addr+"/m"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("metrics with a listener of their own also on the router's port: %s", resp.Status)
	}

	addr = startServer(t, load(t, "[metrics]\npath = \"\""))
	if resp, _ := get(t, "GET", "http://"+addr+"/metrics"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("metrics turned off still served: %s", resp.Status)
	}
}

// TestMetricsConventions checks the series against Prometheus's naming
// conventions and against what can move: junction_build_info, the gauges
// of registrations and subscriptions per realm, counters ending in _total
// (bytes in _bytes_total), and no series for message types a router never
// receives or sends, nor for a cluster on a single node.
func TestMetricsConventions(t *testing.T) {
	t.Parallel()
	addr := startServer(t, load(t, "[[realms]]\nname = \"realm1\"\nauth = [\"anonymous\"]\n[[realms]]\nname = \"realm2\"\nauth = [\"anonymous\"]\n"))
	url := "ws://" + addr + "/ws"
	metricsURL := "http://" + addr + "/metrics"
	ctx := routertest.Context(t)

	c := routertest.Connect(t, url, clientlib.Options{})
	echo := func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}
	var regs []*clientlib.Registration
	for _, p := range []string{"test.a", "test.b"} {
		reg, err := c.Register(ctx, p, echo, nil)
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, reg)
	}
	if _, err := c.Subscribe(ctx, "test.news", func(*clientlib.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, "test.a", []any{1}, nil, nil); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, metricsURL)
	for series, want := range map[string]float64{
		`junction_registrations{realm="realm1"}`: 2, `junction_subscriptions{realm="realm1"}`: 1,
		`junction_registrations{realm="realm2"}`: 0, `junction_subscriptions{realm="realm2"}`: 0,
		`junction_build_info{goversion="` + runtime.Version() + `",revision="",version="dev"}`: 1,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	if err := c.Unregister(ctx, regs[0]); err != nil {
		t.Fatal(err)
	}
	if v := scrape(t, metricsURL)[`junction_registrations{realm="realm1"}`]; v != 1 {
		t.Errorf("after UNREGISTER: junction_registrations{realm=\"realm1\"} = %v, want 1", v)
	}
	for _, never := range []string{
		`junction_messages_in_total{type="WELCOME"}`, `junction_messages_in_total{type="RESULT"}`,
		`junction_messages_in_total{type="EVENT"}`, `junction_messages_in_total{type="INVOCATION"}`,
		`junction_messages_out_total{type="HELLO"}`, `junction_messages_out_total{type="CALL"}`,
		`junction_messages_out_total{type="YIELD"}`, "junction_cluster_nodes", "junction_cluster_resyncs_total",
	} {
		if _, ok := got[never]; ok {
			t.Errorf("%s is exported: a series that cannot move here", never)
		}
	}
	for _, moved := range []string{`junction_messages_in_total{type="CALL"}`, `junction_messages_out_total{type="RESULT"}`,
		`junction_received_bytes_total{transport="websocket"}`, `junction_sent_bytes_total{transport="websocket"}`} {
		if got[moved] <= 0 {
			t.Errorf("%s = %v, want a positive count", moved, got[moved])
		}
	}

	// Every counter ends in _total, and one of bytes in _bytes_total.
	_, text := get(t, "GET", metricsURL)
	for _, line := range strings.Split(text, "\n") {
		name, ok := strings.CutPrefix(line, "# TYPE junction_")
		if !ok || !strings.HasSuffix(name, " counter") {
			continue
		}
		name = strings.TrimSuffix(name, " counter")
		if !strings.HasSuffix(name, "_total") || (strings.Contains(name, "bytes") && !strings.HasSuffix(name, "_bytes_total")) {
			t.Errorf("counter junction_%s: want a name ending in _total, _bytes_total for bytes", name)
		}
	}
}
