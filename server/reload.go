package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/junction-wamp/junction/router"
)

// reloadPart is a part of the server that Reload reconfigures. prepare
// checks cfg and returns the function that applies it (nil: nothing to
// apply), without changing anything; Reload applies no part unless every
// part prepared without error, so an invalid config changes nothing.
// Adding a reconfigurable component is adding one part.
type reloadPart struct {
	name string
	// prepare may note in res what it will do (res is filled in as the
	// parts apply).
	prepare func(cfg *Config, res *ReloadResult) (apply func(), err error)
}

// reloadParts are the parts of s that Reload reconfigures, in the order
// they are applied.
func (s *Server) reloadParts() []reloadPart {
	return []reloadPart{
		{"tls", s.prepareCertificate},
		{"router", s.prepareRouter},
		{"bridge", s.prepareBridge},
		{"webhooks", s.prepareWebhooks},
	}
}

// ReloadResult is what Reload did. Its NeedsRestart names the server's
// settings as well as the router's.
type ReloadResult = router.ReloadResult

// Reload applies cfg to the running server without ending the sessions
// it lets stay (the junction binary calls it on SIGHUP, with the config
// file read again). It checks every part first: if cfg is invalid it
// changes nothing and returns every error. Then it reads the TLS
// certificate files again and applies the router's part (router.Router's
// PreparedReload.Apply: realms, authentication, principals, roles, rules
// and limits, and what happens to the sessions). Settings that cannot
// change without a restart (listeners, TLS file paths, transports,
// connection limits, static files, metrics, cluster, logging, timeouts of
// the HTTP server, and the router's event store bounds) keep their
// running values and are named in the result and in the log as "needs a
// restart; not applied". Reloads are serialized.
func (s *Server) Reload(cfg Config) (ReloadResult, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg = cfg.withDefaults()
	restart := s.restartOnly(&cfg)
	var errs []error
	var applies []func()
	var res ReloadResult
	for _, p := range s.reloadParts() {
		apply, err := p.prepare(&cfg, &res)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
			continue
		}
		if apply != nil {
			applies = append(applies, apply)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ReloadResult{}, err
	}
	for _, apply := range applies {
		apply()
	}
	res.NeedsRestart = append(restart, res.NeedsRestart...)
	for _, name := range res.NeedsRestart {
		s.log.Warn("config reload: setting changed, needs a restart; not applied", "setting", name)
	}
	s.mu.Lock()
	s.running.Router = cfg.Router
	s.running.Bridge = cfg.Bridge
	s.running.Webhooks = cfg.Webhooks
	s.mu.Unlock()
	return res, nil
}

// restartOnly names the settings of cfg that differ from the running ones
// and need a restart. cfg keeps them as they are: only Router (and the
// certificate's content) is applied.
func (s *Server) restartOnly(cfg *Config) []string {
	cur := s.cfg
	var names []string
	diff := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			names = append(names, name)
		}
	}
	diff("server.listen", cur.Listen, cfg.Listen)
	diff("server.tls_cert", cur.TLSCert, cfg.TLSCert)
	diff("server.tls_key", cur.TLSKey, cfg.TLSKey)
	diff("server.tls_client_ca", cur.TLSClientCA, cfg.TLSClientCA)
	diff("server.shutdown_grace", cur.ShutdownGrace, cfg.ShutdownGrace)
	diff("server.read_header_timeout", cur.ReadHeaderTimeout, cfg.ReadHeaderTimeout)
	diff("server.idle_timeout", cur.IdleTimeout, cfg.IdleTimeout)
	diff("server connection limits", cur.Connections, cfg.Connections)
	diff("log", []any{cur.LogFormat, cur.LogLevel, cur.LogMaxField}, []any{cfg.LogFormat, cfg.LogLevel, cfg.LogMaxField})
	diff("websocket", cur.WebSocket, cfg.WebSocket)
	diff("rawsocket", cur.RawSocket, cfg.RawSocket)
	diff("web", cur.Web, cfg.Web)
	diff("metrics", cur.Metrics, cfg.Metrics)
	diff("cluster", cur.Cluster, cfg.Cluster)
	return names
}

// prepareCertificate reads the TLS certificate files again, when the server
// has TLS and their paths did not change; the certificate is swapped at
// apply. A certificate that does not load fails the whole reload.
func (s *Server) prepareCertificate(cfg *Config, _ *ReloadResult) (func(), error) {
	if s.cfg.TLSCert == "" || cfg.TLSCert != s.cfg.TLSCert || cfg.TLSKey != s.cfg.TLSKey {
		return nil, nil
	}
	s.mu.Lock()
	certs := s.certs
	s.mu.Unlock()
	if certs == nil { // not loaded yet: Serve will
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certs.certFile, certs.keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading %s and %s: %w", certs.certFile, certs.keyFile, err)
	}
	return func() {
		certs.set(&cert)
		s.log.Info("TLS certificate reloaded", "cert", certs.certFile)
	}, nil
}

// prepareRouter checks the router's part of cfg (router.Router.PrepareReload).
func (s *Server) prepareRouter(cfg *Config, res *ReloadResult) (func(), error) {
	p, err := s.router.PrepareReload(cfg.Router)
	if err != nil {
		return nil, err
	}
	return func() { *res = p.Apply() }, nil
}

// prepareBridge checks the HTTP bridge's part of cfg against cfg's realms
// (bridge.Bridge.Prepare): endpoints, keys and limits change at apply,
// the bridge sessions of identities cfg still has are kept.
func (s *Server) prepareBridge(cfg *Config, _ *ReloadResult) (func(), error) {
	bc := cfg.Bridge
	bc.Realms = cfg.Router.Realms
	bc.AutoCreateRealms = cfg.Router.AutoCreateRealms
	return s.bridge.Prepare(bc)
}

// webhookStart bounds starting the webhooks a reload adds or changes.
const webhookStart = 10 * time.Second

// prepareWebhooks checks the webhooks of cfg; at apply, the ones added or
// changed start and the ones removed stop (webhook.Set.Apply), those
// unchanged run on untouched. A webhook that cannot start then (its realm's
// new roles deny it, say) is logged and does not run; the rest of the
// reload stays applied.
func (s *Server) prepareWebhooks(cfg *Config, _ *ReloadResult) (func(), error) {
	if err := cfg.Webhooks.Validate(); err != nil {
		return nil, err
	}
	hooks := cfg.Webhooks
	return func() {
		if !s.served.Load() { // Serve starts the running config's
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), webhookStart)
		defer cancel()
		if err := s.hooks.Apply(ctx, hooks); err != nil {
			s.log.Error("config reload: webhooks not started", "error", err)
		}
	}, nil
}
