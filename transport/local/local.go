// Package local is the in-process transport: a session of Go code in the
// router's own process, with no socket and no encoding of the messages
// between the two ends.
//
// Pipe returns the two ends of one connection. The router's end is a
// transport.Peer, handed to a transport.Handler (the router's ServePeer);
// the client's end is read and written by the client (clientlib.ConnectLocal
// uses it).
//
// What is and is not encoded on the way:
//   - Client to router: the client writes wamp.Message values; Recv returns
//     them as they are. Their payloads stay what the client built: Go values
//     (wamp.EncodingNone), which the router forwards and which the serializer
//     of each receiver encodes.
//   - Router to client, one recipient (Send): the message value is queued
//     and handed over as it is. Its payload is the one the router had: raw
//     bytes in the encoding of the session that sent it (json, msgpack or
//     cbor), or Go values; nothing is transcoded into the declared
//     serializer (serializers.DecodePayload reads any of them).
//   - Router to client, fan-out (SendFrame): the router encodes an event
//     once per serializer for all its recipients; the local end declares a
//     serializer (Config.Serializer, json by default) so that it is given
//     the frame of that serializer, and decodes it on its writer goroutine.
//
// Values are shared between the ends, not copied: the router does not
// change a message once sent, and a client must not change a message (its
// payload included) after writing it, nor one it read.
//
// The limits of other transports apply: what the router sends goes on a
// bounded transport.Queue with the same slow-consumer policy and defaults as
// a WebSocket peer (a client that stops reading is cut as a slow consumer),
// and the peer's Info().RemoteAddr names the in-process origin
// ("in-process" by default), under which the router's per-address bounds
// count every local session. A message value has no size in bytes: it
// counts for MessageSize, which walks its values (the bytes of strings and
// binaries, a few per number, list and dict) without encoding them, in the
// queue's byte bound and against the read limits, which are WebSocket's:
// 64 KiB before the session is established, 16 MiB after.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// Config configures a connection. A zero field takes the value of
// DefaultConfig.
type Config struct {
	// Serializer is the serializer the client end declares: the router
	// gives it the shared frames of fan-outs in this encoding. "json"
	// (default), "msgpack" or "cbor".
	Serializer string
	// RemoteAddr is the peer's Info().RemoteAddr, the address per-address
	// bounds count it under. Default "in-process".
	RemoteAddr string
	// QueueMessages, QueueBytes and SlowConsumerTimeout bound the outbound
	// queue as websocket.Config's fields of the same names do, with the
	// same defaults: 16384 messages, 16 MiB, 5s.
	QueueMessages       int
	QueueBytes          int
	SlowConsumerTimeout time.Duration
	// CloseTimeout bounds how long Close waits for the client to read what
	// is queued before the connection closes without it, as the WebSocket
	// transport's write timeout bounds its flush. Default 10s.
	CloseTimeout time.Duration
	// ReadLimit and HandshakeReadLimit bound a message the client writes
	// (its MessageSize), before the session is established and after, as
	// websocket.Config's fields of the same names bound a message's bytes,
	// with the same defaults: 16 MiB and 64 KiB. A larger one ends the
	// session with CloseMessageTooBig. Negative: no bound.
	ReadLimit          int
	HandshakeReadLimit int
	// Identity, when set, is the peer's Info().Identity: the router admits
	// the session as this authid and authrole without authenticating it.
	// It is for code that authenticated the principal itself (the HTTP
	// bridge); nil: the session authenticates as usual.
	Identity *transport.Identity
}

// DefaultConfig returns the defaults documented on Config: the queue's are
// websocket.DefaultConfig's.
func DefaultConfig() Config {
	return Config{
		Serializer:          "json",
		RemoteAddr:          "in-process",
		QueueMessages:       16384,
		QueueBytes:          16 << 20,
		SlowConsumerTimeout: 5 * time.Second,
		CloseTimeout:        10 * time.Second,
		ReadLimit:           16 << 20,
		HandshakeReadLimit:  64 << 10,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Serializer == "" {
		c.Serializer = d.Serializer
	}
	if c.RemoteAddr == "" {
		c.RemoteAddr = d.RemoteAddr
	}
	if c.QueueMessages == 0 {
		c.QueueMessages = d.QueueMessages
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = d.QueueBytes
	}
	if c.SlowConsumerTimeout == 0 {
		c.SlowConsumerTimeout = d.SlowConsumerTimeout
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = d.CloseTimeout
	}
	if c.ReadLimit == 0 {
		c.ReadLimit = d.ReadLimit
	}
	if c.HandshakeReadLimit == 0 {
		c.HandshakeReadLimit = d.HandshakeReadLimit
	}
	return c
}

// CloseError is what the client end's Read returns once the router closed
// the connection: why, as the router said.
type CloseError struct {
	Code   transport.CloseCode
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return "local: connection closed: " + e.Code.String()
	}
	return fmt.Sprintf("local: connection closed: %s: %s", e.Code, e.Reason)
}

// ErrClientClosed is returned by the client end's Read and Write after its
// own Close.
var ErrClientClosed = errors.New("local: client end closed")

// Peer is the router's end of a connection: a transport.Peer.
type Peer struct {
	cfg  Config
	ser  serializers.Serializer
	info transport.Info
	q    *transport.Queue

	in  chan wamp.Message // client to router
	out chan wamp.Message // router to client, handed over by the writer

	writing atomic.Bool // a writer goroutine is running or starting
	wmu     sync.Mutex  // held while a batch is taken and handed over

	closeOnce sync.Once
	closeErr  *CloseError
	discard   bool
	closing   chan struct{} // Close was called
	abort     chan struct{} // stop handing over: slow consumer, or the close timeout
	abortOnce sync.Once
	done      chan struct{} // the connection is closed

	goneOnce sync.Once
	gone     chan struct{} // the client end was closed

	slowReason atomic.Pointer[string]

	established atomic.Bool // the read limit is ReadLimit, no longer HandshakeReadLimit
}

var _ transport.Peer = (*Peer)(nil)

// Client is the client's end of a connection.
type Client struct{ p *Peer }

// Pipe returns the two ends of a new in-process connection. The caller
// hands the peer to a transport.Handler (on a goroutine of its own:
// ServePeer returns when the session ends) and uses the client end.
func Pipe(cfg Config) (*Peer, *Client, error) {
	cfg = cfg.withDefaults()
	ser, ok := serializers.ByName(cfg.Serializer)
	if !ok {
		return nil, nil, fmt.Errorf("local: unknown serializer %q", cfg.Serializer)
	}
	p := &Peer{
		cfg: cfg, ser: ser,
		info:    transport.Info{Transport: "local", RemoteAddr: cfg.RemoteAddr, Subprotocol: ser.Subprotocol(), Identity: cfg.Identity},
		in:      make(chan wamp.Message, 16),
		out:     make(chan wamp.Message),
		closing: make(chan struct{}),
		abort:   make(chan struct{}),
		done:    make(chan struct{}),
		gone:    make(chan struct{}),
	}
	p.q = transport.NewQueue(transport.QueueLimits{
		Messages: cfg.QueueMessages, Bytes: cfg.QueueBytes, SlowTimeout: cfg.SlowConsumerTimeout,
	}, p.slow)
	return p, &Client{p: p}, nil
}

// Serve is Pipe, with the peer handed to h on a new goroutine; the
// transport closes the peer when ServePeer returns.
func Serve(h transport.Handler, cfg Config) (*Client, error) {
	p, c, err := Pipe(cfg)
	if err != nil {
		return nil, err
	}
	go func() {
		h.ServePeer(p)
		p.Close(transport.CloseNormal, "")
	}()
	return c, nil
}

// MessageSize is what a message value counts for, in the outbound queue's
// byte bound and against the read limits: its raw payload, or the size of a
// payload of Go values (ValueSize), plus its options or details dict, plus
// a fixed amount for the rest. It walks the values, never encodes them.
func MessageSize(m wamp.Message) int {
	const base = 64
	n := base + ValueSize(map[string]any(dictOf(m)))
	pl := wamp.PayloadOf(m)
	if pl == nil {
		return n
	}
	if pl.Encoding != wamp.EncodingNone {
		return n + pl.Size()
	}
	return n + ValueSize(pl.Args) + ValueSize(pl.Kwargs)
}

// dictOf is the options or details dict a client writes in m, if any.
func dictOf(m wamp.Message) wamp.Dict {
	switch m := m.(type) {
	case *wamp.Hello:
		return m.Details
	case *wamp.Authenticate:
		return m.Extra
	case *wamp.Call:
		return m.Options
	case *wamp.Publish:
		return m.Options
	case *wamp.Subscribe:
		return m.Options
	case *wamp.Register:
		return m.Options
	case *wamp.Yield:
		return m.Options
	case *wamp.Error:
		return m.Details
	case *wamp.Cancel:
		return m.Options
	case *wamp.Goodbye:
		return m.Details
	case *wamp.Abort:
		return m.Details
	}
	return nil
}

// ValueSize is about what v takes encoded: the bytes of its strings and
// binaries, 8 per number and a few per list, dict and entry, summed over
// its nesting (at most 64 levels deep, as msgpack's decoder allows; what is
// deeper counts as 1 MiB, so that it cannot pass a limit by nesting).
func ValueSize(v any) int { return valueSize(v, 0) }

func valueSize(v any, depth int) int {
	if depth > 64 {
		return 1 << 20
	}
	switch v := v.(type) {
	case nil, bool:
		return 1
	case string:
		return len(v) + 2
	case []byte:
		return len(v) + 2
	case []any:
		n := 2
		for _, e := range v {
			n += valueSize(e, depth+1) + 1
		}
		return n
	case map[string]any:
		n := 2
		for k, e := range v {
			n += len(k) + 3 + valueSize(e, depth+1) + 1
		}
		return n
	case wamp.Dict:
		return valueSize(map[string]any(v), depth)
	}
	return 8
}

// Recv returns the next message the client wrote, as it wrote it, or a
// *transport.ProtocolError (CloseMessageTooBig) for one over the read limit.
func (p *Peer) Recv() (wamp.Message, error) {
	var m wamp.Message
	select {
	case m = <-p.in:
	case <-p.closing:
		return nil, transport.ErrClosed
	case <-p.gone:
		select { // what the client wrote before it closed
		case m = <-p.in:
		default:
			return nil, io.EOF
		}
	}
	limit := p.cfg.HandshakeReadLimit
	if p.established.Load() {
		limit = p.cfg.ReadLimit
	}
	if n := MessageSize(m); limit >= 0 && n > limit {
		return nil, &transport.ProtocolError{Code: transport.CloseMessageTooBig,
			Err: fmt.Errorf("a %s of about %d bytes, over the read limit of %d", m.MessageType(), n, limit)}
	}
	return m, nil
}

// Send queues m as it is, not encoded.
func (p *Peer) Send(m wamp.Message) error {
	return p.push(transport.Item{Msg: m, MsgSize: MessageSize(m)})
}

// SendFrame queues a frame shared with other recipients; the writer decodes
// it with the declared serializer.
func (p *Peer) SendFrame(f *transport.Frame) error { return p.push(transport.Item{Frame: f}) }

func (p *Peer) push(it transport.Item) error {
	if err := p.q.Push(it); err != nil {
		return err
	}
	if p.writing.CompareAndSwap(false, true) {
		go p.writeLoop()
	}
	return nil
}

// Serializer is the serializer the client end declared.
func (p *Peer) Serializer() serializers.Serializer { return p.ser }

// Done is closed when the connection is closed.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Info describes the connection: RemoteAddr is Config.RemoteAddr.
func (p *Peer) Info() transport.Info { return p.info }

// Established lifts the handshake read limit: the session was welcomed.
func (p *Peer) Established() { p.established.Store(true) }

// Close hands what is queued to the client (within Config.CloseTimeout),
// then closes the connection; the client's Read returns a *CloseError with
// code and reason. Idempotent.
func (p *Peer) Close(code transport.CloseCode, reason string) { p.closeWith(code, reason, false) }

func (p *Peer) closeWith(code transport.CloseCode, reason string, discard bool) (closed bool) {
	p.closeOnce.Do(func() {
		closed = true
		p.closeErr = &CloseError{Code: code, Reason: reason}
		p.discard = discard
		if discard {
			p.q.Discard()
			p.stopHandingOver()
		} else {
			p.q.Close()
		}
		close(p.closing)
		go p.finish()
	})
	return closed
}

func (p *Peer) stopHandingOver() { p.abortOnce.Do(func() { close(p.abort) }) }

// slow closes a slow consumer with ClosePolicyViolation; the queue dropped
// what it held.
func (p *Peer) slow(reason string) {
	p.slowReason.Store(&reason)
	p.closeWith(transport.ClosePolicyViolation, "slow consumer", true)
}

// SlowConsumer returns why the connection was closed as a slow consumer,
// "" if it was not.
func (p *Peer) SlowConsumer() string {
	if r := p.slowReason.Load(); r != nil {
		return *r
	}
	return ""
}

// finish hands over what is queued (unless discarding), bounded by the
// close timeout, and closes the connection.
func (p *Peer) finish() {
	defer close(p.done)
	if p.discard {
		return
	}
	t := time.AfterFunc(p.cfg.CloseTimeout, p.stopHandingOver)
	defer t.Stop()
	p.wmu.Lock()
	_ = p.flush()
	p.wmu.Unlock()
}

// writeLoop hands over what is queued until the queue is empty, then ends.
func (p *Peer) writeLoop() {
	for {
		p.wmu.Lock()
		err := p.flush()
		p.wmu.Unlock()
		p.writing.Store(false)
		if err != nil {
			p.closeWith(transport.CloseGoingAway, "client gone", true)
			return
		}
		// A push between the flush and the Store saw a writer running and
		// did not start one: take over its items.
		if p.q.Len() == 0 || !p.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// flush hands everything queued to the client's reads, one at a time. The
// caller holds wmu.
func (p *Peer) flush() error {
	b := p.q.Take()
	if b.Len() == 0 {
		return nil
	}
	_, _, err := b.Write(p.handOver)
	p.q.Written(&b)
	b.Release()
	return err
}

// errStopped: the hand-over was stopped (slow consumer, close timeout).
var errStopped = errors.New("local: hand-over stopped")

// handOver gives one item to the client's Read; it blocks until the client
// reads it, goes away, or the hand-over is stopped.
func (p *Peer) handOver(it transport.Item) error {
	m := it.Msg
	if m == nil {
		data := it.Data
		if it.Frame != nil {
			data = it.Frame.Data
		}
		var err error
		if m, err = p.ser.Decode(data); err != nil {
			return fmt.Errorf("local: decoding a frame the router encoded: %w", err)
		}
	}
	select {
	case p.out <- m:
		return nil
	case <-p.gone:
		return ErrClientClosed
	case <-p.abort:
		return errStopped
	}
}

// Read returns the next message the router sent. Once the router closed
// the connection, and what it queued before was read, it returns a
// *CloseError; after the client end's Close, ErrClientClosed.
func (c *Client) Read() (wamp.Message, error) {
	p := c.p
	select {
	case <-p.gone:
		return nil, ErrClientClosed
	default:
	}
	select {
	case m := <-p.out:
		return m, nil
	case <-p.done: // everything handed over was taken before done closed
		return nil, p.closeErr
	case <-p.gone:
		return nil, ErrClientClosed
	}
}

// ReadChan returns the channel Read takes messages from, for a client that
// selects on it (with Done and the client's own signals).
func (c *Client) ReadChan() <-chan wamp.Message { return c.p.out }

// Write hands m to the router's session. It blocks while the router's
// session has not taken the messages written before (a few are buffered):
// the flow control a socket gives; ctx ends the wait.
func (c *Client) Write(ctx context.Context, m wamp.Message) error {
	p := c.p
	select {
	case <-p.gone:
		return ErrClientClosed
	case <-p.closing:
		return p.closeErrOrClosed()
	default:
	}
	select {
	case p.in <- m:
		return nil
	case <-p.closing:
		return p.closeErrOrClosed()
	case <-p.gone:
		return ErrClientClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Peer) closeErrOrClosed() error {
	select {
	case <-p.done:
		return p.closeErr
	default:
		return transport.ErrClosed
	}
}

// Close closes the client end: the router's session reads what was written
// before, then io.EOF, as from a client that closed its socket.
func (c *Client) Close() { c.p.goneOnce.Do(func() { close(c.p.gone) }) }

// Done is closed when the router's end is closed.
func (c *Client) Done() <-chan struct{} { return c.p.done }

// Serializer is the serializer the client end declared.
func (c *Client) Serializer() serializers.Serializer { return c.p.ser }

// Peer is the router's end of the connection.
func (c *Client) Peer() *Peer { return c.p }
