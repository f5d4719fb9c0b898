package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// runRPC: one callee echoing, Callers callers each keeping Window calls in flight.
func runRPC(ctx context.Context, o *options, progress func(done int64)) (map[string]any, error) {
	callee, err := dial(ctx, o.url2, o.realm, o.serializer)
	if err != nil {
		return nil, err
	}
	defer callee.leave()
	proc := wamp.URI(fmt.Sprintf("bench.echo.%d", callee.id))
	if _, err := callee.request(&wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: proc}, 1); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	go func() { // the callee answers each INVOCATION with its own payload
		for {
			m, err := callee.recv()
			if err != nil {
				return
			}
			if inv, ok := m.(*wamp.Invocation); ok {
				_ = callee.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: inv.Payload})
			}
		}
	}()
	ser, _ := serializers.ByName(o.serializer)
	payload, err := serializers.EncodePayload(ser.Encoding(), benchArgs(o.payload), nil)
	if err != nil {
		return nil, err
	}

	var done, errs atomic.Int64
	var mu sync.Mutex
	var lat latencies
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(o.duration)
	perCaller := o.count / int64(o.callers)
	for range o.callers {
		c, err := dial(ctx, o.url, o.realm, o.serializer)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			defer c.leave()
			l, e := callLoop(c, proc, payload, o.window, perCaller, deadline, &done)
			errs.Add(e)
			mu.Lock()
			lat = append(lat, l...)
			mu.Unlock()
		})
	}
	stop := tick(progress, &done)
	wg.Wait()
	stop()
	elapsed := time.Since(start)
	res := map[string]any{"calls": done.Load(), "errors": errs.Load(), "seconds": elapsed.Seconds(),
		"calls_per_s": float64(done.Load()) / elapsed.Seconds()}
	for k, v := range lat.summary() {
		res[k] = v
	}
	return res, nil
}

// callLoop keeps window calls in flight on c until n calls are done or the
// deadline; it returns the latencies and the number of errors.
func callLoop(c *conn, proc wamp.URI, payload wamp.Payload, window int, n int64, deadline time.Time, done *atomic.Int64) (latencies, int64) {
	sent := make(map[wamp.ID]time.Time, window)
	var mu sync.Mutex
	results := make(chan error, window)
	go func() {
		for {
			m, err := c.recv()
			if err != nil {
				results <- readError{err}
				return
			}
			switch m := m.(type) {
			case *wamp.Result:
				mu.Lock()
				t := sent[m.Request]
				delete(sent, m.Request)
				mu.Unlock()
				lat := time.Since(t)
				results <- latencyMsg(lat)
			case *wamp.Error:
				mu.Lock()
				delete(sent, m.Request)
				mu.Unlock()
				results <- fmt.Errorf("%s", m.Error)
			}
		}
	}()
	var lat latencies
	var errs, issued, completed int64
	var next wamp.ID
	for issued < int64(window) && issued < n {
		next++
		mu.Lock()
		sent[next] = time.Now()
		mu.Unlock()
		_ = c.send(&wamp.Call{Request: next, Options: wamp.Dict{}, Procedure: proc, Payload: payload})
		issued++
	}
	// A router that never answers some calls must not hang the run: past
	// the deadline and a grace period, what is unanswered counts as errors.
	giveUp := time.NewTimer(time.Until(deadline) + answerGrace)
	defer giveUp.Stop()
	for completed < issued {
		var r error
		select {
		case r = <-results:
		case <-giveUp.C:
			return lat, errs + issued - completed
		}
		completed++
		switch r := r.(type) {
		case latencyMsg:
			lat = append(lat, time.Duration(r))
			done.Add(1)
		case readError: // the reader has ended: no answer comes any more
			return lat, errs + issued - completed + 1
		default:
			errs++
		}
		if issued < n && time.Now().Before(deadline) {
			next++
			mu.Lock()
			sent[next] = time.Now()
			mu.Unlock()
			_ = c.send(&wamp.Call{Request: next, Options: wamp.Dict{}, Procedure: proc, Payload: payload})
			issued++
		}
	}
	return lat, errs
}

// answerGrace is how long past the run's deadline wampbench waits for
// answers still due (calls, acknowledgements, the end of a fan-out).
const answerGrace = 10 * time.Second

// readError ends the reader of a caller's connection (closed, broken, or a
// message it could not decode).
type readError struct{ error }

// latencyMsg is a completed call's latency, passed as an error-typed value.
type latencyMsg time.Duration

func (latencyMsg) Error() string { return "" }

// benchArgs is the call arguments: [42, "hello"], padded to size bytes.
func benchArgs(size int) []any {
	if size <= 0 {
		return []any{42, "hello"}
	}
	return []any{42, strings.Repeat("x", size)}
}

// tick reports progress every second until stopped. The stop function
// returns once the reporting goroutine has ended, so that nothing writes
// progress after it (the caller writes to the same stream next).
func tick(progress func(int64), done *atomic.Int64) func() {
	t := time.NewTicker(time.Second)
	quit := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-t.C:
				progress(done.Load())
			case <-quit:
				return
			}
		}
	}()
	return func() { t.Stop(); close(quit); <-ended }
}
