package websocket

import "time"

// Config configures the WebSocket transport. Zero values mean the default
// named in each field's comment (see DefaultConfig).
type Config struct {
	// Path is the URL path of the WebSocket endpoint. Default "/ws".
	Path string
	// Engine runs the connections after their handshake: EngineGorilla
	// ("gorilla", the default: a goroutine per session) or EngineNbio
	// ("nbio": an event loop; an idle session holds no goroutine and no
	// read buffer). On the nbio engine, connections over TLS or a Unix
	// socket are still served by gorilla (ARCHITECTURE.md, "Connection
	// engines").
	Engine string
	// Serializers lists the enabled serializers by name ("json", "msgpack",
	// "cbor"). Default: all three.
	Serializers []string
	// DisableCompression refuses permessage-deflate. By default (false) it
	// is negotiated when the client offers it, as the binary does: the zero
	// Config is the binary's default in this as in the rest.
	DisableCompression bool
	// CompressionLevel is the flate level, 1 (fastest) to 9. Default 1.
	CompressionLevel int
	// AllowedOrigins are glob patterns (path.Match syntax, e.g.
	// "https://*.example.com") of browser Origins allowed to connect, besides
	// same-origin requests and requests without an Origin header.
	AllowedOrigins []string
	// PingInterval is how often the router pings an idle peer. Default 30s.
	PingInterval time.Duration
	// PongTimeout is how long after a ping the peer has to answer (any frame
	// counts) before it is closed. Default 20s.
	PongTimeout time.Duration
	// WriteTimeout bounds one write to the peer. Default 10s.
	WriteTimeout time.Duration
	// ReadLimit is the largest message accepted, in bytes after
	// permessage-deflate inflation; a larger one closes the connection with
	// 1009. Default 16 MiB.
	ReadLimit int64
	// HandshakeReadLimit is the largest message accepted before the session
	// is established (HELLO, AUTHENTICATE), in bytes after inflation.
	// Default 64 KiB.
	HandshakeReadLimit int64
	// QueueMessages bounds the outbound queue of a session in messages. Default 16384.
	QueueMessages int
	// QueueBytes bounds the outbound queue of a session in bytes. Default 16 MiB.
	QueueBytes int
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies
	// whose X-Forwarded-For header gives the client's address.
	TrustedProxies []string
	// SlowConsumerTimeout is how long a session's queue may stay over its bound
	// before the session is closed as a slow consumer. Default 5s. A queue that
	// reaches twice its bound closes the session at once.
	SlowConsumerTimeout time.Duration
	// WarningInterval is how often, at most, a slow consumer is logged at
	// warn per client address (the next line says how many were held
	// back). Default 10s.
	WarningInterval time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Path:                "/ws",
		Engine:              EngineGorilla,
		Serializers:         []string{"json", "msgpack", "cbor"},
		CompressionLevel:    1,
		PingInterval:        30 * time.Second,
		PongTimeout:         20 * time.Second,
		WriteTimeout:        10 * time.Second,
		ReadLimit:           16 << 20,
		HandshakeReadLimit:  64 << 10,
		QueueMessages:       16384,
		QueueBytes:          16 << 20,
		SlowConsumerTimeout: 5 * time.Second,
		WarningInterval:     10 * time.Second,
	}
}
