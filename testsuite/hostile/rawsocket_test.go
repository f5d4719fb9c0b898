package hostile

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
)

// rsPrompt bounds what the router answers at once (a refused handshake, a
// bad frame): milliseconds on an idle machine, seconds on a loaded one; a
// timeout of the router's (handshake_timeout and the like, at their
// defaults) would be over it.
const rsPrompt = 5 * time.Second

// rsConfig is the config of a process serving RawSocket on the WebSocket
// port (shared), on a TCP listener of its own and on the Unix socket sock,
// with the [rawsocket] keys rs and then the sections of more.
func rsConfig(sock, rs, more string) string {
	return fmt.Sprintf("[rawsocket]\nlisten = \"127.0.0.1:0\"\nunix = %q\n%s\n%s", sock, rs, more)
}

// rsEndpoints are the three places j serves RawSocket.
func rsEndpoints(t *testing.T, j *Junction, sock string) []RSEndpoint {
	return []RSEndpoint{j.SharedRS(), j.RSListener(t), {"unix", sock}}
}

// rsBystanders are a WebSocket and a RawSocket bystander.
type rsBystanders struct {
	ws *Bystander
	rs *RSBystander
}

func newRSBystanders(t *testing.T, j *Junction) rsBystanders {
	t.Helper()
	return rsBystanders{NewBystander(t, j.URL(), "realm1", clientlib.Options{}), NewRSBystander(t, j.SharedRS(), "realm1")}
}

func (b rsBystanders) Check(t *testing.T) {
	t.Helper()
	b.ws.Check(t)
	b.rs.Check(t)
}

// TestRawSocketHandshakeRefused: on the shared port, the TCP listener and
// the Unix socket, handshakes with reserved bits set, the illegal
// serializer 0, serializers the router does not serve (CBOR, disabled
// here; UBJSON, FlatBuffers, reserved ids) and maximum lengths under
// rawsocket.min_client_message_size (4 KiB here) get the spec's error reply
// and the connection closed at once, each logged with the client's
// address. A first octet that is not 0x7F is closed without a reply on
// RawSocket's own listeners, and is HTTP on the shared port (400). A
// client announcing exactly the minimum joins.
func TestRawSocketHandshakeRefused(t *testing.T) {
	t.Parallel()
	sock := UnixSocketPath(t)
	j := start(t, rsConfig(sock, `serializers = ["json", "msgpack"]
min_client_message_size = "4KiB"`, "[log]\nlimit_warning_interval = \"1ns\"\n"))
	b := newRSBystanders(t, j)
	cases := []struct {
		name  string
		req   []byte
		reply byte
	}{
		{"reserved third octet", []byte{RSMagic, 0xF1, 0x01, 0}, RSErrReserved},
		{"reserved fourth octet", []byte{RSMagic, 0xF1, 0, 0x80}, RSErrReserved},
		{"illegal serializer 0", RSHandshake(0, 15), RSErrSerializer},
		{"cbor, not enabled", RSHandshake(3, 15), RSErrSerializer},
		{"ubjson", RSHandshake(4, 15), RSErrSerializer},
		{"flatbuffers", RSHandshake(5, 15), RSErrSerializer},
		{"reserved serializer 15", RSHandshake(15, 15), RSErrSerializer},
		{"512 octets", RSHandshake(1, 0), RSErrLength},
		{"2 KiB", RSHandshake(2, 2), RSErrLength},
	}
	for _, e := range rsEndpoints(t, j, sock) {
		for _, tc := range cases {
			c := DialRS(t, e, RSDialOptions{})
			begin := time.Now()
			c.MustWrite(t, tc.req)
			got, closed, err := c.ReadToEOF(64)
			if !closed || !bytes.Equal(got, RSErrorReply(tc.reply)) {
				t.Errorf("%s, %s: % x: got % x (closed %v, %v), want % x and the connection closed", e, tc.name, tc.req, got, closed, err, RSErrorReply(tc.reply))
			} else if d := time.Since(begin); d > rsPrompt {
				t.Errorf("%s, %s: answered and closed after %s", e, tc.name, d)
			}
			_ = c.Close() // the router logs the refusal once the client is gone
			j.CheckLogged(t, "rawsocket handshake refused", c.Remote())
		}
		c := DialRS(t, e, RSDialOptions{})
		if e == j.SharedRS() {
			c.MustWrite(t, []byte("\x00\x01\x02\x03\r\n\r\n"))
			if got, closed, _ := c.ReadToEOF(4096); !closed || !bytes.HasPrefix(got, []byte("HTTP/1.1 400 ")) {
				t.Errorf("%s, wrong magic: %q (closed %v), want HTTP 400 and the connection closed", e, clip(string(got), 200), closed)
			}
		} else {
			c.MustWrite(t, []byte("GET / HTTP/1.1\r\n\r\n"))
			if got, closed, err := c.ReadToEOF(64); !closed || len(got) != 0 {
				t.Errorf("%s, wrong magic: got % x (closed %v, %v), want the connection closed without a reply", e, got, closed, err)
			}
			_ = c.Close()
			j.CheckLogged(t, "rawsocket handshake refused", c.Remote())
		}
		ok := DialRS(t, e, RSDialOptions{})
		ok.Open(t, MsgPack, 3) // 4 KiB, the minimum
		ok.Join(t, "realm1")
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestRawSocketHandshakeStalled: clients that send 0 to 3 octets of a
// handshake (or one octet that is not the magic) and then nothing, 30 of
// each kind on each of the shared port, the TCP listener and the Unix
// socket: each is closed without a reply within handshake_timeout (1s
// here; read_header_timeout on the shared port for the client that sends
// nothing, as HTTP is), and logged with its address.
func TestRawSocketHandshakeStalled(t *testing.T) {
	t.Parallel()
	sock := UnixSocketPath(t)
	const timeout = time.Second
	j := start(t, rsConfig(sock, `handshake_timeout = "1s"`, `
[server]
read_header_timeout = "1s"
[log]
limit_warning_interval = "1ns"
`))
	b := newRSBystanders(t, j)
	type stalled struct {
		c     *RSConn
		sent  []byte
		begin time.Time
	}
	var all []stalled
	for _, e := range rsEndpoints(t, j, sock) {
		for _, sent := range [][]byte{nil, {RSMagic}, {RSMagic, 0xF1}, {RSMagic, 0xF1, 0}, {'G'}} {
			if sent != nil && sent[0] == 'G' && e == j.SharedRS() {
				continue // HTTP
			}
			for range 30 {
				c := DialRS(t, e, RSDialOptions{})
				c.MustWrite(t, sent)
				all = append(all, stalled{c, sent, time.Now()})
			}
		}
	}
	for _, s := range all {
		got, closed, err := s.c.ReadToEOF(64)
		d := time.Since(s.begin)
		switch {
		case !closed || len(got) != 0:
			t.Fatalf("%s after % x: got % x (closed %v, %v), want the connection closed without a reply", s.c.RemoteAddr(), s.sent, got, closed, err)
		case d > timeout+rsPrompt:
			t.Errorf("%s after % x: closed %s later, over handshake_timeout (%s)", s.c.RemoteAddr(), s.sent, d, timeout)
		}
	}
	logged := map[string][]string{} // by endpoint: refusals lines held back at once are not logged
	for _, s := range all {
		if len(s.sent) > 0 {
			logged[s.c.RemoteAddr().String()] = append(logged[s.c.RemoteAddr().String()], s.c.Remote())
		}
	}
	for e, remotes := range logged {
		if len(remotes) == 0 {
			t.Fatalf("%s: no stalled handshakes", e)
		}
		j.CheckLogged(t, "rawsocket handshake refused", remotes[0], remotes[1:]...)
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestRawSocketConnectionLimit: with server.max_connections_per_address =
// 40 and max_connections = 60, one address opens 40 connections to the
// RawSocket listener that never send a handshake; the next ones from that
// address are answered "maximum connection count reached" (7F 40 00 00)
// and closed on that listener, closed at once on the shared port (where
// they may be HTTP), and the refusal is logged with the address and
// counted. Unix socket connections count against max_connections: past it
// they get the same answer. The stalled connections are closed after
// handshake_timeout (2s), and their address connects again.
func TestRawSocketConnectionLimit(t *testing.T) {
	t.Parallel()
	sock := UnixSocketPath(t)
	const timeout = 2 * time.Second
	j := start(t, rsConfig(sock, `handshake_timeout = "2s"`, `
[server]
max_connections = 60
max_connections_per_address = 40
[log]
limit_warning_interval = "1ns"
`))
	b := newRSBystanders(t, j) // 2 connections from 127.0.0.2
	listener := j.RSListener(t)
	begin := time.Now()
	var held []*RSConn
	for range 40 {
		held = append(held, DialRS(t, listener, RSDialOptions{}))
	}
	for i := range 10 {
		c := DialRS(t, listener, RSDialOptions{})
		if i%2 == 1 {
			_ = c.WriteBytes(RSHandshake(1, 15)) // read and discarded by the router
		}
		if got, closed, err := c.ReadToEOF(64); !closed || !bytes.Equal(got, RSErrorReply(RSErrConnLimit)) {
			t.Fatalf("connection %d past max_connections_per_address: % x (closed %v, %v), want % x and the connection closed", 41+i, got, closed, err, RSErrorReply(RSErrConnLimit))
		}
		if i == 0 {
			j.CheckLogged(t, "limit reached, connection closed", c.Remote())
		}
	}
	shared := DialRS(t, j.SharedRS(), RSDialOptions{})
	_ = shared.WriteBytes(RSHandshake(1, 15))
	if got, closed, err := shared.ReadToEOF(64); !closed || len(got) != 0 {
		t.Fatalf("shared port past max_connections_per_address: % x (closed %v, %v), want the connection closed", got, closed, err)
	}
	// The Unix socket: 60 in all, 2 bystanders and 40 TCP connections open.
	for range 18 {
		held = append(held, DialRS(t, RSEndpoint{"unix", sock}, RSDialOptions{}))
	}
	c := DialRS(t, RSEndpoint{"unix", sock}, RSDialOptions{})
	if got, closed, err := c.ReadToEOF(64); !closed || !bytes.Equal(got, RSErrorReply(RSErrConnLimit)) {
		t.Fatalf("Unix socket connection past max_connections: % x (closed %v, %v), want % x", got, closed, err, RSErrorReply(RSErrConnLimit))
	}
	// The refusal is logged with the client's process, as the rest of
	// RawSocket names it (transport.Limiter logged "remote=@" before).
	j.CheckLogged(t, "limit reached, connection closed", c.Remote())
	for i, c := range held {
		if got, closed, err := c.ReadToEOF(64); !closed || len(got) != 0 {
			t.Fatalf("stalled connection %d: % x (closed %v, %v), want it closed without a reply", i, got, closed, err)
		}
	}
	if d := time.Since(begin); d > timeout+rsPrompt {
		t.Errorf("stalled connections closed %s after they opened, over handshake_timeout (%s)", d, timeout)
	}
	Poll(t, "the stalled connections' slots given back", func() bool {
		v, _ := j.Metric(t, "junction_tcp_connections ")
		return v <= 3 // the bystanders, and the scrape
	})
	again := DialRS(t, listener, RSDialOptions{})
	again.Open(t, JSON, 15)
	again.Join(t, "realm1")
	j.CheckLimitCounted(t, "server.max_connections_per_address")
	j.CheckLimitCounted(t, "server.max_connections")
	b.Check(t)
	j.CheckRSS(t, 64)
}

// parallel runs f(i) for i in 0..n-1 on n goroutines and waits for them.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

// rsHello is a HELLO for realm1 of exactly n octets in JSON.
func rsHello(n int) []byte {
	head, tail := `[1,"realm1",{"roles":{"caller":{}},"pad":"`, `"}]`
	return []byte(head + string(bytes.Repeat([]byte("p"), n-len(head)-len(tail))) + tail)
}

// rsPublish is an acknowledged PUBLISH of request 1 to app.big of exactly
// n octets in JSON.
func rsPublish(n int) []byte {
	head, tail := `[16,1,{"acknowledge":true},"app.big",["`, `"]]`
	return []byte(head + string(bytes.Repeat([]byte("b"), n-len(head)-len(tail))) + tail)
}

// TestRawSocketOversizedFrames: with rawsocket.max_message_size = 1MiB
// (announced in the handshake reply), on the shared port, the TCP listener
// and the Unix socket: a frame declaring one octet over the handshake
// limit (64 KiB) before HELLO, one declaring max_message_size + 1 or 16
// MiB after WELCOME (the prefix alone, or with all its octets following),
// end the session at once, with ABORT wamp.error.protocol_violation then
// the close, and a log line with the client's address; a HELLO of exactly
// 64 KiB joins and a PUBLISH of exactly 1 MiB is published.
func TestRawSocketOversizedFrames(t *testing.T) {
	t.Parallel()
	sock := UnixSocketPath(t)
	j := start(t, rsConfig(sock, `max_message_size = "1MiB"`, "[log]\nlimit_warning_interval = \"1ns\"\n"))
	b := newRSBystanders(t, j)
	const handshakeLimit, limit = 64 << 10, 1 << 20
	for _, e := range rsEndpoints(t, j, sock) {
		c := DialRS(t, e, RSDialOptions{})
		if got := c.Open(t, JSON, 15); got != limit {
			t.Fatalf("%s: the router announces %d octets, want max_message_size (1 MiB)", e, got)
		}
		c.MustWrite(t, RSFrame(RSMessage, rsHello(handshakeLimit)))
		c.Expect(t, WELCOME)
		c.MustWrite(t, RSFrame(RSMessage, rsPublish(limit)))
		c.Expect(t, PUBLISHED)

		for _, tc := range []struct {
			name   string
			joined bool
			frame  []byte
		}{
			{"64 KiB + 1 before HELLO, prefix only", false, RSPrefix(RSMessage, handshakeLimit+1)},
			{"64 KiB + 1 before HELLO", false, RSFrame(RSMessage, rsHello(handshakeLimit+1))},
			{"16 MiB PING before HELLO", false, RSPrefix(RSPing, RSMaxLength)},
			{"1 MiB + 1, prefix only", true, RSPrefix(RSMessage, limit+1)},
			{"1 MiB + 1", true, RSFrame(RSMessage, rsPublish(limit+1))},
			{"1 MiB + 1 PING", true, RSFrame(RSPing, make([]byte, limit+1))},
			{"16 MiB", true, RSPrefix(RSMessage, RSMaxLength)},
		} {
			c := DialRS(t, e, RSDialOptions{})
			c.Open(t, JSON, 15)
			if tc.joined {
				c.Join(t, "realm1")
			}
			begin := time.Now()
			go func() { _ = c.WriteBytes(tc.frame) }() // the router may close before it has read it all
			c.ExpectAbortClose(t, "wamp.error.protocol_violation")
			if d := time.Since(begin); d > rsPrompt {
				t.Errorf("%s, %s: closed after %s", e, tc.name, d)
			}
			j.CheckLogged(t, "bad input, closing session", c.Remote())
		}
	}
	b.Check(t)
	j.CheckRSS(t, 64) // 29 MiB measured: no frame is allocated at its declared length
}

// TestRawSocketBadPrefix: frame prefixes the spec forbids, before HELLO
// and after WELCOME, on the shared port and the Unix socket: reserved bits
// (RRRR), reserved types 3 to 7, the 25th length bit with other length
// bits. Each ends the session at once with ABORT
// wamp.error.protocol_violation and the close, logged with the client's
// address.
func TestRawSocketBadPrefix(t *testing.T) {
	t.Parallel()
	sock := UnixSocketPath(t)
	j := start(t, rsConfig(sock, "", "[log]\nlimit_warning_interval = \"1ns\"\n"))
	b := newRSBystanders(t, j)
	var prefixes [][]byte
	for r := byte(1); r < 16; r <<= 1 {
		prefixes = append(prefixes, []byte{r << 4, 0, 0, 2})
	}
	for typ := byte(3); typ < 8; typ++ {
		prefixes = append(prefixes, []byte{typ, 0, 0, 2})
	}
	prefixes = append(prefixes, []byte{0x08, 0, 0, 2}, []byte{0x09, 0x80, 0, 0}, []byte{0xFF, 0xFF, 0xFF, 0xFF})
	for _, e := range []RSEndpoint{j.SharedRS(), {"unix", sock}} {
		for _, joined := range []bool{false, true} {
			for _, p := range prefixes {
				c := DialRS(t, e, RSDialOptions{})
				c.Open(t, JSON, 15)
				if joined {
					c.Join(t, "realm1")
				}
				begin := time.Now()
				c.MustWrite(t, append(p, "[]"...))
				c.ExpectAbortClose(t, "wamp.error.protocol_violation")
				if d := time.Since(begin); d > rsPrompt {
					t.Errorf("%s, prefix % x (joined %v): closed after %s", e, p, joined, d)
				}
				j.CheckLogged(t, "bad input, closing session", c.Remote())
			}
		}
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestRawSocketStalledFrames: clients that send a frame's prefix and a
// few of its octets, then nothing. 100 before HELLO, declaring 64 KiB (the
// handshake limit), are closed by hello_timeout (1s): ABORT and the
// close. 300 established sessions on the shared port and 100 on the Unix
// socket, declaring 16 MiB with 100 octets sent, are closed by the
// keepalive (rawsocket.ping_interval and pong_timeout 1s, which is off by default): the router does not hold
// 16 MiB for each (peak RSS bound), and the closes are logged with the
// clients' addresses and why.
func TestRawSocketStalledFrames(t *testing.T) {
	t.Parallel()
	sock := UnixSocketPath(t)
	j := start(t, rsConfig(sock, `ping_interval = "1s"
pong_timeout = "1s"`, `
[router]
hello_timeout = "2s"
[websocket]
write_timeout = "1s"
`))
	b := newRSBystanders(t, j)
	// hello_timeout is 2 s, not 1: the 400 connections that join must each
	// have their HELLO read within it, which a loaded CI machine under
	// -race once did not do within 1 s.
	const bound = 2*time.Second + 1*time.Second + 1500*time.Millisecond // the keepalive, or hello_timeout and write_timeout
	type stalled struct {
		c      *RSConn
		joined bool
	}
	var all []stalled
	for i := range 500 {
		e, joined := j.SharedRS(), i >= 100
		if i >= 400 {
			e = RSEndpoint{"unix", sock}
		}
		c := DialRS(t, e, RSDialOptions{})
		c.Open(t, JSON, 15)
		if joined {
			c.Join(t, "realm1")
			c.MustWrite(t, append(RSPrefix(RSMessage, RSMaxLength), bytes.Repeat([]byte("x"), 100)...))
		} else {
			c.MustWrite(t, append(RSPrefix(RSMessage, 64<<10), `[1,"realm1",{}`...))
		}
		all = append(all, stalled{c, joined})
	}
	begin := time.Now()
	for i, s := range all {
		if err := DrainRS(s.c); err != nil {
			t.Fatalf("stalled connection %d (joined %v): %v", i, s.joined, err)
		}
	}
	if d := time.Since(begin); d > bound+rsPrompt {
		t.Errorf("stalled connections closed within %s, want %s", d, bound)
	}
	j.CheckLogged(t, "no HELLO in time", all[0].c.Remote())
	// The session's end says why: the router closed it, the client did not.
	j.CheckLogged(t, "after a PING", all[100].c.Remote())
	j.CheckLogged(t, "after a PING", all[400].c.Remote())
	b.Check(t)
	j.CheckRSS(t, 64) // 30 MiB measured; 16 MiB per stalled frame would be 6 GiB
}

// TestRawSocketPingFlood: 20,000 PINGs of an established session, in
// bursts of 1,000 written at once: each is answered by exactly one PONG
// echoing its payload, in order (the spec: "exactly one PONG
// immediately"); 10 PINGs before HELLO and 100 of 64 KiB too. The session
// still works, the router's memory stays bounded.
func TestRawSocketPingFlood(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := newRSBystanders(t, j)
	c := DialRS(t, j.SharedRS(), RSDialOptions{})
	c.Open(t, JSON, 15)
	pings := func(from, n, size int) {
		var out []byte
		for i := from; i < from+n; i++ {
			p := fmt.Appendf(nil, "%08d", i)
			out = append(out, RSFrame(RSPing, append(p, bytes.Repeat([]byte("p"), size-len(p))...))...)
		}
		c.MustWrite(t, out)
		for i := from; i < from+n; i++ {
			typ, data, err := c.ReadFrame()
			if err != nil || typ != RSPong || len(data) != size || string(data[:8]) != fmt.Sprintf("%08d", i) {
				t.Fatalf("PING %d: type %d, %d octets %q, %v; want its PONG", i, typ, len(data), clip(string(data), 16), err)
			}
		}
	}
	pings(0, 10, 8)
	c.Join(t, "realm1")
	for burst := range 20 {
		pings(burst*1000, 1000, 16)
	}
	pings(0, 100, 64<<10)
	c.Send(t, CALL, 1, map[string]any{}, "wamp.session.count", []any{})
	c.Expect(t, RESULT)
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestRawSocketPingFloodUnread: 10 established sessions (SO_RCVBUF 4 KiB)
// send PINGs of 256 KiB without ever reading their PONGs. The router
// answers them until the client's socket is full, then cuts each client
// as a slow consumer within write_timeout (1s here) of its write
// stalling: the clients' writes fail soon, it is logged with the address
// and counted, and the router's memory stays bounded.
func TestRawSocketPingFloodUnread(t *testing.T) {
	t.Parallel()
	j := start(t, "[websocket]\nwrite_timeout = \"1s\"\n")
	b := newRSBystanders(t, j)
	ping := RSFrame(RSPing, bytes.Repeat([]byte("p"), 256<<10))
	const n = 10
	conns := make([]*RSConn, n)
	for i := range conns {
		conns[i] = DialRS(t, j.SharedRS(), RSDialOptions{RecvBuffer: 4096})
		conns[i].Open(t, JSON, 15)
		conns[i].Join(t, "realm1")
	}
	begin := time.Now()
	parallel(n, func(i int) {
		for k := 0; k < 10000; k++ { // 2.5 GiB: far more than the sockets hold
			if err := conns[i].WriteBytes(ping); err != nil {
				if !closedErr(err) {
					t.Errorf("client %d: PING %d: %v, want the connection closed by the router", i, k, err)
				}
				return
			}
		}
		t.Errorf("client %d: 10,000 PINGs written, none read, still connected", i)
	})
	if d := time.Since(begin); d > 1500*time.Millisecond+rsPrompt {
		t.Errorf("clients cut after %s, want write_timeout (1s, 1.5s at most) after their socket filled", d)
	}
	j.CheckLogged(t, "disconnecting slow consumer", conns[0].Remote(), remotes(conns[1:])...)
	Poll(t, "10 slow consumers counted", func() bool {
		v, _ := j.Metric(t, `junction_slow_consumer_disconnects_total{transport="rawsocket"}`)
		return v == n
	})
	b.Check(t)
	j.CheckRSS(t, 96) // 40 MiB measured: a PING of 256 KiB held by each until it is cut
}

func remotes(conns []*RSConn) []string {
	var out []string
	for _, c := range conns {
		out = append(out, c.Remote())
	}
	return out
}

// TestRawSocketSmallClient: a RawSocket client announcing 1 KiB (the
// default min_client_message_size) subscribes to a topic and registers a
// procedure, and is never sent a frame over 1 KiB (RSConn.ReadFrame checks
// every one): an acknowledged publication of 2 KiB from WebSocket or
// RawSocket gets ERROR wamp.error.payload_size_exceeded, 2,000
// unacknowledged ones are not sent (the next event it reads is the small
// marker after them), a call of its procedure with 2 KiB of arguments and
// its call of one answering 2 KiB get that ERROR; its session goes on,
// each is logged with an address, the router's memory stays bounded. A
// PING larger than the client accepts back ends its session.
func TestRawSocketSmallClient(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := newRSBystanders(t, j)
	small := DialRS(t, j.SharedRS(), RSDialOptions{})
	small.Open(t, JSON, 1)
	small.Join(t, "realm1")
	small.Send(t, SUBSCRIBE, 1, map[string]any{}, "small.news")
	small.Expect(t, SUBSCRIBED)
	small.Send(t, REGISTER, 2, map[string]any{}, "small.echo")
	small.Expect(t, REGISTERED)
	big := string(bytes.Repeat([]byte("z"), 2<<10))
	ws := b.ws.Client()
	ctx := Ctx(t)

	if err := ws.Publish(ctx, "small.news", []any{big}, nil, &clientlib.PublishOptions{Acknowledge: true}); !isRPCError(err, "wamp.error.payload_size_exceeded") {
		t.Errorf("acknowledged WebSocket publication of 2 KiB to a 1 KiB subscriber: %v, want ERROR wamp.error.payload_size_exceeded", err)
	}
	pub := DialRS(t, j.SharedRS(), RSDialOptions{})
	pub.Open(t, MsgPack, 15)
	pub.Join(t, "realm1")
	pub.Send(t, PUBLISH, 1, map[string]any{"acknowledge": true}, "small.news", []any{big})
	if m := pub.Recv(t); m.Type() != ERROR || m.Reason() != "wamp.error.payload_size_exceeded" {
		t.Errorf("acknowledged RawSocket publication of 2 KiB to a 1 KiB subscriber: %v, want ERROR wamp.error.payload_size_exceeded", clipMsg(m))
	}
	for i := range 2000 {
		if err := ws.Publish(ctx, "small.news", []any{i, big}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	publishMarker(t, ws, "small.news")
	if ev := small.Expect(t, EVENT); fmt.Sprint(ev.Args(4)) != "[marker]" {
		t.Fatalf("1 KiB subscriber: %v, want the marker event", clipMsg(ev))
	}
	j.CheckLogged(t, "publication not delivered to subscribers that cannot take it", pub.Remote())

	done := make(chan error, 1)
	go func() { _, err := ws.Call(ctx, "small.echo", []any{big}, nil, nil); done <- err }()
	if err := <-done; !isRPCError(err, "wamp.error.payload_size_exceeded") {
		t.Errorf("call with 2 KiB of arguments to a 1 KiB callee: %v, want ERROR wamp.error.payload_size_exceeded", err)
	}
	if _, err := ws.Register(ctx, "big.answer", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{big}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	small.Send(t, CALL, 3, map[string]any{}, "big.answer", []any{})
	if m := small.Recv(t); m.Type() != ERROR || m.ID(2) != 3 || m.Reason() != "wamp.error.payload_size_exceeded" {
		t.Errorf("1 KiB caller of a 2 KiB RESULT: %v, want ERROR wamp.error.payload_size_exceeded", clipMsg(m))
	}
	j.CheckLogged(t, "message larger than this session's transport accepts", small.Remote())
	small.Send(t, CALL, 4, map[string]any{}, "wamp.session.count", []any{})
	small.Expect(t, RESULT)

	small.MustWrite(t, RSFrame(RSPing, make([]byte, 2<<10)))
	small.ExpectAbortClose(t, "wamp.error.protocol_violation")
	j.CheckLogged(t, "bad input, closing session", small.Remote())
	if v, _ := j.Metric(t, "junction_messages_too_large_total "); v < 2003 {
		t.Errorf("junction_messages_too_large_total %v, want at least the 2,003 messages not sent", v)
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestRawSocketSmallClientRouterError: a client announcing 1 KiB calls a
// procedure nobody registered, named by a URI of 1,000 octets (under
// router.max_uri_length). The router's ERROR wamp.error.no_such_procedure
// quotes the URI: 1,086 octets, more than the client accepts, so the
// transport refuses it (rightly); the router must then answer with an
// ERROR that fits (its URI, without the message), or the call is never
// answered (it was not, before router.sendError fell back).
func TestRawSocketSmallClientRouterError(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	small := DialRS(t, j.SharedRS(), RSDialOptions{})
	small.Open(t, JSON, 1)
	small.Join(t, "realm1")
	small.Send(t, CALL, 1, map[string]any{}, "app."+strings.Repeat("p", 1000), []any{})
	if m := small.Recv(t); m.Type() != ERROR || m.ID(2) != 1 {
		t.Fatalf("call of an unregistered procedure with a long URI: %v, want an ERROR", clipMsg(m))
	}
}

// TestRawSocketPingsInsteadOfHello: a client that sends PINGs without
// pause after its handshake, reading their PONGs, and never HELLO: the
// PINGs keep the connection from looking silent, but hello_timeout (1s)
// still ends it, with ABORT then the close, logged with its address.
func TestRawSocketPingsInsteadOfHello(t *testing.T) {
	t.Parallel()
	j := start(t, "[router]\nhello_timeout = \"1s\"\n")
	b := newRSBystanders(t, j)
	c := DialRS(t, j.SharedRS(), RSDialOptions{})
	c.Open(t, JSON, 15)
	begin := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		ping := RSFrame(RSPing, []byte("still here"))
		for range 10_000_000 {
			select {
			case <-stop:
				return
			default:
			}
			if c.WriteBytes(ping) != nil {
				return
			}
		}
	}()
	var abort Msg
	for abort == nil {
		typ, data, err := c.ReadFrame()
		switch {
		case err != nil:
			t.Fatalf("after %d PONGs: %v, want ABORT", c.Pongs, err)
		case typ == RSPong:
			c.Pongs++
		case typ == RSMessage:
			if err := JSON.Unmarshal(data, &abort); err != nil || abort.Type() != ABORT {
				t.Fatalf("%q, want ABORT", clip(string(data), 200))
			}
		}
	}
	if _, closed := c.ReadToClose(t); !closed {
		t.Fatalf("still open after ABORT")
	}
	t.Logf("%d PONGs, then ABORT %s and the close after %s", c.Pongs, abort.Reason(), time.Since(begin).Round(time.Millisecond))
	if d := time.Since(begin); d > time.Second+rsPrompt {
		t.Errorf("closed after %s, want hello_timeout (1s)", d)
	}
	j.CheckLogged(t, "no HELLO in time", c.Remote())
	b.Check(t)
	j.CheckRSS(t, 64)
}
