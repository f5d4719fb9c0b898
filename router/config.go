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
}

// RealmConfig configures one realm.
type RealmConfig struct {
	// Name is the realm URI.
	Name string
	// Anonymous allows anonymous authentication (the only method so far).
	Anonymous bool
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
