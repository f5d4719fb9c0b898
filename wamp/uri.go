package wamp

import "strings"

// URI is a WAMP URI such as "com.myapp.topic1".
type URI string

// URI checking rules (spec "URIs"): loose allows any characters but whitespace,
// '.' and '#' in a component; strict allows only [0-9a-z_].
// Empty components are allowed only where allowEmpty is set (pattern
// subscriptions and registrations).

// ValidURI reports whether u is a valid URI under the strict or loose rule.
func ValidURI(u URI, strict, allowEmpty bool) bool {
	if u == "" {
		return false
	}
	s := string(u)
	for comp := range strings.SplitSeq(s, ".") {
		if comp == "" {
			if !allowEmpty {
				return false
			}
			continue
		}
		for i := 0; i < len(comp); i++ {
			c := comp[i]
			if strict {
				if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '_') {
					return false
				}
				continue
			}
			if c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
				return false
			}
		}
	}
	return true
}

// Reserved reports whether u belongs to the router: the spec reserves URIs
// whose first component is "wamp" for the protocol itself (meta procedures,
// meta events, errors), so clients may subscribe to them but not publish
// or register them.
func Reserved(u URI) bool {
	first, _, _ := strings.Cut(string(u), ".")
	return first == "wamp"
}

// Error URIs named by the Basic and Advanced Profiles.
const (
	ErrInvalidURI             URI = "wamp.error.invalid_uri"
	ErrNoSuchProcedure        URI = "wamp.error.no_such_procedure"
	ErrProcedureAlreadyExists URI = "wamp.error.procedure_already_exists"
	ErrNoSuchRegistration     URI = "wamp.error.no_such_registration"
	ErrNoSuchSubscription     URI = "wamp.error.no_such_subscription"
	ErrInvalidArgument        URI = "wamp.error.invalid_argument"
	ErrProtocolViolation      URI = "wamp.error.protocol_violation"
	ErrNotAuthorized          URI = "wamp.error.not_authorized"
	ErrAuthorizationFailed    URI = "wamp.error.authorization_failed"
	ErrAuthenticationFailed   URI = "wamp.error.authentication_failed"
	ErrNoAuthMethod           URI = "wamp.error.no_auth_method"
	ErrNoSuchRealm            URI = "wamp.error.no_such_realm"
	ErrNoSuchRole             URI = "wamp.error.no_such_role"
	ErrNoSuchSession          URI = "wamp.error.no_such_session"
	ErrCanceled               URI = "wamp.error.canceled"
	ErrTimeout                URI = "wamp.error.timeout"
	ErrOptionNotAllowed       URI = "wamp.error.option_not_allowed"
	ErrNetworkFailure         URI = "wamp.error.network_failure"
	ErrPayloadSizeExceeded    URI = "wamp.error.payload_size_exceeded"
	ErrUnavailable            URI = "wamp.error.unavailable"
	ErrNoAvailableCallee      URI = "wamp.error.no_available_callee"
	ErrFeatureNotSupported    URI = "wamp.error.feature_not_supported"
)

// Close reasons used in GOODBYE and ABORT.
const (
	CloseNormal         URI = "wamp.close.normal"
	CloseSystemShutdown URI = "wamp.close.system_shutdown"
	CloseRealm          URI = "wamp.close.close_realm"
	CloseGoodbyeAndOut  URI = "wamp.close.goodbye_and_out"
	CloseKilled         URI = "wamp.close.killed"
	CloseSlowConsumer   URI = "junction.close.slow_consumer"
)
