package main

import (
	"context"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/wamp"
)

// stalled runs a subscriber that stops reading, which the router must cut;
// it connects again a while later, and again.
func (s *soak) stalled(ctx context.Context) {
	for ctx.Err() == nil {
		s.stallOnce(ctx)
		wait(ctx, min(s.so.stall/2, 30*time.Second))
	}
}

// stalledSubscriptions make the stalled subscriber get every event four
// times (exact, prefix, wildcard, and a prefix of the whole run) and the bulk
// events twice: some 1,400 messages a second at the default rates. Its
// outbound queue then passes its bound (websocket.queue_messages, 4096) a
// few seconds after the socket is full, and the router cuts it as a slow
// consumer (websocket.slow_consumer_timeout, 5 s) before the write deadline
// (websocket.write_timeout, 10 s) ends it as a failed write.
func (s *soak) stalledSubscriptions() []*wamp.Subscribe {
	subs := []*wamp.Subscribe{
		{Options: wamp.Dict{"match": "prefix"}, Topic: s.uri("ev")},
		{Options: wamp.Dict{"match": "wildcard"}, Topic: s.uri("ev.")},
		{Options: wamp.Dict{"match": "prefix"}, Topic: wamp.URI("soak." + s.run)},
		{Options: wamp.Dict{}, Topic: s.uri("bulk")},
	}
	for k := range soakTopics {
		subs = append(subs, &wamp.Subscribe{Options: wamp.Dict{}, Topic: s.topic(k)})
	}
	for i, sub := range subs {
		sub.Request = wamp.ID(i + 1)
	}
	return subs
}

// stallOnce subscribes through a 4 KiB receive buffer and reads nothing
// until the router has cut a slow consumer (seen in its metrics) or --stall
// has passed; then the connection must be found closed.
func (s *soak) stallOnce(ctx context.Context) {
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: (&net.Dialer{Control: smallReceiveBuffer}).DialContext}
	c, err := dialWith(ctx, d, s.o.url, s.o.realm, "json")
	if err != nil {
		if ctx.Err() == nil {
			s.fail(&s.st.joinFailures, "stalled subscriber: %v", err)
		}
		return
	}
	defer c.ws.Close()
	s.st.joins.Add(1)
	_ = c.ws.SetReadDeadline(time.Now().Add(s.so.answerTimeout))
	for _, sub := range s.stalledSubscriptions() {
		if _, err := c.request(sub, sub.Request); err != nil {
			if ctx.Err() == nil {
				s.fail(&s.st.joinFailures, "stalled subscriber: subscribe: %v", err)
			}
			return
		}
	}
	cuts := s.slowCuts.Load()
	end := time.Now().Add(s.so.stall)
	for (cuts < 0 || s.slowCuts.Load() == cuts) && time.Now().Before(end) {
		if !wait(ctx, time.Second) {
			return
		}
	}
	s.checkCut(c)
}

// checkCut reads what the stalled subscriber's socket still holds: the
// router must have closed the connection behind it.
func (s *soak) checkCut(c *conn) {
	_ = c.ws.SetReadDeadline(time.Now().Add(s.so.answerTimeout))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			if isTimeout(err) {
				s.fail(&s.st.notCut, "stalled subscriber not cut after %s", s.so.stall)
			} else {
				s.st.stalledCut.Add(1)
			}
			return
		}
	}
}
