package hostile

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/junction-wamp/junction/wamp"
)

// WAMP message type codes the suite reads and writes.
const (
	HELLO        = 1
	WELCOME      = 2
	ABORT        = 3
	CHALLENGE    = 4
	AUTHENTICATE = 5
	GOODBYE      = 6
	ERROR        = 8
	PUBLISH      = 16
	PUBLISHED    = 17
	SUBSCRIBE    = 32
	SUBSCRIBED   = 33
	UNSUBSCRIBE  = 34
	EVENT        = 36
	CALL         = 48
	RESULT       = 50
	REGISTER     = 64
	REGISTERED   = 65
	INVOCATION   = 68
	YIELD        = 70
)

// Roles is HELLO.Details.roles for a client of all four roles.
var Roles = map[string]any{"caller": map[string]any{}, "callee": map[string]any{}, "publisher": map[string]any{}, "subscriber": map[string]any{}}

// Codec encodes and decodes WAMP messages as plain Go lists.
type Codec struct {
	Subprotocol string
	Frame       int // websocket.TextMessage or BinaryMessage
	Marshal     func(any) ([]byte, error)
	Unmarshal   func([]byte, any) error
}

// The three serializers.
var (
	JSON    = Codec{"wamp.2.json", websocket.TextMessage, json.Marshal, json.Unmarshal}
	MsgPack = Codec{"wamp.2.msgpack", websocket.BinaryMessage, msgpack.Marshal, msgpack.Unmarshal}
	CBOR    = Codec{"wamp.2.cbor", websocket.BinaryMessage, cbor.Marshal, cbor.Unmarshal}
)

// Msg is a decoded WAMP message.
type Msg []any

// Type is the message type code (0 if there is none).
func (m Msg) Type() int {
	if len(m) == 0 {
		return 0
	}
	n, _ := Int(m[0])
	return int(n)
}

// Reason is the URI of an ERROR (element 4), ABORT or GOODBYE (element 2).
func (m Msg) Reason() string {
	i := 2
	if m.Type() == ERROR {
		i = 4
	}
	if len(m) <= i {
		return ""
	}
	s, _ := m[i].(string)
	return s
}

// ID is element i as an integer.
func (m Msg) ID(i int) int64 {
	if len(m) <= i {
		return -1
	}
	n, _ := Int(m[i])
	return n
}

// Dict is element i as a dict with string keys.
func (m Msg) Dict(i int) map[string]any {
	if len(m) <= i {
		return nil
	}
	return Dict(m[i])
}

// Args is element i as a list.
func (m Msg) Args(i int) []any {
	if len(m) <= i {
		return nil
	}
	l, _ := m[i].([]any)
	return l
}

// Int is v as an integer, whichever decoder made it (the project's own
// conversion: the suite encodes and decodes with the stock codecs, not
// Junction's, but reads numbers as the router does).
func Int(v any) (int64, bool) { return wamp.AsInt(v) }

// Dict is v as a dict with string keys (CBOR decodes maps with any keys).
func Dict(v any) map[string]any {
	switch d := v.(type) {
	case map[string]any:
		return d
	case map[any]any:
		out := make(map[string]any, len(d))
		for k, v := range d {
			out[fmt.Sprint(k)] = v
		}
		return out
	}
	return nil
}

// Conn is a WAMP connection driven message by message, for clients that
// misbehave.
type Conn struct {
	WS         *websocket.Conn
	Codec      Codec
	Extensions string // the router's Sec-WebSocket-Extensions answer
}

// DialOptions configure Dial.
type DialOptions struct {
	From        string // local address to dial from; default 127.0.0.1
	Compression bool   // offer permessage-deflate
	Header      http.Header
	RecvBuffer  int // SO_RCVBUF of the client's socket, if set: a small one stalls the router's writes sooner
}

// NetDialer dials from the local address from (e.g. "127.0.0.2").
func NetDialer(from string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: Wait}
}

// WSDialer is a gorilla dialer whose connections come from the local address from.
func WSDialer(from string) *websocket.Dialer {
	return &websocket.Dialer{NetDialContext: NetDialer(from).DialContext, HandshakeTimeout: Wait}
}

// Dial opens a WebSocket to url with codec's subprotocol.
func Dial(t testing.TB, url string, codec Codec, opts DialOptions) *Conn {
	t.Helper()
	c, err := TryDial(url, codec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.WS.Close() })
	return c
}

// TryDial is Dial returning the error; the caller closes the connection.
func TryDial(url string, codec Codec, opts DialOptions) (*Conn, error) {
	if opts.From == "" {
		opts.From = "127.0.0.1"
	}
	d := WSDialer(opts.From)
	if opts.RecvBuffer > 0 {
		nd := NetDialer(opts.From)
		nd.Control = func(_, _ string, rc syscall.RawConn) error { return setRecvBuffer(rc, opts.RecvBuffer) }
		d.NetDialContext = nd.DialContext
	}
	d.Subprotocols = []string{codec.Subprotocol}
	d.EnableCompression = opts.Compression
	ws, resp, err := d.Dial(url, opts.Header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %v (HTTP %s)", url, err, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	if ws.Subprotocol() != codec.Subprotocol {
		_ = ws.Close()
		return nil, fmt.Errorf("subprotocol %q, want %q", ws.Subprotocol(), codec.Subprotocol)
	}
	return &Conn{WS: ws, Codec: codec, Extensions: resp.Header.Get("Sec-WebSocket-Extensions")}, nil
}

// Send encodes and writes one message.
func (c *Conn) Send(t testing.TB, msg ...any) {
	t.Helper()
	data, err := c.Codec.Marshal(msg)
	if err != nil {
		t.Fatalf("encoding %v: %v", msg, err)
	}
	c.SendRaw(t, data)
}

// SendRaw writes data as one message in the codec's frame type.
func (c *Conn) SendRaw(t testing.TB, data []byte) {
	t.Helper()
	_ = c.WS.SetWriteDeadline(time.Now().Add(Wait))
	if err := c.WS.WriteMessage(c.Codec.Frame, data); err != nil {
		t.Fatalf("writing a message: %v", err)
	}
}

// WriteFrames writes frames as they are, under gorilla, on the connection.
// It returns the write error: the router may close the connection before
// it has read them all.
func (c *Conn) WriteFrames(frames ...Frame) error {
	var out []byte
	for _, f := range frames {
		out = append(out, f.Encode()...)
	}
	_ = c.WS.NetConn().SetWriteDeadline(time.Now().Add(Wait))
	_, err := c.WS.NetConn().Write(out)
	return err
}

// Read reads and decodes the next message, waiting at most Wait.
func (c *Conn) Read() (Msg, error) {
	_ = c.WS.SetReadDeadline(time.Now().Add(Wait))
	_, data, err := c.WS.ReadMessage()
	if err != nil {
		return nil, err
	}
	var m Msg
	if err := c.Codec.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a WAMP message (%v): %q", err, clip(string(data), 200))
	}
	return m, nil
}

// Recv is Read failing the test on an error.
func (c *Conn) Recv(t testing.TB) Msg {
	t.Helper()
	m, err := c.Read()
	if err != nil {
		t.Fatalf("reading a message: %v", err)
	}
	return m
}

// Expect reads the next message and fails the test unless it has type typ.
func (c *Conn) Expect(t testing.TB, typ int) Msg {
	t.Helper()
	m := c.Recv(t)
	if m.Type() != typ {
		t.Fatalf("got %v, want message type %d", clipMsg(m), typ)
	}
	return m
}

// ExpectError reads the next message and fails the test unless it is an
// ERROR with uri.
func (c *Conn) ExpectError(t testing.TB, uri string) Msg {
	t.Helper()
	m := c.Recv(t)
	if m.Type() != ERROR || m.Reason() != uri {
		t.Fatalf("got %v, want ERROR %s", clipMsg(m), uri)
	}
	return m
}

// ExpectClose reads until the connection ends and returns the messages read
// before; it fails the test unless the router closed it with code.
func (c *Conn) ExpectClose(t testing.TB, code int) []Msg {
	t.Helper()
	msgs, got := c.ReadToClose(t)
	if got == StillOpen {
		t.Fatalf("connection still open after %s, want close %d (messages: %v)", Wait, code, clipMsgs(msgs))
	}
	if got != code {
		t.Fatalf("connection ended with close code %d, want %d (messages before: %v)", got, code, clipMsgs(msgs))
	}
	return msgs
}

// StillOpen is the code ReadToClose returns for a connection still open
// after Wait.
const StillOpen = -1

// ReadToClose reads until the connection ends (at most 10,000 messages)
// and returns the messages read and the close code: 1006 when the
// connection ended without a close frame, StillOpen if it did not end
// within Wait.
func (c *Conn) ReadToClose(t testing.TB) ([]Msg, int) {
	t.Helper()
	var msgs []Msg
	for range 10000 {
		m, err := c.Read()
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return msgs, ce.Code
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			return msgs, StillOpen
		case err != nil:
			return msgs, websocket.CloseAbnormalClosure
		}
		msgs = append(msgs, m)
	}
	t.Fatalf("more than 10,000 messages before the close")
	return nil, 0
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// DrainToClose reads and discards frames until the connection ends and
// returns the close code (1006 without a close frame); it fails the test
// if the connection stays open with nothing to read for Wait. It reads the
// frames itself, under gorilla, which must have nothing buffered, and skips
// their payloads unread: a stalled client may have megabytes waiting, which
// hundreds of them draining at once on a loaded machine take a while to
// read, so the deadline runs from the last bytes read, not from the start.
func (c *Conn) DrainToClose(t testing.TB) int {
	t.Helper()
	code, err := closeCodeOf(bufio.NewReaderSize(idleDeadline{c.WS.NetConn()}, 64<<10))
	if isTimeout(err) {
		t.Errorf("connection still open, nothing to read for %s", Wait)
	}
	return code
}

// idleDeadline reads from a connection with a deadline of Wait from each
// read: it times out when the peer sends nothing for that long.
type idleDeadline struct{ nc net.Conn }

func (r idleDeadline) Read(p []byte) (int, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(Wait))
	return r.nc.Read(p)
}

// closeCodeOf reads server frames from r until a close frame and returns
// its code (1005 if it has none), or 1006 and the error if the stream ends
// first.
func closeCodeOf(r *bufio.Reader) (int, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return websocket.CloseAbnormalClosure, err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126, 127:
			ext := make([]byte, map[uint64]int{126: 2, 127: 8}[n])
			if _, err := io.ReadFull(r, ext); err != nil {
				return websocket.CloseAbnormalClosure, err
			}
			n = 0
			for _, b := range ext {
				n = n<<8 | uint64(b)
			}
		}
		if h[1]&0x80 != 0 {
			n += 4 // a masking key: not from a server, but skip it
		}
		if h[0]&0x0f != OpClose {
			if _, err := r.Discard(int(n)); err != nil {
				return websocket.CloseAbnormalClosure, err
			}
			continue
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return websocket.CloseAbnormalClosure, err
		}
		if len(payload) < 2 {
			return websocket.CloseNoStatusReceived, nil
		}
		return int(payload[0])<<8 | int(payload[1]), nil
	}
}

// ExpectAbort reads until the connection ends and fails the test unless an
// ABORT with reason came first and the close code is code.
func (c *Conn) ExpectAbort(t testing.TB, reason string, code int) {
	t.Helper()
	msgs := c.ExpectClose(t, code)
	if len(msgs) == 0 || msgs[0].Type() != ABORT || msgs[0].Reason() != reason {
		t.Fatalf("messages before the close: %v, want ABORT %s", clipMsgs(msgs), reason)
	}
}

// Hello sends HELLO for realm with the client roles and details merged in.
func (c *Conn) Hello(t testing.TB, realm string, details map[string]any) {
	t.Helper()
	d := map[string]any{"roles": Roles}
	for k, v := range details {
		d[k] = v
	}
	c.Send(t, HELLO, realm, d)
}

// Join sends HELLO (anonymous) and expects WELCOME; it returns the session id.
func (c *Conn) Join(t testing.TB, realm string) int64 {
	t.Helper()
	c.Hello(t, realm, nil)
	return c.Expect(t, WELCOME).ID(1)
}

// JoinAs joins with one of the challenge-response methods: answer computes
// AUTHENTICATE's signature from CHALLENGE.
func (c *Conn) JoinAs(t testing.TB, realm, authid, method string, answer func(Msg) string) int64 {
	t.Helper()
	c.Hello(t, realm, map[string]any{"authid": authid, "authmethods": []any{method}})
	ch := c.Expect(t, CHALLENGE)
	c.Send(t, AUTHENTICATE, answer(ch), map[string]any{})
	return c.Expect(t, WELCOME).ID(1)
}

func clipMsg(m Msg) string { return clip(fmt.Sprint([]any(m)), 400) }

func clipMsgs(ms []Msg) string {
	s := ""
	for i, m := range ms {
		if i == 5 {
			return s + fmt.Sprintf(" ...(%d messages)", len(ms))
		}
		s += clipMsg(m) + " "
	}
	return s
}
