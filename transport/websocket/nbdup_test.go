//go:build linux

package websocket_test

import (
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/junction-wamp/junction/transport/websocket"
)

// TestNbioSocketNotInherited: a process the router starts while a
// connection is on the nbio engine does not inherit its socket. nbio
// duplicates the socket's descriptor without close-on-exec; an inherited
// copy kept the socket alive, and registered in nbio's epoll, after nbio
// closed it, and its events went to the next connection given the same
// descriptor number (the interop suite, which starts clients all the
// time, saw connections never read).
func TestNbioSocketNotInherited(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.Engine = websocket.EngineNbio
	a := &attacher{}
	s, err := websocket.NewServer(cfg, a, websocket.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	c, _, err := dial(t, "ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", []string{"wamp.2.json"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); err != nil { // the session's first message: the socket is on nbio
		t.Fatal(err)
	}
	// The child lists what its descriptors are: the test's own sockets
	// are close-on-exec (Go's net package), so any socket is nbio's.
	out, err := exec.Command("ls", "-l", "/proc/self/fd").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "socket:") {
		t.Fatalf("a child process inherited a socket; its descriptors:\n%s", out)
	}
}
