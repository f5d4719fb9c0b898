package hostile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// tcpConn is a plain TCP connection to the router, for attacks below HTTP
// and WebSocket.
type tcpConn struct {
	net.Conn
	br *bufio.Reader
}

// dialTCP connects to addr from the local address from; the connection is
// closed when the test ends.
func dialTCP(t testing.TB, addr, from string) *tcpConn {
	t.Helper()
	c, err := NetDialer(from).Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &tcpConn{Conn: c, br: bufio.NewReader(c)}
}

// healthz sends GET /healthz with keep-alive and returns the response's
// status code, "closed" if the router closed the connection instead, or
// the error.
func healthz(c *tcpConn) string {
	_ = c.SetDeadline(time.Now().Add(Wait))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: junction\r\n\r\n")); err != nil {
		if closedErr(err) {
			return "closed"
		}
		return err.Error()
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		if closedErr(err) {
			return "closed"
		}
		return err.Error()
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return fmt.Sprint(resp.StatusCode)
}

// waitClosed reads until the router closes the connection, for at most
// Wait; it returns an error if the connection is still open then or sends
// something.
func (c *tcpConn) waitClosed() error {
	_ = c.SetReadDeadline(time.Now().Add(Wait))
	n, err := c.br.Read(make([]byte, 4096))
	switch {
	case closedErr(err):
		return nil
	case err != nil:
		return fmt.Errorf("still open after %s: %v", Wait, err)
	}
	return fmt.Errorf("read %d bytes, want the connection closed", n)
}

// closedErr reports whether err says the peer closed the connection.
func closedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// upgrade sends a WebSocket handshake for protocol (offering
// permessage-deflate if deflate) and reads the 101 answer.
func (c *tcpConn) upgrade(host, protocol string, deflate bool) error {
	req := "GET /ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: " + protocol + "\r\n"
	if deflate {
		req += "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n"
	}
	_ = c.SetDeadline(time.Now().Add(Wait))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("handshake: HTTP %s", resp.Status)
	}
	return nil
}

// skipFrame reads one frame from the router and discards it.
func (c *tcpConn) skipFrame() error {
	_ = c.SetReadDeadline(time.Now().Add(Wait))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return err
	}
	n := uint64(h[1] & 0x7f)
	if n >= 126 {
		ext := make([]byte, map[bool]int{true: 2, false: 8}[n == 126])
		if _, err := io.ReadFull(c.br, ext); err != nil {
			return err
		}
		n = 0
		for _, b := range ext {
			n = n<<8 | uint64(b)
		}
	}
	_, err := c.br.Discard(int(n))
	return err
}

// closeWriteAndWait half-closes the connection and reads until the router
// closes it, for at most Wait.
func (c *tcpConn) closeWriteAndWait() error {
	if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
		if closedErr(err) || errors.Is(err, syscall.ENOTCONN) {
			return nil // the router reset the connection already: closed
		}
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(Wait))
	_, err := io.Copy(io.Discard, c.br)
	if err == nil || closedErr(err) {
		return nil
	}
	return fmt.Errorf("router did not close the connection: %w", err)
}
