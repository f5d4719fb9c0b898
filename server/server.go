// Package server is a Junction WAMP router ready to serve: the router, its
// WebSocket transport, TLS with certificate reload, static files, metrics,
// connection limits and the cluster node, built from one Config. It is what
// the junction binary runs, for Go programs that embed the router.
//
// The shortest embedding serves the zero Config (realm "realm1", anonymous)
// on a listener of one's own:
//
//	srv, err := server.New(server.Config{}, server.Options{})
//	...
//	ln, err := net.Listen("tcp", "127.0.0.1:8080")
//	...
//	err = srv.Serve(ctx, ln) // until ctx is done, then shuts down
//
// Package config loads a Config from the binary's config.toml.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junction-wamp/junction/bridge"
	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/internal/buildinfo"
	"github.com/junction-wamp/junction/metrics"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/transport/websocket"
)

// Options are what a Server gets besides its Config.
type Options struct {
	// Logger receives the server's logs. Nil: slog.Default().
	Logger *slog.Logger
	// Version is logged when the server starts listening. Default "dev".
	Version string
	// Listening, if set, is called with the bound address once Serve
	// accepts connections.
	Listening func(addr string)
	// RawSocketListening, if set, is called with the network ("tcp",
	// "unix") and address of each RawSocket listener of its own
	// (RawSocketConfig.Listen, Unix) once Serve accepts on it.
	RawSocketListening func(network, addr string)
}

// Server is the router and its WebSocket transport, built from one Config.
// Serve (or ListenAndServe) runs it once; Handler mounts it on an
// http.ServeMux of one's own instead.
type Server struct {
	cfg       Config
	log       *slog.Logger
	version   string
	listening func(addr string)
	rsListen  func(network, addr string)
	router    *router.Router
	ws        *websocket.Server
	rs        *rawsocket.Server
	bridge    *bridge.Bridge
	hooks     *webhook.Set
	served    atomic.Bool

	mu      sync.Mutex
	closed  bool                     // Shutdown has begun
	node    *cluster.Node            // nil: a single node
	conns   *transport.ListenerStats // nil until Serve limits a listener
	limiter *transport.Limiter       // the connection limits of every listener
	hs      *http.Server             // nil until Serve serves
	mhs     *http.Server             // the metrics' own server, if any
	certs   *certReloader            // nil until the TLS certificate is loaded
	tls     *tls.Config
	running Config // cfg with the router config Reload last applied

	reloadMu sync.Mutex // one Reload at a time

	shutdownOnce sync.Once
	shutdownErr  error
}

// New builds the router and the WebSocket server from cfg, whose zero
// fields take their defaults. It fails only on config the router or the
// transport refuse; it neither listens nor joins the cluster (Serve does).
func New(cfg Config, opts Options) (*Server, error) {
	cfg = cfg.withDefaults()
	logger := cmp.Or(opts.Logger, slog.Default())
	r, err := router.New(cfg.Router, router.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	ws, err := websocket.NewServer(cfg.WebSocket, r, websocket.Options{Logger: logger, Ready: r.Serving})
	var rs *rawsocket.Server
	if err == nil {
		rs, err = rawsocket.NewServer(cfg.RawSocket.Transport, r, rawsocket.Options{Logger: logger})
	}
	if err == nil && cfg.RawSocket.TLS && cfg.TLSCert == "" {
		err = errors.New("rawsocket.tls needs server.tls_cert and server.tls_key")
	}
	if err == nil {
		err = cfg.Webhooks.Validate()
	}
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = r.Shutdown(ctx) // no sessions yet
		return nil, err
	}
	s := &Server{cfg: cfg, running: cfg, log: logger, version: cmp.Or(opts.Version, "dev"), listening: opts.Listening,
		rsListen: opts.RawSocketListening, router: r, ws: ws, rs: rs,
		hooks: webhook.New(r, webhook.Options{Logger: logger, WarningInterval: cfg.Router.LimitWarningInterval})}
	if s.bridge, err = bridge.New(s.BridgeConfig(cfg.Bridge), bridge.Options{Handler: s, Logger: logger,
		Failures: r, ClientAddr: ws.ClientAddr}); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
		return nil, err
	}
	return s, nil
}

// Bridge returns the server's HTTP bridge; Apply it a config made by
// BridgeConfig to change its endpoints while the server runs.
func (s *Server) Bridge() *bridge.Bridge { return s.bridge }

// BridgeConfig returns bc with the router's realms (Config.Router) set, as
// the bridge checks endpoints and finds tickets against them.
func (s *Server) BridgeConfig(bc bridge.Config) bridge.Config {
	rc := s.Config().Router // the realms of the last reload
	bc.Realms = rc.Realms
	bc.AutoCreateRealms = rc.AutoCreateRealms
	return bc
}

// Webhooks returns the server's webhooks (Config.Webhooks), which Serve
// starts; their Apply changes them while the server runs.
func (s *Server) Webhooks() *webhook.Set { return s.hooks }

// Router returns the server's router.
func (s *Server) Router() *router.Router { return s.router }

// ServePeer runs a session of p on the server's router: it makes a Server a
// transport.Handler, so that clientlib.ConnectLocal can join it in-process
// (passing s or s.Router() is the same). The session takes part in
// Shutdown like a WebSocket one.
func (s *Server) ServePeer(p transport.Peer) { s.router.ServePeer(p) }

// Config returns the config the server runs with, defaults filled in: the
// one it was built with, with the router config the last Reload applied.
func (s *Server) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// ListenAndServe listens on Config.Listen and serves until ctx is done (see
// Serve).
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		s.shutdownNow()
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves ln until ctx is done, then shuts down within
// Config.ShutdownGrace, and returns; it can be called once. It joins the
// cluster first, if one is configured, bounds the connections ln accepts
// (Config.Connections), serves TLS on it when Config.TLSCert is set, and
// serves the metrics on their own listener when Config.Metrics.Listen is
// set. It returns nil after ctx is done or Shutdown, and an error if it
// could not start or ln failed (having shut down all the same).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !s.served.CompareAndSwap(false, true) {
		_ = ln.Close()
		return errors.New("server: Serve called twice")
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed { // Shutdown came first
		_ = ln.Close()
		return nil
	}
	fail := func(err error) error {
		_ = ln.Close()
		s.shutdownNow()
		return err
	}
	if err := s.joinCluster(); err != nil {
		return fail(err)
	}
	if err := s.startWebhooks(ctx); err != nil {
		return fail(err)
	}
	ln = s.limitConnections(ln, nil)
	scheme := "ws"
	var tc *tls.Config
	if s.cfg.TLSCert != "" {
		var err error
		if tc, err = s.TLSConfig(); err != nil {
			return fail(err)
		}
		ln = tls.NewListener(ln, tc)
		scheme = "wss"
	}
	if !s.cfg.RawSocket.NotShared {
		ln = rawsocket.Shared(ln, s.rs, s.cfg.ReadHeaderTimeout)
	}
	rsLns, err := s.rawSocketListeners(tc)
	if err != nil {
		return fail(err)
	}
	mhs, err := s.serveMetrics()
	if err != nil {
		closeAll(rsLns)
		return fail(err)
	}
	hs := &http.Server{
		Handler:           withTLSState(s.handler()),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext:       connContext,
	}
	s.mu.Lock()
	closed = s.closed
	s.hs, s.mhs = hs, mhs
	node := s.node
	s.mu.Unlock()
	if closed { // Shutdown came while Serve was starting
		if mhs != nil {
			_ = mhs.Close()
		}
		if node != nil {
			node.Close()
		}
		closeAll(rsLns)
		_ = ln.Close()
		return nil
	}
	served := make(chan error, 1+len(rsLns))
	go func() { served <- hs.Serve(ln) }()
	for _, l := range rsLns {
		go func() { served <- s.rs.Serve(l) }()
	}

	addr := ln.Addr().String()
	s.log.Info("junction listening", "addr", addr, "path", s.cfg.WebSocket.Path,
		"realms", s.realmNames(), "serializers", s.cfg.WebSocket.Serializers, "version", s.version, "scheme", scheme,
		"rawsocket", !s.cfg.RawSocket.NotShared)
	for _, l := range rsLns {
		s.log.Info("rawsocket listening", "network", l.Addr().Network(), "addr", l.Addr().String(),
			"tls", l.Addr().Network() == "tcp" && s.cfg.RawSocket.TLS, "serializers", s.rs.Config().Serializers)
		if s.rsListen != nil {
			s.rsListen(l.Addr().Network(), l.Addr().String())
		}
	}
	if s.cfg.Web.Dir != "" {
		s.log.Info("serving static files", "dir", s.cfg.Web.Dir, "prefix", s.cfg.Web.Prefix)
	}
	if s.listening != nil {
		s.listening(addr)
	}

	select {
	case err = <-served: // the listener failed, or Shutdown
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	case <-ctx.Done():
		s.log.Info("shutting down", "grace", s.cfg.ShutdownGrace)
	}
	s.shutdownNow()
	s.log.Info("junction stopped")
	return err
}

// Handler is the WebSocket endpoint (Config.WebSocket.Path) and /healthz,
// the HTTP bridge's endpoints (Config.Bridge; they come first),
// with Config.Web.Dir set the static files under Config.Web.Prefix beside
// them, and the metrics at Config.Metrics.Path unless they have a listener
// of their own. Mount it on a mux of one's own (at "/", or at the paths it
// serves); the server then serves through that mux, and Shutdown ends its
// sessions. Handler alone joins no cluster: only Serve does.
func (s *Server) Handler() http.Handler { return s.handler() }

func (s *Server) handler() http.Handler {
	h := s.mux()
	// The server's own paths win over a bridge endpoint that Apply put
	// there (config.Load refuses such a config; Apply does not know them).
	own := map[string]bool{s.cfg.WebSocket.Path: true, "/healthz": true}
	if !s.cfg.Metrics.Off && s.cfg.Metrics.Listen == "" {
		own[s.cfg.Metrics.Path] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !own[r.URL.Path] && s.bridge.Handles(r.URL.Path) {
			s.bridge.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// mux serves what handler serves beside the bridge.
func (s *Server) mux() http.Handler {
	wsh := s.ws.Handler()
	withMetrics := !s.cfg.Metrics.Off && s.cfg.Metrics.Listen == ""
	if s.cfg.Web.Dir == "" && !withMetrics {
		return wsh
	}
	mux := http.NewServeMux()
	mux.Handle(s.cfg.WebSocket.Path, wsh)
	mux.Handle("/healthz", wsh)
	if s.cfg.Web.Dir != "" {
		prefix := s.cfg.Web.Prefix
		mux.Handle(prefix, http.StripPrefix(strings.TrimSuffix(prefix, "/"), staticFiles(s.cfg.Web.Dir)))
	}
	if withMetrics {
		s.mu.Lock()
		conns := s.conns
		s.mu.Unlock()
		mux.Handle("GET "+s.cfg.Metrics.Path, s.metricsHandler(conns))
	}
	return mux
}

// serveMetrics serves the metrics on Config.Metrics.Listen. It returns the
// server to close, or nil when the metrics share the router's address (or
// are off).
func (s *Server) serveMetrics() (*http.Server, error) {
	hs, _, err := s.serveMetricsAt()
	return hs, err
}

// serveMetricsAt is serveMetrics, and the address the metrics are served on.
func (s *Server) serveMetricsAt() (*http.Server, string, error) {
	if s.cfg.Metrics.Off || s.cfg.Metrics.Listen == "" {
		return nil, "", nil
	}
	ln, err := net.Listen("tcp", s.cfg.Metrics.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("metrics.listen: %w", err)
	}
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	mux := http.NewServeMux()
	mux.Handle("GET "+s.cfg.Metrics.Path, s.metricsHandler(conns))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: s.cfg.ReadHeaderTimeout, IdleTimeout: s.cfg.IdleTimeout,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	go func() { _ = hs.Serve(ln) }()
	s.log.Info("serving metrics", "addr", ln.Addr().String(), "path", s.cfg.Metrics.Path)
	return hs, ln.Addr().String(), nil
}

// staticFiles serves the files of dir to GET and HEAD: no directory
// listings (a directory is served only through its index.html), nothing
// whose path has a segment starting with "." (.git, .env), and
// "Cache-Control: no-cache", so that browsers revalidate each file
// (If-Modified-Since, answered 304 while it is unchanged) and an edited page
// shows on the next reload.
func staticFiles(dir string) http.Handler {
	files := http.FileServer(noListing{http.Dir(dir)})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if slices.ContainsFunc(strings.Split(r.URL.Path, "/"), func(seg string) bool { return strings.HasPrefix(seg, ".") }) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// noListing is a file system whose directories open only when they have an
// index.html, which http.FileServer then serves in place of a listing.
type noListing struct{ fs http.FileSystem }

func (n noListing) Open(name string) (http.File, error) {
	f, err := n.fs.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.IsDir() {
		return f, nil
	}
	if err == nil {
		if index, err := n.fs.Open(path.Join(name, "index.html")); err == nil {
			_ = index.Close()
			return f, nil
		}
	}
	_ = f.Close()
	return nil, fs.ErrNotExist
}

// Shutdown drains the router (router.Router.Shutdown: no new session, the
// drain announced to the other nodes of a cluster, the calls in flight
// finished), ends every session with GOODBYE wamp.close.system_shutdown
// and close code 1001, waits for the connections to end, then stops the
// HTTP servers, all within ctx; what is left then is closed, and the error
// says so. It leaves the cluster last, so that the other nodes heard of
// the sessions leaving and drop this node at once. Serve returns once Shutdown is done. Later calls
// return the first one's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

// shutdownNow shuts down within Config.ShutdownGrace.
func (s *Server) shutdownNow() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	_ = s.Shutdown(ctx)
}

func (s *Server) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	hs, mhs, node := s.hs, s.mhs, s.node
	s.mu.Unlock()
	// The webhooks drain beside the router: a callee webhook answers the
	// calls in flight that the router waits for.
	herrc := make(chan error, 1)
	go func() { herrc <- s.hooks.Shutdown(ctx) }()
	rerr := s.router.Shutdown(ctx)
	rerr = errors.Join(rerr, s.bridge.Shutdown(ctx)) // after the calls in flight were drained
	<-herrc
	werr := errors.Join(s.ws.Shutdown(ctx), s.rs.Shutdown(ctx))
	if werr != nil {
		s.ws.CloseAll(transport.CloseGoingAway, "router shutting down")
		s.rs.CloseAll()
	}
	var herr error
	if hs != nil {
		if herr = hs.Shutdown(ctx); herr != nil {
			_ = hs.Close()
		}
	}
	if mhs != nil {
		_ = mhs.Close()
	}
	err := errors.Join(rerr, werr, herr)
	if err != nil {
		s.log.Warn("shutdown incomplete within the grace period; connections closed", "error", err)
	}
	if node != nil {
		node.Close() // after the sessions left, so the others heard of it
	}
	return err
}

// metricsHandler serves the metrics, with those of the listeners whose
// stats conns are (nil if none is limited).
func (s *Server) metricsHandler(conns *transport.ListenerStats) http.Handler {
	var links metrics.LinkSource // nil: no junction_cluster_* series on a single node
	if s.cfg.Cluster != nil {
		links = s.linkStats
	}
	return metrics.HandlerWith([]prometheus.Collector{metrics.BridgeRequests(s.bridge.Requests), s.hooks}, s.router, buildinfo.Read(s.version), conns, links, s.ws, s.rs)
}

// startWebhooks starts Config.Webhooks, within ten seconds: a webhook
// that cannot join its realm, or subscribe or register there, stops the
// server from starting.
func (s *Server) startWebhooks(ctx context.Context) error {
	hooks := s.Config().Webhooks // a reload before Serve may have changed them
	if len(hooks.Subscribers)+len(hooks.Callees) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, webhookStart)
	defer cancel()
	return s.hooks.Apply(ctx, hooks)
}

// linkStats reads the counts of the cluster node's links, if it is one.
func (s *Server) linkStats() (cluster.LinkStats, bool) {
	s.mu.Lock()
	node := s.node
	s.mu.Unlock()
	if node == nil {
		return cluster.LinkStats{}, false
	}
	return node.LinkStats(), true
}

// joinCluster starts the cluster node, if configured, before any session
// is accepted.
func (s *Server) joinCluster() error {
	if s.cfg.Cluster == nil {
		return nil
	}
	node, err := cluster.Start(*s.cfg.Cluster, s.log)
	if err != nil {
		return err
	}
	if err := node.Run(s.router.AttachCluster(node)); err != nil {
		node.Close()
		return fmt.Errorf("cluster: %w", err)
	}
	s.mu.Lock()
	s.node = node
	s.mu.Unlock()
	// A message crosses nodes inside an envelope: leave it 64 KiB.
	if limit := node.MaxPayload(); s.cfg.WebSocket.ReadLimit > limit-64<<10 {
		s.log.Warn("NATS takes smaller messages than websocket.max_message_size: calls and events larger than it fail between nodes",
			"nats_max_payload", limit, "max_message_size", s.cfg.WebSocket.ReadLimit)
	}
	s.log.Info("cluster node started", "node", node.ID(), "cluster", s.cfg.Cluster.Name,
		"nats", cmp.Or(s.cfg.Cluster.NATSURL, node.ClientURL()), "routes", node.ClusterURL())
	s.awaitClusterState(node)
	return nil
}

// awaitClusterState waits, before the node serves, until it holds the state
// of every node it hears from: a heartbeat interval and a quarter to hear
// from them all, then their snapshots; node_timeout at most. A client sent
// to a node that just started (a rolling restart behind a load balancer)
// then finds every procedure and subscriber of the cluster at once;
// connections made meanwhile wait in the listen backlog.
func (s *Server) awaitClusterState(node *cluster.Node) {
	start := time.Now()
	heard := start.Add(node.HeartbeatInterval() * 5 / 4)
	deadline := start.Add(node.NodeTimeout())
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		members := node.Members()
		now := time.Now()
		if now.After(heard) && s.router.ClusterSynced(members) {
			s.log.Info("cluster state received", "nodes", len(members), "took", now.Sub(start).Round(time.Millisecond))
			return
		}
		if now.After(deadline) {
			s.log.Warn("serving without the state of every cluster node: some procedures and subscribers may be missing for a moment",
				"nodes", len(members), "waited", now.Sub(start).Round(time.Millisecond))
			return
		}
		<-tick.C
	}
}

// limitConnections bounds the connections ln holds (Config.Connections),
// trusted proxies exempt from the per-address bound, counted with those of
// every other listener of the server. The total is lowered to what the
// file descriptor limit leaves room for. refused, if set, answers a
// connection past the limits (transport.Limiter.Listener).
func (s *Server) limitConnections(ln net.Listener, refused func(net.Conn)) net.Listener {
	s.mu.Lock()
	lim := s.limiter
	s.mu.Unlock()
	if lim != nil {
		return lim.Listener(ln, refused)
	}
	limits := s.cfg.Connections
	limits.Exempt = s.ws.TrustedProxy
	if fds, ok := fileLimit(); ok {
		room := int(fds) - fdReserve
		if limits.Connections < 0 || limits.Connections > room {
			s.log.Warn("server.max_connections lowered to what the file descriptor limit leaves room for",
				"max_connections", max(room, 1), "ulimit_n", fds)
			limits.Connections = max(room, 1)
		}
	}
	lim = transport.NewLimiter(limits, s.log)
	s.mu.Lock()
	s.limiter, s.conns = lim, lim.Stats()
	s.mu.Unlock()
	return lim.Listener(ln, refused)
}

// fdReserve is how many file descriptors are kept for what is not a client
// connection: listeners, the cluster's NATS connections, files, logs.
const fdReserve = 256

// TLSConfig returns the TLS config Serve serves with: TLS 1.2 or later, the
// certificate of Config.TLSCert and TLSKey (read once, then again by
// ReloadCertificate), client certificates verified against
// Config.TLSClientCA when it is set. It is nil, with no error, when
// Config.TLSCert is "".
func (s *Server) TLSConfig() (*tls.Config, error) {
	if s.cfg.TLSCert == "" {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tls != nil {
		return s.tls, nil
	}
	certs, err := newCertReloader(s.cfg.TLSCert, s.cfg.TLSKey)
	if err != nil {
		return nil, err
	}
	tc, err := tlsConfig(&s.cfg, certs)
	if err != nil {
		return nil, err
	}
	s.certs, s.tls = certs, tc
	return tc, nil
}

// ReloadCertificate reads Config.TLSCert and TLSKey again (the junction
// binary does on SIGHUP): new handshakes get the new certificate, open
// connections keep theirs. On failure the current certificate stays.
func (s *Server) ReloadCertificate() error {
	if s.cfg.TLSCert == "" {
		return errors.New("server: no TLS certificate configured")
	}
	s.mu.Lock()
	certs := s.certs
	s.mu.Unlock()
	if certs == nil {
		_, err := s.TLSConfig() // not loaded yet: the first load
		return err
	}
	return certs.reload()
}

func (s *Server) realmNames() []string {
	names := make([]string, len(s.cfg.Router.Realms))
	for i, rc := range s.cfg.Router.Realms {
		names[i] = rc.Name
	}
	return names
}
