package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/wamp"
)

// sum is a callee endpoint: it answers the sum of the args, and echoes a
// binary kwarg back.
func sum(w http.ResponseWriter, r *http.Request) {
	var call struct {
		Procedure string
		Args      []float64
		Kwargs    map[string]any
	}
	if err := json.NewDecoder(r.Body).Decode(&call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	total := 0.0
	for _, a := range call.Args {
		total += a
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"args": []any{total}, "kwargs": map[string]any{
		"procedure": call.Procedure, "echo": call.Kwargs["blob"]}})
}

func TestCalleeResult(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	ts := target(t, sum)
	set, _ := startSet(t, srv, webhook.Config{Callees: []webhook.CalleeConfig{{
		Name: "sum", Session: hookSession, Procedure: "com.math.", Match: wamp.MatchPrefix, Endpoint: webhook.Endpoint{URL: ts.URL},
	}}})
	for _, ser := range []string{"json", "msgpack", "cbor"} {
		caller := routertest.Connect(t, srv.URL, clientlib.Options{Serializer: ser})
		res, err := caller.Call(routertest.Context(t), "com.math.add", []any{1, 2, 3.5}, map[string]any{"blob": []byte("\x00\xffhi")}, nil)
		if err != nil {
			t.Fatal(ser, err)
		}
		if len(res.Args) != 1 || res.Args[0] != 6.5 && res.Args[0] != int64(6) && res.Args[0] != float32(6.5) {
			t.Fatalf("%s: result %#v", ser, res.Args)
		}
		if !bytes.Equal(asBytes(res.Kwargs["echo"]), []byte("\x00\xffhi")) || res.Kwargs["procedure"] != "com.math.add" {
			t.Fatalf("%s: kwargs %#v", ser, res.Kwargs)
		}
	}
	if v := metric(t, set, "junction_bridge_webhook_calls_total", "webhook", "sum", "outcome", "result"); v != 3 {
		t.Fatalf("calls result = %v", v)
	}
}

func asBytes(v any) []byte { b, _ := v.([]byte); return b }

// TestCalleeErrors: every way an endpoint can fail becomes one ERROR for
// the caller, with a URI saying which.
func TestCalleeErrors(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	other := &recorder{}
	redirected := target(t, other.ServeHTTP)
	refused := closedPort(t)
	var cfgs []webhook.CalleeConfig
	cases := []struct {
		name    string
		handler http.HandlerFunc
		url     string // instead of a handler's
		want    wamp.URI
		args    []any
	}{
		{name: "app_error", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error": "com.app.not_found", "args": ["no such thing"], "kwargs": {"id": 7}}`)
		}, want: "com.app.not_found", args: []any{"no such thing"}},
		{name: "status", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}, want: webhook.ErrHTTPStatus, args: []any{uint64(502), "Bad Gateway"}},
		{name: "bad_uri", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error": "not a uri!"}`)
		}, want: webhook.ErrHTTPStatus, args: []any{uint64(400), "Bad Request"}},
		{name: "bad_json", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"args": [1,`)
		}, want: webhook.ErrBadResponse},
		{name: "args_not_list", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"args": {"a": 1}}`)
		}, want: webhook.ErrBadResponse},
		{name: "too_large", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"args": ["`+strings.Repeat("x", 2000)+`"]}`)
		}, want: webhook.ErrBadResponse},
		{name: "timeout", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leaving once the body is read
			<-r.Context().Done()
		}, want: webhook.ErrTimeout},
		{name: "slow_body", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, `{"args": [`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, want: webhook.ErrTimeout},
		{name: "refused", url: refused, want: webhook.ErrUnavailable},
		{name: "huge_header", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Junk", strings.Repeat("x", 100<<10))
		}, want: webhook.ErrUnavailable},
		{name: "redirect", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, redirected.URL, http.StatusTemporaryRedirect)
		}, want: webhook.ErrHTTPStatus, args: []any{uint64(307), "Temporary Redirect"}},
	}
	for _, c := range cases {
		url := c.url
		if url == "" {
			url = target(t, c.handler).URL
		}
		cfgs = append(cfgs, webhook.CalleeConfig{Name: c.name, Session: hookSession, Procedure: "com.err." + c.name,
			Endpoint: webhook.Endpoint{URL: url, Timeout: 200 * time.Millisecond, MaxResponseBytes: 1000}})
	}
	set, l := startSet(t, srv, webhook.Config{Callees: cfgs})
	caller := connect(t, srv)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := caller.Call(routertest.Context(t), "com.err."+c.name, nil, nil, nil)
			var re *wamp.RPCError
			if !errors.As(err, &re) || re.URI != c.want {
				t.Fatalf("error %v, want %s", err, c.want)
			}
			if c.args != nil && (len(re.Args) != len(c.args) || !equalArgs(re.Args, c.args)) {
				t.Fatalf("args %#v, want %#v", re.Args, c.args)
			}
			if strings.Contains(re.Error(), "127.0.0.1") {
				t.Fatalf("the error tells the caller where the endpoint is: %v", re)
			}
			outcome := c.want[strings.LastIndexByte(string(c.want), '.')+1:]
			if c.want == "com.app.not_found" {
				outcome = "error"
			}
			if v := metric(t, set, "junction_bridge_webhook_calls_total", "webhook", c.name, "outcome", string(outcome)); v != 1 {
				t.Fatalf("calls_total{outcome=%s} = %v", outcome, v)
			}
		})
	}
	if len(other.requests()) != 0 {
		t.Fatal("a redirect was followed")
	}
	l.WaitFor(t, `msg="callee webhook failed" webhook=refused procedure=com.err.refused`)
}

func equalArgs(a, b []any) bool {
	for i := range a {
		if x, ok := a[i].(int64); ok && x >= 0 {
			a[i] = uint64(x)
		}
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// closedPort is the URL of a port nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

func TestCalleeConcurrencyBound(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	st := newStuck()
	ts := target(t, st.ServeHTTP)
	set, _ := startSet(t, srv, webhook.Config{Callees: []webhook.CalleeConfig{{
		Name: "slow", Session: hookSession, Procedure: "com.slow", MaxConcurrent: 2,
		Endpoint: webhook.Endpoint{URL: ts.URL, Timeout: time.Minute},
	}}})
	caller := connect(t, srv)
	ctx := routertest.Context(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := caller.Call(ctx, "com.slow", nil, nil, nil); errs <- err }()
	}
	waitFor(t, "two requests in flight", func() bool { return st.inflight.Load() == 2 })
	for range 5 {
		_, err := caller.Call(ctx, "com.slow", nil, nil, nil)
		if !errors.Is(err, &wamp.RPCError{URI: webhook.ErrBusy}) {
			t.Fatalf("call beyond max_concurrent: %v, want %s", err, webhook.ErrBusy)
		}
	}
	if n := st.inflight.Load(); n != 2 {
		t.Fatalf("%d requests in flight, want 2", n)
	}
	close(st.release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if v := metric(t, set, "junction_bridge_webhook_calls_total", "webhook", "slow", "outcome", "busy"); v != 5 {
		t.Fatalf("busy = %v", v)
	}
}

// TestCalleeCancel: a caller that cancels its call cancels the HTTP request.
func TestCalleeCancel(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	var canceled atomic.Bool
	arrived := make(chan struct{}, 1)
	done := make(chan struct{})
	ts := target(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leaving once the body is read
		arrived <- struct{}{}
		<-r.Context().Done()
		canceled.Store(true)
		close(done)
	})
	set, _ := startSet(t, srv, webhook.Config{Callees: []webhook.CalleeConfig{{
		Name: "c", Session: hookSession, Procedure: "com.wait", Endpoint: webhook.Endpoint{URL: ts.URL, Timeout: time.Minute},
	}}})
	caller := connect(t, srv)
	ctx, cancel := context.WithCancel(routertest.Context(t))
	errc := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctx, "com.wait", nil, nil, &clientlib.CallOptions{CancelMode: "kill"})
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("call: %v", err)
	}
	select {
	case <-done:
	case <-time.After(routertest.Timeout):
		t.Fatal("the HTTP request was not canceled")
	}
	waitFor(t, "the cancel counted", func() bool {
		return metric(t, set, "junction_bridge_webhook_calls_total", "webhook", "c", "outcome", "canceled") == 1
	})
}

func TestCalleeDenied(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	ts := target(t, sum)
	set, _ := startSet(t, srv, webhook.Config{})
	err := set.Apply(routertest.Context(t), webhook.Config{Callees: []webhook.CalleeConfig{{
		Name: "anon", Session: webhook.Session{Realm: "realm1"}, Procedure: "com.math.add", Endpoint: webhook.Endpoint{URL: ts.URL},
	}}})
	if err == nil || !strings.Contains(err.Error(), "webhook anon: wamp.error.not_authorized") {
		t.Fatalf("Apply: %v", err)
	}
	_, err = connect(t, srv).Call(routertest.Context(t), "com.math.add", nil, nil, nil)
	if !errors.Is(err, &wamp.RPCError{URI: wamp.ErrNoSuchProcedure}) {
		t.Fatalf("call: %v", err)
	}
}

// TestCalleeUnconvertible: a call whose args JSON cannot carry (msgpack's
// NaN) is answered invalid_argument without a request.
func TestCalleeUnconvertible(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	rc := &recorder{}
	ts := target(t, rc.ServeHTTP)
	set, _ := startSet(t, srv, webhook.Config{Callees: []webhook.CalleeConfig{{
		Name: "c", Session: hookSession, Procedure: "com.nan", Endpoint: webhook.Endpoint{URL: ts.URL},
	}}})
	caller := routertest.Connect(t, srv.URL, clientlib.Options{Serializer: "msgpack"})
	_, err := caller.Call(routertest.Context(t), "com.nan", []any{math.NaN()}, nil, nil)
	if !errors.Is(err, &wamp.RPCError{URI: wamp.ErrInvalidArgument}) {
		t.Fatalf("call: %v", err)
	}
	if len(rc.requests()) != 0 {
		t.Fatal("the endpoint was called")
	}
	if v := metric(t, set, "junction_bridge_webhook_calls_total", "webhook", "c", "outcome", "invalid_argument"); v != 1 {
		t.Fatalf("invalid_argument = %v", v)
	}
}

// streaming is a callee endpoint answering application/x-ndjson: lines,
// flushed one by one.
func streaming(lines ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-ndjson")
		for _, l := range lines {
			_, _ = io.WriteString(w, l+"\n")
			w.(http.Flusher).Flush()
		}
	}
}

// TestCalleeProgress: an application/x-ndjson answer's progress lines are
// progressive results for a caller that asks for them; the final line is
// the result.
func TestCalleeProgress(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	ok := target(t, streaming(`{"progress": true, "args": [1]}`, ``, `{"progress": true, "args": [2]}`, `{"args": ["done"], "kwargs": {"n": 2}}`))
	noFinal := target(t, streaming(`{"progress": true, "args": [1]}`))
	badLine := target(t, streaming(`{"progress": true, "args": [1]}`, `{"progress": tru`))
	long := target(t, streaming(`{"progress": true, "args": ["`+strings.Repeat("x", 2000)+`"]}`, `{"args": []}`))
	endpoint := func(url string) webhook.Endpoint { return webhook.Endpoint{URL: url, MaxResponseBytes: 1000} }
	set, _ := startSet(t, srv, webhook.Config{Callees: []webhook.CalleeConfig{
		{Name: "ok", Session: hookSession, Procedure: "com.p.ok", Endpoint: endpoint(ok.URL)},
		{Name: "nofinal", Session: hookSession, Procedure: "com.p.nofinal", Endpoint: endpoint(noFinal.URL)},
		{Name: "badline", Session: hookSession, Procedure: "com.p.badline", Endpoint: endpoint(badLine.URL)},
		{Name: "long", Session: hookSession, Procedure: "com.p.long", Endpoint: endpoint(long.URL)},
	}})
	caller := connect(t, srv)
	ctx := routertest.Context(t)
	var progress []any
	res, err := caller.Call(ctx, "com.p.ok", nil, nil, &clientlib.CallOptions{OnProgress: func(r *clientlib.Result) {
		progress = append(progress, r.Args...)
	}})
	if err != nil || len(res.Args) != 1 || res.Args[0] != "done" || len(progress) != 2 {
		t.Fatalf("result %v %v, progress %v", res, err, progress)
	}
	if res, err := caller.Call(ctx, "com.p.ok", nil, nil, nil); err != nil || res.Args[0] != "done" {
		t.Fatalf("without progress: %v %v", res, err)
	}
	for _, p := range []string{"nofinal", "badline", "long"} {
		_, err := caller.Call(ctx, "com.p."+p, nil, nil, &clientlib.CallOptions{OnProgress: func(*clientlib.Result) {}})
		if !errors.Is(err, &wamp.RPCError{URI: webhook.ErrBadResponse}) {
			t.Errorf("%s: %v, want %s", p, err, webhook.ErrBadResponse)
		}
	}
	if v := metric(t, set, "junction_bridge_webhook_calls_total", "webhook", "ok", "outcome", "result"); v != 2 {
		t.Fatalf("results = %v", v)
	}
}

// TestCalleeRole: a webhook with a role and no ticket acts with that role
// (vouched for in-process, as the HTTP bridge's sessions): the role's rules
// decide its REGISTER, and a role the realm lacks is refused.
func TestCalleeRole(t *testing.T) {
	t.Parallel()
	srv := startRouter(t)
	ts := target(t, sum)
	callee := func(name, role string) webhook.Config {
		return webhook.Config{Callees: []webhook.CalleeConfig{{Name: name, Session: webhook.Session{Realm: "realm1", Role: role},
			Procedure: "com.math.add", Endpoint: webhook.Endpoint{URL: ts.URL}}}}
	}
	set, _ := startSet(t, srv, webhook.Config{})
	ctx := routertest.Context(t)
	if err := set.Apply(ctx, callee("add", "guest")); err == nil || !strings.Contains(err.Error(), "webhook add: wamp.error.not_authorized") {
		t.Fatalf("Apply with a role that may not register: %v", err)
	}
	if err := set.Apply(ctx, callee("add", "nobody")); err == nil || !strings.Contains(err.Error(), "wamp.error.no_such_role") {
		t.Fatalf("Apply with a role the realm lacks: %v", err)
	}
	if err := set.Apply(ctx, callee("add", "hooks")); err != nil {
		t.Fatalf("Apply with a role that may register: %v", err)
	}
	res, err := connect(t, srv).Call(ctx, "com.math.add", []any{2, 3}, nil, nil)
	if err != nil || len(res.Args) != 1 || fmt.Sprint(res.Args[0]) != "5" {
		t.Fatalf("call: %v %v", res, err)
	}
}
