package hostile

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
)

// TestSessionsPerAddress: a HELLO flood from one address, with
// router.max_sessions_per_address = 20: 20 sessions join, the next 10 get
// ABORT junction.error.limit_exceeded and close 1008; another address
// still joins, and the limit is counted.
func TestSessionsPerAddress(t *testing.T) {
	t.Parallel()
	j := start(t, "[router]\nmax_sessions_per_address = 20\n"+anonRealm)
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	for i := range 30 {
		c := Dial(t, j.URL(), JSON, DialOptions{})
		c.Hello(t, "realm1", nil)
		if i < 20 {
			c.Expect(t, WELCOME)
			continue
		}
		if msgs, code := c.ReadToClose(t); len(msgs) != 1 || msgs[0].Reason() != limitExceeded || code != 1008 {
			t.Errorf("session %d from one address: %v then close %d, want ABORT %s and close 1008", i+1, clipMsgs(msgs), code, limitExceeded)
		}
	}
	NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	b.Check(t)
	j.CheckLimitCounted(t, "router.max_sessions_per_address")
	j.CheckRSS(t, 64)
}

// TestHelloTimeout: 100 connections that complete the WebSocket handshake
// and never send HELLO (hello_timeout = "1s") are closed with 1008.
func TestHelloTimeout(t *testing.T) {
	t.Parallel()
	j := start(t, "[router]\nhello_timeout = \"1s\"\n"+anonRealm)
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	conns := make([]*Conn, 100)
	for i := range conns {
		conns[i] = Dial(t, j.URL(), JSON, DialOptions{})
	}
	for i, c := range conns {
		if msgs, code := c.ReadToClose(t); code != 1008 {
			t.Errorf("connection %d without HELLO: %v then close %d, want close 1008", i, clipMsgs(msgs), code)
		}
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestRequestFloods: 20,000 UNSUBSCRIBEs and UNREGISTERs of ids that do not
// exist each get their ERROR (wamp.error.no_such_subscription,
// no_such_registration); 20,000 CANCELs of calls that do not exist get
// nothing; the session stays, the router's memory stays bounded.
func TestRequestFloods(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	for _, tt := range []struct {
		format, answer string
		n              int
	}{
		{`[34,%d,%d]`, "wamp.error.no_such_subscription", 20000},
		{`[66,%d,%d]`, "wamp.error.no_such_registration", 20000},
		{`[49,%d,{"mode":"kill"}]`, "", 0},
	} {
		ty := tally{}
		pipeline(t, c, 20000, func(i int) []byte {
			if tt.answer == "" {
				return fmt.Appendf(nil, tt.format, i)
			}
			return fmt.Appendf(nil, tt.format, i, 1000000+i)
		}, ty.add)
		want := tally{}
		if tt.n > 0 {
			want[tt.answer] = tt.n
		}
		if fmt.Sprint(map[string]int(ty)) != fmt.Sprint(map[string]int(want)) {
			t.Errorf("flood %s: answers %v, want %v", tt.format, ty, want)
		}
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestPingFlood: 20,000 pings of 125 bytes, in bursts of 1,000 sent
// without waiting: the router answers the last ping of each burst with its
// payload (RFC 6455, 5.5.3: at least the most recent one), the session
// still works, and the router's memory stays bounded.
func TestPingFlood(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	var mu sync.Mutex
	pongs, last := 0, ""
	c.WS.SetPongHandler(func(data string) error {
		mu.Lock()
		pongs++
		last = data
		mu.Unlock()
		return nil
	})
	result := make(chan Msg, 1)
	go func() { m, _ := c.Read(); result <- m }() // reading handles the pongs
	payload := func(i int) string { return fmt.Sprintf("%08d", i) + string(bytes.Repeat([]byte("p"), 117)) }
	for burst := range 20 {
		for i := burst * 1000; i < (burst+1)*1000; i++ {
			if err := c.WS.WriteControl(websocket.PingMessage, []byte(payload(i)), time.Now().Add(Wait)); err != nil {
				t.Fatalf("ping %d: %v", i, err)
			}
		}
		want := payload((burst+1)*1000 - 1)
		Poll(t, fmt.Sprintf("the pong of the last ping of burst %d", burst), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return last == want
		})
	}
	c.Send(t, CALL, 1, map[string]any{}, "wamp.session.count", []any{})
	if m := <-result; m.Type() != RESULT {
		t.Fatalf("after the pings: %v, want RESULT", clipMsg(m))
	}
	mu.Lock()
	t.Logf("%d pongs for 20,000 pings", pongs)
	mu.Unlock()
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestTinyFragments: an acknowledged PUBLISH sent as one-byte fragments
// with 100,000 empty continuation frames among them is delivered and
// acknowledged, with the router's memory bounded.
func TestTinyFragments(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	sub, events := subscriber(t, j, "frag.topic", clientlib.Options{})
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	msg := []byte(`[16,7,{"acknowledge":true},"frag.topic",["fragmented"]]`)
	var frames []Frame
	for i := range msg {
		op := byte(OpContinuation)
		if i == 0 {
			op = OpText
		}
		frames = append(frames, Frame{Opcode: op, Masked: true, Key: [4]byte{1, 2, 3, 4}, Payload: msg[i : i+1]})
		for range 100000 / len(msg) {
			frames = append(frames, Frame{Opcode: OpContinuation, Masked: true})
		}
	}
	frames = append(frames, Frame{Fin: true, Opcode: OpContinuation, Masked: true})
	if err := c.WriteFrames(frames...); err != nil {
		t.Fatal(err)
	}
	if m := c.Expect(t, PUBLISHED); m.ID(1) != 7 {
		t.Fatalf("PUBLISHED %v, want request 7", clipMsg(m))
	}
	if ev := nextEvent(t, sub, events); fmt.Sprint(ev.Args) != "[fragmented]" {
		t.Fatalf("event %v", ev.Args)
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}
