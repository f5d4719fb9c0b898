package router

import (
	"slices"
	"testing"
	"time"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// BenchmarkCRAHandshake times a wrong WAMP-CRA answer, HELLO to ABORT, for
// a known salted authid and for an unknown one, alternately: what an
// attacker can time to learn whether an authid exists. It reports the
// median of each (known-ns, unknown-ns), which should be the same.
func BenchmarkCRAHandshake(b *testing.B) {
	r := newTestRouter(b, Config{AuthFailureLimit: -1, Realms: []RealmConfig{{
		Name: "app", AuthMethods: []AuthMethod{AuthWAMPCRA},
		Principals: []Principal{{AuthID: "billing", Role: "backend", Secret: "billing-secret", Salt: "c0ffee", Iterations: 10000, KeyLen: 32}},
	}}})
	var known, unknown []time.Duration
	i := 0
	for b.Loop() {
		authid, into := "billing", &known
		if i++; i%2 == 0 {
			authid, into = "nobody", &unknown
		}
		start := time.Now()
		wrongCRAAnswer(b, r, authid)
		*into = append(*into, time.Since(start))
	}
	b.ReportMetric(float64(medianDuration(known)), "known-ns")
	b.ReportMetric(float64(medianDuration(unknown)), "unknown-ns")
}

// wrongCRAAnswer runs a WAMP-CRA HELLO for authid, answers the CHALLENGE
// wrong and waits for the ABORT.
func wrongCRAAnswer(b *testing.B, r *Router, authid string) {
	p := newFakePeer(b, "json")
	done := make(chan struct{})
	go func() { r.ServePeer(p); close(done) }()
	p.in <- &wamp.Hello{Realm: "app", Details: wamp.Dict{"roles": allRoles["roles"], "authmethods": []any{AuthWAMPCRA}, "authid": authid}}
	expectType[*wamp.Challenge](b, p)
	p.in <- &wamp.Authenticate{Signature: "d3Jvbmc=", Extra: wamp.Dict{}}
	expectType[*wamp.Abort](b, p)
	p.Close(transport.CloseNormal, "")
	<-done
}

func medianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}
