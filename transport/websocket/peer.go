package websocket

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// peer is one WebSocket connection carrying one WAMP session.
//
// An idle peer costs one goroutine (the session's, blocked in a read) and
// no write buffer: the writer goroutine runs only while there is something
// to write, and pings come from a timer. That is what lets a router hold
// tens of thousands of idle sessions (see ARCHITECTURE.md, "Memory per
// session").
type peer struct {
	s       *Server
	conn    *websocket.Conn
	bc      *batchConn // under conn: coalesces the writes of one flush
	ser     serializers.Serializer
	msgType int // websocket.TextMessage or BinaryMessage
	info    transport.Info
	q       *transport.Queue

	// limit is the largest message read, after inflation: the handshake
	// limit until Established, then ReadLimit. Only the read goroutine
	// reads them; Established is called on that goroutine too.
	limit       int64
	established bool

	w    transport.Writer // the writer on demand; w.Mu keeps batches in order, w.Failed: a write failed
	ping *time.Timer

	closeState
	readerDone chan struct{} // the read pump will read no more
	done       chan struct{} // the connection is closed
}

var _ transport.Peer = (*peer)(nil)

// newPeer sets a connection up and registers it, on the goroutine that
// upgraded it, so that CloseAll, once the client has its handshake answer,
// never misses it.
func (s *Server) newPeer(conn *websocket.Conn, bc *batchConn, ser serializers.Serializer, info transport.Info) *peer {
	p := &peer{
		s: s, conn: conn, bc: bc, ser: ser,
		msgType:    websocket.TextMessage,
		info:       info,
		closeState: closeState{closing: make(chan struct{})},
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	if ser.Binary() {
		p.msgType = websocket.BinaryMessage
	}
	p.q = transport.NewQueue(transport.QueueLimits{
		Messages: s.cfg.QueueMessages, Bytes: s.cfg.QueueBytes, SlowTimeout: s.cfg.SlowConsumerTimeout,
	}, p.slow)
	if info.Compression {
		_ = conn.SetCompressionLevel(s.cfg.CompressionLevel)
	}
	conn.EnableWriteCompression(info.Compression)
	// gorilla's own limit counts the bytes on the wire; readMessage bounds
	// the inflated message, which is what the router holds and decodes.
	conn.SetReadLimit(s.cfg.ReadLimit)
	p.limit = s.cfg.HandshakeReadLimit
	wait := s.cfg.PingInterval + s.cfg.PongTimeout
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wait)) })

	// Armed only once p.ping is set: sendPing re-arms it.
	p.ping = time.AfterFunc(time.Duration(math.MaxInt64), p.sendPing)
	p.ping.Reset(s.cfg.PingInterval)
	s.mu.Lock()
	s.peers[p] = struct{}{}
	closedAll := s.closedAll
	s.mu.Unlock()
	s.stats.Accepted.Add(1)
	s.stats.Connections.Add(1)
	if closedAll != nil { // CloseAll ran while this one was being upgraded
		p.Close(closedAll.code, closedAll.reason)
	}
	return p
}

// serveConn runs a registered peer's session on this goroutine; writes
// happen on a writer goroutine started when there is something to write.
func (s *Server) serveConn(p *peer) {
	defer s.wg.Done()
	defer s.untrack(p)
	s.handler.ServePeer(p)
	p.Close(transport.CloseNormal, "")
	p.drain()
	close(p.readerDone)
	<-p.done
}

// drain reads and discards what the client still sends until it answers
// our close frame, so that closing the socket does not reset the connection
// and lose the close frame. Bounded by WriteTimeout.
func (p *peer) drain() {
	_ = p.conn.SetReadDeadline(time.Now().Add(p.s.cfg.WriteTimeout))
	for {
		if _, _, err := p.conn.NextReader(); err != nil {
			return
		}
	}
}

// readBufs are the buffers messages are read into before they are copied
// out at their exact size: gorilla's ReadMessage grows a fresh buffer from
// 512 bytes for every message, which for a 64 KiB message is eight
// allocations and copies (pprof: a quarter of the router's CPU on 64 KiB
// calls).
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readMessage reads the next message into a new slice of its exact size.
func (p *peer) readMessage() (int, []byte, error) {
	mt, r, err := p.conn.NextReader()
	if err != nil {
		return mt, nil, err
	}
	buf := readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	// One byte more than the limit tells a message over it, however well
	// it compresses, before more than that is held.
	n, err := buf.ReadFrom(io.LimitReader(r, p.limit+1))
	if err == nil && n > p.limit {
		err = errTooBig
	}
	var data []byte
	if err == nil {
		data = bytes.Clone(buf.Bytes())
	}
	if buf.Cap() <= 1<<20 {
		readBufs.Put(buf)
	}
	return mt, data, err
}

// errTooBig is a message over the peer's current read limit after inflation.
var errTooBig = errors.New("websocket: message over the read limit")

// Established lifts the handshake read limit (transport.Peer).
func (p *peer) Established() { p.limit, p.established = p.s.cfg.ReadLimit, true }

// Recv reads and decodes the next message.
func (p *peer) Recv() (wamp.Message, error) {
	mt, data, err := p.readMessage()
	if err != nil {
		return nil, p.readError(err)
	}
	p.s.stats.BytesIn.Add(uint64(len(data)))
	return p.s.decodeMessage(p.ser, p.msgType == websocket.BinaryMessage, mt == websocket.BinaryMessage, data)
}

// decodeMessage checks a message (a binary or a text one) against its
// session's serializer, which takes binary ones or text ones, and decodes
// it; both engines read through it.
func (s *Server) decodeMessage(ser serializers.Serializer, wantBinary, binary bool, data []byte) (wamp.Message, error) {
	if binary != wantBinary {
		return nil, &transport.ProtocolError{Code: transport.CloseUnsupportedData,
			Err: fmt.Errorf("%s frame on a %s session", frameName(binary), ser.Subprotocol())}
	}
	if !binary && !utf8.Valid(data) {
		s.stats.InvalidUTF8.Add(1)
		// RFC 6455 section 8.1: a text frame must be UTF-8; forwarded, it
		// would make a browser subscriber fail its connection.
		return nil, &transport.ProtocolError{Code: transport.CloseInvalidPayload,
			Err: errors.New("text frame is not valid UTF-8")}
	}
	m, err := ser.Decode(data)
	if err != nil {
		return nil, &transport.ProtocolError{Code: transport.CloseProtocolError, Err: err}
	}
	return m, nil
}

func frameName(binary bool) string {
	if binary {
		return "binary"
	}
	return "text"
}

func (p *peer) readError(err error) error {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit), errors.Is(err, errTooBig):
		if p.established {
			p.s.stats.TooBig.Add(1)
		} else {
			p.s.stats.TooBigHandshake.Add(1)
		}
		return &transport.ProtocolError{Code: transport.CloseMessageTooBig,
			Err: fmt.Errorf("message larger than the read limit of %d bytes", p.limit)}
	case errors.As(err, &ce):
		if ce.Code == websocket.CloseProtocolError {
			return &transport.ProtocolError{Code: transport.CloseProtocolError, Err: err}
		}
		return io.EOF
	}
	select {
	case <-p.closing:
		return transport.ErrClosed
	default:
		return err
	}
}

// Send encodes m on the caller's goroutine and queues it.
func (p *peer) Send(m wamp.Message) error {
	data, err := p.ser.Encode(m)
	if err != nil {
		return err
	}
	return p.push(transport.Item{Data: data})
}

// SendFrame queues a frame shared with other recipients.
func (p *peer) SendFrame(f *transport.Frame) error { return p.push(transport.Item{Frame: f}) }

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
func (p *peer) queue() *transport.Queue            { return p.q }
func (p *peer) Done() <-chan struct{}              { return p.done }
func (p *peer) Info() transport.Info               { return p.info }

// Close flushes the queue, sends a close frame with code and reason and
// closes the connection; a closer goroutine does the work.
func (p *peer) Close(code transport.CloseCode, reason string) {
	p.closeWith(code, reason, false)
}

// closeWith closes the peer once; discard drops what is queued instead of
// flushing it. It reports whether this call closed it.
func (p *peer) closeWith(code transport.CloseCode, reason string, discard bool) (closed bool) {
	return p.start(p.q, code, reason, discard, p.finish)
}

// closeState is what the first Close of a peer records, the same for the
// gorilla and the nbio peers.
type closeState struct {
	closeOnce sync.Once
	closeCode transport.CloseCode
	closeMsg  string
	discard   bool          // close without flushing (slow consumer)
	closing   chan struct{} // Close was called
}

// start closes once: it records code and reason, closes q (flushed) or
// discards it, closes closing and runs finish on a goroutine of its own.
// It reports whether this call closed.
func (c *closeState) start(q *transport.Queue, code transport.CloseCode, reason string, discard bool, finish func()) (closed bool) {
	c.closeOnce.Do(func() {
		closed = true
		c.closeCode, c.closeMsg, c.discard = code, reason, discard
		if discard {
			q.Discard()
		} else {
			q.Close()
		}
		close(c.closing)
		go finish()
	})
	return closed
}

// wireCode is the RFC 6455 close code (section 7.4.1) of the router's
// reason for closing.
func wireCode(c transport.CloseCode) int {
	switch c {
	case transport.CloseNormal:
		return websocket.CloseNormalClosure // 1000
	case transport.CloseGoingAway:
		return websocket.CloseGoingAway // 1001
	case transport.CloseProtocolError:
		return websocket.CloseProtocolError // 1002
	case transport.CloseUnsupportedData:
		return websocket.CloseUnsupportedData // 1003
	case transport.CloseInvalidPayload:
		return websocket.CloseInvalidFramePayloadData // 1007
	case transport.ClosePolicyViolation:
		return websocket.ClosePolicyViolation // 1008
	case transport.CloseMessageTooBig:
		return websocket.CloseMessageTooBig // 1009
	default: // CloseInternalError, and any reason this table does not know
		return websocket.CloseInternalServerErr // 1011
	}
}

// slow closes a slow consumer with ClosePolicyViolation (1008), counted and logged (at most one
// line per client address per interval: a client can cause many). The queue
// has dropped what it held. The session's read is cut short, so that the
// router ends the session now (its subscriptions with it); the close frame
// follows the write in progress, if the peer takes it within the write
// timeout.
func (p *peer) slow(reason string) {
	if !p.closeWith(transport.ClosePolicyViolation, "slow consumer", true) {
		return
	}
	_ = p.conn.SetReadDeadline(time.Now())
	p.s.stats.SlowConsumerDisconnects.Add(1)
	host, _, err := net.SplitHostPort(p.info.RemoteAddr)
	if err != nil {
		host = p.info.RemoteAddr
	}
	if ok, held := p.s.slowLog.Allow(host); ok {
		p.s.log.Warn("disconnecting slow consumer", "remote", p.info.RemoteAddr, "reason", reason, "held_back", held)
	}
}

// sendPing runs on the ping timer.
func (p *peer) sendPing() {
	select {
	case <-p.closing:
		return
	default:
	}
	if err := p.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(p.s.cfg.WriteTimeout)); err != nil {
		select {
		case <-p.closing: // the close frame went first
		default:
			p.abandon()
		}
		return
	}
	p.ping.Reset(p.s.cfg.PingInterval)
}

// Flush writes everything queued, with one write deadline for the batch,
// coalesced into as few syscalls as batchConn can. A batch of one shared
// frame is written straight from the frame's bytes: no copy, and a write
// stuck on a full socket holds no batch buffer.
// The caller holds wmu.
func (p *peer) Flush() error {
	b := p.q.Take()
	if b.Len() == 0 {
		return nil
	}
	p.w.ExtendDeadline(p.conn, p.s.cfg.WriteTimeout)
	direct := b.Len() == 1 && b.First().Frame != nil && !b.First().Frame.Own
	if !direct {
		p.bc.begin()
	}
	_, size, err := b.Write(p.write)
	if !direct {
		// What end fails to write was reported written to gorilla; the
		// connection is abandoned either way.
		if endErr := p.bc.end(); err == nil {
			err = endErr
		}
	}
	p.q.Written(&b)
	b.Release()
	if err != nil {
		return err
	}
	p.s.stats.BytesOut.Add(uint64(size))
	return nil
}

// write hands one item to gorilla.
func (p *peer) write(it transport.Item) error {
	if it.Frame == nil {
		return p.conn.WriteMessage(p.msgType, it.Data)
	}
	if it.Frame.Own {
		return p.conn.WriteMessage(p.msgType, it.Frame.Data)
	}
	pm, err := prepared(it.Frame)
	if err != nil {
		return err
	}
	p.bc.lend(true) // the prepared bytes stay as they are: no copy
	err = p.conn.WritePreparedMessage(pm)
	p.bc.lend(false)
	return err
}

// finish flushes what is queued (unless discarding), sends the close frame,
// waits for the read side to end and closes the connection.
func (p *peer) finish() {
	defer close(p.done)
	p.ping.Stop()
	p.w.Mu.Lock()
	ok := !p.w.Failed
	if ok && !p.discard {
		if err := p.Flush(); err != nil {
			p.w.Failed, ok = true, false
		}
	}
	p.w.Mu.Unlock()
	if ok {
		msg := p.closeMsg
		if len(msg) > 123 {
			msg = msg[:123]
		}
		_ = p.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(wireCode(p.closeCode), msg),
			time.Now().Add(p.s.cfg.WriteTimeout))
		select {
		case <-p.readerDone:
		case <-time.After(p.s.cfg.WriteTimeout):
		}
	}
	_ = p.conn.Close()
}

// WriteFailed abandons the connection after a failed write. A write that
// did not complete within the write timeout is a peer that stopped reading:
// a slow consumer, counted as such (no close frame can follow a frame
// written in part).
func (p *peer) WriteFailed(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		p.slow(fmt.Sprintf("slow consumer: a write did not complete within %s", p.s.cfg.WriteTimeout))
	}
	p.abandon()
}

// abandon closes a connection that cannot be written to.
func (p *peer) abandon() {
	p.closeWith(transport.CloseGoingAway, "write failed", true)
	_ = p.conn.Close()
}

// preparedKey is the WebSocket transport's slot in a shared frame: its
// PreparedMessage, built by the first connection that writes the frame and
// written by all of them (framed once, and deflated once for those that
// negotiated compression).
var preparedKey = transport.NewCacheKey("websocket.PreparedMessage")

// prepared returns the frame's PreparedMessage, built once per frame.
func prepared(f *transport.Frame) (*websocket.PreparedMessage, error) {
	v, err := f.Cached(preparedKey, prepare)
	if err != nil {
		return nil, err
	}
	return v.(*websocket.PreparedMessage), nil
}

func prepare(f *transport.Frame) (any, error) {
	mt := websocket.TextMessage
	if f.Binary {
		mt = websocket.BinaryMessage
	}
	return websocket.NewPreparedMessage(mt, f.Data)
}
