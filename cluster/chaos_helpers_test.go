package cluster_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/internal/chaos"
	"github.com/junction-wamp/junction/internal/clustertest"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/wamp"
)

// The chaos tests' cluster: a short node timeout, so that a cut longer than
// it stays short, and a short repair interval.
const (
	chaosTimeout = time.Second
	chaosRepair  = 200 * time.Millisecond
)

// healBound is how long the nodes' meta API listings may take to become
// identical once a fault ends: two repair intervals (a digest must differ
// twice in a row before a resync is asked for) and one more for the
// snapshot to come, plus 1 s of slack for a loaded machine; none of it
// depends on the node timeout.
const healBound = 3*chaosRepair + time.Second

// chaosCluster is a cluster whose links go through one chaos.Net, with a
// client on each node that reads its meta API.
type chaosCluster struct {
	net     *chaos.Net
	url     string
	nodes   []*node
	names   []string // in the Net: A, B, C...
	listers []*clientlib.Client
}

// startChaos starts count nodes on NATS url ("": a new NATS) with faults
// between them; tweak, if not nil, adjusts each node's config. Nodes A and
// B have the direct path (cluster.Config.DirectListen), the others not: what
// A and B send each other goes on it, the rest through NATS, so that every
// scenario exercises both (the faults stand on both).
func startChaos(t *testing.T, url string, count int, tweak func(i int, cfg *cluster.Config)) *chaosCluster {
	t.Helper()
	seed := chaos.Seed()
	t.Logf("chaos seed %d (JUNCTION_CHAOS_SEED=%d replays its choices)", seed, seed)
	net := chaos.New(seed)
	t.Cleanup(net.Close) // last: after the nodes left
	if url == "" {
		url = startNATS(t)
	}
	cc := &chaosCluster{net: net, url: url}
	for i := range count {
		name := string(rune('A' + i))
		cfg := cluster.Config{Name: "chaos", NATSURL: url, NodeTimeout: chaosTimeout, RepairInterval: chaosRepair, Faults: net.Node(name)}
		if i < 2 {
			cfg.DirectListen = "127.0.0.1:0"
		}
		if tweak != nil {
			tweak(i, &cfg)
		}
		cc.nodes = append(cc.nodes, clustertest.StartNodeConfig(t, cfg, routertest.Options{}))
		cc.names = append(cc.names, name)
	}
	clustertest.WaitFormed(t, cc.nodes...)
	t.Cleanup(func() { // before the nodes leave: no goodbye waits for a node cut off
		net.Quiet()
		for _, name := range cc.names {
			net.Cut(name, false)
		}
		t.Logf("faults: %+v", net.Stats())
	})
	for _, n := range cc.nodes {
		cc.listers = append(cc.listers, connect(t, n, "json"))
	}
	cc.healed(t, "after the start")
	return cc
}

// healed waits until every node's meta API lists the same, fails the test
// if that takes more than healBound, and returns how long it took.
func (cc *chaosCluster) healed(t *testing.T, what string) time.Duration {
	t.Helper()
	return cc.healedSince(t, what, time.Now())
}

// healedSince is healed, the time counted from since (when the fault
// ended).
func (cc *chaosCluster) healedSince(t *testing.T, what string, since time.Time) time.Duration {
	t.Helper()
	clustertest.WaitSameListings(t, 20*time.Second, nil, cc.listers...)
	took := time.Since(since)
	t.Logf("listings identical on every node %s in %s (bound %s)", what, took.Round(time.Millisecond), healBound)
	if took > healBound {
		t.Fatalf("the listings took %s to become identical %s, over the bound of %s", took, what, healBound)
	}
	return took
}

// formed waits until each node sees count-1 others.
func (cc *chaosCluster) formed(t *testing.T, what string, count ...int) {
	t.Helper()
	eventually(t, what, func() bool {
		for i, n := range cc.nodes {
			if n.Router.ClusterNodes() != count[i] {
				return false
			}
		}
		return true
	})
}

// rawCaller is a caller speaking WAMP over JSON itself, to see every
// message the router sends it: clientlib drops an answer to a request it
// no longer waits for, a rawCaller counts it.
type rawCaller struct {
	conn *websocket.Conn
	wmu  sync.Mutex

	mu      sync.Mutex
	answers map[uint64][]string // request id -> "RESULT <args>" or "ERROR <uri>", each received
	at      map[uint64]time.Time
	err     error // why the read loop ended
}

func dialRaw(t *testing.T, n *node) *rawCaller {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}, HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.Dial(n.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &rawCaller{conn: conn, answers: map[uint64][]string{}, at: map[uint64]time.Time{}}
	c.write(t, []any{1, "realm1", map[string]any{"roles": map[string]any{"caller": map[string]any{}}}})
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := conn.ReadMessage()
	if err != nil || !strings.HasPrefix(string(data), "[2,") {
		t.Fatalf("no WELCOME: %s %v", data, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	go c.read()
	return c
}

func (c *rawCaller) write(t *testing.T, msg []any) {
	t.Helper()
	data, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		t.Fatal(err)
	}
}

func (c *rawCaller) read() {
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var msg []json.RawMessage
		if json.Unmarshal(data, &msg) != nil || len(msg) < 3 {
			continue
		}
		var typ, req uint64
		var answer string
		_ = json.Unmarshal(msg[0], &typ)
		switch {
		case typ == 50: // RESULT, request, details, args
			_ = json.Unmarshal(msg[1], &req)
			answer = "RESULT"
			if len(msg) > 3 {
				answer += " " + string(msg[3])
			}
		case typ == 8 && len(msg) >= 5: // ERROR, CALL, request, details, uri
			_ = json.Unmarshal(msg[2], &req)
			var uri string
			_ = json.Unmarshal(msg[4], &uri)
			answer = "ERROR " + uri
		default:
			continue
		}
		c.mu.Lock()
		c.answers[req] = append(c.answers[req], answer)
		if _, ok := c.at[req]; !ok {
			c.at[req] = time.Now()
		}
		c.mu.Unlock()
	}
}

// call sends CALL request for procedure with args; timeout, if not 0, is
// the call's timeout option.
func (c *rawCaller) call(t *testing.T, request uint64, procedure string, timeout time.Duration, args ...any) {
	t.Helper()
	opts := map[string]any{}
	if timeout > 0 {
		opts["timeout"] = timeout.Milliseconds()
	}
	c.write(t, []any{48, request, opts, procedure, args})
}

// answers returns what request received so far, and when the first came.
func (c *rawCaller) answered(request uint64) ([]string, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.answers[request]...), c.at[request]
}

// wait waits until each of requests has an answer, failing the test after
// limit.
func (c *rawCaller) wait(t *testing.T, limit time.Duration, requests ...uint64) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		c.mu.Lock()
		missing := 0
		for _, r := range requests {
			if len(c.answers[r]) == 0 {
				missing++
			}
		}
		err := c.err
		c.mu.Unlock()
		if missing == 0 {
			return
		}
		if err != nil {
			t.Fatalf("the caller's connection ended with %d calls unanswered: %v", missing, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls unanswered after %s", missing, len(requests), limit)
		}
		time.Sleep(5 * time.Millisecond) // polls the condition
	}
}

// once checks that each of requests was answered exactly once, with a
// RESULT whose args are want(request) (or an ERROR, if errorsOK); it
// returns the errors received by URI.
func (c *rawCaller) once(t *testing.T, requests []uint64, want func(uint64) string, errorsOK bool) map[string]int {
	t.Helper()
	errs := map[string]int{}
	for _, r := range requests {
		got, _ := c.answered(r)
		if len(got) != 1 {
			t.Fatalf("call %d answered %d times: %v", r, len(got), got)
		}
		if uri, isErr := strings.CutPrefix(got[0], "ERROR "); isErr {
			errs[uri]++
			if !errorsOK {
				t.Fatalf("call %d: %s", r, got[0])
			}
		} else if got[0] != "RESULT "+want(r) {
			t.Fatalf("call %d: %s, want RESULT %s", r, got[0], want(r))
		}
	}
	return errs
}

// sessionEvents collects the session ids in the first argument of the
// events of a subscription, in order.
type sessionEvents struct {
	mu  sync.Mutex
	ids []uint64
}

func (s *sessionEvents) add(ev *clientlib.Event) {
	if len(ev.Args) == 0 {
		return
	}
	id, _ := wamp.AsID(ev.Args[0])
	s.mu.Lock()
	s.ids = append(s.ids, uint64(id))
	s.mu.Unlock()
}

func (s *sessionEvents) count(id uint64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, x := range s.ids {
		if x == id {
			n++
		}
	}
	return n
}

func (s *sessionEvents) all() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.ids...)
}
