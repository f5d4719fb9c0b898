package router

import (
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"

	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/wamp"
)

// PreparedReload is a config checked by PrepareReload, ready to Apply. It
// changes nothing until Apply, which applies it once.
type PreparedReload struct {
	r       *Router
	cfg     Config
	confs   []*realmConf
	kept    []string // settings that differ but need a restart
	applied atomic.Bool
}

// ReloadResult is what Apply did.
type ReloadResult struct {
	RealmsAdded, RealmsRemoved []string
	// SessionsEnded counts the sessions ended: of a removed realm, or whose
	// principal, role, credentials or authentication method went away.
	SessionsEnded int
	// SubscriptionsRevoked and RegistrationsRevoked count what sessions
	// held that their role's new rules no longer grant.
	SubscriptionsRevoked, RegistrationsRevoked int
	// NeedsRestart names the settings that differ from the running ones
	// but cannot change live: they keep their running values.
	NeedsRestart []string
}

// Reload checks cfg and, if it is valid, applies it (PrepareReload, then
// Apply). An invalid cfg changes nothing; the error lists every problem.
func (r *Router) Reload(cfg Config) (ReloadResult, error) {
	p, err := r.PrepareReload(cfg)
	if err != nil {
		return ReloadResult{}, err
	}
	return p.Apply(), nil
}

// PrepareReload checks cfg as New would and compiles its realms, without
// changing anything: the error lists every invalid realm.
func (r *Router) PrepareReload(cfg Config) (*PreparedReload, error) {
	cfg = withDefaults(cfg)
	confs, err := compileRealms(cfg)
	if err != nil {
		return nil, err
	}
	p := &PreparedReload{r: r, cfg: cfg, confs: confs}
	p.keepRestartOnly(r.config())
	return p, nil
}

// keepRestartOnly gives p's config the running values of the settings that
// cannot change live (they are fixed in each realm's event store, or in the
// warning limiter), and notes those that differed.
func (p *PreparedReload) keepRestartOnly(old *Config) {
	keep := func(name string, cur any, next any, restore func()) {
		if !reflect.DeepEqual(cur, next) {
			p.kept = append(p.kept, name)
			restore()
		}
	}
	c := &p.cfg
	keep("router.max_retained_events", old.MaxRetainedEvents, c.MaxRetainedEvents, func() { c.MaxRetainedEvents = old.MaxRetainedEvents })
	keep("router.max_retained_bytes", old.MaxRetainedBytes, c.MaxRetainedBytes, func() { c.MaxRetainedBytes = old.MaxRetainedBytes })
	keep("router.max_history_bytes", old.MaxHistoryBytes, c.MaxHistoryBytes, func() { c.MaxHistoryBytes = old.MaxHistoryBytes })
	keep("log.limit_warning_interval", old.LimitWarningInterval, c.LimitWarningInterval, func() { c.LimitWarningInterval = old.LimitWarningInterval })
	running := make(map[string]*RealmConfig, len(old.Realms))
	for i := range old.Realms {
		running[old.Realms[i].Name] = &old.Realms[i]
	}
	for i, rc := range c.Realms {
		if o := running[rc.Name]; o != nil && p.confs[i] != nil {
			keep("realm "+rc.Name+" event_history", o.EventHistory, rc.EventHistory, func() {
				c.Realms[i].EventHistory = o.EventHistory
				p.confs[i].cfg.EventHistory = o.EventHistory
			})
		}
	}
}

// Apply makes the prepared config the router's. Limits apply from their
// next use (a session past a lowered bound keeps what it holds, and may
// take no more); realms are added and removed; each realm's methods,
// principals, roles and rules are swapped in one atomic store. Then every
// session is checked against its realm's new settings (see applyTo). It
// is serialized with other reloads; messages are routed meanwhile.
func (p *PreparedReload) Apply() ReloadResult {
	if p.applied.Swap(true) {
		return ReloadResult{}
	}
	r := p.r
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	res := ReloadResult{NeedsRestart: p.kept}
	cfg := p.cfg
	r.cfg.Store(&cfg)
	removed := r.swapRealms(p, &res)
	for _, s := range r.liveSessions() {
		if !s.established.Load() || s.internal {
			continue
		}
		if slices.Contains(removed, s.realm) {
			s.goAway("realm "+string(s.realm.Name)+" removed by a configuration reload", "realm removed")
			res.SessionsEnded++
			continue
		}
		ended, subs, regs := s.applyConf(s.realm.conf())
		res.SubscriptionsRevoked += subs
		res.RegistrationsRevoked += regs
		if ended {
			res.SessionsEnded++
		}
	}
	r.log.Info("configuration reloaded", "realms_added", res.RealmsAdded, "realms_removed", res.RealmsRemoved,
		"sessions_ended", res.SessionsEnded, "subscriptions_revoked", res.SubscriptionsRevoked,
		"registrations_revoked", res.RegistrationsRevoked)
	return res
}

// swapRealms installs the realms of p under the realm table's lock and
// returns those it removed: a realm no longer configured goes (a realm
// created on demand stays, unless the new config lists it), a new one is
// created, the others get their new settings.
func (r *Router) swapRealms(p *PreparedReload, res *ReloadResult) (removed []*realm) {
	r.realmsMu.Lock()
	defer r.realmsMu.Unlock()
	wanted := make(map[wamp.URI]bool, len(p.cfg.Realms))
	for i, rc := range p.cfg.Realms {
		name := wamp.URI(rc.Name)
		wanted[name] = true
		if rm := r.realms[name]; rm != nil {
			rm.install(p.confs[i])
			rm.onDemand.Store(false)
			continue
		}
		rm := r.newRealm(rc, p.confs[i], p.cfg.storeLimits())
		r.cluster().newRealm(rm)
		r.realms[name] = rm
		res.RealmsAdded = append(res.RealmsAdded, rc.Name)
	}
	for name, rm := range r.realms {
		if !wanted[name] && !rm.onDemand.Load() {
			delete(r.realms, name)
			removed = append(removed, rm)
			res.RealmsRemoved = append(res.RealmsRemoved, string(name))
		}
	}
	return removed
}

// applyConf brings established session s in line with its realm's
// settings c: it ends s (GOODBYE wamp.close.killed, the message saying
// why) when c would no longer let it in as who it is (see endsSession);
// otherwise it gives s its role's new rules, which decide from its next
// message on, and revokes the subscriptions and registrations those rules
// no longer grant. It reports whether s was ended and what it revoked.
//
// It is idempotent: Apply runs it for every session, and a session whose
// handshake overlapped the reload runs it for itself once established.
func (s *session) applyConf(c *realmConf) (ended bool, subs, regs int) {
	if why := endsSession(c, s); why != "" {
		if s.reloadEnded.CompareAndSwap(false, true) {
			s.logger().Info("session ended by a configuration reload", "authid", s.authid, "authrole", s.authrole, "why", why)
			s.kill(wamp.CloseKilled, why+" (configuration reload)")
			return true, 0, 0
		}
		return false, 0, 0
	}
	perms := c.perms[s.authrole]
	s.perms.Store(perms)
	if perms == nil { // everything allowed, or the dynamic authorizer decides from now on
		return false, 0, 0
	}
	for _, sub := range s.realm.Broker.SessionEntries(s) {
		if ok, _ := perms.allowsPattern(ActionSubscribe, sub.Match.Norm(), sub.Topic); !ok && s.revokeSubscription(sub) {
			subs++
		}
	}
	for _, reg := range s.realm.Dealer.SessionEntries(s) {
		if ok, _ := perms.allowsPattern(ActionRegister, reg.Match.Norm(), reg.Procedure); !ok && s.revokeRegistration(reg) {
			regs++
		}
	}
	return false, subs, regs
}

// endsSession says why the realm settings c end session s, or "" if s may
// stay: its authentication method is no longer enabled; it is anonymous
// and anonymous sessions now get another role; its static principal was
// removed, got another role or other credentials; or its role is no longer
// one of the realm's.
func endsSession(c *realmConf, s *session) string {
	rc := &c.cfg
	method := AuthMethod(s.authmethod)
	// A vouched session's identity is its in-process peer's (the HTTP
	// bridge), which ends the sessions of identities its own new config
	// lacks: of the realm, only its role counts.
	if !s.isVouched && (method == AuthAnonymous && !rc.Anonymous || method != AuthAnonymous && !slices.Contains(rc.AuthMethods, method)) {
		return fmt.Sprintf("authentication method %q is no longer enabled on realm %s", method, rc.Name)
	}
	switch {
	case s.isVouched:
	case method == AuthAnonymous:
		if role := anonymousRole(*rc); role != s.authrole {
			return fmt.Sprintf("anonymous sessions now have role %q", role)
		}
	case s.authprovider == "static":
		var p *Principal
		if c.auth != nil {
			p = c.auth.byAuthID[s.authid]
		}
		switch {
		case p == nil:
			return fmt.Sprintf("principal %q was removed", s.authid)
		case p.Role != s.authrole:
			return fmt.Sprintf("principal %q now has role %q", s.authid, p.Role)
		case s.creds != nil && !sameCredentials(s.creds, p):
			return fmt.Sprintf("the credentials of principal %q changed", s.authid)
		}
	}
	if len(rc.Roles) > 0 && c.authz == nil && c.perms[s.authrole] == nil {
		return fmt.Sprintf("role %q was removed", s.authrole)
	}
	return ""
}

// sameCredentials reports whether a and b authenticate alike (a ticket's
// expiry aside).
func sameCredentials(a, b *Principal) bool {
	return a.Ticket == b.Ticket && a.Secret == b.Secret && a.Salt == b.Salt && a.Iterations == b.Iterations &&
		a.KeyLen == b.KeyLen && slices.Equal(a.PublicKeys, b.PublicKeys)
}

// revokeSubscription takes sub away from s: UNSUBSCRIBED with the
// subscription and a reason if s announced subscription_revocation
// (nothing otherwise, as the Advanced Profile asks), the meta events, and
// the other nodes told. False if s no longer had it.
func (s *session) revokeSubscription(sub *realms.Subscription) bool {
	_, deleted, err := s.realm.Broker.Unsubscribe(s, sub.ID)
	if err != nil {
		return false
	}
	s.syncHeld()
	s.r.cluster().subscribed(s, sub, false)
	s.logger().Info("subscription revoked: the role's rules no longer grant it", "topic", sub.Topic, "match", sub.Match, "authrole", s.authrole)
	if s.feature(wamp.RoleSubscriber, "subscription_revocation") {
		_ = s.send(&wamp.Unsubscribed{Details: wamp.Dict{"subscription": uint64(sub.ID), "reason": string(wamp.ErrNotAuthorized)}})
	}
	s.realm.subscriptionGone(s, sub.ID, deleted)
	return true
}

// revokeRegistration takes reg away from callee s, likewise with
// UNREGISTERED if s announced registration_revocation. The calls it is
// answering go on; new ones no longer reach it.
func (s *session) revokeRegistration(reg *realms.Registration) bool {
	_, deleted, err := s.realm.Dealer.Unregister(s, reg.ID)
	if err != nil {
		return false
	}
	s.syncHeld()
	go s.r.cluster().unregistered(s, reg.ID) // waits for the other nodes
	s.logger().Info("registration revoked: the role's rules no longer grant it", "procedure", reg.Procedure, "match", reg.Match, "authrole", s.authrole)
	if s.feature(wamp.RoleCallee, "registration_revocation") {
		_ = s.send(&wamp.Unregistered{Details: wamp.Dict{"registration": uint64(reg.ID), "reason": string(wamp.ErrNotAuthorized)}})
	}
	s.realm.registrationGone(s, reg.ID, deleted)
	return true
}

// recheck runs applyConf for a session that became established while a
// reload may have swapped its realm's settings since its handshake read
// them (at): Apply may have looked at the session list before it was in
// it, or before it was established.
func (s *session) recheck(at *realmConf) {
	if c := s.realm.conf(); c != at {
		s.applyConf(c)
	}
}
