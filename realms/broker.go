package realms

import (
	"errors"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// ErrNoSuchSubscription: the session has no subscription with that id.
var ErrNoSuchSubscription = errors.New("realms: no such subscription")

// Subscription is one topic (or topic pattern) subscribed by one or more
// sessions. It is immutable: a change replaces it, so a reader can iterate
// Subscribers without a lock. The replacement shares the unchanged chunks
// of Subscribers (see Recipients), so a change costs
// O(RecipientChunk + subscribers/RecipientChunk), not O(subscribers).
type Subscription struct {
	ID          wamp.ID
	Topic       wamp.URI
	Match       wamp.MatchPolicy // exact, prefix or wildcard
	Created     time.Time
	Subscribers Recipients
}

func (s *Subscription) key() tableKey    { return tableKey{s.Match, s.Topic} }
func (s *Subscription) entryID() wamp.ID { return s.ID }

// Broker is the pub/sub routing table of a realm. Its table keeps, for each
// session, its position among the Subscribers of each of its subscriptions:
// membership and the slot to free on removal, both without a scan.
type Broker struct {
	table[Subscription, *Subscription, int32]
}

// NewBroker returns an empty broker.
func NewBroker() *Broker {
	b := &Broker{}
	b.init()
	return b
}

// Subscribe adds s to the subscription of topic under match, creating it if
// needed. created reports a new subscription; subscribing twice returns the
// same one.
func (b *Broker) Subscribe(s Recipient, topic wamp.URI, match wamp.MatchPolicy) (sub *Subscription, created bool) {
	return b.SubscribeAs(s, topic, match, 0)
}

// SubscribeAs is Subscribe, giving a subscription it creates the id id
// unless id is 0 or taken: a cluster node takes the id another node chose.
// Sessions are told apart by their SessionID.
func (b *Broker) SubscribeAs(s Recipient, topic wamp.URI, match wamp.MatchPolicy, id wamp.ID) (sub *Subscription, created bool) {
	match = match.Norm()
	b.mu.Lock()
	defer b.mu.Unlock()
	sub = b.byKey[tableKey{match, topic}]
	if sub == nil {
		sub = &Subscription{ID: b.newID(id), Topic: topic, Match: match, Created: time.Now()}
		created = true
	}
	if !b.own(s.SessionID(), sub.ID, int32(sub.Subscribers.Len())) {
		return sub, created
	}
	return b.replace(sub, sub.Subscribers.with(s)), created
}

// replace installs a copy of sub with new subscribers (none: removes it) and
// returns the copy.
func (b *Broker) replace(sub *Subscription, subscribers Recipients) *Subscription {
	var next *Subscription
	if subscribers.Len() > 0 {
		next = &Subscription{ID: sub.ID, Topic: sub.Topic, Match: sub.Match, Created: sub.Created, Subscribers: subscribers}
	}
	return b.put(sub, next)
}

// Unsubscribe removes s from subscription id. deleted reports that the
// subscription went away with its last subscriber.
func (b *Broker) Unsubscribe(s Recipient, id wamp.ID) (sub *Subscription, deleted bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	pos, ok := b.disown(s.SessionID(), id)
	if !ok {
		return nil, false, ErrNoSuchSubscription
	}
	sub = b.byID[id]
	return sub, b.removeSubscriber(sub, pos), nil
}

// removeSubscriber replaces sub by a copy without its subscriber at
// position pos, whose bySession entry the caller removes, and moves the
// entry of the subscriber that takes its place. deleted reports that sub
// had no other subscriber and is gone.
func (b *Broker) removeSubscriber(sub *Subscription, pos int32) (deleted bool) {
	if sub == nil {
		return false
	}
	next, moved := sub.Subscribers.without(int(pos))
	if moved != nil {
		b.bySession[moved.SessionID()][sub.ID] = pos
	}
	return b.replace(sub, next) == nil
}

// Subscribed reports whether s is a subscriber of subscription id, without
// scanning its subscribers.
func (b *Broker) Subscribed(s Recipient, id wamp.ID) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.bySession[s.SessionID()][id]
	return ok
}

// SubscriptionRemoval is a subscription a leaving session was removed from.
type SubscriptionRemoval struct {
	*Subscription
	Deleted bool // it had no other subscriber and is gone
}

// RemoveSession removes s from every subscription it has.
func (b *Broker) RemoveSession(s Recipient) (removed []SubscriptionRemoval) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, pos := range b.bySession[s.SessionID()] {
		if sub := b.byID[id]; sub != nil {
			removed = append(removed, SubscriptionRemoval{sub, b.removeSubscriber(sub, pos)})
		}
	}
	delete(b.bySession, s.SessionID())
	return removed
}

// Match appends to buf the subscriptions matching topic: the exact one,
// then the prefix ones (shortest first), then the wildcard ones (in the
// dealer's precedence: a literal component before a wildcard, from the
// left), then any of another match policy. The returned values are
// immutable. It holds the read lock while it walks the pattern index, which
// costs O(components of topic) plus the nodes of patterns compatible with
// it (see patternIndex), not O(subscriptions).
func (b *Broker) Match(buf []*Subscription, topic wamp.URI) []*Subscription {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if sub := b.exact(topic); sub != nil {
		buf = append(buf, sub)
	}
	buf = b.patterns.appendPrefixes(buf, string(topic))
	buf = b.patterns.appendWildcards(buf, string(topic), 0)
	return b.patterns.appendOthers(buf, string(topic))
}
