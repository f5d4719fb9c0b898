package router

import (
	"fmt"
	"sort"

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
	if len(rm.cfg.Roles) == 0 {
		return true
	}
	_, ok := rm.perms[role]
	return ok
}

// authorize reports whether s may do a on uri; when it may not, it answers
// the request with wamp.error.not_authorized (unless answer is false).
func (s *session) authorize(a action, reqType wamp.MessageType, request wamp.ID, uri wamp.URI, answer bool) (bool, *Permission) {
	if s.perms == nil {
		return true, nil
	}
	ok, perm := s.perms.allows(a, uri)
	if !ok {
		s.log.Info("not authorized", "action", a.String(), "uri", uri, "authrole", s.authrole)
		if answer {
			s.sendError(reqType, request, wamp.ErrNotAuthorized,
				fmt.Sprintf("role %q may not %s %q", s.authrole, a, uri))
		}
	}
	return ok, perm
}
