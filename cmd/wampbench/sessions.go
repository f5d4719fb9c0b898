package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// runSessions joins Count idle sessions and reports the join rate and, with
// the router's PID, its RSS growth per session.
func runSessions(ctx context.Context, o *options, progress func(int64)) (map[string]any, error) {
	rss0, haveRSS := procRSS(o.pid)
	var joined atomic.Int64
	stop := tick(progress, &joined)
	start := time.Now()
	conns := make([]*conn, 0, o.count)
	var err error
	for int64(len(conns)) < o.count && time.Since(start) < o.duration {
		var c *conn
		if c, err = dial(ctx, o.url, o.realm, o.serializer); err != nil {
			break
		}
		conns = append(conns, c)
		joined.Add(1)
	}
	elapsed := time.Since(start)
	stop()
	res := map[string]any{"sessions": len(conns), "joins_per_s": float64(len(conns)) / elapsed.Seconds()}
	if err != nil {
		res["error"] = err.Error()
	}
	if rss1, ok := procRSS(o.pid); ok && haveRSS && len(conns) > 0 {
		res["router_rss_bytes"] = rss1
		res["rss_per_session_bytes"] = float64(rss1-rss0) / float64(len(conns))
	}
	for _, c := range conns {
		c.ws.Close()
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
