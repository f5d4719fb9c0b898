package rawsocket

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/nbfd"
	"github.com/junction-wamp/junction/wamp"
)

// nbPeer is one RawSocket connection on the nbio engine, carrying one WAMP
// session.
//
// Its socket is read by an nbio poller, which hands what each read got to
// onData, on the poller's goroutine: frameParser cuts it into frames
// (keeping only a frame in progress), PINGs are answered there, and each
// message is decoded and handed to the router's session
// (transport.Session.Handle, which only queues it). An idle peer holds no
// goroutine and no read buffer: its state is this struct, nbio's Conn, the
// queue, the keepalive timer if PINGs are on, and the session's. The
// writer runs on demand (nbwrite.go).
//
// A Handler that is not a transport.Attacher (a test's) gets the pull
// model: its ServePeer runs on a goroutine of its own and Recv takes the
// frames onData queued.
type nbPeer struct {
	s       *Server
	nbc     *nbio.Conn
	orig    net.Conn // the connection handed to the server, closed once nbc is (a listener's slot)
	ser     serializers.Serializer
	info    transport.Info
	q       *transport.Queue
	sendMax int // the largest message the client accepts

	// Poller goroutine only.
	parser frameParser
	// frameTimer bounds a frame over smallFrame (large): made with the
	// first such frame, stopped once it is whole.
	frameTimer *time.Timer

	failed atomic.Bool // the input ended; the rest is ignored

	established atomic.Bool
	heard       atomic.Bool // a frame came in since the keepalive last looked
	pinged      atomic.Bool // the keepalive sent a PING and waits to hear
	ping        *time.Timer // nil: PINGs off

	// The writer (nbwrite.go).
	writing  atomic.Bool  // a writer goroutine runs or is starting
	parked   atomic.Bool  // the writer ended waiting for nbio to drain
	inflight atomic.Int64 // bytes handed to nbio and not yet on the socket
	handed   atomic.Int64 // bytes handed to nbio, ever
	wrote    atomic.Int64 // bytes nbio wrote to the socket, ever
	lastHand int64        // under wmu: the size of the writer's last hand-off (a chunk, or a large message)
	wmu      sync.Mutex
	wfailed  bool                          // under wmu: a write failed, or the peer is closed
	cur      *transport.Batch              // under wmu: the batch being written
	curSize  int                           // under wmu: its size written so far
	curN     int                           // under wmu: its messages written so far
	progress atomic.Pointer[chan struct{}] // set by finish: told of each write nbio makes

	sess  transport.Session // push model; nil: pull, through in
	in    *inbox
	ended sync.Once

	// up is set once the peer is set up, before the poller has the
	// socket; nbio's callbacks load it first. The hand-over through epoll
	// orders them after the setup, but the race detector does not see it.
	up atomic.Bool

	closeOnce sync.Once
	discard   bool          // close without flushing (slow consumer)
	cause     error         // why the transport closed the peer itself; set before closing
	closing   chan struct{} // Close was called
	done      chan struct{} // the connection is closed
	doneOnce  sync.Once
	// live is closed once the socket is on the poller (or failed to get
	// there): nbio's Conn cannot be written before. Until then the writer
	// is held (writing is true) and what the session sends is queued.
	live chan struct{}
}

var _ transport.Peer = (*nbPeer)(nil)

// serveNbio moves c, handshaken, to the nbio engine. The peer is wholly
// set up (its nbio Conn, the data handler, the session) before the poller
// reads the socket; nothing was read past the handshake (it is read octet
// by octet, unbuffered), so what the client sent after it is still in the
// socket for the poller. c is closed once the connection is.
func (s *Server) serveNbio(c net.Conn, h Handshake, ser serializers.Serializer, info transport.Info) {
	if err := s.nb.start(); err != nil {
		s.stats.Refused.Add(1)
		_ = c.Close()
		return
	}
	nbc, err := nbfd.NBConn(transport.Unwrap(c)) // a dup of the socket, close-on-exec; the original is closed
	if err != nil {
		s.stats.Refused.Add(1)
		s.log.Info("rawsocket: moving the connection to the engine failed", "remote", info.RemoteAddr, "error", err)
		_ = c.Close()
		return
	}
	p := &nbPeer{
		s: s, nbc: nbc, orig: c, ser: ser, info: info, sendMax: h.MaxLength,
		closing: make(chan struct{}), done: make(chan struct{}), live: make(chan struct{}),
	}
	p.writing.Store(true) // held until live
	p.q = transport.NewQueue(transport.QueueLimits{
		Messages: s.cfg.QueueMessages, Bytes: s.cfg.QueueBytes, SlowTimeout: s.cfg.SlowConsumerTimeout,
	}, p.slow)
	if !s.track(p) { // CloseAll came first
		_ = nbc.Close()
		_ = c.Close()
		return
	}
	if s.cfg.PingInterval > 0 {
		p.ping = time.AfterFunc(time.Duration(math.MaxInt64), p.keepalive) // armed once live
	}
	nbc.SetSession(p) // for the engine's handlers
	s.wg.Add(1)       // Done in release
	s.stats.Accepted.Add(1)
	if a, ok := s.handler.(transport.Attacher); ok {
		p.sess = a.Attach(p)
	} else {
		p.in = newInbox(s.cfg.QueueMessages)
		go p.servePull()
	}
	p.up.Store(true)
	if _, err := s.nb.eng.AddConn(nbc); err != nil { // nbio closed it
		s.log.Info("rawsocket: moving the connection to the engine failed", "remote", info.RemoteAddr, "error", err)
		close(p.live)
		p.onClose(err) // if nbio has not
		return
	}
	close(p.live)
	if p.ping != nil {
		p.ping.Reset(s.cfg.PingInterval)
	}
	// Release the writer: what the session sent meanwhile (an ABORT, say)
	// goes out now.
	p.writing.Store(false)
	if p.q.Len() > 0 && p.writing.CompareAndSwap(false, true) {
		go p.writeLoop()
	}
}

// servePull runs a pull Handler's session.
func (p *nbPeer) servePull() {
	p.s.handler.ServePeer(p)
	p.Close(transport.CloseNormal, "")
	<-p.done
	p.release()
}

// release takes the closed peer off the server's books, once the
// connection is closed and (pull model) the handler has returned.
func (p *nbPeer) release() {
	p.s.untrack(p)
	p.s.wg.Done()
}

// limit is the largest message read now: the handshake limit until the
// session is established (push model; a pull handler's Recv checks it
// when it reads, as on the other engine, where the read happens then).
func (p *nbPeer) limit() int {
	if p.sess != nil && !p.established.Load() {
		return p.s.cfg.HandshakeReadLimit
	}
	return p.s.cfg.ReadLimit
}

// onData is the connection's data handler, on the poller's goroutine.
func (p *nbPeer) onData(c *nbio.Conn, data []byte) {
	p.up.Load()
	if p.failed.Load() {
		return
	}
	err := p.parser.feed(data, p.limit, p.large, p.frame)
	if err == nil {
		return
	}
	// The session ends (the router answers ABORT and closes the peer,
	// flushing it); what the client sends meanwhile is ignored.
	p.failed.Store(true)
	p.endInput(err)
}

// large bounds the time a frame over smallFrame takes to arrive, from its
// prefix, by FrameTimeout (peer.largeFrame): past it the session ends
// with ClosePolicyViolation (the router says why before it closes), and
// the rest of the input is ignored.
func (p *nbPeer) large(start bool) {
	switch {
	case !start:
		p.frameTimer.Stop()
	case p.frameTimer == nil:
		p.frameTimer = time.AfterFunc(p.s.cfg.FrameTimeout, p.frameTimeout)
	default:
		p.frameTimer.Reset(p.s.cfg.FrameTimeout)
	}
}

// frameTimeout runs on the frame timer.
func (p *nbPeer) frameTimeout() {
	if p.failed.Swap(true) {
		return
	}
	p.s.stats.FrameTimeouts.Add(1)
	p.endInput(&transport.ProtocolError{Code: transport.ClosePolicyViolation,
		Err: fmt.Errorf("a frame did not arrive within rawsocket.frame_timeout (%s)", p.s.cfg.FrameTimeout)})
}

// frame handles one whole frame.
func (p *nbPeer) frame(typ byte, data []byte) error {
	p.heard.Store(true)
	p.s.stats.BytesIn.Add(uint64(len(data) + HeaderLen))
	switch typ {
	case FramePing:
		return p.pong(data)
	case FramePong:
		return nil
	}
	if p.failed.Load() { // the frame timer fired
		return p.closedError()
	}
	if p.sess == nil {
		p.in.put(data, nil)
		return nil
	}
	m, err := p.ser.Decode(data)
	if err != nil {
		return &transport.ProtocolError{Code: transport.CloseProtocolError, Err: err}
	}
	// Handle reports a full inbox; nbio cannot stop reading one
	// connection, so the inbox's own bound (twice its size) ends a client
	// that writes faster than its session is served.
	p.sess.Handle(m)
	return nil
}

// pong answers a PING at once (peer.pong). On the goroutine engine the
// reader blocks while its PONG is written, so a client that sends PINGs
// without reading their PONGs is read no further once its socket is full,
// and is cut by the write timeout. The poller cannot block, and nbio would
// keep every PONG the socket does not take, up to QueueBytes: past
// pongBacklog of PONGs unwritten the client is not reading them, a slow
// consumer, closed at once (the write timeout cuts one that stops short of
// it).
func (p *nbPeer) pong(data []byte) error {
	if err := p.s.pingFits(len(data), p.sendMax); err != nil {
		return err
	}
	if !p.control(FramePong, data) {
		p.slow(fmt.Sprintf("slow consumer: more than %d bytes of PONGs not read", p.pongBacklog()))
		return p.closedError()
	}
	return nil
}

// readError maps what ended the input to what Recv returns for it
// (peer.readError).
func (p *nbPeer) readError(err error) error {
	var tl *TooLargeError
	var pe *transport.ProtocolError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &tl):
		if p.established.Load() {
			p.s.stats.TooBig.Add(1)
		} else {
			p.s.stats.TooBigHandshake.Add(1)
		}
		return &transport.ProtocolError{Code: transport.CloseMessageTooBig,
			Err: fmt.Errorf("message of %d bytes larger than the read limit of %d bytes", tl.Size, tl.Limit)}
	case errors.Is(err, ErrFrame):
		return &transport.ProtocolError{Code: transport.CloseProtocolError, Err: err}
	}
	if p.isClosing() {
		return p.closedError()
	}
	return io.EOF // the client went, perhaps inside a frame
}

// endInput tells the session its input ended with err (as readError maps
// it), once.
func (p *nbPeer) endInput(err error) {
	p.ended.Do(func() {
		err := p.readError(err)
		if p.sess != nil {
			p.sess.Closed(err)
			return
		}
		p.in.put(nil, err)
	})
}

// onClose is the engine's close handler: the connection is closed, by
// either side, for err.
func (p *nbPeer) onClose(err error) {
	p.up.Load()
	switch {
	case errors.Is(err, nbio.ErrOverflow):
		p.slow(fmt.Sprintf("slow consumer: more than %d bytes waiting for the socket", p.s.cfg.QueueBytes))
	case errors.Is(err, nbio.ErrWriteTimeout):
		p.slow(fmt.Sprintf("slow consumer: a write did not complete within %s", p.s.cfg.WriteTimeout))
	}
	p.endInput(err)
	p.doneOnce.Do(func() {
		if p.ping != nil {
			p.ping.Stop()
		}
		p.failed.Store(true) // a frame timer still to fire does nothing
		p.closeWith(true, nil)
		_ = p.orig.Close() // the fd is nbio's dup's, closed; this gives a listener's slot back
		close(p.done)
		if p.sess != nil {
			p.release()
		}
	})
}

// closedError is what the session's read returns once the peer is closed
// (peer.closedError).
func (p *nbPeer) closedError() error {
	if p.isClosing() && p.cause != nil {
		return p.cause
	}
	return transport.ErrClosed
}

func (p *nbPeer) isClosing() bool {
	select {
	case <-p.closing:
		return true
	default:
		return false
	}
}

// keepalive runs on the ping timer (peer.keepalive).
func (p *nbPeer) keepalive() {
	if p.isClosing() {
		return
	}
	if p.heard.Swap(false) {
		p.pinged.Store(false)
		p.ping.Reset(p.s.cfg.PingInterval)
		return
	}
	if p.pinged.Load() {
		p.s.stats.PongTimeouts.Add(1)
		p.s.log.Debug("rawsocket peer silent after a PING, closed", "remote", p.info.RemoteAddr, "pong_timeout", p.s.cfg.PongTimeout)
		p.closeWith(true, fmt.Errorf("rawsocket: nothing heard within %s after a PING", p.s.cfg.PongTimeout))
		_ = p.nbc.Close()
		return
	}
	p.control(FramePing, pingPayload)
	p.pinged.Store(true)
	p.ping.Reset(p.s.cfg.PongTimeout)
}

// Recv takes the next message onData queued (pull model only), checking
// the handshake limit as it is now.
func (p *nbPeer) Recv() (wamp.Message, error) {
	if p.in == nil {
		return nil, errors.New("rawsocket: Recv on an attached peer")
	}
	data, err := p.in.take()
	if err != nil {
		return nil, err
	}
	if limit := p.s.cfg.HandshakeReadLimit; !p.established.Load() && len(data) > limit {
		p.s.stats.TooBigHandshake.Add(1)
		return nil, &transport.ProtocolError{Code: transport.CloseMessageTooBig,
			Err: fmt.Errorf("message of %d bytes larger than the read limit of %d bytes", len(data), limit)}
	}
	m, err := p.ser.Decode(data)
	if err != nil {
		return nil, &transport.ProtocolError{Code: transport.CloseProtocolError, Err: err}
	}
	return m, nil
}

// Established lifts the handshake read limit (transport.Peer).
func (p *nbPeer) Established() { p.established.Store(true) }

// Send encodes m on the caller's goroutine and queues it; a message larger
// than the client accepts is not queued (peer.Send).
func (p *nbPeer) Send(m wamp.Message) error {
	it, err := p.s.message(p.ser, p.sendMax, m)
	if err != nil {
		return err
	}
	return p.push(it)
}

// SendFrame queues a frame shared with other recipients.
func (p *nbPeer) SendFrame(f *transport.Frame) error {
	if err := p.s.fits(len(f.Data), p.sendMax); err != nil {
		return err
	}
	return p.push(transport.Item{Frame: f})
}

func (p *nbPeer) Serializer() serializers.Serializer { return p.ser }
func (p *nbPeer) Done() <-chan struct{}              { return p.done }
func (p *nbPeer) Info() transport.Info               { return p.info }
func (p *nbPeer) queue() *transport.Queue            { return p.q }

// Close flushes the queue and closes the connection (peer.Close).
func (p *nbPeer) Close(code transport.CloseCode, reason string) { p.closeWith(false, nil) }

// closeWith closes the peer once (peer.closeWith).
func (p *nbPeer) closeWith(discard bool, cause error) (closed bool) {
	p.closeOnce.Do(func() {
		closed = true
		p.discard, p.cause = discard, cause
		if discard {
			p.q.Discard()
		} else {
			p.q.Close()
		}
		close(p.closing)
		go p.finish()
	})
	return closed
}

// slow closes a slow consumer, counted and logged (peer.slow).
func (p *nbPeer) slow(reason string) {
	if !p.closeWith(true, errors.New("rawsocket: "+reason)) {
		return
	}
	p.s.stats.SlowConsumerDisconnects.Add(1)
	p.endInput(p.cause)
	if ok, held := p.s.slowLog.Allow(host(p.info.RemoteAddr)); ok {
		p.s.log.Warn("disconnecting slow consumer", "transport", "rawsocket", "remote", p.info.RemoteAddr, "reason", reason, "held_back", held)
	}
}

// abandon closes a connection that cannot be written to, or is dead:
// finish closes it at once, once it is on the poller.
func (p *nbPeer) abandon() { p.closeWith(true, nil) }

// inbox is a pull-model peer's queue of frames for Recv, bounded.
type inbox struct {
	mu    sync.Mutex
	cond  *sync.Cond
	limit int
	queue [][]byte
	err   error
}

func newInbox(limit int) *inbox {
	b := &inbox{limit: limit}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *inbox) put(m []byte, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return
	}
	switch {
	case err != nil:
		b.err = err
	case len(b.queue) >= b.limit:
		b.err = &transport.ProtocolError{Code: transport.ClosePolicyViolation,
			Err: fmt.Errorf("%d messages waiting to be handled", len(b.queue))}
	default:
		b.queue = append(b.queue, m)
	}
	b.cond.Signal()
}

func (b *inbox) take() ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.queue) == 0 && b.err == nil {
		b.cond.Wait()
	}
	if len(b.queue) > 0 {
		m := b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
		return m, nil
	}
	return nil, b.err
}
