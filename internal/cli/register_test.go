//go:build unix

package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
)

// register runs junction register and waits until the procedure is in place.
func register(t *testing.T, url, procedure string, flagsAndCommand ...string) *cliRun {
	t.Helper()
	r := startCLI(t, Options{}, append([]string{"register", procedure, "--url", url}, flagsAndCommand...)...)
	r.Stderr.WaitFor(t, "registered "+procedure+" ")
	return r
}

func TestCLIRegister(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	caller := routertest.Connect(t, srv.URL, clientlib.Options{Serializer: "cbor"})
	ctx := routertest.Context(t)

	// Arguments, keyword arguments on stdin, WAMP_PROCEDURE; stdout is the result.
	echo := register(t, srv.URL, "com.test.", "--match", "prefix", "--serializer", "msgpack", "--",
		"sh", "-c", `printf '%s|' "$@"; printf '%s|' "$WAMP_PROCEDURE"; cat; echo; echo`, "sh")
	res, rerr, err := call(ctx, caller, "com.test.echo", []any{1, "a b", map[string]any{"x": true}, "$HOME;"}, map[string]any{"k": "v"})
	if err != nil || rerr != nil {
		t.Fatal(err, rerr)
	}
	if want := `1|a b|{"x":true}|$HOME;|com.test.echo|{"k":"v"}`; len(res.Args) != 1 || res.Args[0] != want || len(res.Kwargs) != 0 {
		t.Errorf("result %#v %#v, want %q", res.Args, res.Kwargs, want)
	}
	// The same through junction call.
	code, out, errs := runCLI(t, "call", "com.test.cli", "2", "--url", srv.URL)
	if want := "2|com.test.cli|{}\n"; code != 0 || out != want {
		t.Errorf("junction call: exit %d, stdout %q, stderr %s; want %q", code, out, errs, want)
	}

	// A non-zero exit is junction.error.command_failed.
	register(t, srv.URL, "com.fail", "--", "sh", "-c", "echo out; echo oops >&2; exit 3")
	_, rerr, err = call(ctx, caller, "com.fail", nil, nil)
	if err != nil || rerr == nil || rerr.URI != errCommandFailed ||
		compactJSON(rerr.Kwargs["exit_code"]) != "3" || rerr.Kwargs["stderr"] != "oops\n" || rerr.Kwargs["stdout"] != "out\n" ||
		len(rerr.Args) != 1 || rerr.Args[0] != "sh: exit status 3" {
		t.Errorf("failure: %v %#v", err, rerr)
	}
	code, _, errs = runCLI(t, "call", "com.fail", "--url", srv.URL)
	if code != 1 || !strings.Contains(errs, "junction.error.command_failed: sh: exit status 3\n  exit_code: 3\n  stderr: oops\n  stdout: out\n") {
		t.Errorf("junction call of a failure: exit %d, stderr %q", code, errs)
	}

	// --timeout kills the command and its children.
	slow := register(t, srv.URL, "com.slow", "--timeout", "50ms", "--", "sh", "-c", "sleep 60; echo done")
	start := time.Now()
	_, rerr, err = call(ctx, caller, "com.slow", nil, nil)
	if err != nil || rerr == nil || rerr.URI != errCommandTimeout || rerr.Kwargs["timeout"] != "50ms" {
		t.Errorf("timeout: %v %#v", err, rerr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("timeout took %s", d)
	}
	slow.Stderr.WaitFor(t, "command timed out; killed")

	// Interrupted, register exits 0.
	echo.Stop()
	if code := echo.Wait(t); code != 0 {
		t.Errorf("register exit %d: %s", code, echo.Stderr.String())
	}
	// The router answers GOODBYE once the session has left, but register
	// may exit before it reads the answer: a call in between can be
	// canceled ("callee left").
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, rerr, err := call(ctx, caller, "com.test.echo", nil, nil)
		if err == nil && rerr != nil && rerr.URI == "wamp.error.no_such_procedure" {
			break
		}
		if err != nil || rerr == nil || rerr.URI != "wamp.error.canceled" || time.Now().After(deadline) {
			t.Fatalf("after register stopped: %v %v", err, rerr)
		}
	}
}

// TestCLIRegisterCancel: cancelling a call kills its command, children
// included. The command holds a FIFO open for writing; the test reads it
// and gets EOF once every process holding it is gone.
func TestCLIRegisterCancel(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r := register(t, srv.URL, "com.block", "--", "sh", "-c", `exec 3>"$1"; sleep 60 & wait`, "sh")
	caller := routertest.Connect(t, srv.URL, clientlib.Options{})
	callCtx, cancelCall := context.WithCancel(routertest.Context(t))
	defer cancelCall()
	called := make(chan error, 1)
	go func() {
		_, err := caller.Call(callCtx, "com.block", []any{fifo}, nil, nil)
		called <- err
	}()

	opened := make(chan *os.File, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until the command opens it for writing
		if err != nil {
			t.Error(err)
		}
		opened <- f
	}()
	var f *os.File
	select {
	case f = <-opened:
	case <-time.After(testTimeout):
		t.Fatal("the command did not start")
	}
	if f == nil {
		return
	}
	defer f.Close()

	cancelCall()
	if err := <-called; err != context.Canceled {
		t.Errorf("call: %v", err)
	}
	eof := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(f)
		eof <- err
	}()
	select {
	case err := <-eof:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the command and its children still hold the FIFO")
	}
	r.Stderr.WaitFor(t, "call cancelled; command killed")
}
