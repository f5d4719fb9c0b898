package transport

import (
	"fmt"
	"sync"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// Item is one queued outbound message: bytes encoded for this peer alone, a
// Frame shared by the recipients of a fan-out, or (for a transport that
// hands messages over without encoding them, transport/local) a message
// value, Msg, counted as MsgSize bytes.
type Item struct {
	Data    []byte
	Frame   *Frame
	Msg     wamp.Message
	MsgSize int
}

// Size is the item's size in bytes.
func (it Item) Size() int {
	switch {
	case it.Frame != nil:
		return len(it.Frame.Data)
	case it.Msg != nil:
		return it.MsgSize
	}
	return len(it.Data)
}

// QueueLimits bound a Queue.
type QueueLimits struct {
	Messages    int           // bound in messages
	Bytes       int           // bound in bytes
	SlowTimeout time.Duration // how long the queue may stay over its bound, or its writer stuck
}

// stallWatch is how many messages must wait for a write in progress (in it
// or behind it) before the queue watches that write for a stall: below it
// a stuck write costs little, and the write deadline ends it; a healthy
// writer rarely has that many, so most of its flushes arm no timer.
const stallWatch = 8

// watch is what a queue's timer is armed for.
type watch uint8

const (
	watchNone  watch = iota
	watchOver        // the queue is over its bound
	watchStall       // messages wait behind a write that does not complete
)

// Queue is a peer's outbound queue: many producers (any session's goroutine),
// one consumer (the peer's writer). Push never blocks and never drops.
//
// The bound counts what is pending: queued, or taken by the writer and not yet
// written. A writer stuck on a full socket therefore still counts; what it
// has written of its batch does not. The queue closes as a slow consumer, and
// calls onSlow with the reason:
//   - when it reaches twice its bound, at once;
//   - when it has been over its bound for SlowTimeout and is at its deepest
//     of that time: a peer that drains a burst at its own pace is left to,
//     one that only falls further behind is not;
//   - when messages have waited for SlowTimeout behind a write during which
//     not one message went out: a peer that stopped reading, whose socket is
//     full, however little it was sent.
//
// Closing that way drops what is queued at once, so a stalled peer holds
// nothing beyond the write in progress.
//
// Items are kept in fixed-size chunks taken from a pool and handed to the
// writer whole: a queue never copies its items to grow, and an empty one
// holds no chunk.
type Queue struct {
	limits QueueLimits
	onSlow func(reason string)

	mu          sync.Mutex
	head, tail  *chunk // queued items, oldest first
	queued      int    // items queued, not yet taken
	queuedBytes int
	msgs, bytes int      // queued, or taken and not reported written
	flushing    bool     // a batch is taken and not reported
	wrote       progress // written by the writer, reported or not
	reported    [2]uint64
	watch       watch
	peak        [2]int    // the most pending since armed
	watchWrote  uint64    // wrote.msgs when armed
	due         time.Time // when the armed timer fires
	timer       *time.Timer
	closed      bool
	high        [2]int // the most ever pending
}

// NewQueue returns an empty queue. onSlow is called at most once, without
// the queue's lock held.
func NewQueue(limits QueueLimits, onSlow func(reason string)) *Queue {
	return &Queue{limits: limits, onSlow: onSlow}
}

// Len is the number of items queued and not yet taken.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queued
}

// Pending returns the messages and bytes pending: queued, or taken by the
// writer and not yet written.
func (q *Queue) Pending() (msgs, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := q.pending()
	return p[0], p[1]
}

// pending is what is queued or taken and not yet written, in messages and
// bytes. The caller holds mu.
func (q *Queue) pending() [2]int {
	return [2]int{
		q.msgs - int(q.wrote.msgs.Load()-q.reported[0]),
		q.bytes - int(q.wrote.bytes.Load()-q.reported[1]),
	}
}

// Push queues it. It returns ErrClosed after Close, and ErrSlowConsumer when
// this push took the queue to twice its bound (the queue is then closed and
// what it held dropped).
func (q *Queue) Push(it Item) error {
	size := it.Size()
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.append(it)
	q.queued++
	q.queuedBytes += size
	q.msgs++
	q.bytes += size
	p := q.pending()
	q.high = [2]int{max(q.high[0], p[0]), max(q.high[1], p[1])}
	var reason string
	switch {
	case p[0] >= 2*q.limits.Messages || p[1] >= 2*q.limits.Bytes:
		reason = fmt.Sprintf("slow consumer: outbound queue reached twice its bound (%d messages / %d bytes pending, bound %d / %d)",
			p[0], p[1], q.limits.Messages, q.limits.Bytes)
		q.discardLocked()
	case q.watch == watchNone:
		q.watchFor(p)
	default:
		q.peak = [2]int{max(q.peak[0], p[0]), max(q.peak[1], p[1])}
	}
	q.mu.Unlock()
	if reason != "" {
		q.onSlow(reason)
		return ErrSlowConsumer
	}
	return nil
}

func (q *Queue) append(it Item) {
	if q.tail == nil || q.tail.n == chunkLen {
		c := chunks.Get().(*chunk)
		if q.tail == nil {
			q.head = c
		} else {
			q.tail.next = c
		}
		q.tail = c
	}
	q.tail.add(it)
}

func (q *Queue) over(p [2]int) bool { return p[0] > q.limits.Messages || p[1] > q.limits.Bytes }

// watchFor arms the timer if the queue, pending p, is over its bound, or if
// messages wait for a write in progress (in it or behind it). The caller
// holds mu; the timer is not armed.
func (q *Queue) watchFor(p [2]int) {
	switch {
	case q.over(p):
		q.arm(watchOver, p)
	case q.flushing && p[0] >= min(stallWatch, q.limits.Messages):
		q.arm(watchStall, p)
	}
}

// arm starts the timer for w. The caller holds mu.
func (q *Queue) arm(w watch, p [2]int) {
	q.watch, q.peak, q.watchWrote = w, p, q.wrote.msgs.Load()
	q.due = time.Now().Add(q.limits.SlowTimeout)
	if q.timer == nil {
		q.timer = time.AfterFunc(q.limits.SlowTimeout, q.expire)
	} else {
		q.timer.Reset(q.limits.SlowTimeout)
	}
}

// disarm stops the timer. The caller holds mu.
func (q *Queue) disarm() {
	if q.watch != watchNone {
		q.watch = watchNone
		q.timer.Stop()
	}
}

// expire runs when the timer fires: the queue is closed if what it was
// armed for still holds; if not, it watches for what holds now.
func (q *Queue) expire() {
	q.mu.Lock()
	if q.closed || q.watch == watchNone || time.Now().Before(q.due) { // disarmed, or armed again since
		q.mu.Unlock()
		return
	}
	p := q.pending()
	var reason string
	switch {
	case q.watch == watchStall && q.flushing && q.wrote.msgs.Load() == q.watchWrote:
		reason = fmt.Sprintf("slow consumer: not one message written for %s (%d messages / %d bytes pending)",
			q.limits.SlowTimeout, p[0], p[1])
	case q.watch == watchOver && q.over(p) && p[0] >= q.peak[0] && p[1] >= q.peak[1]:
		reason = fmt.Sprintf("slow consumer: outbound queue over its bound (%d messages / %d bytes) for %s, not draining (%d messages / %d bytes pending)",
			q.limits.Messages, q.limits.Bytes, q.limits.SlowTimeout, p[0], p[1])
	default:
		q.watch = watchNone
		q.watchFor(p)
		q.mu.Unlock()
		return
	}
	q.discardLocked()
	q.mu.Unlock()
	q.onSlow(reason)
}

// Take hands the writer every queued item. They count against the bound
// until written.
func (q *Queue) Take() Batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := Batch{head: q.head, n: q.queued, bytes: q.queuedBytes, wrote: &q.wrote}
	q.head, q.tail, q.queued, q.queuedBytes = nil, nil, 0, 0
	q.flushing = b.n > 0
	if q.watch == watchNone {
		q.watchFor(q.pending())
	}
	return b
}

// Written reports that the writer is done with batch b: written, or the
// connection failed.
func (q *Queue) Written(b *Batch) {
	q.mu.Lock()
	q.msgs -= b.n
	q.bytes -= b.bytes
	q.reported = [2]uint64{q.wrote.msgs.Load(), q.wrote.bytes.Load()}
	q.flushing = false
	if !q.over(q.pending()) {
		q.disarm()
	}
	q.mu.Unlock()
}

// Close makes further pushes fail with ErrClosed. Items already queued stay
// for the writer to flush.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.disarm()
	q.mu.Unlock()
}

// Discard closes the queue and drops what is queued; a batch the writer
// holds stays pending until written.
func (q *Queue) Discard() {
	q.mu.Lock()
	q.discardLocked()
	q.mu.Unlock()
}

func (q *Queue) discardLocked() {
	q.closed = true
	q.disarm()
	b := Batch{head: q.head}
	b.Release()
	q.msgs -= q.queued
	q.bytes -= q.queuedBytes
	q.head, q.tail, q.queued, q.queuedBytes = nil, nil, 0, 0
}

// HighWater returns the largest number of messages and bytes ever pending.
func (q *Queue) HighWater() (msgs, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.high[0], q.high[1]
}
