package server

import (
	"cmp"
	"io"
	"io/fs"
	"log/slog"
	"reflect"
	"time"

	"github.com/junction-wamp/junction/bridge"
	"github.com/junction-wamp/junction/bridge/webhook"
	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/internal/logclip"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/rawsocket"
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
	// RawSocket configures WAMP over RawSocket: on Listen beside HTTP and
	// WebSocket (on by default), on a TCP listener of its own, on a Unix
	// socket.
	RawSocket RawSocketConfig
	// Web serves static files beside the WebSocket endpoint.
	Web WebConfig
	// Metrics serves Prometheus metrics.
	Metrics MetricsConfig
	// Cluster, if not nil, makes the server a node of a cluster (package
	// cluster), joined when Serve starts. Nil: a single node.
	Cluster *cluster.Config
	// Bridge configures the HTTP bridge (package bridge), served beside
	// the WebSocket endpoint at the paths of its endpoints. Its Realms and
	// AutoCreateRealms are set from Router's. No endpoint (the default):
	// off.
	Bridge bridge.Config
	// Webhooks are the HTTP bridge's subscriber and callee webhooks
	// (package bridge/webhook), started by Serve. None by default.
	Webhooks webhook.Config
}

// RawSocketConfig is where and how WAMP over RawSocket is served.
type RawSocketConfig struct {
	// NotShared turns RawSocket off on Listen. By default (false) a
	// connection to Listen whose first octet is 0x7F (the RawSocket magic,
	// which no HTTP request starts with) is RawSocket, over TLS too when
	// TLSCert is set: one port serves HTTP, WebSocket and RawSocket.
	NotShared bool
	// Listen is a host:port of RawSocket's own. "": none.
	Listen string
	// TLS serves Listen over TLS, with the server's certificate and client
	// CA (TLSCert, TLSClientCA): rss://. Requires TLSCert.
	TLS bool
	// Unix is the path of a Unix domain socket to serve RawSocket on; a
	// stale socket file left there is replaced, one a process listens on
	// is an error. "": none.
	Unix string
	// UnixMode is the socket file's permission bits. Default 0660.
	UnixMode fs.FileMode
	// Transport configures the protocol. Its zero fields take the values
	// of WebSocket's (queue bounds, slow-consumer timeout, write timeout,
	// handshake message size, max message size up to the 16 MiB RawSocket
	// can announce), then the rawsocket package's defaults (no keepalive
	// PINGs: see rawsocket.Config.PingInterval).
	Transport rawsocket.Config
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
	defaultUnixMode   = 0o660
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
	// The mux mounts the endpoint at this path: a partial WebSocket config
	// without one gets the default (an empty pattern panics).
	c.WebSocket.Path = cmp.Or(c.WebSocket.Path, websocket.DefaultConfig().Path)
	if reflect.ValueOf(c.Connections).IsZero() {
		c.Connections = transport.ListenerLimits{Connections: defaultConns, ConnectionsPerAddress: defaultConnsPerIP, WarningInterval: warn}
	}
	c.RawSocket.UnixMode = cmp.Or(c.RawSocket.UnixMode, defaultUnixMode)
	c.RawSocket.Transport = RawSocketTransport(c.RawSocket.Transport, c.WebSocket)
	c.Web.Prefix = cmp.Or(c.Web.Prefix, defaultWebPrefix)
	c.Bridge = c.Bridge.WithDefaults()
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
		opts.ReplaceAttr = durationString
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(logclip.New(h, cmp.Or(cfg.LogMaxField, defaultMaxField)))
}

// durationString writes a time.Duration in a JSON log as a person reads it
// and config.toml writes it ("1.5s", "10s", "250ms"), not as slog's integer
// of nanoseconds.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// RawSocketTransport is what the zero fields of RawSocketConfig.Transport
// become beside the WebSocket config ws: those WebSocket has too take ws's
// values (or the websocket package's defaults), one set of limits for both
// transports unless RawSocket's are set; the others the rawsocket
// package's defaults.
func RawSocketTransport(rs rawsocket.Config, ws websocket.Config) rawsocket.Config {
	d, rd := websocket.DefaultConfig(), rawsocket.DefaultConfig()
	if len(rs.Serializers) == 0 {
		rs.Serializers = rd.Serializers
	}
	// One engine setting for both transports: websocket.engine.
	rs.Engine = cmp.Or(rs.Engine, ws.Engine, d.Engine)
	rs.HandshakeTimeout = cmp.Or(rs.HandshakeTimeout, rd.HandshakeTimeout)
	rs.FrameTimeout = cmp.Or(rs.FrameTimeout, rd.FrameTimeout)
	rs.MinClientLength = cmp.Or(rs.MinClientLength, rd.MinClientLength)
	or := func(v, def time.Duration) time.Duration { return cmp.Or(v, def) }
	rs.QueueMessages = cmp.Or(rs.QueueMessages, ws.QueueMessages, d.QueueMessages)
	rs.QueueBytes = cmp.Or(rs.QueueBytes, ws.QueueBytes, d.QueueBytes)
	rs.SlowConsumerTimeout = or(rs.SlowConsumerTimeout, or(ws.SlowConsumerTimeout, d.SlowConsumerTimeout))
	rs.WriteTimeout = or(rs.WriteTimeout, or(ws.WriteTimeout, d.WriteTimeout))
	rs.PongTimeout = or(rs.PongTimeout, rd.PongTimeout)
	rs.WarningInterval = or(rs.WarningInterval, or(ws.WarningInterval, d.WarningInterval))
	if rs.HandshakeReadLimit == 0 {
		rs.HandshakeReadLimit = int(min(cmp.Or(ws.HandshakeReadLimit, d.HandshakeReadLimit), rawsocket.MaxLength))
	}
	if rs.ReadLimit == 0 {
		rs.ReadLimit = int(min(max(cmp.Or(ws.ReadLimit, d.ReadLimit), rawsocket.MinLength), rawsocket.MaxLength))
	}
	return rs
}
