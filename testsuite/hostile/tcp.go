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
