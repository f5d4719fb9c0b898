package main

import (
	"context"
	"fmt"
	"time"

	"github.com/junction-wamp/junction/serializers"
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
// events twice: some 1,400 messages a second at the default rates. Once its
// socket is full, not one message can be written to it, and the router cuts
// it as a slow consumer 5 s later (websocket.slow_consumer_timeout), before
// its queue reaches its bound (websocket.queue_messages, 16384) and before
// the write deadline (websocket.write_timeout, 10 s) ends it as a failed
// write. The rawsocket.* settings of the same names, which default to the
// websocket ones, hold over RawSocket.
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

// stallOnce subscribes through a 4 KiB receive buffer and reads nothing:
// the router must cut the session, within --stall.
func (s *soak) stallOnce(ctx context.Context) {
	c, err := dialWith(ctx, smallReceiveBuffer, s.o.url, s.o.realm, "json")
	if err != nil {
		if ctx.Err() == nil {
			s.fail(&s.st.joinFailures, "stalled subscriber: %v", err)
		}
		return
	}
	defer c.close()
	s.st.joins.Add(1)
	c.setReadDeadline(time.Now().Add(s.so.answerTimeout))
	for _, sub := range s.stalledSubscriptions() {
		if _, err := c.request(sub, sub.Request); err != nil {
			if ctx.Err() == nil {
				s.fail(&s.st.joinFailures, "stalled subscriber: subscribe: %v", err)
			}
			return
		}
	}
	cut, err := s.awaitCut(ctx, c.id)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		s.fail(&s.st.notCut, "stalled subscriber: %v", err)
	case !cut:
		s.fail(&s.st.notCut, "stalled subscriber still on the router after %s", s.so.stall)
	default:
		s.st.stalledCut.Add(1)
	}
}

// awaitCut asks the router every second, through a session of its own,
// whether it still has session id (wamp.session.get), for at most --stall.
// Reading what the stalled subscriber's socket holds would not tell: the
// router's socket buffer can hold megabytes, which a 4 KiB receive window
// drains slowly.
func (s *soak) awaitCut(ctx context.Context, id wamp.ID) (bool, error) {
	c, err := dial(ctx, s.o.url, s.o.realm, "json")
	if err != nil {
		return false, err
	}
	defer c.close()
	defer context.AfterFunc(ctx, func() { c.close() })()
	args, err := serializers.EncodePayload(c.ser.Encoding(), []any{int64(id)}, nil)
	if err != nil {
		return false, err
	}
	end := time.Now().Add(s.so.stall)
	for req := wamp.ID(1); time.Now().Before(end); req++ {
		if !wait(ctx, time.Second) {
			return false, nil
		}
		c.setReadDeadline(time.Now().Add(s.so.answerTimeout))
		_, err := c.request(&wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: "wamp.session.get", Payload: args}, req)
		if err != nil && err.Error() == string(wamp.ErrNoSuchSession) {
			return true, goodbye(c, s.so.answerTimeout)
		}
		if err != nil {
			return false, fmt.Errorf("wamp.session.get: %w", err)
		}
	}
	return false, goodbye(c, s.so.answerTimeout)
}
