package router

import (
	"fmt"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

func (s *session) handleSubscribe(m *wamp.Subscribe) {
	if !s.validURI(m.Topic) {
		s.sendError(wamp.SUBSCRIBE, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("invalid topic URI %q", m.Topic))
		return
	}
	if match, ok := matchPolicy(m.Options); !ok {
		s.sendError(wamp.SUBSCRIBE, m.Request, wamp.ErrInvalidArgument, fmt.Sprintf("match policy %q is not supported", match))
		return
	}
	id := s.realm.Broker.Subscribe(s, m.Topic)
	_ = s.send(&wamp.Subscribed{Request: m.Request, Subscription: id})
}

func (s *session) handleUnsubscribe(m *wamp.Unsubscribe) {
	if err := s.realm.Broker.Unsubscribe(s, m.Subscription); err != nil {
		s.sendError(wamp.UNSUBSCRIBE, m.Request, wamp.ErrNoSuchSubscription,
			fmt.Sprintf("no subscription %d in this session", m.Subscription))
		return
	}
	_ = s.send(&wamp.Unsubscribed{Request: m.Request})
}

// handlePublish delivers an event to the subscribers of the topic. The event is
// encoded once per serializer in use among them, and the same frame is queued
// to each: the payload is never decoded, and compressed once if at all.
func (s *session) handlePublish(m *wamp.Publish) {
	ack := m.Options.Bool(wamp.OptAcknowledge, false)
	if !s.validURI(m.Topic) {
		if ack {
			s.sendError(wamp.PUBLISH, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("invalid topic URI %q", m.Topic))
		}
		return
	}
	pub := wamp.GlobalID()
	if sub := s.realm.Broker.Match(m.Topic); sub != nil {
		excludeMe := m.Options.Bool(wamp.OptExcludeMe, true)
		ev := &wamp.Event{Subscription: sub.ID, Publication: pub, Details: wamp.Dict{}, Payload: m.Payload}
		s.fanout(ev, sub.Subscribers, excludeMe)
	}
	if ack {
		_ = s.send(&wamp.Published{Request: m.Request, Publication: pub})
	}
}

// fanout queues ev to every recipient (but the publisher when excludeMe).
func (s *session) fanout(ev *wamp.Event, recipients []realmsRecipient, excludeMe bool) {
	var frames [4]*transport.Frame // by wamp.Encoding
	var failed [4]bool
	for _, rc := range recipients {
		to := rc.(*session)
		if excludeMe && to == s {
			continue
		}
		f := frames[to.encoding]
		if f == nil {
			if failed[to.encoding] {
				continue
			}
			data, err := to.peer.Serializer().Encode(ev)
			if err != nil {
				failed[to.encoding] = true
				s.log.Error("cannot encode event for subscribers", "serializer", to.peer.Serializer().Name(),
					"subscription", uint64(ev.Subscription), "error", err)
				continue
			}
			f = transport.NewFrame(data, to.binary)
			frames[to.encoding] = f
		}
		// An error means the subscriber is closing; the transport logged why.
		_ = to.peer.SendFrame(f)
	}
}
