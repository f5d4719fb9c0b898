// Command echorouter is the floor of the comparison: a gorilla/websocket
// server that speaks just enough WAMP for wampbench's rpc scenario (WELCOME,
// REGISTERED) and answers each CALL itself with a RESULT carrying the same
// payload, so no router and no callee stand in between.
//
// With -raw it is the floor of gorilla/websocket itself: each JSON frame is
// read into one reused buffer and a CALL is answered by rewriting its header
// ([48,ID,{..},"proc", rest] becomes [50,ID,{}, rest]), so the payload is
// never decoded, copied into a new buffer or encoded.
package main

import (
	"bytes"
	"flag"
	"io"
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
	raw := flag.Bool("raw", false, "answer JSON CALLs by rewriting their header, payload untouched")
	flag.Parse()
	up := websocket.Upgrader{Subprotocols: []string{"wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		ser, _ := serializers.BySubprotocol(c.Subprotocol())
		buf := make([]byte, 64<<10)
		for {
			var mt int
			var data []byte
			var err error
			if *raw {
				mt, data, err = readInto(c, &buf)
			} else {
				mt, data, err = c.ReadMessage()
			}
			if err != nil {
				return
			}
			if *raw && ser.Subprotocol() == "wamp.2.json" {
				if id, rest, ok := splitJSONCall(data); ok {
					w, err := c.NextWriter(mt)
					if err != nil {
						return
					}
					_, _ = w.Write([]byte("[50,"))
					_, _ = w.Write(id)
					_, _ = w.Write([]byte(",{}"))
					_, _ = w.Write(rest)
					if w.Close() != nil {
						return
					}
					continue
				}
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

// readInto reads the next message into *buf, growing it when a message does
// not fit, and returns the part of it that holds the message.
func readInto(c *websocket.Conn, buf *[]byte) (int, []byte, error) {
	mt, r, err := c.NextReader()
	if err != nil {
		return 0, nil, err
	}
	n := 0
	for {
		if n == len(*buf) {
			*buf = append(*buf, make([]byte, len(*buf))...)
		}
		k, err := r.Read((*buf)[n:])
		n += k
		if err == io.EOF {
			return mt, (*buf)[:n], nil
		}
		if err != nil {
			return 0, nil, err
		}
	}
}

// splitJSONCall splits a JSON CALL as wampbench sends it,
// [48,ID,{...},"procedure"REST, into ID and REST (the payload and the closing
// bracket). Options must hold no nested object and the procedure no escapes.
func splitJSONCall(b []byte) (id, rest []byte, ok bool) {
	if !bytes.HasPrefix(b, []byte("[48,")) {
		return nil, nil, false
	}
	b = b[4:]
	i := bytes.IndexByte(b, ',')
	if i <= 0 {
		return nil, nil, false
	}
	id, b = b[:i], b[i+1:]
	if len(b) == 0 || b[0] != '{' {
		return nil, nil, false
	}
	j := bytes.IndexByte(b, '}')
	if j < 0 || j+2 >= len(b) || b[j+1] != ',' || b[j+2] != '"' {
		return nil, nil, false
	}
	b = b[j+3:]
	k := bytes.IndexByte(b, '"')
	if k < 0 {
		return nil, nil, false
	}
	return id, b[k+1:], true
}
