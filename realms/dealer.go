package realms

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// Errors returned by the dealer.
var (
	ErrProcedureExists    = errors.New("realms: procedure already registered")
	ErrNoSuchRegistration = errors.New("realms: no such registration")
)

// Registration is a procedure (or procedure pattern) registered by one or
// more callees (shared registration). It is immutable: a change replaces it.
type Registration struct {
	ID        wamp.ID
	Procedure wamp.URI
	Match     wamp.MatchPolicy  // exact, prefix or wildcard
	Invoke    wamp.InvokePolicy // single, roundrobin, random, first or last
	Created   time.Time
	Callees   []Recipient // in order of registration
	RegisterOptions
	turn *atomic.Uint64
}

// RegisterOptions are options the first callee of a registration sets for it.
type RegisterOptions struct {
	DiscloseCaller bool // REGISTER.Options.disclose_caller
	ForwardTimeout bool // REGISTER.Options.forward_timeout
}

// Pick returns the callee to invoke under the registration's policy.
func (r *Registration) Pick() Recipient {
	switch r.Invoke {
	case wamp.InvokeRoundRobin:
		return r.Callees[(r.turn.Add(1)-1)%uint64(len(r.Callees))]
	case wamp.InvokeRandom:
		return r.Callees[rand.IntN(len(r.Callees))]
	case wamp.InvokeLast:
		return r.Callees[len(r.Callees)-1]
	}
	return r.Callees[0]
}

// PickAvoiding is Pick passing over the callees avoid reports (those of a
// cluster node that is draining) while another callee can take the call:
// roundrobin and random take turns or pick at random among those not
// avoided (the turn advances once a call, whatever other callers do
// meanwhile), first and last take the first and last of them. When every
// callee is avoided it is Pick.
func (r *Registration) PickAvoiding(avoid func(Recipient) bool) Recipient {
	n := len(r.Callees)
	if r.Invoke == wamp.InvokeRoundRobin {
		turn := r.turn.Add(1) - 1
		if c := r.Callees[turn%uint64(n)]; !avoid(c) {
			return c
		}
		if ok := r.countNotAvoided(avoid); ok > 0 {
			if c := r.notAvoided(avoid, int(turn%uint64(ok))); c != nil {
				return c
			}
		}
		return r.Callees[turn%uint64(n)]
	}
	c := r.Pick()
	if n == 1 || !avoid(c) {
		return c
	}
	switch r.Invoke {
	case wamp.InvokeRandom:
		if ok := r.countNotAvoided(avoid); ok > 0 {
			if c := r.notAvoided(avoid, rand.IntN(ok)); c != nil {
				return c
			}
		}
	case wamp.InvokeLast:
		for i := n - 1; i >= 0; i-- {
			if !avoid(r.Callees[i]) {
				return r.Callees[i]
			}
		}
	default:
		for _, rc := range r.Callees {
			if !avoid(rc) {
				return rc
			}
		}
	}
	return c
}

// countNotAvoided is the number of callees avoid does not report.
func (r *Registration) countNotAvoided(avoid func(Recipient) bool) int {
	ok := 0
	for _, c := range r.Callees {
		if !avoid(c) {
			ok++
		}
	}
	return ok
}

// notAvoided is the k-th callee (from 0) that avoid does not report; nil
// if there are fewer now (a node began to drain since they were counted).
func (r *Registration) notAvoided(avoid func(Recipient) bool, k int) Recipient {
	for _, c := range r.Callees {
		if !avoid(c) {
			if k == 0 {
				return c
			}
			k--
		}
	}
	return nil
}

func (r *Registration) key() tableKey    { return tableKey{r.Match, r.Procedure} }
func (r *Registration) entryID() wamp.ID { return r.ID }

// Dealer is the RPC routing table of a realm.
type Dealer struct {
	table[Registration, *Registration, struct{}]
}

// NewDealer returns an empty dealer.
func NewDealer() *Dealer {
	d := &Dealer{}
	d.init()
	return d
}

// Register registers procedure under match for callee s with invocation
// policy invoke. A procedure already registered is shared only when both
// registrations ask for the same policy, other than single.
func (d *Dealer) Register(s Recipient, procedure wamp.URI, match wamp.MatchPolicy, invoke wamp.InvokePolicy, opts RegisterOptions) (reg *Registration, created bool, err error) {
	return d.RegisterAs(s, procedure, match, invoke, opts, 0)
}

// RegisterAs is Register, giving a registration it creates the id id
// unless id is 0 or taken: a cluster node takes the id another node chose.
func (d *Dealer) RegisterAs(s Recipient, procedure wamp.URI, match wamp.MatchPolicy, invoke wamp.InvokePolicy, opts RegisterOptions, id wamp.ID) (reg *Registration, created bool, err error) {
	match = match.Norm()
	if invoke == "" {
		invoke = wamp.InvokeSingle
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	reg = d.byKey[tableKey{match, procedure}]
	if reg == nil {
		reg = &Registration{ID: d.newID(id), Procedure: procedure, Match: match, Invoke: invoke, Created: time.Now(),
			RegisterOptions: opts, turn: new(atomic.Uint64)}
		created = true
	} else if invoke == wamp.InvokeSingle || reg.Invoke != invoke || slices.Contains(reg.Callees, s) {
		return nil, false, ErrProcedureExists
	}
	reg = d.replace(reg, append(slices.Clone(reg.Callees), s))
	d.own(s.SessionID(), reg.ID, struct{}{})
	return reg, created, nil
}

// replace installs a copy of reg with new callees (none: removes it).
func (d *Dealer) replace(reg *Registration, callees []Recipient) *Registration {
	var next *Registration
	if len(callees) > 0 {
		cp := *reg
		cp.Callees = callees
		next = &cp
	}
	return d.put(reg, next)
}

// Unregister removes callee s from registration id. deleted reports that the
// registration went away with its last callee.
func (d *Dealer) Unregister(s Recipient, id wamp.ID) (reg *Registration, deleted bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.disown(s.SessionID(), id); !ok {
		return nil, false, ErrNoSuchRegistration
	}
	reg = d.byID[id]
	return reg, d.removeCallee(reg, s), nil
}

func (d *Dealer) removeCallee(reg *Registration, s Recipient) (deleted bool) {
	if reg == nil {
		return false
	}
	next := slices.DeleteFunc(slices.Clone(reg.Callees), func(r Recipient) bool { return r == s })
	return d.replace(reg, next) == nil
}

// RegistrationRemoval is a registration a leaving session was removed from.
type RegistrationRemoval struct {
	*Registration
	Deleted bool // it had no other callee and is gone
}

// RemoveSession removes callee s from all its registrations.
func (d *Dealer) RemoveSession(s Recipient) (removed []RegistrationRemoval) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id := range d.bySession[s.SessionID()] {
		if reg := d.byID[id]; reg != nil {
			removed = append(removed, RegistrationRemoval{reg, d.removeCallee(reg, s)})
		}
	}
	delete(d.bySession, s.SessionID())
	return removed
}

// Match returns the registration a call of procedure goes to, with the spec's
// precedence: exact, then the longest prefix, then the best wildcard; nil if
// none matches. Registrations of another match policy are never routed to.
// It walks the pattern index under the read lock (see patternIndex).
func (d *Dealer) Match(procedure wamp.URI) *Registration {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if reg := d.exact(procedure); reg != nil {
		return reg
	}
	var found [8]*Registration
	if prefixes := d.patterns.appendPrefixes(found[:0], string(procedure)); len(prefixes) > 0 {
		return prefixes[len(prefixes)-1] // the longest
	}
	if best := d.patterns.appendWildcards(found[:0], string(procedure), 1); len(best) > 0 {
		return best[0]
	}
	return nil
}

// Rekey gives registration reg the id to instead, keeping everything else
// (callees, options, creation time), and returns it; nil if reg is no
// longer current (a callee joined or left it since it was read) or to is
// taken. A cluster node uses it so that a registration whose callees are
// all on other nodes has the same id as on theirs: a callee that joined
// meanwhile was told the id reg had, and keeps it.
func (d *Dealer) Rekey(reg *Registration, to wamp.ID) *Registration {
	d.mu.Lock()
	defer d.mu.Unlock()
	id := reg.ID
	if d.byID[id] != reg || to == 0 || d.byID[to] != nil {
		return nil
	}
	cp := *reg
	cp.ID = to
	d.put(reg, nil)
	d.put(&cp, &cp)
	for _, c := range cp.Callees {
		if _, ok := d.disown(c.SessionID(), id); ok {
			d.own(c.SessionID(), to, struct{}{})
		}
	}
	return &cp
}
