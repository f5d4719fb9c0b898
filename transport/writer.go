package transport

import (
	"sync"
	"sync/atomic"
	"time"
)

// Writer is a peer's writer goroutine on demand, shared by the transports
// on a wire: a push that finds no writer running starts one (Start), and
// the writer (Run) flushes the queue batch after batch under Mu until it is
// empty, then ends; an idle peer holds no writer goroutine.
//
// Mu keeps batches in order against the peer's other writes (control
// frames, the last flush on close); Failed and the write deadline are under
// it.
type Writer struct {
	writing  atomic.Bool // a writer goroutine is running or starting
	Mu       sync.Mutex  // held while a batch (or a control frame) is written
	Failed   bool        // under Mu: a write failed, the connection is abandoned
	deadline time.Time   // under Mu: the write deadline set on the connection
}

// Start reports whether the caller, which has just pushed to the queue,
// must start the writer goroutine (go Run): none runs.
func (w *Writer) Start() bool { return w.writing.CompareAndSwap(false, true) }

// Flusher is the peer a Writer writes for (an interface, not two func
// values: a writer starts once per burst, and bound method values would
// allocate each time).
type Flusher interface {
	// Flush writes what the queue holds; called under Mu.
	Flush() error
	// WriteFailed abandons the connection after a failed Flush; called
	// without Mu.
	WriteFailed(err error)
}

// Run writes what q holds with f.Flush until q is empty, then ends; after
// a failed flush it marks Failed, calls f.WriteFailed, and ends.
func (w *Writer) Run(q *Queue, f Flusher) {
	for {
		w.Mu.Lock()
		if !w.Failed {
			if err := f.Flush(); err != nil {
				w.Failed = true
				w.Mu.Unlock()
				f.WriteFailed(err)
				return
			}
		}
		w.Mu.Unlock()
		w.writing.Store(false)
		// A push between the flush and the Store saw a writer running and
		// did not start one: take over its items.
		if q.Len() == 0 || !w.Start() {
			return
		}
	}
}

// ExtendDeadline gives the write about to start on c (a connection, or
// gorilla's Conn) at least timeout to
// complete (at most 1.5 times that): the deadline is moved only when less
// than timeout is left, since each move re-arms the poller's timer (5% of
// router CPU in a fan-out, pprof). The caller holds Mu.
func (w *Writer) ExtendDeadline(c interface{ SetWriteDeadline(time.Time) error }, timeout time.Duration) {
	now := time.Now()
	if w.deadline.Sub(now) < timeout {
		w.deadline = now.Add(timeout + timeout/2)
		_ = c.SetWriteDeadline(w.deadline)
	}
}
