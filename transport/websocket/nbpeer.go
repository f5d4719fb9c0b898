package websocket

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/lesismal/nbio"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/nbfd"
	"github.com/junction-wamp/junction/wamp"
)

// nbPeer is one WebSocket connection on the nbio engine, carrying one WAMP
// session.
//
// Its socket is read by nbio's poller, which parses frames, inflates and
// limits messages and calls onMessage on the poller's goroutine: the
// message is checked, decoded and handed to the router's session
// (transport.Session.Handle, which only queues it). An idle peer holds no
// goroutine and no read buffer: its state is this struct, nbio's Conn, the
// queue (empty: no chunk), two timers (ping, read deadline) and the
// session's. The writer runs on demand as for gorilla (transport.Writer):
// it frames the batch it takes and hands it to nbio in one write; what
// the socket does not take, nbio keeps and writes when it can, up to
// QueueBytes (past it, or past the write timeout, the peer is a slow
// consumer).
//
// A Handler that is not a transport.Attacher (a test's) gets the pull
// model: its ServePeer runs on a goroutine of its own and Recv takes the
// messages onMessage queued.
type nbPeer struct {
	s      *Server
	u      nbws.Upgrader // this connection's copy of the engine's: its handlers close over p
	wsc    *nbws.Conn
	ser    serializers.Serializer
	binary bool
	info   transport.Info
	q      *transport.Queue
	ping   *time.Timer
	orig   net.Conn // the hijacked connection, closed once nbio's is: gives a listener's slot back

	// The writer (nbwrite.go).
	writing  atomic.Bool  // a writer goroutine runs or is starting
	parked   atomic.Bool  // the writer ended waiting for nbio to drain
	inflight atomic.Int64 // bytes handed to nbio and not yet on the socket
	wmu      sync.Mutex
	wfailed  bool                          // under wmu: a write failed
	armed    bool                          // under wmu: nbio's write deadline is set
	cur      *transport.Batch              // under wmu: the batch being written
	curSize  int                           // under wmu: its size written so far
	progress atomic.Pointer[chan struct{}] // set by finish: told of each write nbio makes

	sess transport.Session // push model; nil: pull, through in
	in   *pullInbox

	// up is set once the peer is set up, before the poller has the
	// socket; nbio's callbacks load it first. The hand-over through epoll
	// orders them after the setup, but the race detector does not see it.
	up          atomic.Bool
	established atomic.Bool // the session is established (Established)
	lifted      bool        // poller goroutine: the read limit is ReadLimit
	headers     headerCheck // poller goroutine: the client's frame headers (nbcheck.go)
	failed      bool        // poller goroutine: the input ended; the rest is ignored
	ended       sync.Once

	closeState
	done chan struct{} // the connection is closed
	// live is done once the socket is on the poller (or failed to get
	// there): nbio's Conn cannot be written before. Until then the writer
	// is held (writing is true) and what the session sends is queued. A
	// WaitGroup, not a channel: it lives in the peer (a channel is 96
	// bytes more per connection, for ever).
	live     sync.WaitGroup
	doneOnce sync.Once
}

var _ transport.Peer = (*nbPeer)(nil)

// serveNbio answers r's handshake (gorilla's Upgrader, as for the gorilla
// engine: the same negotiation and refusals) and moves the connection to
// the nbio engine's poller. The peer is wholly set up (its nbio Conn, the
// data handler, the session) before the poller reads the socket.
func (s *Server) serveNbio(w http.ResponseWriter, r *http.Request, ser serializers.Serializer, info transport.Info) {
	if err := s.nb.start(); err != nil {
		s.refuse(w, r, http.StatusServiceUnavailable, "router is shutting down")
		return
	}
	hdr := http.Header{"Sec-Websocket-Protocol": {ser.Subprotocol()}}
	hj := &nbHijacker{ResponseWriter: w}
	if _, err := s.upgrader.Upgrade(hj, r, hdr); err != nil { // gorilla has answered the request
		s.stats.Refused.Add(1)
		s.log.Info("websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		return
	}
	// gorilla's Conn is dropped: the socket is read by nbio from now on
	// (nothing was read past the handshake: gorilla refuses a client that
	// sent data before its answer).
	tc := transport.TCPConn(hj.conn)
	if tc == nil {
		_ = hj.conn.Close()
		s.stats.Refused.Add(1)
		return
	}
	nbc, err := nbfd.NBConn(tc) // a dup of the socket, close-on-exec; tc is closed
	if err != nil {
		s.stats.Refused.Add(1)
		s.log.Info("websocket: moving the connection to the engine failed", "remote", r.RemoteAddr, "error", err)
		return
	}
	p := &nbPeer{
		s: s, ser: ser, binary: ser.Binary(), info: info, u: s.nb.tmpl, orig: hj.conn,
		closeState: closeState{closing: make(chan struct{})}, done: make(chan struct{}),
	}
	p.live.Add(1)
	p.writing.Store(true) // held until live
	p.q = transport.NewQueue(transport.QueueLimits{
		Messages: s.cfg.QueueMessages, Bytes: s.cfg.QueueBytes, SlowTimeout: s.cfg.SlowConsumerTimeout,
	}, p.slow)
	// Until the session is established, nbio inflates no more than the
	// handshake limit (onData lifts it). A pull handler's Recv checks it
	// when it reads, as on gorilla: the limit is then the one in force
	// when the handler reads, not when the message came.
	if _, push := s.handler.(transport.Attacher); push {
		p.u.MessageLengthLimit = int(s.cfg.HandshakeReadLimit)
	} else {
		p.lifted = true
	}
	p.u.EnableCompression(info.Compression) // RSV1 is a protocol error unless negotiated
	p.u.OnMessage(p.onMessage)
	p.u.OnClose(p.onClose)
	p.u.SetCloseHandler(p.onCloseFrame)
	p.u.SetPingHandler(func(c *nbws.Conn, data string) { p.control(nbws.PongMessage, []byte(data)) })
	wsc := nbws.NewServerConn(&p.u, nbc, ser.Subprotocol(), info.Compression, false)
	wsc.Engine = s.nb.eng
	wsc.Execute = nbc.Execute
	wsc.SetSession(p) // for the engine's OnWrittenSize
	nbc.SetSession(wsc)
	nbc.OnData(p.onData)
	p.wsc = wsc
	s.wg.Add(1)
	p.register()
	p.up.Store(true)
	if err := s.nb.eng.AddTransferredConn(nbc); err != nil { // nbio closed it
		s.log.Info("websocket: moving the connection to the engine failed", "remote", r.RemoteAddr, "error", err)
		p.live.Done()
		p.onClose(wsc, err)
		return
	}
	_ = nbc.SetReadDeadline(time.Now().Add(s.cfg.PingInterval + s.cfg.PongTimeout))
	p.live.Done()
	p.ping.Reset(s.cfg.PingInterval)
	// Release the writer: what the session sent meanwhile (an ABORT, say)
	// goes out now.
	p.writing.Store(false)
	if p.q.Len() > 0 && p.writing.CompareAndSwap(false, true) {
		go p.writeLoop()
	}
}

// register puts the peer on the server's books and hands it to the
// handler.
func (p *nbPeer) register() {
	s := p.s
	p.ping = time.AfterFunc(time.Duration(math.MaxInt64), p.sendPing) // armed once live
	s.mu.Lock()
	s.peers[p] = struct{}{}
	closedAll := s.closedAll
	s.mu.Unlock()
	s.stats.Accepted.Add(1)
	s.stats.Connections.Add(1)
	if a, ok := s.handler.(transport.Attacher); ok {
		p.sess = a.Attach(p)
	} else {
		p.in = newPullInbox(s.cfg.QueueMessages)
		go p.servePull()
	}
	if closedAll != nil { // CloseAll ran while this one was being upgraded
		p.Close(closedAll.code, closedAll.reason)
	}
}

// onData is the connection's data handler, on the poller's goroutine: it
// lifts the handshake limit once the session is established (here, so that
// nbio's parse reads it on the goroutine that sets it), checks the frame
// headers nbio lets through (nbcheck.go), parses what comes before a bad
// one, and on a framing error closes the connection with 1002 and why
// (nbio would close it without a close frame).
func (p *nbPeer) onData(c *nbio.Conn, data []byte) {
	p.up.Load()
	if !p.lifted && p.established.Load() {
		p.u.MessageLengthLimit = int(min(p.s.cfg.ReadLimit, int64(int(^uint(0)>>1))))
		p.lifted = true
	}
	n, err := p.headers.check(data)
	if n > 0 {
		if perr := p.wsc.Parse(data[:n]); perr != nil {
			err = perr
		}
	}
	if err == nil {
		return
	}
	// nbio has answered a message over the limit with 1009 itself; any
	// other error is the client's framing (or its deflate stream).
	if !errors.Is(err, nbws.ErrMessageTooLarge) && !errors.Is(err, nbws.ErrControlMessageTooBig) {
		reason := err.Error()
		if len(reason) > 123 {
			reason = reason[:123]
		}
		p.control(nbws.CloseMessage, closePayload(1002, reason))
	}
	_ = c.CloseWithError(&nbParseError{err})
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

// onMessage is nbio's message handler, on the poller's goroutine: one
// whole message, inflated and within ReadLimit.
func (p *nbPeer) onMessage(_ *nbws.Conn, mt nbws.MessageType, data []byte) {
	if p.failed {
		return
	}
	p.s.stats.BytesIn.Add(uint64(len(data)))
	if p.sess == nil {
		// Pull: Recv decodes, so that the handshake limit is the one in
		// force when the handler reads, as on gorilla.
		p.in.put(rawMessage{mt, data}, nil)
		return
	}
	m, err := p.decode(mt, data)
	if err != nil {
		p.failed = true
		p.endInput(err)
		return
	}
	// Handle reports a full inbox; nbio cannot stop reading one
	// connection, so the inbox's own bound (twice its size) ends a client
	// that writes faster than its session is served.
	p.sess.Handle(m)
}

// rawMessage is a message read and not yet decoded (pull model).
type rawMessage struct {
	mt   nbws.MessageType
	data []byte
}

// decode checks and decodes one message.
func (p *nbPeer) decode(mt nbws.MessageType, data []byte) (wamp.Message, error) {
	if limit := p.s.cfg.HandshakeReadLimit; !p.established.Load() && int64(len(data)) > limit {
		p.s.stats.TooBigHandshake.Add(1)
		return nil, &transport.ProtocolError{Code: transport.CloseMessageTooBig,
			Err: fmt.Errorf("message larger than the read limit of %d bytes", limit)}
	}
	return p.s.decodeMessage(p.ser, p.binary, mt == nbws.BinaryMessage, data)
}

// endInput tells the session its input ended with err, once.
func (p *nbPeer) endInput(err error) {
	p.ended.Do(func() {
		if p.sess != nil {
			p.sess.Closed(err)
			return
		}
		p.in.put(rawMessage{}, err)
	})
}

// onCloseFrame answers the client's close frame, unless ours went first.
func (p *nbPeer) onCloseFrame(c *nbws.Conn, code int, text string) {
	select {
	case <-p.closing:
		return
	default:
	}
	switch {
	case !utf8.ValidString(text):
		p.control(nbws.CloseMessage, closePayload(1007, "close reason is not valid UTF-8"))
	case code == 1005:
		p.control(nbws.CloseMessage, nil)
	default:
		p.control(nbws.CloseMessage, closePayload(code, ""))
	}
}

// onClose is nbio's close handler: the connection is closed, by either
// side, for err.
func (p *nbPeer) onClose(_ *nbws.Conn, err error) {
	p.up.Load()
	p.endInput(p.readError(err))
	p.doneOnce.Do(func() {
		p.ping.Stop()
		p.closeWith(transport.CloseGoingAway, "connection closed", true)
		_ = p.orig.Close() // its fd was closed by NBConn's dup
		close(p.done)
		if p.sess != nil {
			p.release()
		}
	})
}

// readError maps the error nbio closed the connection for to what Recv
// returns for it (see peer.readError).
func (p *nbPeer) readError(err error) error {
	var ce *nbws.CloseError
	switch {
	case errors.Is(err, nbws.ErrMessageTooLarge):
		limit := p.s.cfg.HandshakeReadLimit
		if p.established.Load() {
			limit = p.s.cfg.ReadLimit
		}
		if p.established.Load() {
			p.s.stats.TooBig.Add(1)
		} else {
			p.s.stats.TooBigHandshake.Add(1)
		}
		return &transport.ProtocolError{Code: transport.CloseMessageTooBig,
			Err: fmt.Errorf("message larger than the read limit of %d bytes", limit)}
	case errors.Is(err, nbio.ErrOverflow):
		p.slow(fmt.Sprintf("slow consumer: more than %d bytes waiting for the socket", p.s.cfg.QueueBytes))
	case errors.Is(err, nbio.ErrWriteTimeout):
		p.slow(fmt.Sprintf("slow consumer: a write did not complete within %s", p.s.cfg.WriteTimeout))
	case errors.As(err, &ce):
		if ce.Code == 1002 {
			return &transport.ProtocolError{Code: transport.CloseProtocolError, Err: err}
		}
		return io.EOF
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, nbio.ErrReadTimeout):
	case isNbProtocolError(err), errors.As(err, new(*nbParseError)):
		return &transport.ProtocolError{Code: transport.CloseProtocolError, Err: err}
	}
	select {
	case <-p.closing:
		return transport.ErrClosed
	default:
		return io.EOF
	}
}

// nbParseError is an error of nbio's parse of the client's frames: a
// protocol error (1002), unless the message was over the limit.
type nbParseError struct{ err error }

func (e *nbParseError) Error() string { return e.err.Error() }
func (e *nbParseError) Unwrap() error { return e.err }

// isNbProtocolError: nbio refused the client's framing.
func isNbProtocolError(err error) bool {
	for _, e := range []error{nbws.ErrReserveBitSet, nbws.ErrReservedMessageType, nbws.ErrControlMessageFragmented,
		nbws.ErrFragmentsShouldNotHaveBinaryOrTextMessage, nbws.ErrInvalidFragmentMessage, nbws.ErrControlMessageTooBig,
		nbws.ErrInvalidCloseCode, nbws.ErrInvalidUtf8} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Recv takes the next message onMessage queued (pull model only).
func (p *nbPeer) Recv() (wamp.Message, error) {
	if p.in == nil {
		return nil, errors.New("websocket: Recv on an attached peer")
	}
	raw, err := p.in.take()
	if err != nil {
		return nil, err
	}
	return p.decode(raw.mt, raw.data)
}

// Established lifts the handshake read limit (transport.Peer).
func (p *nbPeer) Established() { p.established.Store(true) }

// Send encodes m on the caller's goroutine and queues it.
func (p *nbPeer) Send(m wamp.Message) error {
	data, err := p.ser.Encode(m)
	if err != nil {
		return err
	}
	return p.push(transport.Item{Data: data})
}

// SendFrame queues a frame shared with other recipients.
func (p *nbPeer) SendFrame(f *transport.Frame) error { return p.push(transport.Item{Frame: f}) }

func (p *nbPeer) Serializer() serializers.Serializer { return p.ser }
func (p *nbPeer) Done() <-chan struct{}              { return p.done }
func (p *nbPeer) Info() transport.Info               { return p.info }
func (p *nbPeer) queue() *transport.Queue            { return p.q }

// Close flushes the queue, sends a close frame with code and reason and
// closes the connection.
func (p *nbPeer) Close(code transport.CloseCode, reason string) { p.closeWith(code, reason, false) }

func (p *nbPeer) closeWith(code transport.CloseCode, reason string, discard bool) (closed bool) {
	return p.start(p.q, code, reason, discard, p.finish)
}

// slow closes a slow consumer with ClosePolicyViolation, counted and
// logged as for gorilla (peer.slow).
func (p *nbPeer) slow(reason string) {
	if !p.closeWith(transport.ClosePolicyViolation, "slow consumer", true) {
		return
	}
	p.s.stats.SlowConsumerDisconnects.Add(1)
	p.endInput(transport.ErrClosed)
	host, _, err := net.SplitHostPort(p.info.RemoteAddr)
	if err != nil {
		host = p.info.RemoteAddr
	}
	if ok, held := p.s.slowLog.Allow(host); ok {
		p.s.log.Warn("disconnecting slow consumer", "remote", p.info.RemoteAddr, "reason", reason, "held_back", held)
	}
}

// nbHijacker keeps the connection gorilla's Upgrader hijacks, to move it
// to the engine.
type nbHijacker struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *nbHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("websocket: response does not implement http.Hijacker")
	}
	conn, brw, err := hj.Hijack()
	h.conn = conn
	return conn, brw, err
}

// pullInbox is a pull-model peer's queue of input for Recv, bounded.
type pullInbox struct {
	mu    sync.Mutex
	cond  *sync.Cond
	limit int
	queue []rawMessage
	err   error
}

func newPullInbox(limit int) *pullInbox {
	b := &pullInbox{limit: limit}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *pullInbox) put(m rawMessage, err error) {
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

func (b *pullInbox) take() (rawMessage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.queue) == 0 && b.err == nil {
		b.cond.Wait()
	}
	if len(b.queue) > 0 {
		m := b.queue[0]
		b.queue[0] = rawMessage{}
		b.queue = b.queue[1:]
		return m, nil
	}
	return rawMessage{}, b.err
}
