package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/server"
)

// TestCLIRawSocket: call over rs:// (the WebSocket port) and subscribe and
// publish over unix://, with a WebSocket client on the other end; a --url
// of another scheme is a command-line error.
func TestCLIRawSocket(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "jcli") // short: a socket's path has at most 108 octets
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "r.sock")
	addr := routertest.Serve(t, server.Config{RawSocket: server.RawSocketConfig{Unix: sock}})
	ws := routertest.Connect(t, "ws://"+addr+"/ws", clientlib.Options{Serializer: "cbor"})
	ctx := routertest.Context(t)
	if _, err := ws.Register(ctx, "com.test.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	for _, ser := range []string{"json", "msgpack", "cbor"} {
		code, out, errs := runCLI(t, "call", "com.test.echo", "42", "x", "--kw", "k=v", "--serializer", ser, "--url", "rs://"+addr)
		if want := "42\nx\nk=v\n"; code != 0 || out != want {
			t.Errorf("call over rs:// %s: exit %d, stdout %q, stderr %s; want %q", ser, code, out, errs, want)
		}
	}

	unix := "unix://" + sock
	r := startCLI(t, Options{}, "subscribe", "com.test.topic", "--count", "2", "--serializer", "msgpack", "--url", unix)
	r.Stderr.WaitFor(t, "subscribed to com.test.topic")
	publish(t, ws, "com.test.topic", []any{1, "from ws"}, nil)
	if code, out, errs := runCLI(t, "publish", "com.test.topic", "2", "from unix", "--ack", "--url", unix); code != 0 || out != "" || errs != "" {
		t.Errorf("publish over unix://: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	if code := r.Wait(t); code != 0 {
		t.Fatalf("subscribe over unix://: exit %d: %s", code, r.Stderr.String())
	}
	if want := "com.test.topic 1 from ws\ncom.test.topic 2 from unix\n"; r.Stdout.String() != want {
		t.Errorf("subscribe over unix://: %q, want %q", r.Stdout.String(), want)
	}

	code, _, errs := runCLI(t, "call", "com.test.echo", "--url", "http://"+addr)
	if code != 2 || !strings.Contains(errs, "want ws://, wss://, rs://, rss:// or unix://") {
		t.Errorf("http:// URL: exit %d, stderr %s", code, errs)
	}
	code, _, errs = runCLI(t, "call", "com.test.echo", "--url", "rs://127.0.0.1")
	if code != 1 || !strings.Contains(errs, "names no port") {
		t.Errorf("rs:// without a port: exit %d, stderr %s", code, errs)
	}
}
