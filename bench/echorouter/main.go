// Command echorouter is the floor of the comparison: a server that speaks
// just enough WAMP for wampbench's rpc scenario (WELCOME, REGISTERED) and
// answers each CALL itself with a RESULT carrying the same payload, so no
// router and no callee stand in between. It serves gorilla/websocket on
// --listen and, with --rawsocket ADDR, RawSocket on a TCP listener of its
// own, with --unix PATH on a Unix socket (transport/rawsocket's wire
// format, no router behind it). It prints the URL of each, one a line:
// ws://ADDR/ws, then rs://ADDR and unix://PATH.
//
// With -raw it is the floor of the transport itself: each JSON message is
// read into one reused buffer and a CALL is answered by rewriting its
// header ([48,ID,{..},"proc", rest] becomes [50,ID,{}, rest]), so the
// payload is never decoded, copied into a new buffer or encoded. Over
// RawSocket that answer is one writev of the frame's prefix, the new
// header and the rest of the CALL, as it lies in the read buffer.
//
// --engine picks the WebSocket library, for the comparison of connection
// engines (bench/engines/echo.sh): gorilla (the default, a goroutine per
// connection), nbio (lesismal/nbio's event loop, nbio.go) or gobwas
// (gobwas/ws with an epoll loop of the bench's own, gobwas_linux.go).
package main

import (
	"bytes"
	"flag"
	"fmt"
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
	listen := flag.String("listen", "127.0.0.1:0", "WebSocket listen address")
	rs := flag.String("rawsocket", "", "RawSocket listen address (127.0.0.1:0: any port); none if empty")
	unix := flag.String("unix", "", "RawSocket Unix socket path; none if empty")
	raw := flag.Bool("raw", false, "answer JSON CALLs by rewriting their header, payload untouched")
	engine := flag.String("engine", "gorilla", "WebSocket library: gorilla (goroutine per connection), nbio (event loop) or gobwas (gobwas/ws and an epoll loop)")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	urls := []string{"ws://" + ln.Addr().String() + "/ws"}
	switch *engine {
	case "gorilla":
		go func() { _ = http.Serve(ln, wsHandler(*raw)) }()
	case "nbio":
		err = serveNbio(ln)
	case "gobwas":
		err = serveGobwas(ln)
	default:
		err = fmt.Errorf("unknown engine %q", *engine)
	}
	if err == nil && *raw && *engine != "gorilla" {
		err = fmt.Errorf("-raw is for the gorilla engine")
	}
	if err != nil {
		log.Fatal(err)
	}
	if *rs != "" {
		rln, err := net.Listen("tcp", *rs)
		if err != nil {
			log.Fatal(err)
		}
		urls = append(urls, "rs://"+rln.Addr().String())
		go serveRawSocket(rln, *raw)
	}
	if *unix != "" {
		uln, err := net.Listen("unix", *unix)
		if err != nil {
			log.Fatal(err)
		}
		defer uln.Close() // removes the socket file
		urls = append(urls, "unix://"+*unix)
		go serveRawSocket(uln, *raw)
	}
	for _, u := range urls {
		fmt.Println(u)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}

// wsHandler upgrades each request and answers on the WebSocket.
func wsHandler(raw bool) http.Handler {
	up := websocket.Upgrader{Subprotocols: []string{"wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			if raw {
				mt, data, err = readInto(c, &buf)
			} else {
				mt, data, err = c.ReadMessage()
			}
			if err != nil {
				return
			}
			if raw && ser.Name() == "json" {
				if id, rest, ok := splitJSONCall(data); ok {
					w, err := c.NextWriter(mt)
					if err != nil {
						return
					}
					_, _ = w.Write(resultStart)
					_, _ = w.Write(id)
					_, _ = w.Write(resultOptions)
					_, _ = w.Write(rest)
					if w.Close() != nil {
						return
					}
					continue
				}
			}
			b, end, err := answer(ser, data)
			if err != nil || end {
				return
			}
			if b != nil && c.WriteMessage(mt, b) != nil {
				return
			}
		}
	})
}

// The pieces of a RESULT rewritten from a CALL: [50,ID,{}REST.
var resultStart, resultOptions = []byte("[50,"), []byte(",{}")

// answer is the encoded answer to message data: WELCOME to HELLO,
// REGISTERED to REGISTER, a RESULT with the CALL's payload to CALL, nothing
// to the rest; end at GOODBYE.
func answer(ser serializers.Serializer, data []byte) (out []byte, end bool, err error) {
	m, err := ser.Decode(data)
	if err != nil {
		return nil, true, err
	}
	var a wamp.Message
	switch m := m.(type) {
	case *wamp.Hello:
		a = &wamp.Welcome{Session: wamp.GlobalID(), Details: wamp.Dict{"roles": wamp.Dict{"dealer": wamp.Dict{}, "broker": wamp.Dict{}}}}
	case *wamp.Register:
		a = &wamp.Registered{Request: m.Request, Registration: 1}
	case *wamp.Call:
		a = &wamp.Result{Request: m.Request, Payload: m.Payload}
	case *wamp.Goodbye:
		return nil, true, nil
	default:
		return nil, false, nil
	}
	out, err = ser.Encode(a)
	return out, false, err
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
