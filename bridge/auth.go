package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxParam bounds each parameter of a signed request, and a key's name.
const maxParam = 128

// authError is a request that is not authenticated: answered 401, or 503
// when the replay memory is full.
type authError struct {
	why     string
	full    bool // the replay memory is full
	limited bool // the client address is at its failure limit
}

func (e *authError) Error() string { return "bridge: " + e.why }

func unauthenticated(why string) error { return &authError{why: why} }

// credentials says how a request authenticates: by the form of what it
// carries, not by trying each method in turn.
func credentials(r *http.Request) AuthMethod {
	if r.Header.Get("Authorization") != "" {
		return AuthTicket
	}
	if r.URL.Query().Has("signature") {
		return AuthSigned
	}
	return AuthAnonymous
}

// ticketAuth finds the principal of ep's realm whose ticket the request's
// bearer token is. The ticket is looked up by its SHA-256, so the time the
// lookup takes says nothing of how much of a ticket matches.
func (st *state) ticketAuth(ep *endpoint, r *http.Request, now time.Time) (identity, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return identity{}, unauthenticated("want Authorization: Bearer <ticket>")
	}
	p, ok := st.tickets[ep.Realm][sha256.Sum256([]byte(token))]
	if !ok || !p.TicketExpires.IsZero() && now.After(p.TicketExpires) {
		return identity{}, unauthenticated("wrong or expired ticket")
	}
	return ticketIdentity(ep.Realm, p), nil
}

// signedRequest is the parameters of a signed request.
type signedRequest struct {
	key, timestamp, seq, nonce string
	signature                  []byte
}

// parseSigned reads the signature parameters of q: each once, each at
// most maxParam bytes; seq and nonce decimal integers.
func parseSigned(q url.Values) (signedRequest, error) {
	var v [5]string
	for i, name := range []string{"key", "timestamp", "seq", "nonce", "signature"} {
		if len(q[name]) != 1 || q[name][0] == "" || len(q[name][0]) > maxParam {
			return signedRequest{}, unauthenticated("want each of key, timestamp, seq, nonce and signature once, at most 128 bytes")
		}
		v[i] = q[name][0]
	}
	for _, n := range v[2:4] {
		if _, err := strconv.ParseUint(n, 10, 64); err != nil {
			return signedRequest{}, unauthenticated("seq and nonce: want unsigned decimal integers")
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v[4], "="))
	if err != nil || len(sig) != sha256.Size {
		return signedRequest{}, unauthenticated("signature: want the base64url of an HMAC-SHA256")
	}
	return signedRequest{key: v[0], timestamp: v[1], seq: v[2], nonce: v[3], signature: sig}, nil
}

// Sign returns the signature of a request to the bridge, as Crossbar's
// HTTP bridge computes it: the base64url HMAC-SHA256, with the key's
// secret, of key, timestamp, seq, nonce and body concatenated.
func Sign(secret, key, timestamp, seq, nonce string, body []byte) string {
	return base64.URLEncoding.EncodeToString(mac(secret, key, timestamp, seq, nonce, body))
}

func mac(secret, key, timestamp, seq, nonce string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	for _, s := range []string{key, timestamp, seq, nonce} {
		m.Write([]byte(s))
	}
	m.Write(body)
	return m.Sum(nil)
}

// signedAuth checks a signed request to ep: a key of ep's realm, a
// timestamp within the window, the HMAC (compared in constant time), then
// that its signature was not seen before. The replay memory is keyed by
// the signature, not by the nonce: fields concatenated without separators
// (seq "1" nonce "23", seq "12" nonce "3") sign alike, and would otherwise
// pass as two requests.
func (b *Bridge) signedAuth(st *state, ep *endpoint, r *http.Request, body []byte, now time.Time) (identity, error) {
	sr, err := parseSigned(r.URL.Query())
	if err != nil {
		return identity{}, err
	}
	k := st.keys[sr.key]
	if k == nil || k.Realm != ep.Realm {
		// The same work as for a known key: the time says nothing of it.
		hmac.Equal(mac("unknown key", sr.key, sr.timestamp, sr.seq, sr.nonce, body), sr.signature)
		return identity{}, unauthenticated("unknown key or wrong signature")
	}
	if !hmac.Equal(mac(k.Secret, sr.key, sr.timestamp, sr.seq, sr.nonce, body), sr.signature) {
		return identity{}, unauthenticated("unknown key or wrong signature")
	}
	ts, err := time.Parse(time.RFC3339Nano, sr.timestamp)
	window := st.cfg.TimestampWindow
	if err != nil || ts.Before(now.Add(-window)) || ts.After(now.Add(window)) {
		return identity{}, unauthenticated("timestamp: want an RFC 3339 time within " + window.String() + " of the router's clock")
	}
	if err := b.nonces.add([sha256.Size]byte(sr.signature), ts.Add(window), now, st.cfg.MaxNonces); err != nil {
		return identity{}, err
	}
	return keyIdentity(k), nil
}

// nonceCache remembers the signatures of accepted signed requests until
// their timestamp leaves the window (then the timestamp check refuses a
// replay), at most max at a time: when it is full of unexpired
// signatures, a signed request is refused rather than one forgotten.
type nonceCache struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]time.Time // signature -> when it expires
	next time.Time                       // the earliest expiry, for sweeping
}

func newNonceCache() *nonceCache {
	return &nonceCache{seen: map[[sha256.Size]byte]time.Time{}}
}

var errReplay = errors.New("replayed request")

// add remembers sig until expires, or fails if it is remembered already
// (a replay) or the cache holds max unexpired signatures.
func (n *nonceCache) add(sig [sha256.Size]byte, expires, now time.Time, max int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if exp, ok := n.seen[sig]; ok && now.Before(exp) {
		return unauthenticated(errReplay.Error() + ": this signature was used already")
	}
	if len(n.seen) >= max && !n.next.After(now) {
		n.sweep(now)
	}
	if len(n.seen) >= max {
		return &authError{why: "too many signed requests within the timestamp window", full: true}
	}
	n.seen[sig] = expires
	if n.next.IsZero() || expires.Before(n.next) {
		n.next = expires
	}
	return nil
}

// sweep forgets the expired signatures.
func (n *nonceCache) sweep(now time.Time) {
	n.next = time.Time{}
	for sig, exp := range n.seen {
		if !now.Before(exp) {
			delete(n.seen, sig)
		} else if n.next.IsZero() || exp.Before(n.next) {
			n.next = exp
		}
	}
}

func (n *nonceCache) len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.seen)
}
