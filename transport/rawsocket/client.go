package rawsocket

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Endpoint is where a RawSocket URL points.
type Endpoint struct {
	Network string // "tcp" or "unix"
	Address string // host:port, or the socket's path
	TLS     bool   // rss://: TLS over TCP
	Host    string // the host name TLS verifies, for rss://
}

// ParseURL reads a RawSocket URL: rs://host:port (also tcp://), rss://host:port
// (TLS; also tcps://) or unix:///path/to.sock. It reports false for a URL
// of another scheme (ws://, wss://...), with no error.
func ParseURL(raw string) (Endpoint, bool, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Endpoint{}, false, err
	}
	switch strings.ToLower(u.Scheme) {
	case "rs", "tcp":
		if u.Port() == "" {
			return Endpoint{}, true, fmt.Errorf("rawsocket: %s names no port", raw)
		}
		return Endpoint{Network: "tcp", Address: u.Host}, true, nil
	case "rss", "tcps":
		if u.Port() == "" {
			return Endpoint{}, true, fmt.Errorf("rawsocket: %s names no port", raw)
		}
		return Endpoint{Network: "tcp", Address: u.Host, TLS: true, Host: u.Hostname()}, true, nil
	case "unix":
		p := u.Path
		if u.Host != "" { // unix://relative/path
			p = u.Host + u.Path
		}
		if p == "" {
			return Endpoint{}, true, fmt.Errorf("rawsocket: %s names no socket path", raw)
		}
		return Endpoint{Network: "unix", Address: p}, true, nil
	}
	return Endpoint{}, false, nil
}

// Conn is the client end of a RawSocket connection, after the handshake:
// messages in and out, PINGs answered. ReadMessage is for one goroutine;
// WriteMessage and Ping may be called from any.
type Conn struct {
	conn    net.Conn
	br      *bufio.Reader
	recvMax int // the largest message we accept
	sendMax int // the largest the router accepts
	wmu     sync.Mutex
	wdl     time.Time // under wmu: the write deadline set on conn

	// PongTimeout bounds the write of the PONG with which ReadMessage
	// answers a PING (DefaultPongTimeout when zero): a router that stops
	// reading cannot hold the reader, and the write lock with it, for
	// ever. Set it before the first ReadMessage.
	PongTimeout time.Duration
}

// DefaultPongTimeout is a Conn's PongTimeout when none is set.
const DefaultPongTimeout = 10 * time.Second

// Dial connects to e and shakes hands for serializer ser, accepting
// messages of up to recvMax octets (0: MaxLength). tc, for TLS, may be nil
// (the system's roots, e.Host verified). ctx bounds the dial and the
// handshake.
func Dial(ctx context.Context, e Endpoint, ser byte, recvMax int, tc *tls.Config) (*Conn, error) {
	return DialWrap(ctx, e, ser, recvMax, tc, nil)
}

// DialWrap is Dial with the network connection passed through wrap (nil:
// as it is) before TLS and the handshake: a client that counts the bytes it
// reads, say.
func DialWrap(ctx context.Context, e Endpoint, ser byte, recvMax int, tc *tls.Config, wrap func(net.Conn) net.Conn) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, e.Network, e.Address)
	if err != nil {
		return nil, err
	}
	if wrap != nil {
		c = wrap(c)
	}
	if e.TLS {
		if tc == nil {
			tc = &tls.Config{}
		} else {
			tc = tc.Clone()
		}
		if tc.ServerName == "" && !tc.InsecureSkipVerify {
			tc.ServerName = e.Host
		}
		tlc := tls.Client(c, tc)
		if err := tlc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, err
		}
		c = tlc
	}
	rc, err := Client(ctx, c, ser, recvMax)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return rc, nil
}

// Client shakes hands on c, a connection to a router, for serializer ser,
// accepting messages of up to recvMax octets (0: MaxLength). ctx bounds the
// handshake. A refusal is a HandshakeError.
func Client(ctx context.Context, c net.Conn, ser byte, recvMax int) (*Conn, error) {
	if recvMax <= 0 || recvMax > MaxLength {
		recvMax = MaxLength
	}
	recvMax = LengthOf(LengthCode(recvMax)) // what the handshake can say
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer func() {
		stop()
		_ = c.SetDeadline(time.Time{})
	}()
	req := Handshake{Serializer: ser, MaxLength: recvMax}.Bytes()
	if _, err := c.Write(req[:]); err != nil {
		return nil, ctxErr(ctx, err)
	}
	var b [4]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("rawsocket: the router closed the connection during the handshake: %w", err)
		}
		return nil, ctxErr(ctx, err)
	}
	h, err := ParseReply(b, ser)
	if err != nil {
		return nil, err
	}
	return &Conn{conn: c, br: bufio.NewReaderSize(c, 4096), recvMax: recvMax, sendMax: h.MaxLength}, nil
}

// ctxErr is ctx's error for a handshake that failed because ctx ended: the
// deadline set from it can fire just before ctx's own timer does.
func ctxErr(ctx context.Context, err error) error {
	if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		<-ctx.Done()
	}
	if ctx.Err() != nil {
		return fmt.Errorf("rawsocket handshake: %w", ctx.Err())
	}
	return err
}

// ReadMessage returns the next WAMP message's bytes. A PING is answered
// with its PONG on the way (within PongTimeout), a PONG skipped.
func (c *Conn) ReadMessage() ([]byte, error) {
	for {
		typ, data, err := ReadFrame(c.br, c.recvMax)
		if err != nil {
			return nil, err
		}
		switch typ {
		case FrameMessage:
			return data, nil
		case FramePing:
			timeout := c.PongTimeout
			if timeout <= 0 {
				timeout = DefaultPongTimeout
			}
			if err := c.write(FramePong, data, time.Now().Add(timeout)); err != nil {
				return nil, err
			}
		}
	}
}

// WriteMessage sends one WAMP message, waiting as long as the write takes.
// A message over the router's maximum length is a *TooLargeError, and not
// sent.
func (c *Conn) WriteMessage(data []byte) error { return c.write(FrameMessage, data, time.Time{}) }

// WriteMessageDeadline is WriteMessage bounded by deadline (zero: none). A
// write cut short after part of the frame went out closes the connection
// (the stream cannot be resumed); one that sent nothing leaves it usable.
func (c *Conn) WriteMessageDeadline(data []byte, deadline time.Time) error {
	return c.write(FrameMessage, data, deadline)
}

// Ping sends a PING with payload.
func (c *Conn) Ping(payload []byte) error { return c.write(FramePing, payload, time.Time{}) }

// write sends a frame. Every write sets its own deadline, so that one a
// bounded write left behind cannot cut a later PONG short.
func (c *Conn) write(typ byte, data []byte, deadline time.Time) error {
	if len(data) > c.sendMax {
		return &TooLargeError{Size: len(data), Limit: c.sendMax}
	}
	h := Header(typ, len(data))
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !deadline.Equal(c.wdl) {
		if err := c.conn.SetWriteDeadline(deadline); err != nil {
			return err
		}
		c.wdl = deadline
	}
	var n int64
	var err error
	switch c.conn.(type) {
	case *net.TCPConn, *net.UnixConn: // one writev
		bufs := net.Buffers{h[:], data}
		n, err = bufs.WriteTo(c.conn)
	default: // TLS: one record for the frame, not one for its prefix and another
		var k int
		k, err = c.conn.Write(append(h[:], data...))
		n = int64(k)
	}
	if err != nil && n > 0 {
		// Part of a frame went out: what follows would be read as the
		// rest of it. The connection is done for.
		_ = c.conn.Close()
	}
	return err
}

// SendMax is the largest message the router accepts; RecvMax the largest
// this end does.
func (c *Conn) SendMax() int { return c.sendMax }

// RecvMax is the largest message this end accepts.
func (c *Conn) RecvMax() int { return c.recvMax }

// NetConn is the connection under the RawSocket, for read deadlines (Conn
// sets the write deadline before each write: WriteMessageDeadline).
func (c *Conn) NetConn() net.Conn { return c.conn }

// Close closes the connection: RawSocket has no closing handshake.
func (c *Conn) Close() error { return c.conn.Close() }
