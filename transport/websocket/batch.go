package websocket

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/junction-wamp/junction/transport"
)

// Write coalescing.
//
// gorilla/websocket writes every message with its own call to the
// connection's Write: one syscall per frame. Under load a peer's writer
// takes many queued frames at once, and writing them one syscall each is
// where most of the router's CPU went (pprof: ~45% in write syscalls for
// rpc C=8 W=4). batchConn sits between gorilla and the hijacked net.Conn:
// between begin and end it gathers gorilla's writes and end hands them to
// the kernel in one write (writev). Outside a batch (handshake, pings,
// pongs, the close frame) writes go straight through.
//
// A write of bytes that stay as they are until end (a shared frame's
// prepared bytes, a write of bigWrite or more) is gathered by reference;
// the others (gorilla's own write buffer, which it reuses) are copied into a
// buffer borrowed from a pool for the length of the batch. A writer stuck
// on a peer that stopped reading therefore holds no copy of the frames it
// is writing, only references to them: thousands of stalled subscribers
// of a fan-out used to hold a 16 to 80 KiB buffer each (pprof: 720 MB for
// 10,000). Over TLS there is no writev, and everything is copied.

// batchMax is how much a batch gathers before it writes: large enough to
// carry many small frames per syscall, small enough to stay in cache.
const batchMax = 64 << 10

// batchIovecs bounds the slices gathered for one writev.
const batchIovecs = 128

// bigWrite is the size from which a write is not copied but gathered by
// reference, even over TLS.
const bigWrite = 16 << 10

// copyMax is the size of the copy buffer: copies never grow it.
const copyMax = 16 << 10

var (
	copyBufs = sync.Pool{New: func() any { b := make([]byte, 0, copyMax); return &b }}
	iovecs   = sync.Pool{New: func() any { v := make(net.Buffers, 0, batchIovecs); return &v }}
)

type batchConn struct {
	net.Conn
	wv     net.Conn // where gathered writes go: the TCP connection, or Conn
	writev bool     // wv gathers slices in one syscall: frames go by reference

	mu       sync.Mutex // gorilla's writer and its pong handler may both write
	batching bool
	borrow   bool         // the writes now are of bytes that stay as they are: gather them by reference
	bufs     *net.Buffers // gathered: references, and slices of buf
	size     int          // bytes gathered
	buf      *[]byte      // copies
	copyLast bool         // the last slice of bufs is the tail of buf
	err      error        // first write error in the current batch

	dmu      sync.Mutex // orders deadline changes; never held during a write
	deadline time.Time  // the latest write deadline set
}

func newBatchConn(c net.Conn) *batchConn {
	bc := &batchConn{Conn: c, wv: c}
	if tc := transport.TCPConn(c); tc != nil {
		bc.wv, bc.writev = tc, true
	}
	return bc
}

// SetWriteDeadline moves the write deadline later, never earlier. gorilla
// sets it before every frame: data frames to the peer's deadline, and the
// pong and close replies of the read goroutine to one second ahead, which
// would cut short a data write in progress or about to start. It is only
// passed on when it moves: each move re-arms the poller's timer.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if !t.After(c.deadline) {
		return nil
	}
	c.deadline = t
	return c.Conn.SetWriteDeadline(t)
}

// begin starts gathering writes.
func (c *batchConn) begin() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

// lend tells the batch whether the writes that follow are of bytes that
// stay as they are until the batch ends (a prepared frame's).
func (c *batchConn) lend(borrow bool) {
	c.mu.Lock()
	c.borrow = borrow
	c.mu.Unlock()
}

// end writes what the batch gathered and stops gathering. It returns the
// first write error of the batch.
func (c *batchConn) end() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching, c.borrow = false, false
	err := c.flushLocked()
	c.err = nil
	if c.buf != nil {
		*c.buf = (*c.buf)[:0]
		copyBufs.Put(c.buf)
		c.buf = nil
	}
	if c.bufs != nil {
		iovecs.Put(c.bufs)
		c.bufs = nil
	}
	return err
}

// flushLocked writes what is gathered, in one writev where the connection
// has it.
func (c *batchConn) flushLocked() error {
	if c.err == nil && c.size > 0 {
		v := *c.bufs // WriteTo consumes v, not the array
		if len(v) == 1 {
			_, c.err = c.wv.Write(v[0])
		} else {
			_, c.err = v.WriteTo(c.wv)
		}
	}
	if c.bufs != nil {
		clear(*c.bufs)
		*c.bufs = (*c.bufs)[:0]
	}
	if c.buf != nil {
		*c.buf = (*c.buf)[:0]
	}
	c.size, c.copyLast = 0, false
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
	byRef := len(p) >= bigWrite || (c.borrow && c.writev)
	if c.bufs == nil {
		c.bufs = iovecs.Get().(*net.Buffers)
	}
	if c.size+len(p) > batchMax || len(*c.bufs) == batchIovecs || (!byRef && c.buf != nil && len(*c.buf)+len(p) > copyMax) {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	if byRef {
		*c.bufs = append(*c.bufs, p)
		c.copyLast = false
	} else {
		c.gatherCopy(p)
	}
	c.size += len(p)
	return len(p), nil
}

// gatherCopy copies p into the copy buffer, which has room for it: Write
// flushed it if not, and p is smaller than bigWrite, the buffer's size.
func (c *batchConn) gatherCopy(p []byte) {
	if c.buf == nil {
		c.buf = copyBufs.Get().(*[]byte)
	}
	start := len(*c.buf)
	*c.buf = append(*c.buf, p...)
	v := *c.bufs
	if c.copyLast { // the last slice gathered ends where p was copied: extend it
		v[len(v)-1] = (*c.buf)[start-len(v[len(v)-1]) : len(*c.buf)]
		return
	}
	*c.bufs = append(v, (*c.buf)[start:])
	c.copyLast = true
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
	h.conn = newBatchConn(conn)
	return h.conn, brw, nil
}
