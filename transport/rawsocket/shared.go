package rawsocket

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/junction-wamp/junction/transport"
)

// Shared splits ln between RawSocket and another protocol by the first
// octet each client sends: Magic, which no HTTP request starts with, goes
// to s, anything else to the listener returned, from which an HTTP server
// accepts as from ln (the octet is read again there). On a TLS listener
// the octet is the first one inside TLS, so wss:// and rss:// share a port
// as ws:// and rs:// do.
//
// Each connection is read on a goroutine of its own, for at most timeout
// (the time an HTTP client has for its headers, say); one that sends
// nothing in that time is closed. Closing the returned listener closes ln.
func Shared(ln net.Listener, s *Server, timeout time.Duration) net.Listener {
	l := &sharedListener{Listener: ln, s: s, timeout: timeout,
		conns: make(chan net.Conn), errc: make(chan error, 1), done: make(chan struct{})}
	go l.accept()
	return l
}

type sharedListener struct {
	net.Listener
	s       *Server
	timeout time.Duration
	conns   chan net.Conn // the connections that are not RawSocket
	errc    chan error    // ln failed
	done    chan struct{} // Close was called
	once    sync.Once
}

func (l *sharedListener) accept() {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			l.errc <- err
			return
		}
		backoff = 0
		go l.sniff(c)
	}
}

// sniff reads c's first octet and hands c on.
func (l *sharedListener) sniff(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(l.timeout))
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil { // for TLS, after the TLS handshake
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	c = transport.Prefixed(c, b[:])
	if b[0] == Magic {
		l.s.ServeConn(c)
		return
	}
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// Accept returns the next connection that is not RawSocket.
func (l *sharedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		l.errc <- err // for the next call
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the listener; connections being read are closed as they
// come.
func (l *sharedListener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
