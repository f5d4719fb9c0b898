package bridge_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// TestBodyLimits checks what a hostile HTTP client can send: a body over
// max_body, JSON nested deeper than max_json_depth, invalid UTF-8, another
// method, another content type.
func TestBodyLimits(t *testing.T) {
	t.Parallel()
	bc := bridgeConfig()
	bc.MaxBody = 1024
	bc.MaxJSONDepth = 8
	f := start(t, bc)
	auth := bearer(aliceTicket)
	big := `{"procedure": "com.example.echo", "args": ["` + strings.Repeat("x", 1024) + `"]}`
	want(t, f.post(t, "/call", auth, big), http.StatusRequestEntityTooLarge, string(wamp.ErrPayloadSizeExceeded))
	deep := `{"procedure": "com.example.echo", "args": ` + strings.Repeat("[", 8) + strings.Repeat("]", 8) + `}`
	want(t, f.post(t, "/call", auth, deep), http.StatusBadRequest, string(wamp.ErrInvalidArgument))
	shallow := `{"procedure": "com.example.echo", "args": ` + strings.Repeat("[", 7) + strings.Repeat("]", 7) + `}`
	want(t, f.post(t, "/call", auth, shallow), http.StatusOK, "")
	brackets := `{"procedure": "com.example.echo", "args": ["` + strings.Repeat("[{", 20) + `"]}` // in a string: not nesting
	want(t, f.post(t, "/call", auth, brackets), http.StatusOK, "")
	want(t, f.post(t, "/call", auth, "{\"procedure\": \"com.example.echo\", \"args\": [\"\xff\"]}"), http.StatusBadRequest, string(wamp.ErrInvalidArgument))
	for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "application/json-seq"} {
		want(t, f.post(t, "/call", http.Header{"Authorization": auth["Authorization"], "Content-Type": {ct}}, addBody),
			http.StatusUnsupportedMediaType, string(wamp.ErrInvalidArgument))
	}
	want(t, f.post(t, "/call", http.Header{"Authorization": auth["Authorization"], "Content-Type": {"application/json; charset=utf-8"}}, addBody),
		http.StatusOK, "")

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/call", nil)
	req.Header.Set("Authorization", "Bearer "+aliceTicket)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestSlowBody checks that a client that sends headers and then trickles
// its body is cut at read_timeout and frees its place among the
// max_concurrent requests.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	bc := bridgeConfig()
	bc.ReadTimeout = 200 * time.Millisecond
	bc.MaxConcurrent = 1
	f := start(t, bc)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(testTimeout))
	fmt.Fprintf(conn, "POST /call HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", aliceTicket)
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("stalled body: %d", resp.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cut after %v, want about 200ms", d)
	}
	want(t, f.post(t, "/call", bearer(aliceTicket), addBody), http.StatusOK, "")
}

// TestMaxConcurrent checks that a request beyond max_concurrent is
// answered 503 with Retry-After at once, and that the place is free again
// once the first is answered.
func TestMaxConcurrent(t *testing.T) {
	t.Parallel()
	bc := bridgeConfig()
	bc.MaxConcurrent = 1
	f := start(t, bc)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	started, release := make(chan struct{}), make(chan struct{})
	_, err := f.callee.Register(ctx, "com.example.nobody", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		close(started)
		<-release
		return &clientlib.Result{}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan response, 1)
	go func() { first <- f.post(t, "/call", bearer(aliceTicket), `{"procedure": "com.example.nobody"}`) }()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the first call did not reach the callee")
	}
	r := f.post(t, "/call", bearer(aliceTicket), addBody)
	want(t, r, http.StatusServiceUnavailable, string(wamp.ErrUnavailable))
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	close(release)
	want(t, <-first, http.StatusOK, "")
	want(t, f.post(t, "/call", bearer(aliceTicket), addBody), http.StatusOK, "")
}

// TestMetrics checks junction_bridge_requests_total on the server's
// /metrics.
func TestMetrics(t *testing.T) {
	t.Parallel()
	f := start(t, bridgeConfig())
	want(t, f.post(t, "/call", bearer(aliceTicket), addBody), http.StatusOK, "")
	want(t, f.post(t, "/call", bearer(aliceTicket), addBody), http.StatusOK, "")
	want(t, f.post(t, "/call", nil, addBody), http.StatusUnauthorized, string(wamp.ErrAuthenticationFailed))
	resp, err := http.Get(f.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var text strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&text); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`junction_bridge_requests_total{code="200",endpoint="/call"} 2`,
		`junction_bridge_requests_total{code="401",endpoint="/call"} 1`} {
		if !strings.Contains(text.String(), line+"\n") {
			t.Errorf("no %s in /metrics", line)
		}
	}
}

// TestClientStopsReading checks that a client that does not read a large
// answer loses its place among the max_concurrent requests once the write
// deadline (its timeout, plus read_timeout) passes.
func TestClientStopsReading(t *testing.T) {
	t.Parallel()
	bc := bridgeConfig()
	bc.MaxConcurrent = 1
	bc.ReadTimeout, bc.DefaultCallTimeout = 100*time.Millisecond, 500*time.Millisecond
	f := start(t, bc)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	big := strings.Repeat("x", 14<<20) // more than the sockets' buffers hold
	_, err := f.callee.Register(ctx, "com.example.nobody", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{big}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	body := `{"procedure": "com.example.nobody"}`
	fmt.Fprintf(conn, "POST /call HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		aliceTicket, len(body), body)
	// The place is taken while the answer is stuck, then freed.
	waitFor(t, "the stuck request to give its place back", func() bool {
		r := f.post(t, "/call", bearer(aliceTicket), addBody)
		return r.code == http.StatusOK
	})
}
