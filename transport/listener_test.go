package transport

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// limited is a LimitListener on 127.0.0.1 with an accept loop handing out
// what it accepts.
type limited struct {
	ln       net.Listener
	stats    *ListenerStats
	accepted chan net.Conn
}

func listenLimited(t *testing.T, limits ListenerLimits) *limited {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, stats := LimitListener(inner, limits, quietLog)
	l := &limited{ln: ln, stats: stats, accepted: make(chan net.Conn, 64)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.accepted <- c
		}
	}()
	return l
}

// dialFrom connects from the loopback address from (127.0.0.x).
func (l *limited) dialFrom(t *testing.T, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", l.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// accept returns the next connection the listener let through.
func (l *limited) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-l.accepted:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(30 * time.Second): // a guard against a hang
		t.Fatal("no connection accepted within 30s")
		return nil
	}
}

// admitted connects from from and reports whether the listener let the
// connection through (Accept returned it) or closed it at accept (the
// client reads EOF). Connections are taken one at a time, so which one was
// refused is known.
func (l *limited) admitted(t *testing.T, from string) (net.Conn, bool) {
	t.Helper()
	refusedBefore := l.stats.Refused.Load() + l.stats.RefusedPerAddress.Load()
	c := l.dialFrom(t, from)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		select {
		case sc := <-l.accepted:
			t.Cleanup(func() { sc.Close() })
			return sc, true
		default:
		}
		if l.stats.Refused.Load()+l.stats.RefusedPerAddress.Load() > refusedBefore {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("a refused connection is still open: %v", err)
			}
			return nil, false
		}
		if time.Now().After(deadline) {
			t.Fatal("connection neither accepted nor refused within 30s")
		}
	}
}

func TestLimitListenerPerAddress(t *testing.T) {
	t.Parallel()
	l := listenLimited(t, ListenerLimits{ConnectionsPerAddress: 2})
	var first net.Conn
	for i := range 2 {
		c, ok := l.admitted(t, "127.0.0.1")
		if !ok {
			t.Fatalf("connection %d from 127.0.0.1 refused under the bound", i+1)
		}
		if first == nil {
			first = c
		}
	}
	if _, ok := l.admitted(t, "127.0.0.1"); ok {
		t.Fatal("a third connection from 127.0.0.1 accepted past ConnectionsPerAddress=2")
	}
	if n := l.stats.RefusedPerAddress.Load(); n != 1 || l.stats.Refused.Load() != 0 {
		t.Fatalf("refused per address %d, in all %d; want 1, 0", n, l.stats.Refused.Load())
	}
	// Another address has its own count.
	for i := range 2 {
		if _, ok := l.admitted(t, "127.0.0.2"); !ok {
			t.Fatalf("connection %d from 127.0.0.2 refused: 127.0.0.1's connections counted against it", i+1)
		}
	}
	// Closing a connection gives its slot back, once.
	first.Close()
	first.Close()
	if n := l.stats.Open.Load(); n != 3 {
		t.Fatalf("%d open after closing one of 4 (twice)", n)
	}
	if _, ok := l.admitted(t, "127.0.0.1"); !ok {
		t.Fatal("a slot closed was not given back")
	}
	if _, ok := l.admitted(t, "127.0.0.1"); ok {
		t.Fatal("closing one connection twice gave back two slots")
	}
}

func TestLimitListenerExempt(t *testing.T) {
	t.Parallel()
	proxy := net.ParseIP("127.0.0.3")
	l := listenLimited(t, ListenerLimits{ConnectionsPerAddress: 1, Exempt: func(ip net.IP) bool { return ip.Equal(proxy) }})
	for i := range 5 {
		if _, ok := l.admitted(t, "127.0.0.3"); !ok {
			t.Fatalf("connection %d from an exempt address refused", i+1)
		}
	}
	l.admitted(t, "127.0.0.4")
	if _, ok := l.admitted(t, "127.0.0.4"); ok {
		t.Fatal("a non-exempt address was not bounded")
	}
}

func TestLimitListenerTotal(t *testing.T) {
	t.Parallel()
	l := listenLimited(t, ListenerLimits{Connections: 3, ConnectionsPerAddress: -1})
	var conns []net.Conn
	for i, from := range []string{"127.0.0.5", "127.0.0.6", "127.0.0.5"} {
		c, ok := l.admitted(t, from)
		if !ok {
			t.Fatalf("connection %d refused under the total bound", i+1)
		}
		conns = append(conns, c)
	}
	if _, ok := l.admitted(t, "127.0.0.7"); ok {
		t.Fatal("a fourth connection accepted past Connections=3")
	}
	if l.stats.Refused.Load() != 1 || l.stats.RefusedPerAddress.Load() != 0 {
		t.Fatalf("refused %d in all, %d per address; want 1, 0", l.stats.Refused.Load(), l.stats.RefusedPerAddress.Load())
	}
	conns[1].Close()
	if _, ok := l.admitted(t, "127.0.0.7"); !ok {
		t.Fatal("the total bound did not give a closed connection's slot back")
	}
	if n := l.stats.Open.Load(); n != 3 {
		t.Fatalf("%d open, want 3", n)
	}
}

func TestLimitListenerDefaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ v, def, want int }{
		{0, 1000, 1000},
		{5, 1000, 5},
		{-1, 1000, int(^uint(0) >> 1)},
	} {
		if got := boundOf(tt.v, tt.def); got != tt.want {
			t.Errorf("boundOf(%d, %d) = %d, want %d", tt.v, tt.def, got, tt.want)
		}
	}
}

// TestTCPConn: the TCP connection under a limited one is found (writes can
// use writev); a connection of another kind is not unwrapped.
func TestTCPConn(t *testing.T) {
	t.Parallel()
	l := listenLimited(t, ListenerLimits{})
	l.dialFrom(t, "127.0.0.1")
	c := l.accept(t)
	if _, ok := c.(*limitedConn); !ok {
		t.Fatalf("accepted a %T", c)
	}
	if TCPConn(c) == nil {
		t.Fatal("no TCP connection under a limited one")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if TCPConn(a) != nil {
		t.Fatal("a pipe taken for a TCP connection")
	}
}
