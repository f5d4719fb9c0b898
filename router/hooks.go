package router

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// Go hooks for authentication and authorization: an embedding program plugs
// its own user store into a realm (RealmConfig.AuthenticatorHook and
// AuthorizerHook) instead of registering a WAMP procedure for it
// (RealmConfig.Authenticator and Authorizer). A realm has one or the other
// of each kind, never both.

// ErrUnknownAuthID is what an Authenticator answers for an authid it does
// not know; (nil, nil) means the same.
var ErrUnknownAuthID = errors.New("router: unknown authid")

// AuthRequest is what an Authenticator is asked: who a HELLO says it is,
// and from where.
type AuthRequest struct {
	// Realm is the realm the HELLO asks to join.
	Realm string
	// AuthID is HELLO.Details.authid ("" when the client names none).
	AuthID string
	// AuthMethod is the method the router chose among AuthMethods: the
	// first one the realm enables (ticket, wampcra, cryptosign or tls).
	AuthMethod AuthMethod
	// AuthMethods are HELLO.Details.authmethods, as the client offered them.
	AuthMethods []string
	// AuthExtra is HELLO.Details.authextra (for cryptosign, its "pubkey"):
	// a copy, the hook's to keep.
	AuthExtra map[string]any
	// Ticket is the ticket the client answered the CHALLENGE with, for
	// the ticket method only (the hook is asked after AUTHENTICATE).
	Ticket string
	// RemoteAddr is the client's address (behind a trusted proxy, the
	// address it forwarded).
	RemoteAddr string
	// ClientCert is the common name of the client's verified TLS
	// certificate, "" without one.
	ClientCert string
}

// Authenticator is a realm's user store in Go (RealmConfig.AuthenticatorHook),
// asked about every authid that is not one of the realm's static Principals.
//
// Authenticate answers the Principal the request names, with the
// credentials of the method asked, or (nil, ErrUnknownAuthID) or (nil, nil)
// for an authid it does not know. It does not decide alone: the router then
// authenticates the principal exactly as a static one, so the security
// properties of static principals hold for a hook too:
//
//   - The hook is asked before the CHALLENGE for wampcra and cryptosign (the
//     principal's Secret, with Salt, Iterations and KeyLen when salted, or
//     PublicKeys), after AUTHENTICATE for ticket (req.Ticket is the client's
//     answer), and with no challenge for tls (req.ClientCert is set; an
//     unverified connection is refused without asking).
//   - A principal is challenged only by the methods it has credentials for:
//     a principal without them for the method asked (no Secret for wampcra,
//     no valid key for cryptosign, no Ticket for ticket) authenticates
//     nobody. For ticket the router compares req.Ticket with the
//     principal's Ticket in constant time (and TicketExpires): a store that
//     keeps only a hash of tickets checks req.Ticket itself and answers the
//     principal with Ticket set to req.Ticket when it matches, and no
//     principal when it does not.
//   - An unknown authid, an error and a principal without credentials all
//     get the same CHALLENGE as a known one, against credentials nobody
//     has (for wampcra: authrole "" in the challenge and a decoy salt, see
//     CRASalter, and a key derivation of the same cost), then
//     wamp.error.authentication_failed: what the hook answers cannot tell a
//     client which authids exist, even when it reports "no such user" as an
//     error by mistake.
//   - Every authentication that asks the hook is counted by the
//     per-address failure limit (Config.AuthFailureLimit), in progress and
//     failed, as for static principals: an address at its limit is refused
//     before the hook is asked.
//   - The call is bounded by Config.AuthTimeout: ctx carries that deadline,
//     and the router stops waiting for a hook that does not honour it (the
//     authentication fails). A hook that returns an error or panics fails
//     closed (authentication_failed; the panic is logged, the router keeps
//     running).
//
// The returned principal is copied: the hook may reuse it. Its AuthID,
// when empty, is the HELLO's authid (for tls, the certificate's name); its
// Role must be set, and one of the realm's Roles when the realm has roles
// and no authorizer. The session's authprovider is "dynamic".
//
// Authenticate is called from many goroutines at once.
type Authenticator interface {
	Authenticate(ctx context.Context, req AuthRequest) (*Principal, error)
}

// AuthenticatorFunc is a function as an Authenticator.
type AuthenticatorFunc func(ctx context.Context, req AuthRequest) (*Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, req AuthRequest) (*Principal, error) {
	return f(ctx, req)
}

// CRASalting is how an Authenticator's WAMP-CRA principals are salted.
type CRASalting struct {
	// Iterations and KeyLen are the PBKDF2 parameters (defaults 1000, 32).
	Iterations, KeyLen int
	// SaltLen is the length of the salts, in characters; HexSalt: they are
	// hex digits (else base64url characters).
	SaltLen int
	HexSalt bool
	// DecoyKey, secret and the same on every start, makes an unknown
	// authid's decoy salt the same each time, as a real salt is; empty: a
	// key drawn at New (an unknown authid's salt then changes when the
	// router restarts, which a known one's does not).
	DecoyKey []byte
}

// CRASalter is implemented by an Authenticator whose WAMP-CRA principals
// are salted: an authid it does not know is then challenged with a decoy
// salt of the same shape, so the CHALLENGE does not tell it apart (a
// realm whose static principals are salted already has decoy salts, which
// take precedence). Salt all of them alike: a client can tell an unsalted
// principal from a salted one.
type CRASalter interface {
	CRASalting() CRASalting
}

// SessionInfo is the session an Authorizer decides for.
type SessionInfo struct {
	ID           wamp.ID
	Realm        string
	AuthID       string
	AuthRole     string
	AuthMethod   AuthMethod
	AuthProvider string
}

// AuthzRequest is what an Authorizer is asked: may Session do Action on URI.
type AuthzRequest struct {
	Session SessionInfo
	Action  Action
	// URI is the procedure or topic; for a pattern REGISTER or SUBSCRIBE,
	// the pattern.
	URI wamp.URI
	// Match is the pattern's match policy: "exact", "prefix" or "wildcard"
	// (always "exact" for CALL and PUBLISH). Allow a pattern only when
	// everything it can match is allowed.
	Match wamp.MatchPolicy
}

// Decision is an Authorizer's answer.
type Decision struct {
	// Allow allows the request.
	Allow bool
	// Disclose discloses the caller of the call, or the publisher of the
	// event, to the callee or subscribers, whatever the caller asked.
	Disclose bool
	// Cache lets the router reuse the decision for the same authid,
	// authrole, action, URI and match for RealmConfig.AuthorizerCacheTTL,
	// in the realm's bounded cache (RealmConfig.AuthorizerCacheSize).
	Cache bool
}

// Authorizer decides in Go what sessions may do (RealmConfig.AuthorizerHook),
// for the roles without static permissions, as the authorizer procedure
// does. The router asks it where it would ask the procedure, after its own
// checks: wamp.* URIs stay reserved (no session registers or publishes
// them), the realm's authenticator procedure needs a rule naming it
// exactly, and the kill meta procedures reach the hook as calls of
// their own URIs (wamp.session.kill...) that it must allow explicitly.
// The router's internal sessions are not asked about.
//
// An error, a panic or no answer within Config.AuthTimeout (ctx carries
// the deadline) denies (wamp.error.not_authorized); a panic is logged and
// never crashes the router. Authorize is called from many goroutines at
// once.
type Authorizer interface {
	Authorize(ctx context.Context, req AuthzRequest) (Decision, error)
}

// AuthorizerFunc is a function as an Authorizer.
type AuthorizerFunc func(ctx context.Context, req AuthzRequest) (Decision, error)

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, req AuthzRequest) (Decision, error) {
	return f(ctx, req)
}

// errHookPanicked wraps what a hook panicked with.
var errHookPanicked = errors.New("router: hook panicked")

// callHook calls hook with a context bounded by timeout, in a goroutine of
// its own so that a hook ignoring the deadline holds up no session: the
// router stops waiting when it passes. A panic becomes an error.
func callHook[T any](timeout time.Duration, hook func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type answer struct {
		v   T
		err error
	}
	done := make(chan answer, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- answer{err: fmt.Errorf("%w: %v", errHookPanicked, p)}
			}
		}()
		v, err := hook(ctx)
		done <- answer{v, err}
	}()
	select {
	case a := <-done:
		return a.v, a.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// hookPrincipal asks the realm's AuthenticatorHook about the HELLO, for
// method (ticket: with the client's ticket). It returns nil for an unknown
// authid, an error, a panic and a principal without credentials for method.
func (s *session) hookPrincipal(rm *realm, method AuthMethod, hello *wamp.Hello, ticket string) *Principal {
	info := s.peer.Info()
	req := AuthRequest{
		Realm:      string(rm.Name),
		AuthID:     hello.Details.String("authid"),
		AuthMethod: method,
		AuthExtra:  maps.Clone(map[string]any(hello.Details.Dict("authextra"))),
		Ticket:     ticket,
		RemoteAddr: info.RemoteAddr,
		ClientCert: info.ClientCert,
	}
	for _, m := range asList(hello.Details["authmethods"]) {
		if name, ok := m.(string); ok {
			req.AuthMethods = append(req.AuthMethods, name)
		}
	}
	hook := rm.conf().cfg.AuthenticatorHook
	if hook == nil { // a reload removed it during the handshake
		return nil
	}
	p, err := callHook(s.r.config().AuthTimeout, func(ctx context.Context) (*Principal, error) { return hook.Authenticate(ctx, req) })
	switch {
	case errors.Is(err, errHookPanicked):
		s.logger().Error("the Go authenticator panicked; authentication fails", "authmethod", method, "authid", req.AuthID, "error", err)
		return nil
	case err != nil && !errors.Is(err, ErrUnknownAuthID):
		s.logger().Warn("the Go authenticator failed; authentication fails", "authmethod", method, "authid", req.AuthID, "error", err)
		return nil
	case p == nil || err != nil:
		return nil
	}
	q := *p // the hook's to reuse
	q.PublicKeys = slices.Clone(p.PublicKeys)
	if q.AuthID == "" {
		q.AuthID = req.AuthID
		if method == AuthTLS {
			q.AuthID = info.ClientCert
		}
	}
	if q.Role == "" || q.AuthID == "" || !q.hasCredentials(method) || method == AuthTicket && q.Ticket == "" {
		s.logger().Info("the Go authenticator's principal cannot authenticate with this method", "authmethod", method, "authid", req.AuthID)
		return nil
	}
	if auth := rm.conf().auth; method == AuthWAMPCRA && q.Salt != "" && auth.decoy == nil {
		auth.warnUnsalted.Do(func() {
			s.logger().Warn("the Go authenticator answers salted WAMP-CRA principals but declares no salting (CRASalter): an unknown authid's CHALLENGE has no salt, so a client can tell which authids exist")
		})
	}
	return &q
}

// hookSalting sets a's decoy salting from the realm's AuthenticatorHook, when
// it declares one and the static principals gave none.
func (a *realmAuth) hookSalting(rc RealmConfig) {
	salter, ok := rc.AuthenticatorHook.(CRASalter)
	if !ok || a.decoy != nil {
		return
	}
	cs := salter.CRASalting()
	if cs.SaltLen <= 0 {
		return
	}
	a.decoy = &craSalting{iterations: craIterations(cs.Iterations), keylen: craKeyLen(cs.KeyLen), saltLen: cs.SaltLen, hexSalt: cs.HexSalt}
	if len(cs.DecoyKey) > 0 && len(a.craKeys) == 0 {
		mac := hmac.New(sha256.New, []byte("junction: WAMP-CRA decoy salts of a Go authenticator"))
		mac.Write(cs.DecoyKey)
		a.decoySecret = mac.Sum(nil)
	}
}

// decideHook asks the realm's AuthorizerHook, and caches its decision when
// it says so.
func (d *dynamicAuthz) decideHook(s *session, key authzKey) (bool, *Permission) {
	req := AuthzRequest{
		Session: SessionInfo{ID: s.id, Realm: string(d.rm.Name), AuthID: s.authid, AuthRole: s.authrole, AuthMethod: AuthMethod(s.authmethod), AuthProvider: s.authprovider},
		Action:  key.a, URI: key.uri, Match: key.match,
	}
	dec, err := callHook(s.r.config().AuthTimeout, func(ctx context.Context) (Decision, error) { return d.hook.Authorize(ctx, req) })
	if err != nil {
		level := s.logger().Warn
		if errors.Is(err, errHookPanicked) {
			level = s.logger().Error
		}
		level("the Go authorizer failed; denying", "action", key.a.String(), "uri", key.uri, "match", key.match, "error", err)
		return false, nil
	}
	e := authzEntry{allowed: dec.Allow, disclose: dec.Disclose, expires: time.Now().Add(d.ttl)}
	if dec.Cache && d.ttl > 0 {
		d.store(key, e)
	}
	return e.allowed, e.permission()
}
