package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/internal/clustertest"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport/websocket"
)

// An end is one program of a mixed case: a client over a transport with a
// serializer, in a role (a scenario of its program).
type end struct {
	client *client
	tr     transport
	ser    string
	role   string
}

func (e end) name() string { return e.client.id + "-" + e.ser + "-" + e.tr.id }

func (e end) text() string { return fmt.Sprintf("%s (%s, %s)", e.client.name, e.ser, e.tr.name) }

// carriesBytes says whether bytes in args reach this end as bytes: the
// Node libraries' JSON serializers have no binary conversion (see
// knownLimits).
func (e end) carriesBytes() bool { return e.ser != "json" || e.client.jsonBytes }

// A mixedCase is libraries talking to each other through the router: the
// server side (the callee, or the subscribers) prints ready, then the
// other side (the caller, or the publisher) runs.
type mixedCase struct {
	kind    string // "call" or "pubsub"
	other   end
	servers []end
}

func (m mixedCase) name() string {
	names := make([]string, len(m.servers))
	for i, s := range m.servers {
		names[i] = s.name()
	}
	return m.other.name() + "_" + strings.Join(names, "+")
}

func (m mixedCase) realm() string {
	return realmName("mixed", m.kind, strings.ReplaceAll(m.name(), "+", "."))
}

func (m mixedCase) ends() []end { return append([]end{m.other}, m.servers...) }

// binary says whether the payload carries bytes: only if every end does.
func (m mixedCase) binary() bool {
	for _, e := range m.ends() {
		if !e.carriesBytes() {
			return false
		}
	}
	return true
}

// onlyOver says whether every end of m uses transport tr.
func (m mixedCase) onlyOver(tr transport) bool {
	for _, e := range m.ends() {
		if e.tr != tr {
			return false
		}
	}
	return true
}

// text describes m in MATRIX.md.
func (m mixedCase) text() string {
	var s string
	if m.kind == "call" {
		s = fmt.Sprintf("%s calls an %s callee", m.other.text(), m.servers[0].text())
	} else {
		subs := make([]string, len(m.servers))
		for i, e := range m.servers {
			subs[i] = e.text()
		}
		s = fmt.Sprintf("%s publishes %d events to %s", m.other.text(), mixedEvents, strings.Join(subs, ", "))
	}
	if m.binary() {
		s += ", with bytes"
	}
	return s
}

// mixedCases are, for calls, an AutobahnJS caller and an Autobahn|Python
// callee, and for publications, a publisher and subscribers, of every
// serializer, over WebSocket only and across transports: a WebSocket
// caller of a RawSocket callee and the reverse, RawSocket publishers to
// subscribers over WebSocket and RawSocket at once (one publication
// framed for both, same serializer included); RawSocket's own TCP
// listener, which no scenario uses, is in some of them.
func mixedCases() []mixedCase {
	py, ab, wampy := clientByID("autobahn_python"), clientByID("autobahnjs"), clientByID("wampy")
	at := func(c *client, tr transport, ser, role string) end {
		return end{client: c, tr: tr, ser: ser, role: role}
	}
	caller := func(tr transport, ser string) end { return at(ab, tr, ser, "mixed_caller") }
	callee := func(tr transport, ser string) end { return at(py, tr, ser, "mixed_callee") }
	call := func(c, s end) mixedCase { return mixedCase{kind: "call", other: c, servers: []end{s}} }
	var out []mixedCase
	for _, ps := range allSerializers {
		for _, js := range allSerializers {
			out = append(out, call(caller(webSocket, js), callee(webSocket, ps)))
		}
	}
	// Across transports, serializers rotated: the transcoding between
	// each pair is the WebSocket cases' concern.
	for i, ps := range allSerializers {
		js := allSerializers[(i+1)%len(allSerializers)]
		out = append(out, call(caller(webSocket, js), callee(rawSocketTCP, ps)))
		out = append(out, call(caller(rawSocketUnix, "json"), callee(webSocket, ps)))
		out = append(out, call(caller(rawSocketListen, "json"), callee(rawSocketUnix, ps)))
	}

	for _, ps := range allSerializers {
		for _, js := range allSerializers {
			out = append(out, mixedCase{kind: "pubsub", other: at(wampy, webSocket, js, "mixed_publisher"),
				servers: []end{at(py, webSocket, ps, "mixed_subscriber")}})
		}
	}
	sub := func(c *client, tr transport, ser string) end { return at(c, tr, ser, "mixed_subscriber") }
	for _, ps := range allSerializers {
		out = append(out, mixedCase{kind: "pubsub", other: at(py, rawSocketTCP, ps, "mixed_publisher"), servers: []end{
			sub(py, webSocket, "json"), sub(ab, webSocket, "msgpack"), sub(ab, webSocket, "cbor"), sub(py, rawSocketUnix, ps),
		}})
	}
	out = append(out, mixedCase{kind: "pubsub", other: at(ab, rawSocketUnix, "json", "mixed_publisher"), servers: []end{
		sub(ab, webSocket, "json"), sub(py, webSocket, "msgpack"), sub(py, rawSocketListen, "cbor"), sub(ab, rawSocketTCP, "json"),
	}})
	return out
}

// runMixedCases runs each of cases as a parallel subtest, the server side
// connected to serverAt and the other side to otherAt (the same router, or
// two nodes of a cluster).
func runMixedCases(t *testing.T, dir string, cases []mixedCase, serverAt, otherAt targets, env []string, results *matrix) {
	for _, m := range cases {
		t.Run(m.kind+"/"+m.name(), func(t *testing.T) {
			t.Parallel()
			key := caseKey{group: "mixed", serializer: m.kind, scenario: m.name()}
			for _, e := range m.ends() {
				if _, err := e.client.check(dir); err != nil {
					results.set(key, outcome{status: "missing", detail: err.Error()})
					missing(t, err)
				}
			}
			runMixed(t, dir, serverAt, otherAt, m, env, results, key)
		})
	}
}

// runMixed runs one mixed case: the servers, until each is ready, then the
// other side; then it closes the servers' stdin (the callee leaves on EOF,
// a subscriber once it has its events) and waits for them.
func runMixed(t *testing.T, dir string, serverAt, otherAt targets, m mixedCase, env []string, results *matrix, key caseKey) {
	env = append(env[:len(env):len(env)], "INTEROP_MIXED_BINARY="+map[bool]string{true: "1", false: "0"}[m.binary()])
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	servers := make([]*program, len(m.servers))
	defer func() {
		cancel() // after a failure, ends the servers still running
		for _, p := range servers {
			if p != nil {
				<-p.done
			}
		}
	}()
	fail := func(detail, full string) {
		results.set(key, outcome{status: "fail", detail: detail})
		t.Fatal(full)
	}
	for i, s := range m.servers {
		p, err := startProgram(ctx, dir, s.client, serverAt[s.tr.id], m.realm(), s.ser, s.role, env, true)
		if err != nil {
			fail(err.Error(), err.Error())
		}
		servers[i] = p
	}
	for i, p := range servers {
		s := m.servers[i]
		select {
		case <-p.ready:
		case <-p.done:
			res := p.result(s.client, s.ser, s.role)
			fail(s.text()+" ended before it was ready", fmt.Sprintf("%s ended before it was ready: %v\n%s", s.text(), res.err, res.output()))
		case <-ctx.Done():
			fail(fmt.Sprintf("%s was not ready within %v", s.text(), caseTimeout), fmt.Sprintf("%s was not ready within %v\n%s", s.text(), caseTimeout, p.output()))
		}
	}
	o := m.other
	res := []*programResult{runProgram(t, dir, o.client, otherAt[o.tr.id], m.realm(), o.ser, o.role, env)}
	for i, p := range servers {
		_ = p.stdin.Close()
		<-p.done
		res = append(res, p.result(m.servers[i].client, m.servers[i].ser, m.servers[i].role))
	}
	var fails, details []string
	for _, r := range res {
		if r.err != nil {
			fails = append(fails, fmt.Sprintf("%v\n%s", r.err, r.output()))
		} else if r.line.Result != "pass" {
			fails = append(fails, fmt.Sprintf("%s %s %s: %s: %s\n%s", r.line.Client, r.line.Serializer, r.line.Scenario, r.line.Result, r.line.Detail, r.output()))
		}
		details = append(details, r.line.Detail)
	}
	if len(fails) > 0 {
		results.set(key, outcome{status: "fail", detail: strings.SplitN(fails[0], "\n", 2)[0]})
		t.Error(strings.Join(fails, "\n"))
		return
	}
	results.set(key, outcome{status: "pass", detail: strings.Join(details, "; ")})
}

// runMixedAcrossNodes runs the mixed cases over WebSocket only again
// across two clustered Junction nodes: the server side (callee,
// subscribers) on node 2, the other side on node 1, so that every call,
// result, error and event crosses NATS. The matrix reports the cases on
// one node: these outcomes stay out of it.
func runMixedAcrossNodes(t *testing.T, dir string, env []string) {
	var cases []mixedCase
	var realms []router.RealmConfig
	for _, m := range mixedCases() {
		if m.onlyOver(webSocket) {
			cases = append(cases, m)
			realms = append(realms, router.RealmConfig{Name: m.realm(), Anonymous: true})
		}
	}
	one, two := startCluster(t, realms)
	runMixedCases(t, dir, cases, targets{webSocket.id: two.URL}, targets{webSocket.id: one.URL}, env, newMatrix())
}

// startCluster starts two Junction nodes with realms, clustered over an
// in-process NATS, and waits until they know each other.
func startCluster(t *testing.T, realms []router.RealmConfig) (one, two *routertest.Server) {
	t.Helper()
	url := clustertest.StartNATS(t, clustertest.MaxPayload)
	opts := routertest.Options{
		Router:    router.Config{Realms: realms, AuthFailureLimit: -1}, // one address, parallel auth scenarios
		Transport: websocket.Config{Engine: wsEngine},
	}
	a, b := clustertest.StartNode(t, url, "interop", 5*time.Second, opts), clustertest.StartNode(t, url, "interop", 5*time.Second, opts)
	clustertest.WaitFormed(t, a, b)
	return a.Server, b.Server
}
