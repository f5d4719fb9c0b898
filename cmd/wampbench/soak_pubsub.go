package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// soakTopics is how many topics the publisher publishes to in turn
// (soak.<run>.ev.0 to .3); every event carries [topic, sequence number].
const soakTopics = 4

// pubWindow is how many publications the publisher leaves unacknowledged.
const pubWindow = 16

// subscriberSpec describes one of the soak's subscribers.
type subscriberSpec struct {
	name, serializer string
	topic            wamp.URI
	match            string // "", "prefix" or "wildcard"
	want             [soakTopics]bool
	slow             bool // pauses reading now and then
}

// subscriberSpecs: one exact subscriber per topic, prefix and wildcard
// subscribers to all four, and two of those that read slowly. Each
// publication is delivered to six of them.
func (s *soak) subscriberSpecs() []subscriberSpec {
	all := [soakTopics]bool{true, true, true, true}
	var specs []subscriberSpec
	for k := range soakTopics {
		var want [soakTopics]bool
		want[k] = true
		ser := soakSerializers[k%len(soakSerializers)]
		specs = append(specs, subscriberSpec{"exact " + strconv.Itoa(k), ser, s.topic(k), "", want, false})
	}
	return append(specs,
		subscriberSpec{"prefix", "msgpack", s.uri("ev"), "prefix", all, false},
		subscriberSpec{"prefix", "json", s.uri("ev"), "prefix", all, false},
		subscriberSpec{"wildcard", "cbor", s.uri("ev."), "wildcard", all, false},
		subscriberSpec{"slow prefix", "json", s.uri("ev"), "prefix", all, true},
		subscriberSpec{"slow wildcard", "msgpack", s.uri("ev."), "wildcard", all, true},
	)
}

func (s *soak) topic(k int) wamp.URI { return s.uri("ev." + strconv.Itoa(k)) }

// startPubSub joins and subscribes the subscribers, then the publisher.
func (s *soak) startPubSub(ctx context.Context) error {
	for _, spec := range s.subscriberSpecs() {
		name := fmt.Sprintf("subscriber %s (%s)", spec.name, spec.serializer)
		m, err := s.join(ctx, name, spec.serializer)
		if err != nil {
			return err
		}
		opts := wamp.Dict{}
		if spec.match != "" {
			opts["match"] = spec.match
		}
		id := m.id()
		if _, err := m.setup(&wamp.Subscribe{Request: id, Options: opts, Topic: spec.topic}, id); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		sub := &subscriber{s: s, m: m, want: spec.want, slow: spec.slow}
		s.subs = append(s.subs, sub)
		m.serve(s, sub.event)
	}
	m, err := s.join(ctx, "publisher (json)", "json")
	if err != nil {
		return err
	}
	p := &publisher{s: s, m: m, pending: map[wamp.ID]time.Time{}, pad: strings.Repeat("x", max(s.so.bulkSize, 0))}
	m.serve(s, p.ack)
	s.pub = p
	s.gen.Go(func() { p.loop(ctx) })
	return nil
}

// subscriber checks that its events come in order, none missing.
type subscriber struct {
	s    *soak
	m    *member
	want [soakTopics]bool
	slow bool
	mu   sync.Mutex
	next [soakTopics]int64 // the sequence number expected next, by topic
	got  int64
}

func (sub *subscriber) event(msg wamp.Message) {
	ev, ok := msg.(*wamp.Event)
	if !ok {
		return
	}
	st := &sub.s.st
	args, _, err := serializers.DecodePayload(&ev.Payload)
	var k, seq int64 = -1, 0
	if err == nil && len(args) >= 2 {
		k, _ = wamp.AsInt(args[0])
		seq, _ = wamp.AsInt(args[1])
	}
	if k < 0 || k >= soakTopics || !sub.want[k] {
		sub.s.fail(&st.wrongAnswers, "%s: unexpected event %v", sub.m.name, args)
		return
	}
	sub.mu.Lock()
	next := sub.next[k]
	sub.next[k] = max(next, seq+1)
	sub.got++
	pause := sub.slow && sub.got%200 == 0
	sub.mu.Unlock()
	switch {
	case seq > next:
		sub.s.failN(&st.lost, seq-next, "%s: topic %d: event %d after %d", sub.m.name, k, seq, next-1)
	case seq < next:
		sub.s.fail(&st.outOfOrder, "%s: topic %d: event %d after %d", sub.m.name, k, seq, next-1)
	}
	st.delivered.Add(1)
	if pause { // a slow reader: the router queues meanwhile
		time.Sleep(250 * time.Millisecond)
	}
}

// missing is how many of the events published (by topic) it has not had.
func (sub *subscriber) missing(published [soakTopics]int64) int64 {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	var n int64
	for k := range soakTopics {
		if sub.want[k] {
			n += max(published[k]-sub.next[k], 0)
		}
	}
	return n
}

// awaitEvents waits, at most the answer timeout, for every subscriber to
// have every event published; what is still missing then is lost.
func (s *soak) awaitEvents() {
	published := s.pub.sent
	end := time.Now().Add(s.so.answerTimeout)
	for time.Now().Before(end) && s.missing(published) > 0 {
		time.Sleep(soakTick)
	}
	for _, sub := range s.subs {
		if n := sub.missing(published); n > 0 {
			s.failN(&s.st.lost, n, "%s: %d events never arrived", sub.m.name, n)
		}
	}
}

func (s *soak) missing(published [soakTopics]int64) int64 {
	var n int64
	for _, sub := range s.subs {
		n += sub.missing(published)
	}
	return n
}

// publisher publishes acknowledged events at the publish rate, the topics in
// turn, and one bulk event (for the stalled subscriber) per ten.
type publisher struct {
	s       *soak
	m       *member
	pad     string
	mu      sync.Mutex
	pending map[wamp.ID]time.Time
	sent    [soakTopics]int64 // by topic; read after the loop ends
}

func (p *publisher) loop(ctx context.Context) {
	t := time.NewTicker(soakTick)
	defer t.Stop()
	budget, last := 0.0, time.Now()
	for n := int64(0); ; {
		select {
		case <-ctx.Done():
			p.drain()
			return
		case now := <-t.C:
			budget = min(budget+p.s.so.publishRate*now.Sub(last).Seconds(), pubWindow)
			last = now
			p.expire(now)
			for ; budget >= 1 && p.inFlight() < pubWindow; n++ {
				if !p.publish(n) {
					return
				}
				budget--
			}
		}
	}
}

// publish sends the nth publication, and after every tenth a bulk one.
func (p *publisher) publish(n int64) bool {
	k := n % soakTopics
	ok := p.send(p.s.topic(int(k)), []any{k, p.sent[k], time.Now().UnixNano()})
	p.sent[k]++
	p.s.st.published.Add(1)
	if ok && n%10 == 9 {
		ok = p.send(p.s.uri("bulk"), []any{n, p.pad})
		p.s.st.bulk.Add(1)
	}
	return ok
}

func (p *publisher) send(topic wamp.URI, args []any) bool {
	payload, err := serializers.EncodePayload(p.m.ser.Encoding(), args, nil)
	if err != nil {
		return false
	}
	id := p.m.id()
	p.mu.Lock()
	p.pending[id] = time.Now()
	p.mu.Unlock()
	return p.m.send(&wamp.Publish{Request: id, Options: wamp.Dict{"acknowledge": true}, Topic: topic, Payload: payload}) == nil
}

func (p *publisher) inFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// ack takes PUBLISHED and ERROR answers.
func (p *publisher) ack(msg wamp.Message) {
	var id wamp.ID
	switch m := msg.(type) {
	case *wamp.Published:
		id = m.Request
	case *wamp.Error:
		id = m.Request
		p.s.fail(&p.s.st.publishFailures, "publication %d refused: %s", m.Request, m.Error)
	default:
		return
	}
	p.mu.Lock()
	delete(p.pending, id)
	p.mu.Unlock()
}

// expire counts the publications unacknowledged for longer than the answer timeout.
func (p *publisher) expire(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, sent := range p.pending {
		if now.Sub(sent) > p.s.so.answerTimeout {
			delete(p.pending, id)
			p.s.fail(&p.s.st.publishFailures, "publication %d unacknowledged after %s", id, p.s.so.answerTimeout)
		}
	}
}

// drain waits for the acknowledgements still due, at most the answer timeout.
func (p *publisher) drain() {
	end := time.Now().Add(p.s.so.answerTimeout)
	for p.inFlight() > 0 && time.Now().Before(end) {
		time.Sleep(soakTick)
	}
	p.expire(time.Now().Add(p.s.so.answerTimeout + time.Nanosecond))
}
