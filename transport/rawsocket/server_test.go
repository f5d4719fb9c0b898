package rawsocket_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/wamp"
)

var quiet = slog.New(slog.DiscardHandler)

// echo sends every message it receives back, and records each peer and how
// its session ended.
type echo struct {
	mu    sync.Mutex
	peers []transport.Peer
	got   chan transport.Peer
	ended chan error
	// establish calls Established on the first message.
	establish bool
}

func newEcho() *echo {
	return &echo{got: make(chan transport.Peer, 16), ended: make(chan error, 16), establish: true}
}

func (e *echo) ServePeer(p transport.Peer) {
	e.got <- p
	first := true
	for {
		m, err := p.Recv()
		if err != nil {
			var perr *transport.ProtocolError
			if errors.As(err, &perr) {
				p.Close(perr.Code, perr.Err.Error())
			}
			e.ended <- err
			return
		}
		if first && e.establish {
			p.Established()
			first = false
		}
		if err := p.Send(m); err != nil {
			e.ended <- err
			return
		}
	}
}

func start(t *testing.T, cfg rawsocket.Config, h transport.Handler) (*rawsocket.Server, string) {
	t.Helper()
	s, err := rawsocket.NewServer(withEngine(cfg), h, rawsocket.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.CloseAll()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func dial(t *testing.T, addr string, ser byte, recvMax int) *rawsocket.Conn {
	t.Helper()
	c, err := rawsocket.Dial(ctx(t), rawsocket.Endpoint{Network: "tcp", Address: addr}, ser, recvMax, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.NetConn().SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// raw opens a TCP connection and sends b.
func raw(t *testing.T, addr string, b []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEchoEachSerializer(t *testing.T) {
	_, addr := start(t, rawsocket.Config{}, newEcho())
	msgs := map[byte]string{
		rawsocket.SerializerJSON:    `[1,"realm1",{}]`,
		rawsocket.SerializerMsgpack: "\x93\x01\xa6realm1\x80",
		rawsocket.SerializerCBOR:    "\x83\x01\x66realm1\xa0",
	}
	for id, msg := range msgs {
		c := dial(t, addr, id, 0)
		if c.SendMax() != rawsocket.MaxLength {
			t.Fatalf("%s: router announces %d", rawsocket.SerializerName(id), c.SendMax())
		}
		if err := c.WriteMessage([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("%s: %v", rawsocket.SerializerName(id), err)
		}
		if id == rawsocket.SerializerJSON && string(got) != `[1,"realm1",{}]` {
			t.Fatalf("echo: %s", got)
		}
	}
}

func TestHandshakeRefusals(t *testing.T) {
	_, addr := start(t, rawsocket.Config{Serializers: []string{"json", "cbor"}}, newEcho())
	for _, c := range []struct {
		name  string
		req   []byte
		reply []byte // nil: closed without a reply
	}{
		{"unsupported serializer", []byte{0x7F, 0xF2, 0, 0}, []byte{0x7F, 0x10, 0, 0}},
		{"unknown serializer", []byte{0x7F, 0xF6, 0, 0}, []byte{0x7F, 0x10, 0, 0}},
		{"illegal serializer 0", []byte{0x7F, 0xF0, 0, 0}, []byte{0x7F, 0x10, 0, 0}},
		{"length unacceptable", []byte{0x7F, 0x01, 0, 0}, []byte{0x7F, 0x20, 0, 0}},
		{"reserved bits", []byte{0x7F, 0xF1, 0, 7}, []byte{0x7F, 0x30, 0, 0}},
		{"wrong magic", []byte{0x16, 0x03, 0x01, 0x00}, nil},
		{"http", []byte("GET / HTTP/1.1\r\n\r\n"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := raw(t, addr, c.req)
			got, err := io.ReadAll(conn)
			if err != nil && !isReset(err) {
				t.Fatalf("read: %v", err)
			}
			if string(got) != string(c.reply) {
				t.Fatalf("reply % x, want % x", got, c.reply)
			}
		})
	}
	// A client announcing what the config requires at least is taken.
	dial(t, addr, rawsocket.SerializerJSON, 1024)
}

// hello is a HELLO of n bytes.
func hello(n int) string {
	const head, tail = `[1,"realm1",{"x":"`, `"}]`
	return head + strings.Repeat("y", n-len(head)-len(tail)) + tail
}

func isReset(err error) bool { return strings.Contains(err.Error(), "reset") }

func TestHandshakeTimeout(t *testing.T) {
	s, addr := start(t, rawsocket.Config{HandshakeTimeout: 100 * time.Millisecond}, newEcho())
	for _, b := range [][]byte{nil, {0x7F, 0xF1}} { // nothing, half a handshake
		conn := raw(t, addr, b)
		if got, err := io.ReadAll(conn); err != nil || len(got) != 0 {
			t.Fatalf("got % x, %v; want the connection closed", got, err)
		}
	}
	if n := s.Stats().Refused.Load(); n != 2 {
		t.Fatalf("refused %d", n)
	}
}

func TestReadLimits(t *testing.T) {
	e := newEcho()
	_, addr := start(t, rawsocket.Config{ReadLimit: 1 << 20, HandshakeReadLimit: 1000}, e)
	c := dial(t, addr, rawsocket.SerializerJSON, 0)
	if c.SendMax() != 1<<20 {
		t.Fatalf("announced %d", c.SendMax())
	}
	// Before the session is established: over the handshake limit.
	big := hello(2000)
	if err := c.WriteMessage([]byte(big)); err != nil {
		t.Fatal(err)
	}
	var perr *transport.ProtocolError
	if err := <-e.ended; !errors.As(err, &perr) || perr.Code != transport.CloseMessageTooBig {
		t.Fatalf("ended with %v", err)
	}
	if _, err := c.ReadMessage(); err == nil {
		t.Fatal("connection still open")
	}
	// Established: up to the read limit, not one byte more.
	c = dial(t, addr, rawsocket.SerializerJSON, 0)
	_ = c.WriteMessage([]byte(`[1,"r",{}]`))
	if _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	ok := hello(1 << 20)
	if err := c.WriteMessage([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadMessage(); err != nil || len(got) != 1<<20 {
		t.Fatalf("echo of 1 MiB: %d, %v", len(got), err)
	}
	var tl *rawsocket.TooLargeError
	if err := c.WriteMessage([]byte(ok + " ")); !errors.As(err, &tl) {
		t.Fatalf("the client sent a message over the router's maximum: %v", err)
	}
}

func TestTooLargeForClient(t *testing.T) {
	e := newEcho()
	_, addr := start(t, rawsocket.Config{}, e)
	c := dial(t, addr, rawsocket.SerializerJSON, 1024)
	_ = c.WriteMessage([]byte(`[1,"r",{}]`))
	if _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	p := <-e.got
	big := &wamp.Event{Subscription: 1, Publication: 2, Details: wamp.Dict{},
		Payload: wamp.Values([]any{strings.Repeat("z", 1100)}, nil)}
	if err := p.Send(big); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("Send of a message over the client's maximum: %v", err)
	}
	f := transport.NewFrame([]byte(`[36,1,2,{},["`+strings.Repeat("z", 1100)+`"]]`), false)
	if err := p.SendFrame(f); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("SendFrame: %v", err)
	}
	// The connection goes on.
	if err := p.Send(&wamp.Event{Subscription: 1, Publication: 3, Details: wamp.Dict{}}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadMessage(); err != nil || string(got) != `[36,1,3,{}]` {
		t.Fatalf("next message: %s, %v", got, err)
	}
}

func TestPingPong(t *testing.T) {
	_, addr := start(t, rawsocket.Config{}, newEcho())
	conn := raw(t, addr, []byte{0x7F, 0xF1, 0, 0})
	br := bufio.NewReader(conn)
	var reply [4]byte
	if _, err := io.ReadFull(br, reply[:]); err != nil || reply != [4]byte{0x7F, 0xF1, 0, 0} {
		t.Fatalf("handshake: % x %v", reply, err)
	}
	for _, payload := range []string{"", "hello", strings.Repeat("p", 60000)} {
		h := rawsocket.Header(rawsocket.FramePing, len(payload))
		if _, err := conn.Write(append(h[:], payload...)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := rawsocket.ReadFrame(br, 1<<20)
		if err != nil || typ != rawsocket.FramePong || string(got) != payload {
			t.Fatalf("PONG: type %d, %d bytes, %v", typ, len(got), err)
		}
	}
}

func TestKeepalive(t *testing.T) {
	// Off unless configured: some clients cannot answer a PING.
	if off, _ := rawsocket.NewServer(withEngine(rawsocket.Config{}), newEcho(), rawsocket.Options{Logger: quiet}); off.Config().PingInterval != 0 {
		t.Fatalf("keepalive on by default: %s", off.Config().PingInterval)
	}
	e := newEcho()
	s, addr := start(t, rawsocket.Config{PingInterval: 50 * time.Millisecond, PongTimeout: 50 * time.Millisecond}, e)
	// A client that answers PINGs (Conn.ReadMessage does) stays.
	c := dial(t, addr, rawsocket.SerializerJSON, 0)
	_ = c.NetConn().SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.ReadMessage(); !errors.Is(err, errTimeout) && !isTimeout(err) {
		t.Fatalf("answering client: %v", err)
	}
	// One that does not is pinged, then closed.
	conn := raw(t, addr, []byte{0x7F, 0xF1, 0, 0})
	got, _ := io.ReadAll(conn)
	ping := rawsocket.Header(rawsocket.FramePing, 8)
	if len(got) != 16 || string(got[4:8]) != string(ping[:]) || string(got[8:]) != "junction" {
		t.Fatalf("silent client got % x, want the handshake reply and a PING of \"junction\", then the end", got)
	}
	if s.Stats().PongTimeouts.Load() == 0 {
		t.Fatal("no pong timeout counted")
	}
	// The session's read says why it ended: not a client's close.
	if err := <-e.ended; err == nil || !strings.Contains(err.Error(), "after a PING") {
		t.Fatalf("the silent client's session ended with %v, want the keepalive's reason", err)
	}
}

var errTimeout = errors.New("timeout")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestBadFrames(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"reserved bits", []byte{0x10, 0, 0, 1, '1'}},
		{"reserved type", []byte{0x03, 0, 0, 1, '1'}},
		{"length bit 25 with others", []byte{0x08, 0, 0, 1, '1'}},
		{"not json", []byte{0x00, 0, 0, 3, 'x', 'y', 'z'}},
		{"not wamp", []byte{0x00, 0, 0, 3, '[', '1', ']'}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEcho()
			_, addr := start(t, rawsocket.Config{}, e)
			conn := raw(t, addr, append([]byte{0x7F, 0xF1, 0, 0}, c.frame...))
			var perr *transport.ProtocolError
			if err := <-e.ended; !errors.As(err, &perr) || perr.Code != transport.CloseProtocolError {
				t.Fatalf("ended with %v", err)
			}
			if got, _ := io.ReadAll(conn); len(got) != 4 {
				t.Fatalf("got % x", got)
			}
		})
	}
}

func TestClientGoneMidFrame(t *testing.T) {
	e := newEcho()
	_, addr := start(t, rawsocket.Config{}, e)
	conn := raw(t, addr, []byte{0x7F, 0xF1, 0, 0, 0, 0, 0, 100, '['})
	_ = conn.Close()
	if err := <-e.ended; err != io.EOF {
		t.Fatalf("ended with %v", err)
	}
}

func TestUnixSocket(t *testing.T) {
	s, err := rawsocket.NewServer(withEngine(rawsocket.Config{}), newEcho(), rawsocket.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "j.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	c, err := rawsocket.Dial(ctx(t), rawsocket.Endpoint{Network: "unix", Address: path}, rawsocket.SerializerJSON, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.WriteMessage([]byte(`[1,"r",{}]`))
	if got, err := c.ReadMessage(); err != nil || string(got) != `[1,"r",{}]` {
		t.Fatalf("%s %v", got, err)
	}
}

func TestConnectionLimitReply(t *testing.T) {
	s, err := rawsocket.NewServer(withEngine(rawsocket.Config{}), newEcho(), rawsocket.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := transport.NewLimiter(transport.ListenerLimits{Connections: 1}, quiet)
	go func() { _ = s.Serve(lim.Listener(ln, s.RefuseConn)) }()
	t.Cleanup(func() { s.CloseAll(); _ = s.Shutdown(context.Background()) })
	dial(t, ln.Addr().String(), rawsocket.SerializerJSON, 0)
	_, err = rawsocket.Dial(ctx(t), rawsocket.Endpoint{Network: "tcp", Address: ln.Addr().String()}, rawsocket.SerializerJSON, 0, nil)
	if !errors.Is(err, rawsocket.ErrConnectionLimit) {
		t.Fatalf("second connection: %v", err)
	}
}

func TestShared(t *testing.T) {
	s, err := rawsocket.NewServer(withEngine(rawsocket.Config{}), newEcho(), rawsocket.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "http here") })}
	go func() { _ = hs.Serve(rawsocket.Shared(ln, s, 5*time.Second)) }()
	t.Cleanup(func() { _ = hs.Close(); s.CloseAll(); _ = s.Shutdown(context.Background()) })
	addr := ln.Addr().String()
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "http here" {
		t.Fatalf("http: %q", body)
	}
	c := dial(t, addr, rawsocket.SerializerJSON, 0)
	_ = c.WriteMessage([]byte(`[1,"r",{}]`))
	if got, err := c.ReadMessage(); err != nil || string(got) != `[1,"r",{}]` {
		t.Fatalf("rawsocket on the shared port: %s %v", got, err)
	}
}

// TestWrongFirstOctetClosedAtOnce: a client whose first octet is not the
// magic is closed on it, not after the handshake timeout.
func TestWrongFirstOctetClosedAtOnce(t *testing.T) {
	_, addr := start(t, rawsocket.Config{HandshakeTimeout: time.Hour}, newEcho())
	conn := raw(t, addr, []byte{'G'}) // the test's own 10 s deadline bounds the read
	if got, err := io.ReadAll(conn); (err != nil && !isReset(err)) || len(got) != 0 {
		t.Fatalf("got % x, %v; want the connection closed without a reply", got, err)
	}
}

// TestFrameTimeout: a large frame declared and sent in part is cut
// FrameTimeout after its prefix, keepalive or not; small frames are not
// timed.
func TestFrameTimeout(t *testing.T) {
	e := newEcho()
	s, addr := start(t, rawsocket.Config{FrameTimeout: 100 * time.Millisecond}, e)
	h := rawsocket.Header(rawsocket.FrameMessage, 60000) // under the 64 KiB before WELCOME
	conn := raw(t, addr, append(append([]byte{0x7F, 0xF1, 0, 0}, h[:]...), bytes.Repeat([]byte("x"), 20000)...))
	var perr *transport.ProtocolError
	if err := <-e.ended; !errors.As(err, &perr) || perr.Code != transport.ClosePolicyViolation || !strings.Contains(err.Error(), "frame_timeout") {
		t.Fatalf("ended with %v", err)
	}
	if got, _ := io.ReadAll(conn); len(got) != 4 {
		t.Fatalf("got % x", got)
	}
	if s.Stats().FrameTimeouts.Load() != 1 {
		t.Fatal("not counted")
	}
	// A large frame that arrives in time, then idleness: no deadline left.
	c := dial(t, addr, rawsocket.SerializerJSON, 0)
	for _, m := range []string{hello(100), hello(100 << 10)} { // the first establishes the session
		if err := c.WriteMessage([]byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.NetConn().SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.ReadMessage(); !isTimeout(err) {
		t.Fatalf("idle after a large frame: %v, want our own read timeout (the router keeps the connection)", err)
	}
}
