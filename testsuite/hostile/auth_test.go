package hostile

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/junction-wamp/junction/clientlib"
)

// securedConfig is a realm like examples/secured without TLS: a ticket
// user and a salted WAMP-CRA user, both of role "user" (which may
// subscribe to exactly app.status and register exactly app.fn), and a
// cryptosign-only admin ("ops") who may do everything.
func securedConfig(pub ed25519.PublicKey, extra string) string {
	return extra + fmt.Sprintf(`
[[realms]]
name = "app"
auth = ["ticket", "wampcra", "cryptosign"]

[[realms.principals]]
authid = "alice"
role = "user"
ticket = "alice-ticket"

[[realms.principals]]
authid = "billing"
role = "user"
secret = "billing-secret"
salt = "c0ffee"
iterations = 1000
keylen = 32

[[realms.principals]]
authid = "ops"
role = "admin"
public_keys = [%q]

[[realms.roles]]
name = "user"
[[realms.roles.permissions]]
uri = "app.status"
subscribe = true
[[realms.roles.permissions]]
uri = "app.fn"
register = true

[[realms.roles]]
name = "admin"
[[realms.roles.permissions]]
uri = ""
match = "prefix"
call = true
register = true
publish = true
subscribe = true
`, hex.EncodeToString(pub))
}

// startSecured runs a junction with securedConfig and connects the admin
// as bystander.
func startSecured(t *testing.T, extra string) (*Junction, *Bystander) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	j := start(t, securedConfig(pub, extra))
	b := NewBystander(t, j.URL(), "app", clientlib.Options{AuthID: "ops", Auth: []clientlib.Authenticator{clientlib.CryptosignAuth(priv)}})
	return j, b
}

// craSignature is WAMP-CRA's answer to challenge with key.
func craSignature(key []byte, challenge string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(challenge))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// TestCRAEmptyKey: principals with no WAMP-CRA secret (a ticket user, a
// cryptosign-only admin) asked for WAMP-CRA, answered with the HMAC of an
// empty key (or of the key derived from an empty secret with the salt the
// challenge gives): ABORT wamp.error.authentication_failed, never WELCOME.
func TestCRAEmptyKey(t *testing.T) {
	t.Parallel()
	j, b := startSecured(t, "")
	for _, authid := range []string{"alice", "ops"} {
		for _, derive := range []bool{false, true} {
			c := Dial(t, j.URL(), JSON, DialOptions{})
			c.Hello(t, "app", map[string]any{"authid": authid, "authmethods": []any{"wampcra"}})
			m := c.Recv(t)
			if m.Type() == CHALLENGE {
				extra := m.Dict(2)
				challenge, _ := extra["challenge"].(string)
				key := []byte{}
				if salt, ok := extra["salt"].(string); ok && derive {
					iters, _ := Int(extra["iterations"])
					keylen, _ := Int(extra["keylen"])
					k, err := pbkdf2.Key(sha256.New, "", []byte(salt), int(iters), int(keylen))
					if err != nil {
						t.Fatal(err)
					}
					key = []byte(base64.StdEncoding.EncodeToString(k))
				}
				c.Send(t, AUTHENTICATE, craSignature(key, challenge), map[string]any{})
				m = c.Recv(t)
			}
			if m.Type() != ABORT || m.Reason() != "wamp.error.authentication_failed" {
				t.Errorf("%s, WAMP-CRA with an empty key (derived: %v): got %v, want ABORT wamp.error.authentication_failed", authid, derive, clipMsg(m))
			}
		}
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// challengeOf sends HELLO for authid with method and returns the CHALLENGE.
func challengeOf(t *testing.T, j *Junction, authid, method string, authextra map[string]any) Msg {
	t.Helper()
	c := Dial(t, j.URL(), JSON, DialOptions{})
	details := map[string]any{"authid": authid, "authmethods": []any{method}}
	if authextra != nil {
		details["authextra"] = authextra
	}
	c.Hello(t, "app", details)
	return c.Expect(t, CHALLENGE)
}

// shape is a dict's keys and the JSON type of each value.
func shape(d map[string]any) string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		s = append(s, fmt.Sprintf("%s:%T", k, d[k]))
	}
	return fmt.Sprint(s)
}

// TestChallengeSameForUnknown: the CHALLENGE for a known authid (salted
// WAMP-CRA, or without a WAMP-CRA secret) and for an unknown one has the
// same extra keys, and the challenge JSON the same keys, with authrole ""
// for everyone. Ticket and cryptosign challenges alike. (No timing is
// asserted.)
func TestChallengeSameForUnknown(t *testing.T) {
	t.Parallel()
	j, b := startSecured(t, "")
	pub, _, _ := ed25519.GenerateKey(nil)
	for _, tt := range []struct {
		method    string
		known     []string
		authextra map[string]any
	}{
		{"wampcra", []string{"billing", "alice"}, nil},
		{"ticket", []string{"alice"}, nil},
		{"cryptosign", []string{"ops"}, map[string]any{"pubkey": hex.EncodeToString(pub)}},
	} {
		unknown := challengeOf(t, j, "nobody", tt.method, tt.authextra)
		for _, authid := range tt.known {
			known := challengeOf(t, j, authid, tt.method, tt.authextra)
			if a, u := shape(known.Dict(2)), shape(unknown.Dict(2)); a != u {
				t.Errorf("%s: CHALLENGE.Extra for %s %s, for an unknown authid %s", tt.method, authid, a, u)
			}
			if tt.method != "wampcra" {
				continue
			}
			var kc, uc map[string]any
			_ = json.Unmarshal([]byte(fmt.Sprint(known.Dict(2)["challenge"])), &kc)
			_ = json.Unmarshal([]byte(fmt.Sprint(unknown.Dict(2)["challenge"])), &uc)
			if a, u := shape(kc), shape(uc); a != u {
				t.Errorf("wampcra: challenge for %s %s, for an unknown authid %s", authid, a, u)
			}
			if kc["authrole"] != "" || uc["authrole"] != "" {
				t.Errorf(`wampcra: challenge authrole %q for %s, %q for an unknown authid, want ""`, kc["authrole"], authid, uc["authrole"])
			}
		}
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestAuthFailureLimitParallel: 50 HELLOs with wrong tickets sent in
// parallel from one address (auth_failures_per_minute = 10) get at most 10
// CHALLENGEs, the others ABORT wamp.error.authentication_failed without a
// CHALLENGE; then the right ticket from that address is refused too, while
// another address still authenticates.
func TestAuthFailureLimitParallel(t *testing.T) {
	t.Parallel()
	j, b := startSecured(t, "[router]\nauth_failures_per_minute = 10\n")
	conns := make([]*Conn, 50)
	for i := range conns {
		conns[i] = Dial(t, j.URL(), JSON, DialOptions{})
	}
	for _, c := range conns { // every HELLO out before any AUTHENTICATE
		c.Hello(t, "app", map[string]any{"authid": "alice", "authmethods": []any{"ticket"}})
	}
	first := make([]Msg, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns { // every first answer in before any AUTHENTICATE
		wg.Go(func() { first[i], _ = c.Read() })
	}
	wg.Wait()
	challenged := 0
	for i, c := range conns {
		m := first[i]
		if m.Type() == CHALLENGE {
			challenged++
			c.Send(t, AUTHENTICATE, fmt.Sprintf("wrong-%d", i), map[string]any{})
			m, _ = c.Read()
		}
		if m.Type() != ABORT || m.Reason() != "wamp.error.authentication_failed" {
			t.Errorf("connection %d: %v, want ABORT wamp.error.authentication_failed", i, clipMsg(m))
		}
	}
	t.Logf("%d of 50 parallel HELLOs were challenged", challenged)
	if challenged > 10 {
		t.Errorf("%d of 50 parallel HELLOs were challenged, want at most auth_failures_per_minute = 10", challenged)
	}
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.Hello(t, "app", map[string]any{"authid": "alice", "authmethods": []any{"ticket"}})
	if m := c.Recv(t); m.Type() != ABORT || m.Reason() != "wamp.error.authentication_failed" {
		t.Errorf("the right ticket after the failures: %v, want ABORT wamp.error.authentication_failed without CHALLENGE", clipMsg(m))
	}
	other := Dial(t, j.URL(), JSON, DialOptions{From: BystanderAddr})
	other.JoinAs(t, "app", "alice", "ticket", func(Msg) string { return "alice-ticket" })
	b.Check(t)
	j.CheckRSS(t, 64)
}

// TestPatternBeyondGrant: a role that may subscribe to exactly app.status
// and register exactly app.fn asks for patterns that match more: ERROR
// wamp.error.not_authorized; app.status.payroll never reaches it and a call
// to app.fn.admin.reset is never routed to it.
func TestPatternBeyondGrant(t *testing.T) {
	t.Parallel()
	j, b := startSecured(t, "")
	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.JoinAs(t, "app", "alice", "ticket", func(Msg) string { return "alice-ticket" })
	req := 0
	for _, p := range [][2]string{{"prefix", "app.status"}, {"prefix", "app"}, {"prefix", "app.st"}, {"wildcard", "app."}, {"wildcard", ".status"}} {
		req++
		c.Send(t, SUBSCRIBE, req, map[string]any{"match": p[0]}, p[1])
		if m := c.Recv(t); m.Type() != ERROR || m.Reason() != "wamp.error.not_authorized" {
			t.Errorf("SUBSCRIBE %s %q: %v, want ERROR wamp.error.not_authorized", p[0], p[1], clipMsg(m))
		}
	}
	for _, p := range [][2]string{{"prefix", "app.fn"}, {"prefix", "app"}, {"prefix", "app.f"}, {"wildcard", "app."}, {"wildcard", ".fn"}} {
		req++
		c.Send(t, REGISTER, req, map[string]any{"match": p[0]}, p[1])
		if m := c.Recv(t); m.Type() != ERROR || m.Reason() != "wamp.error.not_authorized" {
			t.Errorf("REGISTER %s %q: %v, want ERROR wamp.error.not_authorized", p[0], p[1], clipMsg(m))
		}
	}
	c.Send(t, SUBSCRIBE, 100, map[string]any{}, "app.status")
	sub := c.Expect(t, SUBSCRIBED).ID(2)
	c.Send(t, REGISTER, 101, map[string]any{}, "app.fn")
	reg := c.Expect(t, REGISTERED).ID(2)

	admin := b.Client()
	for _, topic := range []string{"app.status.payroll", "app.status"} { // the second is the marker
		if err := admin.Publish(Ctx(t), topic, []any{topic}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatalf("admin publishing to %s: %v", topic, err)
		}
	}
	if m := c.Expect(t, EVENT); m.ID(1) != sub || fmt.Sprint(m.Args(4)) != "[app.status]" {
		t.Fatalf("first event %v, want the marker on app.status (subscription %d)", clipMsg(m), sub)
	}
	if _, err := admin.Call(Ctx(t), "app.fn.admin.reset", nil, nil, nil); !isRPCError(err, "wamp.error.no_such_procedure") {
		t.Errorf("admin calling app.fn.admin.reset: %v, want wamp.error.no_such_procedure", err)
	}
	done := make(chan error, 1)
	go func() { _, err := admin.Call(Ctx(t), "app.fn", []any{"marker"}, nil, nil); done <- err }()
	m := c.Expect(t, INVOCATION)
	if m.ID(2) != reg || fmt.Sprint(m.Args(4)) != "[marker]" {
		t.Fatalf("first invocation %v, want the marker call of app.fn (registration %d)", clipMsg(m), reg)
	}
	c.Send(t, YIELD, m.ID(1), map[string]any{})
	if err := <-done; err != nil {
		t.Fatalf("admin calling app.fn: %v", err)
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}
