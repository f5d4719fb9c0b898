package clientlib

import (
	"context"
	"fmt"
	"sync"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// Event is an event received on a subscription.
type Event struct {
	Topic        string
	Publication  wamp.ID
	Subscription wamp.ID
	Args         []any
	Kwargs       map[string]any
	Details      wamp.Dict
}

// EventHandler receives the events of a subscription, one at a time, in order.
type EventHandler func(ev *Event)

// SubscribeOptions are SUBSCRIBE options.
type SubscribeOptions struct {
	Match       wamp.MatchPolicy // "exact" (default), "prefix" or "wildcard"
	GetRetained bool             // ask for the topic's retained event
	Extra       wamp.Dict
}

// Subscription is a subscribed topic. ID is the subscription id the
// router gave it first; with Reconnect, each new session gives another
// (Unsubscribe knows it).
type Subscription struct {
	ID    wamp.ID
	Topic string
	rec   *appSub
}

// PublishOptions are PUBLISH options.
type PublishOptions struct {
	Acknowledge bool  // wait for PUBLISHED (or ERROR)
	ExcludeMe   *bool // nil: the router's default (excluded)
	DiscloseMe  bool  // disclose the publisher to subscribers
	Retain      bool  // keep as the topic's retained event
	// Black and white lists of subscribers (nil: no list).
	Exclude, Eligible                 []wamp.ID
	ExcludeAuthID, EligibleAuthID     []string
	ExcludeAuthRole, EligibleAuthRole []string
	Extra                             wamp.Dict
}

func (o *PublishOptions) dict() wamp.Dict {
	d := wamp.Dict{}
	for k, v := range o.Extra {
		d[k] = v
	}
	if o.Acknowledge {
		d[wamp.OptAcknowledge] = true
	}
	if o.ExcludeMe != nil {
		d[wamp.OptExcludeMe] = *o.ExcludeMe
	}
	if o.DiscloseMe {
		d[wamp.OptDiscloseMe] = true
	}
	if o.Retain {
		d["retain"] = true
	}
	ids := func(key string, l []wamp.ID) {
		if l != nil {
			out := make([]any, len(l))
			for i, id := range l {
				out[i] = uint64(id)
			}
			d[key] = out
		}
	}
	strs := func(key string, l []string) {
		if l != nil {
			out := make([]any, len(l))
			for i, s := range l {
				out[i] = s
			}
			d[key] = out
		}
	}
	ids("exclude", o.Exclude)
	ids("eligible", o.Eligible)
	strs("exclude_authid", o.ExcludeAuthID)
	strs("eligible_authid", o.EligibleAuthID)
	strs("exclude_authrole", o.ExcludeAuthRole)
	strs("eligible_authrole", o.EligibleAuthRole)
	return d
}

// subscription delivers events of one subscription in order on one goroutine
// at a time, with an unbounded queue: the read loop never blocks on a handler
// and no event is dropped.
type subscription struct {
	topic    string
	handlers []EventHandler

	mu      sync.Mutex
	queue   []*Event
	running bool
}

func (s *subscription) push(ev *Event) {
	s.mu.Lock()
	s.queue = append(s.queue, ev)
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.run()
	}
}

func (s *subscription) run() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		ev := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		handlers := s.handlers
		s.mu.Unlock()
		for _, h := range handlers {
			h(ev)
		}
	}
}

// Subscribe subscribes to topic with handler h.
func (c *Client) Subscribe(ctx context.Context, topic string, h EventHandler, opts *SubscribeOptions) (*Subscription, error) {
	options := wamp.Dict{}
	if opts != nil {
		for k, v := range opts.Extra {
			options[k] = v
		}
		if opts.Match != "" {
			options[wamp.OptMatch] = string(opts.Match)
		}
		if opts.GetRetained {
			options["get_retained"] = true
		}
	}
	a := &appSub{topic: topic, options: options, handler: h}
	l, err := c.current(ctx, c.waits())
	if err != nil {
		return nil, err
	}
	if err := c.subscribeOn(ctx, l, a); err != nil {
		return nil, err
	}
	if err := c.keep(l, func() { c.subs = append(c.subs, a) }); err != nil {
		return nil, err
	}
	return &Subscription{ID: a.id, Topic: topic, rec: a}, nil
}

// subscribeOn subscribes a on session l.
func (c *Client) subscribeOn(ctx context.Context, l *link, a *appSub) error {
	install := func(l *link, m wamp.Message) {
		sub, ok := m.(*wamp.Subscribed)
		if !ok {
			return
		}
		c.mu.Lock()
		if s := l.subs[sub.Subscription]; s != nil { // the router reuses a subscription per topic
			s.mu.Lock()
			s.handlers = append(append([]EventHandler(nil), s.handlers...), a.handler)
			s.mu.Unlock()
		} else {
			l.subs[sub.Subscription] = &subscription{topic: a.topic, handlers: []EventHandler{a.handler}}
		}
		a.link, a.id = l, sub.Subscription
		c.mu.Unlock()
	}
	// A SUBSCRIBED that comes once the SUBSCRIBE was given up is taken
	// back, unless the router's subscription is another Subscribe's too
	// (the router has one per topic and match in a session): one of this
	// session's, or one awaiting its answer. l.subscribing orders that
	// decision and its UNSUBSCRIBE with the SUBSCRIBEs written.
	key := a.topic + "\x00" + matchOf(a.options)
	late := func(l *link, m wamp.Message) {
		sub, ok := m.(*wamp.Subscribed)
		if !ok {
			return
		}
		l.subscribing.Lock()
		defer l.subscribing.Unlock()
		c.mu.Lock()
		shared := l.subs[sub.Subscription] != nil || l.inflight[key] > 0
		c.mu.Unlock()
		if shared {
			c.log.Debug("SUBSCRIBED after its SUBSCRIBE was given up: kept, another Subscribe shares it", "topic", a.topic, "subscription", uint64(sub.Subscription))
			return
		}
		c.log.Info("SUBSCRIBED after its SUBSCRIBE was given up: unsubscribing", "topic", a.topic, "subscription", uint64(sub.Subscription))
		c.discard(l, func(id wamp.ID) wamp.Message {
			return &wamp.Unsubscribe{Request: id, Subscription: sub.Subscription}
		})
	}
	c.mu.Lock()
	l.inflight[key]++
	c.mu.Unlock()
	reply, err := c.requestOn(ctx, l, request{build: func(id wamp.ID) wamp.Message {
		return &wamp.Subscribe{Request: id, Options: a.options, Topic: wamp.URI(a.topic)}
	}, hook: install, late: late, sending: &l.subscribing})
	c.mu.Lock()
	if l.inflight[key]--; l.inflight[key] == 0 {
		delete(l.inflight, key)
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if _, ok := reply.(*wamp.Subscribed); !ok {
		return fmt.Errorf("clientlib: SUBSCRIBE answered with %s", reply.MessageType())
	}
	return nil
}

// Unsubscribe ends a subscription: the router's, with every handler
// subscribed to the same topic in this session. With Reconnect, they are
// not restored on later sessions; while there is no session, there is
// nothing to tell a router and it returns nil.
func (c *Client) Unsubscribe(ctx context.Context, sub *Subscription) error {
	c.mu.Lock()
	l, id := c.link, sub.ID
	if a := sub.rec; a != nil {
		l, id = a.link, a.id
		kept := c.subs[:0:0]
		for _, x := range c.subs {
			if x != a && (x.link != l || x.id != id || l == nil) {
				kept = append(kept, x)
			}
		}
		c.subs = kept
	}
	c.mu.Unlock()
	if l == nil {
		if c.opts.Reconnect != nil && !c.closingNow() {
			return nil
		}
		return c.closedErr()
	}
	_, err := c.requestOn(ctx, l, request{build: func(rid wamp.ID) wamp.Message {
		return &wamp.Unsubscribe{Request: rid, Subscription: id}
	}})
	if err == nil {
		c.mu.Lock()
		delete(l.subs, id)
		c.mu.Unlock()
	}
	return err
}

// Publish publishes an event to topic. With Acknowledge it waits for the
// router's PUBLISHED and returns its ERROR as a *wamp.RPCError.
func (c *Client) Publish(ctx context.Context, topic string, args []any, kwargs map[string]any, opts *PublishOptions) error {
	if opts == nil {
		opts = &PublishOptions{}
	}
	options := opts.dict()
	ack := opts.Acknowledge
	build := func(id wamp.ID) wamp.Message {
		return &wamp.Publish{Request: id, Options: options, Topic: wamp.URI(topic), Payload: wamp.Values(args, kwargs)}
	}
	l, err := c.current(ctx, c.publishWaits())
	if err != nil {
		return err
	}
	if ack {
		_, err := c.requestOn(ctx, l, request{build: build})
		return err
	}
	c.mu.Lock()
	c.nextReq++
	id := c.nextReq
	c.mu.Unlock()
	return l.write(ctx, build(id))
}

// PublishAcknowledged publishes an event to topic as Publish does with
// Acknowledge set (whatever opts says), and returns the publication id of
// the router's PUBLISHED, or its ERROR as a *wamp.RPCError.
func (c *Client) PublishAcknowledged(ctx context.Context, topic string, args []any, kwargs map[string]any, opts *PublishOptions) (wamp.ID, error) {
	o := PublishOptions{}
	if opts != nil {
		o = *opts
	}
	o.Acknowledge = true
	options := o.dict()
	l, err := c.current(ctx, c.publishWaits())
	if err != nil {
		return 0, err
	}
	m, err := c.requestOn(ctx, l, request{build: func(id wamp.ID) wamp.Message {
		return &wamp.Publish{Request: id, Options: options, Topic: wamp.URI(topic), Payload: wamp.Values(args, kwargs)}
	}})
	if err != nil {
		return 0, err
	}
	pub, ok := m.(*wamp.Published)
	if !ok {
		return 0, fmt.Errorf("clientlib: PUBLISH answered with %s", m.MessageType())
	}
	return pub.Publication, nil
}

// event hands an EVENT to its subscription's queue.
func (c *Client) event(l *link, m *wamp.Event) {
	c.mu.Lock()
	sub := l.subs[m.Subscription]
	c.mu.Unlock()
	if sub == nil {
		return // unsubscribed meanwhile
	}
	args, kwargs, err := serializers.DecodePayload(&m.Payload)
	if err != nil {
		c.log.Error("undecodable event payload", "subscription", uint64(m.Subscription), "error", err)
		return
	}
	topic := sub.topic
	if t := m.Details.String("topic"); t != "" {
		topic = t
	}
	sub.push(&Event{Topic: topic, Publication: m.Publication, Subscription: m.Subscription, Args: args, Kwargs: kwargs, Details: m.Details})
}

// publishWaits reports whether a Publish waits for a session while the
// Client reconnects.
func (c *Client) publishWaits() bool {
	return c.opts.Reconnect == nil || c.opts.Reconnect.PublishWaits
}

// matchOf is a SUBSCRIBE's match policy, "" for exact.
func matchOf(options wamp.Dict) string {
	if m, _ := options[wamp.OptMatch].(string); m != string(wamp.MatchExact) {
		return m
	}
	return ""
}
