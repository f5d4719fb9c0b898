package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/internal/buildinfo"
	"github.com/junction-wamp/junction/internal/clustertest"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/metrics"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/testsuite"
	"github.com/junction-wamp/junction/wamp"
)

// nodeTimeout is long enough that a node busy under the race detector on a
// loaded machine is not taken for dead; deathTimeout, for the tests that
// kill a node, is short so that its death is noticed soon. What is asserted
// never depends on either being met.
const (
	nodeTimeout  = 5 * time.Second
	deathTimeout = time.Second
)

func startNATS(t *testing.T) string { return clustertest.StartNATS(t, clustertest.MaxPayload) }

type node = clustertest.Node

func startNode(t *testing.T, natsURL string, opts routertest.Options) *node {
	t.Helper()
	return startNodeTimeout(t, natsURL, opts, nodeTimeout)
}

func startNodeTimeout(t *testing.T, natsURL string, opts routertest.Options, timeout time.Duration) *node {
	t.Helper()
	return clustertest.StartNode(t, natsURL, "test", timeout, opts)
}

// startCluster starts count nodes on one NATS and waits until each knows the others.
func startCluster(t *testing.T, count int) []*node {
	t.Helper()
	nodes, _ := startClusterURL(t, count, nodeTimeout)
	return nodes
}

func startClusterURL(t *testing.T, count int, timeout time.Duration) ([]*node, string) {
	t.Helper()
	url := startNATS(t)
	nodes := make([]*node, count)
	for i := range nodes {
		nodes[i] = startNodeTimeout(t, url, routertest.Options{}, timeout)
	}
	clustertest.WaitFormed(t, nodes...)
	return nodes, url
}

// eventually waits for cond, which other goroutines make true; it fails the
// test if that takes longer than any healthy run could.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// scrape returns n's Prometheus metrics.
func scrape(t *testing.T, n *node) string {
	t.Helper()
	w := httptest.NewRecorder()
	metrics.Handler(n.Router, buildinfo.Info{}, nil, func() (cluster.LinkStats, bool) { return n.Cluster.LinkStats(), true }, n.Transport).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}

// recv receives from ch, failing the test if nothing comes in a time no
// healthy run needs.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for a message")
		panic("unreachable")
	}
}

func connect(t *testing.T, n *node, serializer string) *clientlib.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := clientlib.Connect(ctx, n.URL, "realm1", clientlib.Options{Serializer: serializer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestCallAcrossNodes: callers of each serializer on nodes A and C call
// callees of each serializer on node B (the INVOCATION encoded on the
// caller's node in the callee's serializer gets the callee's request id
// spliced in on B).
func TestCallAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	sers := []string{"json", "msgpack", "cbor"}
	for _, ser := range sers {
		callee := connect(t, nodes[1], ser)
		_, err := callee.Register(ctx(t), "com.example.add."+ser, func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
			a, _ := wamp.AsInt(inv.Args[0])
			b, _ := wamp.AsInt(inv.Args[1])
			if b == 0 {
				return nil, &wamp.RPCError{URI: "com.example.zero", Args: []any{"b is zero"}}
			}
			return &clientlib.Result{Args: []any{a + b}, Kwargs: map[string]any{"node": "B"}}, nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "node A knows the remote callee", func() bool { return clustertest.RemoteCallees(nodes[0].Router, "realm1", "com.example.add."+ser) == 1 })
		eventually(t, "node C knows the remote callee", func() bool { return clustertest.RemoteCallees(nodes[2].Router, "realm1", "com.example.add."+ser) == 1 })
	}
	for i, ser := range sers {
		caller := connect(t, nodes[i%2*2], ser) // nodes A and C
		for _, to := range sers {
			res, err := caller.Call(ctx(t), "com.example.add."+to, []any{2, 3}, nil, nil)
			if err != nil {
				t.Fatalf("%s to %s: %v", ser, to, err)
			}
			if n, _ := wamp.AsInt(res.Args[0]); n != 5 || res.Kwargs["node"] != "B" {
				t.Fatalf("%s to %s: result %v %v", ser, to, res.Args, res.Kwargs)
			}
			_, err = caller.Call(ctx(t), "com.example.add."+to, []any{2, 0}, nil, nil)
			var rerr *wamp.RPCError
			if !errors.As(err, &rerr) || rerr.URI != "com.example.zero" || len(rerr.Args) != 1 || rerr.Args[0] != "b is zero" {
				t.Fatalf("%s to %s: error %v", ser, to, err)
			}
		}
	}
}

// TestMessageOverNATSLimit: a call too large for the NATS server's
// max_payload fails at once with an error; it does not hang.
func TestMessageOverNATSLimit(t *testing.T) {
	url := clustertest.StartNATS(t, 64<<10)
	a, b := startNode(t, url, routertest.Options{}), startNode(t, url, routertest.Options{})
	eventually(t, "the nodes see each other", func() bool { return a.Router.ClusterNodes() == 1 && b.Router.ClusterNodes() == 1 })
	callee := connect(t, b, "json")
	if _, err := callee.Register(ctx(t), "com.example.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := connect(t, a, "json")
	if _, err := caller.Call(ctx(t), "com.example.echo", []any{"small"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err := caller.Call(ctx(t), "com.example.echo", []any{string(make([]byte, 100<<10))}, nil, nil)
	var rerr *wamp.RPCError
	if !errors.As(err, &rerr) || rerr.URI != wamp.ErrCanceled {
		t.Fatalf("call over max_payload: %v", err)
	}
	if n := a.Router.PendingInvocations(); n != 0 {
		t.Fatalf("%d invocations left pending", n)
	}
}

// TestInvocationIDsIncrease: a callee called from its own node and from
// others sees INVOCATION request ids that increase, as the spec asks; the
// nexus client drops an INVOCATION whose id is below one it has seen.
func TestInvocationIDsIncrease(t *testing.T) {
	nodes := startCluster(t, 3)
	callee, err := testsuite.NexusDriver{}.Connect(ctx(t), testsuite.Target{URL: nodes[1].URL, Realm: "realm1"}, "json", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = callee.Close(context.Background()) })
	if _, err := callee.Register(ctx(t), "com.example.nexus", func(_ context.Context, inv testsuite.Invocation) ([]any, map[string]any, error) {
		return inv.Args, nil, nil
	}, testsuite.RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	callers := []*clientlib.Client{connect(t, nodes[1], "json"), connect(t, nodes[0], "json"), connect(t, nodes[2], "json")}
	for i := range 9 {
		c, cancel := context.WithTimeout(ctx(t), 10*time.Second)
		res, err := callers[i%3].Call(c, "com.example.nexus", []any{i}, nil, nil)
		cancel()
		if err != nil {
			t.Fatalf("call %d from node %d: %v", i, []int{1, 0, 2}[i%3], err)
		}
		if n, _ := wamp.AsInt(res.Args[0]); n != int64(i) {
			t.Fatalf("call %d: result %v", i, res.Args)
		}
	}
}

func TestProgressCancelTimeoutAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 2)
	callee := connect(t, nodes[1], "json")
	interrupted := make(chan string, 4)
	blocked := make(chan string, 4)
	_, err := callee.Register(ctx(t), "com.example.count", func(c context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		for i := range 3 {
			if err := inv.Progress(c, []any{i}, nil); err != nil {
				return nil, err
			}
		}
		return &clientlib.Result{Args: []any{"done"}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = callee.Register(ctx(t), "com.example.block", func(c context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		blocked <- fmt.Sprint(inv.Args)
		<-c.Done()
		interrupted <- fmt.Sprint(inv.Args)
		return nil, c.Err()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "node A knows both procedures", func() bool {
		return clustertest.RemoteCallees(nodes[0].Router, "realm1", "com.example.count") == 1 && clustertest.RemoteCallees(nodes[0].Router, "realm1", "com.example.block") == 1
	})
	caller := connect(t, nodes[0], "cbor")

	var mu sync.Mutex
	var progress []any
	res, err := caller.Call(ctx(t), "com.example.count", nil, nil, &clientlib.CallOptions{OnProgress: func(r *clientlib.Result) {
		mu.Lock()
		progress = append(progress, r.Args...)
		mu.Unlock()
	}})
	if err != nil || res.Args[0] != "done" {
		t.Fatalf("progressive call: %v %v", res, err)
	}
	mu.Lock()
	if fmt.Sprint(progress) != "[0 1 2]" {
		t.Fatalf("progress %v", progress)
	}
	mu.Unlock()

	// Timeout: the router on A ends the call and interrupts the callee on B.
	_, err = caller.Call(ctx(t), "com.example.block", []any{"timeout"}, nil, &clientlib.CallOptions{Timeout: 100 * time.Millisecond})
	var rerr *wamp.RPCError
	if !errors.As(err, &rerr) || rerr.URI != wamp.ErrTimeout {
		t.Fatalf("timeout: %v", err)
	}
	if got := recv(t, blocked); got != "[timeout]" {
		t.Fatalf("blocked %s", got)
	}
	if got := recv(t, interrupted); got != "[timeout]" {
		t.Fatalf("interrupted %s", got)
	}

	// Cancel, each mode.
	for _, mode := range []string{"kill", "killnowait", "skip"} {
		c, cancel := context.WithCancel(ctx(t))
		done := make(chan error, 1)
		go func() {
			_, err := caller.Call(c, "com.example.block", []any{mode}, nil, &clientlib.CallOptions{CancelMode: mode})
			done <- err
		}()
		if got := recv(t, blocked); got != "["+mode+"]" {
			t.Fatalf("%s: callee runs %s", mode, got)
		}
		cancel()
		if err := recv(t, done); err == nil {
			t.Fatalf("%s: canceled call succeeded", mode)
		}
		if mode != "skip" {
			if got := recv(t, interrupted); got != "["+mode+"]" {
				t.Fatalf("%s: interrupted %s", mode, got)
			}
		}
		eventually(t, "nothing pending on the caller's node", func() bool { return nodes[0].Router.PendingInvocations() == 0 })
	}
}

func TestSharedRegistrationAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	for i, n := range nodes {
		c := connect(t, n, "json")
		name := string(rune('A' + i))
		_, err := c.Register(ctx(t), "com.example.who", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
			return &clientlib.Result{Args: []any{name}}, nil
		}, &clientlib.RegisterOptions{Invoke: "roundrobin"})
		if err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "A sees two remote callees", func() bool { return clustertest.RemoteCallees(nodes[0].Router, "realm1", "com.example.who") == 2 })
	caller := connect(t, nodes[0], "json")
	seen := map[any]int{}
	for range 6 {
		res, err := caller.Call(ctx(t), "com.example.who", nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[res.Args[0]]++
	}
	if seen["A"] != 2 || seen["B"] != 2 || seen["C"] != 2 {
		t.Fatalf("roundrobin over the cluster: %v", seen)
	}
}

// TestSharedPoliciesAcrossNodes: first, last and random choose among the
// callees of every node, in the order they registered.
func TestSharedPoliciesAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	for _, policy := range []wamp.InvokePolicy{wamp.InvokeFirst, wamp.InvokeLast, wamp.InvokeRandom} {
		proc := "com.example." + string(policy)
		for i, n := range nodes[1:] { // B registers before C: REGISTERED means every node knows
			name := string(rune('B' + i))
			c := connect(t, n, "json")
			if _, err := c.Register(ctx(t), proc, func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
				return &clientlib.Result{Args: []any{name}}, nil
			}, &clientlib.RegisterOptions{Invoke: policy}); err != nil {
				t.Fatal(err)
			}
		}
		caller := connect(t, nodes[0], "json")
		seen := map[any]int{}
		for range 40 {
			res, err := caller.Call(ctx(t), proc, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			seen[res.Args[0]]++
		}
		switch {
		case policy == "first" && seen["B"] != 40,
			policy == "last" && seen["C"] != 40,
			policy == "random" && (seen["B"] == 0 || seen["C"] == 0 || seen["B"]+seen["C"] != 40):
			t.Fatalf("%s over callees on nodes B and C, called from A: %v", policy, seen)
		}
	}
}

// TestMetaIDsAcrossNodes: a registration or subscription has the same id on
// every node, so the ids in REGISTERED, SUBSCRIBED and the meta events work
// with the meta API of any node.
func TestMetaIDsAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	callee := connect(t, nodes[1], "json")
	reg, err := callee.Register(ctx(t), "com.example.meta", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{}, nil
	}, &clientlib.RegisterOptions{Invoke: "roundrobin"})
	if err != nil {
		t.Fatal(err)
	}
	other := connect(t, nodes[2], "msgpack") // joins the shared registration on another node
	reg2, err := other.Register(ctx(t), "com.example.meta", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{}, nil
	}, &clientlib.RegisterOptions{Invoke: "roundrobin"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := other.Subscribe(ctx(t), "com.example.meta", func(*clientlib.Event) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reg2.ID != reg.ID {
		t.Fatalf("the shared registration is %d on node B and %d on node C", reg.ID, reg2.ID)
	}
	for i, n := range nodes {
		c := connect(t, n, "json")
		res, err := c.Call(ctx(t), "wamp.registration.lookup", []any{"com.example.meta"}, nil, nil)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if id, _ := wamp.AsID(res.Args[0]); id != reg.ID {
			t.Fatalf("node %d: registration.lookup %v %v, want %d", i, res, err, reg.ID)
		}
		res, err = c.Call(ctx(t), "wamp.registration.count_callees", []any{reg.ID}, nil, nil)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if n, _ := wamp.AsInt(res.Args[0]); n != 2 {
			t.Fatalf("node %d: count_callees %v %v", i, res, err)
		}
		res, err = c.Call(ctx(t), "wamp.subscription.lookup", []any{"com.example.meta"}, nil, nil)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if id, _ := wamp.AsID(res.Args[0]); id != sub.ID {
			t.Fatalf("node %d: subscription.lookup %v %v, want %d", i, res, err, sub.ID)
		}
	}
}

func TestPatternPrecedenceAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	reg := func(n *node, proc string, match wamp.MatchPolicy, answer string) {
		c := connect(t, n, "json")
		_, err := c.Register(ctx(t), proc, func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
			return &clientlib.Result{Args: []any{answer}}, nil
		}, &clientlib.RegisterOptions{Match: match})
		if err != nil {
			t.Fatal(err)
		}
	}
	reg(nodes[1], "com.example", "prefix", "prefix")
	reg(nodes[2], "com..op", "wildcard", "wildcard")
	reg(nodes[1], "com.example.exact.op", "exact", "exact")
	eventually(t, "A knows the three registrations", func() bool { return clustertest.RemoteRegistrations(nodes[0].Router, "realm1") == 3 })
	caller := connect(t, nodes[0], "json")
	for proc, want := range map[string]string{"com.example.exact.op": "exact", "com.example.other.op": "prefix", "com.other.op": "wildcard"} {
		res, err := caller.Call(ctx(t), proc, nil, nil, nil)
		if err != nil || res.Args[0] != want {
			t.Fatalf("%s: %v %v, want %s", proc, res, err, want)
		}
	}
}

func TestPublishAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	type got struct {
		who string
		ev  *clientlib.Event
	}
	events := make(chan got, 100)
	subscribe := func(n *node, who, topic string, match wamp.MatchPolicy) *clientlib.Client {
		c := connect(t, n, []string{"json", "msgpack", "cbor"}[len(who)%3])
		_, err := c.Subscribe(ctx(t), topic, func(ev *clientlib.Event) { events <- got{who, ev} }, &clientlib.SubscribeOptions{Match: match})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	subscribe(nodes[1], "B-exact", "com.example.news", "")
	excluded := subscribe(nodes[1], "B-prefix", "com.example", "prefix")
	subscribe(nodes[2], "C-wildcard", "com..news", "wildcard")
	subscribe(nodes[0], "A-exact", "com.example.news", "")
	eventually(t, "A knows the remote interest", func() bool { return clustertest.RemoteInterest(nodes[0].Router, "realm1", "com.example.news") })
	eventually(t, "every subscription is known on A", func() bool {
		// B's two subscriptions and C's: a publish to com.other.news reaches only C.
		return clustertest.RemoteInterest(nodes[0].Router, "realm1", "com.other.news") && clustertest.RemoteInterest(nodes[0].Router, "realm1", "com.example.x")
	})
	pub := connect(t, nodes[0], "json")
	err := pub.Publish(ctx(t), "com.example.news", []any{"hello", []byte{1, 2, 3}}, map[string]any{"k": 1},
		&clientlib.PublishOptions{Acknowledge: true, DiscloseMe: true, Exclude: []wamp.ID{excluded.ID()}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"B-exact": true, "C-wildcard": true, "A-exact": true}
	for len(want) > 0 {
		g := recv(t, events)
		if !want[g.who] {
			t.Fatalf("unexpected or duplicate event for %s", g.who)
		}
		delete(want, g.who)
		if g.ev.Args[0] != "hello" || fmt.Sprint(g.ev.Args[1]) != "[1 2 3]" || !sameID(g.ev.Details["publisher"], pub.ID()) {
			t.Fatalf("%s got %v %v", g.who, g.ev.Args, g.ev.Details)
		}
		if g.who == "C-wildcard" && g.ev.Details["topic"] != "com.example.news" {
			t.Fatalf("wildcard event without its topic: %v", g.ev.Details)
		}
	}
	// A second publication: each subscriber gets it once; none got the first twice.
	if err := pub.Publish(ctx(t), "com.example.news", []any{"again"}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	want = map[string]bool{"B-exact": true, "B-prefix": true, "C-wildcard": true, "A-exact": true}
	for len(want) > 0 {
		g := recv(t, events)
		if !want[g.who] || g.ev.Args[0] != "again" {
			t.Fatalf("unexpected event for %s: %v", g.who, g.ev.Args)
		}
		delete(want, g.who)
	}
}

func TestRetainedEventAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 2)
	pub := connect(t, nodes[0], "json")
	if err := pub.Publish(ctx(t), "com.example.state", []any{"v1"}, nil, &clientlib.PublishOptions{Acknowledge: true, Retain: true}); err != nil {
		t.Fatal(err)
	}
	// The retained event travels to every node; a marker publication sent
	// after it, on the same path, says it has arrived.
	sub := connect(t, nodes[1], "json")
	marker := make(chan struct{}, 1)
	if _, err := sub.Subscribe(ctx(t), "com.example.marker", func(*clientlib.Event) { marker <- struct{}{} }, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A knows B's interest", func() bool { return clustertest.RemoteInterest(nodes[0].Router, "realm1", "com.example.marker") })
	if err := pub.Publish(ctx(t), "com.example.marker", nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	recv(t, marker)
	got := make(chan *clientlib.Event, 1)
	if _, err := sub.Subscribe(ctx(t), "com.example.state", func(ev *clientlib.Event) { got <- ev }, &clientlib.SubscribeOptions{GetRetained: true}); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, got); ev.Args[0] != "v1" || ev.Details["retained"] != true {
		t.Fatalf("retained event %v %v", ev.Args, ev.Details)
	}
}

// TestRetainedEventReachesLateNode: a node that joins later gets the
// retained events of the others.
func TestRetainedEventReachesLateNode(t *testing.T) {
	nodes, url := startClusterURL(t, 1, nodeTimeout)
	pub := connect(t, nodes[0], "msgpack")
	if err := pub.Publish(ctx(t), "com.example.state", []any{"v1"}, nil, &clientlib.PublishOptions{Acknowledge: true, Retain: true}); err != nil {
		t.Fatal(err)
	}
	late := startNode(t, url, routertest.Options{})
	sub := connect(t, late, "json")
	// Node A's snapshot holds its retained events before its sessions.
	eventually(t, "the late node knows A's sessions", func() bool {
		res, err := sub.Call(ctx(t), "wamp.session.count", nil, nil, nil)
		n, _ := wamp.AsInt(res.Args[0])
		return err == nil && n == 2
	})
	got := make(chan *clientlib.Event, 1)
	if _, err := sub.Subscribe(ctx(t), "com.example.state", func(ev *clientlib.Event) { got <- ev }, &clientlib.SubscribeOptions{GetRetained: true}); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, got); ev.Args[0] != "v1" || ev.Details["retained"] != true {
		t.Fatalf("retained event on the late node: %v %v", ev.Args, ev.Details)
	}
}

func TestSessionMetaAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	joins := make(chan uint64, 10)
	watcher := connect(t, nodes[0], "json")
	if _, err := watcher.Subscribe(ctx(t), "wamp.session.on_join", func(ev *clientlib.Event) {
		d := wamp.AsDict(ev.Args[0])
		id, _ := wamp.AsID(d["session"])
		joins <- uint64(id)
	}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B and C know A's interest in on_join", func() bool {
		return clustertest.RemoteInterest(nodes[1].Router, "realm1", "wamp.session.on_join") && clustertest.RemoteInterest(nodes[2].Router, "realm1", "wamp.session.on_join")
	})
	b := connect(t, nodes[1], "json")
	c := connect(t, nodes[2], "msgpack")
	seen := map[uint64]bool{}
	for len(seen) < 2 {
		seen[recv(t, joins)] = true
	}
	if !seen[uint64(b.ID())] || !seen[uint64(c.ID())] {
		t.Fatalf("on_join from other nodes: %v, want %d and %d", seen, b.ID(), c.ID())
	}
	eventually(t, "A counts the sessions of the cluster", func() bool {
		res, err := watcher.Call(ctx(t), "wamp.session.count", nil, nil, nil)
		n, _ := wamp.AsInt(res.Args[0])
		return err == nil && n == 3
	})
	res, err := watcher.Call(ctx(t), "wamp.session.get", []any{c.ID()}, nil, nil)
	if err != nil || wamp.AsDict(res.Args[0])["authrole"] != "anonymous" {
		t.Fatalf("session.get of a remote session: %v %v", res, err)
	}
	leaves := make(chan uint64, 10)
	if _, err := watcher.Subscribe(ctx(t), "wamp.session.on_leave", func(ev *clientlib.Event) {
		id, _ := wamp.AsID(ev.Args[0])
		leaves <- uint64(id)
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if id := recv(t, leaves); id != uint64(c.ID()) {
		t.Fatalf("on_leave for %d, want %d", id, c.ID())
	}
	res, err = watcher.Call(ctx(t), "wamp.session.count", nil, nil, nil)
	if n, _ := wamp.AsInt(res.Args[0]); err != nil || n != 2 {
		t.Fatalf("session count after a remote leave: %v %v", res, err)
	}
}

// TestLocalTrafficStaysLocal: calls and events between sessions of one node
// send nothing to the other nodes.
func TestLocalTrafficStaysLocal(t *testing.T) {
	nodes := startCluster(t, 2)
	a := nodes[0]
	callee := connect(t, a, "json")
	if _, err := callee.Register(ctx(t), "com.example.local", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{"ok"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	events := make(chan *clientlib.Event, 100)
	sub := connect(t, a, "msgpack")
	if _, err := sub.Subscribe(ctx(t), "com.example.local", func(ev *clientlib.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	caller := connect(t, a, "cbor")
	before := a.Cluster.Sent()
	for range 100 {
		if _, err := caller.Call(ctx(t), "com.example.local", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := caller.Publish(ctx(t), "com.example.local", []any{1}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
		recv(t, events)
	}
	if sent := a.Cluster.Sent() - before; sent != 0 {
		t.Fatalf("local calls and events sent %d messages to the other node", sent)
	}
}

func TestNodeDeath(t *testing.T) {
	nodes, _ := startClusterURL(t, 3, deathTimeout)
	a, b, c := nodes[0], nodes[1], nodes[2]

	callee := connect(t, b, "json")
	started := make(chan struct{}, 1)
	if _, err := callee.Register(ctx(t), "com.example.slow", func(c context.Context, _ *clientlib.Invocation) (*clientlib.Result, error) {
		started <- struct{}{}
		<-c.Done()
		return nil, c.Err()
	}, nil); err != nil {
		t.Fatal(err)
	}
	// A testament of a session on B, for a subscriber on C.
	if _, err := callee.Call(ctx(t), "wamp.session.add_testament", []any{"com.example.gone", []any{"B died"}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	sub := connect(t, c, "json")
	testaments := make(chan *clientlib.Event, 4)
	if _, err := sub.Subscribe(ctx(t), "com.example.gone", func(ev *clientlib.Event) { testaments <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A knows B's callee and C's interest", func() bool {
		return clustertest.RemoteCallees(a.Router, "realm1", "com.example.slow") == 1 && clustertest.RemoteInterest(a.Router, "realm1", "com.example.gone")
	})
	eventually(t, "C knows B's callee", func() bool { return clustertest.RemoteCallees(c.Router, "realm1", "com.example.slow") == 1 })

	caller := connect(t, a, "json")
	done := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctx(t), "com.example.slow", nil, nil, nil)
		done <- err
	}()
	recv(t, started)
	b.Cluster.Crash() // as kill -9: no goodbye

	err := recv(t, done)
	var rerr *wamp.RPCError
	if !errors.As(err, &rerr) || rerr.URI != wamp.ErrCanceled {
		t.Fatalf("call in flight to a dead node: %v", err)
	}
	eventually(t, "the dead node's registration is gone everywhere", func() bool {
		return clustertest.RemoteCallees(a.Router, "realm1", "com.example.slow") == 0 && clustertest.RemoteCallees(c.Router, "realm1", "com.example.slow") == 0
	})
	if m := scrape(t, a); !strings.Contains(m, "junction_cluster_nodes 1\n") || !strings.Contains(m, "junction_cluster_nodes_dropped_total 1\n") ||
		!strings.Contains(m, `junction_cluster_link_repairs_total{kind="resets"} 0`+"\n") || !strings.Contains(m, "junction_cluster_resyncs_total ") {
		t.Fatalf("metrics after a node died:\n%s", m)
	}
	ev := recv(t, testaments)
	if ev.Args[0] != "B died" {
		t.Fatalf("testament %v", ev.Args)
	}
	_, err = caller.Call(ctx(t), "com.example.slow", nil, nil, nil)
	if !errors.As(err, &rerr) || rerr.URI != wamp.ErrNoSuchProcedure {
		t.Fatalf("call after the node died: %v", err)
	}
	select {
	case ev := <-testaments:
		t.Fatalf("testament published twice: %v", ev.Args)
	default:
	}

}

// TestNATSOutage: when NATS goes away for longer than node_timeout, the
// nodes drop each other (two nodes: each is half of the cluster, so each
// announces the other's sessions gone to its own subscribers); when it comes
// back they find each other again by themselves, and the sessions announced
// gone are closed by their node (fenced), so their clients reconnect: the
// callee registers again and is callable from the other node.
func TestNATSOutage(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true, MaxPayload: clustertest.MaxPayload}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not start")
	}
	url := ns.ClientURL()
	a, b := startNodeTimeout(t, url, routertest.Options{}, deathTimeout), startNodeTimeout(t, url, routertest.Options{}, deathTimeout)
	eventually(t, "the nodes see each other", func() bool { return a.Router.ClusterNodes() == 1 && b.Router.ClusterNodes() == 1 })
	survivor := func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{"up"}}, nil
	}
	callee := connect(t, b, "json")
	if _, err := callee.Register(ctx(t), "com.example.survivor", survivor, nil); err != nil {
		t.Fatal(err)
	}
	watcher := connect(t, b, "json") // b's own session: b's node must not announce it gone
	leaves := make(chan *clientlib.Event, 8)
	if _, err := watcher.Subscribe(ctx(t), "wamp.session.on_leave", func(ev *clientlib.Event) { leaves <- ev }, nil); err != nil {
		t.Fatal(err)
	}

	port := ns.Addr().(*net.TCPAddr).Port
	ns.Shutdown()
	ns.WaitForShutdown()
	eventually(t, "the nodes drop each other", func() bool { return a.Router.ClusterNodes() == 0 && b.Router.ClusterNodes() == 0 })
	caller := connect(t, a, "json")
	_, err = caller.Call(ctx(t), "com.example.survivor", nil, nil, nil)
	var rerr *wamp.RPCError
	if !errors.As(err, &rerr) || rerr.URI != wamp.ErrNoSuchProcedure {
		t.Fatalf("call while NATS is down: %v", err)
	}

	opts.Port = port // NATS back on the same address
	ns2, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns2.Start()
	if !ns2.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not restart")
	}
	t.Cleanup(func() { ns2.Shutdown(); ns2.WaitForShutdown() })
	eventually(t, "the nodes find each other again", func() bool { return a.Router.ClusterNodes() == 1 && b.Router.ClusterNodes() == 1 })
	for _, c := range []*clientlib.Client{callee, watcher} {
		select {
		case <-c.Done(): // fenced: a announced it gone
		case <-time.After(20 * time.Second):
			t.Fatal("a session announced gone by the other node was not closed when the nodes met again")
		}
	}
	select {
	case ev := <-leaves:
		t.Fatalf("b announced the departure of a session of its own that it fenced: %v", ev.Args)
	default:
	}
	callee = connect(t, b, "json") // the client reconnects
	if _, err := callee.Register(ctx(t), "com.example.survivor", survivor, nil); err != nil {
		t.Fatal(err)
	}
	res, err := caller.Call(ctx(t), "com.example.survivor", nil, nil, nil)
	if err != nil || res.Args[0] != "up" {
		t.Fatalf("call after NATS came back: %v %v", res, err)
	}
}

func TestNodeRejoins(t *testing.T) {
	nodes, url := startClusterURL(t, 3, deathTimeout)
	a, b := nodes[0], nodes[1]
	b.Cluster.Crash()
	eventually(t, "A drops B", func() bool { return a.Router.ClusterNodes() == 1 })
	back := startNodeTimeout(t, url, routertest.Options{}, deathTimeout) // B restarted: a new node id
	for _, n := range []*node{a, nodes[2], back} {
		eventually(t, "the cluster has three nodes again", func() bool { return n.Router.ClusterNodes() == 2 })
	}
	callee := connect(t, back, "json")
	if _, err := callee.Register(ctx(t), "com.example.back", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{"back"}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A knows the new node's callee", func() bool { return clustertest.RemoteCallees(a.Router, "realm1", "com.example.back") == 1 })
	res, err := connect(t, a, "json").Call(ctx(t), "com.example.back", nil, nil, nil)
	if err != nil || res.Args[0] != "back" {
		t.Fatalf("call to the node that came back: %v %v", res, err)
	}
}

// TestRegisterWhileHolderSilent: a callee whose node died reconnects to
// another node and registers again before the dead node is dropped: the
// answer says when to retry (kwargs retry_after_ms), and the retry made
// then succeeds; the procedure is then callable from every node, with one
// registration id.
func TestRegisterWhileHolderSilent(t *testing.T) {
	nodes, _ := startClusterURL(t, 3, deathTimeout)
	a, b, c := nodes[0], nodes[1], nodes[2]
	echo := func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{"here"}}, nil
	}
	if _, err := connect(t, b, "json").Register(ctx(t), "com.example.failover", echo, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "A and C know B's callee", func() bool {
		return clustertest.RemoteCallees(a.Router, "realm1", "com.example.failover") == 1 &&
			clustertest.RemoteCallees(c.Router, "realm1", "com.example.failover") == 1
	})
	b.Cluster.Crash()
	callee := connect(t, a, "msgpack") // the client reconnects to A
	advised, afterAdvice := false, 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := callee.Register(ctx(t), "com.example.failover", echo, nil)
		if err == nil {
			break
		}
		var rerr *wamp.RPCError
		if !errors.As(err, &rerr) || rerr.URI != wamp.ErrProcedureAlreadyExists || time.Now().After(deadline) {
			t.Fatalf("REGISTER while the holder's node is dead: %v", err)
		}
		wait := 20 * time.Millisecond // before B is silent long enough to be suspect: a client's own retry delay
		if ms, ok := wamp.AsInt(rerr.Kwargs["retry_after_ms"]); ok {
			if afterAdvice++; afterAdvice > 2 {
				t.Fatalf("REGISTER retried as advised twice still fails: %v", err)
			}
			advised, wait = true, time.Duration(ms)*time.Millisecond
			t.Logf("advised to retry after %s: %v", wait, rerr.Args)
		}
		time.Sleep(wait) // the client follows the router's advice
	}
	if !advised {
		t.Fatal("no REGISTER was told when to retry while the holder's node was silent")
	}
	var ids []wamp.ID
	for i, n := range []*node{a, c} {
		cl := connect(t, n, "json")
		eventually(t, "the procedure is callable", func() bool {
			res, err := cl.Call(ctx(t), "com.example.failover", nil, nil, nil)
			return err == nil && res.Args[0] == "here"
		})
		res, err := cl.Call(ctx(t), "wamp.registration.lookup", []any{"com.example.failover"}, nil, nil)
		if err != nil || len(res.Args) == 0 {
			t.Fatalf("node %d: lookup %v %v", i, res, err)
		}
		id, _ := wamp.AsID(res.Args[0])
		ids = append(ids, id)
	}
	if ids[0] != ids[1] || ids[0] == 0 {
		t.Fatalf("registration ids differ between nodes: %v", ids)
	}
}

// TestSuiteAcrossNodes runs every testsuite scenario with each of its peers
// on another node of a three-node cluster, with our client and the nexus
// client, every serializer, and mixed: the cluster behaves as one router.
func TestSuiteAcrossNodes(t *testing.T) {
	url := startNATS(t)
	opts := routertest.Options{Router: router.Config{Realms: []router.RealmConfig{{
		Name: "realm1", Anonymous: true, Roles: routertest.TrustedRoles("anonymous"), // session_kill
		EventHistory: []router.HistoryConfig{{Topic: "test", Match: "prefix", Limit: 10000}},
	}}}}
	var nodes []*node
	for range 3 {
		nodes = append(nodes, startNode(t, url, opts))
	}
	clustertest.WaitFormed(t, nodes...)
	target := testsuite.Target{URL: nodes[0].URL, More: []string{nodes[1].URL, nodes[2].URL}, Realm: "realm1"}
	testsuite.Run(t, target, []testsuite.Driver{testsuite.ClientlibDriver{}, testsuite.NexusDriver{}}, testsuite.RunOptions{HistoryPrefix: "test"})
}

// sameID reports whether a decoded id (int64 or uint64, by serializer) is id.
func sameID(v any, id wamp.ID) bool {
	got, ok := wamp.AsID(v)
	return ok && got == id
}

// TestRegisteredBeforeInvocation registers callees, one after another, to a
// shared registration that callers on the same node call all along: while
// the other node is told of a registration, calls routed to its new callee
// wait, so that the callee hears REGISTERED before the first INVOCATION (a
// client answers an INVOCATION of a registration it does not know with
// wamp.error.no_such_registration).
func TestRegisteredBeforeInvocation(t *testing.T) {
	nodes := startCluster(t, 2)
	handler := func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}
	register := func() {
		t.Helper()
		c := connect(t, nodes[0], "json")
		if _, err := c.Register(ctx(t), "com.example.shared", handler, &clientlib.RegisterOptions{Invoke: wamp.InvokeRoundRobin}); err != nil {
			t.Fatal(err)
		}
	}
	register()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures sync.Map
	for i := range 3 {
		caller := connect(t, nodes[0], "msgpack")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 100_000 {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := caller.Call(ctx(t), "com.example.shared", []any{n}, nil, nil); err != nil {
					failures.Store(fmt.Sprint(i, n), err)
				}
			}
		}()
	}
	for range 8 {
		register()
	}
	close(stop)
	wg.Wait()
	failures.Range(func(k, v any) bool {
		t.Errorf("call %v: %v", k, v)
		return true
	})
}
