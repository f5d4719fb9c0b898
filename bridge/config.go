package bridge

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/junction-wamp/junction/router"
)

// Config is the bridge's configuration: the [bridge] table of config.toml.
// Zero fields take the defaults their comments give. A Config with no
// endpoint serves nothing (the bridge is off).
type Config struct {
	// MaxBody bounds a request's body, in bytes; a larger one is answered
	// 413. Default 1 MiB.
	MaxBody int64
	// MaxJSONDepth bounds how deeply the JSON of a body nests (lists and
	// dicts); a deeper one is answered 400. Default 64.
	MaxJSONDepth int
	// ReadTimeout bounds reading a request's body, from the end of its
	// headers. Default 10s.
	ReadTimeout time.Duration
	// DefaultCallTimeout is a call's timeout when the request names none.
	// Default 10s.
	DefaultCallTimeout time.Duration
	// MaxCallTimeout is the longest timeout a request may ask for; a
	// longer one is answered 400. Default 5m.
	MaxCallTimeout time.Duration
	// MaxConcurrent bounds the bridge requests handled at once, all
	// endpoints together; a request beyond it is answered 503 with
	// Retry-After. Default 256.
	MaxConcurrent int
	// TimestampWindow is how far a signed request's timestamp may be from
	// the router's clock, either way. Default 60s.
	TimestampWindow time.Duration
	// MaxNonces bounds the signatures remembered to refuse replays (each
	// for TimestampWindow after its timestamp); a signed request that
	// finds the memory full is answered 503. Default 100000.
	MaxNonces int
	// Callers and Publishers are the endpoints.
	Callers    []Endpoint
	Publishers []Endpoint
	// Keys are the keys of signed requests.
	Keys []Key
	// Realms are the router's realms (server.Config.Router.Realms), set by
	// the server, not by [bridge]: the bridge checks endpoints against
	// them and finds bearer tickets among their principals.
	Realms []router.RealmConfig
	// AutoCreateRealms is the router's router.auto_create_realms: an
	// endpoint may then name a realm that Realms does not list.
	AutoCreateRealms bool
}

// AuthMethod is how an endpoint authenticates requests.
type AuthMethod string

// Authentication methods of an endpoint.
const (
	// AuthTicket: "Authorization: Bearer <ticket>", the ticket of one of
	// the realm's principals.
	AuthTicket AuthMethod = "ticket"
	// AuthSigned: query parameters key, timestamp, seq, nonce and
	// signature, as Crossbar's HTTP bridge signs requests.
	AuthSigned AuthMethod = "signed"
	// AuthAnonymous: a request without credentials acts as an anonymous
	// session of the realm (which must allow anonymous sessions).
	AuthAnonymous AuthMethod = "anonymous"
)

// Endpoint is a caller or publisher endpoint.
type Endpoint struct {
	// Path is the URL path it is served at, e.g. "/call".
	Path string
	// Realm is the realm it calls or publishes on.
	Realm string
	// Auth lists the methods it accepts; at least one.
	Auth []AuthMethod
}

// Key is a key of signed requests: whom a request signed with its secret
// acts as.
type Key struct {
	// Key is the key's name, the request's "key" parameter.
	Key string
	// Secret is the HMAC-SHA256 secret.
	Secret string
	// Realm is the only realm the key is valid on.
	Realm string
	// AuthID and Role are the authid and role the request acts with.
	AuthID string
	Role   string
}

const (
	defaultMaxBody     = 1 << 20
	defaultMaxDepth    = 64
	defaultReadTimeout = 10 * time.Second
	defaultCallTimeout = 10 * time.Second
	defaultMaxTimeout  = 5 * time.Minute
	defaultConcurrent  = 256
	defaultWindow      = 60 * time.Second
	defaultMaxNonces   = 100_000
)

// WithDefaults returns c with the defaults documented on Config filled in.
func (c Config) WithDefaults() Config {
	c.MaxBody = cmp.Or(c.MaxBody, defaultMaxBody)
	c.MaxJSONDepth = cmp.Or(c.MaxJSONDepth, defaultMaxDepth)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, defaultReadTimeout)
	c.DefaultCallTimeout = cmp.Or(c.DefaultCallTimeout, defaultCallTimeout)
	c.MaxCallTimeout = cmp.Or(c.MaxCallTimeout, defaultMaxTimeout)
	c.MaxConcurrent = cmp.Or(c.MaxConcurrent, defaultConcurrent)
	c.TimestampWindow = cmp.Or(c.TimestampWindow, defaultWindow)
	c.MaxNonces = cmp.Or(c.MaxNonces, defaultMaxNonces)
	return c
}

// Enabled reports whether c has an endpoint.
func (c Config) Enabled() bool { return len(c.Callers)+len(c.Publishers) > 0 }

// Paths returns the paths of c's endpoints.
func (c Config) Paths() []string {
	var out []string
	for _, e := range slices.Concat(c.Callers, c.Publishers) {
		out = append(out, e.Path)
	}
	return out
}

// Validate checks c (defaults filled in) and reports every problem.
func (c Config) Validate() error {
	_, err := compile(c.WithDefaults())
	return err
}

func (c Config) checkScalars() []error {
	var errs []error
	positive := map[string]int64{"max_body": c.MaxBody, "max_json_depth": int64(c.MaxJSONDepth),
		"max_concurrent": int64(c.MaxConcurrent), "max_nonces": int64(c.MaxNonces),
		"read_timeout": int64(c.ReadTimeout), "default_call_timeout": int64(c.DefaultCallTimeout),
		"max_call_timeout": int64(c.MaxCallTimeout), "timestamp_window": int64(c.TimestampWindow)}
	for _, name := range slices.Sorted(mapKeys(positive)) {
		if positive[name] < 0 {
			errs = append(errs, fmt.Errorf("bridge.%s: want a positive value", name))
		}
	}
	if c.DefaultCallTimeout > c.MaxCallTimeout {
		errs = append(errs, errors.New("bridge.default_call_timeout: longer than max_call_timeout"))
	}
	return errs
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkEndpoint checks e, the idx-th endpoint of kind.
func (c Config) checkEndpoint(kind string, idx int, e Endpoint, seen map[string]bool) []error {
	key := fmt.Sprintf("bridge.%s[%d]", kind, idx)
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(key+": "+format, a...)) }
	switch {
	case !strings.HasPrefix(e.Path, "/") || strings.ContainsAny(e.Path, "{}*?# \t\r\n") || strings.HasSuffix(e.Path, "/"):
		bad("path %q: want a plain URL path such as \"/call\", not ending in \"/\"", e.Path)
	case seen[e.Path]:
		bad("path %q: taken by another endpoint", e.Path)
	}
	seen[e.Path] = true
	rc, known := c.realm(e.Realm)
	if e.Realm == "" || !known && !c.AutoCreateRealms {
		bad("realm %q: not a realm of the router", e.Realm)
	}
	if len(e.Auth) == 0 {
		bad(`auth: list at least one of "ticket", "signed", "anonymous"`)
	}
	for _, m := range e.Auth {
		switch m {
		case AuthTicket, AuthSigned:
		case AuthAnonymous:
			if known && !rc.Anonymous {
				bad("auth: anonymous, but realm %q refuses anonymous sessions", e.Realm)
			}
		default:
			bad(`auth %q: want "ticket", "signed" or "anonymous"`, m)
		}
	}
	return errs
}

// realm returns the config of the realm named name.
func (c Config) realm(name string) (router.RealmConfig, bool) {
	i := slices.IndexFunc(c.Realms, func(rc router.RealmConfig) bool { return rc.Name == name })
	if i < 0 {
		return router.RealmConfig{}, false
	}
	return c.Realms[i], true
}

// checkKeys checks the signed-request keys.
func (c Config) checkKeys() []error {
	var errs []error
	seen := map[string]bool{}
	for i, k := range c.Keys {
		bad := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("bridge.keys[%d]: "+format, append([]any{i}, a...)...))
		}
		switch {
		case k.Key == "" || len(k.Key) > maxParam:
			bad("key: want a name of 1 to %d bytes", maxParam)
		case seen[k.Key]:
			bad("key %q: listed twice", k.Key)
		}
		seen[k.Key] = true
		if len(k.Secret) < 16 {
			bad("secret: want at least 16 bytes")
		}
		rc, known := c.realm(k.Realm)
		if !known && !c.AutoCreateRealms {
			bad("realm %q: not a realm of the router", k.Realm)
		}
		if known && !hasRole(rc, k.Role) {
			bad("role %q: not a role of realm %q", k.Role, k.Realm)
		}
		if k.AuthID == "" || k.Role == "" {
			bad("authid and role: a key acts as a principal: set both")
		}
	}
	return errs
}

// ticketIndex maps the hash of each ticket of a realm's principals to the
// principal. Two principals with one ticket are an error: a bearer ticket
// would not say who it is.
func ticketIndex(rc router.RealmConfig) (map[[32]byte]router.Principal, error) {
	idx := make(map[[32]byte]router.Principal)
	for _, p := range rc.Principals {
		if p.Ticket == "" {
			continue
		}
		h := sha256.Sum256([]byte(p.Ticket))
		if o, dup := idx[h]; dup {
			return nil, fmt.Errorf("realm %q: principals %q and %q share a ticket: a bearer ticket must name one principal", rc.Name, o.AuthID, p.AuthID)
		}
		idx[h] = p
	}
	return idx, nil
}

// hasRole reports whether the router admits a session of role to rc: any
// role when rc has no roles or a dynamic authorizer, else one of its roles.
func hasRole(rc router.RealmConfig, role string) bool {
	if len(rc.Roles) == 0 || rc.Authorizer != "" || rc.AuthorizerHook != nil {
		return true
	}
	return slices.ContainsFunc(rc.Roles, func(r router.RoleConfig) bool { return r.Name == role })
}
