package router

import (
	"context"
	"fmt"
	"sort"
	"sync"
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
	Match     string // exact (default), prefix or wildcard
	Call      bool
	Register  bool
	Publish   bool
	Subscribe bool
	// DiscloseCaller and DisclosePublisher disclose the caller of a call, or
	// the publisher of an event, on these URIs whatever the caller asks.
	DiscloseCaller    bool
	DisclosePublisher bool
}

// action is what a session asks to do with a URI.
type action int

const (
	actionCall action = iota
	actionRegister
	actionPublish
	actionSubscribe
)

func (a action) String() string {
	return [...]string{"call", "register", "publish", "subscribe"}[a]
}

// permissions is a role's rules compiled once at start: an exact map and
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
		if !realms.ValidMatch(perm.Match) {
			return nil, fmt.Errorf("role %s: permission %q: match %q is not exact, prefix or wildcard", rc.Name, perm.URI, perm.Match)
		}
		switch perm.Match {
		case "", realms.MatchExact:
			if !wamp.ValidURI(wamp.URI(perm.URI), strict, false) {
				return nil, fmt.Errorf("role %s: permission URI %q is not a valid URI", rc.Name, perm.URI)
			}
			p.exact[wamp.URI(perm.URI)] = perm
		case realms.MatchPrefix:
			p.prefix = append(p.prefix, perm)
		case realms.MatchWildcard:
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
		if realms.Matches(realms.MatchPrefix, wamp.URI(perm.URI), uri) || perm.URI == "" {
			return perm
		}
	}
	for _, perm := range p.wildcard {
		if realms.Matches(realms.MatchWildcard, wamp.URI(perm.URI), uri) {
			return perm
		}
	}
	return nil
}

// allows reports whether the rules grant a on uri, and the rule itself.
func (p *permissions) allows(a action, uri wamp.URI) (bool, *Permission) {
	perm := p.lookup(uri)
	if perm == nil {
		return false, nil
	}
	switch a {
	case actionCall:
		return perm.Call, perm
	case actionRegister:
		return perm.Register, perm
	case actionPublish:
		return perm.Publish, perm
	}
	return perm.Subscribe, perm
}

// hasRole reports whether sessions may join with role: any role when the
// realm configures none, else only configured ones.
func (rm *realm) hasRole(role string) bool {
	if len(rm.cfg.Roles) == 0 || rm.cfg.Authorizer != "" {
		return true
	}
	_, ok := rm.perms[role]
	return ok
}

// authorize reports whether s may do a on uri; when it may not, it answers
// the request with wamp.error.not_authorized (unless answer is false).
func (s *session) authorize(a action, reqType wamp.MessageType, request wamp.ID, uri wamp.URI, answer bool) (bool, *Permission) {
	var ok bool
	var perm *Permission
	switch {
	case s.perms != nil:
		ok, perm = s.perms.allows(a, uri)
	case s.realm.cfg.Authorizer != "" && !s.internal:
		ok, perm = s.realm.authz.decide(s, a, uri)
	default:
		return true, nil
	}
	if !ok {
		s.logger().Info("not authorized", "action", a.String(), "uri", uri, "authrole", s.authrole)
		if answer {
			s.sendError(reqType, request, wamp.ErrNotAuthorized,
				fmt.Sprintf("role %q may not %s %q", s.authrole, a, uri))
		}
	}
	return ok, perm
}

// dynamicAuthz asks the realm's authorizer procedure and caches its answers
// per authid, authrole, action and URI for the configured TTL. It is used
// only for roles without static permissions, only when configured.
type dynamicAuthz struct {
	rm    *realm
	ttl   time.Duration
	cache sync.Map // authzKey -> authzEntry
}

type authzKey struct {
	authid, authrole string
	a                action
	uri              wamp.URI
}

type authzEntry struct {
	allowed  bool
	disclose bool
	expires  time.Time
}

// decide calls the authorizer with [session details, uri, action]; it
// answers true/false, or a dict with allow and optionally disclose and cache
// (false: do not cache this answer). An error or another answer denies.
func (d *dynamicAuthz) decide(s *session, a action, uri wamp.URI) (bool, *Permission) {
	key := authzKey{s.authid, s.authrole, a, uri}
	if v, ok := d.cache.Load(key); ok {
		if e := v.(authzEntry); time.Now().Before(e.expires) {
			return e.allowed, e.permission()
		}
		d.cache.Delete(key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.r.cfg.AuthTimeout)
	defer cancel()
	details := map[string]any{"session": uint64(s.id), "authid": s.authid, "authrole": s.authrole, "authmethod": s.authmethod}
	res, _, err := s.r.callInternal(ctx, d.rm, wamp.URI(d.rm.cfg.Authorizer), []any{details, string(uri), a.String()}, nil)
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
		d.cache.Store(key, e)
	}
	return e.allowed, e.permission()
}

func (e authzEntry) permission() *Permission {
	if !e.disclose {
		return nil
	}
	return &Permission{DiscloseCaller: true, DisclosePublisher: true}
}
