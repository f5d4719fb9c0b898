package server

import (
	"cmp"
	"io"
	"log/slog"
	"reflect"
	"time"

	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/internal/logclip"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/websocket"
)

// Config is everything a Server runs with: what the junction binary's
// config.toml resolves to (package config loads it). The zero Config is the
// binary with no config file: ws://127.0.0.1:8080/ws, realm "realm1" open
// to anonymous sessions, json, msgpack and cbor, compression on, metrics at
// /metrics and the default limits. Zero fields take the defaults given in
// their comments (see DefaultConfig).
type Config struct {
	// Listen is the host:port ListenAndServe listens on. Default
	// "127.0.0.1:8080".
	Listen string
	// TLSCert and TLSKey are the PEM files of the server's certificate and
	// key: with both set, Serve serves wss:// (TLS 1.2 or later) and
	// ReloadCertificate reads them again. "": plain ws://.
	TLSCert string
	// TLSKey is the key file of TLSCert.
	TLSKey string
	// TLSClientCA is a PEM file of the CAs that client certificates are
	// verified against (for the "tls" authentication method). "": none.
	TLSClientCA string
	// ShutdownGrace bounds Serve's shutdown once its context is done:
	// sessions are told to leave, and what is left then is closed.
	// Default 10s.
	ShutdownGrace time.Duration
	// ReadHeaderTimeout bounds reading an HTTP request's headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds an idle HTTP keep-alive connection. Default 30s.
	IdleTimeout time.Duration
	// Connections bounds the connections Serve holds open, in total and
	// per client address (trusted proxies exempt). The zero value is
	// transport's defaults, 100,000 and 1,000, with the warning interval of
	// Router.LimitWarningInterval; a negative bound is no limit.
	Connections transport.ListenerLimits
	// LogFormat is "text" (the default) or "json": the format of the
	// logger NewLogger makes. The Server itself logs to Options.Logger.
	LogFormat string
	// LogLevel is the lowest level NewLogger's logger writes. Default info.
	LogLevel slog.Level
	// LogMaxField bounds a log field value, in bytes, in NewLogger's
	// logger. Default 1024.
	LogMaxField int
	// Router configures the router. A zero Router (its Realms aside) is
	// router.DefaultConfig(); with no Realms and AutoCreateRealms off, the
	// router has the one realm "realm1", open to anonymous sessions, with
	// caller and publisher disclosed on request.
	Router router.Config
	// WebSocket configures the WebSocket transport. A zero WebSocket is
	// websocket.DefaultConfig() (compression on) with the warning interval
	// of Router.LimitWarningInterval; a non-zero one is taken as it is,
	// its zero fields getting the websocket package's defaults.
	WebSocket websocket.Config
	// Web serves static files beside the WebSocket endpoint.
	Web WebConfig
	// Metrics serves Prometheus metrics.
	Metrics MetricsConfig
	// Cluster, if not nil, makes the server a node of a cluster (package
	// cluster), joined when Serve starts. Nil: a single node.
	Cluster *cluster.Config
}

// WebConfig is where static files are served from.
type WebConfig struct {
	// Dir is the directory of the files. "": no static files.
	Dir string
	// Prefix is the URL path the files are served under, starting and
	// ending with "/". Default "/".
	Prefix string
}

// MetricsConfig is where Prometheus metrics are served.
type MetricsConfig struct {
	// Path is the URL path of the metrics. Default "/metrics".
	Path string
	// Listen is a host:port of their own for the metrics, served by Serve.
	// "": they are served beside the WebSocket endpoint, by Handler.
	Listen string
	// Off serves no metrics.
	Off bool
}

// DefaultListen is the address ListenAndServe listens on when
// Config.Listen is "".
const DefaultListen = "127.0.0.1:8080"

// DefaultRealm is the realm of a Config that names none (and does not
// create realms on demand): open to anonymous sessions.
const DefaultRealm = "realm1"

const (
	defaultGrace      = 10 * time.Second
	defaultHeader     = 10 * time.Second
	defaultIdle       = 30 * time.Second
	defaultMaxField   = 1024
	defaultMetrics    = "/metrics"
	defaultWebPrefix  = "/"
	defaultLogFormat  = "text"
	defaultConns      = 100_000
	defaultConnsPerIP = 1_000
)

// DefaultConfig returns the zero Config with its defaults filled in: what
// New runs a zero Config with, and what config.Load("") returns.
func DefaultConfig() Config { return Config{}.withDefaults() }

// withDefaults fills in the defaults documented on Config.
func (c Config) withDefaults() Config {
	c.Listen = cmp.Or(c.Listen, DefaultListen)
	c.ShutdownGrace = cmp.Or(c.ShutdownGrace, defaultGrace)
	c.ReadHeaderTimeout = cmp.Or(c.ReadHeaderTimeout, defaultHeader)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, defaultIdle)
	c.LogFormat = cmp.Or(c.LogFormat, defaultLogFormat)
	c.LogMaxField = cmp.Or(c.LogMaxField, defaultMaxField)

	realms := c.Router.Realms
	c.Router.Realms = nil
	if reflect.ValueOf(c.Router).IsZero() {
		c.Router = router.DefaultConfig()
	}
	if len(realms) == 0 && !c.Router.AutoCreateRealms {
		realms = []router.RealmConfig{{Name: DefaultRealm, Anonymous: true,
			DiscloseCaller: router.DiscloseOnRequest, DisclosePublisher: router.DiscloseOnRequest}}
	}
	c.Router.Realms = realms
	warn := cmp.Or(c.Router.LimitWarningInterval, router.DefaultConfig().LimitWarningInterval)

	if reflect.ValueOf(c.WebSocket).IsZero() {
		c.WebSocket = websocket.DefaultConfig()
		c.WebSocket.WarningInterval = warn
	}
	if reflect.ValueOf(c.Connections).IsZero() {
		c.Connections = transport.ListenerLimits{Connections: defaultConns, ConnectionsPerAddress: defaultConnsPerIP, WarningInterval: warn}
	}
	c.Web.Prefix = cmp.Or(c.Web.Prefix, defaultWebPrefix)
	if c.Metrics.Off {
		c.Metrics = MetricsConfig{Off: true}
	} else {
		c.Metrics.Path = cmp.Or(c.Metrics.Path, defaultMetrics)
	}
	return c
}

// NewLogger returns the logger on w that cfg's log settings ask for: text or
// JSON (LogFormat), from LogLevel up, each field value at most LogMaxField
// bytes. It is the junction binary's logger; give it to New in Options.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(logclip.New(h, cmp.Or(cfg.LogMaxField, defaultMaxField)))
}
