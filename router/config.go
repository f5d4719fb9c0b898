package router

import "time"

// Config configures the router. Zero values mean the default named in each
// field's comment.
type Config struct {
	// Realms are the realms that exist from the start.
	Realms []RealmConfig
	// AutoCreateRealms creates a realm on the first HELLO that names an unknown
	// one, instead of answering ABORT wamp.error.no_such_realm.
	AutoCreateRealms bool
	// StrictURI checks URIs with the spec's strict rule ([0-9a-z_] components)
	// instead of the loose one.
	StrictURI bool
	// HelloTimeout is how long a new connection has to send HELLO. Default 10s.
	HelloTimeout time.Duration
	// AuthTimeout is how long a client has to answer CHALLENGE. Default 10s.
	AuthTimeout time.Duration
	// MaxSessions bounds the sessions of the router. Default 100,000;
	// negative: no bound.
	MaxSessions int
	// MaxSessionsPerAddress bounds the sessions from one remote address.
	// Default 1,000; negative: no bound.
	MaxSessionsPerAddress int
	// MaxURILength bounds topic and procedure URIs, in bytes. Default 1024.
	MaxURILength int
	// MaxSubscriptionsPerSession and MaxRegistrationsPerSession bound what
	// one session may hold. Defaults 10,000 and 1,000; negative: no bound.
	MaxSubscriptionsPerSession int
	MaxRegistrationsPerSession int
	// MaxCallsPerSession bounds a session's own calls in flight (made and
	// not yet answered); MaxInvocationsPerSession the calls routed to a
	// session as callee and not yet answered. Defaults 10,000 and 100,000;
	// negative: no bound.
	MaxCallsPerSession       int
	MaxInvocationsPerSession int
	// MaxTestamentsPerSession and MaxTestamentBytesPerSession bound the
	// testaments a session may leave (wamp.session.add_testament), in
	// number and in encoded payload bytes. Defaults 100 and 256 KiB;
	// negative: no bound.
	MaxTestamentsPerSession     int
	MaxTestamentBytesPerSession int
	// MaxSubscriptionsPerAddress, MaxRegistrationsPerAddress,
	// MaxCallsPerAddress and MaxTestamentBytesPerAddress bound what all
	// the sessions of one client address hold together, so that opening
	// MaxSessionsPerAddress sessions does not multiply the per-session
	// bounds. Defaults 100,000, 10,000, 100,000 and 16 MiB (a thousand
	// sessions behind one NAT with 100 subscriptions and 100 calls in
	// flight each); negative: no bound.
	MaxSubscriptionsPerAddress  int
	MaxRegistrationsPerAddress  int
	MaxCallsPerAddress          int
	MaxTestamentBytesPerAddress int
	// MaxRetainedEvents and MaxRetainedBytes bound each realm's retained
	// events (one per topic), in number and in encoded payload bytes.
	// Defaults 10,000 and 64 MiB; negative: no bound.
	MaxRetainedEvents int
	MaxRetainedBytes  int
	// MaxHistoryBytes bounds the events each realm keeps for its event
	// histories, in encoded payload bytes: past it the oldest go first.
	// Default 64 MiB; negative: no bound.
	MaxHistoryBytes int
	// MaxHistoryResultBytes bounds the payload bytes one
	// wamp.subscription.get_events answer carries. Default 4 MiB.
	MaxHistoryResultBytes int
	// AuthFailureLimit is how many failed authentications per minute a
	// remote address may have, attempts in progress included, before it is
	// refused without a challenge. Default 10; negative: no limit.
	AuthFailureLimit int
	// LimitWarningInterval is how often, at most, a limit reached by one
	// remote address is logged at warn (the next line says how many were
	// held back). Default 10s.
	LimitWarningInterval time.Duration
}

// RealmConfig configures one realm.
type RealmConfig struct {
	// Name is the realm URI.
	Name string
	// Anonymous allows anonymous authentication.
	Anonymous bool
	// AnonymousRole is the authrole of anonymous sessions. Default "anonymous".
	AnonymousRole string
	// AuthMethods are the other methods enabled: "ticket", "wampcra",
	// "cryptosign"; they authenticate the Principals.
	AuthMethods []AuthMethod
	// Principals are the realm's static users.
	Principals []Principal
	// Authenticator is a procedure the router calls to authenticate an
	// authid that is not a static principal (dynamic authentication).
	Authenticator string
	// AuthenticatorHook is the Go counterpart of Authenticator, for a
	// program embedding the router: asked about an authid that is not a
	// static principal. A realm has at most one of Authenticator and
	// AuthenticatorHook.
	AuthenticatorHook Authenticator
	// Authorizer is a procedure the router calls to decide what sessions
	// of roles without static permissions may do (dynamic authorization).
	Authorizer string
	// AuthorizerHook is the Go counterpart of Authorizer, for a program
	// embedding the router. A realm has at most one of Authorizer and
	// AuthorizerHook.
	AuthorizerHook Authorizer
	// AuthorizerCacheTTL is how long the authorizer's answers are reused
	// (a hook's, those whose Decision.Cache is set). Default 1 minute;
	// negative: not cached.
	AuthorizerCacheTTL time.Duration
	// AuthorizerCacheSize bounds the answers cached. Default 10,000.
	AuthorizerCacheSize int
	// Roles restrict what sessions of each role may do. A realm without
	// roles lets every session do everything; with roles, a session's role
	// must be one of them and may do only what its permissions grant.
	Roles []RoleConfig
	// DiscloseCaller: "" discloses a caller's identity to the callee when
	// the caller asks (disclose_me) or the registration asks
	// (disclose_caller); "always" always; "never" refuses disclose_me.
	DiscloseCaller Disclosure
	// DisclosePublisher: the same for publishers and EVENT details.
	DisclosePublisher Disclosure
	// EventHistory lists the topics whose events are kept for
	// wamp.subscription.get_events.
	EventHistory []HistoryConfig
}
