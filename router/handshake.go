package router

import (
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// Agent is what the router calls itself in WELCOME.Details.agent.
const Agent = "junction"

// clientRoles are the roles a client may announce in HELLO.
var clientRoles = []string{wamp.RolePublisher, wamp.RoleSubscriber, wamp.RoleCaller, wamp.RoleCallee}

// welcomeRoles returns WELCOME.Details.roles: the router's roles with the
// features that are implemented, and no others.
func welcomeRoles() wamp.Dict {
	return wamp.Dict{
		wamp.RoleBroker: wamp.Dict{"features": wamp.Dict{
			"publisher_exclusion":           true,
			"publisher_identification":      true,
			"subscriber_blackwhite_listing": true,
			"pattern_based_subscription":    true,
			"session_meta_api":              true,
			"subscription_meta_api":         true,
			"event_retention":               true,
			"event_history":                 true,
			"subscription_revocation":       true,
		}},
		wamp.RoleDealer: wamp.Dict{"features": wamp.Dict{
			"caller_identification":        true,
			"pattern_based_registration":   true,
			"shared_registration":          true,
			"progressive_call_results":     true,
			"call_canceling":               true,
			"call_timeout":                 true,
			"progressive_call_invocations": true,
			"session_meta_api":             true,
			"registration_meta_api":        true,
			"testament_meta_api":           true,
			"registration_revocation":      true,
		}},
	}
}

// handshake waits for HELLO, within the HELLO timeout, and answers WELCOME or
// ABORT. It reports whether the session is established.
func (s *session) handshake() bool {
	var timedOut atomic.Bool
	timeout := s.r.config().HelloTimeout
	timer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		s.logger().Info("no HELLO in time, closing", "timeout", timeout)
		s.abort(wamp.ErrProtocolViolation, "no HELLO received within "+timeout.String(), transport.ClosePolicyViolation)
	})
	msg, err := s.recv()
	if !timer.Stop() || timedOut.Load() {
		return false
	}
	if err != nil {
		s.inputError(err)
		return false
	}
	hello, ok := msg.(*wamp.Hello)
	if !ok {
		s.protocolViolation("expected HELLO as the first message, got " + msg.MessageType().String())
		return false
	}
	return s.welcome(hello)
}

// welcome checks HELLO, joins the session to its realm and sends WELCOME.
func (s *session) welcome(hello *wamp.Hello) bool {
	if s.shuttingDown.Load() {
		s.abort(wamp.CloseSystemShutdown, "router is shutting down", transport.CloseGoingAway)
		return false
	}
	if msg := checkRoles(hello.Details); msg != "" {
		s.protocolViolation(msg)
		return false
	}
	if len(hello.Realm) > s.r.config().MaxURILength || !wamp.ValidURI(hello.Realm, s.r.config().StrictURI, false) {
		s.refuse(wamp.ErrInvalidURI, fmt.Sprintf("invalid realm URI %q", clip(string(hello.Realm))))
		return false
	}
	rm := s.r.realm(hello.Realm)
	if rm == nil {
		s.refuse(wamp.ErrNoSuchRealm, fmt.Sprintf("no realm %q on this router", hello.Realm))
		return false
	}
	conf := rm.conf() // a reload may swap it during the handshake: see recheck
	auth, ok := s.vouched()
	s.isVouched = ok
	if !ok {
		method := chooseMethod(rm, hello.Details)
		if method == "" {
			s.refuse(wamp.ErrNoAuthMethod, "none of the offered authentication methods is enabled on this realm")
			return false
		}
		if auth, ok = s.authenticate(rm, method, hello); !ok {
			return false
		}
	}
	if !rm.hasRole(auth.authrole) {
		s.refuse(wamp.ErrNoSuchRole, fmt.Sprintf("role %q does not exist on this realm", auth.authrole))
		return false
	}
	s.id = wamp.GlobalID()
	s.realm = rm
	s.roles = hello.Details.Dict("roles")
	s.perms.Store(conf.perms[auth.authrole])
	s.creds = auth.principal
	s.authid = auth.authid
	if s.authid == "" {
		// An anonymous session cannot choose its authid: authids are what
		// exclude_authid, eligible_authid and kill_by_authid go by.
		s.authid = "anonymous-" + strconv.FormatUint(uint64(s.id), 36)
	}
	s.authrole = auth.authrole
	s.authmethod = auth.authmethod
	s.authprovider = auth.authprovider
	s.joined = time.Now()

	if !s.r.join(s) {
		s.refuse(wamp.ErrNoSuchRealm, fmt.Sprintf("no realm %q on this router", hello.Realm))
		return false
	}
	rm = s.realm // another, if the realm was created on demand and went away meanwhile
	s.established.Store(true)
	s.r.cluster().joined(s) // known on every node before the client is
	s.peer.Established()
	err := s.send(&wamp.Welcome{Session: s.id, Details: wamp.Dict{
		"roles":        welcomeRoles(),
		"realm":        string(rm.Name),
		"authid":       s.authid,
		"authrole":     s.authrole,
		"authmethod":   s.authmethod,
		"authprovider": s.authprovider,
		"agent":        Agent,
	}})
	if tooLarge(err) { // the client cannot take its WELCOME: it cannot take part
		s.peer.Close(transport.ClosePolicyViolation, "WELCOME larger than the client accepts")
	}
	rm.metaEvent("wamp.session.on_join", s.sessionInfo())
	s.r.stats.SessionsJoined.Add(1)
	s.logger().Info("session joined", "authrole", s.authrole)
	s.recheck(conf)
	if s.shuttingDown.Load() { // Shutdown ran between the check above and Join.
		s.shutdown()
	}
	return true
}

// refuse answers HELLO with ABORT: a normal, WAMP-level refusal.
func (s *session) refuse(reason wamp.URI, message string) {
	s.logger().Info("session refused", "reason", reason, "message", message)
	s.abort(reason, message, transport.CloseNormal)
}

// checkRoles returns why HELLO.Details.roles is unacceptable, or "".
func checkRoles(details wamp.Dict) string {
	roles := details.Dict("roles")
	if len(roles) == 0 {
		return "HELLO.Details.roles is missing or empty"
	}
	for name := range roles {
		if !slices.Contains(clientRoles, name) {
			return fmt.Sprintf("HELLO announces unknown role %q", name)
		}
	}
	return ""
}

// vouched returns the identity an in-process peer vouches for
// (transport.Info.Identity): the HTTP bridge authenticated the principal
// itself. Any other transport's identity is ignored.
func (s *session) vouched() (*authenticated, bool) {
	info := s.peer.Info()
	id := info.Identity
	if id == nil || info.Transport != "local" {
		return nil, false
	}
	return &authenticated{authid: id.AuthID, authrole: id.AuthRole, authmethod: id.AuthMethod, authprovider: id.AuthProvider}, true
}
