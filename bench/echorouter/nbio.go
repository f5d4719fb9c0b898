package main

import (
	"net"
	"net/http"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/junction-wamp/junction/serializers"
)

// serveNbio answers WebSocket connections on ln with lesismal/nbio's event
// loop (the library of Junction's nbio engine), one of the candidates of
// the engines comparison (--engine nbio): handshake and messages on nbio's
// pollers, each message answered inline on the poller (as the engine
// hands messages to the router), no goroutine and no read buffer held by
// an idle connection.
func serveNbio(ln net.Listener) error {
	logging.SetLevel(logging.LevelNone)
	u := nbws.NewUpgrader()
	u.Subprotocols = []string{"wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"}
	u.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, data []byte) {
		ser, ok := serializers.BySubprotocol(c.Subprotocol())
		if !ok {
			_ = c.Close()
			return
		}
		b, end, err := answer(ser, data)
		if err != nil || end {
			_ = c.Close()
			return
		}
		if b != nil {
			_ = c.WriteMessage(mt, b)
		}
	})
	eng := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		Listen:  func(string, string) (net.Listener, error) { return ln, nil },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = u.Upgrade(w, r, nil)
		}),
		ServerExecutor:          func(f func()) { f() },
		ReleaseWebsocketPayload: true,
	})
	return eng.Start()
}
