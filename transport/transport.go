package transport

import (
	"errors"
	"strconv"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// CloseCode is why the router closes a connection, in terms neutral to the
// transport: what it means, not a number on any wire. Each transport maps
// it to its own: the WebSocket transport to an RFC 6455 close code (section
// 7.4.1), sent in its close frame; a RawSocket transport, which has no
// close message, just closes the connection (after the ABORT or GOODBYE the
// router sent before). The zero value is CloseNormal.
//
// A transport meeting a value it does not know treats it as
// CloseInternalError.
type CloseCode uint8

// The reasons the router closes a connection for (and the WebSocket code
// each maps to).
const (
	CloseNormal          CloseCode = iota // the session ended normally: GOODBYE, ABORT of a refused HELLO (1000)
	CloseGoingAway                        // the router shuts down, or the connection is abandoned (1001)
	CloseProtocolError                    // a WAMP or transport protocol violation (1002)
	CloseUnsupportedData                  // a message of a kind the serializer does not carry: a text frame on a binary serializer, or the reverse (1003)
	CloseInvalidPayload                   // a text message that is not UTF-8 (1007)
	ClosePolicyViolation                  // policy: authentication, slow consumer, limits, timeouts (1008)
	CloseMessageTooBig                    // a message over the read limit (1009)
	CloseInternalError                    // an internal error of the router (1011)
)

var closeNames = [...]string{
	CloseNormal:          "normal",
	CloseGoingAway:       "going away",
	CloseProtocolError:   "protocol error",
	CloseUnsupportedData: "unsupported data",
	CloseInvalidPayload:  "invalid payload",
	ClosePolicyViolation: "policy violation",
	CloseMessageTooBig:   "message too big",
	CloseInternalError:   "internal error",
}

func (c CloseCode) String() string {
	if int(c) < len(closeNames) {
		return closeNames[c]
	}
	return "close code " + strconv.Itoa(int(c))
}

// Errors returned by Peer methods.
var (
	// ErrClosed: the peer is closed or closing; nothing more is sent.
	ErrClosed = errors.New("transport: peer closed")
	// ErrSlowConsumer: the peer's outbound queue stayed over its bound; the peer
	// is being closed and the message was not queued.
	ErrSlowConsumer = errors.New("transport: slow consumer")
	// ErrTooLarge is wrapped by the error of a Send or SendFrame whose
	// message is larger than the peer accepts (a RawSocket client announces
	// its maximum in the handshake). The message is not queued and the
	// peer stays open: the router answers whoever sent it
	// (wamp.error.payload_size_exceeded), as for ErrUnconvertible.
	ErrTooLarge = errors.New("transport: message larger than the peer accepts")
)

// Info describes the connection a peer came in on.
type Info struct {
	// Transport names the transport: "websocket", "rawsocket", "local"
	// (in-process). The session meta API reports it.
	Transport string
	// RemoteAddr is the client's address: the connection's peer, or, behind
	// a trusted proxy, the address it forwarded (X-Forwarded-For).
	RemoteAddr  string
	Subprotocol string
	Compression bool
	Origin      string
	// ClientCert is the subject common name of a verified TLS client
	// certificate, "" without one.
	ClientCert string
	// Identity, when set, is who the session is, authenticated already by
	// the Go code of the router's own process that opened it (the HTTP
	// bridge): the router admits it with this authid and authrole, without
	// a challenge, and authorizes it by the role's rules as any session.
	// Only the in-process transport (transport/local) sets it; the router
	// ignores it on any other transport.
	Identity *Identity
}

// Identity is a session's identity vouched for by in-process code (see
// Info.Identity). AuthRole must be a role of the realm.
type Identity struct {
	AuthID     string
	AuthRole   string
	AuthMethod string // WELCOME.Details.authmethod, e.g. "ticket"
	// AuthProvider is WELCOME.Details.authprovider, e.g. "bridge".
	AuthProvider string
}

// Peer is one connected WAMP peer as the router sees it. It is all the
// router knows of a transport: WebSocket (on gorilla, or on the nbio
// event loop), RawSocket, in-process (ARCHITECTURE.md, "Transports").
//
// Recv is called from one goroutine only (the session's read pump), and
// never for a peer attached with Attacher.Attach (its transport pushes the
// messages). Send and
// SendFrame may be called from any goroutine; they never block: they put the
// message on the peer's bounded outbound queue, which the peer's single writer
// drains. A peer whose queue stays over its bound is closed with a reason and
// Send returns ErrSlowConsumer: nothing is dropped silently. Queue is that
// queue, for a transport to reuse; Frame.Cached is where a transport keeps
// its own framing of a shared frame.
type Peer interface {
	// Recv returns the next message. Errors: io.EOF or ErrClosed when the
	// connection ended, a *ProtocolError for input that must end the session.
	Recv() (wamp.Message, error)
	// Send queues m: a transport on a wire encodes it with the peer's
	// serializer first; the in-process one (transport/local) queues the
	// value as it is.
	Send(m wamp.Message) error
	// SendFrame queues a frame already encoded with the peer's serializer,
	// shared between the recipients of a fan-out.
	SendFrame(f *Frame) error
	// Serializer is the serializer negotiated for the connection.
	Serializer() serializers.Serializer
	// Close flushes what is queued (within the write timeout), tells the
	// client why in the transport's own way (WebSocket: a close frame with
	// the RFC 6455 code of code, and reason; RawSocket: nothing, the ABORT
	// or GOODBYE queued before said it) and closes the connection.
	// Idempotent.
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
//
// The model is pull, one goroutine per connection: ServePeer reads the
// peer's messages with Recv and handles each on that goroutine, and may
// block there: in Recv (waiting for HELLO, for AUTHENTICATE after a
// CHALLENGE, for the next message), and while handling a message, for
// bounded times: a call to the realm's dynamic authenticator or authorizer
// (a WAMP procedure, or a Go hook), the cluster's confirmation of a join,
// subscription, registration or testament. A blocked session goroutine is
// also the flow control: the transport stops reading its socket, and TCP
// pushes back on the client.
//
// An event-driven transport, which reads many connections on a few
// goroutines, cannot give the router a goroutine to block on: it uses the
// push model, Attacher, instead.
type Handler interface {
	// ServePeer runs the peer's session until it ends. It is called on the
	// connection's read goroutine and returns when the session is over; the
	// transport closes the connection after it returns if it is still open.
	ServePeer(p Peer)
}

// Attacher is the push model, for a transport that reads many connections
// on a few goroutines; the router implements it (router.Router.Attach).
// Attach admits p (or refuses it: ABORT, Close, and a Session that ignores
// input) and returns the Session the transport hands p's input to. The
// transport never calls p.Recv. The session holds a goroutine only while it
// has work (its handshake, then while messages are queued), never one per
// idle connection; blocking steps (a dynamic authorizer, a cluster
// confirmation) block that goroutine, never the caller of Handle.
type Attacher interface {
	Attach(p Peer) Session
}

// Session is an attached peer's session, as the transport drives it.
//
// The transport calls Handle for a session from one goroutine at a time
// (the same one or not), in the order the messages came, then Closed once,
// after which it calls nothing. When the connection is closed by the
// transport itself (a slow consumer, a read error) it calls Closed too; the
// router's own Close of the peer ends the session without it.
type Session interface {
	// Handle queues one decoded message for the session; it never blocks.
	// It reports false when the session's bounded inbox is full: the
	// message is queued all the same, and the transport should stop
	// reading the connection until the peer's Resume is called. Input
	// past twice the bound (a transport that went on reading, or a peer
	// that does not implement Resumer and so is never resumed) ends the
	// session with ClosePolicyViolation.
	Handle(m wamp.Message) (more bool)
	// Closed ends the input: err is io.EOF or ErrClosed when the
	// connection ended, a *ProtocolError for input that must end the
	// session (as Recv returns them). The messages queued before are
	// handled first.
	Closed(err error)
}

// Resumer is implemented by a peer whose transport can stop reading it:
// after Handle returned false, the router calls Resume, from the session's
// goroutine, once the inbox has drained to half its bound. Resume must not
// block, nor call Handle before returning.
type Resumer interface {
	Resume()
}

// ProtocolError is input that must end the session: a malformed frame, an
// unknown message type, a frame of the wrong type for the serializer, an
// oversized message. Code is why the transport asks the session be closed.
type ProtocolError struct {
	Code CloseCode
	Err  error
}

func (e *ProtocolError) Error() string { return "transport: " + e.Err.Error() }
func (e *ProtocolError) Unwrap() error { return e.Err }

// Counters are a transport's counters, as the metrics read them.
type Counters struct {
	Transport   string // "websocket", "rawsocket"
	Connections int64  // sessions' connections open now
	Accepted    uint64 // handshakes accepted
	Refused     uint64 // handshakes refused
	// SlowConsumerDisconnects counts the connections closed because their
	// outbound queue stayed over its bound, or a write stayed stuck.
	SlowConsumerDisconnects uint64
	BytesIn, BytesOut       uint64
	// TooBig and TooBigHandshake count the messages over the read limits
	// after and before the session was established; their config keys
	// name the limits.
	TooBig, TooBigHandshake       uint64
	TooBigKey, TooBigHandshakeKey string
	InvalidUTF8                   uint64 // text frames that were not UTF-8 (WebSocket)
	// QueueHighMsgs and QueueHighBytes are the deepest any outbound queue
	// has been; PendingMsgs and PendingBytes what the queues hold now.
	QueueHighMsgs, QueueHighBytes int64
	PendingMsgs, PendingBytes     int64
}

// Metered is a transport whose counters the metrics read.
type Metered interface {
	Counters() Counters
}
