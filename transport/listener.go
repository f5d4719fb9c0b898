package transport

import (
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/internal/ratelog"
)

// ListenerLimits bound the connections a listener holds. Zero values mean
// the defaults named on each field; negative values mean no bound.
type ListenerLimits struct {
	// Connections is the most connections open at once. Default 100,000.
	Connections int
	// ConnectionsPerAddress is the most connections open at once from one
	// IP address, except from the Exempt ones. Default 1,000.
	ConnectionsPerAddress int
	// Exempt reports the addresses not bounded per address (trusted
	// reverse proxies, which carry many clients). Nil: none.
	Exempt func(net.IP) bool
	// WarningInterval is how often, at most, a refusal is logged at warn
	// per address. Default 10s.
	WarningInterval time.Duration
}

// ListenerStats are a limited listener's counters.
type ListenerStats struct {
	Open                  atomic.Int64  // connections open now
	Refused               atomic.Uint64 // closed at accept: Connections reached
	RefusedPerAddress     atomic.Uint64 // closed at accept: ConnectionsPerAddress reached
	refusedLog            *ratelog.Limiter
	perAddressRefusalsLog *ratelog.Limiter
}

// LimitListener wraps a listener so that it holds at most the connections
// limits allow: a connection past them is closed as soon as it is
// accepted, logged (at most once per address per 10 s) and counted. A
// connection counts from its accept until it is closed, whatever it is used
// for: WebSocket sessions, handshakes in progress and idle HTTP keep-alives
// alike, so that a client cannot exhaust the process's file descriptors.
func LimitListener(ln net.Listener, limits ListenerLimits, log *slog.Logger) (net.Listener, *ListenerStats) {
	l := NewLimiter(limits, log)
	return l.Listener(ln, nil), l.Stats()
}

// Limiter counts the connections of several listeners against one set of
// limits (LimitListener is a Limiter of one listener).
type Limiter struct {
	limits ListenerLimits
	log    *slog.Logger
	stats  *ListenerStats

	mu         sync.Mutex
	open       int
	perAddress map[string]int
}

// NewLimiter returns a Limiter of limits, whose zero fields take their
// defaults; log receives its refusals (nil: slog.Default()).
func NewLimiter(limits ListenerLimits, log *slog.Logger) *Limiter {
	if log == nil {
		log = slog.Default()
	}
	l := &Limiter{limits: limits, log: log, perAddress: make(map[string]int),
		stats: &ListenerStats{refusedLog: ratelog.New(limits.WarningInterval), perAddressRefusalsLog: ratelog.New(limits.WarningInterval)}}
	l.limits.Connections = boundOf(limits.Connections, 100_000)
	l.limits.ConnectionsPerAddress = boundOf(limits.ConnectionsPerAddress, 1_000)
	return l
}

// Stats are the limiter's counters, for all its listeners.
func (l *Limiter) Stats() *ListenerStats { return l.stats }

// Listener wraps ln so that its connections count against l. refused, if
// set, is handed each connection past the limits, and closes it (a
// RawSocket listener answers "maximum connection count reached" first);
// without it they are closed here. It runs on the accepting goroutine, so
// it must not block.
func (l *Limiter) Listener(ln net.Listener, refused func(net.Conn)) net.Listener {
	return &limitListener{Listener: ln, l: l, refused: refused}
}

func boundOf(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return int(^uint(0) >> 1)
	}
	return v
}

type limitListener struct {
	net.Listener
	l       *Limiter
	refused func(net.Conn)
}

// Accept returns the next connection within the limits; the ones past them
// are closed here.
func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := ll.l.admit(c, ll.refused); lc != nil {
			return lc, nil
		}
	}
}

// admit counts c in, or closes it and returns nil when a limit is reached.
func (l *Limiter) admit(c net.Conn, refused func(net.Conn)) net.Conn {
	ip := connIP(c)
	key := ""
	if ip != nil && (l.limits.Exempt == nil || !l.limits.Exempt(ip)) {
		key = ip.String()
	}
	l.mu.Lock()
	switch {
	case l.open >= l.limits.Connections:
		l.mu.Unlock()
		l.refuse(c, refused, &l.stats.Refused, l.stats.refusedLog, "", "server.max_connections", l.limits.Connections)
		return nil
	case key != "" && l.perAddress[key] >= l.limits.ConnectionsPerAddress:
		l.mu.Unlock()
		l.refuse(c, refused, &l.stats.RefusedPerAddress, l.stats.perAddressRefusalsLog, key, "server.max_connections_per_address", l.limits.ConnectionsPerAddress)
		return nil
	}
	l.open++
	if key != "" {
		l.perAddress[key]++
	}
	l.mu.Unlock()
	l.stats.Open.Add(1)
	return &limitedConn{Conn: c, release: func() { l.release(key) }}
}

func (l *Limiter) refuse(c net.Conn, refused func(net.Conn), counter *atomic.Uint64, rl *ratelog.Limiter, key, limit string, n int) {
	counter.Add(1)
	if refused != nil {
		refused(c)
	} else {
		_ = c.Close()
	}
	if ok, held := rl.Allow(key); ok {
		l.log.Warn("limit reached, connection closed", "limit", limit, "bound", n, "remote", RemoteName(c), "held_back", held)
	}
}

func (l *Limiter) release(key string) {
	l.mu.Lock()
	l.open--
	if key != "" {
		if l.perAddress[key]--; l.perAddress[key] <= 0 {
			delete(l.perAddress, key)
		}
	}
	l.mu.Unlock()
	l.stats.Open.Add(-1)
}

func connIP(c net.Conn) net.IP {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP
	}
	return nil
}

// limitedConn gives its slot back once, when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// TCPConn returns the TCP connection c is, or that a connection from
// LimitListener or Prefixed wraps; nil for any other (a TLS connection,
// for one, whose bytes must go through it). Writes to it may use writev,
// which a wrapper hides.
func TCPConn(c net.Conn) *net.TCPConn {
	tc, _ := Unwrap(c).(*net.TCPConn)
	return tc
}

// Unwrap returns the connection under the wrappers of this package
// (LimitListener's, Prefixed's): a *net.TCPConn, a *net.UnixConn, a
// *tls.Conn, or whatever the listener made.
func Unwrap(c net.Conn) net.Conn {
	for {
		switch w := c.(type) {
		case *limitedConn:
			c = w.Conn
		case *prefixedConn:
			c = w.Conn
		default:
			return c
		}
	}
}

// RemoteName is the client's address of c for logs and per-address
// limits: host:port over TCP; over a Unix socket, "unix:pid=N,uid=U" (the
// client process, SO_PEERCRED) where the system tells it, else "unix:"
// and the socket's path.
func RemoteName(c net.Conn) string {
	if uc, ok := Unwrap(c).(*net.UnixConn); ok {
		if a, ok := peerAddr(uc); ok {
			return a
		}
		return "unix:" + uc.LocalAddr().String()
	}
	return c.RemoteAddr().String()
}

// TLSState returns the TLS state of c, a TLS connection under this
// package's wrappers, after its handshake; nil for a connection that is
// not TLS.
func TLSState(c net.Conn) *tls.ConnectionState {
	tc, ok := Unwrap(c).(*tls.Conn)
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	return &st
}

// Prefixed returns c with prefix put back in front of what it reads: the
// octets a listener read to tell one protocol from another on a shared
// port.
func Prefixed(c net.Conn, prefix []byte) net.Conn {
	if len(prefix) == 0 {
		return c
	}
	return &prefixedConn{Conn: c, prefix: prefix}
}

type prefixedConn struct {
	net.Conn
	prefix []byte // read before the connection; only the reading goroutine touches it
}

func (c *prefixedConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// ClientCertName is the subject common name of the verified client
// certificate of a TLS connection in state st (nil: not TLS).
func ClientCertName(st *tls.ConnectionState) (string, bool) {
	if st == nil || len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return "", false
	}
	return st.VerifiedChains[0][0].Subject.CommonName, true
}
