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
	// MaxSessions bounds the sessions of the router; 0: no bound.
	MaxSessions int
	// MaxSessionsPerAddress bounds the sessions from one remote address; 0: no bound.
	MaxSessionsPerAddress int
	// MaxURILength bounds topic and procedure URIs, in bytes. Default 1024.
	MaxURILength int
	// MaxSubscriptionsPerSession and MaxRegistrationsPerSession bound what
	// one session may hold; 0: no bound.
	MaxSubscriptionsPerSession int
	MaxRegistrationsPerSession int
	// AuthFailureLimit is how many failed authentications per minute a
	// remote address may have before it is refused without a challenge.
	// 0 means no limit.
	AuthFailureLimit int
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
	AuthMethods []string
	// Principals are the realm's static users.
	Principals []Principal
	// Authenticator is a procedure the router calls to authenticate an
	// authid that is not a static principal (dynamic authentication).
	Authenticator string
	// Authorizer is a procedure the router calls to decide what sessions
	// of roles without static permissions may do (dynamic authorization).
	Authorizer string
	// AuthorizerCacheTTL is how long the authorizer's answers are reused.
	// Default 1 minute; negative: not cached.
	AuthorizerCacheTTL time.Duration
	// Roles restrict what sessions of each role may do. A realm without
	// roles lets every session do everything; with roles, a session's role
	// must be one of them and may do only what its permissions grant.
	Roles []RoleConfig
	// DiscloseCaller: "" discloses a caller's identity to the callee when
	// the caller asks (disclose_me) or the registration asks
	// (disclose_caller); "always" always; "never" refuses disclose_me.
	DiscloseCaller string
	// DisclosePublisher: the same for publishers and EVENT details.
	DisclosePublisher string
	// EventHistory lists the topics whose events are kept for
	// wamp.subscription.get_events.
	EventHistory []HistoryConfig
}
