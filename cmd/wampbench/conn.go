package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/wamp"
)

// conn is a lean WAMP connection: one WebSocket or RawSocket connection,
// messages through Junction's explicit codecs, no session bookkeeping
// beyond what a scenario needs.
type conn struct {
	w   wire
	ser serializers.Serializer
	wmu sync.Mutex
	id  wamp.ID
}

// wire carries a conn's messages: a WebSocket (wsWire) or a RawSocket
// (rsWire, transport/rawsocket's client end).
type wire interface {
	ReadMessage() ([]byte, error)
	WriteMessage(data []byte) error
	// NetConn is the connection under the transport (deadlines, an
	// abrupt close, bytes written past the transport's framing).
	NetConn() net.Conn
	Close() error
	// closeNormally says the connection ends, in the transport's way,
	// before Close: a WebSocket close frame; RawSocket has none.
	closeNormally()
}

// handshakeTimeout bounds a connection's opening handshakes (TCP, TLS,
// WebSocket upgrade or RawSocket handshake).
const handshakeTimeout = 10 * time.Second

var benchRoles = wamp.Dict{"roles": wamp.Dict{
	"caller": wamp.Dict{}, "callee": wamp.Dict{}, "publisher": wamp.Dict{}, "subscriber": wamp.Dict{},
}}

// dial connects to url (ws://, wss://, rs://, rss:// or unix:///path) and
// joins realm.
func dial(ctx context.Context, url, realm, serializer string) (*conn, error) {
	return dialWith(ctx, nil, url, realm, serializer)
}

// dialWith is dial with control run on the socket before it connects (nil:
// none).
func dialWith(ctx context.Context, control socketControl, url, realm, serializer string) (*conn, error) {
	c, err := open(ctx, control, url, serializer)
	if err != nil {
		return nil, err
	}
	m, err := c.hello(realm, benchRoles)
	if err != nil {
		c.close()
		return nil, err
	}
	w, ok := m.(*wamp.Welcome)
	if !ok {
		c.close()
		return nil, fmt.Errorf("router answered HELLO with %s", m.MessageType())
	}
	c.id = w.Session
	return c, nil
}

// socketControl is a net.Dialer's Control.
type socketControl func(network, address string, c syscall.RawConn) error

// open makes the connection to url for serializer, without joining a
// realm: a WebSocket with the serializer's subprotocol, or a RawSocket
// (the URL's scheme says which) with its id in the handshake.
func open(ctx context.Context, control socketControl, url, serializer string) (*conn, error) {
	ser, ok := serializers.ByName(serializer)
	if !ok {
		return nil, fmt.Errorf("unknown serializer %q", serializer)
	}
	nd := &net.Dialer{Control: control}
	e, isRS, err := rawsocket.ParseURL(url)
	var w wire
	switch {
	case err != nil:
		return nil, err
	case isRS:
		w, err = openRawSocket(ctx, nd, e, ser)
	default:
		w, err = openWebSocket(ctx, nd, url, ser)
	}
	if err != nil {
		return nil, err
	}
	return &conn{w: w, ser: ser}, nil
}

func openWebSocket(ctx context.Context, nd *net.Dialer, url string, ser serializers.Serializer) (wire, error) {
	d := websocket.Dialer{HandshakeTimeout: handshakeTimeout, NetDialContext: nd.DialContext,
		Subprotocols: []string{ser.Subprotocol()}}
	ws, resp, err := d.DialContext(ctx, url, http.Header{})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, err
	}
	w := &wsWire{ws: ws, msgType: websocket.TextMessage}
	if ser.Binary() {
		w.msgType = websocket.BinaryMessage
	}
	return w, nil
}

// openRawSocket connects to e and shakes hands (rawsocket.Client),
// accepting messages of up to 16 MiB. It dials itself, rather than through
// rawsocket.Dial, for nd's Control.
func openRawSocket(ctx context.Context, nd *net.Dialer, e rawsocket.Endpoint, ser serializers.Serializer) (wire, error) {
	id, ok := rawsocket.SerializerID(ser.Name())
	if !ok {
		return nil, fmt.Errorf("no RawSocket id for serializer %q", ser.Name())
	}
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	nc, err := nd.DialContext(ctx, e.Network, e.Address)
	if err != nil {
		return nil, err
	}
	if e.TLS {
		tc := tls.Client(nc, &tls.Config{ServerName: e.Host})
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, err
		}
		nc = tc
	}
	rc, err := rawsocket.Client(ctx, nc, id, 0)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return rsWire{rc}, nil
}

// wsWire is a WebSocket, its messages in frames of msgType (text for JSON).
type wsWire struct {
	ws      *websocket.Conn
	msgType int
}

func (w *wsWire) ReadMessage() ([]byte, error) {
	_, data, err := w.ws.ReadMessage()
	return data, err
}

func (w *wsWire) WriteMessage(data []byte) error { return w.ws.WriteMessage(w.msgType, data) }
func (w *wsWire) NetConn() net.Conn              { return w.ws.NetConn() }
func (w *wsWire) Close() error                   { return w.ws.Close() }

func (w *wsWire) closeNormally() {
	_ = w.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}

// rsWire is a RawSocket: its ReadMessage answers the router's PINGs.
type rsWire struct{ *rawsocket.Conn }

func (rsWire) closeNormally() {}

// hello sends HELLO and returns the router's answer.
func (c *conn) hello(realm string, details wamp.Dict) (wamp.Message, error) {
	if err := c.send(&wamp.Hello{Realm: wamp.URI(realm), Details: details}); err != nil {
		return nil, err
	}
	return c.recv()
}

func (c *conn) send(m wamp.Message) error {
	data, err := c.ser.Encode(m)
	if err != nil {
		return err
	}
	return c.sendRaw(data)
}

// sendRaw sends data as one message, whatever it holds.
func (c *conn) sendRaw(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.w.WriteMessage(data)
}

func (c *conn) recv() (wamp.Message, error) {
	data, err := c.w.ReadMessage()
	if err != nil {
		return nil, err
	}
	return c.ser.Decode(data)
}

// setReadDeadline bounds the reads to come (zero: no bound).
func (c *conn) setReadDeadline(t time.Time) { _ = c.w.NetConn().SetReadDeadline(t) }

// close closes the connection, saying nothing.
func (c *conn) close() { _ = c.w.Close() }

// request sends m and reads until the reply to it (by request id) arrives.
func (c *conn) request(m wamp.Message, id wamp.ID) (wamp.Message, error) {
	if err := c.send(m); err != nil {
		return nil, err
	}
	for {
		r, err := c.recv()
		if err != nil {
			return nil, err
		}
		switch r := r.(type) {
		case *wamp.Registered:
			if r.Request == id {
				return r, nil
			}
		case *wamp.Subscribed:
			if r.Request == id {
				return r, nil
			}
		case *wamp.Result:
			if r.Request == id {
				return r, nil
			}
		case *wamp.Error:
			if r.Request == id {
				return nil, fmt.Errorf("%s", r.Error)
			}
		}
	}
}

// leave says GOODBYE and closes, without waiting for the router's answer
// (a scenario's reader goroutine may own the read side).
func (c *conn) leave() {
	_ = c.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal})
	c.wmu.Lock()
	c.w.closeNormally()
	c.wmu.Unlock()
	c.close()
}
