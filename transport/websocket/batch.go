package websocket

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
)

// Write coalescing.
//
// gorilla/websocket writes every message with its own call to the
// connection's Write: one syscall per frame. Under load a peer's writer
// takes many queued frames at once, and writing them one syscall each is
// where most of the router's CPU went (pprof: ~45% in write syscalls for
// rpc C=8 W=4). batchConn sits between gorilla and the hijacked net.Conn:
// between begin and end it gathers gorilla's writes in a pooled buffer and
// end hands them to the kernel in one write. Outside a batch (handshake,
// pings, pongs, the close frame) writes go straight through.
//
// The buffer is borrowed from a pool for the length of one batch, so an
// idle connection holds none.

// batchMax is how much a batch gathers before it writes: large enough to
// carry many small frames per syscall, small enough to stay in cache.
const batchMax = 64 << 10

// bigWrite is the size from which a write is not copied into the batch
// buffer but written after it with writev (net.Buffers).
const bigWrite = 16 << 10

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

type batchConn struct {
	net.Conn

	mu       sync.Mutex // gorilla's writer and its pong handler may both write
	batching bool
	buf      *[]byte
	err      error // first write error in the current batch
}

// begin starts gathering writes.
func (c *batchConn) begin() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

// end writes what the batch gathered and stops gathering. It returns the
// first write error of the batch.
func (c *batchConn) end() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching = false
	err := c.flushLocked()
	c.err = nil
	if c.buf != nil {
		if cap(*c.buf) <= 4*batchMax {
			*c.buf = (*c.buf)[:0]
			batchPool.Put(c.buf)
		}
		c.buf = nil
	}
	return err
}

func (c *batchConn) flushLocked() error {
	if c.err == nil && c.buf != nil && len(*c.buf) > 0 {
		_, c.err = c.Conn.Write(*c.buf)
		*c.buf = (*c.buf)[:0]
	}
	return c.err
}

// Write gathers p during a batch and writes it through otherwise. In a
// batch it reports success and leaves errors to end; gorilla learns of
// them from the next write.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.batching {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	if c.err != nil {
		return 0, c.err
	}
	if len(p) >= bigWrite {
		bufs := net.Buffers{p}
		if c.buf != nil && len(*c.buf) > 0 {
			bufs = net.Buffers{*c.buf, p}
		}
		// net.Buffers consumes its slices; the batch buffer is emptied below.
		_, c.err = bufs.WriteTo(c.Conn)
		if c.buf != nil {
			*c.buf = (*c.buf)[:0]
		}
		if c.err != nil {
			return 0, c.err
		}
		return len(p), nil
	}
	if c.buf == nil {
		c.buf = batchPool.Get().(*[]byte)
	}
	if len(*c.buf)+len(p) > batchMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// hijacker hands gorilla a batchConn in place of the hijacked connection.
type hijacker struct {
	http.ResponseWriter
	conn *batchConn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("websocket: response does not implement http.Hijacker")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &batchConn{Conn: conn}
	return h.conn, brw, nil
}
