package rawsocket

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// peer is one RawSocket connection carrying one WAMP session, after the
// handshake. Like a WebSocket peer it costs an idle connection one
// goroutine (the session's, blocked in a read) and its read buffer: the
// writer runs only while there is something to write, and the keepalive is
// a timer.
type peer struct {
	s       *Server
	conn    net.Conn // reads, deadlines, close
	wconn   net.Conn // writes: the TCP or Unix connection itself (writev), or conn (TLS)
	vectors bool     // wconn takes writev
	br      *bufio.Reader
	ser     serializers.Serializer
	info    transport.Info
	q       *transport.Queue
	sendMax int // the largest message the client accepts

	// limit is the largest message read: the handshake limit until
	// Established, then ReadLimit. Only the read goroutine uses them.
	limit       int
	established bool

	heard atomic.Bool // a frame came in since the keepalive last looked
	ping  *time.Timer
	// pinged: the keepalive sent a PING and waits to hear from the peer.
	// Only the timer's function uses it, one run after the other.
	pinged atomic.Bool

	w transport.Writer // the writer on demand; w.Mu keeps batches in order, w.Failed: a write failed

	closeOnce  sync.Once
	discard    bool          // close without flushing (slow consumer)
	cause      error         // why the transport closed the peer itself (no PONG, slow consumer); set before closing
	closing    chan struct{} // Close was called
	readerDone chan struct{} // the session's reads are over
	done       chan struct{} // the connection is closed
}

var _ transport.Peer = (*peer)(nil)

func (p *peer) queue() *transport.Queue { return p.q }

func (s *Server) newPeer(c net.Conn, br *bufio.Reader, ser serializers.Serializer, sendMax int, info transport.Info) *peer {
	p := &peer{
		s: s, conn: c, wconn: c, br: br, ser: ser, info: info, sendMax: sendMax,
		limit:      s.cfg.HandshakeReadLimit,
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	switch u := transport.Unwrap(c).(type) {
	case *net.TCPConn, *net.UnixConn:
		p.wconn, p.vectors = u, true
	}
	p.q = transport.NewQueue(transport.QueueLimits{
		Messages: s.cfg.QueueMessages, Bytes: s.cfg.QueueBytes, SlowTimeout: s.cfg.SlowConsumerTimeout,
	}, p.slow)
	if s.cfg.PingInterval > 0 { // keepalive on; nil: off
		p.ping = time.AfterFunc(time.Duration(math.MaxInt64), p.keepalive)
		p.ping.Reset(s.cfg.PingInterval)
	}
	return p
}

// Established lifts the handshake read limit (transport.Peer).
func (p *peer) Established() { p.limit, p.established = p.s.cfg.ReadLimit, true }

// largeFrame bounds the time a frame longer than smallFrame takes to
// arrive, from its prefix, by FrameTimeout: a client that declares a large
// frame and sends it slowly, or part of it, holds what it sent for no
// longer (whether or not keepalive PINGs are on). Frames up to smallFrame
// are held at their size anyway; their reads set no deadline.
func (p *peer) largeFrame() (done func()) {
	_ = p.conn.SetReadDeadline(time.Now().Add(p.s.cfg.FrameTimeout))
	return func() {
		select {
		case <-p.closing: // a deadline set to cut the read stays
		default:
			_ = p.conn.SetReadDeadline(time.Time{})
		}
	}
}

// Recv reads the next WAMP message, answering PINGs on the way.
func (p *peer) Recv() (wamp.Message, error) {
	for {
		typ, data, err := readFrame(p.br, p.limit, p.largeFrame)
		if err != nil {
			return nil, p.readError(err)
		}
		p.heard.Store(true)
		p.s.stats.BytesIn.Add(uint64(len(data) + HeaderLen))
		switch typ {
		case FramePing:
			if err := p.pong(data); err != nil {
				return nil, err
			}
			continue
		case FramePong:
			continue
		}
		m, err := p.ser.Decode(data)
		if err != nil {
			return nil, &transport.ProtocolError{Code: transport.CloseProtocolError, Err: err}
		}
		return m, nil
	}
}

func (p *peer) readError(err error) error {
	var tl *TooLargeError
	switch {
	case errors.As(err, &tl):
		if p.established {
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
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return io.EOF // the client went, perhaps inside a frame
	}
	if errors.Is(err, os.ErrDeadlineExceeded) { // only largeFrame sets one
		p.s.stats.FrameTimeouts.Add(1)
		return &transport.ProtocolError{Code: transport.ClosePolicyViolation,
			Err: fmt.Errorf("a frame did not arrive within rawsocket.frame_timeout (%s)", p.s.cfg.FrameTimeout)}
	}
	return err
}

// pong answers a PING at once, on the read goroutine: a client that sends
// PINGs without reading their PONGs stops being read once its socket is
// full, and is cut by the write timeout.
func (p *peer) pong(data []byte) error {
	if err := p.s.pingFits(len(data), p.sendMax); err != nil {
		return err
	}
	if err := p.control(FramePong, data); err != nil {
		return p.closedError()
	}
	return nil
}

// control writes a PING or PONG between batches. A write that fails
// abandons the connection before control returns: the PONG's caller, the
// session's reader, then ends the session, whose Close must find the peer
// already closed as a slow consumer (counted and logged), not close it as
// a session that ended.
//
// Once the peer is closing nothing more is written: finish flushes the
// queue (the ABORT or GOODBYE saying why) and half-closes the connection,
// and a PONG after that would fail, abandon the connection and reset it
// under what the client has not read yet. finish takes wmu before it
// half-closes, so a PONG that saw the peer open is written before.
func (p *peer) control(typ byte, data []byte) error {
	p.w.Mu.Lock()
	if p.w.Failed || p.isClosing() {
		p.w.Mu.Unlock()
		return transport.ErrClosed
	}
	p.w.ExtendDeadline(p.conn, p.s.cfg.WriteTimeout)
	h := Header(typ, len(data))
	var err error
	if p.vectors {
		bufs := net.Buffers{h[:], data}
		_, err = bufs.WriteTo(p.wconn)
	} else {
		_, err = p.wconn.Write(append(h[:], data...))
	}
	p.w.Failed = err != nil
	p.w.Mu.Unlock()
	if err != nil {
		p.WriteFailed(err)
		return err
	}
	p.s.stats.BytesOut.Add(uint64(len(data) + HeaderLen))
	return nil
}

// closedError is what the session's read returns once the peer is
// closed: why, when the transport closed it itself (the session's end
// then says so, as the client did not close), else ErrClosed.
func (p *peer) closedError() error {
	if p.isClosing() && p.cause != nil { // cause is set before closing is closed
		return p.cause
	}
	return transport.ErrClosed
}

func (p *peer) isClosing() bool {
	select {
	case <-p.closing:
		return true
	default:
		return false
	}
}

// pingPayload is what a keepalive PING carries: 8 ASCII bytes, not none,
// since AutobahnJS's Node transport answers no PING without a payload (it
// handles a frame once bytes past its prefix arrive), and text, since it
// echoes the payload through a string.
var pingPayload = []byte("junction")

// keepalive runs on the ping timer: a connection heard from since the last
// look is left alone; one silent for a whole interval gets a PING, and is
// closed if it stays silent PongTimeout after it.
func (p *peer) keepalive() {
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
		_ = p.conn.Close()
		return
	}
	if err := p.control(FramePing, pingPayload); err != nil {
		return
	}
	p.pinged.Store(true)
	p.ping.Reset(p.s.cfg.PongTimeout)
}

// Send encodes m on the caller's goroutine and queues it. A message larger
// than the client accepts is not queued: the error wraps
// transport.ErrTooLarge.
func (p *peer) Send(m wamp.Message) error {
	it, err := p.s.message(p.ser, p.sendMax, m)
	if err != nil {
		return err
	}
	return p.push(it)
}

// SendFrame queues a frame shared with other recipients.
func (p *peer) SendFrame(f *transport.Frame) error {
	if err := p.s.fits(len(f.Data), p.sendMax); err != nil {
		return err
	}
	return p.push(transport.Item{Frame: f})
}

// message is m encoded for a peer of either engine, or why it cannot be
// sent: a message larger than sendMax, the most the client accepts.
func (s *Server) message(ser serializers.Serializer, sendMax int, m wamp.Message) (transport.Item, error) {
	data, err := ser.Encode(m)
	if err != nil {
		return transport.Item{}, err
	}
	if err := s.fits(len(data), sendMax); err != nil {
		return transport.Item{}, err
	}
	return transport.Item{Data: data}, nil
}

// fits: a message of n bytes is no larger than sendMax.
func (s *Server) fits(n, sendMax int) error {
	if n <= sendMax {
		return nil
	}
	s.stats.TooLargeForPeer.Add(1)
	return fmt.Errorf("%w: %d bytes, the client accepts at most %d (RawSocket handshake)", transport.ErrTooLarge, n, sendMax)
}

// pingFits: a PING of n bytes can be answered, its PONG no larger than
// sendMax (a protocol error otherwise).
func (s *Server) pingFits(n, sendMax int) error {
	if n > sendMax {
		return &transport.ProtocolError{Code: transport.CloseProtocolError,
			Err: fmt.Errorf("PING of %d bytes, larger than the %d the client accepts back in its PONG", n, sendMax)}
	}
	s.stats.Pings.Add(1)
	return nil
}

func (p *peer) push(it transport.Item) error {
	if err := p.q.Push(it); err != nil {
		return err
	}
	if p.w.Start() {
		go p.writeLoop()
	}
	return nil
}

// writeLoop is the writer goroutine (transport.Writer.Run). A go
// statement with arguments would allocate a closure per writer start.
func (p *peer) writeLoop() { p.w.Run(p.q, p) }

func (p *peer) Serializer() serializers.Serializer { return p.ser }
func (p *peer) Done() <-chan struct{}              { return p.done }
func (p *peer) Info() transport.Info               { return p.info }

// Close flushes the queue and closes the connection: RawSocket has no
// close message, the ABORT or GOODBYE queued before it said why, so code
// and reason are not sent.
func (p *peer) Close(code transport.CloseCode, reason string) { p.closeWith(false, nil) }

// closeWith closes the peer once; discard drops what is queued instead of
// flushing it, cause (nil for a session's end) is what the session's read
// returns. It reports whether this call closed it.
func (p *peer) closeWith(discard bool, cause error) (closed bool) {
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

// slow closes a slow consumer, counted and logged (a line per client
// address per interval at most). The session's read is cut short so that
// the router ends it now.
func (p *peer) slow(reason string) {
	if !p.closeWith(true, errors.New("rawsocket: "+reason)) {
		return
	}
	_ = p.conn.SetReadDeadline(time.Now())
	p.s.stats.SlowConsumerDisconnects.Add(1)
	if ok, held := p.s.slowLog.Allow(host(p.info.RemoteAddr)); ok {
		p.s.log.Warn("disconnecting slow consumer", "transport", "rawsocket", "remote", p.info.RemoteAddr, "reason", reason, "held_back", held)
	}
}

func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// Flush writes everything queued with one write deadline, each message
// after its prefix: gathered for writev on TCP and Unix connections (the
// bytes of messages and shared frames by reference, no copy), copied into
// a buffer for TLS. The caller holds wmu.
func (p *peer) Flush() error {
	b := p.q.Take()
	if b.Len() == 0 {
		return nil
	}
	p.w.ExtendDeadline(p.conn, p.s.cfg.WriteTimeout)
	w := writers.Get().(*batchWriter)
	w.reset(p.wconn, p.vectors)
	n, size, err := b.Write(w.add)
	if err == nil {
		err = w.flush()
	}
	w.reset(nil, false)
	writers.Put(w)
	p.q.Written(&b)
	b.Release()
	if err != nil {
		return err
	}
	p.s.stats.BytesOut.Add(uint64(size + HeaderLen*n)) // b is released: its Len is 0 now
	return nil
}

// finish flushes what is queued (unless discarding), half-closes the
// connection so that the client reads what was sent to its end (ABORT,
// GOODBYE) rather than a reset, waits for the read side to end, and
// closes the connection.
func (p *peer) finish() {
	defer close(p.done)
	if p.ping != nil {
		p.ping.Stop()
	}
	p.w.Mu.Lock()
	ok := !p.w.Failed
	if ok && !p.discard {
		if err := p.Flush(); err != nil {
			p.w.Failed, ok = true, false
		}
	}
	p.w.Mu.Unlock()
	if ok {
		if cw, can := p.wconn.(interface{ CloseWrite() error }); can {
			_ = cw.CloseWrite()
		}
		select {
		case <-p.readerDone:
		case <-time.After(p.s.cfg.WriteTimeout):
		}
	}
	_ = p.conn.Close()
}

// WriteFailed abandons the connection after a failed write; one that did
// not complete within the write timeout is a peer that stopped reading, a
// slow consumer.
func (p *peer) WriteFailed(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		p.slow(fmt.Sprintf("slow consumer: a write did not complete within %s", p.s.cfg.WriteTimeout))
	}
	p.abandon()
}

// abandon closes a connection that cannot be written to, or is dead.
func (p *peer) abandon() {
	p.closeWith(true, nil)
	_ = p.conn.Close()
}

// drain reads and discards what the client still sends until it closes
// its end, bounded by WriteTimeout, so that closing the socket does not
// reset the connection and lose what was written last.
func (p *peer) drain() {
	_ = p.conn.SetReadDeadline(time.Now().Add(p.s.cfg.WriteTimeout))
	_, _ = io.Copy(io.Discard, p.br)
}

// batchWriter gathers one flush's frames. On a connection that takes
// writev it keeps the prefix and the bytes of each message as slices and
// writes them in one call per maxVectors; on TLS it copies them into a
// buffer written every 64 KiB, and writes large messages straight through.
type batchWriter struct {
	conn    net.Conn
	vectors bool
	hdrs    [maxVectors / 2][HeaderLen]byte
	nh      int
	bufs    net.Buffers
	out     net.Buffers // what WriteTo consumes: a field, so that it is not allocated for each writev
	buf     []byte
}

const (
	maxVectors = 512      // slices per writev
	copyLimit  = 64 << 10 // bytes gathered in the TLS buffer before it is written
)

var writers = sync.Pool{New: func() any { return new(batchWriter) }}

func (w *batchWriter) reset(c net.Conn, vectors bool) {
	w.conn, w.vectors, w.nh = c, vectors, 0
	clear(w.bufs)
	w.bufs = w.bufs[:0]
	w.buf = w.buf[:0]
	if cap(w.buf) > 4*copyLimit {
		w.buf = nil
	}
}

func (w *batchWriter) add(it transport.Item) error {
	data := it.Data
	if it.Frame != nil {
		data = it.Frame.Data
	}
	if !w.vectors {
		return w.addCopy(data)
	}
	if w.nh == len(w.hdrs) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.hdrs[w.nh] = Header(FrameMessage, len(data))
	w.bufs = append(w.bufs, w.hdrs[w.nh][:], data)
	w.nh++
	return nil
}

// addCopy gathers a frame for a connection that takes no writev (TLS).
// The prefix is written in hdrs[0], which that path does not use
// otherwise: a local array would escape (Write takes it) and be allocated.
func (w *batchWriter) addCopy(data []byte) error {
	w.hdrs[0] = Header(FrameMessage, len(data))
	h := w.hdrs[0][:]
	if len(w.buf)+len(data)+HeaderLen > copyLimit {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if len(data) >= copyLimit { // straight through, no copy
		if _, err := w.conn.Write(h[:]); err != nil {
			return err
		}
		_, err := w.conn.Write(data)
		return err
	}
	w.buf = append(append(w.buf, h...), data...)
	return nil
}

func (w *batchWriter) flush() error {
	if !w.vectors {
		if len(w.buf) == 0 {
			return nil
		}
		_, err := w.conn.Write(w.buf)
		w.buf = w.buf[:0]
		return err
	}
	if len(w.bufs) == 0 {
		return nil
	}
	w.out = w.bufs // WriteTo consumes its receiver
	_, err := w.out.WriteTo(w.conn)
	w.out = nil
	clear(w.bufs)
	w.bufs, w.nh = w.bufs[:0], 0
	return err
}
