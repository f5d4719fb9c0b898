package clientlib

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// frameKind is what the write pump sends for a frame.
type frameKind uint8

const (
	frameMessage frameKind = iota // an encoded WAMP message
	framePing                     // a keepalive ping (WebSocket or RawSocket)
	frameLeave                    // the closing handshake after GOODBYE
)

// Frame states: a frame whose sender gave up while it waited is dropped.
const (
	frameQueued int32 = iota
	frameTaken
	frameAbandoned
)

// outFrame is one frame on its way to the write pump.
type outFrame struct {
	kind  frameKind
	data  any // from conn.encode
	size  int
	state atomic.Int32
	done  chan error // the pump's result, buffered
}

// writer is a connection's write pump: the only goroutine that writes to
// it. Senders queue frames (bounded in frames and bytes: a full queue makes
// them wait, within their context) and wait for the result within their
// context; no lock is held across a network write, and each write is bounded
// by timeout: one that takes longer closes the connection.
type writer struct {
	conn    conn
	timeout time.Duration
	q       chan *outFrame

	mu      sync.Mutex
	used    int           // bytes queued
	max     int           // bound on used
	room    chan struct{} // closed when bytes are released
	stopped chan struct{} // closed when the pump has ended
	err     error         // why it ended, set before stopped is closed
	quit    chan struct{} // closed by stop
	once    sync.Once
	// waiting counts the senders waiting for room in the queue (its
	// bound reached), for the tests.
	waiting atomic.Int32
}

// notSent wraps the error of a frame that was certainly not sent.
type notSent struct{ error }

func (e notSent) Unwrap() error { return e.error }

// errWriterStopped is the pump's end when the connection ended otherwise.
var errWriterStopped = errors.New("clientlib: connection ended")

func newWriter(cn conn, opts Options) *writer {
	w := &writer{
		conn: cn, timeout: opts.WriteTimeout,
		q:   make(chan *outFrame, opts.WriteQueue),
		max: opts.WriteQueueBytes, room: make(chan struct{}),
		stopped: make(chan struct{}), quit: make(chan struct{}),
	}
	go w.run()
	return w
}

// stop ends the pump (the connection has ended).
func (w *writer) stop() { w.once.Do(func() { close(w.quit) }) }

// send queues a frame and waits until it is written, within ctx. When ctx
// ends first, a frame not yet taken by the pump is never sent; one being
// written may have been.
func (w *writer) send(ctx context.Context, kind frameKind, data any, size int) error {
	f := &outFrame{kind: kind, data: data, size: size, done: make(chan error, 1)}
	if err := w.enqueue(ctx, f); err != nil {
		return notSent{err}
	}
	select {
	case err := <-f.done:
		return err
	case <-ctx.Done():
		select {
		case err := <-f.done: // written just as ctx ended: it went out
			return err
		default:
		}
		if f.state.CompareAndSwap(frameQueued, frameAbandoned) {
			return notSent{ctx.Err()}
		}
		return ctx.Err() // being written: it may go out
	case <-w.stopped:
		select {
		case err := <-f.done:
			return err
		default:
			return w.err
		}
	}
}

func (w *writer) enqueue(ctx context.Context, f *outFrame) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.acquire(ctx, f.size); err != nil {
		return err
	}
	select {
	case w.q <- f:
		return nil
	default:
	}
	w.waiting.Add(1)
	defer w.waiting.Add(-1)
	select {
	case w.q <- f:
		return nil
	case <-ctx.Done():
		w.release(f.size)
		return ctx.Err()
	case <-w.stopped:
		w.release(f.size)
		return w.err
	}
}

// acquire waits until size bytes fit the queue's bound (a frame larger
// than the bound goes alone).
func (w *writer) acquire(ctx context.Context, size int) error {
	for {
		w.mu.Lock()
		if w.used == 0 || w.used+size <= w.max {
			w.used += size
			w.mu.Unlock()
			return nil
		}
		room := w.room
		w.mu.Unlock()
		if err := w.waitRoom(ctx, room); err != nil {
			return err
		}
	}
}

func (w *writer) waitRoom(ctx context.Context, room chan struct{}) error {
	w.waiting.Add(1)
	defer w.waiting.Add(-1)
	select {
	case <-room:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-w.stopped:
		return w.err
	}
}

func (w *writer) release(size int) {
	w.mu.Lock()
	w.used -= size
	close(w.room)
	w.room = make(chan struct{})
	w.mu.Unlock()
}

func (w *writer) run() {
	for {
		select {
		case f := <-w.q:
			w.release(f.size)
			if !f.state.CompareAndSwap(frameQueued, frameTaken) {
				continue
			}
			err := w.write(f)
			f.done <- err
			if err != nil {
				w.end(err)
				return
			}
		case <-w.quit:
			w.end(errWriterStopped)
			return
		}
	}
}

// write sends f within the write timeout. The deadline bounds the network
// write; the timer closes the connection if anything else holds it up (a
// lock of the transport's), so that the pump always goes on.
func (w *writer) write(f *outFrame) error {
	deadline := time.Now().Add(w.timeout)
	guard := time.AfterFunc(w.timeout+w.timeout/2, w.conn.close)
	defer guard.Stop()
	var err error
	switch f.kind {
	case frameMessage:
		err = w.conn.send(f.data, deadline)
	case framePing:
		err = w.conn.ping(deadline)
	case frameLeave:
		w.conn.leave(deadline)
	}
	if err != nil {
		return &writeError{err}
	}
	return nil
}

// end records why the pump ended and closes the connection: a connection
// that cannot be written to is done for, and its read loop ends with it.
func (w *writer) end(err error) {
	w.err = err
	close(w.stopped)
	w.conn.close()
}
