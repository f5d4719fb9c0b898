package websocket

import (
	"net"
	"sync"

	nbws "github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/junction-wamp/junction/transport"
)

// Framing on the nbio engine.
//
// nbio frames (and deflates) a message as it writes it to its connection,
// one write per message. The engine's writer instead frames a whole batch
// first, through a framer: an nbio Conn of the engine whose "connection"
// only appends what it is given to a buffer, then hands the batch to the
// real connection in one write. A server's frames are not masked, so a
// shared fan-out frame is framed, and deflated, once for all the
// connections that write it (its cached form, as gorilla's PreparedMessage
// is), and copied into each batch.
//
// Not writev: nbio v1.6.8's Conn.Writev loses the slices after the one a
// partial write ends in, and all of them when the socket is full (EAGAIN):
// TestStalledSubscribers on this engine lost events with it.

// Cache keys of the nbio engine's forms of a shared frame: plain, and
// deflated for connections that negotiated permessage-deflate.
var (
	nbPlainKey   = transport.NewCacheKey("websocket.nbio.frame")
	nbDeflateKey = transport.NewCacheKey("websocket.nbio.deflated")
)

// frameSink is the framer's connection: it keeps what nbio writes.
type frameSink struct {
	net.Conn // nil: nbio only writes to it
	buf      []byte
}

func (s *frameSink) Write(b []byte) (int, error) {
	s.buf = append(s.buf, b...)
	return len(b), nil
}

// framer frames a batch into its sink's buffer.
type framer struct {
	pool    *sync.Pool
	deflate bool
	sink    frameSink
	c       *nbws.Conn
	e       *nbEngine
}

// newFramers returns the engine's framer pools, plain and deflating.
func (e *nbEngine) newFramers() {
	for i, compress := range []bool{false, true} {
		pool := &e.framers[i]
		pool.New = func() any {
			f := &framer{pool: pool, e: e, deflate: compress}
			f.c = nbws.NewServerConn(&e.tmpl, &f.sink, "", compress, false)
			f.c.EnableWriteCompression(compress)
			return f
		}
	}
}

// getFramer takes a framer from the pool.
func (e *nbEngine) getFramer(compress bool) *framer {
	i := 0
	if compress {
		i = 1
	}
	return e.framers[i].Get().(*framer)
}

// release returns the framer to its pool, emptied; big buffers are dropped.
func (f *framer) release() {
	f.sink.buf = f.sink.buf[:0]
	if cap(f.sink.buf) > 64<<10 {
		f.sink.buf = nil
	}
	f.pool.Put(f)
}

func msgType(binary bool) nbws.MessageType {
	if binary {
		return nbws.BinaryMessage
	}
	return nbws.TextMessage
}

// add frames one queued item onto the batch.
func (f *framer) add(it transport.Item, binary bool) error {
	if it.Frame != nil && it.Frame.Own { // one recipient: no shared form
		return f.c.WriteMessage(msgType(it.Frame.Binary), it.Frame.Data)
	}
	if it.Frame != nil {
		b, err := f.e.framed(it.Frame, f.deflate)
		if err != nil {
			return err
		}
		f.sink.buf = append(f.sink.buf, b...)
		return nil
	}
	return f.c.WriteMessage(msgType(binary), it.Data)
}

// bytes returns the batch, framed.
func (f *framer) bytes() []byte { return f.sink.buf }

// framed returns the frame's bytes on the wire, framed (and deflated) once
// per frame.
func (e *nbEngine) framed(fr *transport.Frame, compress bool) ([]byte, error) {
	key, build := nbPlainKey, e.buildPlain
	if compress {
		key, build = nbDeflateKey, e.buildDeflated
	}
	v, err := fr.Cached(key, build)
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

func (e *nbEngine) buildPlain(fr *transport.Frame) (any, error) { return e.build(fr, false) }
func (e *nbEngine) buildDeflated(fr *transport.Frame) (any, error) {
	e.deflated.Add(1)
	return e.build(fr, true)
}

func (e *nbEngine) build(fr *transport.Frame, compress bool) (any, error) {
	f := e.getFramer(compress)
	defer f.release()
	if err := f.c.WriteMessage(msgType(fr.Binary), fr.Data); err != nil {
		return nil, err
	}
	return append([]byte(nil), f.sink.buf...), nil
}
