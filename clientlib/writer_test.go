package clientlib

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// stuckConn is a conn whose writes block until released: a network that
// stopped taking bytes.
type stuckConn struct {
	entered chan struct{} // a write began
	release chan struct{}
	mu      sync.Mutex
	sent    []any
}

func (c *stuckConn) read(ctx context.Context) (wamp.Message, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (c *stuckConn) encode(wamp.Message) (any, int, error) { return nil, 0, nil }
func (c *stuckConn) send(data any, _ time.Time) error {
	c.entered <- struct{}{}
	<-c.release
	c.mu.Lock()
	c.sent = append(c.sent, data)
	c.mu.Unlock()
	return nil
}
func (c *stuckConn) ping(time.Time) error { return nil }
func (c *stuckConn) leave(time.Time)      {}
func (c *stuckConn) close()               {}
func (c *stuckConn) ended(error) bool     { return true }
func (c *stuckConn) lastRead() time.Time  { return time.Time{} }

// TestWriteQueueBound: while the network takes nothing, what waits to be
// written stays within WriteQueue frames and WriteQueueBytes bytes; the
// senders past the bound wait (within their context) and, when it ends,
// their frames are never sent.
func TestWriteQueueBound(t *testing.T) {
	for _, tc := range []struct {
		name          string
		frames, bytes int
		size          int
		fit           int // frames the queue holds besides the one being written
	}{
		{"frames", 2, 1 << 20, 10, 2},
		{"bytes", 100, 100, 40, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &stuckConn{entered: make(chan struct{}, 16), release: make(chan struct{})}
			w := newWriter(c, Options{WriteTimeout: time.Hour, WriteQueue: tc.frames, WriteQueueBytes: tc.bytes})
			defer w.stop()
			results := make(chan error, 16)
			go func() { results <- w.send(context.Background(), frameMessage, "first", tc.size) }()
			<-c.entered // the pump is stuck writing the first
			for i := range tc.fit {
				go func() { results <- w.send(context.Background(), frameMessage, i, tc.size) }()
			}
			waitUntil(t, func() bool { return len(w.q) == tc.fit })
			const past = 3
			ctx, cancel := context.WithCancel(context.Background())
			for range past {
				go func() { results <- w.send(ctx, frameMessage, "past the bound", tc.size) }()
			}
			waitUntil(t, func() bool { return w.waiting.Load() == past })
			w.mu.Lock()
			used := w.used
			w.mu.Unlock()
			if len(w.q) != tc.fit || used > tc.bytes {
				t.Fatalf("queued %d frames, %d bytes: past the bound (%d frames, %d bytes)", len(w.q), used, tc.frames, tc.bytes)
			}
			cancel()
			for range past {
				var ns notSent
				if err := <-results; !errors.As(err, &ns) || !errors.Is(err, context.Canceled) {
					t.Fatalf("a sender past the bound got %v, want it not sent and canceled", err)
				}
			}
			close(c.release)
			for range 1 + tc.fit {
				if err := <-results; err != nil {
					t.Fatal(err)
				}
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, d := range c.sent {
				if d == "past the bound" {
					t.Fatal("a frame whose sender gave up was sent")
				}
			}
			if len(c.sent) != 1+tc.fit {
				t.Fatalf("sent %d frames, want %d", len(c.sent), 1+tc.fit)
			}
		})
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond) // polls the condition
	}
}
