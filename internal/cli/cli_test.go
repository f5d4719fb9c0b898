package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/wamp"
)

// testTimeout bounds every wait of these tests.
const testTimeout = 30 * time.Second

// cliRun is a run of the program in the test.
type cliRun = routertest.Program

// startCLI runs the program with args until it ends or the test stops it.
func startCLI(t *testing.T, opts Options, args ...string) *cliRun {
	t.Helper()
	return routertest.StartProgram(t, fmt.Sprintf("junction %q", args), func(ctx context.Context, stdout, stderr io.Writer) int {
		return runWith(ctx, args, stdout, stderr, opts)
	})
}

// runCLI runs the program with args to its end.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r := startCLI(t, Options{}, args...)
	code = r.Wait(t)
	return code, r.Stdout.String(), r.Stderr.String()
}

func TestParseValue(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]any{
		"42": int64(42), "-7": int64(-7), "18446744073709551615": uint64(1<<64 - 1), "1.5": 1.5, "1e3": 1000.0,
		`"x"`: "x", "x": "x", "hello world": "hello world", "": "", "true": true, "null": nil, " 42 ": int64(42),
		"42 43": "42 43", `{"a":[1,2.5]}`: map[string]any{"a": []any{int64(1), 2.5}}, "[]": []any{}, "{": "{",
	} {
		got, err := parseValue(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseValue(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	if _, err := parseValue("[1e999]"); err == nil {
		t.Error("parseValue(1e999): no error")
	}
}

func TestCLICall(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	callee := routertest.Connect(t, srv.URL, clientlib.Options{})
	ctx := routertest.Context(t)
	type call struct {
		args   []any
		kwargs map[string]any
	}
	calls := make(chan call, 10)
	_, err := callee.Register(ctx, "com.test.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		calls <- call{inv.Args, inv.Kwargs}
		return &clientlib.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = callee.Register(ctx, "com.test.fail", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return nil, &wamp.RPCError{URI: "com.test.error.bad", Args: []any{"it went wrong", int64(7)}, Kwargs: map[string]any{"reason": "testing"}}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	interrupted := make(chan struct{})
	_, err = callee.Register(ctx, "com.test.block", func(ctx context.Context, _ *clientlib.Invocation) (*clientlib.Result, error) {
		<-ctx.Done()
		close(interrupted)
		return nil, ctx.Err()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}

	args := []string{"call", "com.test.echo", "42", "x", `"quoted"`, `{"a":1}`, "true", "null", "1.5", "hello world",
		"--kw", "n=1", "-k", "s=a=b", "--url", srv.URL}
	wantArgs := []any{int64(42), "x", "quoted", map[string]any{"a": int64(1)}, true, nil, 1.5, "hello world"}
	wantKwargs := map[string]any{"n": int64(1), "s": "a=b"}
	for _, ser := range []string{"json", "msgpack", "cbor"} {
		code, out, errs := runCLI(t, append(args, "--serializer", ser)...)
		if want := "42\nx\nquoted\n{\"a\":1}\ntrue\nnull\n1.5\nhello world\nn=1\ns=a=b\n"; code != 0 || out != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %s; want %q", ser, code, out, errs, want)
		}
		if got := <-calls; !reflect.DeepEqual(got.args, wantArgs) || !reflect.DeepEqual(got.kwargs, wantKwargs) {
			t.Errorf("%s: callee got %#v %#v", ser, got.args, got.kwargs)
		}

		code, out, errs = runCLI(t, append(args, "--serializer", ser, "--json")...)
		<-calls
		if want := `{"args":[42,"x","quoted",{"a":1},true,null,1.5,"hello world"],"kwargs":{"n":1,"s":"a=b"}}` + "\n"; code != 0 || out != want {
			t.Errorf("%s --json: exit %d, stdout %q, stderr %s; want %q", ser, code, out, errs, want)
		}
	}

	// Nothing to print.
	if code, out, errs := runCLI(t, "call", "com.test.echo", "--url", srv.URL); code != 0 || out != "" {
		t.Errorf("no result: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	<-calls

	// Errors: exit status 1, the error on stderr, and with --json on stdout.
	code, out, errs := runCLI(t, "call", "com.test.nothing", "--url", srv.URL)
	if code != 1 || out != "" || !strings.Contains(errs, "junction: call com.test.nothing: wamp.error.no_such_procedure: ") {
		t.Errorf("no such procedure: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	code, out, errs = runCLI(t, "call", "com.test.fail", "--url", srv.URL)
	if want := "junction: call com.test.fail: com.test.error.bad: it went wrong, 7\n  reason: testing\n"; code != 1 || errs != want {
		t.Errorf("error: exit %d, stderr %q, want %q", code, errs, want)
	}
	code, out, _ = runCLI(t, "call", "com.test.fail", "--url", srv.URL, "--json")
	if want := `{"error":"com.test.error.bad","args":["it went wrong",7],"kwargs":{"reason":"testing"}}` + "\n"; code != 1 || out != want {
		t.Errorf("error --json: exit %d, stdout %q, want %q", code, out, want)
	}

	// --timeout cancels the call at the router, which interrupts the callee.
	code, _, errs = runCLI(t, "call", "com.test.block", "--timeout", "50ms", "--url", srv.URL)
	if code != 1 || !strings.Contains(errs, "no result within 50ms; the call was cancelled") {
		t.Errorf("timeout: exit %d, stderr %s", code, errs)
	}
	select {
	case <-interrupted:
	case <-time.After(testTimeout):
		t.Error("the callee was not interrupted")
	}
}

func TestCLIPublish(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	sub := routertest.Connect(t, srv.URL, clientlib.Options{Serializer: "cbor"})
	ctx := routertest.Context(t)
	events := make(chan *clientlib.Event, 10)
	if _, err := sub.Subscribe(ctx, "com.test.topic", func(ev *clientlib.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{{"--ack"}, {"--serializer", "msgpack"}, {"--serializer", "cbor", "--ack"}} {
		args := append([]string{"publish", "com.test.topic", "1", "x", "--kw", `k={"a":[1]}`, "--url", srv.URL}, extra...)
		if code, out, errs := runCLI(t, args...); code != 0 || out != "" || errs != "" {
			t.Fatalf("%q: exit %d, stdout %q, stderr %s", extra, code, out, errs)
		}
		select {
		case ev := <-events:
			if compactJSON(ev.Args) != `[1,"x"]` || compactJSON(ev.Kwargs) != `{"k":{"a":[1]}}` {
				t.Errorf("%q: event %#v %#v", extra, ev.Args, ev.Kwargs)
			}
		case <-time.After(testTimeout):
			t.Fatalf("%q: no event", extra)
		}
	}
	// A refused publication fails with --ack.
	code, out, errs := runCLI(t, "publish", "com..bad", "--ack", "--url", srv.URL)
	if code != 1 || out != "" || !strings.Contains(errs, "junction: publish com..bad: wamp.error.invalid_uri") {
		t.Errorf("refused: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	code, out, _ = runCLI(t, "publish", "com..bad", "--ack", "--json", "--url", srv.URL)
	if code != 1 || !strings.HasPrefix(out, `{"error":"wamp.error.invalid_uri"`) {
		t.Errorf("refused --json: exit %d, stdout %q", code, out)
	}
}

// publish publishes with acknowledgement.
func publish(t *testing.T, c *clientlib.Client, topic string, args []any, kwargs map[string]any) {
	t.Helper()
	if err := c.Publish(routertest.Context(t), topic, args, kwargs, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
}

func TestCLISubscribe(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	pub := routertest.Connect(t, srv.URL, clientlib.Options{Serializer: "msgpack"})

	// --json, prefix match, until interrupted.
	r := startCLI(t, Options{}, "subscribe", "com.test.", "--match", "prefix", "--json", "--url", srv.URL)
	r.Stderr.WaitFor(t, "subscribed to com.test. (match prefix, subscription ")
	publish(t, pub, "com.test.a", []any{1, "x"}, map[string]any{"k": "v"})
	publish(t, pub, "com.other", []any{0}, nil)
	publish(t, pub, "com.test.b", nil, nil)
	r.Stdout.WaitFor(t, `"topic":"com.test.b"`)
	r.Stop()
	if code := r.Wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, r.Stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(r.Stdout.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 events, got:\n%s", r.Stdout.String())
	}
	var ev payloadJSON
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.Topic != "com.test.a" || ev.Publication == 0 ||
		!reflect.DeepEqual(ev.Args, []any{1.0, "x"}) || !reflect.DeepEqual(ev.Kwargs, map[string]any{"k": "v"}) {
		t.Errorf("first event %s (%v)", lines[0], err)
	}

	// Text, wildcard match, --count: it exits by itself.
	r = startCLI(t, Options{}, "subscribe", "com..c", "--match", "wildcard", "--count", "2", "--serializer", "cbor", "--url", srv.URL)
	r.Stderr.WaitFor(t, "subscribed to com..c")
	publish(t, pub, "com.x.c", []any{1, "two words", map[string]any{"a": true}}, map[string]any{"k": "v", "j": 2})
	publish(t, pub, "com.y.c", nil, nil)
	publish(t, pub, "com.z.c", nil, nil) // may arrive before it exits; not printed
	if code := r.Wait(t); code != 0 {
		t.Fatalf("--count: exit %d: %s", code, r.Stderr.String())
	}
	if want := "com.x.c 1 two words {\"a\":true} j=2 k=v\ncom.y.c\n"; r.Stdout.String() != want {
		t.Errorf("text: %q, want %q", r.Stdout.String(), want)
	}

	// --stats on stderr.
	r = startCLI(t, Options{StatsInterval: 5 * time.Millisecond}, "subscribe", "com.test.stats", "--stats", "--url", srv.URL)
	r.Stderr.WaitFor(t, "subscribed to com.test.stats")
	for i := range 3 {
		publish(t, pub, "com.test.stats", []any{i}, nil)
	}
	r.Stdout.WaitFor(t, "com.test.stats 2\n")
	r.Stderr.WaitFor(t, "3 events, ")
	r.Stop()
	if code := r.Wait(t); code != 0 {
		t.Fatalf("--stats: exit %d: %s", code, r.Stderr.String())
	}
	if !strings.Contains(r.Stderr.String(), "3 events in ") || strings.Contains(r.Stderr.String(), "\r") {
		t.Errorf("--stats:\n%s", r.Stderr.String())
	}

	// A subscription the router refuses.
	code, _, errs := runCLI(t, "subscribe", "com.#bad", "--url", srv.URL)
	if code != 1 || !strings.Contains(errs, "junction: subscribe com.#bad: wamp.error.invalid_uri") {
		t.Errorf("refused: exit %d, stderr %s", code, errs)
	}
}

// TestCLIAuthentication runs the client commands against a router that
// allows no anonymous sessions. Not parallel: it sets the environment.
func TestCLIAuthentication(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile, ticketFile := filepath.Join(dir, "key"), filepath.Join(dir, "ticket")
	write(t, keyFile, []byte(hex.EncodeToString(priv.Seed())+"\n"))
	write(t, ticketFile, []byte("t1\n"))
	cfg := writeConfig(t, `
[[realms]]
name = "realm1"
auth = ["ticket", "wampcra", "cryptosign"]
[[realms.principals]]
authid = "alice"
role = "user"
ticket = "t1"
[[realms.principals]]
authid = "bob"
role = "user"
secret = "s3cret"
[[realms.principals]]
authid = "carol"
role = "user"
public_keys = ["`+hex.EncodeToString(pub)+`"]
`)
	addr := startServer(t, cfg)
	url := "ws://" + addr + "/ws"
	// whoami answers the caller's authid.
	callee := routertest.Connect(t, url, clientlib.Options{AuthID: "alice", Auth: []clientlib.Authenticator{clientlib.TicketAuth("t1")}})
	_, err = callee.Register(routertest.Context(t), "com.test.whoami", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{inv.Details["caller_authid"]}}, nil
	}, &clientlib.RegisterOptions{DiscloseCaller: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_WAMPCRA_SECRET", "s3cret")
	for _, auth := range [][]string{
		{"--authid", "alice", "--ticket", "t1"},
		{"--authid", "alice", "--ticket-file", ticketFile},
		{"--authid", "bob", "--wampcra-secret", "s3cret"},
		{"--authid", "bob", "--wampcra-secret-env", "TEST_WAMPCRA_SECRET", "--serializer", "msgpack"},
		{"--authid", "carol", "--cryptosign-key-file", keyFile, "--serializer", "cbor"},
	} {
		code, out, errs := runCLI(t, append([]string{"call", "com.test.whoami", "--url", url}, auth...)...)
		if code != 0 || out != auth[1]+"\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %s", auth, code, out, errs)
		}
	}
	for _, auth := range [][]string{{"--authid", "alice", "--ticket", "t2"}, {}} {
		code, _, errs := runCLI(t, append([]string{"publish", "com.test", "--url", url}, auth...)...)
		if code != 1 || !strings.Contains(errs, "wamp.error.") {
			t.Errorf("%q: exit %d, stderr %s", auth, code, errs)
		}
	}
}

// call calls procedure with clientlib.
func call(ctx context.Context, c *clientlib.Client, procedure string, args []any, kwargs map[string]any) (*clientlib.Result, *wamp.RPCError, error) {
	res, err := c.Call(ctx, procedure, args, kwargs, nil)
	var re *wamp.RPCError
	if errors.As(err, &re) {
		return nil, re, nil
	}
	return res, nil, err
}
