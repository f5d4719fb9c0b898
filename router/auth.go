package router

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// AuthMethod is a WAMP authentication method, as HELLO.Details.authmethods
// names it.
type AuthMethod string

// Authentication methods.
const (
	AuthAnonymous  AuthMethod = "anonymous"
	AuthTicket     AuthMethod = "ticket"
	AuthWAMPCRA    AuthMethod = "wampcra"
	AuthCryptosign AuthMethod = "cryptosign"
	AuthTLS        AuthMethod = "tls" // a verified TLS client certificate whose common name is a principal's authid
)

// Principal is a static user of a realm: an authid with its role and the
// credentials of the methods it may use.
type Principal struct {
	AuthID string
	Role   string
	// Ticket is the ticket for the ticket method.
	Ticket string
	// TicketExpires, when set, is when the ticket stops being accepted.
	TicketExpires time.Time
	// Secret is the WAMP-CRA secret. With Salt set, the HMAC key is the
	// base64 PBKDF2-HMAC-SHA256 derivation of Secret with Salt, Iterations
	// and KeyLen (defaults 1000 and 32), as the spec's salted WAMP-CRA says.
	Secret     string
	Salt       string
	Iterations int
	KeyLen     int
	// PublicKeys are hex Ed25519 public keys for the cryptosign method.
	PublicKeys []string
}

// authenticated is who a session turned out to be.
type authenticated struct {
	authid, authrole, authmethod, authprovider string
	principal                                  *Principal // the static principal, nil for others
}

// chooseMethod picks the first method of the client's authmethods the realm
// enables (anonymous when the client names none and the realm allows it).
func chooseMethod(rm *realm, details wamp.Dict) AuthMethod {
	offered, _ := details["authmethods"].([]any)
	if len(offered) == 0 {
		if rm.methodEnabled(AuthAnonymous) {
			return AuthAnonymous
		}
		return ""
	}
	for _, m := range offered {
		if name, _ := m.(string); rm.methodEnabled(AuthMethod(name)) {
			return AuthMethod(name)
		}
	}
	return ""
}

func (rm *realm) methodEnabled(m AuthMethod) bool {
	if m == AuthAnonymous {
		return rm.conf().cfg.Anonymous
	}
	return slices.Contains(rm.conf().cfg.AuthMethods, m)
}

// authenticate authenticates a session with method. A failure is answered
// with ABORT and counted against the client's address; an address at its
// limit of failures (authentications in progress included) is refused
// without a challenge.
func (s *session) authenticate(rm *realm, method AuthMethod, hello *wamp.Hello) (*authenticated, bool) {
	if method == AuthAnonymous {
		return &authenticated{authrole: rm.anonymousRole(), authmethod: string(AuthAnonymous), authprovider: "static"}, true
	}
	if !s.r.failures.reserve(s.address, s.r.config().AuthFailureLimit) {
		s.r.stats.AuthFailures.Add(1)
		s.limitReached(LimitAuthFailures, "authentication refused without a challenge")
		s.refuse(wamp.ErrAuthenticationFailed, "too many failed authentications from this address; try again later")
		return nil, false
	}
	var auth *authenticated
	if method == AuthTLS {
		auth = s.authenticateTLS(rm, hello)
	} else {
		auth = s.challengeResponse(rm, method, hello)
	}
	// A timeout, a disconnection or a wrong answer: a failure all the same.
	s.r.failures.release(s.address, auth == nil)
	if auth == nil {
		s.r.stats.AuthFailures.Add(1)
	}
	return auth, auth != nil
}

// challengeResponse runs the CHALLENGE/AUTHENTICATE exchange of method. It
// returns nil after the session was aborted.
//
// A principal is challenged only with the credentials it has for method:
// an authid the realm does not know, and a principal without credentials
// for method, get the same exchange as a known one, against credentials
// nobody has, so failures say nothing about which authids exist.
func (s *session) challengeResponse(rm *realm, method AuthMethod, hello *wamp.Hello) *authenticated {
	authid := hello.Details.String("authid")
	p, dynamic := s.findPrincipal(rm, method, hello)
	var ch challenge
	if method == AuthWAMPCRA {
		key, params := s.craCredentials(rm, p, dynamic)
		if key == nil {
			p = nil
		}
		ch = craChallenge(rm.conf().auth, authid, key, params)
	} else {
		ch = newChallenge(method, p)
	}
	_ = s.send(&wamp.Challenge{AuthMethod: string(method), Extra: ch.extra})
	msg, ok := s.awaitAuthenticate()
	if !ok {
		return nil
	}
	if dynamic && method == AuthTicket && rm.conf().cfg.AuthenticatorHook != nil {
		// The hook answers the principal; its ticket is compared as a
		// static principal's is.
		p = s.hookPrincipal(rm, method, hello, msg.Signature)
		ch = newChallenge(AuthTicket, p)
	} else if dynamic && method == AuthTicket {
		// The authenticator checks the ticket itself.
		p = s.dynamicPrincipal(rm, method, authid, wamp.Dict{"authmethod": method, "ticket": msg.Signature}, msg.Signature)
		if p != nil {
			ch.verify = func(string) bool { return true }
		}
	}
	if p == nil || !ch.verify(msg.Signature) {
		return s.authFailed(method, authid)
	}
	provider, static := "static", p
	if dynamic {
		provider, static = "dynamic", nil
	}
	// welcome checks that the realm has the role.
	return &authenticated{authid: p.AuthID, authrole: p.Role, authmethod: string(method), authprovider: provider, principal: static}
}

// findPrincipal returns the static principal the HELLO's authid (or, for
// cryptosign, its public key) names, else, when the realm has an
// authenticator (procedure or Go hook), the dynamic one the authenticator
// answers, and whether it asked it. For the ticket method the
// authenticator is asked after AUTHENTICATE, with the ticket.
func (s *session) findPrincipal(rm *realm, method AuthMethod, hello *wamp.Hello) (*Principal, bool) {
	authid := hello.Details.String("authid")
	authextra := hello.Details.Dict("authextra")
	var p *Principal
	if method == AuthCryptosign {
		p = rm.principalByKey(authextra.String("pubkey"), authid)
	} else {
		p = rm.principal(authid)
	}
	rc := rm.conf().cfg
	if p != nil || rc.Authenticator == "" && rc.AuthenticatorHook == nil {
		return p, false
	}
	if method == AuthTicket {
		return nil, true
	}
	if rc.AuthenticatorHook != nil {
		return s.hookPrincipal(rm, method, hello, ""), true
	}
	// WAMP-CRA and cryptosign need the credentials before the challenge.
	return s.dynamicPrincipal(rm, method, authid, wamp.Dict{"authmethod": method, "authextra": map[string]any(authextra)}, ""), true
}

// authFailed refuses a session whose authentication failed, with the same
// words whatever went wrong.
func (s *session) authFailed(method AuthMethod, who string) *authenticated {
	s.logger().Info("authentication failed", "authmethod", method, "authid", who)
	s.refuse(wamp.ErrAuthenticationFailed, "authentication failed")
	return nil
}

// dynamicPrincipal asks the realm's authenticator procedure about authid:
// it is called with [realm, authid, details] and answers with a role (a
// string) or a dict with role and, as the method needs, authid, secret,
// salt, iterations, keylen, pubkey or pubkeys. An error or a malformed
// answer means no such principal. ticket, when set, becomes the principal's
// ticket: the authenticator accepted it.
func (s *session) dynamicPrincipal(rm *realm, method AuthMethod, authid string, details wamp.Dict, ticket string) *Principal {
	res, err := s.callAuthenticator(rm, []any{string(rm.Name), authid, map[string]any(details)})
	if err != nil || len(res) == 0 {
		s.logger().Info("dynamic authenticator refused", "authmethod", method, "authid", authid, "error", err)
		return nil
	}
	p := &Principal{AuthID: authid, Ticket: ticket}
	switch v := res[0].(type) {
	case string:
		p.Role = v
	default:
		d := wamp.AsDict(v)
		if d == nil {
			return nil
		}
		p.Role = d.String("role")
		if a := d.String("authid"); a != "" {
			p.AuthID = a
		}
		p.Secret, p.Salt = d.String("secret"), d.String("salt")
		if n, ok := d.Int("iterations"); ok {
			p.Iterations = int(n)
		}
		if n, ok := d.Int("keylen"); ok {
			p.KeyLen = int(n)
		}
		if k := d.String("pubkey"); k != "" {
			p.PublicKeys = []string{k}
		}
		for _, k := range asList(d["pubkeys"]) {
			if ks, ok := k.(string); ok {
				p.PublicKeys = append(p.PublicKeys, ks)
			}
		}
	}
	if p.Role == "" || p.AuthID == "" || !p.hasCredentials(method) {
		return nil
	}
	return p
}

// hasCredentials reports whether p has what method checks: a WAMP-CRA
// secret, a valid public key. A ticket is checked by the authenticator.
func (p *Principal) hasCredentials(method AuthMethod) bool {
	switch method {
	case AuthWAMPCRA:
		return p.Secret != ""
	case AuthCryptosign:
		return len(p.ed25519Keys()) > 0
	}
	return true
}

// errNoAuthenticator: no exact registration of the realm's authenticator.
var errNoAuthenticator = errors.New("router: the authenticator procedure is not registered (a pattern registration that matches it is not trusted with it)")

// callAuthenticator calls the realm's authenticator procedure. Only an
// exact registration of it is trusted: a prefix or wildcard registration
// matching it, which a role may be allowed to make, would otherwise answer
// for it while it is not registered, and log anyone in with any role.
func (s *session) callAuthenticator(rm *realm, args []any) ([]any, error) {
	uri := wamp.URI(rm.conf().cfg.Authenticator)
	if !rm.exactlyRegistered(uri) {
		return nil, errNoAuthenticator
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.r.config().AuthTimeout)
	defer cancel()
	res, _, err := s.r.callInternal(ctx, rm, uri, args, nil)
	return res, err
}

// exactlyRegistered reports whether a call of procedure goes to an exact
// registration of it, the only kind trusted to answer for the router's
// own calls (authenticator, authorizer).
func (rm *realm) exactlyRegistered(procedure wamp.URI) bool {
	reg := rm.Dealer.Match(procedure)
	return reg != nil && reg.Match == wamp.MatchExact
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// authenticateTLS admits the principal named by the verified client
// certificate's common name: a static one, else the one the realm's Go
// authenticator answers.
func (s *session) authenticateTLS(rm *realm, hello *wamp.Hello) *authenticated {
	cn := s.peer.Info().ClientCert
	if cn == "" {
		return s.authFailed(AuthTLS, cn)
	}
	provider := "static"
	p := rm.principal(cn)
	if p == nil && rm.conf().cfg.AuthenticatorHook != nil {
		p, provider = s.hookPrincipal(rm, AuthTLS, hello, ""), "dynamic"
	}
	if p == nil {
		return s.authFailed(AuthTLS, cn)
	}
	a := &authenticated{authid: p.AuthID, authrole: p.Role, authmethod: string(AuthTLS), authprovider: provider}
	if provider == "static" {
		a.principal = p
	}
	return a
}

// awaitAuthenticate reads AUTHENTICATE within the auth timeout.
func (s *session) awaitAuthenticate() (*wamp.Authenticate, bool) {
	var timedOut atomic.Bool
	timeout := s.r.config().AuthTimeout
	timer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		s.abort(wamp.ErrAuthenticationFailed, "no AUTHENTICATE received within "+timeout.String(), transport.ClosePolicyViolation)
	})
	msg, err := s.recv()
	if !timer.Stop() || timedOut.Load() {
		return nil, false
	}
	if err != nil {
		s.inputError(err)
		return nil, false
	}
	auth, ok := msg.(*wamp.Authenticate)
	if !ok {
		s.protocolViolation("expected AUTHENTICATE after CHALLENGE, got " + msg.MessageType().String())
		return nil, false
	}
	return auth, true
}

// challenge is one CHALLENGE and how to check its answer.
type challenge struct {
	extra  wamp.Dict
	verify func(signature string) bool
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// newChallenge is the ticket or cryptosign CHALLENGE for p (nil: nobody
// can answer it).
func newChallenge(method AuthMethod, p *Principal) challenge {
	switch method {
	case AuthTicket:
		want := randomBytes(32)
		if p != nil && p.Ticket != "" && (p.TicketExpires.IsZero() || time.Now().Before(p.TicketExpires)) {
			want = []byte(p.Ticket)
		}
		// Compared as hashes: the time taken says nothing of the ticket's length.
		wantSum := sha256.Sum256(want)
		return challenge{extra: wamp.Dict{}, verify: func(sig string) bool {
			sum := sha256.Sum256([]byte(sig))
			return subtle.ConstantTimeCompare(sum[:], wantSum[:]) == 1
		}}
	case AuthCryptosign:
		return cryptosignChallenge(p)
	}
	return challenge{extra: wamp.Dict{}, verify: func(string) bool { return false }}
}

// cryptosignChallenge is a cryptosign CHALLENGE answered by a signature of
// one of p's public keys (nil p, or none: nobody can answer it).
func cryptosignChallenge(p *Principal) challenge {
	nonce := randomBytes(32)
	var keys []ed25519.PublicKey
	if p != nil {
		keys = p.ed25519Keys()
	}
	return challenge{extra: wamp.Dict{"challenge": hex.EncodeToString(nonce), "channel_binding": nil}, verify: func(sig string) bool {
		b, err := hex.DecodeString(sig)
		if err != nil || len(b) != ed25519.SignatureSize+len(nonce) || !hmac.Equal(b[ed25519.SignatureSize:], nonce) {
			return false
		}
		for _, k := range keys {
			if ed25519.Verify(k, nonce, b[:ed25519.SignatureSize]) {
				return true
			}
		}
		return false
	}}
}

// ed25519Keys is p's valid cryptosign public keys.
func (p *Principal) ed25519Keys() []ed25519.PublicKey {
	var keys []ed25519.PublicKey
	for _, k := range p.PublicKeys {
		if b, err := hex.DecodeString(k); err == nil && len(b) == ed25519.PublicKeySize {
			keys = append(keys, b)
		}
	}
	return keys
}

// principal returns the realm's principal with authid, or nil.
func (rm *realm) principal(authid string) *Principal {
	auth := rm.conf().auth
	if auth == nil { // a realm created on demand: no principals
		return nil
	}
	return auth.byAuthID[authid]
}

// principalByKey finds a cryptosign principal by public key (and authid, if given).
func (rm *realm) principalByKey(pubkey, authid string) *Principal {
	principals := rm.conf().cfg.Principals // once: a reload swaps the list
	for i := range principals {
		p := &principals[i]
		if authid != "" && p.AuthID != authid {
			continue
		}
		if pubkey == "" && authid != "" {
			return p
		}
		if slices.Contains(p.PublicKeys, pubkey) {
			return p
		}
	}
	return nil
}

func (rm *realm) anonymousRole() string {
	return anonymousRole(rm.conf().cfg)
}

// anonymousRole is the authrole of rc's anonymous sessions.
func anonymousRole(rc RealmConfig) string {
	return cmp.Or(rc.AnonymousRole, string(AuthAnonymous))
}
