package rawsocket

import (
	"errors"
	"fmt"
	"net"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"

	"github.com/junction-wamp/junction/transport/nbfd"
)

// The engines a Server runs its sessions on (Config.Engine). The names are
// those of websocket.engine, the one setting that chooses the engine of
// both transports.
const (
	// EngineGoroutine is a goroutine per session, blocked in a read of
	// its connection: the default ("gorilla", after the WebSocket library
	// of the same model).
	EngineGoroutine = "gorilla"
	// EngineNbio is lesismal/nbio's event loop: after the handshake, served
	// on a goroutine as on the other engine, the connection's socket moves
	// to an nbio poller, and an idle session holds no goroutine and no read
	// buffer.
	EngineNbio = "nbio"
)

// nbEngine is a Server's nbio engine: an nbio.Engine with no listener of
// its own (connections come to it after their handshake), started with the
// first connection.
type nbEngine struct {
	life nbfd.Lifecycle // started with the first connection, stopped once
	eng  *nbio.Engine
}

func newNbEngine(cfg Config) *nbEngine {
	logging.SetLevel(logging.LevelNone) // nbio's own log lines; ours say what happened
	eng := nbio.NewEngine(nbio.Config{
		Name: "junction-rawsocket",
		// What nbio holds for a connection whose socket is full: past it
		// nbio closes the connection (ErrOverflow), a slow consumer.
		MaxWriteBufferSize: cfg.QueueBytes,
		// One read buffer per poller, shared by its connections: what a
		// frame needs past one read is kept by the frame's parser.
		ReadBufferSize: 32 << 10,
	})
	eng.OnData(func(c *nbio.Conn, data []byte) {
		if p, ok := c.Session().(*nbPeer); ok {
			p.onData(c, data)
		}
	})
	eng.OnWrittenSize(func(c *nbio.Conn, _ []byte, n int) {
		if p, ok := c.Session().(*nbPeer); ok {
			p.written(n)
		}
	})
	eng.OnClose(func(c *nbio.Conn, err error) {
		if p, ok := c.Session().(*nbPeer); ok {
			p.onClose(err)
		}
	})
	return &nbEngine{eng: eng}
}

// errEngineStopped: a connection came after the engine was stopped.
var errEngineStopped = errors.New("rawsocket: engine stopped")

// start starts the engine, once.
func (e *nbEngine) start() error {
	return e.life.Start(func() error {
		if err := e.eng.Start(); err != nil {
			return fmt.Errorf("rawsocket: engine nbio: %w", err)
		}
		return nil
	}, errEngineStopped)
}

// stop stops the engine if it started; it starts no more.
func (e *nbEngine) stop() { e.life.Stop(e.eng.Stop) }

// nbEligible reports whether c can move to nbio's poller: a plain TCP
// connection. TLS keeps its state in crypto/tls, which nbio's poller cannot
// drive; nbio v1.6.8 drops the part of a write a Unix socket does not take
// at once (Conn.write keeps the rest only for TCP). Both are served on the
// goroutine engine (ARCHITECTURE.md, "Connection engines").
func nbEligible(c net.Conn) bool {
	_, ok := c.(*net.TCPConn)
	return ok
}
