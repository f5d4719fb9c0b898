package clientlib

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/wamp"
)

// ErrTooLarge is wrapped by the error of a message longer than the router
// announced it accepts (over RawSocket, the maximum length of its
// handshake). The message is not sent and the session goes on: Call,
// Publish and the like return the error; a YIELD is answered to the caller
// as wamp.error.payload_size_exceeded instead.
var ErrTooLarge = errors.New("clientlib: message over the router's maximum length")

// DefaultReadLimit is the largest message a RawSocket connection accepts
// from the router when Options.ReadLimit is 0: 16 MiB, the most its
// handshake can announce.
const DefaultReadLimit = rawsocket.MaxLength

// dialRawSocket connects to e and shakes hands for ser, within ctx and the
// handshake timeout of opts.Dialer (10s by default, as for a WebSocket).
func dialRawSocket(ctx context.Context, url string, e rawsocket.Endpoint, ser serializers.Serializer, opts Options) (*rsConn, error) {
	id, ok := rawsocket.SerializerID(ser.Name())
	if !ok {
		return nil, fmt.Errorf("clientlib: serializer %s has no RawSocket id", ser.Name())
	}
	timeout := 10 * time.Second
	if opts.Dialer != nil {
		timeout = opts.Dialer.HandshakeTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	limit := opts.ReadLimit
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	var tc *tls.Config // for rss://, the one a wss:// dial would use
	if opts.Dialer != nil {
		tc = opts.Dialer.TLSClientConfig
	}
	r := &rsConn{ser: ser}
	c, err := dialRS(ctx, e, id, limit, tc, &r.activity)
	if err != nil {
		var he rawsocket.HandshakeError
		if errors.As(err, &he) {
			return nil, fmt.Errorf("clientlib: handshake refused by %s: %w", url, err)
		}
		return nil, fmt.Errorf("clientlib: dial %s: %w", url, err)
	}
	r.c = c
	r.touch()
	return r, nil
}

// dialRS is rawsocket.Dial with the connection's reads recorded in a (the
// keepalive's evidence that the router is there: rawsocket.Conn answers
// and skips PINGs and PONGs itself).
func dialRS(ctx context.Context, e rawsocket.Endpoint, ser byte, recvMax int, tc *tls.Config, a *activity) (*rawsocket.Conn, error) {
	return rawsocket.DialWrap(ctx, e, ser, recvMax, tc, func(nc net.Conn) net.Conn { return activityConn{nc, a} })
}

// rsConn is a RawSocket connection: messages are encoded with ser, each in
// a frame of its own. rawsocket.Conn serialises the writes and answers the
// router's PINGs as it reads.
type rsConn struct {
	activity
	c   *rawsocket.Conn
	ser serializers.Serializer
}

func (r *rsConn) read(ctx context.Context) (wamp.Message, error) {
	if ctx.Done() != nil {
		nc := r.c.NetConn()
		if dl, ok := ctx.Deadline(); ok {
			_ = nc.SetReadDeadline(dl)
		}
		stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Now()) })
		defer func() {
			stop()
			_ = nc.SetReadDeadline(time.Time{})
		}()
	}
	data, err := r.c.ReadMessage()
	if err != nil {
		if ctx.Done() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			<-ctx.Done() // the deadline is ctx's, whose timer may not have fired yet
			return nil, ctx.Err()
		}
		return nil, err
	}
	return r.ser.Decode(data)
}

func (r *rsConn) encode(m wamp.Message) (any, int, error) {
	data, err := r.ser.Encode(m)
	if err != nil {
		return nil, 0, fmt.Errorf("clientlib: encoding %s: %w", m.MessageType(), err)
	}
	if max := r.c.SendMax(); len(data) > max {
		return nil, 0, fmt.Errorf("%w: %s of %d octets, the router accepts %d", ErrTooLarge, m.MessageType(), len(data), max)
	}
	return data, len(data), nil
}

func (r *rsConn) send(data any, deadline time.Time) error {
	return r.c.WriteMessageDeadline(data.([]byte), deadline)
}

func (r *rsConn) ping(time.Time) error {
	// rawsocket.Conn.Ping has no deadline: the write pump's guard closes
	// the connection if it blocks past the write timeout.
	return r.c.Ping(nil)
}

// leave closes the connection: RawSocket has no closing handshake, the
// GOODBYEs were the end.
func (r *rsConn) leave(time.Time) { _ = r.c.Close() }
func (r *rsConn) close()          { _ = r.c.Close() }

func (r *rsConn) ended(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
