package rawsocket

import (
	"fmt"
	"time"
)

// Config configures the router's end of RawSocket. Zero values mean the
// defaults named in each field's comment (see DefaultConfig).
type Config struct {
	// Engine runs the sessions after their handshake: EngineGoroutine
	// ("gorilla", the default: a goroutine per session) or EngineNbio
	// ("nbio": an event loop; an idle session holds no goroutine and no
	// read buffer). On nbio, connections over TLS or a Unix socket stay on
	// goroutines. The router sets it from websocket.engine: one setting
	// for both transports.
	Engine string
	// Serializers lists the enabled serializers by name ("json", "msgpack",
	// "cbor"). Default: all three.
	Serializers []string
	// ReadLimit is the largest message accepted, announced to the client
	// in the handshake as the largest power of two not over it; a larger
	// one closes the connection. At most MaxLength (16 MiB), the most the
	// handshake can say. Default 16 MiB.
	ReadLimit int
	// HandshakeReadLimit is the largest message accepted before the
	// session is established (HELLO, AUTHENTICATE). Default 64 KiB.
	HandshakeReadLimit int
	// FrameTimeout bounds the time a frame larger than 16 KiB takes to
	// arrive once its prefix is read; past it the connection is closed.
	// Default 60s (a 16 MiB frame then needs 2.3 Mbit/s).
	FrameTimeout time.Duration
	// HandshakeTimeout bounds the RawSocket handshake: the client's 4
	// octets must arrive within it. Default 10s.
	HandshakeTimeout time.Duration
	// MinClientLength is the smallest maximum message length a client may
	// announce; a client announcing less is refused with "maximum message
	// length unacceptable". Default 1 KiB: a WELCOME with its roles and
	// authentication details takes a few hundred octets, and a client that
	// cannot take one cannot join.
	MinClientLength int
	// PingInterval is how long a connection may stay silent before the
	// router sends it a PING (payload PingPayload). Default 0: no PINGs.
	// Autobahn|Python's asyncio RawSocket client (22.7.1) cannot answer
	// one and drops its connection; TCP keepalive (Go's default on
	// accepted connections) finds dead peers without it.
	PingInterval time.Duration
	// PongTimeout is how long after that PING the client has to send
	// anything (its PONG, a message) before it is disconnected. Default 20s.
	PongTimeout time.Duration
	// WriteTimeout bounds one write to the peer. Default 10s.
	WriteTimeout time.Duration
	// QueueMessages and QueueBytes bound a session's outbound queue.
	// Defaults 16384 and 16 MiB.
	QueueMessages int
	QueueBytes    int
	// SlowConsumerTimeout is how long a queue may stay over its bound, or a
	// write stay stuck, before the session is closed as a slow consumer.
	// Default 5s.
	SlowConsumerTimeout time.Duration
	// WarningInterval is how often, at most, a refusal or a slow consumer
	// is logged at warn per client address. Default 10s.
	WarningInterval time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Engine:              EngineGoroutine,
		Serializers:         []string{"json", "msgpack", "cbor"},
		ReadLimit:           MaxLength,
		HandshakeReadLimit:  64 << 10,
		HandshakeTimeout:    10 * time.Second,
		FrameTimeout:        60 * time.Second,
		MinClientLength:     1 << 10,
		PongTimeout:         20 * time.Second,
		WriteTimeout:        10 * time.Second,
		QueueMessages:       16384,
		QueueBytes:          16 << 20,
		SlowConsumerTimeout: 5 * time.Second,
		WarningInterval:     10 * time.Second,
	}
}

// withDefaults fills the zero fields of cfg and checks the rest.
func withDefaults(cfg Config) (Config, error) {
	d := DefaultConfig()
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	if len(cfg.Serializers) == 0 {
		cfg.Serializers = d.Serializers
	}
	if cfg.Engine == "" {
		cfg.Engine = d.Engine
	}
	set(&cfg.ReadLimit, d.ReadLimit)
	set(&cfg.HandshakeReadLimit, d.HandshakeReadLimit)
	set(&cfg.MinClientLength, d.MinClientLength)
	set(&cfg.QueueMessages, d.QueueMessages)
	set(&cfg.QueueBytes, d.QueueBytes)
	setD(&cfg.HandshakeTimeout, d.HandshakeTimeout)
	setD(&cfg.FrameTimeout, d.FrameTimeout)
	if cfg.PingInterval < 0 {
		cfg.PingInterval = 0
	}
	setD(&cfg.PongTimeout, d.PongTimeout)
	setD(&cfg.WriteTimeout, d.WriteTimeout)
	setD(&cfg.SlowConsumerTimeout, d.SlowConsumerTimeout)
	setD(&cfg.WarningInterval, d.WarningInterval)
	switch {
	case cfg.ReadLimit < MinLength || cfg.ReadLimit > MaxLength:
		return cfg, fmt.Errorf("rawsocket: max_message_size %d outside %d..%d, what the handshake can announce", cfg.ReadLimit, MinLength, MaxLength)
	case cfg.MinClientLength > MaxLength:
		return cfg, fmt.Errorf("rawsocket: min_client_message_size %d over %d, the most a client can announce", cfg.MinClientLength, MaxLength)
	case cfg.HandshakeReadLimit < 0 || cfg.QueueMessages < 0 || cfg.QueueBytes < 0:
		return cfg, fmt.Errorf("rawsocket: negative limit")
	case cfg.Engine != EngineGoroutine && cfg.Engine != EngineNbio:
		return cfg, fmt.Errorf("rawsocket: engine %q: want %q or %q", cfg.Engine, EngineGoroutine, EngineNbio)
	}
	// What the client is told is a power of two: hold it to that.
	cfg.ReadLimit = LengthOf(LengthCode(cfg.ReadLimit))
	cfg.HandshakeReadLimit = min(cfg.HandshakeReadLimit, cfg.ReadLimit)
	return cfg, nil
}
