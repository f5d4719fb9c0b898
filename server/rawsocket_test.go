package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/transport/websocket"
	"github.com/junction-wamp/junction/wamp"
)

var quiet = slog.New(slog.DiscardHandler)

// rsSession is a WAMP session over a RawSocket connection, driven by hand.
type rsSession struct {
	t    *testing.T
	c    *rawsocket.Conn
	ser  serializers.Serializer
	id   wamp.ID
	next wamp.ID
}

func dialRS(t *testing.T, e rawsocket.Endpoint, ser string, recvMax int) *rsSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	id, _ := rawsocket.SerializerID(ser)
	c, err := rawsocket.Dial(ctx, e, id, recvMax, nil)
	if err != nil {
		t.Fatalf("dial %v: %v", e, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.NetConn().SetDeadline(time.Now().Add(testTimeout))
	s, _ := serializers.ByName(ser)
	return &rsSession{t: t, c: c, ser: s}
}

func (s *rsSession) send(m wamp.Message) {
	s.t.Helper()
	data, err := s.ser.Encode(m)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.c.WriteMessage(data); err != nil {
		s.t.Fatal(err)
	}
}

func (s *rsSession) recv() wamp.Message {
	s.t.Helper()
	data, err := s.c.ReadMessage()
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	m, err := s.ser.Decode(data)
	if err != nil {
		s.t.Fatal(err)
	}
	return m
}

func (s *rsSession) join(realm string) {
	s.t.Helper()
	s.send(&wamp.Hello{Realm: wamp.URI(realm), Details: wamp.Dict{"roles": wamp.Dict{
		"caller": wamp.Dict{}, "callee": wamp.Dict{}, "publisher": wamp.Dict{}, "subscriber": wamp.Dict{}}}})
	w, ok := s.recv().(*wamp.Welcome)
	if !ok {
		s.t.Fatal("no WELCOME")
	}
	s.id = w.Session
}

func (s *rsSession) request() wamp.ID { s.next++; return s.next }

// call calls procedure and returns the RESULT or ERROR.
func (s *rsSession) call(procedure string, args ...any) wamp.Message {
	s.t.Helper()
	s.send(&wamp.Call{Request: s.request(), Options: wamp.Dict{}, Procedure: wamp.URI(procedure), Payload: wamp.Values(args, nil)})
	return s.recv()
}

func tcp(addr string) rawsocket.Endpoint { return rawsocket.Endpoint{Network: "tcp", Address: addr} }

// TestRawSocketSharedPort joins over RawSocket on the WebSocket port, with
// each serializer, beside a WebSocket session on the same port, and reads
// the transport in the session meta API.
func TestRawSocketSharedPort(t *testing.T) {
	addr := routertest.Serve(t, server.Config{})
	ws := routertest.Connect(t, "ws://"+addr+"/ws", clientlib.Options{})
	for _, ser := range []string{"json", "msgpack", "cbor"} {
		s := dialRS(t, tcp(addr), ser, 0)
		s.join("realm1")
		res, ok := s.call("wamp.session.get", uint64(s.id)).(*wamp.Result)
		if !ok {
			t.Fatalf("%s: wamp.session.get failed", ser)
		}
		args, _, _ := serializers.DecodePayload(&res.Payload)
		tr := args[0].(map[string]any)["transport"].(map[string]any)
		if tr["type"] != "rawsocket" || tr["protocol"] != "wamp.2."+ser || !strings.HasPrefix(tr["peer"].(string), "127.0.0.1:") {
			t.Fatalf("%s: transport %v", ser, tr)
		}
		// The WebSocket session sees it so too.
		wres, err := ws.Call(routertest.Context(t), "wamp.session.get", []any{uint64(s.id)}, nil, nil)
		if err != nil || wres.Args[0].(map[string]any)["transport"].(map[string]any)["type"] != "rawsocket" {
			t.Fatalf("from WebSocket: %v %v", wres, err)
		}
	}
	// HTTP on the same port is unaffected.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok\n" {
		t.Fatalf("healthz: %q", body)
	}
}

// TestRawSocketNotShared: with the port not shared, a RawSocket handshake
// on it is not answered as one.
func TestRawSocketNotShared(t *testing.T) {
	addr := routertest.Serve(t, server.Config{ReadHeaderTimeout: 100 * time.Millisecond, RawSocket: server.RawSocketConfig{NotShared: true}})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if c, err := rawsocket.Dial(ctx, tcp(addr), rawsocket.SerializerJSON, 0, nil); err == nil {
		c.Close()
		t.Fatal("RawSocket handshake answered on a port not shared")
	}
}

// TestRawSocketListeners serves RawSocket on a TCP listener and a Unix
// socket of its own, and routes between them and WebSocket.
func TestRawSocketListeners(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "junction.sock")
	t.Cleanup(func() { // after the server's end (cleanups run last first)
		if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket file left after shutdown: %v", err)
		}
	})
	a := routertest.ServeAll(t, server.Config{RawSocket: server.RawSocketConfig{Listen: "127.0.0.1:0", Unix: sock, UnixMode: 0o600}})
	wsAddr, tcpAddr := a.HTTP, a.RawSocketTCP
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket file: %v %v", fi, err)
	}

	callee := dialRS(t, rawsocket.Endpoint{Network: "unix", Address: sock}, "cbor", 0)
	callee.join("realm1")
	callee.send(&wamp.Register{Request: callee.request(), Options: wamp.Dict{}, Procedure: "com.example.add"})
	if _, ok := callee.recv().(*wamp.Registered); !ok {
		t.Fatal("not registered")
	}
	go func() { // answer one call: WebSocket json caller, Unix cbor callee
		inv, ok := callee.recv().(*wamp.Invocation)
		if !ok {
			return
		}
		args, _, _ := serializers.DecodePayload(&inv.Payload)
		callee.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.Values([]any{args[0].(uint64) + args[1].(uint64)}, nil)})
	}()
	ws := routertest.Connect(t, "ws://"+wsAddr+"/ws", clientlib.Options{})
	res, err := ws.Call(routertest.Context(t), "com.example.add", []any{2, 3}, nil, nil)
	if n, _ := wamp.AsInt(res.Args[0]); err != nil || n != 5 {
		t.Fatalf("call to the Unix callee: %v %v", res, err)
	}

	caller := dialRS(t, tcp(tcpAddr), "msgpack", 0)
	caller.join("realm1")
	res2, ok := caller.call("wamp.session.get", uint64(callee.id)).(*wamp.Result)
	if !ok {
		t.Fatal("wamp.session.get failed")
	}
	args, _, _ := serializers.DecodePayload(&res2.Payload)
	peer, _ := args[0].(map[string]any)["transport"].(map[string]any)["peer"].(string)
	if !strings.HasPrefix(peer, "unix:pid=") {
		t.Fatalf("Unix session's peer: %q", peer)
	}
}

// TestRawSocketUnixInUse: a socket another process listens on is not taken
// over; a stale one is replaced.
func TestRawSocketUnixInUse(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "j.sock")
	routertest.Serve(t, server.Config{RawSocket: server.RawSocketConfig{Unix: sock}})
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", RawSocket: server.RawSocketConfig{Unix: sock}}, server.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.ListenAndServe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "another process listens") {
		t.Fatalf("second server on the socket: %v", err)
	}
}

// TestRawSocketTooLargeForClient: a client announcing a small maximum is
// never sent more; the sender of what it cannot take gets
// wamp.error.payload_size_exceeded, and the client's session goes on.
func TestRawSocketTooLargeForClient(t *testing.T) {
	addr := routertest.Serve(t, server.Config{})
	small := dialRS(t, tcp(addr), "json", 1024)
	small.join("realm1")
	ws := routertest.Connect(t, "ws://"+addr+"/ws", clientlib.Options{})
	ctx := routertest.Context(t)
	big := strings.Repeat("x", 2000)

	// As a callee: the INVOCATION is too large for it.
	small.send(&wamp.Register{Request: small.request(), Options: wamp.Dict{}, Procedure: "com.example.echo"})
	if _, ok := small.recv().(*wamp.Registered); !ok {
		t.Fatal("not registered")
	}
	_, err := ws.Call(ctx, "com.example.echo", []any{big}, nil, nil)
	var rerr *wamp.RPCError
	if !errors.As(err, &rerr) || rerr.URI != wamp.ErrPayloadSizeExceeded {
		t.Fatalf("call with arguments too large for the callee: %v", err)
	}
	// As a caller: the RESULT is too large for it.
	if _, err := ws.Register(ctx, "com.example.big", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{big}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if e, ok := small.call("com.example.big").(*wamp.Error); !ok || e.Error != wamp.ErrPayloadSizeExceeded {
		t.Fatalf("RESULT too large for the caller: %#v", e)
	}
	// As a subscriber: an acknowledged publisher hears of it.
	small.send(&wamp.Subscribe{Request: small.request(), Options: wamp.Dict{}, Topic: "com.example.news"})
	if _, ok := small.recv().(*wamp.Subscribed); !ok {
		t.Fatal("not subscribed")
	}
	err = ws.Publish(ctx, "com.example.news", []any{big}, nil, &clientlib.PublishOptions{Acknowledge: true})
	if !errors.As(err, &rerr) || rerr.URI != wamp.ErrPayloadSizeExceeded {
		t.Fatalf("acknowledged publication too large for a subscriber: %v", err)
	}
	// And it is still served.
	if err := ws.Publish(ctx, "com.example.news", []any{"small"}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	if ev, ok := small.recv().(*wamp.Event); !ok {
		t.Fatalf("small event: %#v", ev)
	}
}

// TestRawSocketMetrics: the transport is a label of the sessions and of
// the transport's series, and messages too large for a client are counted.
func TestRawSocketMetrics(t *testing.T) {
	addr := routertest.Serve(t, server.Config{})
	rs := dialRS(t, tcp(addr), "msgpack", 1024)
	rs.join("realm1")
	routertest.Connect(t, "ws://"+addr+"/ws", clientlib.Options{})
	rs.send(&wamp.Subscribe{Request: rs.request(), Options: wamp.Dict{}, Topic: "t"})
	rs.recv()
	pub := dialRS(t, tcp(addr), "json", 0)
	pub.join("realm1")
	pub.send(&wamp.Publish{Request: pub.request(), Options: wamp.Dict{"acknowledge": true}, Topic: "t",
		Payload: wamp.Values([]any{strings.Repeat("x", 2000)}, nil)})
	if e, ok := pub.recv().(*wamp.Error); !ok || e.Error != wamp.ErrPayloadSizeExceeded {
		t.Fatalf("publish: %#v", e)
	}
	got := scrape(t, "http://"+addr+"/metrics")
	for sample, want := range map[string]float64{
		`junction_sessions{realm="realm1",serializer="msgpack",transport="rawsocket"}`: 1,
		`junction_sessions{realm="realm1",serializer="json",transport="rawsocket"}`:    1,
		`junction_sessions{realm="realm1",serializer="json",transport="websocket"}`:    1,
		`junction_connections{transport="rawsocket"}`:                                  2,
		`junction_connections{transport="websocket"}`:                                  1,
		`junction_handshakes_accepted_total{transport="rawsocket"}`:                    2,
		`junction_messages_too_large_total`:                                            1,
	} {
		if got[sample] != want {
			t.Errorf("%s = %v, want %v", sample, got[sample], want)
		}
	}
	if got[`junction_received_bytes_total{transport="rawsocket"}`] <= 0 {
		t.Error("no RawSocket bytes in")
	}
}

// TestPartialWebSocketConfig: a WebSocket config that sets only a limit
// serves at the default path (its empty Path made Serve panic).
func TestPartialWebSocketConfig(t *testing.T) {
	addr := routertest.Serve(t, server.Config{WebSocket: websocket.Config{QueueMessages: 100}})
	routertest.Connect(t, "ws://"+addr+"/ws", clientlib.Options{})
}

// TestNbioGivesConnectionSlotsBack: on the nbio engine a RawSocket or
// WebSocket session's connection, moved to the engine after its
// handshake, gives its server.max_connections_per_address slot back when
// it ends: with 2 slots, 6 sessions of each one after the other each join
// (a new one is tried until the last one's slot is back). Without closing
// the listener's connection when nbio's closes, the third was refused
// forever (both transports failed so before).
func TestNbioGivesConnectionSlotsBack(t *testing.T) {
	addr := routertest.Serve(t, server.Config{
		WebSocket:   websocket.Config{Engine: websocket.EngineNbio},
		Connections: transport.ListenerLimits{ConnectionsPerAddress: 2},
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	id, _ := rawsocket.SerializerID("json")
	for i := range 6 {
		var c *rawsocket.Conn
		routertest.WaitUntil(t, fmt.Sprintf("session %d accepted", i), func() bool {
			var err error
			c, err = rawsocket.Dial(ctx, tcp(addr), id, 0, nil)
			return err == nil
		})
		_ = c.NetConn().SetDeadline(time.Now().Add(testTimeout))
		ser, _ := serializers.ByName("json")
		s := &rsSession{t: t, c: c, ser: ser}
		s.join("realm1")
		c.Close()
	}
	// WebSocket on the engine too.
	for i := range 6 {
		var c *clientlib.Client
		routertest.WaitUntil(t, fmt.Sprintf("WebSocket session %d accepted", i), func() bool {
			var err error
			c, err = clientlib.Connect(ctx, "ws://"+addr+"/ws", "realm1", clientlib.Options{})
			return err == nil
		})
		_ = c.Close(ctx)
	}
}
