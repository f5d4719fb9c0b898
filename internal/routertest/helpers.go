package routertest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/server"
)

// Timeout bounds every wait of the tests that use these helpers: a guard
// against hangs, never a timing assertion.
const Timeout = 30 * time.Second

// Connect joins realm1 of the router at url with clientlib, closed when the
// test ends.
func Connect(t testing.TB, url string, opts clientlib.Options) *clientlib.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, err := clientlib.Connect(ctx, url, "realm1", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// Context is a context that ends after Timeout or with the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// WatchBuffer is an output sink (a program's stdout or stderr in a test)
// whose WaitFor returns as soon as it holds a string: no polling, no sleep.
type WatchBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed at the next write
}

func (w *WatchBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
	return w.b.Write(p)
}

func (w *WatchBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// WaitFor waits until the output contains s, failing the test after Timeout.
func (w *WatchBuffer) WaitFor(t testing.TB, s string) {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		if strings.Contains(w.b.String(), s) {
			w.mu.Unlock()
			return
		}
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("output lacks %q after %s:\n%s", s, Timeout, w.String())
		}
	}
}

// Program is a run of a program's main function in a test (the junction
// binary's, a CLI command's), its output captured.
type Program struct {
	Stdout, Stderr WatchBuffer
	cancel         context.CancelFunc
	exit           chan int
}

// StartProgram runs main until it returns or the test ends; name says what
// runs, in failures. main gets a context that Stop (or the end of the test)
// cancels, and writers for its output.
func StartProgram(t testing.TB, name string, main func(ctx context.Context, stdout, stderr io.Writer) int) *Program {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Program{cancel: cancel, exit: make(chan int, 1)}
	go func() { p.exit <- main(ctx, &p.Stdout, &p.Stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.exit:
		case <-time.After(Timeout):
			t.Errorf("%s did not stop", name)
		}
	})
	return p
}

// Stop cancels the program's context (as an interrupt would).
func (p *Program) Stop() { p.cancel() }

// Wait waits for the program to end and returns its exit status.
func (p *Program) Wait(t testing.TB) int {
	t.Helper()
	select {
	case code := <-p.exit:
		p.exit <- code // for the cleanup
		return code
	case <-time.After(Timeout):
		t.Fatalf("no exit after %s; stderr:\n%s", Timeout, p.Stderr.String())
	}
	return 0
}

// Serve runs a server.Server of cfg on 127.0.0.1:0 until the test ends
// (then checks that Serve ended cleanly) and returns the bound address.
func Serve(t testing.TB, cfg server.Config) string {
	t.Helper()
	return ServeAll(t, cfg).HTTP
}

// Addrs are where a server started by ServeAll listens.
type Addrs struct {
	HTTP          string // host:port of WebSocket, HTTP and (shared) RawSocket
	RawSocketTCP  string // host:port of RawSocketConfig.Listen, if set
	RawSocketUnix string // the path of RawSocketConfig.Unix, if set
}

// ServeAll is Serve, and returns every address the server listens on,
// once it accepts on all of them.
func ServeAll(t testing.TB, cfg server.Config) Addrs {
	t.Helper()
	addrc := make(chan [2]string, 3) // network ("" for HTTP), address
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.DiscardHandler),
		Listening:          func(a string) { addrc <- [2]string{"", a} },
		RawSocketListening: func(network, a string) { addrc <- [2]string{network, a} },
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	want := 1
	if cfg.RawSocket.Listen != "" {
		want++
	}
	if cfg.RawSocket.Unix != "" {
		want++
	}
	var at Addrs
	for range want {
		select {
		case a := <-addrc:
			switch a[0] {
			case "":
				at.HTTP = a[1]
			case "tcp":
				at.RawSocketTCP = a[1]
			case "unix":
				at.RawSocketUnix = a[1]
			}
		case err := <-done:
			t.Fatalf("serve ended before listening: %v", err)
		}
	}
	return at
}

// WaitUntil polls cond until it holds, failing the test after Timeout
// with what it waited for: for state that signals no event to wait on.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not synchronising on time
	}
}
