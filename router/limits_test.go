package router

import (
	"strings"
	"testing"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

func TestSessionLimits(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{MaxSessions: 3, MaxSessionsPerAddress: 2})
	join(t, r, "json")
	join(t, r, "json") // both from 192.0.2.1
	p := serve(t, r, "json")
	expectAbort(t, p, ErrLimitExceeded, transport.ClosePolicyViolation)

	other := newFakePeer(t, "json")
	other.info.RemoteAddr = "198.51.100.9:999"
	go r.ServePeer(other)
	other.in <- &wamp.Hello{Realm: "realm1", Details: allRoles}
	expectType[*wamp.Welcome](t, other)
	fourth := newFakePeer(t, "json")
	fourth.info.RemoteAddr = "203.0.113.5:1"
	go r.ServePeer(fourth)
	expectAbort(t, fourth, ErrLimitExceeded, transport.ClosePolicyViolation)
	other.Close(transport.CloseNormal, "done")
}

func TestURIAndPerSessionLimits(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{MaxURILength: 32, MaxSubscriptionsPerSession: 1, MaxRegistrationsPerSession: 1})
	p, _ := join(t, r, "json")
	p.in <- &wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: wamp.URI("com." + strings.Repeat("x", 40))}
	expectError(t, p, wamp.SUBSCRIBE, 1, wamp.ErrInvalidURI)
	subscribe(t, p, 2, "a.b")
	p.in <- &wamp.Subscribe{Request: 3, Options: wamp.Dict{}, Topic: "a.c"}
	expectError(t, p, wamp.SUBSCRIBE, 3, ErrLimitExceeded)
	register(t, p, 4, "p.one")
	p.in <- &wamp.Register{Request: 5, Options: wamp.Dict{}, Procedure: "p.two"}
	expectError(t, p, wamp.REGISTER, 5, ErrLimitExceeded)
}

func TestTLSClientCertificateAuth(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{Realms: []RealmConfig{{Name: "realm1", AuthMethods: []AuthMethod{AuthTLS},
		Principals: []Principal{{AuthID: "device-7", Role: "device"}}}}})
	hello := &wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": allRoles["roles"], "authmethods": []any{"tls"}}}

	p := newFakePeer(t, "json")
	p.info.ClientCert = "device-7"
	go r.ServePeer(p)
	p.in <- hello
	w := expectType[*wamp.Welcome](t, p)
	if w.Details.String("authid") != "device-7" || w.Details.String("authmethod") != "tls" || w.Details.String("authrole") != "device" {
		t.Fatalf("WELCOME %v", w.Details)
	}
	p.Close(transport.CloseNormal, "done")

	for _, cn := range []string{"", "stranger"} {
		q := newFakePeer(t, "json")
		q.info.ClientCert = cn
		go r.ServePeer(q)
		q.in <- hello
		expectAbort(t, q, wamp.ErrAuthenticationFailed, transport.CloseNormal)
	}
}
