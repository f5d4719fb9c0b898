package hostile

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
)

// TestCompressionBomb: one permessage-deflate message of 1.6 MiB on the
// wire, inflating to 256 MiB, from an established session: close 1009
// (max_message_size 16 MiB counts inflated bytes), and the router never
// holds the inflated message.
func TestCompressionBomb(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	c := Dial(t, j.URL(), JSON, DialOptions{Compression: true})
	if !strings.Contains(c.Extensions, "permessage-deflate") {
		t.Fatalf("permessage-deflate not negotiated: %q", c.Extensions)
	}
	c.Join(t, "realm1")
	bomb := ZeroBomb(256 << 20)
	t.Logf("%d bytes on the wire inflate to 256 MiB", len(bomb))
	go func() { _ = c.WriteFrames(Frame{Fin: true, RSV: 4, Opcode: OpText, Masked: true, Payload: bomb}) }()
	if msgs, code := c.ReadToClose(t); code != 1009 {
		t.Errorf("compression bomb: close code %d, want 1009 (messages before: %v)", code, clipMsgs(msgs))
	}
	b.Check(t)
	j.CheckRSS(t, 192) // a 16 MiB message is read into a growing buffer: 84 MiB measured; unbounded: 1 GiB
}

// TestCompressionBombHello: four HELLOs in parallel, each about 100 KiB on
// the wire inflating to 16 MiB (within max_message_size, far over
// max_handshake_message_size = 64 KiB): close 1009 for each.
func TestCompressionBombHello(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	bomb := ZeroBomb(16<<20 - 300)
	t.Logf("HELLO: %d bytes on the wire inflate to 16 MiB", len(bomb))
	var wg sync.WaitGroup
	for range 4 {
		c := Dial(t, j.URL(), JSON, DialOptions{Compression: true})
		wg.Go(func() { _ = c.WriteFrames(Frame{Fin: true, RSV: 4, Opcode: OpText, Masked: true, Payload: bomb}) })
		wg.Go(func() {
			if _, code := c.ReadToClose(t); code != 1009 {
				t.Errorf("HELLO bomb: close code %d, want 1009", code)
			}
		})
	}
	wg.Wait()
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestLongRealmLogged: HELLOs naming a realm of 60 KiB (under the
// handshake limit), valid and invalid as a URI, get ABORT, and no line the
// router logs is longer than a few KiB (log.max_field_length = 1024).
func TestLongRealmLogged(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	for _, realm := range []string{strings.Repeat("a", 60<<10), strings.Repeat("a b#", 15<<10)} {
		c := Dial(t, j.URL(), JSON, DialOptions{})
		c.Hello(t, realm, map[string]any{"authid": strings.Repeat("i", 2000)})
		if m := c.Recv(t); m.Type() != ABORT {
			t.Errorf("HELLO with a realm of %d bytes: %v, want ABORT", len(realm), clipMsg(m))
		}
	}
	b.Check(t)
	j.CheckLogLines(t, 4<<10)
	j.CheckRSS(t, 64)
}

// TestHistoryResultBounded: a realm keeps a history of 20 MiB of events
// (2,500 of 8 KiB); one wamp.subscription.get_events is answered with a
// RESULT of the events that fit in max_history_result_bytes (4 MiB), and
// the caller is not cut off as a slow consumer (queue_bytes 8 MiB: a
// RESULT of the whole history would be over twice that).
func TestHistoryResultBounded(t *testing.T) {
	t.Parallel()
	j := start(t, `
[websocket]
queue_bytes = "8MiB"
`+anonRealm+`
[[realms.event_history]]
topic = "hist.log"
limit = 100000
`)
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	pub := Dial(t, j.URL(), JSON, DialOptions{})
	pub.Join(t, "realm1")
	arg := strings.Repeat("h", 8<<10)
	ty := tally{}
	pipeline(t, pub, 2500, func(i int) []byte {
		return fmt.Appendf(nil, `[16,%d,{"acknowledge":true},"hist.log",["%s"]]`, i, arg)
	}, ty.add)
	ty.expect(t, "2,500 publications", PUBLISHED, 2500, 0)

	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	c.Send(t, SUBSCRIBE, 1, map[string]any{}, "hist.log")
	sub := c.Expect(t, SUBSCRIBED).ID(2)
	c.Send(t, CALL, 2, map[string]any{}, "wamp.subscription.get_events", []any{sub})
	_ = c.WS.SetReadDeadline(time.Now().Add(Wait))
	_, data, err := c.WS.ReadMessage()
	if err != nil {
		t.Fatalf("get_events: %v", err)
	}
	var m Msg
	if err := JSON.Unmarshal(data, &m); err != nil || m.Type() != RESULT {
		t.Fatalf("get_events: %v %v, want RESULT", clip(string(data), 300), err)
	}
	events, _ := first(m.Args(3)).([]any)
	t.Logf("get_events: RESULT of %d bytes, %d events", len(data), len(events))
	if len(data) > 4<<20+64<<10 || len(events) == 0 {
		t.Errorf("get_events: RESULT of %d bytes with %d events, want at most max_history_result_bytes (4 MiB) of events", len(data), len(events))
	}
	c.Send(t, CALL, 3, map[string]any{}, "wamp.session.count", []any{})
	c.Expect(t, RESULT)
	b.Check(t)
	j.CheckRSS(t, 160)
}

// TestWildcardSubscriptions: attacker sessions hold 30,000 wildcard
// subscriptions on unrelated topics; a well-behaved publisher's 2,000
// acknowledged publications all complete. The rates before and after are
// logged, not asserted.
func TestWildcardSubscriptions(t *testing.T) {
	t.Parallel()
	j := start(t, "[router]\nmax_subscriptions_per_session = 30000\n"+anonRealm)
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	publish := func(when string) {
		c := b.Client()
		begin := time.Now()
		for i := range 2000 {
			if err := c.Publish(Ctx(t), "app.news", []any{i}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
				t.Fatalf("publication %d %s: %v", i, when, err)
			}
		}
		t.Logf("2,000 acknowledged publications %s: %.0f/s", when, 2000/time.Since(begin).Seconds())
	}
	publish("before the attack")
	for s := range 3 {
		c := Dial(t, j.URL(), JSON, DialOptions{})
		c.Join(t, "realm1")
		ty := tally{}
		pipeline(t, c, 10000, func(i int) []byte {
			return fmt.Appendf(nil, `[32,%d,{"match":"wildcard"},"zz%d.%d..x"]`, i, s, i)
		}, ty.add)
		ty.expect(t, "10,000 wildcard SUBSCRIBEs", SUBSCRIBED, 10000, 0)
	}
	publish("with 30,000 wildcard subscriptions")
	b.Check(t)
	j.CheckRSS(t, 128)
}

// TestConnectionsPerAddress: one address opens connections that send GET
// /healthz with keep-alive and then nothing. With
// server.max_connections_per_address = 200, the 200 are served and the 50
// after them are closed at once; a client from another address still
// joins, and the limit is counted.
func TestConnectionsPerAddress(t *testing.T) {
	t.Parallel()
	j := start(t, "[server]\nmax_connections_per_address = 200\n")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	for i := range 200 {
		c := dialTCP(t, j.Addr, "127.0.0.1")
		if status := healthz(c); status != "200" {
			t.Fatalf("connection %d: GET /healthz: %s", i, status)
		}
	}
	for i := range 50 {
		c := dialTCP(t, j.Addr, "127.0.0.1")
		if status := healthz(c); status != "closed" {
			t.Fatalf("connection %d past the bound: GET /healthz: %s, want the connection closed", 200+i, status)
		}
	}
	NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	b.Check(t)
	j.CheckLimitCounted(t, "server.max_connections_per_address")
	j.CheckRSS(t, 64)
}

// TestIdleConnections: with server.idle_timeout = "1s", keep-alive
// connections that stay silent after a request, and connections that
// never finish their request headers (read_header_timeout = "1s"), are
// closed by the router.
func TestIdleConnections(t *testing.T) {
	t.Parallel()
	j := start(t, "[server]\nidle_timeout = \"1s\"\nread_header_timeout = \"1s\"\n")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	var idle, partial []*tcpConn
	for range 50 {
		c := dialTCP(t, j.Addr, "127.0.0.1")
		if status := healthz(c); status != "200" {
			t.Fatalf("GET /healthz: %s", status)
		}
		idle = append(idle, c)
		p := dialTCP(t, j.Addr, "127.0.0.1")
		if _, err := p.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
			t.Fatal(err)
		}
		partial = append(partial, p)
	}
	for i, c := range append(idle, partial...) {
		if err := c.waitClosed(); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}
