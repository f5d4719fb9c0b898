package main

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
	"time"

	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/metrics"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/websocket"
)

// server is the router and its WebSocket transport, built from one config.
type server struct {
	cfg    *config
	log    *slog.Logger
	router *router.Router
	ws     *websocket.Server
	node   *cluster.Node            // nil: a single node
	conns  *transport.ListenerStats // nil until serve listens
}

// newServer builds the router and the WebSocket server. It fails only on
// config the packages refuse.
func newServer(cfg *config, logger *slog.Logger) (*server, error) {
	r, err := router.New(cfg.Router, router.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	ws, err := websocket.NewServer(cfg.WebSocket, r, websocket.Options{Logger: logger, Ready: r.Serving})
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = r.Shutdown(ctx) // no sessions yet
		return nil, err
	}
	return &server{cfg: cfg, log: logger, router: r, ws: ws}, nil
}

// serve listens on cfg.Listen and serves until ctx is done, then shuts down
// within cfg.ShutdownGrace. listening, if set, is told the bound address.
func (s *server) serve(ctx context.Context, listening func(addr string), reload <-chan struct{}) error {
	if err := s.joinCluster(); err != nil {
		s.shutdown(nil)
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		s.shutdown(nil)
		return err
	}
	ln = s.limitConnections(ln)
	scheme := "ws"
	if s.cfg.TLSCert != "" {
		certs, err := newCertReloader(s.cfg.TLSCert, s.cfg.TLSKey)
		if err == nil {
			var tc *tls.Config
			if tc, err = tlsConfig(s.cfg, certs); err == nil {
				ln = tls.NewListener(ln, tc)
				scheme = "wss"
				go s.reloadOn(ctx, reload, certs)
			}
		}
		if err != nil {
			_ = ln.Close()
			s.shutdown(nil)
			return err
		}
	}
	mhs, _, err := s.serveMetrics()
	if err != nil {
		_ = ln.Close()
		s.shutdown(nil)
		return err
	}
	if mhs != nil {
		defer mhs.Close()
	}
	hs := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	addr := ln.Addr().String()
	s.log.Info("junction listening", "addr", addr, "path", s.cfg.WebSocket.Path,
		"realms", s.realmNames(), "serializers", s.cfg.WebSocket.Serializers, "version", version, "scheme", scheme)
	if s.cfg.Web.Dir != "" {
		s.log.Info("serving static files", "dir", s.cfg.Web.Dir, "prefix", s.cfg.Web.Prefix)
	}
	if listening != nil {
		listening(addr)
	}

	select {
	case err = <-served: // the listener failed
	case <-ctx.Done():
		s.log.Info("shutting down", "grace", s.cfg.ShutdownGrace)
	}
	s.shutdown(hs)
	s.log.Info("junction stopped")
	return err
}

// handler is the WebSocket endpoint and /healthz, with [web] dir set the
// static files under [web] prefix beside them, and the metrics at [metrics]
// path unless they have a listener of their own.
func (s *server) handler() http.Handler {
	wsh := s.ws.Handler()
	withMetrics := s.cfg.Metrics.Path != "" && s.cfg.Metrics.Listen == ""
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
		mux.Handle("GET "+s.cfg.Metrics.Path, metrics.Handler(s.router, s.ws, s.conns))
	}
	return mux
}

// serveMetrics serves the metrics on [metrics] listen. It returns the
// server to close and its address, or nil when the metrics share the
// router's address (or are off).
func (s *server) serveMetrics() (*http.Server, string, error) {
	if s.cfg.Metrics.Path == "" || s.cfg.Metrics.Listen == "" {
		return nil, "", nil
	}
	ln, err := net.Listen("tcp", s.cfg.Metrics.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("metrics.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+s.cfg.Metrics.Path, metrics.Handler(s.router, s.ws, s.conns))
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

// shutdown ends every session with GOODBYE wamp.close.system_shutdown and
// close code 1001, waits for the connections to end, then stops the HTTP
// server (if any), all within cfg.ShutdownGrace. What is left then is closed.
func (s *server) shutdown(hs *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	rerr := s.router.Shutdown(ctx)
	werr := s.ws.Shutdown(ctx)
	if werr != nil {
		s.ws.CloseAll(transport.CloseGoingAway, "router shutting down")
	}
	var herr error
	if hs != nil {
		if herr = hs.Shutdown(ctx); herr != nil {
			_ = hs.Close()
		}
	}
	if err := errors.Join(rerr, werr, herr); err != nil {
		s.log.Warn("shutdown incomplete within the grace period; connections closed", "error", err)
	}
	if s.node != nil {
		s.node.Close() // after the sessions left, so the others heard of it
	}
}

// joinCluster starts the [cluster] node, if configured, before any session
// is accepted.
func (s *server) joinCluster() error {
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
	s.node = node
	// A message crosses nodes inside an envelope: leave it 64 KiB.
	if limit := node.MaxPayload(); s.cfg.WebSocket.ReadLimit > limit-64<<10 {
		s.log.Warn("NATS takes smaller messages than websocket.max_message_size: calls and events larger than it fail between nodes",
			"nats_max_payload", limit, "max_message_size", s.cfg.WebSocket.ReadLimit)
	}
	s.log.Info("cluster node started", "node", node.ID(), "cluster", s.cfg.Cluster.Name,
		"nats", cmp.Or(s.cfg.Cluster.NATSURL, node.ClientURL()), "routes", node.ClusterURL())
	return nil
}

// limitConnections bounds the connections ln holds ([server]
// max_connections, max_connections_per_address), trusted proxies exempt
// from the per-address bound. The total is lowered to what the file
// descriptor limit leaves room for.
func (s *server) limitConnections(ln net.Listener) net.Listener {
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
	ln, s.conns = transport.LimitListener(ln, limits, s.log)
	return ln
}

// fdReserve is how many file descriptors are kept for what is not a client
// connection: listeners, the cluster's NATS connections, files, logs.
const fdReserve = 256

// reloadOn reads the certificate again each time reload fires.
func (s *server) reloadOn(ctx context.Context, reload <-chan struct{}, certs *certReloader) {
	for {
		select {
		case <-reload:
			if err := certs.reload(); err != nil {
				s.log.Error("TLS certificate not reloaded; keeping the current one", "error", err)
			} else {
				s.log.Info("TLS certificate reloaded", "cert", s.cfg.TLSCert)
			}
		case <-ctx.Done():
			return
		}
	}
}

func (s *server) realmNames() []string {
	names := make([]string, len(s.cfg.Router.Realms))
	for i, rc := range s.cfg.Router.Realms {
		names[i] = rc.Name
	}
	return names
}
