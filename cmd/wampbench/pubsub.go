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

// runPubSub: one publisher with Window acknowledged publications in flight,
// Subscribers subscribers; each event carries [seq, sent-at ns, padding] so
// subscribers measure latency and count what never arrived.
func runPubSub(ctx context.Context, o *options, progress func(int64)) (map[string]any, error) {
	topic := wamp.URI(fmt.Sprintf("bench.topic.%d", time.Now().UnixNano()))
	type subStats struct {
		got  int64
		lost int64
		lat  latencies
	}
	var delivered atomic.Int64
	stats := make([]*subStats, o.subscribers)
	var subs []*conn
	var wg sync.WaitGroup
	for i := range o.subscribers {
		c, err := dial(ctx, o.url2, o.realm, o.serializer)
		if err != nil {
			return nil, err
		}
		if _, err := c.request(&wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: topic}, 1); err != nil {
			return nil, fmt.Errorf("subscribe: %w", err)
		}
		subs = append(subs, c)
		st := &subStats{}
		stats[i] = st
		wg.Go(func() {
			var last int64 = -1
			for {
				m, err := c.recv()
				if err != nil {
					return
				}
				ev, ok := m.(*wamp.Event)
				if !ok {
					continue
				}
				args, _, err := serializers.DecodePayload(&ev.Payload)
				if err != nil || len(args) < 2 {
					continue
				}
				seq, _ := wamp.AsInt(args[0])
				if seq < 0 { // end marker
					st.lost += 0
					return
				}
				sentAt, _ := wamp.AsInt(args[1])
				st.lat = append(st.lat, time.Duration(time.Now().UnixNano()-sentAt))
				st.got++
				if seq != last+1 {
					st.lost += seq - last - 1
				}
				last = seq
				delivered.Add(1)
			}
		})
	}
	pub, err := dial(ctx, o.url, o.realm, o.serializer)
	if err != nil {
		return nil, err
	}
	defer pub.leave()
	ser, _ := serializers.ByName(o.serializer)
	pad := strings.Repeat("x", max(o.payload, 0))
	acks := make(chan struct{}, o.window)
	go func() {
		for {
			m, err := pub.recv()
			if err != nil {
				close(acks)
				return
			}
			if _, ok := m.(*wamp.Published); ok {
				acks <- struct{}{}
			}
		}
	}()
	start := time.Now()
	deadline := start.Add(o.duration)
	// A router that stops acknowledging or loses the end marker must not
	// hang the run: past the deadline and a grace period wampbench stops
	// waiting, and what did not arrive counts as lost.
	giveUp := time.NewTimer(o.duration + answerGrace)
	defer giveUp.Stop()
	timedOut := false
	ack := func() bool {
		select {
		case _, ok := <-acks:
			return ok
		case <-giveUp.C:
			timedOut = true
			return false
		}
	}
	stop := tick(progress, &delivered)
	var published int64
	inflight := 0
	for published < o.count && time.Now().Before(deadline) && !timedOut {
		if inflight == o.window {
			if !ack() {
				break
			}
			inflight--
		}
		p, _ := serializers.EncodePayload(ser.Encoding(), []any{published, time.Now().UnixNano(), pad}, nil)
		if err := pub.send(&wamp.Publish{Request: wamp.ID(published + 1), Options: wamp.Dict{"acknowledge": true}, Topic: topic, Payload: p}); err != nil {
			break
		}
		published++
		inflight++
	}
	for ; inflight > 0 && !timedOut; inflight-- {
		if !ack() {
			break
		}
	}
	pubElapsed := time.Since(start)
	end, _ := serializers.EncodePayload(ser.Encoding(), []any{-1, 0}, nil)
	_ = pub.send(&wamp.Publish{Request: wamp.ID(published + 2), Options: wamp.Dict{"acknowledge": true}, Topic: topic, Payload: end})
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	if !timedOut {
		select {
		case <-finished:
		case <-giveUp.C:
			timedOut = true
		}
	}
	if timedOut {
		for _, s := range subs {
			s.close() // ends each subscriber's reader
		}
		<-finished
	}
	elapsed := time.Since(start)
	stop()
	for _, s := range subs {
		s.leave()
	}
	var all latencies
	var lost int64
	for _, st := range stats {
		all = append(all, st.lat...)
		lost += st.lost + (published - st.got - st.lost)
	}
	res := map[string]any{"published": published, "delivered": delivered.Load(), "lost": lost,
		"published_per_s": float64(published) / pubElapsed.Seconds(), "delivered_per_s": float64(delivered.Load()) / elapsed.Seconds(),
		"seconds": elapsed.Seconds(), "timed_out": timedOut}
	for k, v := range all.summary() {
		res[k] = v
	}
	return res, nil
}
