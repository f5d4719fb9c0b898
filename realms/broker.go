package realms

import (
	"errors"
	"slices"
	"sync"

	"github.com/junction-wamp/junction/wamp"
)

// ErrNoSuchSubscription: the session has no subscription with that id.
var ErrNoSuchSubscription = errors.New("realms: no such subscription")

// Subscription is one topic subscribed by one or more sessions. Subscribers is
// a copy-on-write snapshot: never modify it, read it without a lock.
type Subscription struct {
	ID          wamp.ID
	Topic       wamp.URI
	Subscribers []Recipient
}

// Broker is the pub/sub routing table of a realm.
type Broker struct {
	mu        sync.RWMutex
	byTopic   map[wamp.URI]*Subscription
	byID      map[wamp.ID]*Subscription
	bySession map[wamp.ID]map[wamp.ID]struct{}
	ids       wamp.Sequence
}

// NewBroker returns an empty broker.
func NewBroker() *Broker {
	return &Broker{
		byTopic:   make(map[wamp.URI]*Subscription),
		byID:      make(map[wamp.ID]*Subscription),
		bySession: make(map[wamp.ID]map[wamp.ID]struct{}),
	}
}

// Subscribe adds s to the subscription of topic, creating it if needed, and
// returns the subscription id. Subscribing twice returns the same id.
func (b *Broker) Subscribe(s Recipient, topic wamp.URI) wamp.ID {
	b.mu.Lock()
	defer b.mu.Unlock()
	sub := b.byTopic[topic]
	if sub == nil {
		sub = &Subscription{ID: b.ids.Next(), Topic: topic}
		b.byTopic[topic] = sub
		b.byID[sub.ID] = sub
	}
	if !slices.Contains(sub.Subscribers, s) {
		// Copy on write: readers may hold the old slice.
		next := make([]Recipient, len(sub.Subscribers), len(sub.Subscribers)+1)
		copy(next, sub.Subscribers)
		b.replace(sub, append(next, s))
	}
	own := b.bySession[s.SessionID()]
	if own == nil {
		own = make(map[wamp.ID]struct{})
		b.bySession[s.SessionID()] = own
	}
	own[sub.ID] = struct{}{}
	return sub.ID
}

// replace swaps the subscriber snapshot. The Subscription value itself is
// replaced so a reader holding the old *Subscription keeps a consistent view.
func (b *Broker) replace(sub *Subscription, subscribers []Recipient) {
	next := &Subscription{ID: sub.ID, Topic: sub.Topic, Subscribers: subscribers}
	b.byTopic[sub.Topic] = next
	b.byID[sub.ID] = next
}

// Unsubscribe removes s from subscription id.
func (b *Broker) Unsubscribe(s Recipient, id wamp.ID) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	own := b.bySession[s.SessionID()]
	if _, ok := own[id]; !ok {
		return ErrNoSuchSubscription
	}
	delete(own, id)
	if len(own) == 0 {
		delete(b.bySession, s.SessionID())
	}
	b.removeSubscriber(b.byID[id], s)
	return nil
}

func (b *Broker) removeSubscriber(sub *Subscription, s Recipient) {
	if sub == nil {
		return
	}
	next := slices.DeleteFunc(slices.Clone(sub.Subscribers), func(r Recipient) bool { return r == s })
	if len(next) == 0 {
		delete(b.byTopic, sub.Topic)
		delete(b.byID, sub.ID)
		return
	}
	b.replace(sub, next)
}

// RemoveSession removes every subscription of s.
func (b *Broker) RemoveSession(s Recipient) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id := range b.bySession[s.SessionID()] {
		b.removeSubscriber(b.byID[id], s)
	}
	delete(b.bySession, s.SessionID())
}

// Match returns the subscription whose topic matches topic, or nil. The
// returned value is immutable.
func (b *Broker) Match(topic wamp.URI) *Subscription {
	b.mu.RLock()
	sub := b.byTopic[topic]
	b.mu.RUnlock()
	return sub
}

// Count is the number of subscriptions.
func (b *Broker) Count() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.byID)
}
