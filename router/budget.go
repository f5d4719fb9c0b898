package router

import "sync/atomic"

// addressBudget is what the sessions of one client address hold together.
// The per-session bounds stop one session; this stops one address from
// multiplying them by its max_sessions_per_address sessions (1,000
// sessions of 10,000 subscriptions each would be some 5 GB).
//
// The counters are atomics shared by the address's sessions, so they cost
// an uncontended add on the hot path (a call) except among sessions of the
// same address. A bound is checked before the resource is taken and
// counted after, so concurrent sessions of an address can pass it by at
// most one each: a bound, not an exact quota.
type addressBudget struct {
	sessions int // under Router.sessionsMu

	subscriptions  atomic.Int64
	registrations  atomic.Int64
	calls          atomic.Int64
	testamentBytes atomic.Int64
}

// held is what one session has counted in its address's budget for the
// resources the realm's broker and dealer keep (the session does not see
// every change to them: a session's subscriptions also go when it leaves),
// so that syncHeld can add the difference.
type held struct {
	subscriptions atomic.Int64
	registrations atomic.Int64
}

// overAddress reports whether s's address already holds its bound of
// counter (n: the bound). Sessions without an address budget (the
// router's own, other nodes' proxies) have none.
func (s *session) overAddress(counter func(*addressBudget) *atomic.Int64, n int) bool {
	return s.budget != nil && counter(s.budget).Load() >= int64(n)
}

func subscriptionsOf(b *addressBudget) *atomic.Int64  { return &b.subscriptions }
func registrationsOf(b *addressBudget) *atomic.Int64  { return &b.registrations }
func callsOf(b *addressBudget) *atomic.Int64          { return &b.calls }
func testamentBytesOf(b *addressBudget) *atomic.Int64 { return &b.testamentBytes }

// syncHeld brings s's address budget up to date with the subscriptions and
// registrations s holds in its realm now. It runs after each SUBSCRIBE,
// UNSUBSCRIBE, REGISTER and UNREGISTER of s, and when s leaves (it then
// holds none): a change s did not make (a meta procedure removing it) is
// counted at its next sync, and nothing stays counted once it has left.
func (s *session) syncHeld() {
	if s.budget == nil {
		return
	}
	subs := int64(s.realm.Broker.SessionCount(s))
	regs := int64(s.realm.Dealer.SessionCount(s))
	s.budget.subscriptions.Add(subs - s.held.subscriptions.Swap(subs))
	s.budget.registrations.Add(regs - s.held.registrations.Swap(regs))
}

// countCalls adds n (negative: ends) to the calls in flight of s's address.
func (s *session) countCalls(n int) {
	if s.budget != nil && n != 0 {
		s.budget.calls.Add(int64(n))
	}
}

// countTestamentBytes adds n (negative: released) to the testament bytes
// of s's address.
func (s *session) countTestamentBytes(n int) {
	if s.budget != nil && n != 0 {
		s.budget.testamentBytes.Add(int64(n))
	}
}
