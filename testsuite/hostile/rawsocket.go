package hostile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RawSocket (the WAMP spec's "RawSocket Transport"), written here from the
// spec rather than with transport/rawsocket: the attacks set any bit of a
// handshake or a frame prefix, and what the router sends is checked by a
// parser that is not the router's own.

// RSMagic is the first octet of a RawSocket handshake, both ways.
const RSMagic = 0x7F

// RawSocket frame types: the low 3 bits of a prefix's first octet.
const (
	RSMessage = 0
	RSPing    = 1
	RSPong    = 2
)

// RSMaxLength is the longest frame a prefix can declare: 16 MiB, with the
// 25th length bit (X) set and the 24 others clear.
const RSMaxLength = 1 << 24

// The router's handshake errors (the high 4 bits of its reply's second
// octet, whose low 4 bits are zero).
const (
	RSErrSerializer = 1 // serializer unsupported
	RSErrLength     = 2 // maximum message length unacceptable
	RSErrReserved   = 3 // use of reserved bits
	RSErrConnLimit  = 4 // maximum connection count reached
)

// RSHandshake is a client's request for serializer ser (1 JSON, 2
// msgpack, 3 CBOR, 4 UBJSON, 5 FlatBuffers, others reserved) announcing a
// maximum message length of 2^(9+code) octets.
func RSHandshake(ser, code byte) []byte { return []byte{RSMagic, code<<4 | ser&0x0F, 0, 0} }

// RSErrorReply is the router's refusal with error e.
func RSErrorReply(e byte) []byte { return []byte{RSMagic, e << 4, 0, 0} }

// RSPrefix is a well-formed prefix of a frame of type typ and n octets.
func RSPrefix(typ byte, n int) []byte {
	if n == RSMaxLength {
		return []byte{typ | 0x08, 0, 0, 0}
	}
	return []byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}
}

// RSFrame is a frame of type typ carrying payload.
func RSFrame(typ byte, payload []byte) []byte {
	return append(RSPrefix(typ, len(payload)), payload...)
}

// rsSerializer is codec's id in a handshake.
func rsSerializer(c Codec) byte {
	switch c.Subprotocol {
	case MsgPack.Subprotocol:
		return 2
	case CBOR.Subprotocol:
		return 3
	}
	return 1
}

// RSEndpoint is where a RawSocket client connects: "tcp" and host:port, or
// "unix" and a socket's path.
type RSEndpoint struct{ Network, Address string }

func (e RSEndpoint) String() string { return e.Network + ":" + e.Address }

// SharedRS is the WebSocket port, which serves RawSocket too
// (rawsocket.shared, the default).
func (j *Junction) SharedRS() RSEndpoint { return RSEndpoint{"tcp", j.Addr} }

var rsListening = regexp.MustCompile(`msg="rawsocket listening" network=tcp addr=(\S+)`)

// RSListener is the address of the process's own RawSocket TCP listener
// (rawsocket.listen), as its log says.
func (j *Junction) RSListener(t testing.TB) RSEndpoint {
	t.Helper()
	var addr string
	Poll(t, "the rawsocket listening line in the log", func() bool {
		if m := rsListening.FindStringSubmatch(j.Log()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return RSEndpoint{"tcp", addr}
}

// UnixSocketPath is a path for a Unix socket in a directory removed when
// the test ends, short enough for sun_path (108 bytes), which t.TempDir's
// test-named directories can exceed.
func UnixSocketPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hrs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir + "/j.sock"
}

// CheckLogged fails the test unless the process logs, within Wait, a line
// with msg and the client address remote (as the router writes it: a TCP
// host:port, or "unix:pid=N,uid=U"), or any of the addresses more.
func (j *Junction) CheckLogged(t testing.TB, msg, remote string, more ...string) {
	t.Helper()
	remotes := append([]string{remote}, more...)
	deadline := time.Now().Add(Wait)
	for {
		for _, line := range strings.Split(j.Log(), "\n") {
			if !strings.Contains(line, msg) {
				continue
			}
			for _, r := range remotes {
				if strings.Contains(line+" ", "remote="+r+" ") || strings.Contains(line, `remote="`+r+`"`) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("no log line %q with remote=%s (or %d other addresses) after %s", msg, remote, len(more), Wait)
			return
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

// RSConn is a RawSocket connection driven octet by octet.
type RSConn struct {
	net.Conn
	br    *bufio.Reader
	Codec Codec
	// Max is the longest frame this client announced it accepts; 0 before
	// its handshake.
	Max   int
	Pongs int // PONGs read
	// ReadTimeout bounds each read: 0 is Wait, a negative one none.
	ReadTimeout time.Duration

	wmu sync.Mutex // writes: a PONG from Read, a message from another goroutine
}

// RSDialOptions configure DialRS.
type RSDialOptions struct {
	From       string // local address over TCP; default 127.0.0.1
	RecvBuffer int    // SO_RCVBUF, if set
}

// DialRS connects to e, without a handshake; the connection is closed when
// the test ends.
func DialRS(t testing.TB, e RSEndpoint, opts RSDialOptions) *RSConn {
	t.Helper()
	c, err := TryDialRS(e, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TryDialRS is DialRS returning the error; the caller closes the
// connection.
func TryDialRS(e RSEndpoint, opts RSDialOptions) (*RSConn, error) {
	d := &net.Dialer{Timeout: Wait}
	if e.Network == "tcp" {
		d = NetDialer(cmpOr(opts.From, "127.0.0.1"))
	}
	if opts.RecvBuffer > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error { return setRecvBuffer(rc, opts.RecvBuffer) }
	}
	nc, err := d.Dial(e.Network, e.Address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e, err)
	}
	return &RSConn{Conn: nc, br: bufio.NewReaderSize(nc, 64<<10), Codec: JSON}, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Remote is this connection as the router logs its client: the TCP
// address it comes from, or the process and user on a Unix socket.
func (c *RSConn) Remote() string {
	if c.LocalAddr().Network() == "unix" {
		return fmt.Sprintf("unix:pid=%d,uid=%d", os.Getpid(), os.Getuid())
	}
	return c.LocalAddr().String()
}

// WriteBytes writes b as it is, within Wait. The router may have closed
// the connection: the error is returned.
func (c *RSConn) WriteBytes(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(Wait))
	_, err := c.Write(b)
	return err
}

// MustWrite is WriteBytes failing the test on an error.
func (c *RSConn) MustWrite(t testing.TB, b []byte) {
	t.Helper()
	if err := c.WriteBytes(b); err != nil {
		t.Fatalf("writing %d octets: %v", len(b), err)
	}
}

// ReadToEOF reads until the router closes the connection, at most limit
// octets and Wait, and returns what it read; closed is false if the
// connection is still open then (or sent more than limit).
func (c *RSConn) ReadToEOF(limit int) (got []byte, closed bool, err error) {
	_ = c.SetReadDeadline(time.Now().Add(Wait))
	got, err = io.ReadAll(io.LimitReader(c.br, int64(limit)+1))
	switch {
	case len(got) > limit:
		return got, false, fmt.Errorf("more than %d octets", limit)
	case err == nil || closedErr(err):
		return got, true, nil
	}
	return got, false, err
}

// Open shakes hands for codec, announcing a maximum of 2^(9+code) octets,
// fails the test unless the router accepts, and returns the maximum the
// router announces.
func (c *RSConn) Open(t testing.TB, codec Codec, code byte) int {
	t.Helper()
	c.Codec = codec
	c.MustWrite(t, RSHandshake(rsSerializer(codec), code))
	_ = c.SetReadDeadline(time.Now().Add(Wait))
	var b [4]byte
	if _, err := io.ReadFull(c.br, b[:]); err != nil {
		t.Fatalf("rawsocket handshake: no reply: %v", err)
	}
	if b[0] != RSMagic || b[1]&0x0F != rsSerializer(codec) || b[2] != 0 || b[3] != 0 {
		t.Fatalf("rawsocket handshake: reply % x to % x", b, RSHandshake(rsSerializer(codec), code))
	}
	c.Max = 1 << (9 + int(code))
	return 1 << (9 + int(b[1]>>4))
}

// ReadFrame reads the next frame, within Wait, and checks it as the spec
// holds a router to: reserved bits clear, a type the spec defines, the
// 25th length bit only alone, and no longer than the client announced.
func (c *RSConn) ReadFrame() (typ byte, payload []byte, err error) {
	switch {
	case c.ReadTimeout == 0:
		_ = c.SetReadDeadline(time.Now().Add(Wait))
	case c.ReadTimeout > 0:
		_ = c.SetReadDeadline(time.Now().Add(c.ReadTimeout))
	default:
		_ = c.SetReadDeadline(time.Time{})
	}
	var h [4]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	typ, n := h[0]&0x07, int(h[1])<<16|int(h[2])<<8|int(h[3])
	switch {
	case h[0]&0xF0 != 0 || typ > RSPong:
		return typ, nil, fmt.Errorf("router sent a prefix with reserved bits or type: % x", h)
	case h[0]&0x08 != 0 && n != 0:
		return typ, nil, fmt.Errorf("router sent a prefix with the 25th length bit and others: % x", h)
	case h[0]&0x08 != 0:
		n = RSMaxLength
	}
	if c.Max > 0 && n > c.Max {
		return typ, nil, fmt.Errorf("router sent a frame of %d octets, over the %d this client announced", n, c.Max)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return typ, nil, err
	}
	return typ, payload, nil
}

// Read returns the next WAMP message, answering PINGs and counting PONGs
// on the way.
func (c *RSConn) Read() (Msg, error) {
	for {
		typ, data, err := c.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch typ {
		case RSPing:
			if err := c.WriteBytes(RSFrame(RSPong, data)); err != nil {
				return nil, err
			}
			continue
		case RSPong:
			c.Pongs++
			continue
		}
		var m Msg
		if err := c.Codec.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("not a WAMP message (%v): %q", err, clip(string(data), 200))
		}
		return m, nil
	}
}

// Recv is Read failing the test on an error.
func (c *RSConn) Recv(t testing.TB) Msg {
	t.Helper()
	m, err := c.Read()
	if err != nil {
		t.Fatalf("rawsocket: reading a message: %v", err)
	}
	return m
}

// Expect reads the next message and fails the test unless it has type typ.
func (c *RSConn) Expect(t testing.TB, typ int) Msg {
	t.Helper()
	m := c.Recv(t)
	if m.Type() != typ {
		t.Fatalf("rawsocket: got %v, want message type %d", clipMsg(m), typ)
	}
	return m
}

// Send encodes msg and writes it as one frame.
func (c *RSConn) Send(t testing.TB, msg ...any) {
	t.Helper()
	data, err := c.Codec.Marshal(msg)
	if err != nil {
		t.Fatalf("encoding %v: %v", msg, err)
	}
	c.MustWrite(t, RSFrame(RSMessage, data))
}

// Join sends HELLO (anonymous) and expects WELCOME; it returns the session id.
func (c *RSConn) Join(t testing.TB, realm string) int64 {
	t.Helper()
	c.Send(t, HELLO, realm, map[string]any{"roles": Roles})
	return c.Expect(t, WELCOME).ID(1)
}

// ReadToClose reads messages until the router closes the connection and
// returns them; closed is false if it is still open after Wait. An error
// other than the end of the connection (a frame the spec forbids) fails
// the test.
func (c *RSConn) ReadToClose(t testing.TB) (msgs []Msg, closed bool) {
	t.Helper()
	for range 10000 {
		m, err := c.Read()
		switch {
		case err == nil:
			msgs = append(msgs, m)
			continue
		case closedErr(err):
			return msgs, true
		case isTimeout(err):
			return msgs, false
		}
		t.Fatalf("rawsocket: reading to the close: %v (messages before: %v)", err, clipMsgs(msgs))
	}
	t.Fatalf("more than 10,000 messages before the close")
	return nil, false
}

// ExpectAbortClose reads until the router closes the connection and fails
// the test unless it is closed within Wait after an ABORT with reason
// (RawSocket has no close message: the ABORT before the close is what
// tells the client why, and the router drains the client's input rather
// than reset the connection under it).
func (c *RSConn) ExpectAbortClose(t testing.TB, reason string) {
	t.Helper()
	msgs, closed := c.ReadToClose(t)
	if !closed {
		t.Fatalf("rawsocket connection still open after %s (messages: %v)", Wait, clipMsgs(msgs))
	}
	if len(msgs) != 1 || msgs[0].Type() != ABORT || msgs[0].Reason() != reason {
		t.Fatalf("rawsocket: %v before the close, want ABORT %s", clipMsgs(msgs), reason)
	}
}

// errNotClosed is DrainRS's error for a connection still open.
var errNotClosed = errors.New("connection still open")

// DrainRS reads and discards what the router sends until it closes the
// connection, the deadline running from the last octets read: a stalled
// client may have megabytes waiting. It returns errNotClosed if nothing
// comes for Wait and the connection stays open.
func DrainRS(c *RSConn) error {
	_, err := io.Copy(io.Discard, idleDeadline{c.Conn})
	switch {
	case err == nil || closedErr(err):
		return nil
	case isTimeout(err):
		return errNotClosed
	}
	return err
}
