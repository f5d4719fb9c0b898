package hostile

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
)

const protocolViolation = "wamp.error.protocol_violation"

// expectViolation reads until the connection ends and fails the test
// unless the router answered ABORT wamp.error.protocol_violation first.
func expectViolation(t *testing.T, c *Conn, what string) {
	t.Helper()
	msgs, code := c.ReadToClose(t)
	if len(msgs) == 0 || msgs[0].Type() != ABORT || msgs[0].Reason() != protocolViolation {
		t.Errorf("%s: %v then close %d, want ABORT %s and the connection closed", what, clipMsgs(msgs), code, protocolViolation)
	}
}

// TestSessionViolations: messages a peer may not send in the session's
// state (the spec's "Protocol errors"): ABORT
// wamp.error.protocol_violation and the connection closed. Before HELLO:
// AUTHENTICATE without CHALLENGE, GOODBYE, CALL, an empty list, an unknown
// type. After WELCOME: a second HELLO, WELCOME, request ids 0 and 2^53+1,
// a CALL reusing the request id of a call in flight.
func TestSessionViolations(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	for _, tt := range []struct {
		name string
		msgs []string
	}{
		{"AUTHENTICATE first", []string{`[5,"signature",{}]`}},
		{"GOODBYE first", []string{`[6,{},"wamp.close.normal"]`}},
		{"CALL first", []string{`[48,1,{},"app.p",[]]`}},
		{"empty list", []string{`[]`}},
		{"unknown type", []string{`[999,1,{}]`}},
		{"second HELLO", []string{`[1,"realm1",{"roles":{"caller":{}}}]`}},
		{"WELCOME from a client", []string{`[2,1,{}]`}},
		{"request id 0", []string{`[48,0,{},"app.p",[]]`}},
		{"request id 2^53+1", []string{`[48,9007199254740993,{},"app.p",[]]`}},
		{"request id reused in flight", []string{`[48,1,{},"app.slow",[]]`, `[48,1,{},"app.slow",[]]`}},
	} {
		c := Dial(t, j.URL(), JSON, DialOptions{})
		if !strings.HasSuffix(tt.name, "first") && tt.name != "empty list" && tt.name != "unknown type" {
			c.Join(t, "realm1")
		}
		if strings.Contains(tt.name, "in flight") {
			callee := rawCallee(t, j, JSON, "app.slow")
			defer callee.WS.Close()
		}
		for _, m := range tt.msgs {
			c.SendRaw(t, []byte(m))
		}
		expectViolation(t, c, tt.name)
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestFrameViolations: WebSocket frames RFC 6455 forbids, each on a fresh
// established session: the router fails the connection with close 1002
// (1009 for a declared length over the read limit), and a bystander is
// served.
func TestFrameViolations(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	hello := []byte(`[16,1,{},"app.t",[]]`)
	huge, msb := uint64(1)<<62, uint64(1)<<63|5
	text := func(f Frame) Frame { f.Payload = hello; return f }
	for _, tt := range []struct {
		name   string
		frames []Frame
		codes  []int
	}{
		{"RSV2 set", []Frame{text(Frame{Fin: true, RSV: 2, Opcode: OpText, Masked: true})}, []int{1002}},
		{"RSV1 without permessage-deflate", []Frame{text(Frame{Fin: true, RSV: 4, Opcode: OpText, Masked: true})}, []int{1002}},
		{"reserved data opcode 0x3", []Frame{Masked(0x3, hello)}, []int{1002}},
		{"reserved control opcode 0xB", []Frame{Masked(0xB, nil)}, []int{1002}},
		{"ping of 126 bytes", []Frame{Masked(OpPing, bytes.Repeat([]byte("p"), 126))}, []int{1002}},
		{"fragmented ping", []Frame{{Opcode: OpPing, Masked: true, Payload: []byte("p")}}, []int{1002}},
		{"unmasked frame", []Frame{{Fin: true, Opcode: OpText, Payload: hello}}, []int{1002}},
		{"close code 1005", []Frame{Masked(OpClose, []byte{0x03, 0xed})}, []int{1002}},
		{"close code 999", []Frame{Masked(OpClose, []byte{0x03, 0xe7})}, []int{1002}},
		{"close code 1004", []Frame{Masked(OpClose, []byte{0x03, 0xec})}, []int{1002}},
		{"continuation first", []Frame{Masked(OpContinuation, hello)}, []int{1002}},
		{"text inside a fragmented message", []Frame{{Opcode: OpText, Masked: true, Payload: hello[:5]}, Masked(OpText, hello)}, []int{1002}},
		{"length with the top bit set", []Frame{{Fin: true, Opcode: OpText, Masked: true, Length: &msb}}, []int{1002, 1009}},
		{"length of 2^62", []Frame{{Fin: true, Opcode: OpText, Masked: true, Length: &huge}}, []int{1009}},
	} {
		c := Dial(t, j.URL(), JSON, DialOptions{})
		c.Join(t, "realm1")
		if err := c.WriteFrames(tt.frames...); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		msgs, code := c.ReadToClose(t)
		if !containsInt(tt.codes, code) {
			t.Errorf("%s: close code %d (messages before: %v), want %v", tt.name, code, clipMsgs(msgs), tt.codes)
		}
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// TestDeepNesting: lists nested deeper than each codec's bound (README:
// 10,000 levels in json, 64 in msgpack, 32 in cbor), in a PUBLISH of an
// established session or in a HELLO: close 1002, and the router survives.
func TestDeepNesting(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	deepJSON := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	for _, tt := range []struct {
		name    string
		codec   Codec
		join    bool
		message []byte
	}{
		{"json PUBLISH args 100,000 deep", JSON, true, []byte(`[16,1,{},"app.t",[` + deepJSON + `]]`)},
		{"json HELLO details 30,000 deep", JSON, false, []byte(`[1,"realm1",{"roles":{"caller":{}},"x":` + deepJSON[:30000] + deepJSON[len(deepJSON)-30000:] + `}]`)},
		{"msgpack PUBLISH args 1,000 deep", MsgPack, true, append([]byte{0x95, 0x10, 0x01, 0x80, 0xa5, 'a', 'p', 'p', '.', 't'}, append(bytes.Repeat([]byte{0x91}, 1000), 0xc0)...)},
		{"cbor PUBLISH args 1,000 deep", CBOR, true, append([]byte{0x85, 0x10, 0x01, 0xa0, 0x65, 'a', 'p', 'p', '.', 't'}, append(bytes.Repeat([]byte{0x81}, 1000), 0xf6)...)},
	} {
		c := Dial(t, j.URL(), tt.codec, DialOptions{})
		if tt.join {
			c.Join(t, "realm1")
		}
		c.SendRaw(t, tt.message)
		if msgs, code := c.ReadToClose(t); code != 1002 {
			t.Errorf("%s: close code %d (messages before: %v), want 1002", tt.name, code, clipMsgs(msgs))
		}
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestLongURIs: a topic of 2,000 bytes and a procedure of 60 KiB (over
// max_uri_length = 1024) get ERROR wamp.error.invalid_uri, the session
// stays, and no log line is longer than a few KiB.
func TestLongURIs(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Join(t, "realm1")
	c.Send(t, SUBSCRIBE, 1, map[string]any{}, "app."+strings.Repeat("t", 2000))
	c.ExpectError(t, "wamp.error.invalid_uri")
	c.Send(t, CALL, 2, map[string]any{}, "app."+strings.Repeat("p", 60<<10), []any{})
	c.ExpectError(t, "wamp.error.invalid_uri")
	c.Send(t, PUBLISH, 3, map[string]any{"acknowledge": true}, strings.Repeat("a.", 30<<10)+"b", []any{})
	c.ExpectError(t, "wamp.error.invalid_uri")
	c.Send(t, CALL, 4, map[string]any{}, "wamp.session.count", []any{})
	c.Expect(t, RESULT)
	b.Check(t)
	j.CheckLogLines(t, 4<<10)
	j.CheckRSS(t, 64)
}

// TestHeaderFlood: an upgrade request with 2 MiB of headers, or 20,000
// small ones, gets HTTP 431 (Request Header Fields Too Large).
func TestHeaderFlood(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	for _, headers := range []string{
		"X-Big: " + strings.Repeat("h", 2<<20) + "\r\n",
		strings.Repeat("X-Small: "+strings.Repeat("h", 90)+"\r\n", 20000),
	} {
		c := dialTCP(t, j.Addr, "127.0.0.1")
		req := "GET /ws HTTP/1.1\r\nHost: junction\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: wamp.2.json\r\n" + headers + "\r\n"
		go func() { _, _ = c.Write([]byte(req)) }() // the router may answer before reading it all
		if status := readStatus(c); status != "431" {
			t.Errorf("%d bytes of headers: %s, want HTTP 431", len(headers), status)
		}
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// readStatus reads an HTTP response's status code from c.
func readStatus(c *tcpConn) string {
	_ = c.SetReadDeadline(time.Now().Add(Wait))
	line, err := c.br.ReadString('\n')
	if err != nil {
		return fmt.Sprintf("no response (%v)", err)
	}
	if f := strings.Fields(line); len(f) >= 2 {
		return f[1]
	}
	return line
}
