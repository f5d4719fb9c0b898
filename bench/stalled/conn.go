package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// conn is one WAMP session over a raw gorilla connection, JSON serializer.
type conn struct {
	ws  *websocket.Conn
	ser serializers.Serializer
	wmu sync.Mutex
}

var jsonSer, _ = serializers.ByName("json")

var roles = wamp.Dict{"roles": wamp.Dict{
	"caller": wamp.Dict{}, "callee": wamp.Dict{}, "publisher": wamp.Dict{}, "subscriber": wamp.Dict{},
}}

// dialOptions shape the client side of a connection.
type dialOptions struct {
	rcvbuf   int // SO_RCVBUF set before connect; 0: the kernel's default
	bufSize  int // gorilla's read and write buffers; 0: gorilla's default
	compress bool
}

// dial connects and joins realm.
func dial(ctx context.Context, url, realm string, o dialOptions) (*conn, error) {
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if o.rcvbuf > 0 {
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.rcvbuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	d := websocket.Dialer{
		NetDialContext: nd.DialContext, Subprotocols: []string{jsonSer.Subprotocol()},
		HandshakeTimeout: 10 * time.Second, EnableCompression: o.compress,
		ReadBufferSize: o.bufSize, WriteBufferSize: o.bufSize,
	}
	ws, resp, err := d.DialContext(ctx, url, http.Header{})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, err
	}
	c := &conn{ws: ws, ser: jsonSer}
	m, err := c.request(&wamp.Hello{Realm: wamp.URI(realm), Details: roles}, 0)
	if err != nil {
		ws.Close()
		return nil, err
	}
	if _, ok := m.(*wamp.Welcome); !ok {
		ws.Close()
		return nil, fmt.Errorf("HELLO answered with %s", m.MessageType())
	}
	return c, nil
}

func (c *conn) send(m wamp.Message) error {
	data, err := c.ser.Encode(m)
	if err != nil {
		return err
	}
	return c.sendRaw(data)
}

func (c *conn) sendRaw(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, data)
}

func (c *conn) recv() (wamp.Message, error) {
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	return c.ser.Decode(data)
}

// request sends m and reads until its answer: the first WELCOME or ABORT
// (id 0), or the message answering request id.
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
		case *wamp.Welcome:
			return r, nil
		case *wamp.Abort:
			return nil, &wampError{r.Reason}
		case *wamp.Error:
			if r.Request == id {
				return nil, &wampError{r.Error}
			}
		case *wamp.Subscribed, *wamp.Registered, *wamp.Result:
			if requestOf(r) == id {
				return r, nil
			}
		}
	}
}

func requestOf(m wamp.Message) wamp.ID {
	switch m := m.(type) {
	case *wamp.Subscribed:
		return m.Request
	case *wamp.Registered:
		return m.Request
	case *wamp.Result:
		return m.Request
	}
	return 0
}

// closeCode is the close code of a read error, 0 when it is not a close frame.
func closeCode(err error) int {
	if ce, ok := err.(*websocket.CloseError); ok {
		return ce.Code
	}
	return 0
}

// wampError is an ERROR or ABORT answer.
type wampError struct{ uri wamp.URI }

func (e *wampError) Error() string { return string(e.uri) }

var registerMsg = wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: echoProcedure}
