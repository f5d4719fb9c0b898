package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// conn is a lean WAMP connection: one gorilla connection, messages through
// Junction's explicit codecs, no session bookkeeping beyond what a scenario needs.
type conn struct {
	ws      *websocket.Conn
	ser     serializers.Serializer
	msgType int
	wmu     sync.Mutex
	id      wamp.ID
}

var benchRoles = wamp.Dict{"roles": wamp.Dict{
	"caller": wamp.Dict{}, "callee": wamp.Dict{}, "publisher": wamp.Dict{}, "subscriber": wamp.Dict{},
}}

// dial connects and joins realm.
func dial(ctx context.Context, url, realm, serializer string) (*conn, error) {
	return dialWith(ctx, &websocket.Dialer{HandshakeTimeout: 10 * time.Second}, url, realm, serializer)
}

// dialWith connects with d and joins realm.
func dialWith(ctx context.Context, d *websocket.Dialer, url, realm, serializer string) (*conn, error) {
	c, err := open(ctx, d, url, serializer)
	if err != nil {
		return nil, err
	}
	m, err := c.hello(realm, benchRoles)
	if err != nil {
		c.ws.Close()
		return nil, err
	}
	w, ok := m.(*wamp.Welcome)
	if !ok {
		c.ws.Close()
		return nil, fmt.Errorf("router answered HELLO with %s", m.MessageType())
	}
	c.id = w.Session
	return c, nil
}

// open makes the WebSocket connection with d (its subprotocol set to the
// serializer's), without joining a realm.
func open(ctx context.Context, d *websocket.Dialer, url, serializer string) (*conn, error) {
	ser, ok := serializers.ByName(serializer)
	if !ok {
		return nil, fmt.Errorf("unknown serializer %q", serializer)
	}
	dd := *d
	dd.Subprotocols = []string{ser.Subprotocol()}
	ws, resp, err := dd.DialContext(ctx, url, http.Header{})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, err
	}
	c := &conn{ws: ws, ser: ser, msgType: websocket.TextMessage}
	if ser.Binary() {
		c.msgType = websocket.BinaryMessage
	}
	return c, nil
}

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
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(c.msgType, data)
}

func (c *conn) recv() (wamp.Message, error) {
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	return c.ser.Decode(data)
}

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
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.ws.Close()
}
