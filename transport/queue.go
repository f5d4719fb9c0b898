package transport

import (
	"fmt"
	"sync"
	"time"
)

// Item is one queued outbound message: bytes encoded for this peer alone, or a
// Frame shared by the recipients of a fan-out.
type Item struct {
	Data  []byte
	Frame *Frame
}

// Size is the item's size in bytes.
func (it Item) Size() int {
	if it.Frame != nil {
		return len(it.Frame.Data)
	}
	return len(it.Data)
}

// QueueLimits bound a Queue.
type QueueLimits struct {
	Messages    int           // bound in messages
	Bytes       int           // bound in bytes
	SlowTimeout time.Duration // how long the queue may stay over its bound
}

// Queue is a peer's outbound queue: many producers (any session's goroutine),
// one consumer (the peer's writer). Push never blocks and never drops: past
// the bound it keeps queueing and starts a timer; if the queue is still over
// its bound when the timer fires, or reaches twice its bound, the queue closes
// and calls onSlow with the reason, and the peer is expected to disconnect.
//
// The bound counts what is pending: queued, or taken by the writer and not yet
// reported written. A writer stuck on a full socket therefore still counts.
type Queue struct {
	limits QueueLimits
	onSlow func(reason string)

	mu      sync.Mutex
	items   []Item
	msgs    int // pending messages
	bytes   int // pending bytes
	timer   *time.Timer
	closed  bool
	maxMsgs int // high-water marks
	maxByte int
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
	return len(q.items)
}

// Push queues it. It returns ErrClosed after Close, and ErrSlowConsumer when
// this push took the queue to twice its bound (the queue is then closed).
func (q *Queue) Push(it Item) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.items = append(q.items, it)
	q.msgs++
	q.bytes += it.Size()
	q.maxMsgs = max(q.maxMsgs, q.msgs)
	q.maxByte = max(q.maxByte, q.bytes)
	var reason string
	switch {
	case q.msgs >= 2*q.limits.Messages || q.bytes >= 2*q.limits.Bytes:
		q.closed = true
		q.stopTimer()
		reason = fmt.Sprintf("slow consumer: outbound queue reached twice its bound (%d messages / %d bytes pending, bound %d / %d)",
			q.msgs, q.bytes, q.limits.Messages, q.limits.Bytes)
	case q.over() && q.timer == nil:
		q.timer = time.AfterFunc(q.limits.SlowTimeout, q.expire)
	}
	q.mu.Unlock()
	if reason != "" {
		q.onSlow(reason)
		return ErrSlowConsumer
	}
	return nil
}

func (q *Queue) over() bool { return q.msgs > q.limits.Messages || q.bytes > q.limits.Bytes }

func (q *Queue) stopTimer() {
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
}

// expire runs when the queue has been over its bound for SlowTimeout.
func (q *Queue) expire() {
	q.mu.Lock()
	q.timer = nil
	if q.closed || !q.over() {
		q.mu.Unlock()
		return
	}
	q.closed = true
	reason := fmt.Sprintf("slow consumer: outbound queue over its bound (%d messages / %d bytes) for %s",
		q.limits.Messages, q.limits.Bytes, q.limits.SlowTimeout)
	q.mu.Unlock()
	q.onSlow(reason)
}

// Take moves every queued item into buf (which it returns) for the writer.
// The items still count against the bound until Written reports them.
func (q *Queue) Take(buf []Item) []Item {
	q.mu.Lock()
	buf = append(buf, q.items...)
	clear(q.items)
	q.items = q.items[:0]
	q.mu.Unlock()
	return buf
}

// Written reports that the writer wrote n messages of size bytes.
func (q *Queue) Written(n, size int) {
	q.mu.Lock()
	q.msgs -= n
	q.bytes -= size
	if !q.over() {
		q.stopTimer()
	}
	q.mu.Unlock()
}

// Close makes further pushes fail with ErrClosed. Items already queued stay
// for the writer to flush.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.stopTimer()
	q.mu.Unlock()
}

// HighWater returns the largest number of messages and bytes ever pending.
func (q *Queue) HighWater() (msgs, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.maxMsgs, q.maxByte
}
