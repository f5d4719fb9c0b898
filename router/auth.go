package router

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// Authentication methods.
const (
	AuthAnonymous  = "anonymous"
	AuthTicket     = "ticket"
	AuthWAMPCRA    = "wampcra"
	AuthCryptosign = "cryptosign"
	AuthTLS        = "tls" // a verified TLS client certificate whose common name is a principal's authid
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
}

// chooseMethod picks the first method of the client's authmethods the realm
// enables (anonymous when the client names none and the realm allows it).
func chooseMethod(rm *realm, details wamp.Dict) string {
	offered, _ := details["authmethods"].([]any)
	if len(offered) == 0 {
		if rm.methodEnabled(AuthAnonymous) {
			return AuthAnonymous
		}
		return ""
	}
	for _, m := range offered {
		if name, _ := m.(string); rm.methodEnabled(name) {
			return name
		}
	}
	return ""
}

func (rm *realm) methodEnabled(m string) bool {
	if m == AuthAnonymous {
		return rm.cfg.Anonymous
	}
	return slices.Contains(rm.cfg.AuthMethods, m)
}

// authenticate runs the CHALLENGE/AUTHENTICATE exchange of method. It
// returns false after answering ABORT itself.
func (s *session) authenticate(rm *realm, method string, hello *wamp.Hello) (*authenticated, bool) {
	if method == AuthAnonymous {
		return &authenticated{authrole: rm.anonymousRole(), authmethod: AuthAnonymous, authprovider: "static"}, true
	}
	ip := remoteIP(s.peer.Info().RemoteAddr)
	if s.r.failures.blocked(ip, s.r.cfg.AuthFailureLimit) {
		s.r.stats.AuthFailures.Add(1)
		s.refuse(wamp.ErrAuthenticationFailed, "too many failed authentications from this address; try again later")
		return nil, false
	}
	authid := hello.Details.String("authid")
	authextra := hello.Details.Dict("authextra")
	if method == AuthTLS {
		return s.authenticateTLS(rm, ip)
	}
	var p *Principal
	switch method {
	case AuthCryptosign:
		p = rm.principalByKey(authextra.String("pubkey"), authid)
	default:
		p = rm.principal(authid)
	}
	dynamic := p == nil && rm.cfg.Authenticator != ""
	if dynamic && method != AuthTicket {
		// WAMP-CRA and cryptosign need the credentials before the challenge.
		p = s.dynamicPrincipal(rm, method, authid, wamp.Dict{"authmethod": method, "authextra": map[string]any(authextra)}, "")
	}
	// An unknown authid gets the same exchange as a known one, with
	// credentials nobody has, so failures say nothing about which authids exist.
	ch := newChallenge(method, p, authid, rm, s)
	_ = s.send(&wamp.Challenge{AuthMethod: method, Extra: ch.extra})
	msg, ok := s.awaitAuthenticate()
	if !ok {
		return nil, false
	}
	if dynamic && method == AuthTicket {
		// The authenticator checks the ticket itself.
		p = s.dynamicPrincipal(rm, method, authid, wamp.Dict{"authmethod": method, "ticket": msg.Signature}, msg.Signature)
		if p != nil {
			ch.verify = func(string) bool { return true }
		}
	}
	if p == nil || !ch.verify(msg.Signature) {
		return s.authFailed(ip, method, authid)
	}
	provider := "static"
	if dynamic {
		provider = "dynamic"
	}
	// welcome checks that the realm has the role.
	return &authenticated{authid: p.AuthID, authrole: p.Role, authmethod: method, authprovider: provider}, true
}

// authFailed refuses a session whose authentication failed, with the same
// words whatever went wrong, and counts the failure against its address.
func (s *session) authFailed(ip, method, who string) (*authenticated, bool) {
	s.r.failures.record(ip)
	s.r.stats.AuthFailures.Add(1)
	s.logger().Info("authentication failed", "authmethod", method, "authid", who)
	s.refuse(wamp.ErrAuthenticationFailed, "authentication failed")
	return nil, false
}

// dynamicPrincipal asks the realm's authenticator procedure about authid:
// it is called with [realm, authid, details] and answers with a role (a
// string) or a dict with role and, as the method needs, authid, secret,
// salt, iterations, keylen, pubkey or pubkeys. An error or a malformed
// answer means no such principal. ticket, when set, becomes the principal's
// ticket: the authenticator accepted it.
func (s *session) dynamicPrincipal(rm *realm, method, authid string, details wamp.Dict, ticket string) *Principal {
	ctx, cancel := context.WithTimeout(context.Background(), s.r.cfg.AuthTimeout)
	defer cancel()
	res, _, err := s.r.callInternal(ctx, rm, wamp.URI(rm.cfg.Authenticator), []any{string(rm.Name), authid, map[string]any(details)}, nil)
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
	if p.Role == "" || p.AuthID == "" {
		return nil
	}
	return p
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// authenticateTLS admits the principal named by the verified client
// certificate's common name.
func (s *session) authenticateTLS(rm *realm, ip string) (*authenticated, bool) {
	cn := s.peer.Info().ClientCert
	p := rm.principal(cn)
	if cn == "" || p == nil {
		return s.authFailed(ip, AuthTLS, cn)
	}
	return &authenticated{authid: p.AuthID, authrole: p.Role, authmethod: AuthTLS, authprovider: "static"}, true
}

// awaitAuthenticate reads AUTHENTICATE within the auth timeout.
func (s *session) awaitAuthenticate() (*wamp.Authenticate, bool) {
	var timedOut atomic.Bool
	timeout := s.r.cfg.AuthTimeout
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

func newChallenge(method string, p *Principal, authid string, rm *realm, s *session) challenge {
	switch method {
	case AuthTicket:
		want := randomBytes(32)
		if p != nil && p.Ticket != "" && (p.TicketExpires.IsZero() || time.Now().Before(p.TicketExpires)) {
			want = []byte(p.Ticket)
		}
		return challenge{extra: wamp.Dict{}, verify: func(sig string) bool {
			return subtle.ConstantTimeCompare([]byte(sig), want) == 1
		}}
	case AuthWAMPCRA:
		role := rm.anonymousRole()
		key := randomBytes(32)
		extra := wamp.Dict{}
		if p != nil {
			role = p.Role
			key = []byte(p.Secret)
			if p.Salt != "" {
				key = []byte(deriveCRAKey(p.Secret, p.Salt, p.Iterations, p.KeyLen))
			}
		}
		if p != nil && p.Salt != "" {
			extra["salt"], extra["iterations"], extra["keylen"] = p.Salt, craIterations(p.Iterations), craKeyLen(p.KeyLen)
		}
		msg, _ := json.Marshal(map[string]any{
			"authid": authid, "authrole": role, "authmethod": AuthWAMPCRA, "authprovider": "static",
			"nonce": base64.StdEncoding.EncodeToString(randomBytes(16)), "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
			"session": uint64(wamp.GlobalID()),
		})
		extra["challenge"] = string(msg)
		return challenge{extra: extra, verify: func(sig string) bool {
			mac := hmac.New(sha256.New, key)
			mac.Write(msg)
			want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
			return subtle.ConstantTimeCompare([]byte(sig), []byte(want)) == 1
		}}
	case AuthCryptosign:
		nonce := randomBytes(32)
		var keys []ed25519.PublicKey
		if p != nil {
			for _, k := range p.PublicKeys {
				if b, err := hex.DecodeString(k); err == nil && len(b) == ed25519.PublicKeySize {
					keys = append(keys, b)
				}
			}
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
	return challenge{extra: wamp.Dict{}, verify: func(string) bool { return false }}
}

func craIterations(n int) int {
	if n <= 0 {
		return 1000
	}
	return n
}

func craKeyLen(n int) int {
	if n <= 0 {
		return 32
	}
	return n
}

// deriveCRAKey is salted WAMP-CRA's key: base64(PBKDF2-HMAC-SHA256(secret, salt)).
func deriveCRAKey(secret, salt string, iterations, keylen int) string {
	key, err := pbkdf2.Key(sha256.New, secret, []byte(salt), craIterations(iterations), craKeyLen(keylen))
	if err != nil {
		return "" // only for parameters FIPS mode refuses
	}
	return base64.StdEncoding.EncodeToString(key)
}

// principal returns the realm's principal with authid, or nil.
func (rm *realm) principal(authid string) *Principal {
	for i := range rm.cfg.Principals {
		if p := &rm.cfg.Principals[i]; authid != "" && p.AuthID == authid {
			return p
		}
	}
	return nil
}

// principalByKey finds a cryptosign principal by public key (and authid, if given).
func (rm *realm) principalByKey(pubkey, authid string) *Principal {
	for i := range rm.cfg.Principals {
		p := &rm.cfg.Principals[i]
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
	if rm.cfg.AnonymousRole != "" {
		return rm.cfg.AnonymousRole
	}
	return AuthAnonymous
}

// failureLog counts failed authentications per remote address, to refuse an
// address that fails too often (AuthFailureLimit per minute).
type failureLog struct {
	mu   sync.Mutex
	byIP map[string]*failures
}

type failures struct {
	count int
	since time.Time
}

func (f *failureLog) record(ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byIP == nil {
		f.byIP = make(map[string]*failures)
	}
	now := time.Now()
	e := f.byIP[ip]
	if e == nil || now.Sub(e.since) > time.Minute {
		e = &failures{since: now}
		f.byIP[ip] = e
	}
	e.count++
	if len(f.byIP) > 100000 { // bound the table: forget windows that are over
		for k, v := range f.byIP {
			if now.Sub(v.since) > time.Minute {
				delete(f.byIP, k)
			}
		}
	}
}

func (f *failureLog) blocked(ip string, limit int) bool {
	if limit <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.byIP[ip]
	return e != nil && time.Since(e.since) <= time.Minute && e.count >= limit
}

func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
