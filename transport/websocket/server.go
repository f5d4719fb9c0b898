package websocket

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/internal/ratelog"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
)

// Options are the runtime objects a Server is built with.
type Options struct {
	// Logger receives the transport's logs. Default slog.Default().
	Logger *slog.Logger
	// Ready tells /healthz whether the router is serving; nil means always.
	Ready func() bool
}

// Stats are the transport's counters.
type Stats struct {
	Connections atomic.Int64  // open now
	Accepted    atomic.Uint64 // handshakes accepted
	Refused     atomic.Uint64 // handshakes refused (protocol, origin, shutdown)
	// SlowConsumerDisconnects counts the connections closed because their
	// outbound queue reached twice its bound, stayed over it, or waited
	// behind a write that did not complete (the peer stopped reading).
	SlowConsumerDisconnects atomic.Uint64
	BytesIn                 atomic.Uint64 // WebSocket message payloads read
	BytesOut                atomic.Uint64 // WebSocket message payloads written
	// TooBigHandshake counts the messages refused with 1009 before the
	// session was established (over HandshakeReadLimit), TooBig those
	// refused after (over ReadLimit).
	TooBigHandshake atomic.Uint64
	TooBig          atomic.Uint64
	// InvalidUTF8 counts the text frames refused with 1007.
	InvalidUTF8 atomic.Uint64

	// The highest outbound queue depths of connections that have closed;
	// QueueHighWater adds the open ones.
	closedHighMsgs  atomic.Int64
	closedHighBytes atomic.Int64
}

// storeMax raises a to v if v is higher.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// QueueHighWater is the deepest any connection's outbound queue has been,
// in messages and in bytes (each its own maximum), since the server started.
func (s *Server) QueueHighWater() (msgs, bytes int64) {
	s.mu.Lock()
	open := make([]wsPeer, 0, len(s.peers))
	for p := range s.peers {
		open = append(open, p)
	}
	s.mu.Unlock()
	msgs, bytes = s.stats.closedHighMsgs.Load(), s.stats.closedHighBytes.Load()
	for _, p := range open {
		m, b := p.queue().HighWater()
		msgs, bytes = max(msgs, int64(m)), max(bytes, int64(b))
	}
	return msgs, bytes
}

// Pending is what the open connections' outbound queues hold now, in
// messages and bytes: queued, or taken by a writer and not yet written. A
// frame shared by a fan-out counts once per connection it is queued to.
func (s *Server) Pending() (msgs, bytes int64) {
	s.mu.Lock()
	open := make([]wsPeer, 0, len(s.peers))
	for p := range s.peers {
		open = append(open, p)
	}
	s.mu.Unlock()
	for _, p := range open {
		m, b := p.queue().Pending()
		msgs, bytes = msgs+int64(m), bytes+int64(b)
	}
	return msgs, bytes
}

// Server is the WebSocket endpoint.
type Server struct {
	cfg      Config
	handler  transport.Handler
	log      *slog.Logger
	ready    func() bool
	enabled  []serializers.Serializer
	upgrader websocket.Upgrader

	proxies []*net.IPNet

	closing   atomic.Bool
	wg        sync.WaitGroup
	mu        sync.Mutex
	peers     map[wsPeer]struct{}
	nb        *nbEngine // the nbio engine (Config.Engine "nbio"), nil for gorilla
	closedAll *closeAll // set by CloseAll: later connections are closed too
	stats     Stats
	slowLog   *ratelog.Limiter // slow-consumer warnings, per client address
}

// NewServer returns a server handing accepted peers to h. Zero fields of cfg
// take the values of DefaultConfig.
func NewServer(cfg Config, h transport.Handler, opts Options) (*Server, error) {
	cfg = withDefaults(cfg)
	s := &Server{cfg: cfg, handler: h, log: opts.Logger, ready: opts.Ready, peers: make(map[wsPeer]struct{}),
		slowLog: ratelog.New(cfg.WarningInterval)}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, name := range cfg.Serializers {
		ser, ok := serializers.ByName(name)
		if !ok {
			return nil, fmt.Errorf("websocket: serializers: unknown serializer %q (known: json, msgpack, cbor)", name)
		}
		s.enabled = append(s.enabled, ser)
	}
	if cfg.CompressionLevel < 1 || cfg.CompressionLevel > 9 {
		return nil, fmt.Errorf("websocket: compression_level %d outside 1..9", cfg.CompressionLevel)
	}
	for _, p := range cfg.TrustedProxies {
		n, err := parseNet(p)
		if err != nil {
			return nil, fmt.Errorf("websocket: trusted_proxies: %w", err)
		}
		s.proxies = append(s.proxies, n)
	}
	for _, p := range cfg.AllowedOrigins {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("websocket: allowed_origins: bad pattern %q: %w", p, err)
		}
	}
	switch cfg.Engine {
	case EngineGorilla:
	case EngineNbio:
		nb, err := newNbEngine(cfg)
		if err != nil {
			return nil, err
		}
		s.nb = nb
	default:
		return nil, fmt.Errorf("websocket: engine %q: want %q or %q", cfg.Engine, EngineGorilla, EngineNbio)
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:    0, // reuse the HTTP server's 4 KiB reader: no second buffer per connection
		WriteBufferSize:   4096,
		WriteBufferPool:   &sync.Pool{}, // idle connections hold no write buffer
		EnableCompression: !cfg.DisableCompression,
		CheckOrigin:       func(*http.Request) bool { return true }, // checked before Upgrade
	}
	return s, nil
}

func withDefaults(cfg Config) Config {
	d := DefaultConfig()
	if cfg.Path == "" {
		cfg.Path = d.Path
	}
	if cfg.Engine == "" {
		cfg.Engine = d.Engine
	}
	if len(cfg.Serializers) == 0 {
		cfg.Serializers = d.Serializers
	}
	if cfg.CompressionLevel == 0 {
		cfg.CompressionLevel = d.CompressionLevel
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = d.PingInterval
	}
	if cfg.PongTimeout == 0 {
		cfg.PongTimeout = d.PongTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = d.WriteTimeout
	}
	if cfg.ReadLimit == 0 {
		cfg.ReadLimit = d.ReadLimit
	}
	if cfg.HandshakeReadLimit == 0 {
		cfg.HandshakeReadLimit = d.HandshakeReadLimit
	}
	cfg.HandshakeReadLimit = min(cfg.HandshakeReadLimit, cfg.ReadLimit)
	if cfg.QueueMessages == 0 {
		cfg.QueueMessages = d.QueueMessages
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = d.QueueBytes
	}
	if cfg.SlowConsumerTimeout == 0 {
		cfg.SlowConsumerTimeout = d.SlowConsumerTimeout
	}
	if cfg.WarningInterval == 0 {
		cfg.WarningInterval = d.WarningInterval
	}
	return cfg
}

// Stats returns the transport's counters.
func (s *Server) Stats() *Stats { return &s.stats }

// Counters reads the counters for the metrics (transport.Metered).
func (s *Server) Counters() transport.Counters {
	c := transport.Counters{
		Transport: "websocket", Connections: s.stats.Connections.Load(),
		Accepted: s.stats.Accepted.Load(), Refused: s.stats.Refused.Load(),
		SlowConsumerDisconnects: s.stats.SlowConsumerDisconnects.Load(),
		BytesIn:                 s.stats.BytesIn.Load(), BytesOut: s.stats.BytesOut.Load(),
		TooBig: s.stats.TooBig.Load(), TooBigHandshake: s.stats.TooBigHandshake.Load(),
		TooBigKey: "websocket.max_message_size", TooBigHandshakeKey: "websocket.max_handshake_message_size",
		InvalidUTF8: s.stats.InvalidUTF8.Load(),
	}
	c.QueueHighMsgs, c.QueueHighBytes = s.QueueHighWater()
	c.PendingMsgs, c.PendingBytes = s.Pending()
	return c
}

// Handler serves the WebSocket endpoint at the configured path and GET /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(s.cfg.Path, s)
	mux.HandleFunc("GET /healthz", s.healthz)
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if s.closing.Load() || (s.ready != nil && !s.ready()) {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// ServeHTTP serves the WebSocket endpoint alone.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() {
		s.refuse(w, r, http.StatusServiceUnavailable, "router is shutting down")
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		s.refuse(w, r, http.StatusBadRequest, "this is a WAMP WebSocket endpoint: connect with a WebSocket client")
		return
	}
	if !s.originAllowed(r) {
		s.log.Info("websocket origin refused", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		s.refuse(w, r, http.StatusForbidden, "origin not allowed")
		return
	}
	ser := s.negotiate(websocket.Subprotocols(r))
	if ser == nil {
		s.refuse(w, r, http.StatusBadRequest, "unsupported WebSocket subprotocol: this WAMP router speaks "+s.protocols())
		return
	}
	info := transport.Info{
		Transport: "websocket", RemoteAddr: s.clientAddr(r), Subprotocol: ser.Subprotocol(),
		Compression: !s.cfg.DisableCompression && compressionOffered(r),
		Origin:      r.Header.Get("Origin"),
	}
	if cn, ok := transport.ClientCertName(r.TLS); ok {
		info.ClientCert = cn
	}
	if s.nb != nil && nbEligible(r) {
		s.serveNbio(w, r, ser, info)
		return
	}
	hdr := http.Header{"Sec-Websocket-Protocol": {ser.Subprotocol()}}
	hj := &hijacker{ResponseWriter: w}
	conn, err := s.upgrader.Upgrade(hj, r, hdr)
	if err != nil { // gorilla has answered the request
		s.stats.Refused.Add(1)
		s.log.Info("websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		return
	}
	// The session runs on a goroutine of its own so that this one, with the
	// HTTP server's frames and request on its stack, can end: an idle
	// session then holds one small stack.
	s.wg.Add(1)
	go s.serveConn(s.newPeer(conn, hj.conn, ser, info))
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.stats.Refused.Add(1)
	s.log.Debug("websocket handshake refused", "remote", r.RemoteAddr, "status", status, "reason", msg)
	http.Error(w, msg, status)
}

// negotiate picks the first subprotocol the client offers that is enabled.
func (s *Server) negotiate(offered []string) serializers.Serializer {
	for _, p := range offered {
		for _, ser := range s.enabled {
			if ser.Subprotocol() == p {
				return ser
			}
		}
	}
	return nil
}

func (s *Server) protocols() string {
	names := make([]string, len(s.enabled))
	for i, ser := range s.enabled {
		names[i] = ser.Subprotocol()
	}
	return strings.Join(names, ", ")
}

// originAllowed: no Origin (not a browser), same origin, or a configured glob.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return slices.ContainsFunc(s.cfg.AllowedOrigins, func(p string) bool {
		ok, _ := path.Match(p, origin)
		return ok
	})
}

// parseNet parses an address or a CIDR range.
func parseNet(s string) (*net.IPNet, error) {
	if _, n, err := net.ParseCIDR(s); err == nil {
		return n, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("%q is neither an IP address nor a CIDR range", s)
	}
	bits := 8 * len(ip.To16())
	if ip.To4() != nil {
		ip, bits = ip.To4(), 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
}

// TrustedProxy reports whether ip is one of the configured trusted proxies,
// whose clients are told apart by X-Forwarded-For.
func (s *Server) TrustedProxy(ip net.IP) bool { return s.trusted(ip) }

func (s *Server) trusted(ip net.IP) bool {
	for _, n := range s.proxies {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// ClientAddr is the address of the client of r as the WebSocket endpoint
// counts it: the TCP peer, or behind trusted proxies the rightmost
// X-Forwarded-For entry that is not itself one. Other HTTP endpoints on
// the same listener (the HTTP bridge) use it for the same limits.
func (s *Server) ClientAddr(r *http.Request) string { return s.clientAddr(r) }

// clientAddr is the request's client address: behind trusted proxies, the
// rightmost X-Forwarded-For entry that is not itself a trusted proxy.
func (s *Server) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || len(s.proxies) == 0 || !s.trusted(net.ParseIP(host)) {
		return r.RemoteAddr
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(h, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip := net.ParseIP(hops[i])
		if ip == nil {
			break
		}
		if !s.trusted(ip) {
			return hops[i]
		}
	}
	return r.RemoteAddr
}

// compressionOffered reports whether the client offered permessage-deflate,
// which is when gorilla's Upgrader enables it.
func compressionOffered(r *http.Request) bool {
	for _, h := range r.Header.Values("Sec-Websocket-Extensions") {
		for ext := range strings.SplitSeq(h, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(ext), ";")
			if strings.TrimSpace(name) == "permessage-deflate" {
				return true
			}
		}
	}
	return false
}

// Shutdown refuses new connections and waits until every connection it
// served has ended, or ctx is done. It does not close sessions: the router
// does that (GOODBYE, then close 1001); CloseAll closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
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

// wsPeer is a connection of either engine, as the server's books keep it.
// untrack takes a closed peer of either engine off the server's books,
// keeping its queue's high-water marks.
func (s *Server) untrack(p wsPeer) {
	m, b := p.queue().HighWater()
	storeMax(&s.stats.closedHighMsgs, int64(m))
	storeMax(&s.stats.closedHighBytes, int64(b))
	s.mu.Lock()
	delete(s.peers, p)
	s.mu.Unlock()
	s.stats.Connections.Add(-1)
}

type wsPeer interface {
	queue() *transport.Queue
	Close(code transport.CloseCode, reason string)
}

// closeAll is what CloseAll closed connections with.
type closeAll struct {
	code   transport.CloseCode
	reason string
}

// CloseAll closes every open connection with code and reason, and any
// connection accepted afterwards.
func (s *Server) CloseAll(code transport.CloseCode, reason string) {
	s.mu.Lock()
	s.closedAll = &closeAll{code, reason}
	all := make([]wsPeer, 0, len(s.peers))
	for p := range s.peers {
		all = append(all, p)
	}
	s.mu.Unlock()
	for _, p := range all {
		p.Close(code, reason)
	}
}
