package webhook

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/clientlib"
)

// subscriber is a running subscriber webhook. The session's event handler
// (enqueue) encodes each event and queues it without blocking; Concurrency
// workers deliver the queue (one: in order).
type subscriber struct {
	s   *Set
	cfg SubscriberConfig
	st  *stats

	mu     sync.Mutex // guards closed and the queue's byte count with sends to queue
	closed bool
	queue  chan []byte

	ctx      context.Context // deliveries; cancelled when the drain's time is up
	cancel   context.CancelFunc
	stopping chan struct{} // closed once nothing more is queued
	done     chan struct{} // closed when every worker returned
	lost     atomic.Int64  // events the end of the drain left undelivered
}

func (s *Set) startSubscriber(ctx context.Context, cfg SubscriberConfig, st *stats) (func(context.Context), error) {
	sub := &subscriber{s: s, cfg: cfg, st: st, queue: make(chan []byte, cfg.QueueMessages),
		stopping: make(chan struct{}), done: make(chan struct{})}
	sub.ctx, sub.cancel = context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(sub.work)
	}
	go func() {
		wg.Wait()
		if n := sub.lost.Load(); n > 0 {
			s.log.Warn("webhook stopped before delivering its queue: events dropped", "webhook", cfg.Name, "dropped", n)
		}
		close(sub.done)
	}()
	sess, err := s.startSession(ctx, cfg.Name, cfg.Session, st, sub.attach)
	if err != nil {
		sub.cancel()
		sub.close()
		<-sub.done
		return nil, err
	}
	return func(ctx context.Context) { sub.stop(ctx, sess) }, nil
}

func (sub *subscriber) attach(ctx context.Context, c *clientlib.Client) error {
	_, err := c.Subscribe(ctx, sub.cfg.Topic, sub.enqueue, &clientlib.SubscribeOptions{Match: sub.cfg.Match})
	return err
}

// enqueue queues an event's request body, or drops it, counted and
// logged, when the queue is full. It never blocks: the session reads on.
func (sub *subscriber) enqueue(ev *clientlib.Event) {
	body, err := encodeEvent(ev)
	if err != nil {
		sub.st.dropped[dropUnconvertible].Add(1)
		sub.s.warnf(sub.cfg.Name, "unconvertible", "webhook event dropped: not convertible to JSON",
			"topic", ev.Topic, "publication", uint64(ev.Publication), "error", err)
		return
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		sub.st.dropped[dropShutdown].Add(1)
		return
	}
	if sub.st.queuedBytes.Load()+int64(len(body)) > int64(sub.cfg.QueueBytes) {
		sub.overflow(ev, "queue_bytes")
		return
	}
	select {
	case sub.queue <- body:
		sub.st.queued.Add(1)
		sub.st.queuedBytes.Add(int64(len(body)))
	default:
		sub.overflow(ev, "queue_messages")
	}
}

func (sub *subscriber) overflow(ev *clientlib.Event, bound string) {
	sub.st.dropped[dropQueueFull].Add(1)
	sub.s.warnf(sub.cfg.Name, "overflow", "webhook queue full: event dropped", "bound", bound,
		"topic", ev.Topic, "publication", uint64(ev.Publication), "queued", sub.st.queued.Load())
}

// close stops queueing: events from now on are dropped as shutdown.
func (sub *subscriber) close() {
	sub.mu.Lock()
	sub.closed = true
	sub.mu.Unlock()
	close(sub.stopping)
}

// stop leaves the realm, then waits for the queue to be delivered until
// ctx ends, when what is left is dropped.
func (sub *subscriber) stop(ctx context.Context, sess *session) {
	sess.stop(ctx)
	sub.close()
	defer context.AfterFunc(ctx, sub.cancel)()
	<-sub.done
	sub.cancel()
}

// work delivers the queue until stopping, then what is left. With one
// worker (Concurrency 1) events are delivered in order.
func (sub *subscriber) work() {
	deliver := func(body []byte) {
		if sub.deliver(body) == outShutdown {
			sub.lost.Add(1)
		}
	}
	for {
		select {
		case body := <-sub.queue:
			deliver(body)
			continue
		case <-sub.stopping:
		}
		for {
			select {
			case body := <-sub.queue:
				deliver(body)
				continue
			default:
			}
			return
		}
	}
}

// Outcomes of a delivery.
const (
	outDelivered = iota // 2xx
	outRejected         // a status retrying cannot change (4xx but 408 and 429, 3xx...): given up
	outFailed           // retries exhausted: given up
	outShutdown         // not delivered before the drain's end
)

// deliver POSTs body, retrying with backoff, and counts the outcome.
func (sub *subscriber) deliver(body []byte) int {
	sub.st.queued.Add(-1)
	sub.st.queuedBytes.Add(-int64(len(body)))
	out, status, err := sub.attempts(body)
	switch out {
	case outDelivered:
		sub.st.deliveries[outDelivered].Add(1)
	case outRejected:
		sub.st.deliveries[outRejected].Add(1)
		sub.s.warnf(sub.cfg.Name, "rejected", "webhook delivery rejected by the endpoint: given up", "status", status)
	case outFailed:
		sub.st.deliveries[outFailed].Add(1)
		sub.s.warnf(sub.cfg.Name, "failed", "webhook delivery failed: given up after retries",
			"retries", *sub.cfg.Retries, "status", status, "error", err)
	case outShutdown:
		sub.st.dropped[dropShutdown].Add(1)
	}
	return out
}

func (sub *subscriber) attempts(body []byte) (out, status int, err error) {
	for n := 0; ; n++ {
		if sub.ctx.Err() != nil {
			return outShutdown, status, err
		}
		var resp response
		resp, err = post(sub.ctx, sub.s.hc, sub.cfg.Name, &sub.cfg.Endpoint, body, nil)
		status = resp.status
		switch {
		case err == nil && ok2xx(status):
			return outDelivered, status, nil
		case err == nil && !retryable(status):
			return outRejected, status, nil
		case sub.ctx.Err() != nil:
			return outShutdown, status, err
		case n >= *sub.cfg.Retries:
			return outFailed, status, err
		}
		sub.st.retries.Add(1)
		wait := backoff(sub.cfg.BackoffBase, sub.cfg.BackoffMax, n)
		if resp.retryAfter > wait { // the endpoint's Retry-After, up to BackoffMax
			wait = min(resp.retryAfter, sub.cfg.BackoffMax)
		}
		if !sleep(sub.ctx, wait) {
			return outShutdown, status, err
		}
	}
}

// backoff is the wait before retry n+1: base*2^n up to max, less up to
// half of it at random.
func backoff(base, maxWait time.Duration, n int) time.Duration {
	d := maxWait
	if n < 30 && base<<n < maxWait && base<<n > 0 {
		d = base << n
	}
	return d - rand.N(d/2+1)
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
