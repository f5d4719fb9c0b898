package transport

import (
	"errors"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// CloseCode is a WebSocket close code (RFC 6455 section 7.4.1) that the router
// asks a transport to close a connection with.
type CloseCode int

// Close codes the router uses.
const (
	CloseNormal          CloseCode = 1000 // after GOODBYE
	CloseGoingAway       CloseCode = 1001 // router shutdown
	CloseProtocolError   CloseCode = 1002 // protocol violation
	CloseUnsupportedData CloseCode = 1003 // wrong frame type for the serializer
	CloseInvalidPayload  CloseCode = 1007 // a text frame that is not UTF-8
	ClosePolicyViolation CloseCode = 1008 // policy: auth, slow consumer, limits
	CloseMessageTooBig   CloseCode = 1009 // read limit exceeded
	CloseInternalError   CloseCode = 1011 // internal error
)

// Errors returned by Peer methods.
var (
	// ErrClosed: the peer is closed or closing; nothing more is sent.
	ErrClosed = errors.New("transport: peer closed")
	// ErrSlowConsumer: the peer's outbound queue stayed over its bound; the peer
	// is being closed and the message was not queued.
	ErrSlowConsumer = errors.New("transport: slow consumer")
)

// Info describes the connection a peer came in on.
type Info struct {
	// RemoteAddr is the client's address: the connection's peer, or, behind
	// a trusted proxy, the address it forwarded (X-Forwarded-For).
	RemoteAddr  string
	Subprotocol string
	Compression bool
	Origin      string
	// ClientCert is the subject common name of a verified TLS client
	// certificate, "" without one.
	ClientCert string
}

// Peer is one connected WAMP peer as the router sees it.
//
// Recv is called from one goroutine only (the session's read pump). Send and
// SendFrame may be called from any goroutine; they never block: they put the
// message on the peer's bounded outbound queue, which the peer's single writer
// drains. A peer whose queue stays over its bound is closed with a reason and
// Send returns ErrSlowConsumer: nothing is dropped silently.
type Peer interface {
	// Recv returns the next message. Errors: io.EOF or ErrClosed when the
	// connection ended, a *ProtocolError for input that must end the session.
	Recv() (wamp.Message, error)
	// Send encodes m with the peer's serializer and queues it.
	Send(m wamp.Message) error
	// SendFrame queues a frame already encoded with the peer's serializer,
	// shared between the recipients of a fan-out.
	SendFrame(f *Frame) error
	// Serializer is the serializer negotiated for the connection.
	Serializer() serializers.Serializer
	// Close flushes what is queued (within the write timeout), sends a close
	// frame with code and reason and closes the connection. Idempotent.
	Close(code CloseCode, reason string)
	// Done is closed when the connection is closed.
	Done() <-chan struct{}
	// Info describes the connection.
	Info() Info
	// Established tells the peer that its session was welcomed into a realm.
	// Until then a transport reads messages no larger than its handshake
	// limit: what an unauthenticated client can make the router decode.
	Established()
}

// Handler is what a transport hands accepted peers to; the router implements it.
type Handler interface {
	// ServePeer runs the peer's session until it ends. It is called on the
	// connection's read goroutine and returns when the session is over; the
	// transport closes the connection after it returns if it is still open.
	ServePeer(p Peer)
}

// ProtocolError is input that must end the session: a malformed frame, an
// unknown message type, a frame of the wrong type for the serializer, an
// oversized message. Code is the close code to use.
type ProtocolError struct {
	Code CloseCode
	Err  error
}

func (e *ProtocolError) Error() string { return "transport: " + e.Err.Error() }
func (e *ProtocolError) Unwrap() error { return e.Err }
