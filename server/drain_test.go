package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/cluster"
	"github.com/junction-wamp/junction/internal/clustertest"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/wamp"
)

// drainNodeTimeout is far longer than any test below takes to see a drained
// node gone: they see it go by its goodbye, never by its silence.
const drainNodeTimeout = 30 * time.Second

// dropDeadline bounds the wait for the other nodes to drop a drained node:
// well under drainNodeTimeout, a guard, not a timing assertion.
const dropDeadline = 10 * time.Second

// drainNode is a server.Server that is a node of a cluster, served until
// drain cancels its context (as SIGTERM does to the junction binary).
type drainNode struct {
	name     string
	srv      *server.Server
	url      string
	stop     context.CancelFunc
	done     chan error
	draining atomic.Bool // set before its drain begins

	mu       sync.Mutex
	sessions []wamp.ID // the test's sessions that joined it
	callees  int       // the test's callees on it
}

func startDrainNode(t *testing.T, natsURL, name string, grace time.Duration) *drainNode {
	t.Helper()
	return startFaultyNode(t, natsURL, name, grace, nil)
}

// startFaultyNode is startDrainNode with faults between the node and NATS.
func startFaultyNode(t *testing.T, natsURL, name string, grace time.Duration, faults cluster.Faults) *drainNode {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("JUNCTION_CLUSTER_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test_node", name)
	}
	cfg := server.Config{ShutdownGrace: grace,
		Cluster: &cluster.Config{Name: "drain", NATSURL: natsURL, NodeTimeout: drainNodeTimeout, Faults: faults}}
	cfg.Metrics.Off = true
	addrc := make(chan string, 1)
	srv, err := server.New(cfg, server.Options{Logger: log, Listening: func(a string) { addrc <- a }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	n := &drainNode{name: name, srv: srv, stop: stop, done: make(chan error, 1)}
	go func() { n.done <- srv.Serve(ctx, ln) }()
	select {
	case a := <-addrc:
		n.url = "ws://" + a + "/ws"
	case err := <-n.done:
		t.Fatalf("node %s: serve ended before listening: %v", name, err)
	}
	t.Cleanup(func() { n.drain(t) })
	return n
}

// drain shuts the node down as SIGTERM does and waits until Serve returned.
func (n *drainNode) drain(t *testing.T) {
	if n.draining.Swap(true) {
		return
	}
	n.stop()
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("node %s: serve: %v", n.name, err)
		}
	case <-time.After(routertest.Timeout):
		t.Errorf("node %s: not shut down after %s", n.name, routertest.Timeout)
	}
}

// others is how many other nodes n knows alive.
func (n *drainNode) others() int { return n.srv.Router().ClusterNodes() }

// joined records a session of the test on n.
func (n *drainNode) joined(c *clientlib.Client) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sessions = append(n.sessions, c.ID())
}

func dial(ctx context.Context, n *drainNode) (*clientlib.Client, error) {
	return clientlib.Connect(ctx, n.url, "realm1", clientlib.Options{Serializer: "msgpack"})
}

func drainConnect(t *testing.T, n *drainNode) *clientlib.Client {
	t.Helper()
	c, err := dial(routertest.Context(t), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// waitUntil polls cond until it holds, failing the test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond) // polls cond
	}
}

// waitFormed waits until each node knows all the others.
func waitFormed(t *testing.T, nodes ...*drainNode) {
	t.Helper()
	waitUntil(t, 20*time.Second, "the nodes see each other", func() bool {
		for _, n := range nodes {
			if n.others() != len(nodes)-1 {
				return false
			}
		}
		return true
	})
}

// wentAway reports whether err is the end of a session told to go by its
// node's shutdown.
func wentAway(c *clientlib.Client) bool {
	err := c.Err()
	return errors.Is(err, clientlib.ErrClosed) && strings.Contains(err.Error(), string(wamp.CloseSystemShutdown))
}

// TestDrainLongCall drains a node whose callee runs a call of a caller on
// another node: the call completes with its RESULT within shutdown_grace.
// Meanwhile the other node routes a new call of a procedure both nodes'
// callees share to its own callee, still routes a call the draining node's
// callee alone can answer there (and it is answered), and a caller on the
// draining node is refused; then the callee is told to go, and the other
// node drops the drained one at once (by its goodbye, not node_timeout).
func TestDrainLongCall(t *testing.T) {
	t.Parallel()
	natsURL := clustertest.StartNATS(t, clustertest.MaxPayload)
	a := startDrainNode(t, natsURL, "A", 10*time.Second)
	b := startDrainNode(t, natsURL, "B", 10*time.Second)
	waitFormed(t, a, b)

	ctx := routertest.Context(t)
	started, release := make(chan struct{}), make(chan struct{})
	calleeA, calleeB := drainConnect(t, a), drainConnect(t, b)
	register := func(c *clientlib.Client, proc, answer string, invoke wamp.InvokePolicy) {
		t.Helper()
		_, err := c.Register(ctx, proc, func(ctx context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
			if proc == "test.slow" {
				close(started)
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return &clientlib.Result{Args: []any{answer}}, nil
		}, &clientlib.RegisterOptions{Invoke: invoke})
		if err != nil {
			t.Fatal(err)
		}
	}
	register(calleeA, "test.slow", "slow done", "")
	register(calleeA, "test.only_a", "A", "")
	register(calleeA, "test.shared", "A", wamp.InvokeRandom)
	register(calleeB, "test.shared", "B", wamp.InvokeRandom)
	callerB, callerA := drainConnect(t, b), drainConnect(t, a)

	slow := make(chan error, 1)
	var slowResult *clientlib.Result
	go func() {
		var err error
		slowResult, err = callerB.Call(ctx, "test.slow", nil, nil, nil)
		slow <- err
	}()
	<-started
	go a.drain(t)
	waitUntil(t, dropDeadline, "node B applied node A's drain", func() bool { return clustertest.DrainingNodes(b.srv.Router()) == 1 })

	for i := range 10 {
		res, err := callerB.Call(ctx, "test.shared", nil, nil, nil)
		if err != nil || res.Args[0] != "B" {
			t.Fatalf("call %d of a shared procedure during A's drain: %v, %v (want B's callee)", i, res, err)
		}
	}
	if res, err := callerB.Call(ctx, "test.only_a", nil, nil, nil); err != nil || res.Args[0] != "A" {
		t.Fatalf("call of a procedure only A's callee has, during A's drain: %v, %v", res, err)
	}
	var rpcErr *wamp.RPCError
	if _, err := callerA.Call(ctx, "test.shared", nil, nil, nil); !errors.As(err, &rpcErr) || rpcErr.URI != wamp.ErrCanceled {
		t.Fatalf("call of a caller on the draining node: %v, want %s", err, wamp.ErrCanceled)
	}
	select {
	case err := <-slow:
		t.Fatalf("the long call ended before its callee answered: %v", err)
	default:
	}
	close(release)
	if err := <-slow; err != nil || slowResult.Args[0] != "slow done" {
		t.Fatalf("long call in flight during the drain: %v, %v", slowResult, err)
	}
	select {
	case <-calleeA.Done():
	case <-ctx.Done():
		t.Fatal("the draining node's callee was not told to go")
	}
	if !wentAway(calleeA) {
		t.Errorf("the callee's session ended with %v, want GOODBYE %s", calleeA.Err(), wamp.CloseSystemShutdown)
	}
	waitUntil(t, dropDeadline, "node B dropped the drained node A (by its goodbye)", func() bool { return b.others() == 0 })
}

// rolling is a cluster restarted one node at a time while callers call a
// procedure that callees on every node share.
type rolling struct {
	nats   string // the NATS server's URL
	policy wamp.InvokePolicy
	quit   chan struct{} // closed to stop the callers
	// calleesQuit is closed to stop the callees, once the callers stopped.
	calleesQuit chan struct{}
	callers     sync.WaitGroup
	wg          sync.WaitGroup

	mu    sync.Mutex
	nodes []*drainNode // live or draining, oldest first

	answered, refused atomic.Int64 // calls answered; calls of callers on a draining node that failed
	failMu            sync.Mutex
	failures          []string // calls of callers on other nodes that failed
}

const rollingProcedure = "test.rolling"

// place picks the node a client (re)connects to: of the nodes not
// draining, the one with the fewest of the test's callees, the newest on a
// tie, and counts the callee there at once, so that callees moving
// together spread (the drained node is the oldest: it never holds every
// callee, and a call of a caller elsewhere always has a callee that stays).
func (r *rolling) place(callee bool) *drainNode {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *drainNode
	bestCallees := 0
	for _, n := range r.nodes {
		if n.draining.Load() {
			continue
		}
		if callees := n.localCallees(); best == nil || callees <= bestCallees {
			best, bestCallees = n, callees
		}
	}
	if best != nil && callee {
		best.mu.Lock()
		best.callees++
		best.mu.Unlock()
	}
	return best
}

// join connects a client to a node that is not draining, retrying while
// the one it picked starts draining.
func (r *rolling) join(callee bool, at *drainNode) (*clientlib.Client, *drainNode, bool) {
	quit := r.quit
	if callee {
		quit = r.calleesQuit
	}
	for {
		n := at
		if n == nil {
			n = r.place(callee)
		}
		at = nil
		if n == nil {
			r.fail("no node to connect to: all drain")
			return nil, nil, false
		}
		ctx, cancel := context.WithTimeout(context.Background(), routertest.Timeout)
		c, err := dial(ctx, n)
		cancel()
		if err == nil {
			n.joined(c)
			return c, n, true
		}
		if !n.draining.Load() {
			r.fail("connecting to node %s, which does not drain: %v", n.name, err)
			return nil, nil, false
		}
		select {
		case <-quit:
			return nil, nil, false
		default:
		}
	}
}

func (r *rolling) fail(format string, args ...any) {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// callee registers rollingProcedure, and again on another node each time
// its node tells it to go, until the test ends.
func (r *rolling) callee(name string, first *drainNode) {
	defer r.wg.Done()
	for {
		c, n, ok := r.join(true, first)
		first = nil
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), routertest.Timeout)
		_, err := c.Register(ctx, rollingProcedure, func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
			return &clientlib.Result{Args: []any{inv.Args[0], name}}, nil
		}, &clientlib.RegisterOptions{Invoke: r.policy})
		cancel()
		if err != nil && !n.draining.Load() {
			r.fail("callee %s registering on node %s: %v", name, n.name, err)
		}
		select {
		case <-c.Done():
			if !wentAway(c) {
				r.fail("callee %s on node %s: session ended with %v, want GOODBYE %s", name, n.name, c.Err(), wamp.CloseSystemShutdown)
			}
		case <-r.calleesQuit:
			_ = c.Close(context.Background())
			return
		}
	}
}

// caller calls rollingProcedure at most calls times, until the test ends,
// moving to another node when its own drains.
func (r *rolling) caller(name string, calls int) {
	defer r.callers.Done()
	var c *clientlib.Client
	var n *drainNode
	defer func() {
		if c != nil {
			_ = c.Close(context.Background())
		}
	}()
	for i := range calls {
		select {
		case <-r.quit:
			return
		default:
		}
		if c == nil || c.Err() != nil {
			var ok bool
			if c, n, ok = r.join(false, nil); !ok {
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), routertest.Timeout)
		res, err := c.Call(ctx, rollingProcedure, []any{i}, nil, nil)
		cancel()
		switch {
		case err != nil && n.draining.Load():
			r.refused.Add(1) // its own node drains: refused, or its session ended
		case err != nil:
			r.fail("caller %s on node %s, which does not drain: call %d: %v", name, n.name, i, err)
		default:
			if got, _ := wamp.AsInt(res.Args[0]); got != int64(i) {
				r.fail("caller %s: call %d answered %v", name, i, res.Args)
			}
			r.answered.Add(1)
		}
	}
}

// TestRollingRestart drains each node of a 3-node cluster in turn and
// replaces it with a new one, while callers call a procedure callees on
// every node share: no call of a caller on another node than the draining
// one fails, every session of a drained node gets on_leave once, and the
// other nodes drop a drained node by its goodbye, well before
// node_timeout.
func TestRollingRestart(t *testing.T) {
	t.Parallel()
	natsURL := clustertest.StartNATS(t, clustertest.MaxPayload)
	r := &rolling{nats: natsURL, policy: wamp.InvokeRoundRobin, quit: make(chan struct{}), calleesQuit: make(chan struct{})}
	for i := range 3 {
		r.nodes = append(r.nodes, startDrainNode(t, natsURL, fmt.Sprint("N", i), 10*time.Second))
	}
	waitFormed(t, r.nodes...)
	for i, n := range r.nodes {
		n.callees++
		r.wg.Add(1)
		go r.callee(fmt.Sprint("callee", i), n)
	}
	waitUntil(t, 20*time.Second, "every node routes to the 3 callees", func() bool {
		for _, n := range r.nodes {
			if clustertest.RemoteCallees(n.srv.Router(), "realm1", rollingProcedure)+n.localCallees() != 3 {
				return false
			}
		}
		return true
	})
	for i := range 3 {
		r.callers.Add(1)
		go r.caller(fmt.Sprint("caller", i), 100_000)
	}
	defer func() { // the callers, then the callees, stop before the nodes do
		close(r.quit)
		r.callers.Wait()
		close(r.calleesQuit)
		r.wg.Wait()
	}()
	for step := range 3 {
		r.restartOldest(t, step)
	}
	r.failMu.Lock()
	defer r.failMu.Unlock()
	for _, f := range r.failures {
		t.Error(f)
	}
	t.Logf("calls answered %d; calls of callers on a draining node refused or ended %d", r.answered.Load(), r.refused.Load())
}

// localCallees is the number of the test's callees on n.
func (n *drainNode) localCallees() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.callees
}

// restartOldest drains the oldest node and replaces it with a new one, and
// checks that the other nodes drop it by its goodbye and that a watcher on
// another node sees on_leave once for each of its sessions.
func (r *rolling) restartOldest(t *testing.T, step int) {
	r.mu.Lock()
	old, rest := r.nodes[0], slices.Clone(r.nodes[1:])
	r.mu.Unlock()
	before := r.answered.Load()
	waitUntil(t, 20*time.Second, "calls are answered", func() bool { return r.answered.Load() >= before+50 })

	ctx := routertest.Context(t)
	watcher := drainConnect(t, rest[0])
	var mu sync.Mutex
	left, marked := map[wamp.ID]int{}, map[string]bool{}
	if _, err := watcher.Subscribe(ctx, "wamp.session.on_leave", func(ev *clientlib.Event) {
		id, _ := wamp.AsID(ev.Args[0])
		mu.Lock()
		left[id]++
		mu.Unlock()
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := watcher.Subscribe(ctx, "test.marker", func(ev *clientlib.Event) {
		mu.Lock()
		marked[fmt.Sprint(ev.Args[0])] = true
		mu.Unlock()
	}, nil); err != nil {
		t.Fatal(err)
	}

	old.drain(t)
	waitUntil(t, dropDeadline, "the other nodes drop node "+old.name+" by its goodbye (node_timeout is 30s)", func() bool {
		for _, n := range rest {
			if n.others() != len(rest)-1 {
				return false
			}
		}
		return true
	})
	fresh := startDrainNode(t, r.nats, fmt.Sprint("N", step+3), 10*time.Second)
	waitFormed(t, append(rest, fresh)...)
	// Clients move to the new node once it routes to every callee (they
	// have all registered again elsewhere by now).
	waitUntil(t, 20*time.Second, "the new node routes to the 3 callees", func() bool {
		return clustertest.RemoteCallees(fresh.srv.Router(), "realm1", rollingProcedure) == 3
	})
	r.mu.Lock()
	r.nodes = append(rest, fresh)
	r.mu.Unlock()

	// Each node that dropped the old one did so before it heard of the new
	// one: a publication from it now reaches the watcher after any
	// on_leave it published for the old node's sessions.
	for _, n := range rest {
		p := drainConnect(t, n)
		if err := p.Publish(ctx, "test.marker", []any{n.name}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
		_ = p.Close(ctx)
	}
	waitUntil(t, 20*time.Second, "the watcher has every node's marker", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(marked) == len(rest)
	})
	mu.Lock()
	defer mu.Unlock()
	old.mu.Lock()
	defer old.mu.Unlock()
	for _, id := range old.sessions {
		if left[id] != 1 {
			t.Errorf("step %d: session %d of drained node %s: on_leave %d times, want once", step, id, old.name, left[id])
		}
	}
	for id, times := range left {
		if times > 1 {
			t.Errorf("step %d: session %d: on_leave %d times", step, id, times)
		}
	}
	_ = watcher.Close(ctx)
}
