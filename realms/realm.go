package realms

import (
	"sync"

	"github.com/junction-wamp/junction/wamp"
)

// Recipient is a session as the realm sees it: something with a session id that
// messages can be routed to. The router's session implements it.
type Recipient interface {
	SessionID() wamp.ID
}

// Realm is one routing domain: the sessions joined to it, its broker and its dealer.
type Realm struct {
	Name   wamp.URI
	Broker *Broker
	Dealer *Dealer

	mu       sync.RWMutex
	sessions map[wamp.ID]Recipient
}

// New returns an empty realm.
func New(name wamp.URI) *Realm {
	return &Realm{
		Name:     name,
		Broker:   NewBroker(),
		Dealer:   NewDealer(),
		sessions: make(map[wamp.ID]Recipient),
	}
}

// Join adds a session to the realm.
func (r *Realm) Join(s Recipient) {
	r.mu.Lock()
	r.sessions[s.SessionID()] = s
	r.mu.Unlock()
}

// Leave removes a session and everything it subscribed or registered, and
// returns the subscriptions and registrations that went away with it.
func (r *Realm) Leave(s Recipient) ([]SubscriptionRemoval, []RegistrationRemoval) {
	r.mu.Lock()
	delete(r.sessions, s.SessionID())
	r.mu.Unlock()
	return r.Broker.RemoveSession(s), r.Dealer.RemoveSession(s)
}

// Session returns the joined session with id.
func (r *Realm) Session(id wamp.ID) (Recipient, bool) {
	r.mu.RLock()
	s, ok := r.sessions[id]
	r.mu.RUnlock()
	return s, ok
}

// Sessions returns a snapshot of the joined sessions.
func (r *Realm) Sessions() []Recipient {
	r.mu.RLock()
	out := make([]Recipient, 0, len(r.sessions))
	for _, s := range r.sessions {
		out = append(out, s)
	}
	r.mu.RUnlock()
	return out
}

// SessionCount is the number of joined sessions.
func (r *Realm) SessionCount() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.sessions)
}
