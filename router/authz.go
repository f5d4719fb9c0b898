package router

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/wamp"
)

// RoleConfig is a role of a realm and what it may do.
type RoleConfig struct {
	Name        string
	Permissions []Permission
}

// Permission grants actions on URIs matching URI under Match.
type Permission struct {
	URI       string
	Match     wamp.MatchPolicy // exact (default), prefix or wildcard
	Call      bool
	Register  bool
	Publish   bool
	Subscribe bool
	// DiscloseCaller and DisclosePublisher disclose the caller of a call, or
	// the publisher of an event, on these URIs whatever the caller asks.
	DiscloseCaller    bool
	DisclosePublisher bool
}

// Action is what a session asks to do with a URI, as an Authorizer is told.
type Action int

const (
	ActionCall      Action = iota // CALL a procedure
	ActionRegister                // REGISTER a procedure or a pattern of procedures
	ActionPublish                 // PUBLISH to a topic
	ActionSubscribe               // SUBSCRIBE to a topic or a pattern of topics
)

func (a Action) String() string {
	return [...]string{"call", "register", "publish", "subscribe"}[a]
}

// permissions is a role's rules compiled at start and at each reload: an exact map and
// prefix and wildcard lists, read without a lock by every session of the role.
// A role that has rules denies whatever no rule grants.
type permissions struct {
	exact    map[wamp.URI]*Permission
	prefix   []*Permission // longest first
	wildcard []*Permission
}

func compilePermissions(rc RoleConfig, strict bool) (*permissions, error) {
	p := &permissions{exact: make(map[wamp.URI]*Permission)}
	for i := range rc.Permissions {
		perm := &rc.Permissions[i]
		if !perm.Match.Valid() {
			return nil, fmt.Errorf("role %s: permission %q: match %q is not exact, prefix or wildcard", rc.Name, perm.URI, perm.Match)
		}
		switch perm.Match {
		case "", wamp.MatchExact:
			if !wamp.ValidURI(wamp.URI(perm.URI), strict, false) {
				return nil, fmt.Errorf("role %s: permission URI %q is not a valid URI", rc.Name, perm.URI)
			}
			p.exact[wamp.URI(perm.URI)] = perm
		case wamp.MatchPrefix:
			p.prefix = append(p.prefix, perm)
		case wamp.MatchWildcard:
			p.wildcard = append(p.wildcard, perm)
		}
	}
	sort.SliceStable(p.prefix, func(i, j int) bool { return len(p.prefix[i].URI) > len(p.prefix[j].URI) })
	return p, nil
}

// lookup returns the rule governing uri: exact, then longest prefix, then
// wildcard, the dealer's precedence; nil if none.
func (p *permissions) lookup(uri wamp.URI) *Permission {
	if perm := p.exact[uri]; perm != nil {
		return perm
	}
	for _, perm := range p.prefix {
		if realms.Matches(wamp.MatchPrefix, wamp.URI(perm.URI), uri) || perm.URI == "" {
			return perm
		}
	}
	for _, perm := range p.wildcard {
		if realms.Matches(wamp.MatchWildcard, wamp.URI(perm.URI), uri) {
			return perm
		}
	}
	return nil
}

// allows reports whether the rules grant a on uri, and the rule itself.
func (p *permissions) allows(a Action, uri wamp.URI) (bool, *Permission) {
	perm := p.lookup(uri)
	return perm.grants(a), perm
}

// grants reports whether the rule grants a; a nil rule grants nothing.
func (perm *Permission) grants(a Action) bool {
	if perm == nil {
		return false
	}
	switch a {
	case ActionCall:
		return perm.Call
	case ActionRegister:
		return perm.Register
	case ActionPublish:
		return perm.Publish
	}
	return perm.Subscribe
}

// allowsPattern reports whether the rules grant a on every URI pattern can
// match under match, and the rule governing the pattern. A SUBSCRIBE or
// REGISTER with a pattern is allowed only then: a role allowed exactly
// "app.status" must not receive "app.status.payroll" through the prefix
// "app.status".
func (p *permissions) allowsPattern(a Action, match wamp.MatchPolicy, pattern wamp.URI) (bool, *Permission) {
	switch match {
	case wamp.MatchPrefix:
		return p.allowsPrefix(a, pattern)
	case wamp.MatchWildcard:
		return p.allowsWildcard(a, pattern)
	}
	return p.allows(a, pattern)
}

// allowsPrefix: the longest prefix rule covering the pattern governs what it
// matches, except where a more specific rule inside it (an exact or a longer
// prefix rule) takes over; all of those must grant. Wildcard rules never
// govern URIs a prefix rule covers, and cannot cover a prefix pattern (which
// matches URIs of any length), so without a covering prefix rule it is refused.
func (p *permissions) allowsPrefix(a Action, pattern wamp.URI) (bool, *Permission) {
	covering := p.coveringPrefix(func(q string) bool { return prefixCoversPrefix(q, string(pattern)) })
	if !covering.grants(a) {
		return false, covering
	}
	for uri, perm := range p.exact {
		if realms.Matches(wamp.MatchPrefix, pattern, uri) && !perm.grants(a) {
			return false, perm
		}
	}
	for _, perm := range p.prefix {
		if perm != covering && prefixCoversPrefix(string(pattern), perm.URI) && !perm.grants(a) {
			return false, perm
		}
	}
	return true, covering
}

// allowsWildcard: with a prefix rule covering every URI the pattern matches,
// it governs them except where exact rules or longer prefix rules take over;
// without one, every rule the pattern meets must grant and a wildcard rule
// must cover the whole pattern.
func (p *permissions) allowsWildcard(a Action, pattern wamp.URI) (bool, *Permission) {
	comps := strings.Split(string(pattern), ".")
	covering := p.coveringPrefix(func(q string) bool { return prefixCoversWildcard(q, comps) })
	if covering != nil && !covering.grants(a) {
		return false, covering
	}
	for uri, perm := range p.exact {
		if realms.Matches(wamp.MatchWildcard, pattern, uri) && !perm.grants(a) {
			return false, perm
		}
	}
	for _, perm := range p.prefix {
		if perm != covering && (covering == nil || len(perm.URI) > len(covering.URI)) &&
			prefixMeetsWildcard(perm.URI, comps) && !perm.grants(a) {
			return false, perm
		}
	}
	if covering != nil {
		return true, covering
	}
	var governing *Permission
	for _, perm := range p.wildcard {
		rule := strings.Split(perm.URI, ".")
		if !wildcardMeets(rule, comps) {
			continue
		}
		if !perm.grants(a) {
			return false, perm
		}
		if wildcardCovers(rule, comps) {
			governing = perm
		}
	}
	return governing != nil, governing
}

// coveringPrefix returns the longest prefix rule for which covers holds
// (the rule "" covers everything), or nil.
func (p *permissions) coveringPrefix(covers func(rule string) bool) *Permission {
	for _, perm := range p.prefix { // longest first
		if perm.URI == "" || covers(perm.URI) {
			return perm
		}
	}
	return nil
}

// prefixCoversPrefix reports whether every URI matching prefix inner also
// matches prefix outer: inner itself matches outer.
func prefixCoversPrefix(outer, inner string) bool {
	return outer == "" || realms.Matches(wamp.MatchPrefix, wamp.URI(outer), wamp.URI(inner))
}

// prefixParts splits a prefix rule into the components a URI must start
// with and the fewest components such a URI has (a rule ending in "."
// needs one more).
func prefixParts(rule string) ([]string, int) {
	if rule == "" {
		return nil, 0
	}
	if trimmed, ok := strings.CutSuffix(rule, "."); ok {
		c := strings.Split(trimmed, ".")
		return c, len(c) + 1
	}
	c := strings.Split(rule, ".")
	return c, len(c)
}

// prefixCoversWildcard reports whether every URI the wildcard pattern comps
// matches starts with the prefix rule: the rule's components are literal
// components of the pattern.
func prefixCoversWildcard(rule string, comps []string) bool {
	need, least := prefixParts(rule)
	if len(comps) < least {
		return false
	}
	for i, c := range need {
		if comps[i] == "" || comps[i] != c {
			return false
		}
	}
	return true
}

// prefixMeetsWildcard reports whether some URI matches both the prefix rule
// and the wildcard pattern comps.
func prefixMeetsWildcard(rule string, comps []string) bool {
	need, least := prefixParts(rule)
	if len(comps) < least {
		return false
	}
	for i, c := range need {
		if comps[i] != "" && comps[i] != c {
			return false
		}
	}
	return true
}

// wildcardMeets reports whether some URI matches both wildcard patterns.
func wildcardMeets(rule, comps []string) bool {
	if len(rule) != len(comps) {
		return false
	}
	for i := range rule {
		if rule[i] != "" && comps[i] != "" && rule[i] != comps[i] {
			return false
		}
	}
	return true
}

// wildcardCovers reports whether every URI matching comps matches rule.
func wildcardCovers(rule, comps []string) bool {
	if len(rule) != len(comps) {
		return false
	}
	for i := range rule {
		if rule[i] != "" && rule[i] != comps[i] {
			return false
		}
	}
	return true
}

// hasRole reports whether sessions may join with role: any role when the
// realm configures none, else only configured ones.
func (rm *realm) hasRole(role string) bool {
	if len(rm.conf().cfg.Roles) == 0 || rm.conf().authz != nil {
		return true
	}
	_, ok := rm.conf().perms[role]
	return ok
}

// authorize reports whether s may do a on uri (a pattern under match, for
// SUBSCRIBE and REGISTER: every URI it can match must be allowed); when it
// may not, it answers the request with wamp.error.not_authorized (unless
// answer is false).
func (s *session) authorize(a Action, reqType wamp.MessageType, request wamp.ID, uri wamp.URI, match wamp.MatchPolicy, answer bool) (bool, *Permission) {
	var ok bool
	var perm *Permission
	if perms := s.perms.Load(); perms != nil {
		ok, perm = perms.allowsPattern(a, match.Norm(), uri)
	} else if authz := s.realm.conf().authz; authz != nil && !s.internal {
		ok, perm = authz.decide(s, a, uri, match.Norm())
	} else {
		return true, nil
	}
	if !ok {
		s.logger().Info("not authorized", "action", a.String(), "uri", uri, "match", match, "authrole", s.authrole)
		if answer {
			s.sendError(reqType, request, wamp.ErrNotAuthorized,
				fmt.Sprintf("role %q may not %s %q%s", s.authrole, a, uri, matchNote(match)))
		}
	}
	return ok, perm
}

func matchNote(match wamp.MatchPolicy) string {
	if match.Norm() == wamp.MatchExact {
		return ""
	}
	return " (match " + string(match) + ": everything it can match must be allowed)"
}

// authProcedure reports whether procedure is the realm's authenticator or
// authorizer: whoever answers for it decides who logs in, or what sessions
// may do.
func (rm *realm) authProcedure(procedure wamp.URI) bool {
	return procedure != "" && (string(procedure) == rm.conf().cfg.Authenticator || string(procedure) == rm.conf().cfg.Authorizer)
}

// namesExactly reports whether s's role has a rule for exactly uri (not a
// pattern that covers it) granting a. The realm's authenticator and
// authorizer may be registered only so, and never in a realm without
// roles: a session allowed to register "com." must not take over
// "com.auth.authenticate" while its service is down.
func (s *session) namesExactly(a Action, uri wamp.URI) bool {
	perms := s.perms.Load()
	if perms == nil {
		return false
	}
	perm := perms.lookup(uri)
	return perm.grants(a) && perm.URI == string(uri)
}

// grantedExplicitly reports whether s's role names procedure (a wamp.*
// meta procedure) in a rule that lets it call: a rule whose URI starts with
// "wamp.", not a catch-all, or the realm's dynamic authorizer, which decides
// on the URI itself. Destructive meta procedures (the kill procedures) need
// this, so that no realm, not even one without roles, exposes them to
// every session by default.
func (s *session) grantedExplicitly(procedure wamp.URI) bool {
	switch perms := s.perms.Load(); {
	case perms != nil:
		perm := perms.lookup(procedure)
		return perm.grants(ActionCall) && strings.HasPrefix(perm.URI, "wamp.")
	case s.realm.conf().authz != nil && !s.internal:
		return true // authorize asked the authorizer (procedure or hook) about this very URI
	}
	return false
}

// dynamicAuthz asks the realm's authorizer, its procedure or its Go hook,
// and caches its answers per authid, authrole, action, URI and match
// policy for the configured TTL, at most AuthorizerCacheSize of them. It is
// used only for roles without static permissions, only when configured.
type dynamicAuthz struct {
	rm    *realm
	hook  Authorizer // the realm's AuthorizerHook; nil: its procedure
	ttl   time.Duration
	size  int
	cache sync.Map // authzKey -> authzEntry
	count atomic.Int64
}

type authzKey struct {
	authid, authrole string
	a                Action
	uri              wamp.URI
	match            wamp.MatchPolicy
}

type authzEntry struct {
	allowed  bool
	disclose bool
	expires  time.Time
}

// decide calls the authorizer with [session details, uri, action, options],
// options carrying the match policy; it answers true/false, or a dict with
// allow and optionally disclose and cache (false: do not cache this
// answer). An error or another answer denies.
func (d *dynamicAuthz) decide(s *session, a Action, uri wamp.URI, match wamp.MatchPolicy) (bool, *Permission) {
	key := authzKey{s.authid, s.authrole, a, uri, match}
	if v, ok := d.cache.Load(key); ok {
		if e := v.(authzEntry); time.Now().Before(e.expires) {
			return e.allowed, e.permission()
		}
		d.forget(key)
	}
	if d.hook != nil {
		return d.decideHook(s, key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.r.config().AuthTimeout)
	defer cancel()
	details := map[string]any{"session": uint64(s.id), "authid": s.authid, "authrole": s.authrole, "authmethod": s.authmethod}
	res, _, err := s.r.callInternal(ctx, d.rm, wamp.URI(d.rm.conf().cfg.Authorizer),
		[]any{details, string(uri), a.String(), map[string]any{"match": string(match)}}, nil)
	e := authzEntry{expires: time.Now().Add(d.ttl)}
	cacheIt := d.ttl > 0
	if err != nil || len(res) == 0 {
		s.logger().Warn("dynamic authorizer failed; denying", "action", a.String(), "uri", uri, "error", err)
		return false, nil
	}
	switch v := res[0].(type) {
	case bool:
		e.allowed = v
	default:
		m := wamp.AsDict(v)
		e.allowed = m.Bool("allow", false)
		e.disclose = m.Bool("disclose", false)
		cacheIt = cacheIt && m.Bool("cache", true)
	}
	if cacheIt {
		d.store(key, e)
	}
	return e.allowed, e.permission()
}

// store caches an answer; a full cache first drops the answers that have
// expired, and if none has, keeps this one out: a client trying many URIs
// cannot make the cache grow, only make its own answers uncached.
func (d *dynamicAuthz) store(key authzKey, e authzEntry) {
	if d.count.Load() >= int64(d.size) {
		now := time.Now()
		d.cache.Range(func(k, v any) bool {
			if !now.Before(v.(authzEntry).expires) {
				d.forget(k.(authzKey))
			}
			return true
		})
		if d.count.Load() >= int64(d.size) {
			return
		}
	}
	if _, loaded := d.cache.Swap(key, e); !loaded {
		d.count.Add(1)
	}
}

func (d *dynamicAuthz) forget(key authzKey) {
	if _, loaded := d.cache.LoadAndDelete(key); loaded {
		d.count.Add(-1)
	}
}

func (e authzEntry) permission() *Permission {
	if !e.disclose {
		return nil
	}
	return &Permission{DiscloseCaller: true, DisclosePublisher: true}
}
