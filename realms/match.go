package realms

import (
	"strings"
	"sync/atomic"

	"github.com/junction-wamp/junction/wamp"
)

// Matches reports whether uri matches pattern under policy match ("" is exact).
func Matches(match wamp.MatchPolicy, pattern, uri wamp.URI) bool {
	return matches(match.Norm(), pattern, uri)
}

// matches reports whether uri matches pattern under policy match.
func matches(match wamp.MatchPolicy, pattern, uri wamp.URI) bool {
	switch match {
	case wamp.MatchPrefix:
		return matchPrefix(string(pattern), string(uri))
	case wamp.MatchWildcard:
		return matchWildcard(string(pattern), string(uri))
	}
	return pattern == uri
}

// matchPrefix matches whole URI components: "a1.b2.c3" matches "a1.b2.c3"
// and "a1.b2.c3.d4" but not "a1.b2.c33". The spec's precedence algorithm
// for registrations (which it says MUST be applied) counts matched components
// and its examples route "a1.b2.c33.d4.e5" past the prefix "a1.b2.c3"; its
// introduction's "com.myapp.myobject1-mysubobject1" example reads as a string
// prefix instead. We follow the normative algorithm, for subscriptions too. A
// pattern ending in "." matches anything after it.
func matchPrefix(pattern, uri string) bool {
	if !strings.HasPrefix(uri, pattern) {
		return false
	}
	return len(uri) == len(pattern) || uri[len(pattern)] == '.' || strings.HasSuffix(pattern, ".")
}

// matchWildcard: empty components of pattern match any one component of uri.
func matchWildcard(pattern, uri string) bool {
	for {
		pc, prest, pmore := strings.Cut(pattern, ".")
		uc, urest, umore := strings.Cut(uri, ".")
		if pc != "" && pc != uc {
			return false
		}
		if pmore != umore {
			return false
		}
		if !pmore {
			return true
		}
		pattern, uri = prest, urest
	}
}

// idSource hands out subscription or registration ids: counting from 1, or
// at random in the global scope once global is set (a cluster, where nodes
// must not hand out the same id for different things).
type idSource struct {
	seq    wamp.Sequence
	global atomic.Bool
}

// next returns an id for which taken is false.
func (s *idSource) next(taken func(wamp.ID) bool) wamp.ID {
	for {
		id := s.seq.Next()
		if s.global.Load() {
			id = wamp.GlobalID()
		}
		if !taken(id) {
			return id
		}
	}
}
