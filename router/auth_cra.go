package router

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// WAMP-CRA's PBKDF2 defaults, as the spec and Autobahn use them.
const (
	defaultCRAIterations = 1000
	defaultCRAKeyLen     = 32
)

// realmAuth is what a realm's authentication needs, prepared once by New:
// the realm's principals by authid, and the WAMP-CRA key of each one with a
// secret, derived there when salted, so that no PBKDF2 runs while a static
// principal authenticates and a known authid answers as fast as an unknown
// one.
type realmAuth struct {
	byAuthID map[string]*Principal // the first principal of each authid
	craKeys  map[string][]byte     // by authid: the HMAC key of a principal with a WAMP-CRA secret
	// decoy is the salt parameters an authid without a key is challenged
	// with; nil when the realm has no salted WAMP-CRA principal.
	decoy *craSalting
	// decoySecret makes the decoy salts: HMAC(decoySecret, authid), so the
	// same unknown authid gets the same salt each time, as a real one does.
	decoySecret []byte
	// derivations counts the PBKDF2 runs during authentication (dynamic
	// principals and their decoys), not those of New.
	derivations atomic.Uint64
	// warnUnsalted: the Go authenticator's salted principals without decoy
	// salts were logged.
	warnUnsalted sync.Once
}

// craSalting is how a realm's salted WAMP-CRA principals are salted: the
// most common iterations, keylen and salt length, and whether their salts
// are hex.
type craSalting struct {
	iterations, keylen, saltLen int
	hexSalt                     bool
}

// newRealmAuth prepares rc's authentication. A WAMP-CRA key that cannot be
// derived is an error naming the principal: that principal could never log in.
func newRealmAuth(rc RealmConfig) (*realmAuth, error) {
	a := &realmAuth{byAuthID: make(map[string]*Principal), craKeys: make(map[string][]byte), decoySecret: randomBytes(32)}
	for i := range rc.Principals {
		if p := &rc.Principals[i]; p.AuthID != "" && a.byAuthID[p.AuthID] == nil {
			a.byAuthID[p.AuthID] = p
		}
	}
	if !slices.Contains(rc.AuthMethods, AuthWAMPCRA) {
		return a, nil
	}
	var salted []*Principal
	for authid, p := range a.byAuthID {
		if p.Secret == "" {
			continue
		}
		key, err := craKey(p)
		if err != nil {
			return nil, fmt.Errorf("principal %q: WAMP-CRA key: %w", authid, err)
		}
		a.craKeys[authid] = key
		if p.Salt != "" {
			salted = append(salted, p)
		}
	}
	a.decoy = saltingOf(salted)
	if len(a.craKeys) > 0 {
		a.decoySecret = secretOf(a.craKeys)
	}
	a.hookSalting(rc)
	return a, nil
}

// secretOf derives the decoy salts' secret from the realm's WAMP-CRA keys:
// the same on every start and on every node of a cluster with the same
// config, as real salts are (a random one would change an unknown authid's
// salt at each restart, which a known authid's never does), and unknown to
// whoever does not have the secrets.
func secretOf(keys map[string][]byte) []byte {
	mac := hmac.New(sha256.New, []byte("junction: WAMP-CRA decoy salts"))
	for _, authid := range slices.Sorted(maps.Keys(keys)) {
		mac.Write([]byte(authid))
		mac.Write([]byte{0})
		mac.Write(keys[authid])
		mac.Write([]byte{0})
	}
	return mac.Sum(nil)
}

// saltingOf returns how most of salted are salted, nil for none.
//
// A realm whose WAMP-CRA principals are all salted, or none, challenges an
// unknown authid as it does a known one. A realm with both kinds cannot: an
// unsalted principal's challenge has no salt and a salted one's has, so a
// client can tell which kind an authid is (and, as the decoys are salted,
// that an unsalted authid exists). Salt every principal.
func saltingOf(salted []*Principal) *craSalting {
	if len(salted) == 0 {
		return nil
	}
	slices.SortFunc(salted, func(a, b *Principal) int { return strings.Compare(a.AuthID, b.AuthID) })
	var its, kls, sls []int
	isHex := true
	for _, p := range salted {
		its = append(its, craIterations(p.Iterations))
		kls = append(kls, craKeyLen(p.KeyLen))
		sls = append(sls, len(p.Salt))
		isHex = isHex && strings.Trim(p.Salt, "0123456789abcdef") == ""
	}
	return &craSalting{iterations: mostCommon(its), keylen: mostCommon(kls), saltLen: mostCommon(sls), hexSalt: isHex}
}

// mostCommon returns the most frequent of vs, the first of them on a tie.
func mostCommon(vs []int) int {
	counts := make(map[int]int, len(vs))
	best := vs[0]
	for _, v := range vs {
		if counts[v]++; counts[v] > counts[best] {
			best = v
		}
	}
	return best
}

// decoySalt is the salt an authid without a salted key is challenged with.
func (a *realmAuth) decoySalt(authid string) string {
	var out []byte
	for block := byte(0); len(out) < a.decoy.saltLen; block++ {
		mac := hmac.New(sha256.New, a.decoySecret)
		mac.Write([]byte{block})
		mac.Write([]byte(authid))
		if a.decoy.hexSalt {
			out = hex.AppendEncode(out, mac.Sum(nil))
		} else {
			out = base64.RawURLEncoding.AppendEncode(out, mac.Sum(nil))
		}
	}
	return string(out[:a.decoy.saltLen])
}

// craKey is p's WAMP-CRA HMAC key: its secret, or with a salt, the base64
// PBKDF2-HMAC-SHA256 derivation of it, as the spec's salted WAMP-CRA says.
func craKey(p *Principal) ([]byte, error) {
	if p.Salt == "" {
		return []byte(p.Secret), nil
	}
	key, err := deriveCRAKey(p.Secret, p.Salt, craIterations(p.Iterations), craKeyLen(p.KeyLen))
	if err != nil {
		return nil, err
	}
	return []byte(key), nil
}

// deriveCRAKey is salted WAMP-CRA's key: base64(PBKDF2-HMAC-SHA256(secret, salt)).
// PBKDF2 refuses a key length past its range, and in FIPS 140-only mode
// short salts and keys: the error is the caller's to fail closed on.
func deriveCRAKey(secret, salt string, iterations, keylen int) (string, error) {
	key, err := pbkdf2.Key(sha256.New, secret, []byte(salt), iterations, keylen)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

func craIterations(n int) int {
	if n <= 0 {
		return defaultCRAIterations
	}
	return n
}

func craKeyLen(n int) int {
	if n <= 0 {
		return defaultCRAKeyLen
	}
	return n
}

// craParams is what a salted WAMP-CRA CHALLENGE tells the client.
type craParams struct {
	salt               string
	iterations, keylen int
}

// craParams is p's salt parameters, nil when it has no salt.
func (p *Principal) craParams() *craParams {
	if p.Salt == "" {
		return nil
	}
	return &craParams{salt: p.Salt, iterations: craIterations(p.Iterations), keylen: craKeyLen(p.KeyLen)}
}

// craCredentials returns the key a WAMP-CRA answer for p must be made with
// and p's salt parameters; a nil key when p is nil, has no secret or its
// key cannot be derived. A static principal's key comes from New; a
// dynamic one's is derived now, and an authid the authenticator does not
// know costs a derivation too, as a salted dynamic principal does.
func (s *session) craCredentials(rm *realm, p *Principal, dynamic bool) ([]byte, *craParams) {
	a := rm.conf().auth
	switch {
	case !dynamic:
		if p == nil || a.craKeys[p.AuthID] == nil {
			return nil, nil
		}
		return a.craKeys[p.AuthID], p.craParams()
	case p == nil || p.Secret == "":
		a.decoyDerivation()
		return nil, nil
	}
	if p.Salt != "" {
		a.derivations.Add(1)
	}
	key, err := craKey(p)
	if err != nil {
		s.logger().Error("the WAMP-CRA key of a dynamic principal cannot be derived: it cannot log in", "authid", p.AuthID, "error", err)
		return nil, nil
	}
	return key, p.craParams()
}

// decoyDerivation runs a key derivation whose result nobody uses, with the
// parameters of the realm's salted principals (or the defaults).
func (a *realmAuth) decoyDerivation() {
	iterations, keylen := defaultCRAIterations, defaultCRAKeyLen
	if a.decoy != nil {
		iterations, keylen = a.decoy.iterations, a.decoy.keylen
	}
	a.derivations.Add(1)
	_, _ = deriveCRAKey("", "decoy", iterations, keylen)
}

// craChallenge is the WAMP-CRA CHALLENGE for authid, answered with key. A
// nil key (no such authid, no secret) is replaced by a random one nobody
// has, with a decoy salt when the realm's principals are salted: the
// CHALLENGE is the same whoever authid is, and its authrole is "" for all.
func craChallenge(a *realmAuth, authid string, key []byte, params *craParams) challenge {
	if key == nil {
		key, params = randomBytes(32), nil
		if a.decoy != nil {
			params = &craParams{salt: a.decoySalt(authid), iterations: a.decoy.iterations, keylen: a.decoy.keylen}
		}
	}
	extra := wamp.Dict{}
	if params != nil {
		extra["salt"], extra["iterations"], extra["keylen"] = params.salt, params.iterations, params.keylen
	}
	msg, _ := json.Marshal(map[string]any{
		"authid": authid, "authrole": "", "authmethod": AuthWAMPCRA, "authprovider": "static",
		"nonce": base64.StdEncoding.EncodeToString(randomBytes(16)), "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"session": uint64(wamp.GlobalID()),
	})
	extra["challenge"] = string(msg)
	return challenge{extra: extra, verify: func(sig string) bool {
		mac := hmac.New(sha256.New, key)
		mac.Write(msg)
		return hmac.Equal([]byte(sig), []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil))))
	}}
}
