package websocket_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/websocket"
	"github.com/junction-wamp/junction/wamp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// echo sends every message it receives back, and records each peer and how
// its session ended.
type echo struct {
	mu    sync.Mutex
	peers []transport.Peer
	ended chan error
}

func newEcho() *echo { return &echo{ended: make(chan error, 16)} }

func (e *echo) ServePeer(p transport.Peer) {
	e.mu.Lock()
	e.peers = append(e.peers, p)
	e.mu.Unlock()
	for {
		m, err := p.Recv()
		if err != nil {
			if perr, ok := err.(*transport.ProtocolError); ok {
				p.Close(perr.Code, perr.Err.Error())
			}
			e.ended <- err
			return
		}
		if err := p.Send(m); err != nil {
			e.ended <- err
			return
		}
	}
}

func (e *echo) peer(i int) transport.Peer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peers[i]
}

func start(t *testing.T, cfg websocket.Config, h transport.Handler) (*websocket.Server, string) {
	t.Helper()
	s, err := websocket.NewServer(withEngine(cfg), h, websocket.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
}

func dial(t *testing.T, url string, protocols []string, hdr http.Header, compress bool) (*gws.Conn, *http.Response, error) {
	t.Helper()
	d := gws.Dialer{Subprotocols: protocols, EnableCompression: compress, HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(url, hdr)
	if c != nil {
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	return c, resp, err
}

const hello = `[1,"realm1",{"roles":{"caller":{}}}]`

func TestSubprotocolNegotiation(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.Serializers = []string{"json", "msgpack"}
	_, url := start(t, cfg, newEcho())
	for _, tt := range []struct {
		offer []string
		want  string
	}{
		{[]string{"wamp.2.msgpack", "wamp.2.json"}, "wamp.2.msgpack"},
		{[]string{"wamp.2.json", "wamp.2.msgpack"}, "wamp.2.json"},
		{[]string{"wamp.2.cbor", "wamp.2.json"}, "wamp.2.json"}, // cbor disabled
	} {
		c, _, err := dial(t, url, tt.offer, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subprotocol() != tt.want {
			t.Errorf("offer %v: got %q, want %q", tt.offer, c.Subprotocol(), tt.want)
		}
	}
	for _, offer := range [][]string{{"foo"}, nil, {"wamp.2.cbor"}} {
		_, resp, err := dial(t, url, offer, nil, false)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("offer %v: %v %v", offer, resp, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), "wamp.2.json, wamp.2.msgpack") {
			t.Errorf("400 body %q does not list the protocols", body)
		}
	}
}

// TestCompressionNegotiated: permessage-deflate is negotiated when the
// client offers it, by default (the zero Config, like the binary's
// default), and refused with DisableCompression.
func TestCompressionNegotiated(t *testing.T) {
	t.Parallel()
	for _, enabled := range []bool{true, false} {
		h := newEcho()
		var cfg websocket.Config // the zero Config: defaults
		cfg.DisableCompression = !enabled
		_, url := start(t, cfg, h)
		c, resp, err := dial(t, url, []string{"wamp.2.json"}, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(resp.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate")
		if got != enabled {
			t.Fatalf("compression enabled=%v negotiated=%v", enabled, got)
		}
		// A round trip works, and the peer knows whether it compresses.
		if err := c.WriteMessage(gws.TextMessage, []byte(hello)); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := c.ReadMessage(); err != nil || string(msg) != hello {
			t.Fatalf("echo %s %v", msg, err)
		}
		if h.peer(0).Info().Compression != enabled {
			t.Fatalf("Info().Compression = %v", h.peer(0).Info().Compression)
		}
	}
}

// TestFanOutCompressedOnce queues one shared frame to ten connections that
// negotiated permessage-deflate: each receives it, and the frame's
// PreparedMessage holds a single compressed encoding, that all ten were
// written from. (The count is read from gorilla's unexported cache by
// reflection: it is the only witness of how many times it compressed.)
func TestFanOutCompressedOnce(t *testing.T) {
	t.Parallel()
	h := newEcho()
	s, url := start(t, websocket.DefaultConfig(), h)
	var conns []*gws.Conn
	for range 10 {
		c, resp, err := dial(t, url, []string{"wamp.2.json"}, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(resp.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate") {
			t.Fatal("compression not negotiated")
		}
		// One round trip: the peer is registered with the handler.
		if err := c.WriteMessage(gws.TextMessage, []byte(hello)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	event := `[36,1,2,{},["` + strings.Repeat("compress me ", 500) + `"]]`
	f := transport.NewFrame([]byte(event), false)
	for i := range conns {
		if err := h.peer(i).SendFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		if _, msg, err := c.ReadMessage(); err != nil || string(msg) != event {
			t.Fatalf("event %.40s... %v", msg, err)
		}
	}
	if testEngine == websocket.EngineNbio {
		// The nbio engine keeps one deflated form per frame.
		if n := websocket.DeflatedFrames(s); n != 1 {
			t.Fatalf("the event was compressed %d times for 10 connections, want once", n)
		}
		return
	}
	pm, err := websocket.Prepared(f)
	if err != nil {
		t.Fatal(err)
	}
	// gorilla frames the plain (uncompressed) encoding when the
	// PreparedMessage is made; each compressed encoding is one more key.
	compressed := 0
	for _, k := range reflect.ValueOf(pm).Elem().FieldByName("frames").MapKeys() {
		if k.FieldByName("compress").Bool() {
			compressed++
		}
	}
	if compressed != 1 {
		t.Fatalf("the event was compressed %d times for 10 connections, want once", compressed)
	}
}

func TestOriginPolicy(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.AllowedOrigins = []string{"https://*.example.com"}
	_, url := start(t, cfg, newEcho())
	host := strings.TrimPrefix(strings.TrimSuffix(url, "/ws"), "ws://")
	for origin, ok := range map[string]bool{
		"":                         true,
		"http://" + host:           true, // same origin
		"https://app.example.com":  true,
		"https://evil.example.org": false,
		"http://app.example.com":   false,
	} {
		hdr := http.Header{}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		_, resp, err := dial(t, url, []string{"wamp.2.json"}, hdr, false)
		if ok && err != nil {
			t.Errorf("origin %q refused: %v", origin, err)
		}
		if !ok && (err == nil || resp.StatusCode != http.StatusForbidden) {
			t.Errorf("origin %q not refused with 403: %v", origin, err)
		}
	}
}

// closeCode reads until the connection closes and returns the close code.
func closeCode(t *testing.T, c *gws.Conn) int {
	t.Helper()
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if ce, ok := err.(*gws.CloseError); ok {
				return ce.Code
			}
			t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

// tooBigCloseCode writes a message over the server's limit and returns the
// close code the server answers with. The server closes as soon as it has
// read the frame's header, so the client may still be writing the rest:
// then its write fails with a reset (or broken pipe), which discards the
// close frame, and ok is false (the server's TooBig counts say the rest).
func tooBigCloseCode(t *testing.T, c *gws.Conn, data []byte) (code int, ok bool) {
	t.Helper()
	if err := c.WriteMessage(gws.TextMessage, data); err != nil {
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
			return 0, false
		}
		t.Fatal(err)
	}
	return closeCode(t, c), true
}

func TestBadInputCloseCodes(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.ReadLimit = 1024
	tooBigHandshake := func(s *websocket.Stats) uint64 { return s.TooBigHandshake.Load() }
	invalidUTF8 := func(s *websocket.Stats) uint64 { return s.InvalidUTF8.Load() }
	for _, tt := range []struct {
		name     string
		protocol string
		msgType  int
		data     string
		code     int
		counter  func(*websocket.Stats) uint64 // counts it, if not nil
	}{
		{"oversized", "wamp.2.json", gws.TextMessage, "[" + strings.Repeat(" ", 2000) + "]", gws.CloseMessageTooBig, tooBigHandshake},
		{"binary on json", "wamp.2.json", gws.BinaryMessage, hello, gws.CloseUnsupportedData, nil},
		{"text on msgpack", "wamp.2.msgpack", gws.TextMessage, hello, gws.CloseUnsupportedData, nil},
		{"malformed", "wamp.2.json", gws.TextMessage, "[1,", gws.CloseProtocolError, nil},
		{"unknown type", "wamp.2.json", gws.TextMessage, "[99]", gws.CloseProtocolError, nil},
		{"invalid UTF-8", "wamp.2.json", gws.TextMessage, "[1,\"realm\xff\",{}]", gws.CloseInvalidFramePayloadData, invalidUTF8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newEcho()
			s, url := start(t, cfg, h)
			c, _, err := dial(t, url, []string{tt.protocol}, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.WriteMessage(tt.msgType, []byte(tt.data)); err != nil {
				t.Fatal(err)
			}
			if got := closeCode(t, c); got != tt.code {
				t.Fatalf("close code %d, want %d", got, tt.code)
			}
			if _, ok := (<-h.ended).(*transport.ProtocolError); !ok {
				t.Fatal("Recv did not report a ProtocolError")
			}
			if tt.counter != nil {
				waitFor(t, "the input counted", func() bool { return tt.counter(s.Stats()) >= 1 })
			}
			if tt.counter != nil && tt.counter(s.Stats()) != 1 {
				t.Fatalf("counted %d times, want once", tt.counter(s.Stats()))
			}
		})
	}
}

func TestCloseFlushesQueue(t *testing.T) {
	t.Parallel()
	h := newEcho()
	_, url := start(t, websocket.DefaultConfig(), h)
	c, _, err := dial(t, url, []string{"wamp.2.json"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(gws.TextMessage, []byte(hello)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	p := h.peer(0)
	for i := range 100 {
		if err := p.Send(&wamp.Published{Request: wamp.ID(i + 1), Publication: 1}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close(transport.CloseNormal, "bye")
	for i := range 100 {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d lost: %v", i, err)
		}
		if !strings.HasPrefix(string(msg), "[17,") {
			t.Fatalf("got %s", msg)
		}
	}
	if got := closeCode(t, c); got != gws.CloseNormalClosure {
		t.Fatalf("close code %d", got)
	}
	if err := p.Send(&wamp.Published{Request: 1, Publication: 1}); err != transport.ErrClosed {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestPingPong(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.PingInterval = 20 * time.Millisecond
	// Generous: a loaded CI machine can stall a timer or a reader for tens
	// of milliseconds, and the answering client must not be cut off then.
	cfg.PongTimeout = 2 * time.Second
	h := newEcho()
	_, url := start(t, cfg, h)

	// A client that answers pings (gorilla does, while reading) stays
	// connected across many ping intervals.
	alive, _, err := dial(t, url, []string{"wamp.2.json"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	pings := make(chan struct{}, 100)
	alive.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return alive.WriteControl(gws.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	readerDone := make(chan error, 1)
	go func() {
		for {
			if _, _, err := alive.ReadMessage(); err != nil {
				readerDone <- err
				return
			}
		}
	}()
	for i := range 10 {
		select {
		case <-pings:
		case err := <-readerDone:
			t.Fatalf("answering client disconnected after %d pings: %v", i, err)
		case <-time.After(10 * time.Second): // a guard against a hang, not a timing assertion
			t.Fatalf("no ping %d within 10s (interval %v)", i+1, cfg.PingInterval)
		}
	}
	select {
	case err := <-h.ended:
		t.Fatalf("answering client was disconnected: %v", err)
	default:
	}

	// A client that never answers is disconnected and its session ends.
	_, _, err = dial(t, url, []string{"wamp.2.json"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.ended:
		if err == nil {
			t.Fatal("silent client: session ended without an error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("silent client still connected after 30s")
	}
}

func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.QueueMessages = 64
	cfg.QueueBytes = 64 << 10
	cfg.SlowConsumerTimeout = 50 * time.Millisecond
	cfg.WriteTimeout = time.Second
	h := newEcho()
	s, url := start(t, cfg, h)
	slow, _, err := dial(t, url, []string{"wamp.2.json"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	healthy, _, err := dial(t, url, []string{"wamp.2.json"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*gws.Conn{slow, healthy} {
		if err := c.WriteMessage(gws.TextMessage, []byte(hello)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	var slowPeer, healthyPeer transport.Peer
	for i := range 2 {
		if p := h.peer(i); p.Info().RemoteAddr == slow.LocalAddr().String() {
			slowPeer = p
		} else {
			healthyPeer = p
		}
	}
	// Flood the slow client (it never reads) until the transport cuts it
	// off; the loop is bounded.
	big := &wamp.Event{Subscription: 1, Publication: 1, Details: wamp.Dict{"pad": strings.Repeat("x", 4096)}}
	var sendErr error
	for i := 0; i < 1_000_000 && sendErr == nil; i++ {
		sendErr = slowPeer.Send(big)
	}
	if sendErr != transport.ErrSlowConsumer && sendErr != transport.ErrClosed {
		t.Fatalf("flood ended with %v", sendErr)
	}
	<-slowPeer.Done()
	if n := s.Stats().SlowConsumerDisconnects.Load(); n != 1 {
		t.Fatalf("slow consumer disconnects %d", n)
	}
	// The healthy client still gets its messages.
	for i := range 10 {
		if err := healthyPeer.Send(&wamp.Published{Request: wamp.ID(i + 1), Publication: 2}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := healthy.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHealthzAndShutdown(t *testing.T) {
	t.Parallel()
	ready := true
	var mu sync.Mutex
	s, err := websocket.NewServer(withEngine(websocket.DefaultConfig()), newEcho(), websocket.Options{Logger: quiet, Ready: func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ready
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	get := func() int {
		resp, err := http.Get(hs.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	mu.Lock()
	ready = false
	mu.Unlock()
	if code := get(); code != 503 {
		t.Fatalf("healthz when not ready %d", code)
	}
	c, _, err := dial(t, "ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", []string{"wamp.2.json"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	s.CloseAll(transport.CloseGoingAway, "shutting down")
	if got := closeCode(t, c); got != gws.CloseGoingAway {
		t.Fatalf("close code %d", got)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, resp, err := dial(t, "ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", []string{"wamp.2.json"}, nil, false)
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade after shutdown: %v", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []websocket.Config{
		{Serializers: []string{"xml"}},
		{CompressionLevel: 11},
		{AllowedOrigins: []string{"[bad"}},
	} {
		if _, err := websocket.NewServer(withEngine(cfg), newEcho(), websocket.Options{Logger: quiet}); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func BenchmarkEcho(b *testing.B) {
	s, err := websocket.NewServer(withEngine(websocket.DefaultConfig()), newEcho(), websocket.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	d := gws.Dialer{Subprotocols: []string{"wamp.2.json"}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := []byte(`[48,1,{},"com.example.echo",[42,"hello"]]`)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WriteMessage(gws.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTrustedProxies: behind a trusted proxy the client's address comes from
// X-Forwarded-For; from anyone else the header is ignored.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		proxies []string
		xff     string
		want    string
	}{
		{[]string{"127.0.0.1"}, "203.0.113.7", "203.0.113.7"},
		{[]string{"127.0.0.0/8", "10.0.0.0/8"}, "203.0.113.7, 10.1.2.3", "203.0.113.7"},
		{nil, "203.0.113.7", "127.0.0.1:"},
		{[]string{"10.0.0.0/8"}, "203.0.113.7", "127.0.0.1:"}, // the peer is not a trusted proxy
	} {
		h := newEcho()
		cfg := websocket.DefaultConfig()
		cfg.TrustedProxies = tt.proxies
		_, url := start(t, cfg, h)
		c, _, err := dial(t, url, []string{"wamp.2.json"}, http.Header{"X-Forwarded-For": {tt.xff}}, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(gws.TextMessage, []byte(hello)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		if got := h.peer(0).Info().RemoteAddr; !strings.HasPrefix(got, tt.want) {
			t.Errorf("proxies %v, X-Forwarded-For %q: client %q, want %q", tt.proxies, tt.xff, got, tt.want)
		}
	}
}

// TestReadLimitAfterInflation: the read limit bounds the message as
// inflated, not the compressed bytes on the wire, so a compression bomb is
// refused with 1009 before the router holds it.
func TestReadLimitAfterInflation(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.ReadLimit = 64 << 10
	h := newEcho()
	_, url := start(t, cfg, h)
	c, _, err := dial(t, url, []string{"wamp.2.json"}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	c.EnableWriteCompression(true)
	bomb := "[1," + strings.Repeat(" ", 8<<20) + "\"realm1\",{}]" // 8 MiB, deflates to about 8 KiB
	if err := c.WriteMessage(gws.TextMessage, []byte(bomb)); err != nil {
		t.Fatal(err)
	}
	if got := closeCode(t, c); got != gws.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", got)
	}
}

// establisher marks its peer established after the first message, as the
// router does after WELCOME, and echoes the rest.
type establisher struct{ echo }

func (e *establisher) ServePeer(p transport.Peer) {
	if _, err := p.Recv(); err != nil {
		e.ended <- err
		if perr, ok := err.(*transport.ProtocolError); ok {
			p.Close(perr.Code, perr.Err.Error())
		}
		return
	}
	p.Established()
	e.echo.ServePeer(p)
}

// TestHandshakeReadLimit: before the session is established a message is
// bounded by the handshake limit; afterwards by the read limit. Each is
// counted apart.
func TestHandshakeReadLimit(t *testing.T) {
	t.Parallel()
	cfg := websocket.DefaultConfig()
	cfg.HandshakeReadLimit = 1 << 10
	cfg.ReadLimit = 8 << 10
	big := "[1,\"" + strings.Repeat("x", 4<<10) + "\",{}]"

	h := &establisher{*newEcho()}
	s, url := start(t, cfg, h)
	c, _, err := dial(t, url, []string{"wamp.2.json"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := tooBigCloseCode(t, c, []byte(big)); ok && got != gws.CloseMessageTooBig {
		t.Fatalf("4 KiB before the session is established: close code %d, want 1009", got)
	}

	c2, _, err := dial(t, url, []string{"wamp.2.json"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.WriteMessage(gws.TextMessage, []byte(hello)); err != nil {
		t.Fatal(err)
	}
	if err := c2.WriteMessage(gws.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c2.ReadMessage(); err != nil || len(got) != len(big) {
		t.Fatalf("4 KiB once established: %d bytes back, %v", len(got), err)
	}
	if got, ok := tooBigCloseCode(t, c2, []byte(big+strings.Repeat(" ", 8<<10))); ok && got != gws.CloseMessageTooBig {
		t.Fatalf("12 KiB once established: close code %d, want 1009", got)
	}
	// The nbio engine counts once nbio has closed the connection, which
	// can be after the client read the close frame nbio sent.
	waitFor(t, "both counted", func() bool { return s.Stats().TooBigHandshake.Load()+s.Stats().TooBig.Load() >= 2 })
	if hs, est := s.Stats().TooBigHandshake.Load(), s.Stats().TooBig.Load(); hs != 1 || est != 1 {
		t.Fatalf("too big: %d before the session was established, %d after; want 1 and 1", hs, est)
	}
}

// TestCloseCodes: each of the router's reasons for closing goes on the wire
// as the RFC 6455 code it always did; a reason the transport does not know
// as 1011.
func TestCloseCodes(t *testing.T) {
	t.Parallel()
	for c, want := range map[transport.CloseCode]int{
		transport.CloseNormal:          1000,
		transport.CloseGoingAway:       1001,
		transport.CloseProtocolError:   1002,
		transport.CloseUnsupportedData: 1003,
		transport.CloseInvalidPayload:  1007,
		transport.ClosePolicyViolation: 1008,
		transport.CloseMessageTooBig:   1009,
		transport.CloseInternalError:   1011,
		transport.CloseCode(200):       1011,
	} {
		if got := websocket.WireCode(c); got != want {
			t.Errorf("%v: close code %d, want %d", c, got, want)
		}
	}
}
