package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// churn starts short-lived sessions at the join rate, at most 64 at a time.
func (s *soak) churn(ctx context.Context) {
	t := time.NewTicker(time.Duration(float64(time.Second) / s.so.joinRate))
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	busy := make(chan struct{}, 64)
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case busy <- struct{}{}:
			wg.Go(func() {
				defer func() { <-busy }()
				s.churnOnce(ctx, n)
			})
		default: // 64 still busy: their failures will say why
		}
	}
}

// churnOnce joins, registers a procedure, subscribes to a topic, calls the
// echo, stays one to three seconds, and leaves: with GOODBYE (two times in
// three), or by closing the TCP connection.
func (s *soak) churnOnce(ctx context.Context, n int) {
	ser := soakSerializers[n%len(soakSerializers)]
	c, err := dial(ctx, s.o.url, s.o.realm, ser)
	if err != nil {
		if ctx.Err() == nil {
			s.fail(&s.st.joinFailures, "churn session %d (%s): %v", n, ser, err)
		}
		return
	}
	s.st.joins.Add(1)
	defer c.close()
	stop := context.AfterFunc(ctx, func() { c.close() }) // the run's end
	defer stop()
	if err := s.churnWork(c, n); err != nil {
		if ctx.Err() == nil {
			s.fail(&s.st.callErrors, "churn session %d (%s): %v", n, ser, err)
		}
		return
	}
	if !wait(ctx, time.Second+time.Duration(n%5)*500*time.Millisecond) {
		return
	}
	if n%3 == 2 {
		_ = c.w.NetConn().Close() // no GOODBYE, no close frame
		s.st.leftAbrupt.Add(1)
		return
	}
	if err := goodbye(c, s.so.answerTimeout); err != nil && ctx.Err() == nil {
		s.fail(&s.st.wrongAnswers, "churn session %d (%s): GOODBYE: %v", n, ser, err)
		return
	}
	s.st.leftGoodbye.Add(1)
}

// churnWork is what a churn session does before it waits: register,
// subscribe, call.
func (s *soak) churnWork(c *conn, n int) error {
	c.setReadDeadline(time.Now().Add(s.so.answerTimeout))
	if _, err := c.request(&wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: s.uri("churn." + strconv.Itoa(n))}, 1); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	if _, err := c.request(&wamp.Subscribe{Request: 2, Options: wamp.Dict{}, Topic: s.topic(n % soakTopics)}, 2); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	payload, err := serializers.EncodePayload(c.ser.Encoding(), []any{int64(n), "churn"}, nil)
	if err != nil {
		return err
	}
	r, err := c.request(&wamp.Call{Request: 3, Options: wamp.Dict{}, Procedure: s.uri("echo"), Payload: payload}, 3)
	if err != nil {
		return fmt.Errorf("call: %w", err)
	}
	args, _, err := serializers.DecodePayload(&r.(*wamp.Result).Payload)
	if got, _ := wamp.AsInt(first(args)); err != nil || got != int64(n) {
		return fmt.Errorf("call answered with %v", args)
	}
	s.st.calls.Add(1)
	return nil
}

func first(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}

// goodbye says GOODBYE and waits, at most timeout, for the router's.
func goodbye(c *conn, timeout time.Duration) error {
	c.setReadDeadline(time.Now().Add(timeout))
	if err := c.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal}); err != nil {
		return err
	}
	for {
		m, err := c.recv()
		if err != nil {
			return err
		}
		if _, ok := m.(*wamp.Goodbye); ok {
			return nil
		}
	}
}
