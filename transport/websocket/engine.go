package websocket

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/junction-wamp/junction/transport/nbfd"
)

// The engines a Server runs its connections on (Config.Engine).
const (
	// EngineGorilla is gorilla/websocket with a goroutine per session: the
	// default.
	EngineGorilla = "gorilla"
	// EngineNbio is lesismal/nbio's event loop: after the handshake, served
	// by net/http as for gorilla, the connection's socket moves to nbio's
	// poller, and an idle session holds no goroutine and no read buffer.
	EngineNbio = "nbio"
)

// nbEngine is a Server's nbio engine: one nbhttp.Engine with no listener of
// its own (connections come to it from net/http after the handshake),
// started with the first connection, and the Upgrader every connection's is
// copied from.
type nbEngine struct {
	life     nbfd.Lifecycle // started with the first connection, stopped once
	eng      *nbhttp.Engine
	tmpl     nbws.Upgrader
	framers  [2]sync.Pool  // plain, deflating (nbframe.go)
	deflated atomic.Uint64 // shared frames deflated (TestFanOutCompressedOnce)
}

// newNbEngine prepares the engine for cfg; it starts with the first
// connection.
func newNbEngine(cfg Config) (*nbEngine, error) {
	if cfg.QueueBytes <= 0 {
		return nil, fmt.Errorf("websocket: engine nbio: queue_bytes must be positive")
	}
	logging.SetLevel(logging.LevelNone) // nbio's own log lines; ours say what happened
	eng := nbhttp.NewEngine(nbhttp.Config{
		Name: "junction-websocket",
		// Messages are handled on the poller's goroutine: the router's
		// Session.Handle only queues them, and the read limit and the
		// parse of a connection stay on one goroutine.
		ServerExecutor: func(f func()) { f() },
		// What nbio holds for a connection whose socket is full: past it
		// nbio closes the connection (ErrOverflow), a slow consumer.
		MaxWriteBufferSize: cfg.QueueBytes,
		// The payloads the router decodes are kept (payload passthrough):
		// nbio must not reuse their buffers.
		ReleaseWebsocketPayload: false,
		// Kept messages made to size, not in 1 KiB pooled buffers
		// (nballoc.go).
		BodyAllocator: &nbAllocator{},
	})
	// Text messages are checked in onMessage, to close with 1007 (nbio
	// closes with 1002) and count them; close reasons in onCloseFrame.
	eng.CheckUtf8 = func([]byte) bool { return true }
	eng.OnWrittenSize(func(c *nbio.Conn, _ []byte, n int) {
		if wsc, ok := c.Session().(*nbws.Conn); ok {
			if p, ok := wsc.Session().(*nbPeer); ok {
				p.written(n)
			}
		}
	})
	e := &nbEngine{eng: eng}
	u := nbws.NewUpgrader()
	u.Engine = eng
	u.BlockingModTrasferConnToPoller = true
	// The limit after inflation: nbio inflates no further than it.
	u.MessageLengthLimit = int(min(cfg.ReadLimit, int64(int(^uint(0)>>1))))
	u.KeepaliveTime = cfg.PingInterval + cfg.PongTimeout
	u.HandshakeTimeout = cfg.WriteTimeout
	u.CheckOrigin = func(*http.Request) bool { return true } // checked before Upgrade
	u.EnableCompression(!cfg.DisableCompression)
	if err := u.SetCompressionLevel(cfg.CompressionLevel); err != nil {
		return nil, fmt.Errorf("websocket: engine nbio: %w", err)
	}
	u.SetCloseHandler(func(c *nbws.Conn, code int, text string) {
		if !utf8.ValidString(text) {
			_ = c.WriteClose(1007, "close reason is not valid UTF-8")
			return
		}
		if code == 1005 {
			_ = c.WriteMessage(nbws.CloseMessage, nil)
			return
		}
		_ = c.WriteClose(code, "")
	})
	e.tmpl = *u
	e.newFramers()
	return e, nil
}

// errEngineStopped: a connection came after the engine was stopped.
var errEngineStopped = errors.New("websocket: engine stopped")

// start starts the engine, once.
func (e *nbEngine) start() error {
	return e.life.Start(func() error {
		if err := e.eng.Start(); err != nil {
			return fmt.Errorf("websocket: engine nbio: %w", err)
		}
		return nil
	}, errEngineStopped)
}

// stop stops the engine if it started; it starts no more.
func (e *nbEngine) stop() { e.life.Stop(e.eng.Stop) }

// nbEligible reports whether r's connection can move to nbio's poller:
// plain TCP (a TLS connection's state lives in crypto/tls, and a Unix
// socket is not polled by nbio's HTTP engine). The others are served by
// gorilla.
func nbEligible(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	_, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	return ok
}
