package rawsocket_test

import (
	"bytes"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/wamp"
)

func TestUnknownEngine(t *testing.T) {
	if _, err := rawsocket.NewServer(rawsocket.Config{Engine: "epoll"}, newEcho(), rawsocket.Options{Logger: quiet}); err == nil ||
		!strings.Contains(err.Error(), "epoll") {
		t.Fatalf("an unknown engine: %v", err)
	}
}

// attacher admits each peer as the router's push model does, sends it one
// message from Attach (before the connection is on the poller: it is
// queued until then), and counts what its sessions are handed.
type attacher struct {
	mu   sync.Mutex
	msgs int
}

func (a *attacher) ServePeer(transport.Peer) { panic("ServePeer on an attaching transport") }

func (a *attacher) Attach(p transport.Peer) transport.Session {
	_ = p.Send(&wamp.Welcome{Session: 1, Details: wamp.Dict{}})
	return a
}

func (a *attacher) Handle(wamp.Message) bool {
	a.mu.Lock()
	a.msgs++
	a.mu.Unlock()
	return true
}

func (a *attacher) Closed(error) {}

// TestNbioIdleHoldsNoGoroutine: on the nbio engine, with a push handler
// (the router's), 200 idle RawSocket sessions add no goroutine each: the
// poller reads them, and the writer ran only to send the first message.
// On the goroutine engine each holds one (and ServePeer would be called).
func TestNbioIdleHoldsNoGoroutine(t *testing.T) {
	const n = 200
	a := &attacher{}
	s, addr := start(t, rawsocket.Config{Engine: rawsocket.EngineNbio}, a)
	before := runtime.NumGoroutine()
	for range n {
		c := dial(t, addr, rawsocket.SerializerJSON, 0)
		if _, err := c.ReadMessage(); err != nil { // WELCOME, sent from Attach
			t.Fatal(err)
		}
		if err := c.WriteMessage([]byte(`[1,"realm1",{}]`)); err != nil {
			t.Fatal(err)
		}
	}
	routertest.WaitUntil(t, "every message handed to its session", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.msgs == n
	})
	// The clients' Conns hold no goroutine.
	routertest.WaitUntil(t, "no goroutine per connection", func() bool { return runtime.NumGoroutine()-before < n/4 })
	if got := s.Stats().Connections.Load(); got != n {
		t.Fatalf("%d connections open, want %d", got, n)
	}
}

// TestFramesInPieces: a client that writes its frames an octet at a time
// (prefixes and payloads cut anywhere, a large frame among them), and one
// that writes many frames in one write, are read as the same messages, on
// either engine.
func TestFramesInPieces(t *testing.T) {
	e := newEcho()
	_, addr := start(t, rawsocket.Config{HandshakeReadLimit: 64 << 10}, e)
	msgs := [][]byte{[]byte(`[1,"r",{}]`), []byte(hello(20 << 10)), []byte(`[6,{},"x"]`)}
	var stream []byte
	for _, m := range msgs {
		h := rawsocket.Header(rawsocket.FrameMessage, len(m))
		stream = append(append(stream, h[:]...), m...)
	}
	for _, oneByOne := range []bool{true, false} {
		c := dial(t, addr, rawsocket.SerializerJSON, 0)
		nc := c.NetConn()
		if oneByOne {
			if tc, ok := nc.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
			}
			for i := range stream {
				if _, err := nc.Write(stream[i : i+1]); err != nil {
					t.Fatal(err)
				}
			}
		} else if _, err := nc.Write(stream); err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			got, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("one by one %v: message %d: %v", oneByOne, i, err)
			}
			if !bytes.Equal(got, m) {
				t.Fatalf("one by one %v: message %d: got %d bytes, sent %d", oneByOne, i, len(got), len(m))
			}
		}
	}
}

// TestHandshakePipelined: a client that sends its first message right
// behind its handshake, before the router's answer, is read whole, on the
// nbio engine too: the handshake is read octet by octet, so what follows it is
// still in the socket when the poller takes it.
func TestHandshakePipelined(t *testing.T) {
	_, addr := start(t, rawsocket.Config{}, newEcho())
	h := rawsocket.Handshake{Serializer: rawsocket.SerializerJSON, MaxLength: rawsocket.MaxLength}.Bytes()
	m := []byte(`[1,"realm1",{}]`)
	fh := rawsocket.Header(rawsocket.FrameMessage, len(m))
	conn := raw(t, addr, append(append(h[:], fh[:]...), m...))
	var reply [4]byte
	if _, err := conn.Read(reply[:]); err != nil {
		t.Fatal(err)
	}
	got, err := readFrame(conn)
	if err != nil || !bytes.Equal(got, m) {
		t.Fatalf("echo %q, %v", got, err)
	}
}

func readFrame(c net.Conn) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, payload, err := rawsocket.ReadFrame(c, rawsocket.MaxLength)
	return payload, err
}

// TestNbioSocketNotInherited: a process the router starts while a
// RawSocket connection is on the nbio engine does not inherit its socket
// (transport/nbfd: nbio duplicates the descriptor without close-on-exec;
// an inherited copy kept a socket nbio closed registered in its epoll,
// whose events then went to the next connection given the same number).
func TestNbioSocketNotInherited(t *testing.T) {
	t.Parallel()
	_, addr := start(t, rawsocket.Config{Engine: rawsocket.EngineNbio}, &attacher{})
	c := dial(t, addr, rawsocket.SerializerJSON, 0)
	if _, err := c.ReadMessage(); err != nil { // WELCOME: the socket is on nbio
		t.Fatal(err)
	}
	// The test's own sockets are close-on-exec (Go's net package): any
	// socket the child lists is nbio's.
	out, err := exec.Command("ls", "-l", "/proc/self/fd").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "socket:") {
		t.Fatalf("a child process inherited a socket; its descriptors:\n%s", out)
	}
}
