package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// runSessions joins Count idle sessions, Callers at a time, and reports the join rate and, with
// the router's PID, its RSS growth per session.
func runSessions(ctx context.Context, o *options, progress func(int64)) (map[string]any, error) {
	rss0, haveRSS := procRSS(o.pids)
	var joined atomic.Int64
	stop := tick(progress, &joined)
	cpu0, haveCPU := procCPU(o.pids)
	start := time.Now()
	// Callers dialers join in parallel, so the join rate is the router's,
	// not one client's round trip.
	var (
		mu    sync.Mutex
		conns = make([]*conn, 0, o.count)
		err   error
		wg    sync.WaitGroup
		next  atomic.Int64
	)
	for range max(o.callers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= o.count && time.Since(start) < o.duration {
				c, derr := dial(ctx, o.url, o.realm, o.serializer)
				mu.Lock()
				if derr != nil {
					if err == nil {
						err = derr
					}
					mu.Unlock()
					return
				}
				conns = append(conns, c)
				mu.Unlock()
				joined.Add(1)
			}
		}()
	}
	wg.Wait()
	cpu1, _ := procCPU(o.pids)
	elapsed := time.Since(start)
	stop()
	res := map[string]any{"sessions": len(conns), "joins_per_s": float64(len(conns)) / elapsed.Seconds()}
	if haveCPU && len(conns) > 0 { // the joins alone, not the teardown
		res["router_cpu_us_per_join"] = float64((cpu1 - cpu0).Microseconds()) / float64(len(conns))
	}
	if err != nil {
		res["error"] = err.Error()
	}
	if rss1, ok := procRSS(o.pids); ok && haveRSS && len(conns) > 0 {
		res["router_rss_bytes"] = rss1
		res["rss_per_session_bytes"] = float64(rss1-rss0) / float64(len(conns))
	}
	for _, c := range conns {
		c.close()
	}
	return res, nil
}

// runChurn connects, joins, calls once and leaves, in a loop.
func runChurn(ctx context.Context, o *options, progress func(int64)) (map[string]any, error) {
	callee, err := dial(ctx, o.url, o.realm, o.serializer)
	if err != nil {
		return nil, err
	}
	defer callee.leave()
	proc := wamp.URI(fmt.Sprintf("bench.churn.%d", callee.id))
	if _, err := callee.request(&wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: proc}, 1); err != nil {
		return nil, err
	}
	go func() {
		for {
			m, err := callee.recv()
			if err != nil {
				return
			}
			if inv, ok := m.(*wamp.Invocation); ok {
				_ = callee.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}})
			}
		}
	}()
	var done, errs atomic.Int64
	stop := tick(progress, &done)
	start := time.Now()
	for done.Load() < o.count && time.Since(start) < o.duration {
		c, err := dial(ctx, o.url, o.realm, o.serializer)
		if err != nil {
			errs.Add(1)
			continue
		}
		if _, err := c.request(&wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: proc}, 1); err != nil {
			errs.Add(1)
		}
		c.leave()
		done.Add(1)
	}
	stop()
	elapsed := time.Since(start)
	return map[string]any{"sessions": done.Load(), "errors": errs.Load(), "sessions_per_s": float64(done.Load()) / elapsed.Seconds()}, nil
}
