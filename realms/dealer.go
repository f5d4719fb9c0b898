package realms

import (
	"errors"
	"sync"

	"github.com/junction-wamp/junction/wamp"
)

// Errors returned by the dealer.
var (
	ErrProcedureExists    = errors.New("realms: procedure already registered")
	ErrNoSuchRegistration = errors.New("realms: no such registration")
)

// Registration is a procedure registered by a callee. It is immutable.
type Registration struct {
	ID        wamp.ID
	Procedure wamp.URI
	Callee    Recipient
}

// Dealer is the RPC routing table of a realm.
type Dealer struct {
	mu        sync.RWMutex
	byProc    map[wamp.URI]*Registration
	byID      map[wamp.ID]*Registration
	bySession map[wamp.ID]map[wamp.ID]struct{}
	ids       wamp.Sequence
}

// NewDealer returns an empty dealer.
func NewDealer() *Dealer {
	return &Dealer{
		byProc:    make(map[wamp.URI]*Registration),
		byID:      make(map[wamp.ID]*Registration),
		bySession: make(map[wamp.ID]map[wamp.ID]struct{}),
	}
}

// Register registers procedure for callee s.
func (d *Dealer) Register(s Recipient, procedure wamp.URI) (wamp.ID, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.byProc[procedure]; ok {
		return 0, ErrProcedureExists
	}
	reg := &Registration{ID: d.ids.Next(), Procedure: procedure, Callee: s}
	d.byProc[procedure] = reg
	d.byID[reg.ID] = reg
	own := d.bySession[s.SessionID()]
	if own == nil {
		own = make(map[wamp.ID]struct{})
		d.bySession[s.SessionID()] = own
	}
	own[reg.ID] = struct{}{}
	return reg.ID, nil
}

// Unregister removes registration id of callee s.
func (d *Dealer) Unregister(s Recipient, id wamp.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	own := d.bySession[s.SessionID()]
	if _, ok := own[id]; !ok {
		return ErrNoSuchRegistration
	}
	delete(own, id)
	if len(own) == 0 {
		delete(d.bySession, s.SessionID())
	}
	d.remove(id)
	return nil
}

func (d *Dealer) remove(id wamp.ID) {
	if reg := d.byID[id]; reg != nil {
		delete(d.byProc, reg.Procedure)
		delete(d.byID, id)
	}
}

// RemoveSession removes every registration of s.
func (d *Dealer) RemoveSession(s Recipient) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id := range d.bySession[s.SessionID()] {
		d.remove(id)
	}
	delete(d.bySession, s.SessionID())
}

// Match returns the registration for procedure, or nil.
func (d *Dealer) Match(procedure wamp.URI) *Registration {
	d.mu.RLock()
	reg := d.byProc[procedure]
	d.mu.RUnlock()
	return reg
}

// Count is the number of registrations.
func (d *Dealer) Count() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.byID)
}
