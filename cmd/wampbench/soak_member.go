package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// soakStats counts the soak's traffic and its failures.
type soakStats struct {
	calls, appErrors, published, delivered, bulk, joins, leftGoodbye, leftAbrupt, stalledCut, hostile atomic.Int64

	callTimeouts, callErrors, wrongAnswers, publishFailures, lost, outOfOrder,
	disconnects, joinFailures, hostileUnexpected, notCut, leftOver atomic.Int64
}

// counter is one of soakStats' counters with its name in the result.
type counter struct {
	name string
	n    *atomic.Int64
}

// traffic are the counters of what was done.
func (st *soakStats) traffic() []counter {
	return []counter{
		{"calls", &st.calls}, {"app_errors", &st.appErrors}, {"published", &st.published},
		{"delivered", &st.delivered}, {"bulk_published", &st.bulk}, {"joins", &st.joins},
		{"left_goodbye", &st.leftGoodbye}, {"left_abrupt", &st.leftAbrupt},
		{"stalled_cut", &st.stalledCut}, {"hostile", &st.hostile},
	}
}

// failures are the counters of what went wrong; each is a failure of the run.
func (st *soakStats) failures() []counter {
	return []counter{
		{"call_timeouts", &st.callTimeouts}, {"call_errors", &st.callErrors},
		{"wrong_answers", &st.wrongAnswers}, {"publish_failures", &st.publishFailures},
		{"events_lost", &st.lost}, {"events_out_of_order", &st.outOfOrder},
		{"unexpected_disconnects", &st.disconnects}, {"join_failures", &st.joinFailures},
		{"hostile_unexpected", &st.hostileUnexpected}, {"stalled_not_cut", &st.notCut},
		{"sessions_left_over", &st.leftOver},
	}
}

// failed is the number of failures so far.
func (st *soakStats) failed() int64 {
	var n int64
	for _, c := range st.failures() {
		n += c.n.Load()
	}
	return n
}

// member is a well-behaved long-lived session of the soak: its reader hands
// each message to a handler, and an end of the connection that the soak did
// not ask for is a failure.
type member struct {
	*conn
	name    string
	closing atomic.Bool
	served  atomic.Bool
	done    chan struct{}
	next    atomic.Int64 // request IDs
}

// join connects a member and keeps it for closing at the end of the run.
// The caller sets it up (subscribe, register) with request, then calls serve.
func (s *soak) join(ctx context.Context, name, serializer string) (*member, error) {
	c, err := dial(ctx, s.o.url, s.o.realm, serializer)
	if err != nil {
		return nil, err
	}
	m := &member{conn: c, name: name, done: make(chan struct{})}
	s.mu.Lock()
	s.members = append(s.members, m)
	s.mu.Unlock()
	return m, nil
}

// id returns the member's next request ID.
func (m *member) id() wamp.ID { return wamp.ID(m.next.Add(1)) }

// setup sends a request and waits for its answer, before serve.
func (m *member) setup(req wamp.Message, id wamp.ID) (wamp.Message, error) {
	m.setReadDeadline(time.Now().Add(10 * time.Second))
	defer func() { m.setReadDeadline(time.Time{}) }()
	return m.request(req, id)
}

// serve starts the member's reader, which hands every message to handle.
func (m *member) serve(s *soak, handle func(wamp.Message)) {
	m.served.Store(true)
	go func() {
		defer close(m.done)
		for {
			msg, err := m.recv()
			if err != nil {
				if !m.closing.Load() {
					s.fail(&s.st.disconnects, "%s disconnected: %v", m.name, err)
				}
				return
			}
			handle(msg)
		}
	}()
}

// close says GOODBYE, closes the connection and waits for the reader.
func (m *member) close() {
	m.closing.Store(true)
	m.leave()
	if m.served.Load() {
		<-m.done
	}
}
