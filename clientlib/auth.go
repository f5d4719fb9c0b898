package clientlib

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/junction-wamp/junction/wamp"
)

// Authenticator answers a router's CHALLENGE for one authentication method.
type Authenticator interface {
	// Method is the authmethod offered in HELLO ("ticket", "wampcra", "cryptosign").
	Method() string
	// Authenticate returns the AUTHENTICATE signature and extra for ch.
	Authenticate(ch *wamp.Challenge) (signature string, extra wamp.Dict, err error)
}

// helloExtra is implemented by authenticators that add HELLO.Details.authextra.
type helloExtra interface{ authExtra() wamp.Dict }

type ticketAuth string

// TicketAuth authenticates with a ticket (a password).
func TicketAuth(ticket string) Authenticator { return ticketAuth(ticket) }

func (ticketAuth) Method() string { return "ticket" }
func (t ticketAuth) Authenticate(*wamp.Challenge) (string, wamp.Dict, error) {
	return string(t), wamp.Dict{}, nil
}

type craAuth string

// CRAAuth authenticates with WAMP-CRA and a shared secret; a salted
// challenge derives the key with PBKDF2 as the spec says.
func CRAAuth(secret string) Authenticator { return craAuth(secret) }

func (craAuth) Method() string { return "wampcra" }
func (c craAuth) Authenticate(ch *wamp.Challenge) (string, wamp.Dict, error) {
	challenge := ch.Extra.String("challenge")
	if challenge == "" {
		return "", nil, fmt.Errorf("clientlib: wampcra CHALLENGE without a challenge")
	}
	key := []byte(c)
	if salt := ch.Extra.String("salt"); salt != "" {
		iterations, _ := ch.Extra.Int("iterations")
		keylen, _ := ch.Extra.Int("keylen")
		if iterations <= 0 {
			iterations = 1000
		}
		if keylen <= 0 {
			keylen = 32
		}
		derived, err := pbkdf2.Key(sha256.New, string(c), []byte(salt), int(iterations), int(keylen))
		if err != nil {
			return "", nil, err
		}
		key = []byte(base64.StdEncoding.EncodeToString(derived))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(challenge))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), wamp.Dict{}, nil
}

type cryptosignAuth struct{ key ed25519.PrivateKey }

// CryptosignAuth authenticates with WAMP-Cryptosign and an Ed25519 key.
func CryptosignAuth(key ed25519.PrivateKey) Authenticator { return cryptosignAuth{key} }

func (cryptosignAuth) Method() string { return "cryptosign" }
func (c cryptosignAuth) authExtra() wamp.Dict {
	return wamp.Dict{"pubkey": hex.EncodeToString(c.key.Public().(ed25519.PublicKey))}
}
func (c cryptosignAuth) Authenticate(ch *wamp.Challenge) (string, wamp.Dict, error) {
	nonce, err := hex.DecodeString(ch.Extra.String("challenge"))
	if err != nil || len(nonce) != 32 {
		return "", nil, fmt.Errorf("clientlib: cryptosign CHALLENGE is not 32 hex bytes")
	}
	sig := ed25519.Sign(c.key, nonce)
	return hex.EncodeToString(append(sig, nonce...)), wamp.Dict{}, nil
}
