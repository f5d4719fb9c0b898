package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/internal/chaos"
	"github.com/junction-wamp/junction/internal/clustertest"
	"github.com/junction-wamp/junction/wamp"
)

// The chaos tests: faults under the cluster layer (messages lost,
// duplicated, reordered, delayed; a node cut off for less or more than the
// node timeout; NATS stopped and restarted; a node killed; a node paused),
// each ending in the assertions of issue 14: every call answered once,
// every node's meta API listings identical within healBound once the fault
// ends, on_leave once.

func echo(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
	return &clientlib.Result{Args: inv.Args}, nil
}

// TestChaosShortCutHeals: node C is cut off for half the node timeout
// while, on node A, a session registers, one subscribes, one unregisters and
// one leaves; once the cut ends every node lists the same within healBound,
// C's callers reach the new procedure and C's publications the new
// subscriber. In "resent", A's links send the changes again; in "lost",
// what A sends C meanwhile overflows A's resend buffer, so the changes are
// lost for good and the repair (a snapshot) must bring them.
func TestChaosShortCutHeals(t *testing.T) {
	t.Run("resent", func(t *testing.T) { testShortCut(t, false) })
	t.Run("lost", func(t *testing.T) { testShortCut(t, true) })
}

func testShortCut(t *testing.T, lost bool) {
	cc := startChaos(t, "", 3, func(_ int, cfg *cluster.Config) {
		if lost {
			cfg.ResendBuffer = 2 << 10
		}
	})
	a, c := cc.nodes[0], cc.nodes[2]
	callee, sub := connect(t, a, "json"), connect(t, a, "msgpack")
	unreg, leaver := connect(t, a, "cbor"), connect(t, a, "json")
	old, err := unreg.Register(ctx(t), "com.chaos.old", echo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connect(t, c, "json").Subscribe(ctx(t), "com.chaos.filler", func(*clientlib.Event) {}, nil); err != nil {
		t.Fatal(err)
	}
	filler := connect(t, a, "json") // not during the cut: a session joins once every node knows it
	cc.healed(t, "before the cut")

	events := make(chan *clientlib.Event, 4)
	cc.net.Cut("C", true)
	cutAt := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Add(4) // each waits for C's confirmation, which comes after the cut
	go func() {
		defer wg.Done()
		_, err := callee.Register(ctx(t), "com.chaos.new", echo, nil)
		errs <- err
	}()
	go func() {
		defer wg.Done()
		_, err := sub.Subscribe(ctx(t), "com.chaos.news", func(ev *clientlib.Event) { events <- ev }, nil)
		errs <- err
	}()
	go func() { defer wg.Done(); errs <- unreg.Unregister(ctx(t), old) }()
	go func() { defer wg.Done(); errs <- leaver.Close(ctx(t)) }()
	// A applied the four changes (its own listing shows them) while C hears nothing.
	eventually(t, "node A applied the changes", func() bool {
		l, err := clustertest.Listing(ctx(t), cc.listers[0])
		return err == nil && strings.Contains(l, "com.chaos.new") && strings.Contains(l, "com.chaos.news") &&
			!strings.Contains(l, "com.chaos.old") && !strings.Contains(l, fmt.Sprintf("session %d\n", leaver.ID()))
	})
	if lost {
		fill(t, a, filler)
	}
	time.Sleep(time.Until(cutAt.Add(chaosTimeout / 2))) // the fault's length, not a wait for a condition
	cc.net.Cut("C", false)
	uncut := time.Now()
	cut := uncut.Sub(cutAt)
	t.Logf("C was cut off for %s", cut.Round(time.Millisecond))
	if cut >= chaosTimeout {
		t.Fatalf("the cut lasted %s, not less than the node timeout: the scenario did not run", cut)
	}
	cc.healedSince(t, "after a cut shorter than node_timeout", uncut)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range cc.nodes {
		if n.Router.ClusterNodes() != 2 {
			t.Fatal("a node was dropped by a cut shorter than the node timeout")
		}
	}
	if resets := a.Cluster.LinkStats().Resets; lost != (resets > 0) {
		t.Fatalf("%d resets of A's links: the scenario did not run", resets)
	}

	caller := connect(t, c, "json")
	res, err := caller.Call(ctx(t), "com.chaos.new", []any{"from C"}, nil, nil)
	if err != nil || res.Args[0] != "from C" {
		t.Fatalf("call from C to the procedure registered during the cut: %v %v", res, err)
	}
	if err := caller.Publish(ctx(t), "com.chaos.news", []any{"news from C"}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, events); ev.Args[0] != "news from C" {
		t.Fatalf("event %v", ev.Args)
	}
	_, err = caller.Call(ctx(t), "com.chaos.old", nil, nil, nil)
	var rerr *wamp.RPCError
	if !errors.As(err, &rerr) || rerr.URI != wamp.ErrNoSuchProcedure {
		t.Fatalf("call from C to the procedure unregistered during the cut: %v", err)
	}
}

// TestChaosLossyLinks: with 10% of the messages between nodes lost, 10%
// duplicated, 10% reordered and 10% delayed, calls from two nodes to a
// callee on a third are each answered once with their own result, events
// from two nodes reach the subscribers of the third once each and in order,
// and the nodes list the same once the faults stop.
func TestChaosLossyLinks(t *testing.T) {
	cc := startChaos(t, "", 3, nil)
	a, b, c := cc.nodes[0], cc.nodes[1], cc.nodes[2]
	callee := connect(t, b, "msgpack")
	if _, err := callee.Register(ctx(t), "com.chaos.echo", echo, nil); err != nil {
		t.Fatal(err)
	}
	const publishers, events = 2, 100
	var mu sync.Mutex
	got := make([][]int, publishers) // by publisher, the sequence numbers received
	subscriber := connect(t, b, "cbor")
	if _, err := subscriber.Subscribe(ctx(t), "com.chaos.seq", func(ev *clientlib.Event) {
		p, _ := wamp.AsInt(ev.Args[0])
		n, _ := wamp.AsInt(ev.Args[1])
		mu.Lock()
		got[p] = append(got[p], int(n))
		mu.Unlock()
	}, nil); err != nil {
		t.Fatal(err)
	}
	callers := []*rawCaller{dialRaw(t, a), dialRaw(t, c)}
	pubs := []*clientlib.Client{connect(t, a, "json"), connect(t, c, "msgpack")}
	cc.healed(t, "before the faults")

	cc.net.Set(chaos.Loss{Drop: 0.1, Dup: 0.1, Reorder: 0.1, Delay: 0.1, MaxDelay: 30 * time.Millisecond})
	start := time.Now()
	const calls = 150 // per caller
	const callTimeout = 10 * time.Second
	var requests []uint64
	for i := range calls {
		requests = append(requests, uint64(i+1))
	}
	var wg sync.WaitGroup
	for p, pub := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range events {
				if err := pub.Publish(ctx(t), "com.chaos.seq", []any{p, n}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for ci, cl := range callers {
		for _, r := range requests { // pipelined, 30 at a time
			cl.call(t, r, "com.chaos.echo", callTimeout, ci, r)
			if r%30 == 0 {
				cl.wait(t, callTimeout+5*time.Second, requests[r-30:r]...)
			}
		}
	}
	wg.Wait()
	for _, cl := range callers {
		cl.wait(t, callTimeout+5*time.Second, requests...)
	}
	eventually(t, "every event arrived", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got[0]) >= events && len(got[1]) >= events
	})
	t.Logf("%d calls and %d events through the faults in %s", len(callers)*calls, publishers*events, time.Since(start).Round(time.Millisecond))
	cc.net.Quiet()
	cc.healed(t, "after the faults stopped")

	// The links are ordered: an answer after the quiet is behind any late duplicate.
	for ci, cl := range callers {
		cl.call(t, calls+1, "com.chaos.echo", callTimeout, ci, calls+1)
		cl.wait(t, callTimeout, calls+1)
		errs := cl.once(t, append(requests, calls+1), func(r uint64) string { return fmt.Sprintf("[%d,%d]", ci, r) }, false)
		if len(errs) > 0 {
			t.Fatalf("caller %d: errors %v", ci, errs)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for p := range got {
		if len(got[p]) != events {
			t.Fatalf("publisher %d: %d events delivered, want %d once each: %v", p, len(got[p]), events, got[p])
		}
		for i, n := range got[p] {
			if n != i {
				t.Fatalf("publisher %d: event %d is %d: lost, duplicated or out of order: %v", p, i, n, got[p])
			}
		}
	}
	for i, n := range cc.nodes {
		st := n.Cluster.LinkStats()
		t.Logf("node %s's links: %+v", cc.names[i], st)
		if st.Resets != 0 { // 64 MiB to resend from: every loss is repaired by the links
			t.Errorf("node %s reset %d links", cc.names[i], st.Resets)
		}
	}
	if fs := cc.net.Stats(); fs.Dropped == 0 || fs.Duplicated == 0 || fs.Reordered == 0 || fs.Delayed == 0 {
		t.Fatalf("the faults were not exercised: %+v", fs)
	}
}

// lostCallSetup: a cluster whose nodes keep 2 KiB of messages to resend,
// so that a cut plus a few large events loses a message for good; a callee
// and a subscriber of large events on B, a raw caller, a subscriber and a
// publisher on A.
func lostCallSetup(t *testing.T, handler clientlib.InvocationHandler) (*chaosCluster, *rawCaller, *clientlib.Client, *clientlib.Client) {
	cc := startChaos(t, "", 3, func(_ int, cfg *cluster.Config) { cfg.ResendBuffer = 2 << 10 })
	a, b := cc.nodes[0], cc.nodes[1]
	callee := connect(t, b, "json")
	if _, err := callee.Register(ctx(t), "com.chaos.lost", handler, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := callee.Register(ctx(t), "com.chaos.echo", echo, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*clientlib.Client{callee, connect(t, a, "json")} {
		if _, err := c.Subscribe(ctx(t), "com.chaos.filler", func(*clientlib.Event) {}, nil); err != nil {
			t.Fatal(err)
		}
	}
	caller := dialRaw(t, a)
	cc.healed(t, "before the loss")
	return cc, caller, callee, connect(t, a, "json")
}

// fill publishes large events from pub, a session of node n, to the
// subscribers on another node, until the messages to it have overflowed
// n's resend buffer twice.
func fill(t *testing.T, n *node, pub *clientlib.Client) {
	t.Helper()
	before := n.Cluster.LinkStats().Overflows
	for range 2 {
		if err := pub.Publish(ctx(t), "com.chaos.filler", []any{strings.Repeat("x", 4<<10)}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the resend buffer overflowed", func() bool { return n.Cluster.LinkStats().Overflows >= before+2 })
}

// lostAt returns a channel closed once node, cut off, did not receive a
// message holding marker.
func lostAt(cc *chaosCluster, node, marker string) <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	cc.net.WatchCut(func(at, _ string, data []byte) {
		if at == node && bytes.Contains(data, []byte(marker)) {
			once.Do(func() { close(ch) })
		}
	})
	return ch
}

// sent returns a channel closed once node has sent a message holding
// marker.
func sent(cc *chaosCluster, node, marker string) <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	cc.net.Watch(func(from, _ string, data []byte) {
		if from == node && bytes.Contains(data, []byte(marker)) {
			once.Do(func() { close(ch) })
		}
	})
	return ch
}

// lostBound is when a call lost between nodes must be answered: the loss is
// found within a node timeout (the cut is shorter), audited at the next
// repair, plus 1 s of slack.
const lostBound = chaosTimeout + chaosRepair + time.Second

// TestChaosInvocationLost: the INVOCATION of a call is lost for good (node
// B, the callee's, is cut off when it is sent, and what A sends it meanwhile
// overflows A's resend buffer): the caller gets ERROR wamp.error.canceled
// within lostBound, once.
func TestChaosInvocationLost(t *testing.T) {
	ran := make(chan struct{}, 1)
	cc, caller, _, pub := lostCallSetup(t, func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		ran <- struct{}{}
		return &clientlib.Result{Args: inv.Args}, nil
	})
	a := cc.nodes[0]
	invocation := lostAt(cc, "B", "invocation-marker") // not only sent: B must not get it before the cut ends
	cc.net.Cut("B", true)
	start := time.Now()
	caller.call(t, 1, "com.chaos.lost", 0, "invocation-marker")
	recv(t, invocation)
	fill(t, a, pub)
	cc.net.Cut("B", false)
	t.Logf("B was cut off for %s", time.Since(start).Round(time.Millisecond))
	caller.wait(t, 20*time.Second, 1)
	got, at := caller.answered(1)
	took := at.Sub(start)
	t.Logf("the caller got %v %s after the call", got, took.Round(time.Millisecond))
	if got[0] != "ERROR "+string(wamp.ErrCanceled) {
		t.Fatalf("a call whose INVOCATION was lost for good: %v, want ERROR %s", got, wamp.ErrCanceled)
	}
	if took > lostBound {
		t.Fatalf("the caller waited %s for the ERROR, over the bound of %s", took, lostBound)
	}
	caller.call(t, 2, "com.chaos.echo", 0, "after")
	caller.wait(t, 20*time.Second, 2)
	caller.once(t, []uint64{1, 2}, func(uint64) string { return `["after"]` }, true)
	select {
	case <-ran:
		t.Fatal("the lost invocation ran after all")
	default:
	}
	if a.Cluster.LinkStats().Resets == 0 {
		t.Fatal("the loss was repaired by the link: the scenario did not run")
	}
	cc.healed(t, "after the lost invocation")
}

// TestChaosYieldLost: the YIELD of a call is lost for good (B is cut off
// when its callee answers, and what B sends A meanwhile overflows B's
// resend buffer): the caller gets ERROR wamp.error.canceled within
// lostBound, and nothing more.
func TestChaosYieldLost(t *testing.T) {
	running, answer := make(chan struct{}, 1), make(chan struct{})
	cc, caller, callee, _ := lostCallSetup(t, func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		running <- struct{}{}
		<-answer
		return &clientlib.Result{Args: inv.Args}, nil
	})
	b := cc.nodes[1]
	caller.call(t, 1, "com.chaos.lost", 0, "yield-marker")
	recv(t, running)
	yield := sent(cc, "B", "yield-marker")
	cc.net.Cut("B", true)
	start := time.Now()
	close(answer)
	recv(t, yield)
	fill(t, b, callee)
	cc.net.Cut("B", false)
	t.Logf("B was cut off for %s", time.Since(start).Round(time.Millisecond))
	caller.wait(t, 20*time.Second, 1)
	got, at := caller.answered(1)
	took := at.Sub(start)
	t.Logf("the caller got %v %s after the YIELD", got, took.Round(time.Millisecond))
	if got[0] != "ERROR "+string(wamp.ErrCanceled) {
		t.Fatalf("a call whose YIELD was lost for good: %v, want ERROR %s", got, wamp.ErrCanceled)
	}
	if took > lostBound {
		t.Fatalf("the caller waited %s for the ERROR, over the bound of %s", took, lostBound)
	}
	// B's links to A are ordered: the answer to this call comes after any late YIELD.
	caller.call(t, 2, "com.chaos.echo", 0, "after")
	caller.wait(t, 20*time.Second, 2)
	caller.once(t, []uint64{1, 2}, func(uint64) string { return `["after"]` }, true)
	if b.Cluster.LinkStats().Resets == 0 {
		t.Fatal("the loss was repaired by the link: the scenario did not run")
	}
	cc.healed(t, "after the lost YIELD")
}

// TestChaosLongCut: node C is cut off for longer than the node timeout.
// A and B (a quorum) drop it and announce each of its sessions gone once;
// C, alone, announces nobody gone. When the cut ends C closes its sessions
// (GOODBYE wamp.close.system_shutdown, no second on_leave), A and B publish
// junction.cluster.on_rejoin, and every node lists the same.
func TestChaosLongCut(t *testing.T) {
	cc := startChaos(t, "", 3, nil)
	c := cc.nodes[2]
	leaves := make([]*sessionEvents, 3)
	rejoins := make([]chan *clientlib.Event, 2)
	watchers := make([]*clientlib.Client, 3)
	for i, n := range cc.nodes {
		leaves[i] = &sessionEvents{}
		watchers[i] = connect(t, n, "json")
		if _, err := watchers[i].Subscribe(ctx(t), "wamp.session.on_leave", leaves[i].add, nil); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			ch := make(chan *clientlib.Event, 4)
			rejoins[i] = ch
			if _, err := watchers[i].Subscribe(ctx(t), "junction.cluster.on_rejoin", func(ev *clientlib.Event) { ch <- ev }, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	marker := make(chan struct{}, 1)
	if _, err := watchers[2].Subscribe(ctx(t), "com.chaos.marker", func(*clientlib.Event) { marker <- struct{}{} }, nil); err != nil {
		t.Fatal(err)
	}
	cCallee := connect(t, c, "msgpack")
	if _, err := cCallee.Register(ctx(t), "com.chaos.c", echo, nil); err != nil {
		t.Fatal(err)
	}
	cSessions := []*clientlib.Client{cc.listers[2], watchers[2], cCallee}
	cc.healed(t, "before the cut")

	cc.net.Cut("C", true)
	cc.formed(t, "A and B drop C, and C drops them", 1, 1, 0)
	for i := range 2 {
		for _, s := range cSessions {
			id := uint64(s.ID())
			eventually(t, "on_leave of C's sessions on A and B", func() bool { return leaves[i].count(id) >= 1 })
		}
	}
	// C dropped both (one after the other): an on_leave it published
	// meanwhile came to its watcher before this marker.
	if err := cCallee.Publish(ctx(t), "com.chaos.marker", nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	recv(t, marker)
	if ids := leaves[2].all(); len(ids) != 0 {
		t.Fatalf("node C, cut off alone, announced sessions of A and B gone: on_leave %v", ids)
	}
	cc.net.Cut("C", false)
	healing := time.Now()
	cc.formed(t, "the three nodes see each other again", 2, 2, 2)
	for _, s := range cSessions {
		select {
		case <-s.Done():
		case <-time.After(20 * time.Second):
			t.Fatalf("C's session %d, announced gone, was not closed when C came back", s.ID())
		}
		if err := s.Err(); err == nil || !strings.Contains(err.Error(), "GOODBYE "+string(wamp.CloseSystemShutdown)) {
			t.Fatalf("C's session %d ended with %v, want GOODBYE %s", s.ID(), err, wamp.CloseSystemShutdown)
		}
	}
	for i := range 2 {
		ev := recv(t, rejoins[i])
		if d := wamp.AsDict(ev.Args[0]); d["node"] != c.Cluster.ID() {
			t.Fatalf("on_rejoin on node %d: %v", i, ev.Args)
		}
	}
	cc.listers[2] = connect(t, c, "json") // the fenced lister reconnects
	cc.healedSince(t, "after a cut longer than node_timeout (C's listing client reconnected)", healing)
	for i := range 2 {
		for _, s := range cSessions {
			if n := leaves[i].count(uint64(s.ID())); n != 1 {
				t.Fatalf("node %d: on_leave of C's session %d %d times, want once", i, s.ID(), n)
			}
		}
	}
	// Nobody announced A's or B's sessions gone: not A or B, not C.
	gone := map[uint64]bool{}
	for _, s := range cSessions {
		gone[uint64(s.ID())] = true
	}
	for i := range 3 {
		for _, id := range leaves[i].all() {
			if !gone[id] {
				t.Fatalf("node %d's watcher got on_leave of session %d, alive on A or B (C's: %v)", i, id, gone)
			}
		}
	}
	if n := len(leaves[2].all()); n != 0 {
		t.Fatalf("C's watcher got %d on_leave while C was cut off alone", n)
	}
}

// TestChaosCalleeNodeKilled: the node of the only callee of a procedure is
// killed (no goodbye); the callee registers again on another node,
// retrying while the dead node's registration holds the procedure; every
// node then calls it and looks it up under the same registration id.
func TestChaosCalleeNodeKilled(t *testing.T) {
	cc := startChaos(t, "", 3, nil)
	b, c := cc.nodes[1], cc.nodes[2]
	callee := connect(t, b, "json")
	if _, err := callee.Register(ctx(t), "com.chaos.failover", echo, nil); err != nil {
		t.Fatal(err)
	}
	cc.healed(t, "before the crash")
	b.Cluster.Crash()
	killed := time.Now()
	_ = callee.Close(ctx(t)) // the process is gone: its clients too

	again := connect(t, c, "json")
	var reg *clientlib.Registration
	tries := 0
	eventually(t, "the callee registered again on C", func() bool {
		var err error
		tries++
		reg, err = again.Register(ctx(t), "com.chaos.failover", echo, nil)
		var rerr *wamp.RPCError
		if err != nil && (!errors.As(err, &rerr) || rerr.URI != wamp.ErrProcedureAlreadyExists) {
			t.Fatal(err)
		}
		return err == nil
	})
	t.Logf("registered again on C %s after the crash, after %d tries", time.Since(killed).Round(time.Millisecond), tries)
	live := []*node{cc.nodes[0], c}
	// A call routed by a node that has not noticed B's death yet goes to
	// B's registration, and fails with wamp.error.canceled when it does.
	eventually(t, "A and C dropped B", func() bool { return live[0].Router.ClusterNodes() == 1 && c.Router.ClusterNodes() == 1 })
	for i, n := range live {
		cl := connect(t, n, "json")
		res, err := cl.Call(ctx(t), "com.chaos.failover", []any{i}, nil, nil)
		if err != nil {
			t.Fatalf("call from node %d after the failover: %v", i, err)
		}
		if v, _ := wamp.AsInt(res.Args[0]); v != int64(i) {
			t.Fatalf("result %v", res.Args)
		}
		eventually(t, "the node looks the procedure up under the callee's registration id", func() bool {
			res, err := cl.Call(ctx(t), "wamp.registration.lookup", []any{"com.chaos.failover"}, nil, nil)
			if err != nil || len(res.Args) == 0 {
				return false
			}
			id, _ := wamp.AsID(res.Args[0])
			return id == reg.ID
		})
	}
	cc.listers = []*clientlib.Client{cc.listers[0], cc.listers[2]}
	cc.healed(t, "after the failover")
}

// TestChaosNATSRestart: the NATS server stops and restarts on the same
// address, for less than the node timeout, while calls run between the
// nodes: every call is answered once, and the nodes list the same after.
func TestChaosNATSRestart(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true, MaxPayload: clustertest.MaxPayload}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not start")
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ns.Shutdown()
			ns.WaitForShutdown()
		}
	})
	cc := startChaos(t, ns.ClientURL(), 3, nil)
	a, b := cc.nodes[0], cc.nodes[1]
	slow := connect(t, b, "json")
	if _, err := slow.Register(ctx(t), "com.chaos.slow", func(c context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		select { // long enough to be in flight across the restart
		case <-time.After(100 * time.Millisecond):
		case <-c.Done():
		}
		return &clientlib.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := dialRaw(t, a)
	cc.healed(t, "before the restart")

	const calls = 60
	var requests []uint64
	for r := range uint64(calls) {
		requests = append(requests, r+1)
	}
	for _, r := range requests[:calls/2] {
		caller.call(t, r, "com.chaos.slow", 10*time.Second, r)
	}
	eventually(t, "calls in flight", func() bool { return a.Router.PendingInvocations() > 0 })
	port := ns.Addr().(*net.TCPAddr).Port
	down := time.Now()
	ns.Shutdown()
	ns.WaitForShutdown()
	stopped = true
	for _, r := range requests[calls/2:] {
		caller.call(t, r, "com.chaos.slow", 10*time.Second, r)
	}
	time.Sleep(time.Until(down.Add(chaosTimeout / 3))) // the outage's length, not a wait for a condition
	opts.Port = port
	ns2, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns2.Start()
	if !ns2.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not restart")
	}
	t.Cleanup(func() { ns2.Shutdown(); ns2.WaitForShutdown() })
	restarted := time.Now()
	t.Logf("NATS was down for %s", restarted.Sub(down).Round(time.Millisecond))
	caller.wait(t, 20*time.Second, requests...)
	errs := caller.once(t, requests, func(r uint64) string { return fmt.Sprintf("[%d]", r) }, true)
	t.Logf("%d calls across the restart: errors %v", calls, errs)
	if ok := calls - len(errs); ok == 0 {
		t.Fatal("no call succeeded across the restart")
	}
	cc.healedSince(t, "after NATS restarted", restarted)
	caller.call(t, calls+1, "com.chaos.slow", 10*time.Second, calls+1)
	caller.wait(t, 20*time.Second, calls+1)
	caller.once(t, append(requests, calls+1), func(r uint64) string { return fmt.Sprintf("[%d]", r) }, true)
}

// TestChaosPause: every node looks paused for three node timeouts (a VM
// suspended, say): none takes the others for dead for it, so no on_leave is
// published for sessions that are alive, and the nodes list the same after.
func TestChaosPause(t *testing.T) {
	cc := startChaos(t, "", 3, nil)
	leaves := make([]*sessionEvents, 3)
	for i, n := range cc.nodes {
		leaves[i] = &sessionEvents{}
		if _, err := connect(t, n, "json").Subscribe(ctx(t), "wamp.session.on_leave", leaves[i].add, nil); err != nil {
			t.Fatal(err)
		}
		callee := connect(t, n, "json")
		if _, err := callee.Register(ctx(t), fmt.Sprintf("com.chaos.pause.%d", i), echo, nil); err != nil {
			t.Fatal(err)
		}
	}
	cc.healed(t, "before the pause")
	for _, n := range cc.nodes {
		n.Cluster.PauseForTest(3 * chaosTimeout)
	}
	eventually(t, "every node noticed its stall", func() bool {
		for _, n := range cc.nodes {
			if n.Cluster.LinkStats().Stalls == 0 {
				return false
			}
		}
		return true
	})
	// Past a full node timeout after the stall, nobody was dropped.
	caller := connect(t, cc.nodes[0], "json")
	deadline := time.Now().Add(chaosTimeout + chaosRepair)
	for time.Now().Before(deadline) {
		for i, n := range cc.nodes {
			if n.Router.ClusterNodes() != 2 {
				t.Fatalf("node %d dropped another after a stall of its own", i)
			}
		}
		if _, err := caller.Call(ctx(t), "com.chaos.pause.2", []any{1}, nil, nil); err != nil {
			t.Fatalf("call after the stall: %v", err)
		}
	}
	cc.healed(t, "after the pause")
	for i := range leaves {
		if ids := leaves[i].all(); len(ids) != 0 {
			t.Fatalf("node %d's watcher got on_leave of live sessions %v after a stall", i, ids)
		}
	}
}

// TestChaosDirectCut: the direct connections between A and B (callers on
// A, the callee on B) break again and again while calls run, as a network
// fault or a peer's restart of its sockets would: what was lost on them is
// sent again (through NATS while the path is down, on the new connection
// once a heartbeat brings it back), so every call gets its RESULT, once.
func TestChaosDirectCut(t *testing.T) {
	cc := startChaos(t, "", 3, nil)
	a, b := cc.nodes[0], cc.nodes[1]
	callee := connect(t, b, "json")
	if _, err := callee.Register(ctx(t), "com.chaos.direct", echo, nil); err != nil {
		t.Fatal(err)
	}
	caller := dialRaw(t, a)
	cc.healed(t, "before the cuts")
	// A's path to B is up once A heard B's heartbeat (with B's address)
	// while B knew A (B's handshake wants a member).
	eventually(t, "the direct paths between A and B up", func() bool {
		return a.Cluster.LinkStats().DirectUps > 0 && b.Cluster.LinkStats().DirectUps > 0
	})
	before := a.Cluster.LinkStats().DirectFrames
	caller.call(t, 1, "com.chaos.direct", 0, 1)
	caller.wait(t, 20*time.Second, 1)
	if a.Cluster.LinkStats().DirectFrames == before {
		t.Fatal("the call went through NATS, not the direct path")
	}
	ups := a.Cluster.LinkStats().DirectUps
	const rounds, perRound = 5, 40
	requests := []uint64{1}
	for round := range rounds {
		for i := range perRound {
			r := uint64(2 + round*perRound + i)
			requests = append(requests, r)
			caller.call(t, r, "com.chaos.direct", 0, r)
		}
		a.Cluster.CutDirectForTest()
		b.Cluster.CutDirectForTest()
	}
	caller.wait(t, 20*time.Second, requests...)
	caller.once(t, requests, func(r uint64) string { return fmt.Sprintf("[%d]", r) }, false)
	eventually(t, "the direct path from A to B up again", func() bool { return a.Cluster.LinkStats().DirectUps > ups })
	cc.healed(t, "after the cuts")
}
