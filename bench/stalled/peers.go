package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// subscribe joins and subscribes to topic.
func subscribe(ctx context.Context, cfg *config, o dialOptions) (*conn, error) {
	c, err := dial(ctx, cfg.url, cfg.realm, o)
	if err != nil {
		return nil, err
	}
	if _, err := c.request(&wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: wamp.URI(cfg.topic)}, 1); err != nil {
		c.ws.Close()
		return nil, err
	}
	return c, nil
}

// connectStalled opens n subscribers, cfg.dialers at a time, that never
// read once subscribed.
func connectStalled(ctx context.Context, cfg *config, n int) ([]*conn, error) {
	conns := make([]*conn, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range cfg.dialers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				c, err := subscribe(ctx, cfg, dialOptions{rcvbuf: cfg.rcvbuf, bufSize: 1024, compress: cfg.compress})
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, fmt.Errorf("stalled subscriber %d: %w", i, err))
					mu.Unlock()
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	return conns, firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// reader is a subscriber that reads as fast as it can and checks that the
// events arrive in publication order, each once.
type reader struct {
	c        *conn
	want     int
	got      atomic.Int64
	disorder atomic.Int64 // events not numbered last+1
	code     atomic.Int64 // close code it was cut with, -1 for another error
	err      error
	complete chan struct{} // every event received
	ended    chan struct{} // the connection ended
}

func newReader(c *conn, want int) *reader {
	return &reader{c: c, want: want, complete: make(chan struct{}), ended: make(chan struct{})}
}

func (r *reader) run() {
	defer close(r.ended)
	last := int64(0)
	for {
		m, err := r.c.recv()
		if err != nil {
			r.err = err
			if code := closeCode(err); code != 0 {
				r.code.Store(int64(code))
			} else if r.got.Load() < int64(r.want) {
				r.code.Store(-1)
			}
			return
		}
		ev, ok := m.(*wamp.Event)
		if !ok {
			continue
		}
		seq := eventSeq(ev.Payload.RawArgs)
		if seq != last+1 {
			r.disorder.Add(1)
		}
		last = seq
		if r.got.Add(1) == int64(r.want) {
			close(r.complete)
		}
	}
}

// eventSeq is the first argument of args [seq, "pad"].
func eventSeq(args []byte) int64 {
	args = bytes.TrimPrefix(args, []byte("["))
	if i := bytes.IndexByte(args, ','); i >= 0 {
		args = args[:i]
	}
	n, _ := strconv.ParseInt(string(bytes.TrimSpace(args)), 10, 64)
	return n
}

// flood publishes cfg.events events to the topic as fast as the connection
// takes them, unacknowledged, numbered from 1.
func flood(c *conn, cfg *config, published *atomic.Int64) error {
	pad := bytes.Repeat([]byte("x"), cfg.payload)
	buf := make([]byte, 0, cfg.payload+len(cfg.topic)+64)
	for seq := 1; seq <= cfg.events; seq++ {
		buf = append(buf[:0], "[16,"...)
		buf = strconv.AppendInt(buf, int64(seq), 10)
		buf = append(buf, `,{},"`...)
		buf = append(buf, cfg.topic...)
		buf = append(buf, `",[`...)
		buf = strconv.AppendInt(buf, int64(seq), 10)
		buf = append(buf, `,"`...)
		buf = append(buf, pad...)
		buf = append(buf, `"]]`...)
		if err := c.sendRaw(buf); err != nil {
			return fmt.Errorf("publish %d: %w", seq, err)
		}
		published.Store(int64(seq))
	}
	return nil
}

// discard reads and drops what c receives until it ends.
func discard(c *conn) {
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			return
		}
	}
}

const echoProcedure = "bench.stalled.echo"

// serveEcho answers every INVOCATION with its arguments.
func serveEcho(c *conn) {
	for {
		m, err := c.recv()
		if err != nil {
			return
		}
		if inv, ok := m.(*wamp.Invocation); ok {
			_ = c.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: inv.Payload})
		}
	}
}

// latencies are the round trips of the unrelated caller.
type latencies struct {
	mu      sync.Mutex
	samples []time.Duration
	errs    int
}

// call calls the echo procedure every interval until stop is closed.
func (l *latencies) call(c *conn, interval time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for id := wamp.ID(1); ; id++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		t0 := time.Now()
		_, err := c.request(&wamp.Call{Request: id, Options: wamp.Dict{}, Procedure: echoProcedure,
			Payload: wamp.Payload{Encoding: wamp.EncodingJSON, RawArgs: []byte(`[1]`)}}, id)
		l.mu.Lock()
		if err != nil {
			l.errs++
		} else {
			l.samples = append(l.samples, time.Since(t0))
		}
		l.mu.Unlock()
		var werr *wampError
		if err != nil && !errors.As(err, &werr) { // the connection is gone
			return
		}
	}
}

// percentiles returns p50, p99 and max.
func (l *latencies) percentiles() (p50, p99, maxd time.Duration, n, errs int) {
	l.mu.Lock()
	s := slices.Clone(l.samples)
	errs = l.errs
	l.mu.Unlock()
	if len(s) == 0 {
		return 0, 0, 0, 0, errs
	}
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*99/100], s[len(s)-1], len(s), errs
}
