// Package config loads the junction binary's config language, TOML files
// over the embedded default config.toml with JUNCTION_<SECTION>_<KEY>
// environment overrides, into a server.Config. Viper stays in this package.
package config

import (
	"bytes"
	_ "embed"
	"fmt"
	"io/fs"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/transport/websocket"
	"github.com/junction-wamp/junction/wamp"
)

// defaultConfig is a copy of the repository's config.toml (a test keeps them equal).
//
//go:embed default_config.toml
var defaultConfig []byte

// Default returns the embedded default config, the repository's
// config.toml: the keys a file given to Load may set, with their defaults
// and comments.
func Default() []byte { return bytes.Clone(defaultConfig) }

// envPrefix starts the environment variables that override config keys:
// JUNCTION_<SECTION>_<KEY>.
const envPrefix = "JUNCTION"

// fileConfig mirrors config.toml key for key. Durations and sizes stay
// strings here; resolve parses them so that an error names the key.
type fileConfig struct {
	Server    serverSection    `mapstructure:"server"`
	Log       logSection       `mapstructure:"log"`
	WebSocket websocketSection `mapstructure:"websocket"`
	RawSocket rawsocketSection `mapstructure:"rawsocket"`
	Router    routerSection    `mapstructure:"router"`
	Realms    []realmSection   `mapstructure:"realms"`
	Web       webSection       `mapstructure:"web"`
	Metrics   metricsSection   `mapstructure:"metrics"`
	Cluster   clusterSection   `mapstructure:"cluster"`
	Bridge    bridgeSection    `mapstructure:"bridge"` // bridge_config.go, webhook_config.go
}

type clusterSection struct {
	Name              string   `mapstructure:"name"`
	NATSURL           string   `mapstructure:"nats_url"`
	EmbeddedNATS      bool     `mapstructure:"embedded_nats"`
	NATSListen        string   `mapstructure:"nats_listen"`
	NATSClusterListen string   `mapstructure:"nats_cluster_listen"`
	NATSRoutes        []string `mapstructure:"nats_routes"`
	NodeTimeout       string   `mapstructure:"node_timeout"`
	RepairInterval    string   `mapstructure:"repair_interval"`
	ResendBuffer      string   `mapstructure:"resend_buffer"`
	DirectListen      string   `mapstructure:"direct_listen"`
	DirectAdvertise   string   `mapstructure:"direct_advertise"`
}

type serverSection struct {
	Listen                   string `mapstructure:"listen"`
	ShutdownGrace            string `mapstructure:"shutdown_grace"`
	ReadHeaderTimeout        string `mapstructure:"read_header_timeout"`
	IdleTimeout              string `mapstructure:"idle_timeout"`
	MaxConnections           int    `mapstructure:"max_connections"`
	MaxConnectionsPerAddress int    `mapstructure:"max_connections_per_address"`
	TLSCert                  string `mapstructure:"tls_cert"`
	TLSKey                   string `mapstructure:"tls_key"`
	TLSClientCA              string `mapstructure:"tls_client_ca"`
}

type logSection struct {
	Format               string `mapstructure:"format"`
	Level                string `mapstructure:"level"`
	MaxFieldLength       int    `mapstructure:"max_field_length"`
	LimitWarningInterval string `mapstructure:"limit_warning_interval"`
}

type websocketSection struct {
	Path                string   `mapstructure:"path"`
	Engine              string   `mapstructure:"engine"`
	Serializers         []string `mapstructure:"serializers"`
	Compression         bool     `mapstructure:"compression"`
	CompressionLevel    int      `mapstructure:"compression_level"`
	AllowedOrigins      []string `mapstructure:"allowed_origins"`
	PingInterval        string   `mapstructure:"ping_interval"`
	PongTimeout         string   `mapstructure:"pong_timeout"`
	WriteTimeout        string   `mapstructure:"write_timeout"`
	MaxMessageSize      string   `mapstructure:"max_message_size"`
	MaxHandshakeSize    string   `mapstructure:"max_handshake_message_size"`
	QueueMessages       int      `mapstructure:"queue_messages"`
	QueueBytes          string   `mapstructure:"queue_bytes"`
	SlowConsumerTimeout string   `mapstructure:"slow_consumer_timeout"`
	TrustedProxies      []string `mapstructure:"trusted_proxies"`
}

type rawsocketSection struct {
	Shared           bool     `mapstructure:"shared"`
	Listen           string   `mapstructure:"listen"`
	TLS              bool     `mapstructure:"tls"`
	Unix             string   `mapstructure:"unix"`
	UnixMode         string   `mapstructure:"unix_mode"`
	Serializers      []string `mapstructure:"serializers"`
	MaxMessageSize   string   `mapstructure:"max_message_size"`
	MinClientSize    string   `mapstructure:"min_client_message_size"`
	HandshakeTimeout string   `mapstructure:"handshake_timeout"`
	FrameTimeout     string   `mapstructure:"frame_timeout"`
	PingInterval     string   `mapstructure:"ping_interval"`
	PongTimeout      string   `mapstructure:"pong_timeout"`
}

type webSection struct {
	Dir    string `mapstructure:"dir"`
	Prefix string `mapstructure:"prefix"`
}

type metricsSection struct {
	Path   string `mapstructure:"path"`
	Listen string `mapstructure:"listen"`
}

type routerSection struct {
	AutoCreateRealms      bool   `mapstructure:"auto_create_realms"`
	StrictURI             bool   `mapstructure:"strict_uri"`
	HelloTimeout          string `mapstructure:"hello_timeout"`
	AuthTimeout           string `mapstructure:"auth_timeout"`
	AuthFailuresPerMinute int    `mapstructure:"auth_failures_per_minute"`
	MaxSessions           int    `mapstructure:"max_sessions"`
	MaxSessionsPerAddress int    `mapstructure:"max_sessions_per_address"`
	MaxURILength          int    `mapstructure:"max_uri_length"`
	MaxSubscriptions      int    `mapstructure:"max_subscriptions_per_session"`
	MaxRegistrations      int    `mapstructure:"max_registrations_per_session"`
	MaxCalls              int    `mapstructure:"max_calls_per_session"`
	MaxInvocations        int    `mapstructure:"max_invocations_per_session"`
	MaxTestaments         int    `mapstructure:"max_testaments_per_session"`
	MaxTestamentBytes     string `mapstructure:"max_testament_bytes_per_session"`
	MaxAddrSubscriptions  int    `mapstructure:"max_subscriptions_per_address"`
	MaxAddrRegistrations  int    `mapstructure:"max_registrations_per_address"`
	MaxAddrCalls          int    `mapstructure:"max_calls_per_address"`
	MaxAddrTestamentBytes string `mapstructure:"max_testament_bytes_per_address"`
	MaxRetainedEvents     int    `mapstructure:"max_retained_events"`
	MaxRetainedBytes      string `mapstructure:"max_retained_bytes"`
	MaxHistoryBytes       string `mapstructure:"max_history_bytes"`
	MaxHistoryResultBytes string `mapstructure:"max_history_result_bytes"`
}

type realmSection struct {
	Name              string            `mapstructure:"name"`
	Auth              []string          `mapstructure:"auth"`
	AnonymousRole     string            `mapstructure:"anonymous_role"`
	Principals        []principalConfig `mapstructure:"principals"` // auth_config.go
	Roles             []roleConfig      `mapstructure:"roles"`      // auth_config.go
	DiscloseCaller    string            `mapstructure:"disclose_caller"`
	DisclosePublisher string            `mapstructure:"disclose_publisher"`
	EventHistory      []historySection  `mapstructure:"event_history"`
	Authenticator     string            `mapstructure:"authenticator"`
	Authorizer        string            `mapstructure:"authorizer"`
	AuthorizerTTL     string            `mapstructure:"authorizer_cache_ttl"`
	AuthorizerCache   int               `mapstructure:"authorizer_cache_size"`
}

type historySection struct {
	Topic string `mapstructure:"topic"`
	Match string `mapstructure:"match"`
	Limit int    `mapstructure:"limit"`
}

// resolve checks every value and converts the file config to the packages'
// configs. All invalid values are reported together, after those ck holds
// already.
func (fc *fileConfig) resolve(ck *checker) (*server.Config, error) {
	c := &server.Config{
		Listen:            fc.Server.Listen,
		TLSCert:           fc.Server.TLSCert,
		TLSKey:            fc.Server.TLSKey,
		TLSClientCA:       fc.Server.TLSClientCA,
		ShutdownGrace:     ck.duration("server.shutdown_grace", fc.Server.ShutdownGrace),
		ReadHeaderTimeout: ck.duration("server.read_header_timeout", fc.Server.ReadHeaderTimeout),
		IdleTimeout:       ck.duration("server.idle_timeout", fc.Server.IdleTimeout),
		Connections: transport.ListenerLimits{
			Connections:           noLimitIfZero(ck.count("server.max_connections", fc.Server.MaxConnections)),
			ConnectionsPerAddress: noLimitIfZero(ck.count("server.max_connections_per_address", fc.Server.MaxConnectionsPerAddress)),
		},
		LogFormat:   fc.Log.Format,
		LogLevel:    ck.level("log.level", fc.Log.Level),
		LogMaxField: fc.Log.MaxFieldLength,
		WebSocket:   fc.WebSocket.resolve(ck),
		Router:      fc.Router.resolve(ck),
	}
	if c.LogMaxField < 64 {
		ck.bad("log.max_field_length", c.LogMaxField, "want at least 64 bytes")
	}
	c.Router.LimitWarningInterval = ck.duration("log.limit_warning_interval", fc.Log.LimitWarningInterval)
	c.WebSocket.WarningInterval = c.Router.LimitWarningInterval
	c.Connections.WarningInterval = c.Router.LimitWarningInterval
	c.RawSocket = fc.RawSocket.resolve(ck)
	c.RawSocket.Transport = server.RawSocketTransport(c.RawSocket.Transport, c.WebSocket)
	if c.RawSocket.TLS && c.TLSCert == "" {
		ck.bad("rawsocket.tls", true, "TLS on rawsocket.listen needs server.tls_cert and server.tls_key")
	}
	c.Web = fc.Web.resolve(ck, c.WebSocket.Path)
	c.Metrics = server.MetricsConfig{Path: fc.Metrics.Path, Listen: fc.Metrics.Listen, Off: fc.Metrics.Path == ""}
	if p := c.Metrics.Path; p != "" {
		switch {
		case !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "{}* "):
			ck.bad("metrics.path", p, `want a URL path such as "/metrics", or "" for no metrics`)
		case c.Metrics.Listen == "" && (p == c.WebSocket.Path || p == "/healthz"):
			ck.bad("metrics.path", p, "taken by websocket.path or /healthz; choose another path")
		}
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			ck.bad("metrics.listen", c.Metrics.Listen, `want host:port, such as "127.0.0.1:9100", or "" for server.listen`)
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		ck.bad("server.listen", c.Listen, `want host:port, such as "127.0.0.1:8080"`)
	}
	ck.oneOf("log.format", c.LogFormat, "text", "json")
	if (c.TLSCert == "") != (c.TLSKey == "") {
		ck.bad("server.tls_cert", c.TLSCert, "set both tls_cert and tls_key, or neither")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		ck.bad("server.tls_client_ca", c.TLSClientCA, "client certificates need tls_cert and tls_key")
	}
	c.Cluster = fc.Cluster.resolve(ck)
	c.Router.Realms = resolveRealms(ck, fc.Realms, c.Router.StrictURI)
	c.Bridge = fc.Bridge.resolve(ck, c)
	c.Webhooks = fc.Bridge.resolveWebhooks(ck, c.Router)
	if len(c.Router.Realms) == 0 && !c.Router.AutoCreateRealms {
		ck.bad("realms", []string{}, "configure at least one realm or set router.auto_create_realms")
	}
	if err := ck.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// resolve returns the cluster config, nil when neither nats_url nor
// embedded_nats is set.
func (cs *clusterSection) resolve(ck *checker) *cluster.Config {
	timeout := ck.duration("cluster.node_timeout", cs.NodeTimeout)
	if timeout < 100*time.Millisecond {
		ck.bad("cluster.node_timeout", cs.NodeTimeout, "want at least 100ms")
	}
	if cs.Name == "" || strings.ContainsAny(cs.Name, ".*> \t") {
		ck.bad("cluster.name", cs.Name, "want a name without '.', '*', '>' or spaces")
	}
	for key, addr := range map[string]string{"cluster.nats_listen": cs.NATSListen, "cluster.nats_cluster_listen": cs.NATSClusterListen,
		"cluster.direct_listen": cs.DirectListen, "cluster.direct_advertise": cs.DirectAdvertise} {
		if addr == "" && key != "cluster.nats_listen" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			ck.bad(key, addr, `want host:port, such as "127.0.0.1:4222"`)
		}
	}
	for _, r := range cs.NATSRoutes {
		if !strings.HasPrefix(r, "nats://") && !strings.HasPrefix(r, "nats-route://") {
			ck.bad("cluster.nats_routes", r, `want route URLs such as "nats://10.0.0.2:6222"`)
		}
	}
	repair := ck.duration("cluster.repair_interval", cs.RepairInterval)
	if repair < 10*time.Millisecond {
		ck.bad("cluster.repair_interval", cs.RepairInterval, "want at least 10ms")
	}
	resend := ck.size("cluster.resend_buffer", cs.ResendBuffer)
	if resend < 1<<20 || resend > 1<<30 {
		ck.bad("cluster.resend_buffer", cs.ResendBuffer, `want 1MiB to 1GiB`)
	}
	if cs.NATSURL == "" && !cs.EmbeddedNATS {
		return nil
	}
	return &cluster.Config{Name: cs.Name, NATSURL: cs.NATSURL, Embedded: cs.EmbeddedNATS, Listen: cs.NATSListen,
		ClusterListen: cs.NATSClusterListen, Routes: cs.NATSRoutes, NodeTimeout: timeout,
		RepairInterval: repair, ResendBuffer: int(resend), DirectListen: cs.DirectListen, DirectAdvertise: cs.DirectAdvertise}
}

func (rs *rawsocketSection) resolve(ck *checker) server.RawSocketConfig {
	checkSerializers(ck, "rawsocket.serializers", rs.Serializers)
	if rs.Listen != "" {
		if _, _, err := net.SplitHostPort(rs.Listen); err != nil {
			ck.bad("rawsocket.listen", rs.Listen, `want host:port, such as "127.0.0.1:8081", or "" for none`)
		}
	}
	if rs.TLS && rs.Listen == "" {
		ck.bad("rawsocket.tls", true, "TLS is for rawsocket.listen, which is not set")
	}
	mode, err := strconv.ParseUint(rs.UnixMode, 8, 32)
	if err != nil || mode > 0o777 || mode&0o600 != 0o600 {
		ck.bad("rawsocket.unix_mode", rs.UnixMode, `want octal permission bits that let the router's user read and write, such as "0660"`)
	}
	cfg := server.RawSocketConfig{
		NotShared: !rs.Shared, Listen: rs.Listen, TLS: rs.TLS, Unix: rs.Unix, UnixMode: fs.FileMode(mode),
		Transport: rawsocket.Config{
			Serializers:      rs.Serializers,
			HandshakeTimeout: ck.duration("rawsocket.handshake_timeout", rs.HandshakeTimeout),
			MinClientLength:  int(ck.size("rawsocket.min_client_message_size", rs.MinClientSize)),
			PongTimeout:      ck.duration("rawsocket.pong_timeout", rs.PongTimeout),
			FrameTimeout:     ck.duration("rawsocket.frame_timeout", rs.FrameTimeout),
		},
	}
	if rs.PingInterval != "0" && rs.PingInterval != "0s" {
		cfg.Transport.PingInterval = ck.duration("rawsocket.ping_interval", rs.PingInterval)
	}
	if rs.MaxMessageSize != "" {
		cfg.Transport.ReadLimit = int(ck.size("rawsocket.max_message_size", rs.MaxMessageSize))
		if n := cfg.Transport.ReadLimit; n < rawsocket.MinLength || n > rawsocket.MaxLength {
			ck.bad("rawsocket.max_message_size", rs.MaxMessageSize, `want 512 bytes to "16MiB", what the RawSocket handshake can announce`)
		}
	}
	if n := cfg.Transport.MinClientLength; n > rawsocket.MaxLength {
		ck.bad("rawsocket.min_client_message_size", rs.MinClientSize, `want at most "16MiB", the most a client can announce`)
	}
	return cfg
}

// checkSerializers checks a list of serializer names.
func checkSerializers(ck *checker, key string, names []string) {
	if len(names) == 0 {
		ck.bad(key, names, "enable at least one serializer")
	}
	for i, s := range names {
		ck.oneOf(key, s, "json", "msgpack", "cbor")
		if slices.Contains(names[:i], s) {
			ck.bad(key, s, "listed twice")
		}
	}
}

func (ws *websocketSection) resolve(ck *checker) websocket.Config {
	if !strings.HasPrefix(ws.Path, "/") {
		ck.bad("websocket.path", ws.Path, `want a URL path starting with "/"`)
	}
	checkSerializers(ck, "websocket.serializers", ws.Serializers)
	ck.oneOf("websocket.engine", ws.Engine, websocket.EngineGorilla, websocket.EngineNbio)
	if ws.CompressionLevel < 1 || ws.CompressionLevel > 9 {
		ck.bad("websocket.compression_level", ws.CompressionLevel, "want 1 (fastest) to 9 (smallest)")
	}
	for _, p := range ws.AllowedOrigins {
		if _, err := path.Match(p, ""); err != nil {
			ck.bad("websocket.allowed_origins", p, "not a valid glob pattern")
		}
	}
	if ws.QueueMessages <= 0 {
		ck.bad("websocket.queue_messages", ws.QueueMessages, "want a positive number of messages")
	}
	return websocket.Config{
		Path:                ws.Path,
		Engine:              ws.Engine,
		Serializers:         ws.Serializers,
		DisableCompression:  !ws.Compression,
		CompressionLevel:    ws.CompressionLevel,
		AllowedOrigins:      nilIfEmpty(ws.AllowedOrigins),
		PingInterval:        ck.duration("websocket.ping_interval", ws.PingInterval),
		PongTimeout:         ck.duration("websocket.pong_timeout", ws.PongTimeout),
		WriteTimeout:        ck.duration("websocket.write_timeout", ws.WriteTimeout),
		ReadLimit:           ck.size("websocket.max_message_size", ws.MaxMessageSize),
		HandshakeReadLimit:  ck.size("websocket.max_handshake_message_size", ws.MaxHandshakeSize),
		QueueMessages:       ws.QueueMessages,
		QueueBytes:          int(ck.size("websocket.queue_bytes", ws.QueueBytes)),
		SlowConsumerTimeout: ck.duration("websocket.slow_consumer_timeout", ws.SlowConsumerTimeout),
		TrustedProxies:      nilIfEmpty(ws.TrustedProxies),
	}
}

// resolve checks the [web] section: the directory must exist when set, and
// the prefix must be a plain URL path that does not take the WebSocket
// endpoint's place.
func (w *webSection) resolve(ck *checker, wsPath string) server.WebConfig {
	if w.Dir != "" {
		ck.directory("web.dir", w.Dir)
	}
	p := w.Prefix
	switch {
	case !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/"):
		ck.bad("web.prefix", p, `want a URL path starting and ending with "/", such as "/" or "/app/"`)
	case strings.ContainsAny(p, "{}?#% \t\r\n") || strings.Contains(p, "//") || (p != "/" && path.Clean(p)+"/" != p):
		ck.bad("web.prefix", p, "want a plain URL path: no wildcards, escapes, empty, \".\" or \"..\" segments")
	case p == wsPath:
		ck.bad("web.prefix", p, "taken by websocket.path; choose another prefix")
	}
	return server.WebConfig{Dir: w.Dir, Prefix: p}
}

func (rs *routerSection) resolve(ck *checker) router.Config {
	if rs.MaxURILength <= 0 {
		ck.bad("router.max_uri_length", rs.MaxURILength, "want a positive number of bytes")
	}
	// In the file 0 means no limit; in router.Config a negative value does
	// (its zero value is the default).
	count := func(key string, v int) int { return noLimitIfZero(ck.count(key, v)) }
	size := func(key, v string) int { return noLimitIfZero(int(ck.limitSize(key, v))) }
	resultBytes := int(ck.size("router.max_history_result_bytes", rs.MaxHistoryResultBytes))
	return router.Config{
		AutoCreateRealms: rs.AutoCreateRealms,
		StrictURI:        rs.StrictURI,
		HelloTimeout:     ck.duration("router.hello_timeout", rs.HelloTimeout),
		AuthTimeout:      ck.duration("router.auth_timeout", rs.AuthTimeout),
		AuthFailureLimit: count("router.auth_failures_per_minute", rs.AuthFailuresPerMinute),

		MaxSessions:                 count("router.max_sessions", rs.MaxSessions),
		MaxSessionsPerAddress:       count("router.max_sessions_per_address", rs.MaxSessionsPerAddress),
		MaxURILength:                rs.MaxURILength,
		MaxSubscriptionsPerSession:  count("router.max_subscriptions_per_session", rs.MaxSubscriptions),
		MaxRegistrationsPerSession:  count("router.max_registrations_per_session", rs.MaxRegistrations),
		MaxCallsPerSession:          count("router.max_calls_per_session", rs.MaxCalls),
		MaxInvocationsPerSession:    count("router.max_invocations_per_session", rs.MaxInvocations),
		MaxTestamentsPerSession:     count("router.max_testaments_per_session", rs.MaxTestaments),
		MaxTestamentBytesPerSession: size("router.max_testament_bytes_per_session", rs.MaxTestamentBytes),
		MaxSubscriptionsPerAddress:  count("router.max_subscriptions_per_address", rs.MaxAddrSubscriptions),
		MaxRegistrationsPerAddress:  count("router.max_registrations_per_address", rs.MaxAddrRegistrations),
		MaxCallsPerAddress:          count("router.max_calls_per_address", rs.MaxAddrCalls),
		MaxTestamentBytesPerAddress: size("router.max_testament_bytes_per_address", rs.MaxAddrTestamentBytes),
		MaxRetainedEvents:           count("router.max_retained_events", rs.MaxRetainedEvents),
		MaxRetainedBytes:            size("router.max_retained_bytes", rs.MaxRetainedBytes),
		MaxHistoryBytes:             size("router.max_history_bytes", rs.MaxHistoryBytes),
		MaxHistoryResultBytes:       resultBytes,
	}
}

// nilIfEmpty returns nil for an empty list, as the zero server.Config has.
func nilIfEmpty(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// noLimitIfZero maps config.toml's "0: no limit" to the packages' negative
// "no limit" (their zero value means the default).
func noLimitIfZero(v int) int {
	if v == 0 {
		return -1
	}
	return v
}

func resolveRealms(ck *checker, sections []realmSection, strictURI bool) []router.RealmConfig {
	var out []router.RealmConfig
	for i, rs := range sections {
		key := fmt.Sprintf("realms[%d]", i)
		switch {
		case rs.Name == "":
			ck.bad(key+".name", rs.Name, "every realm needs a name")
		case !wamp.ValidURI(wamp.URI(rs.Name), strictURI, false):
			ck.bad(key+".name", rs.Name, "not a valid URI")
		case slices.ContainsFunc(sections[:i], func(o realmSection) bool { return o.Name == rs.Name }):
			ck.bad(key+".name", rs.Name, "duplicate realm")
		}
		if len(rs.Auth) == 0 {
			ck.bad(key+".auth", rs.Auth, `list at least one authentication method, such as "anonymous"`)
		}
		rc := router.RealmConfig{
			Name:              rs.Name,
			AnonymousRole:     rs.AnonymousRole,
			DiscloseCaller:    ck.disclosure(key+".disclose_caller", rs.DiscloseCaller),
			DisclosePublisher: ck.disclosure(key+".disclose_publisher", rs.DisclosePublisher),
			EventHistory:      resolveHistory(ck, key, rs.EventHistory),
			Authenticator:     rs.Authenticator,
			Authorizer:        rs.Authorizer,
		}
		if rs.AuthorizerCache < 0 {
			ck.bad(key+".authorizer_cache_size", rs.AuthorizerCache, "want a positive number of answers (0: 10000)")
		}
		rc.AuthorizerCacheSize = rs.AuthorizerCache
		if rs.AuthorizerTTL != "" {
			if rs.AuthorizerTTL == "0" || rs.AuthorizerTTL == "0s" {
				rc.AuthorizerCacheTTL = -1 // no caching
			} else {
				rc.AuthorizerCacheTTL = ck.duration(key+".authorizer_cache_ttl", rs.AuthorizerTTL)
			}
		}
		for k, uri := range map[string]string{key + ".authenticator": rs.Authenticator, key + ".authorizer": rs.Authorizer} {
			if uri != "" && !wamp.ValidURI(wamp.URI(uri), strictURI, false) {
				ck.bad(k, uri, "not a valid procedure URI")
			}
			if wamp.Reserved(wamp.URI(uri)) {
				ck.bad(k, uri, "wamp.* procedures belong to the router; name one of your application's")
			}
		}
		resolveAuth(key, rs.Auth, rs.Principals, rs.Roles, &rc, ck.badFormatted) // methods, principals, roles
		out = append(out, rc)
	}
	return out
}

func resolveHistory(ck *checker, realmKey string, sections []historySection) []router.HistoryConfig {
	var out []router.HistoryConfig
	for j, h := range sections {
		key := fmt.Sprintf("%s.event_history[%d]", realmKey, j)
		if h.Topic == "" {
			ck.bad(key+".topic", h.Topic, "name the topic whose events are kept")
		}
		if h.Match != "" {
			ck.oneOf(key+".match", h.Match, "exact", "prefix", "wildcard")
		}
		if h.Limit < 0 {
			ck.bad(key+".limit", h.Limit, "want a positive number of events (0: 100)")
		}
		out = append(out, router.HistoryConfig{Topic: h.Topic, Match: wamp.MatchPolicy(h.Match), Limit: h.Limit})
	}
	return out
}
