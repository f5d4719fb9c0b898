package clientlib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport/local"
	"github.com/junction-wamp/junction/wamp"
)

// conn is what a Client speaks WAMP over: a WebSocket (wsConn), a
// RawSocket (rsConn) or the in-process transport (localConn). Only the
// write pump (writer) calls send, ping and leave.
type conn interface {
	// read returns the next message. A ctx that can be done bounds the
	// wait (the handshake's reads); the read loop passes one that cannot.
	read(ctx context.Context) (wamp.Message, error)
	// encode turns m into what send takes, on the sender's goroutine: an
	// encoding failure, or a message too large for the router, is the
	// sender's error and the connection goes on.
	encode(m wamp.Message) (data any, size int, err error)
	// send writes what encode returned, within deadline.
	send(data any, deadline time.Time) error
	// ping sends a keepalive ping within deadline (none in-process).
	ping(deadline time.Time) error
	// leave tells the router the client is done with the connection, after
	// the GOODBYEs (WebSocket: a close frame); the router then closes it.
	leave(deadline time.Time)
	// close closes the connection now; it may be called from any goroutine.
	close()
	// ended reports whether err, from read, is the connection's end.
	ended(err error) bool
	// lastRead is when the connection last read anything from the router
	// (a message, a ping or a pong); zero in-process.
	lastRead() time.Time
}

// writeError is a message that could not be sent.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// activity records when a connection last read from the router.
type activity struct{ last atomic.Int64 }

func (a *activity) touch()              { a.last.Store(time.Now().UnixNano()) }
func (a *activity) lastRead() time.Time { return time.Unix(0, a.last.Load()) }

// activityConn is a net.Conn that records its reads.
type activityConn struct {
	net.Conn
	a *activity
}

func (c activityConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.a.touch()
	}
	return n, err
}

// wsConn is a WebSocket connection: messages are encoded with ser.
type wsConn struct {
	activity
	conn    *websocket.Conn
	ser     serializers.Serializer
	msgType int
}

func newWSConn(c *websocket.Conn, ser serializers.Serializer) *wsConn {
	w := &wsConn{conn: c, ser: ser, msgType: websocket.TextMessage}
	if ser.Binary() {
		w.msgType = websocket.BinaryMessage
	}
	w.touch()
	c.SetPongHandler(func(string) error { w.touch(); return nil })
	ping := c.PingHandler()
	c.SetPingHandler(func(s string) error { w.touch(); return ping(s) })
	return w
}

func (w *wsConn) read(ctx context.Context) (wamp.Message, error) {
	if ctx.Done() != nil {
		if dl, ok := ctx.Deadline(); ok {
			_ = w.conn.SetReadDeadline(dl)
		}
		stop := context.AfterFunc(ctx, func() { _ = w.conn.SetReadDeadline(time.Now()) })
		defer func() {
			stop()
			_ = w.conn.SetReadDeadline(time.Time{})
		}()
	}
	_, data, err := w.conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	w.touch()
	return w.ser.Decode(data)
}

func (w *wsConn) encode(m wamp.Message) (any, int, error) {
	data, err := w.ser.Encode(m)
	if err != nil {
		return nil, 0, fmt.Errorf("clientlib: encoding %s: %w", m.MessageType(), err)
	}
	return data, len(data), nil
}

func (w *wsConn) send(data any, deadline time.Time) error {
	_ = w.conn.SetWriteDeadline(deadline)
	return w.conn.WriteMessage(w.msgType, data.([]byte))
}

func (w *wsConn) ping(deadline time.Time) error {
	return w.conn.WriteControl(websocket.PingMessage, nil, deadline)
}

func (w *wsConn) leave(deadline time.Time) {
	_ = w.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
}

func (w *wsConn) close() { _ = w.conn.Close() }

func (w *wsConn) ended(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) || errors.Is(err, io.EOF)
}

// directConn is a conn whose messages are written by the sender itself,
// not the write pump: one that cannot block on a network, whose writes
// honour ctx and end when the connection does.
type directConn interface {
	writeNow(ctx context.Context, data any) error
}

// localConn is the client end of an in-process connection: messages go
// both ways as values, not encoded (package transport/local says what is).
type localConn struct{ c *local.Client }

func (l localConn) read(ctx context.Context) (wamp.Message, error) {
	if ctx.Done() == nil {
		return l.c.Read()
	}
	select {
	case m := <-l.c.ReadChan():
		return m, nil
	case <-l.c.Done():
		return l.c.Read()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l localConn) encode(m wamp.Message) (any, int, error) { return m, 0, nil }

// send hands m to the router's queue; a router that does not take it
// before deadline is as a stalled network.
func (l localConn) send(data any, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	return l.c.Write(ctx, data.(wamp.Message))
}

// writeNow hands m to the router's queue from the sender's goroutine:
// there is no network to stall, the wait for room in the queue ends with
// ctx or the connection (whose slow-consumer bound is the router's), and
// a hop through the write pump would cost a third of an in-process call.
func (l localConn) writeNow(ctx context.Context, data any) error {
	if err := l.c.Write(ctx, data.(wamp.Message)); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		return &writeError{err}
	}
	return nil
}

func (l localConn) ping(time.Time) error { return nil }
func (l localConn) leave(time.Time)      { l.c.Close() }
func (l localConn) close()               { l.c.Close() }
func (l localConn) lastRead() time.Time  { return time.Time{} }

func (l localConn) ended(err error) bool {
	var ce *local.CloseError
	return errors.As(err, &ce) || errors.Is(err, local.ErrClientClosed)
}
