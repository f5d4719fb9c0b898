package websocket

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// peer is one WebSocket connection carrying one WAMP session.
type peer struct {
	s       *Server
	conn    *websocket.Conn
	ser     serializers.Serializer
	msgType int // websocket.TextMessage or BinaryMessage
	info    transport.Info
	log     *slog.Logger
	q       *transport.Queue

	closeOnce  sync.Once
	closeCode  transport.CloseCode
	closeMsg   string
	discard    bool          // close without flushing (slow consumer)
	closing    chan struct{} // Close was called
	readerDone chan struct{} // the read pump will read no more
	done       chan struct{} // the connection is closed
}

var _ transport.Peer = (*peer)(nil)

// serveConn runs a connection: write pump in its own goroutine, session on this one.
func (s *Server) serveConn(conn *websocket.Conn, ser serializers.Serializer, r *http.Request) {
	compress := s.cfg.Compression && compressionOffered(r)
	remote := s.clientAddr(r)
	var clientCert string
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		clientCert = r.TLS.VerifiedChains[0][0].Subject.CommonName
	}
	p := &peer{
		s: s, conn: conn, ser: ser,
		msgType: websocket.TextMessage,
		info: transport.Info{
			RemoteAddr: remote, Subprotocol: ser.Subprotocol(), Compression: compress,
			Origin: r.Header.Get("Origin"), Header: r.Header, ClientCert: clientCert,
		},
		log:        s.log.With("remote", remote),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	if ser.Binary() {
		p.msgType = websocket.BinaryMessage
	}
	p.q = transport.NewQueue(transport.QueueLimits{
		Messages: s.cfg.QueueMessages, Bytes: s.cfg.QueueBytes, SlowTimeout: s.cfg.SlowConsumerTimeout,
	}, p.slow)
	if compress {
		_ = conn.SetCompressionLevel(s.cfg.CompressionLevel)
	}
	conn.EnableWriteCompression(compress)
	conn.SetReadLimit(s.cfg.ReadLimit)
	wait := s.cfg.PingInterval + s.cfg.PongTimeout
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wait)) })

	s.wg.Add(1)
	defer s.wg.Done()
	s.mu.Lock()
	s.peers[p] = struct{}{}
	s.mu.Unlock()
	s.stats.Accepted.Add(1)
	s.stats.Connections.Add(1)
	defer func() {
		s.mu.Lock()
		delete(s.peers, p)
		s.mu.Unlock()
		s.stats.Connections.Add(-1)
	}()

	writerDone := make(chan struct{})
	go func() { p.writePump(); close(writerDone) }()

	s.handler.ServePeer(p)
	p.Close(transport.CloseNormal, "")
	p.drain()
	close(p.readerDone)
	<-writerDone
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

// Recv reads and decodes the next message.
func (p *peer) Recv() (wamp.Message, error) {
	mt, data, err := p.conn.ReadMessage()
	if err != nil {
		return nil, p.readError(err)
	}
	if mt != p.msgType {
		return nil, &transport.ProtocolError{Code: transport.CloseUnsupportedData,
			Err: fmt.Errorf("%s frame on a %s session", frameName(mt), p.ser.Subprotocol())}
	}
	m, err := p.ser.Decode(data)
	if err != nil {
		return nil, &transport.ProtocolError{Code: transport.CloseProtocolError, Err: err}
	}
	return m, nil
}

func frameName(mt int) string {
	if mt == websocket.BinaryMessage {
		return "binary"
	}
	return "text"
}

func (p *peer) readError(err error) error {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		return &transport.ProtocolError{Code: transport.CloseMessageTooBig,
			Err: fmt.Errorf("message larger than the read limit of %d bytes", p.s.cfg.ReadLimit)}
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
	return p.q.Push(transport.Item{Data: data})
}

// SendFrame queues a frame shared with other recipients.
func (p *peer) SendFrame(f *transport.Frame) error { return p.q.Push(transport.Item{Frame: f}) }

func (p *peer) Serializer() serializers.Serializer { return p.ser }
func (p *peer) Done() <-chan struct{}              { return p.done }
func (p *peer) Info() transport.Info               { return p.info }

// Close flushes the queue, sends a close frame with code and reason and
// closes the connection; the write pump does the work.
func (p *peer) Close(code transport.CloseCode, reason string) {
	p.closeWith(code, reason, false)
}

func (p *peer) closeWith(code transport.CloseCode, reason string, discard bool) {
	p.closeOnce.Do(func() {
		p.closeCode, p.closeMsg, p.discard = code, reason, discard
		p.q.Close()
		close(p.closing)
	})
}

// slow is the queue's callback for a slow consumer.
func (p *peer) slow(reason string) {
	p.s.stats.SlowConsumerDisconnects.Add(1)
	p.log.Warn("disconnecting slow consumer", "reason", reason)
	p.closeWith(transport.ClosePolicyViolation, "slow consumer", true)
}

// writePump is the connection's only writer.
func (p *peer) writePump() {
	defer close(p.done)
	ticker := time.NewTicker(p.s.cfg.PingInterval)
	defer ticker.Stop()
	var batch []transport.Item
	for {
		select {
		case <-p.q.Signal():
			var err error
			if batch, err = p.flush(batch); err != nil {
				p.abandon()
				return
			}
		case <-ticker.C:
			if err := p.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(p.s.cfg.WriteTimeout)); err != nil {
				p.abandon()
				return
			}
		case <-p.closing:
			p.finish(batch)
			return
		}
	}
}

// flush writes everything queued, with one write deadline for the batch.
func (p *peer) flush(batch []transport.Item) ([]transport.Item, error) {
	batch = p.q.Take(batch[:0])
	if len(batch) == 0 {
		return batch, nil
	}
	_ = p.conn.SetWriteDeadline(time.Now().Add(p.s.cfg.WriteTimeout))
	size := 0
	for i, it := range batch {
		var err error
		if it.Frame != nil {
			var pm *websocket.PreparedMessage
			if pm, err = it.Frame.Prepared(); err == nil {
				err = p.conn.WritePreparedMessage(pm)
			}
		} else {
			err = p.conn.WriteMessage(p.msgType, it.Data)
		}
		if err != nil {
			p.q.Written(i, size)
			return batch, err
		}
		size += it.Size()
		batch[i] = transport.Item{}
	}
	p.q.Written(len(batch), size)
	return batch, nil
}

// finish flushes what is queued (unless discarding), sends the close frame,
// waits for the read side to end and closes the connection.
func (p *peer) finish(batch []transport.Item) {
	if !p.discard {
		if _, err := p.flush(batch); err != nil {
			p.abandon()
			return
		}
	}
	msg := p.closeMsg
	if len(msg) > 123 {
		msg = msg[:123]
	}
	_ = p.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(int(p.closeCode), msg),
		time.Now().Add(p.s.cfg.WriteTimeout))
	select {
	case <-p.readerDone:
	case <-time.After(p.s.cfg.WriteTimeout):
	}
	_ = p.conn.Close()
}

// abandon closes a connection that cannot be written to.
func (p *peer) abandon() {
	p.closeWith(transport.CloseGoingAway, "write failed", true)
	_ = p.conn.Close()
}
