package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/wamp"
)

const reloadBase = `
[[realms]]
name = "realm1"
auth = ["anonymous", "ticket"]
[[realms.principals]]
authid = "alice"
role = "user"
ticket = "a"
[[realms.roles]]
name = "anonymous"
[[realms.roles.permissions]]
uri = "com.app."
match = "prefix"
call = true
[[realms.roles]]
name = "user"
[[realms.roles.permissions]]
uri = "com.app."
match = "prefix"
call = true
register = true
`

// TestReloadConfigFile runs the binary on a file, rewrites it and reloads:
// a half-written file is refused, every error logged, and changes nothing;
// the complete one adds a realm and a principal, and the connected
// session stays up and keeps working.
func TestReloadConfigFile(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, reloadBase)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	reload := make(chan struct{})
	addrc := make(chan string, 1)
	exit := make(chan int, 1)
	var logs routertest.WatchBuffer
	go func() {
		exit <- runWith(ctx, []string{"--config", path, "--listen", "127.0.0.1:0"}, &logs,
			runOptions{listening: func(a string) { addrc <- a }, reload: reload})
	}()
	var url string
	select {
	case a := <-addrc:
		url = "ws://" + a + "/ws"
	case code := <-exit:
		t.Fatalf("exit %d: %s", code, logs.String())
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	alice, err := clientlib.Connect(cctx, url, "realm1", clientlib.Options{AuthID: "alice", Auth: []clientlib.Authenticator{clientlib.TicketAuth("a")}})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close(cctx)
	if _, err := alice.Register(cctx, "com.app.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	// Half-written: cut in the middle of a table, plus a bad value.
	half := reloadBase + "\n[[realms]]\nname = \"realm2\"\nauth = [\"password\"]\n[[realms.roles]]\nna"
	if err := os.WriteFile(path, []byte(half), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	logs.WaitFor(t, "nothing changed")
	if _, err := clientlib.Connect(cctx, url, "realm2", clientlib.Options{}); err == nil {
		t.Error("realm2 of a half-written file exists")
	}

	// Invalid but complete: every error is logged.
	bad := reloadBase + "\n[[realms]]\nname = \"realm2\"\nauth = [\"password\"]\ndisclose_caller = \"sometimes\"\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	logs.WaitFor(t, "sometimes") // each error on a line of its own
	logs.WaitFor(t, "password")
	if n := strings.Count(logs.String(), "nothing changed"); n != 2 {
		t.Errorf("%d refused reloads logged, want 2:\n%s", n, logs.String())
	}

	good := strings.Replace(reloadBase, "register = true\n", "register = true\n[[realms.principals]]\nauthid = \"bob\"\nrole = \"user\"\nticket = \"b\"\n", 1) +
		"\n[[realms]]\nname = \"realm2\"\nauth = [\"anonymous\"]\n"
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	logs.WaitFor(t, "configuration reloaded")
	c2, err := clientlib.Connect(cctx, url, "realm2", clientlib.Options{})
	if err != nil {
		t.Fatalf("the realm added: %v", err)
	}
	_ = c2.Close(cctx)
	bob, err := clientlib.Connect(cctx, url, "realm1", clientlib.Options{AuthID: "bob", Auth: []clientlib.Authenticator{clientlib.TicketAuth("b")}})
	if err != nil {
		t.Fatalf("the principal added: %v", err)
	}
	defer bob.Close(cctx)
	if res, err := bob.Call(cctx, "com.app.echo", []any{"hi"}, nil, nil); err != nil || len(res.Args) != 1 || res.Args[0] != "hi" {
		t.Fatalf("call of alice's procedure after the reload: %v %v", res, err)
	}
	select {
	case <-alice.Done():
		t.Fatalf("alice's session ended: %v", alice.Err())
	default:
	}
	var rpcErr *wamp.RPCError
	if _, err := bob.Call(cctx, "com.other", nil, nil, nil); !errors.As(err, &rpcErr) || rpcErr.URI != wamp.ErrNotAuthorized {
		t.Errorf("bob calls what user may not: %v", err)
	}
	stop()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestReloadSignalStorm sends the process a burst of real SIGHUPs: the
// reloads run one at a time, no more of them than signals (coalesced
// while one runs), and the router keeps serving its session throughout.
func TestReloadSignalStorm(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, reloadBase)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs routertest.WatchBuffer
	addrc := make(chan string, 1)
	exit := make(chan int, 1)
	go func() {
		exit <- runWith(ctx, []string{"--config", path, "--listen", "127.0.0.1:0"}, &logs, runOptions{listening: func(a string) { addrc <- a }})
	}()
	var url string
	select {
	case a := <-addrc:
		url = "ws://" + a + "/ws"
	case code := <-exit:
		t.Fatalf("exit %d: %s", code, logs.String())
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := clientlib.Connect(cctx, url, "realm1", clientlib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(cctx)
	const signals = 50
	for range signals {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	// Then a change, and one more signal: it is applied.
	if err := os.WriteFile(path, []byte(reloadBase+"\n[[realms]]\nname = \"realm2\"\nauth = [\"anonymous\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.WaitFor(t, "realms_added=[realm2]")
	if n := strings.Count(logs.String(), "reloading the configuration"); n < 1 || n > signals+1 {
		t.Errorf("%d reloads for %d signals", n, signals+1)
	}
	if _, err := c.Call(cctx, "com.app.nothing", nil, nil, nil); !isNoSuchProcedure(err) {
		t.Errorf("the session after the storm: %v", err)
	}
	t.Logf("%d reloads for %d signals", strings.Count(logs.String(), "reloading the configuration"), signals+1)
	stop()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func isNoSuchProcedure(err error) bool {
	var e *wamp.RPCError
	return errors.As(err, &e) && e.URI == wamp.ErrNoSuchProcedure
}

// TestReloadBadCertificate: a reload whose TLS certificate does not load is
// refused as a whole: the realm the same file adds is not created, the
// running certificate stays.
func TestReloadBadCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c1, k1 := ca.issue(t, "server", 100, true)
	write(t, certFile, c1)
	write(t, keyFile, k1)
	tlsPart := "[server]\ntls_cert = \"" + certFile + "\"\ntls_key = \"" + keyFile + "\"\n"
	path := writeConfig(t, tlsPart+reloadBase)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs routertest.WatchBuffer
	reload := make(chan struct{})
	addrc := make(chan string, 1)
	exit := make(chan int, 1)
	go func() {
		exit <- runWith(ctx, []string{"--config", path, "--listen", "127.0.0.1:0"}, &logs,
			runOptions{listening: func(a string) { addrc <- a }, reload: reload})
	}()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-exit:
		t.Fatalf("exit %d: %s", code, logs.String())
	}
	write(t, keyFile, []byte("not a key"))
	write(t, path, []byte(tlsPart+reloadBase+"\n[[realms]]\nname = \"realm2\"\nauth = [\"anonymous\"]\n"))
	reload <- struct{}{}
	logs.WaitFor(t, "nothing changed")
	logs.WaitFor(t, "tls: loading")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	dialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots}}
	if _, err := clientlib.Connect(cctx, "wss://"+addr+"/ws", "realm2", clientlib.Options{Dialer: dialer}); err == nil {
		t.Error("realm2 was added by a refused reload")
	}
	c, err := clientlib.Connect(cctx, "wss://"+addr+"/ws", "realm1", clientlib.Options{Dialer: dialer})
	if err != nil {
		t.Fatalf("the running certificate after a refused reload: %v", err)
	}
	_ = c.Close(cctx)
	stop()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d", code)
	}
}
