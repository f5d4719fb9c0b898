// Command echorouter is the floor of the comparison: a gorilla/websocket
// server that speaks just enough WAMP for wampbench's rpc scenario (WELCOME,
// REGISTERED) and answers each CALL itself with a RESULT carrying the same
// payload, so no router and no callee stand in between.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	flag.Parse()
	up := websocket.Upgrader{Subprotocols: []string{"wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		ser, _ := serializers.BySubprotocol(c.Subprotocol())
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			m, err := ser.Decode(data)
			if err != nil {
				return
			}
			var out wamp.Message
			switch m := m.(type) {
			case *wamp.Hello:
				out = &wamp.Welcome{Session: wamp.GlobalID(), Details: wamp.Dict{"roles": wamp.Dict{"dealer": wamp.Dict{}, "broker": wamp.Dict{}}}}
			case *wamp.Register:
				out = &wamp.Registered{Request: m.Request, Registration: 1}
			case *wamp.Call:
				out = &wamp.Result{Request: m.Request, Payload: m.Payload}
			case *wamp.Goodbye:
				return
			default:
				continue
			}
			b, err := ser.Encode(out)
			if err != nil || c.WriteMessage(mt, b) != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.WriteString(ln.Addr().String() + "\n")
	go func() { _ = http.Serve(ln, handler) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}
