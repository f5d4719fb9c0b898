package router

import (
	"errors"
	"fmt"
	"sync"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// DefaultInboxMessages is the bound of an attached session's inbox when
// Options.InboxMessages is zero.
const DefaultInboxMessages = 1024

var _ transport.Attacher = (*Router)(nil)

// Attach admits p as a session driven by its transport (the push model,
// transport.Session): the transport hands it each decoded message with
// Handle and the end of its input with Closed, and never calls p.Recv. The
// session holds a goroutine only while it has work: during the handshake
// (bounded by the HELLO and AUTHENTICATE timeouts, as in ServePeer) and then
// while its inbox holds messages, which it handles in order through the same
// dispatch as ServePeer; an idle established session holds none. Blocking
// steps (a dynamic authenticator or authorizer, a cluster confirmation)
// block that goroutine, never the caller of Handle.
//
// A peer refused (router shutting down, a session limit reached) gets ABORT
// and is closed, as in ServePeer; the Session returned then ignores input.
func (r *Router) Attach(p transport.Peer) transport.Session {
	b := &inbox{limit: r.inboxLimit, signal: make(chan struct{}, 1), running: true}
	if rs, ok := p.(transport.Resumer); ok {
		b.resumer = rs
	}
	s := newSession(r, &attachedPeer{Peer: p, box: b})
	s.box = b
	b.s = s
	if !r.admit(s) {
		b.ended = true
		return b
	}
	go b.serve()
	return b
}

// attachedPeer is the peer of an attached session: closing it (ABORT,
// GOODBYE, kill, shutdown, from whichever goroutine) also ends the
// session's input, so that an idle session, which has no goroutine reading,
// learns of it.
type attachedPeer struct {
	transport.Peer
	box *inbox
}

func (p *attachedPeer) Close(code transport.CloseCode, reason string) {
	p.Peer.Close(code, reason)
	p.box.Closed(transport.ErrClosed)
}

// errIdle: an attached session's inbox is empty; its goroutine exits.
var errIdle = errors.New("router: inbox empty")

// inbox is an attached session's queue of messages and its
// transport.Session. At most one goroutine runs the session (running); it
// is started by Attach for the handshake, and afterwards by Handle or
// Closed when none runs.
type inbox struct {
	s       *session
	limit   int
	resumer transport.Resumer // nil: the peer cannot pause reading
	signal  chan struct{}     // a message or the end arrived (for the handshake's wait)

	mu      sync.Mutex
	queue   []wamp.Message
	head    int
	err     error // input ended (Closed): returned once the queue is drained
	running bool  // a goroutine runs the session
	paused  bool  // Handle returned false; Resume is owed
	ended   bool  // the session is over: input is ignored
}

// Handle implements transport.Session: it queues m for the session, and
// starts a goroutine to handle it if none runs. It reports false when the
// inbox is full: m is queued all the same, but the transport should stop
// reading this connection until the peer's Resume is called. A transport
// that goes on reading (or a peer that cannot pause) is held to twice the
// bound: past it, the session ends as if the input broke the protocol, with
// ClosePolicyViolation, so that a client that writes faster than its
// session is served cannot make the router hold its messages without end.
func (b *inbox) Handle(m wamp.Message) (more bool) {
	b.mu.Lock()
	if b.ended || b.err != nil {
		b.mu.Unlock()
		return true
	}
	if len(b.queue)-b.head >= 2*b.limit {
		b.err = &transport.ProtocolError{Code: transport.ClosePolicyViolation, Err: fmt.Errorf(
			"%d messages waiting to be handled, twice the inbox bound: the connection went on being read past it", len(b.queue)-b.head)}
		start := !b.running
		b.running = true
		b.mu.Unlock()
		b.wake(start)
		return false
	}
	b.queue = append(b.queue, m)
	more = len(b.queue)-b.head < b.limit
	if !more {
		b.paused = true
	}
	start := !b.running
	b.running = true
	b.mu.Unlock()
	b.wake(start)
	return more
}

// Closed implements transport.Session: the input ended with err. The
// messages queued before it are handled first; then the session ends.
func (b *inbox) Closed(err error) {
	if err == nil {
		err = transport.ErrClosed
	}
	b.mu.Lock()
	if b.ended || b.err != nil {
		b.mu.Unlock()
		return
	}
	b.err = err
	start := !b.running
	b.running = true
	b.mu.Unlock()
	b.wake(start)
}

// wake starts the session's goroutine, or tells the running one that
// input arrived.
func (b *inbox) wake(start bool) {
	if start {
		go b.drain()
		return
	}
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

// next returns the next message, or the input's end, or (when wait is
// false and the queue is empty) errIdle, having marked the goroutine as
// gone: the caller must then return without touching the session.
func (b *inbox) next(wait bool) (wamp.Message, error) {
	for {
		b.mu.Lock()
		if b.head < len(b.queue) {
			m := b.queue[b.head]
			b.queue[b.head] = nil
			b.head++
			if b.head == len(b.queue) {
				b.queue, b.head = b.queue[:0], 0
				if cap(b.queue) > 64 {
					b.queue = nil // an idle session holds no big buffer
				}
			}
			resume := b.paused && len(b.queue)-b.head <= b.limit/2
			if resume {
				b.paused = false
			}
			b.mu.Unlock()
			if resume && b.resumer != nil {
				b.resumer.Resume()
			}
			return m, nil
		}
		if err := b.err; err != nil {
			b.mu.Unlock()
			return nil, err
		}
		if !wait {
			b.running = false
			b.mu.Unlock()
			return nil, errIdle
		}
		b.mu.Unlock()
		<-b.signal // a timeout closes the peer, which signals
	}
}

// serve runs on the goroutine Attach starts: the handshake, then the
// messages queued meanwhile.
func (b *inbox) serve() {
	if !b.s.handshake() {
		b.end()
		return
	}
	b.drain()
}

// drain handles the queued messages until the queue is empty (the
// goroutine exits, the session stays) or the session ends.
func (b *inbox) drain() {
	if b.s.run() {
		b.end()
	}
}

// end is the end of an attached session, once: it ignores input from now
// on, closes the peer and releases the session's place.
func (b *inbox) end() {
	b.mu.Lock()
	b.ended = true
	b.queue, b.head = nil, 0
	b.mu.Unlock()
	b.s.peer.(*attachedPeer).Peer.Close(transport.CloseNormal, "session ended")
	b.s.r.untrack(b.s)
}
