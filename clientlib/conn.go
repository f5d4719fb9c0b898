package clientlib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport/local"
	"github.com/junction-wamp/junction/wamp"
)

// conn is what a Client speaks WAMP over: a WebSocket (wsConn) or the
// in-process transport (localConn).
type conn interface {
	// read returns the next message. A ctx that can be done bounds the
	// wait (the handshake's reads); the read loop passes one that cannot.
	read(ctx context.Context) (wamp.Message, error)
	// write sends m; ctx bounds the write. It may be called from any
	// goroutine. A failure to send (not to encode) is a *writeError.
	write(ctx context.Context, m wamp.Message) error
	// leave tells the router the client is done with the connection, after
	// the GOODBYEs (WebSocket: a close frame); the router then closes it.
	leave()
	// close closes the connection now.
	close()
	// ended reports whether err, from read, is the connection's end.
	ended(err error) bool
}

// writeError is a message that could not be sent.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// wsConn is a WebSocket connection: messages are encoded with ser.
type wsConn struct {
	conn    *websocket.Conn
	ser     serializers.Serializer
	msgType int
	wmu     sync.Mutex // serialises writes
}

func newWSConn(c *websocket.Conn, ser serializers.Serializer) *wsConn {
	w := &wsConn{conn: c, ser: ser, msgType: websocket.TextMessage}
	if ser.Binary() {
		w.msgType = websocket.BinaryMessage
	}
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
	return w.ser.Decode(data)
}

func (w *wsConn) write(ctx context.Context, m wamp.Message) error {
	data, err := w.ser.Encode(m)
	if err != nil {
		return fmt.Errorf("clientlib: encoding %s: %w", m.MessageType(), err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	dl, _ := ctx.Deadline()
	_ = w.conn.SetWriteDeadline(dl)
	if err := w.conn.WriteMessage(w.msgType, data); err != nil {
		return &writeError{err}
	}
	return nil
}

func (w *wsConn) leave() {
	w.wmu.Lock()
	_ = w.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	w.wmu.Unlock()
}

func (w *wsConn) close() { _ = w.conn.Close() }

func (w *wsConn) ended(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) || errors.Is(err, io.EOF)
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

func (l localConn) write(ctx context.Context, m wamp.Message) error {
	if err := l.c.Write(ctx, m); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err
		}
		return &writeError{err}
	}
	return nil
}

func (l localConn) leave() { l.c.Close() }
func (l localConn) close() { l.c.Close() }

func (l localConn) ended(err error) bool {
	var ce *local.CloseError
	return errors.As(err, &ce) || errors.Is(err, local.ErrClientClosed)
}
