package main

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/websocket"
)

// readHeaderTimeout bounds how long a client may take to send its HTTP
// request headers (the WebSocket handshake or GET /healthz).
const readHeaderTimeout = 10 * time.Second

// server is the router and its WebSocket transport, built from one config.
type server struct {
	cfg    *config
	log    *slog.Logger
	router *router.Router
	ws     *websocket.Server
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
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		s.shutdown(nil)
		return err
	}
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
	hs := &http.Server{
		Handler:           s.ws.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	addr := ln.Addr().String()
	s.log.Info("junction listening", "addr", addr, "path", s.cfg.WebSocket.Path,
		"realms", s.realmNames(), "serializers", s.cfg.WebSocket.Serializers, "version", version, "scheme", scheme)
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
}

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
