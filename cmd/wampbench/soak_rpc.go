package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// errExpected is the error the soak's callees answer the failing procedure with.
const errExpected wamp.URI = "soak.error.expected"

// soakTick is how often the soak's generators issue what their rate allows.
const soakTick = 10 * time.Millisecond

// startRPC joins the callees, one per serializer, which all register the
// echo procedure and the failing one (shared registrations, round-robin),
// and the callers, which call them at the call rate.
func (s *soak) startRPC(ctx context.Context) error {
	echo, failing := s.uri("echo"), s.uri("fail")
	for i, ser := range soakSerializers {
		m, err := s.join(ctx, fmt.Sprintf("callee %d (%s)", i, ser), ser)
		if err != nil {
			return err
		}
		fails := map[wamp.ID]bool{} // registration -> answered with an error
		for _, proc := range []wamp.URI{echo, failing} {
			id := m.id()
			r, err := m.setup(&wamp.Register{Request: id, Options: wamp.Dict{"invoke": "roundrobin"}, Procedure: proc}, id)
			if err != nil {
				return fmt.Errorf("register %s: %w", proc, err)
			}
			fails[r.(*wamp.Registered).Registration] = proc == failing
		}
		m.serve(s, func(msg wamp.Message) { invoked(m, fails, msg) })
	}
	for i := range s.o.callers {
		ser := soakSerializers[i%len(soakSerializers)]
		m, err := s.join(ctx, fmt.Sprintf("caller %d (%s)", i, ser), ser)
		if err != nil {
			return err
		}
		c := &caller{s: s, m: m, echo: echo, failing: failing, pending: map[wamp.ID]pendingCall{}}
		m.serve(s, c.answer)
		s.gen.Go(func() { c.loop(ctx) })
	}
	return nil
}

// invoked is a callee's answer to an INVOCATION: its own arguments back, or
// the expected error for the failing procedure.
func invoked(m *member, fails map[wamp.ID]bool, msg wamp.Message) {
	inv, ok := msg.(*wamp.Invocation)
	if !ok {
		return
	}
	if fails[inv.Registration] {
		_ = m.send(&wamp.Error{Type: wamp.INVOCATION, Request: inv.Request, Details: wamp.Dict{}, Error: errExpected, Payload: inv.Payload})
		return
	}
	_ = m.send(&wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: inv.Payload})
}

// pendingCall is a call waiting for its answer.
type pendingCall struct {
	sent    time.Time
	failing bool // to the failing procedure: an ERROR is the right answer
}

// caller keeps up to the window of calls in flight at its share of the call
// rate, and checks each answer.
type caller struct {
	s             *soak
	m             *member
	echo, failing wamp.URI
	mu            sync.Mutex
	pending       map[wamp.ID]pendingCall
}

func (c *caller) loop(ctx context.Context) {
	rate := c.s.so.callRate / float64(c.s.o.callers)
	window := c.s.o.window
	t := time.NewTicker(soakTick)
	defer t.Stop()
	budget, last := 0.0, time.Now()
	for {
		select {
		case <-ctx.Done():
			c.drain()
			return
		case now := <-t.C:
			budget = min(budget+rate*now.Sub(last).Seconds(), float64(window))
			last = now
			c.expire(now)
			for budget >= 1 && c.inFlight() < window {
				if !c.call() {
					return
				}
				budget--
			}
		}
	}
}

func (c *caller) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// call sends the next call, the first and every 100th after it to the
// failing procedure. Its arguments are [request id, "soak"]; the echo must
// answer them back.
func (c *caller) call() bool {
	id := c.m.id()
	p := pendingCall{sent: time.Now(), failing: id%100 == 1}
	proc := c.echo
	if p.failing {
		proc = c.failing
	}
	payload, err := serializers.EncodePayload(c.m.ser.Encoding(), []any{int64(id), "soak"}, nil)
	if err != nil {
		return false
	}
	c.mu.Lock()
	c.pending[id] = p
	c.mu.Unlock()
	return c.m.send(&wamp.Call{Request: id, Options: wamp.Dict{}, Procedure: proc, Payload: payload}) == nil
}

// take removes the pending call id; false if it is not pending (answered
// twice, or after it was counted as timed out).
func (c *caller) take(id wamp.ID) (pendingCall, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pending[id]
	delete(c.pending, id)
	return p, ok
}

// answer checks a RESULT or ERROR against its call.
func (c *caller) answer(msg wamp.Message) {
	st := &c.s.st
	switch m := msg.(type) {
	case *wamp.Result:
		p, ok := c.take(m.Request)
		if !ok {
			return
		}
		args, _, err := serializers.DecodePayload(&m.Payload)
		var got int64
		if err == nil && len(args) > 0 {
			got, _ = wamp.AsInt(args[0])
		}
		if p.failing || got != int64(m.Request) {
			c.s.fail(&st.wrongAnswers, "%s: call %d answered with RESULT %v", c.m.name, m.Request, args)
			return
		}
		st.calls.Add(1)
	case *wamp.Error:
		p, ok := c.take(m.Request)
		if !ok {
			return
		}
		if !p.failing || m.Error != errExpected {
			c.s.fail(&st.callErrors, "%s: call %d answered with ERROR %s", c.m.name, m.Request, m.Error)
			return
		}
		st.calls.Add(1)
		st.appErrors.Add(1)
	}
}

// expire counts the calls unanswered for longer than the answer timeout.
func (c *caller) expire(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, p := range c.pending {
		if now.Sub(p.sent) > c.s.so.answerTimeout {
			delete(c.pending, id)
			c.s.fail(&c.s.st.callTimeouts, "%s: call %d unanswered after %s", c.m.name, id, c.s.so.answerTimeout)
		}
	}
}

// drain waits for the calls in flight at the end of the run, at most the
// answer timeout.
func (c *caller) drain() {
	end := time.Now().Add(c.s.so.answerTimeout)
	for c.inFlight() > 0 && time.Now().Before(end) {
		time.Sleep(soakTick)
	}
	c.expire(time.Now().Add(c.s.so.answerTimeout + time.Nanosecond))
}
