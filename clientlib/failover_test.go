package clientlib_test

import (
	"context"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/internal/chaos"
	"github.com/junction-wamp/junction/internal/clustertest"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/wamp"
)

// TestFailoverClusterNodeKilled: a three-node cluster; a service on node B,
// with the URLs of C and A besides B's, registers a procedure and
// subscribes. B dies as a killed process would (cut off from the other
// nodes with no goodbye, its connections dropped and refused): the
// service reconnects to C, registers again, retrying while the others
// still hold B's registration (procedure_already_exists until B is
// dropped), and its procedure is callable again from every live node, its
// subscription served from there.
func TestFailoverClusterNodeKilled(t *testing.T) {
	t.Parallel()
	net := chaos.New(chaos.Seed())
	t.Cleanup(net.Close)
	nats := clustertest.StartNATS(t, clustertest.MaxPayload)
	var nodes []*clustertest.Node
	for _, name := range []string{"A", "B", "C"} {
		cfg := cluster.Config{Name: "failover", NATSURL: nats, NodeTimeout: time.Second, Faults: net.Node(name)}
		nodes = append(nodes, clustertest.StartNodeConfig(t, cfg, routertest.Options{}))
	}
	clustertest.WaitFormed(t, nodes...)
	t.Cleanup(func() { net.Cut("B", false) }) // before the nodes leave: no goodbye waits on a node cut off
	a, b, c := nodes[0], nodes[1], nodes[2]
	pb := startProxy(t, routerAddr(b.Server))

	w := newWatch()
	ctx := testCtx(t)
	svc, err := clientlib.Connect(ctx, "ws://"+pb.addr()+"/ws", "realm1", w.options(c.URL, a.URL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close(context.Background()) })
	if _, err := svc.Register(ctx, "com.test.failover", add, nil); err != nil {
		t.Fatal(err)
	}
	events := make(chan *clientlib.Event, 16)
	if _, err := svc.Subscribe(ctx, "com.test.news", func(ev *clientlib.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	routertest.WaitUntil(t, "A and C know B's callee", func() bool {
		return clustertest.RemoteCallees(a.Router, "realm1", "com.test.failover") == 1 &&
			clustertest.RemoteCallees(c.Router, "realm1", "com.test.failover") == 1
	})
	first := svc.ID()

	net.Cut("B", true)
	pb.close()
	recvT(t, w.downs, "the session on B down")
	second := recvT(t, w.ups, "a session on another node")
	if second == first || svc.ID() != second {
		t.Fatalf("sessions %d, %d; ID %d", first, second, svc.ID())
	}
	for i, n := range []*clustertest.Node{a, c} {
		caller := connect(t, n.URL, "json")
		routertest.WaitUntil(t, "the procedure callable again", func() bool {
			res, err := caller.Call(ctx, "com.test.failover", []any{i, 1}, nil, nil)
			if err != nil {
				return false
			}
			v, _ := wamp.AsInt(res.Args[0])
			return v == int64(i+1)
		})
		routertest.WaitUntil(t, "the node knows the service's subscription, and B is dropped", func() bool {
			return n.Router.ClusterNodes() == 1 && (n == c || clustertest.RemoteInterest(n.Router, "realm1", "com.test.news"))
		})
		if err := caller.Publish(ctx, "com.test.news", []any{i}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
		ev := recvT(t, events, "an event")
		if v, _ := wamp.AsInt(ev.Args[0]); v != int64(i) {
			t.Fatalf("event %v", ev.Args)
		}
	}
	t.Logf("registration refused %d times while B's held the procedure", len(w.restores))
}
