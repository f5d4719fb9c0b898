package rawsocket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/internal/ratelog"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
)

// Options are the runtime objects a Server is built with.
type Options struct {
	// Logger receives the transport's logs. Default slog.Default().
	Logger *slog.Logger
}

// Stats are the transport's counters.
type Stats struct {
	Connections atomic.Int64  // sessions open now
	Accepted    atomic.Uint64 // handshakes accepted
	// Refused counts the handshakes refused: not RawSocket (a wrong first
	// octet), an error reply (serializer, length, reserved bits, shutdown),
	// or no handshake within HandshakeTimeout.
	Refused atomic.Uint64
	// RefusedAtLimit counts the connections answered "maximum connection
	// count reached" (RefuseConn) by a limited listener.
	RefusedAtLimit          atomic.Uint64
	SlowConsumerDisconnects atomic.Uint64
	BytesIn                 atomic.Uint64 // frame bytes read, prefixes included
	BytesOut                atomic.Uint64 // frame bytes written, prefixes included
	TooBigHandshake         atomic.Uint64 // messages over HandshakeReadLimit
	TooBig                  atomic.Uint64 // messages over ReadLimit
	// TooLargeForPeer counts the messages not sent because they are larger
	// than the client announced it accepts (the router answered their sender).
	TooLargeForPeer atomic.Uint64
	Pings           atomic.Uint64 // client PINGs answered
	PongTimeouts    atomic.Uint64 // connections closed silent after a PING
	FrameTimeouts   atomic.Uint64 // connections closed inside a frame past FrameTimeout

	closedHighMsgs  atomic.Int64
	closedHighBytes atomic.Int64
}

// Server is the router's end of RawSocket: it shakes hands on the
// connections it is given (Serve's, or ServeConn's from a shared port) and
// hands each a peer for the handler to run a session on.
type Server struct {
	cfg     Config
	handler transport.Handler
	log     *slog.Logger
	enabled map[byte]serializers.Serializer

	closing   atomic.Bool
	wg        sync.WaitGroup
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	peers     map[tracked]struct{}
	nb        *nbEngine // the nbio engine (Config.Engine "nbio"), nil for the goroutine engine
	closedAll bool
	stats     Stats
	slowLog   *ratelog.Limiter // slow consumers, per client address
	refuseLog *ratelog.Limiter // refused handshakes, per client address
	refusing  chan struct{}    // bounds the goroutines answering RefuseConn
}

// NewServer returns a server handing its peers to h. Zero fields of cfg take
// the values of DefaultConfig.
func NewServer(cfg Config, h transport.Handler, opts Options) (*Server, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, handler: h, log: opts.Logger, enabled: make(map[byte]serializers.Serializer),
		listeners: make(map[net.Listener]struct{}), peers: make(map[tracked]struct{}),
		slowLog: ratelog.New(cfg.WarningInterval), refuseLog: ratelog.New(cfg.WarningInterval),
		refusing: make(chan struct{}, 64)}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, name := range cfg.Serializers {
		ser, ok := serializers.ByName(name)
		id, idOK := SerializerID(name)
		if !ok || !idOK {
			return nil, fmt.Errorf("rawsocket: serializers: unknown serializer %q (known: json, msgpack, cbor)", name)
		}
		s.enabled[id] = ser
	}
	if cfg.Engine == EngineNbio {
		s.nb = newNbEngine(cfg)
	}
	return s, nil
}

// Config returns the config the server runs with, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Stats returns the transport's counters.
func (s *Server) Stats() *Stats { return &s.stats }

// Counters reads the counters for the metrics (transport.Metered).
func (s *Server) Counters() transport.Counters {
	c := transport.Counters{
		Transport: "rawsocket", Connections: s.stats.Connections.Load(),
		Accepted: s.stats.Accepted.Load(), Refused: s.stats.Refused.Load() + s.stats.RefusedAtLimit.Load(),
		SlowConsumerDisconnects: s.stats.SlowConsumerDisconnects.Load(),
		BytesIn:                 s.stats.BytesIn.Load(), BytesOut: s.stats.BytesOut.Load(),
		TooBig: s.stats.TooBig.Load(), TooBigHandshake: s.stats.TooBigHandshake.Load(),
		TooBigKey: "rawsocket.max_message_size", TooBigHandshakeKey: "websocket.max_handshake_message_size",
	}
	c.QueueHighMsgs, c.QueueHighBytes = s.QueueHighWater()
	c.PendingMsgs, c.PendingBytes = s.Pending()
	return c
}

// Serve accepts connections on ln until it fails or Shutdown closes it,
// each handshake and session on a goroutine of its own. It returns nil
// after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				// Out of file descriptors, for one: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("rawsocket accept failed; retrying", "error", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !s.begin() {
			s.stats.Refused.Add(1)
			_ = c.Close()
			continue
		}
		go func() {
			defer s.wg.Done()
			s.serve(c)
		}()
	}
}

// isTemporary reports the accept errors worth retrying: running out of
// file descriptors or buffers.
func isTemporary(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

// ServeConn shakes hands on c and runs its session on this goroutine,
// returning when it is over; c is closed then. On the nbio engine a TCP
// connection's session moves to the engine after the handshake, and
// ServeConn returns then (c is closed when the session ends). The
// WebSocket port hands it the connections whose first octet is Magic.
func (s *Server) ServeConn(c net.Conn) {
	if !s.begin() {
		s.stats.Refused.Add(1)
		_ = c.Close()
		return
	}
	defer s.wg.Done()
	s.serve(c)
}

// begin counts a connection in for Shutdown to wait for; false once
// Shutdown has begun. Under mu, so that no Add races Shutdown's Wait.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.wg.Add(1)
	return true
}

// RefuseConn answers a connection past the listener's connection limits
// "maximum connection count reached" and closes it (transport.Limiter's
// refused hook). The answer is written on a goroutine of its own, at most
// 64 at once; past that the connection is closed without one.
func (s *Server) RefuseConn(c net.Conn) {
	s.stats.RefusedAtLimit.Add(1)
	select {
	case s.refusing <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	go func() {
		defer func() { <-s.refusing }()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		s.reject(c, ErrConnectionLimit)
		_ = c.Close()
	}()
}

// reject answers a refused handshake and half-closes the connection, then
// reads what the client sent (its handshake) until it closes too or the
// deadline set on c passes, so that closing does not reset the connection
// before the client read the answer.
func (s *Server) reject(c net.Conn, e HandshakeError) {
	reply := ErrorReply(e)
	if _, err := c.Write(reply[:]); err != nil {
		return
	}
	if cw, ok := transport.Unwrap(c).(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<10))
}

// serve shakes hands on c and runs its session, or moves it to the nbio
// engine.
func (s *Server) serve(c net.Conn) {
	remote := remoteAddr(c)
	_ = c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	h, ser, err := s.handshake(c)
	if err != nil {
		s.stats.Refused.Add(1)
		s.logRefusal(remote, err)
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	info := transport.Info{Transport: "rawsocket", RemoteAddr: remote, Subprotocol: ser.Subprotocol()}
	if s.nb != nil && nbEligible(transport.Unwrap(c)) {
		s.serveNbio(c, h, ser, info)
		return
	}
	defer c.Close()
	if cn, ok := transport.ClientCertName(transport.TLSState(c)); ok {
		info.ClientCert = cn
	}
	p := s.newPeer(c, bufio.NewReaderSize(c, 4096), ser, h.MaxLength, info)
	if !s.track(p) {
		close(p.readerDone)
		p.abandon()
		<-p.done
		return
	}
	s.stats.Accepted.Add(1)
	s.handler.ServePeer(p)
	p.Close(transport.CloseNormal, "")
	p.drain()
	close(p.readerDone)
	<-p.done
	s.untrack(p)
}

// handshake reads the client's request and answers it: accepted, or
// refused with the spec's error (nothing is answered to a first octet that
// is not Magic: that client speaks something else).
func (s *Server) handshake(c net.Conn) (Handshake, serializers.Serializer, error) {
	var b [4]byte
	// The first octet alone tells a client that speaks something else: it
	// is closed at once, not after waiting for three more.
	if _, err := io.ReadFull(c, b[:1]); err != nil {
		return Handshake{}, nil, fmt.Errorf("no handshake: %w", err)
	}
	if b[0] != Magic {
		return Handshake{}, nil, fmt.Errorf("%w (got 0x%02x)", ErrNotRawSocket, b[0])
	}
	if _, err := io.ReadFull(c, b[1:]); err != nil {
		return Handshake{}, nil, fmt.Errorf("handshake cut after %d octets: %w", 1, err)
	}
	h, err := ParseRequest(b)
	var he HandshakeError
	switch {
	case errors.Is(err, ErrNotRawSocket):
		return h, nil, fmt.Errorf("%w (got 0x%02x)", err, b[0])
	case errors.As(err, &he):
		s.reject(c, he)
		return h, nil, fmt.Errorf("refused (%w): % x", he, b)
	}
	ser, ok := s.enabled[h.Serializer]
	switch {
	case !ok:
		s.reject(c, ErrSerializerUnsupported)
		return h, nil, fmt.Errorf("refused (%w): %s", ErrSerializerUnsupported, SerializerName(h.Serializer))
	case h.MaxLength < s.cfg.MinClientLength:
		s.reject(c, ErrLengthUnacceptable)
		return h, nil, fmt.Errorf("refused (%w): the client accepts messages of at most %d bytes, rawsocket.min_client_message_size is %d",
			ErrLengthUnacceptable, h.MaxLength, s.cfg.MinClientLength)
	case s.closing.Load():
		s.reject(c, ErrConnectionLimit)
		return h, nil, errors.New("refused: the router is shutting down")
	}
	reply := Handshake{Serializer: h.Serializer, MaxLength: s.cfg.ReadLimit}.Bytes()
	if _, err := c.Write(reply[:]); err != nil {
		return h, nil, fmt.Errorf("writing the handshake reply: %w", err)
	}
	return h, ser, nil
}

// logRefusal logs a refused handshake at info, at most once per interval
// per client address (a port scanner makes many).
func (s *Server) logRefusal(remote string, err error) {
	if ok, held := s.refuseLog.Allow(host(remote)); ok {
		s.log.Info("rawsocket handshake refused", "remote", remote, "error", err, "held_back", held)
	}
}

// tracked is a connection of either engine, as the server's books keep it.
type tracked interface {
	queue() *transport.Queue
	abandon()
}

// track registers p so that CloseAll reaches it; false when CloseAll came
// first (the caller closes p then).
func (s *Server) track(p tracked) bool {
	s.mu.Lock()
	closed := s.closedAll
	if !closed {
		s.peers[p] = struct{}{}
	}
	s.mu.Unlock()
	if closed {
		return false
	}
	s.stats.Connections.Add(1)
	return true
}

func (s *Server) untrack(p tracked) {
	m, b := p.queue().HighWater()
	storeMax(&s.stats.closedHighMsgs, int64(m))
	storeMax(&s.stats.closedHighBytes, int64(b))
	s.mu.Lock()
	delete(s.peers, p)
	s.mu.Unlock()
	s.stats.Connections.Add(-1)
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func (s *Server) open() []tracked {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]tracked, 0, len(s.peers))
	for p := range s.peers {
		all = append(all, p)
	}
	return all
}

// QueueHighWater is the deepest any connection's outbound queue has been,
// in messages and in bytes, since the server started.
func (s *Server) QueueHighWater() (msgs, bytes int64) {
	msgs, bytes = s.stats.closedHighMsgs.Load(), s.stats.closedHighBytes.Load()
	for _, p := range s.open() {
		m, b := p.queue().HighWater()
		msgs, bytes = max(msgs, int64(m)), max(bytes, int64(b))
	}
	return msgs, bytes
}

// Pending is what the open connections' outbound queues hold now.
func (s *Server) Pending() (msgs, bytes int64) {
	for _, p := range s.open() {
		m, b := p.queue().Pending()
		msgs, bytes = msgs+int64(m), bytes+int64(b)
	}
	return msgs, bytes
}

// Shutdown closes the listeners Serve accepts on, refuses new handshakes,
// and waits until every connection has ended, or ctx is done. It does not
// end sessions: the router does (GOODBYE, then Close); CloseAll closes
// what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for ln := range s.listeners {
		_ = ln.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		if s.nb != nil {
			s.nb.stop()
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CloseAll closes every open connection, and any handshaken afterwards,
// dropping what their queues hold.
func (s *Server) CloseAll() {
	s.mu.Lock()
	s.closedAll = true
	s.mu.Unlock()
	for _, p := range s.open() {
		p.abandon()
	}
}

// remoteAddr is the client's address (transport.RemoteName).
func remoteAddr(c net.Conn) string { return transport.RemoteName(c) }
