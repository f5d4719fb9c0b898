package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/viper"

	"github.com/junction-wamp/junction/config"
	"github.com/junction-wamp/junction/testsuite"
)

// The tests of this file run the cluster of examples/cluster as it is meant
// to be run: three junction processes, each with its embedded NATS server,
// routed to one another.

// clusterWait bounds every wait of the cluster tests: a healthy run needs a
// fraction of it; past it the test fails with what it was waiting for.
const clusterWait = 30 * time.Second

// clusterNodeTimeout is the [cluster] node_timeout the processes get, so
// that a killed node is dropped within the test.
const clusterNodeTimeout = "2s"

const (
	errNoSuchProcedure = "wamp.error.no_such_procedure"
	errCanceled        = "wamp.error.canceled"
)

// TestClusterOfThreeProcesses runs examples/cluster as three junction
// processes (the example configs, each port moved to one free at test time,
// node_timeout 2s) and checks, with Junction's client and the nexus client:
//
//   - a call from node 1 to a callee on node 2;
//   - an event published on node 1, received once on node 3;
//   - node 2 killed (SIGKILL) while its callee handles a call from node 1:
//     the call fails with wamp.error.canceled, the callee's testament is
//     published once to a subscriber on node 3, and its procedure is gone;
//   - node 2 restarted with the same config: the cluster takes it back
//     without restarting nodes 1 and 3: its nexus callee is callable from
//     node 1, and calls go between every two nodes.
func TestClusterOfThreeProcesses(t *testing.T) {
	t.Parallel()
	bin, root := buildJunction(t)
	configs := clusterConfigs(t, root)
	var nodes [3]*clusterProc
	for i := range nodes {
		nodes[i] = startClusterProc(t, bin, fmt.Sprintf("node %d", i+1), configs[i])
	}
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	ours, nexus := testsuite.ClientlibDriver{}, testsuite.NexusDriver{}

	t.Log("a. a nexus callee on node 2, called from node 1 with clientlib")
	caller1 := clusterClient(t, ours, n1, "json")
	callee2 := clusterClient(t, nexus, n2, "msgpack")
	release := make(chan struct{})       // ends the blocked handler of step c
	t.Cleanup(func() { close(release) }) // before callee2 is closed
	clusterRegister(t, callee2, "com.example.add2", func(_ context.Context, inv testsuite.Invocation) ([]any, map[string]any, error) {
		var sum float64
		for _, a := range inv.Args {
			x, ok := clusterNumber(a)
			if !ok {
				return nil, nil, &testsuite.CallError{URI: "wamp.error.invalid_argument", Args: []any{fmt.Sprintf("%v (%T)", a, a)}}
			}
			sum += x
		}
		return []any{sum}, map[string]any{"served_by": "node 2"}, nil
	})
	// The cluster forms as the embedded NATS servers find their routes and
	// the nodes their heartbeats: until node 1 knows node 2's callee, the
	// call answers no_such_procedure.
	args, kwargs := clusterCallWhenRegistered(t, caller1, "node 1", "com.example.add2", []any{2, 3})
	if len(args) != 1 || kwargs["served_by"] != "node 2" {
		t.Fatalf("add2(2, 3) from node 1: args %v kwargs %v, want [5] served by node 2", args, kwargs)
	}
	if x, ok := clusterNumber(args[0]); !ok || x != 5 {
		t.Fatalf("add2(2, 3) from node 1: %v (%T), want 5", args[0], args[0])
	}

	// Every node knows every other before the next steps: each node's
	// probe answers from both others. Subscriptions, registrations and
	// testaments are confirmed by the nodes known when they are made, so
	// from now on what a client was told holds on every node.
	other3 := clusterClient(t, ours, n3, "cbor")
	clusterMesh(t, "formed", map[string]testsuite.Client{"node 1": caller1, "node 2": clusterClient(t, ours, n2, "json"), "node 3": other3})

	t.Log("b. an event published on node 1 (acknowledged) reaches a nexus subscriber on node 3 once")
	sub3 := clusterClient(t, nexus, n3, "json")
	events := clusterSubscribe(t, sub3, "com.example.news")
	clusterPublish(t, caller1, "com.example.news", "hello from node 1")
	// The marker follows the event from node 1 to node 3 (NATS keeps one
	// sender's order, each node its subscribers'): when it is in, a second
	// copy of the event would be too.
	clusterPublish(t, caller1, "com.example.news", "marker 1")
	got := events.waitFor(t, "the marker on node 3", func(evs []string) bool { return slices.Contains(evs, "marker 1") })
	if want := []string{"hello from node 1", "marker 1"}; !slices.Equal(got, want) {
		t.Fatalf("events on node 3: %q, want %q", got, want)
	}

	t.Log("c. node 2 killed while its callee handles a call from node 1")
	started := make(chan struct{}, 1)
	clusterRegister(t, callee2, "com.example.slow", func(ctx context.Context, _ testsuite.Invocation) ([]any, map[string]any, error) {
		select {
		case started <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
		case <-release:
		}
		return nil, nil, &testsuite.CallError{URI: "com.example.released"}
	})
	clusterCall(t, callee2, "node 2", "wamp.session.add_testament", []any{"com.example.gone", []any{"node 2 is gone"}})
	testaments := clusterSubscribe(t, other3, "com.example.gone")
	called := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*clusterWait) // the test gives up first
		defer cancel()
		_, _, err := caller1.Call(ctx, "com.example.slow", nil, nil, testsuite.CallOptions{})
		called <- err
	}()
	select {
	case <-started:
	case err := <-called:
		t.Fatalf("the call from node 1 ended before node 2's handler ran: %v", err)
	case <-time.After(clusterWait):
		t.Fatalf("node 2's handler not invoked %s after the call from node 1", clusterWait)
	}
	n2.kill(t)
	select {
	case err := <-called:
		if !clusterIsError(err, errCanceled) {
			t.Fatalf("the call in flight to killed node 2 ended with %v, want %s", err, errCanceled)
		}
	case <-time.After(clusterWait):
		t.Fatalf("the call in flight to killed node 2 still pending %s after the kill (node_timeout %s)", clusterWait, clusterNodeTimeout)
	}
	testaments.waitFor(t, "node 2's testament on node 3", func(evs []string) bool { return len(evs) > 0 })
	if _, _, err := caller1.Call(clusterContext(t), "com.example.slow", nil, nil, testsuite.CallOptions{}); !clusterIsError(err, errNoSuchProcedure) {
		t.Fatalf("calling killed node 2's procedure from node 1: %v, want %s", err, errNoSuchProcedure)
	}
	// Exactly once: the testament is published by one surviving node, before
	// that node drops the callee's registration. Once node 3 has dropped it
	// too, a marker from each survivor comes after any copy of it.
	clusterPoll(t, "node 3 drops node 2's procedure", func() (bool, error) {
		_, _, err := clusterTryCall(other3, "com.example.slow", nil)
		switch {
		case clusterIsError(err, errNoSuchProcedure):
			return true, nil
		case clusterIsError(err, errCanceled): // routed to node 2 just before node 3 dropped it
			return false, nil
		}
		return false, fmt.Errorf("calling killed node 2's procedure from node 3: %v", err)
	})
	clusterPublish(t, caller1, "com.example.gone", "marker 1")
	clusterPublish(t, sub3, "com.example.gone", "marker 3") // not other3, the subscriber: exclude_me
	got = testaments.waitFor(t, "both markers on node 3", func(evs []string) bool {
		return slices.Contains(evs, "marker 1") && slices.Contains(evs, "marker 3")
	})
	slices.Sort(got)
	if want := []string{"marker 1", "marker 3", "node 2 is gone"}; !slices.Equal(got, want) {
		t.Fatalf("events on node 3's testament topic: %q, want %q (the testament exactly once)", got, want)
	}

	t.Log("d. node 2 restarted with the same config")
	n2 = startClusterProc(t, bin, "node 2 (restarted)", configs[1])
	callee2 = clusterClient(t, nexus, n2, "cbor")
	clusterRegister(t, callee2, "com.example.slow", func(context.Context, testsuite.Invocation) ([]any, map[string]any, error) {
		return []any{"node 2 is back"}, nil, nil
	})
	if args, _ := clusterCallWhenRegistered(t, caller1, "node 1", "com.example.slow", nil); !slices.Equal(args, []any{"node 2 is back"}) {
		t.Fatalf("the restarted node 2's procedure from node 1: %v", args)
	}
	// Calls between every two nodes, the restarted one included; node 2's
	// probe is a nexus callee called from both others (the nexus client
	// drops an INVOCATION whose request id is below one it has seen, so
	// this also checks that a callee's ids increase across callers' nodes).
	clusterMesh(t, "reformed", map[string]testsuite.Client{"node 1": caller1, "node 2": clusterClient(t, nexus, n2, "msgpack"), "node 3": other3})
	for _, p := range []*clusterProc{n1, n3} {
		select {
		case <-p.exited:
			t.Fatalf("%s exited (%v):\n%s", p.name, p.waitErr, p.out)
		default:
		}
	}
	// The sessions of nodes 1 and 3 lived through it all.
	for name, c := range map[string]testsuite.Client{"node 1": caller1, "node 3 (clientlib)": other3, "node 3 (nexus)": sub3} {
		select {
		case <-c.Done():
			t.Fatalf("the session on %s ended", name)
		default:
		}
	}
}

// buildJunction builds cmd/junction into a temporary directory and returns
// the binary and the module's root.
func buildJunction(t *testing.T) (bin, root string) {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		clusterCannotRun(t, "the go command is not on PATH to build cmd/junction: %v", err)
	}
	out, err := exec.Command(goCmd, "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		clusterCannotRun(t, "go env GOMOD: %q, %v: not in the module", gomod, err)
	}
	root = filepath.Dir(gomod)
	bin = filepath.Join(t.TempDir(), "junction")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command(goCmd, "build", "-o", bin, "./cmd/junction")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/junction: %v\n%s", err, out)
	}
	return bin, root
}

// clusterCannotRun skips the test, or fails it in CI, where the test must run.
func clusterCannotRun(t *testing.T, format string, args ...any) {
	t.Helper()
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	if ci || (err != nil && os.Getenv("CI") != "") { // CI=true, CI=1, CI=yes...; not CI=false
		t.Fatalf("cannot run the cluster test (CI is set, so it may not be skipped): "+format, args...)
	}
	t.Skipf("cannot run the cluster test: "+format, args...)
}

// clusterAddr matches a host:port or nats://host:port value of a config.
var clusterAddr = regexp.MustCompile(`^(nats://|nats-route://)?([^:/]+):([0-9]+)$`)

// clusterConfigs writes the example configs of examples/cluster with each
// port replaced by one free now (the same port everywhere it appears, so
// the routes still name the other nodes) and node_timeout shortened, and
// returns their paths.
func clusterConfigs(t *testing.T, root string) []string {
	t.Helper()
	var vs []*viper.Viper
	var ports []string
	for i := 1; i <= 3; i++ {
		v := viper.New()
		v.SetConfigFile(filepath.Join(root, "examples", "cluster", fmt.Sprintf("node%d.toml", i)))
		if err := v.ReadInConfig(); err != nil {
			t.Fatal(err)
		}
		for _, key := range v.AllKeys() {
			clusterMapAddrs(v.Get(key), func(addr []string) string {
				if addr[2] != "127.0.0.1" {
					t.Errorf("node%d.toml: %s = %q: the example cluster should listen on 127.0.0.1 only", i, key, addr[0])
				}
				if !slices.Contains(ports, addr[3]) {
					ports = append(ports, addr[3])
				}
				return addr[0]
			})
		}
		vs = append(vs, v)
	}
	if len(ports) != 12 {
		t.Fatalf("the example configs name ports %v; want 4 per node (server, NATS clients, NATS routes, direct path)", ports)
	}
	free := clusterFreePorts(t, len(ports))
	dir := t.TempDir()
	var paths []string
	for i, v := range vs {
		for _, key := range v.AllKeys() {
			v.Set(key, clusterMapAddrs(v.Get(key), func(addr []string) string {
				return fmt.Sprintf("%s127.0.0.1:%d", addr[1], free[slices.Index(ports, addr[3])])
			}))
		}
		v.Set("cluster.node_timeout", clusterNodeTimeout)
		v.Set("log.format", "text") // the default; the "junction listening" line is read as text
		path := filepath.Join(dir, fmt.Sprintf("node%d.toml", i+1))
		if err := v.WriteConfigAs(path); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path)
		if err != nil {
			t.Fatalf("the config derived from node%d.toml: %v", i+1, err)
		}
		if c.Cluster == nil || !c.Cluster.Embedded || c.Cluster.NodeTimeout != 2*time.Second || len(c.Cluster.Routes) != 2 {
			t.Fatalf("the config derived from node%d.toml: cluster %+v", i+1, c.Cluster)
		}
		paths = append(paths, path)
	}
	return paths
}

// clusterMapAddrs returns val (a config value) with each address in it
// replaced by f(its submatches of clusterAddr).
func clusterMapAddrs(val any, f func(addr []string) string) any {
	switch v := val.(type) {
	case string:
		if m := clusterAddr.FindStringSubmatch(v); m != nil {
			return f(m)
		}
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = clusterMapAddrs(e, f)
		}
		return out
	case []string:
		out := make([]string, len(v))
		for i, e := range v {
			out[i] = clusterMapAddrs(e, f).(string)
		}
		return out
	}
	return val
}

// clusterFreePorts returns n distinct ports free on 127.0.0.1 now. They are
// chosen at random below the ephemeral port ranges (32768-60999 on Linux,
// 49152-65535 on macOS and Windows), where the kernel never hands a port
// out on its own: neither another test's listener on port 0 nor an
// outgoing connection can take one before the junction process binds it,
// or while node 2 is down.
func clusterFreePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries == 1000 {
			t.Fatalf("found %d free ports in 20000-32767 out of %d", len(out), n)
		}
		p := 20000 + rand.IntN(32768-20000)
		if slices.Contains(out, p) {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		_ = ln.Close()
		out = append(out, p)
	}
	return out
}

// clusterProc is a junction process the test started.
type clusterProc struct {
	name    string
	cmd     *exec.Cmd
	out     *procOutput
	addr    string        // where it accepts WebSocket connections
	exited  chan struct{} // closed when it has exited
	waitErr error         // how, once exited is closed
}

// procOutput collects a process's stdout and stderr, and reports the
// address of its "junction listening" line.
type procOutput struct {
	mu      sync.Mutex
	b       bytes.Buffer
	scanned int
	addr    chan string
}

var listeningAddr = regexp.MustCompile(`msg="junction listening" addr=(\S+)`)

func (o *procOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.b.Write(p)
	for {
		line, _, ok := bytes.Cut(o.b.Bytes()[o.scanned:], []byte("\n"))
		if !ok {
			break
		}
		o.scanned += len(line) + 1
		if m := listeningAddr.FindSubmatch(line); m != nil {
			select {
			case o.addr <- string(m[1]):
			default:
			}
		}
	}
	return len(p), nil
}

func (o *procOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// startClusterProc starts junction with config and waits until it listens.
// It is stopped (SIGTERM, then SIGKILL) when the test ends.
func startClusterProc(t *testing.T, bin, name, config string) *clusterProc {
	t.Helper()
	cmd := exec.Command(bin, "--config", config)
	for _, kv := range os.Environ() { // no JUNCTION_* variable may change the config
		if !strings.HasPrefix(kv, "JUNCTION_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	p := &clusterProc{name: name, cmd: cmd, out: &procOutput{addr: make(chan string, 1)}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out // drained by exec's goroutines until the process exits
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s (pid %d) output:\n%s", p.name, cmd.Process.Pid, p.out)
		}
	})
	select {
	case p.addr = <-p.out.addr:
	case <-p.exited:
		t.Fatalf("%s exited before listening (%v):\n%s", name, p.waitErr, p.out)
	case <-time.After(clusterWait):
		t.Fatalf("%s not listening after %s:\n%s", name, clusterWait, p.out)
	}
	if !strings.Contains(p.out.String(), `msg="cluster node started"`) {
		t.Fatalf("%s listens without having joined a cluster:\n%s", name, p.out)
	}
	t.Logf("%s: pid %d, ws://%s/ws", name, cmd.Process.Pid, p.addr)
	return p
}

// kill sends SIGKILL to the process and waits until it is gone.
func (p *clusterProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s (pid %d): %v", p.name, p.cmd.Process.Pid, err)
	}
	select {
	case <-p.exited:
	case <-time.After(clusterWait):
		t.Fatalf("%s (pid %d) still running %s after SIGKILL", p.name, p.cmd.Process.Pid, clusterWait)
	}
}

// stop ends the process, if it is still running: SIGTERM, and SIGKILL
// if it has not exited within its shutdown grace (10s) and some.
func (p *clusterProc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
		return
	case <-time.After(15 * time.Second):
	}
	t.Errorf("%s (pid %d) did not stop on SIGTERM; killed", p.name, p.cmd.Process.Pid)
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(clusterWait):
		t.Errorf("%s (pid %d) still running after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// clusterClient connects a client of driver d to realm1 of p's node; it is
// closed when the test ends.
func clusterClient(t *testing.T, d testsuite.Driver, p *clusterProc, serializer string) testsuite.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	c, err := d.Connect(ctx, testsuite.Target{URL: "ws://" + p.addr + "/ws", Realm: "realm1"}, serializer, false)
	if err != nil {
		t.Fatalf("connecting a %s client to %s: %v", d.Name(), p.name, err)
	}
	t.Cleanup(func() {
		closed := make(chan struct{})
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Close(ctx)
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(clusterWait):
			t.Errorf("closing the %s client of %s did not return in %s", d.Name(), p.name, clusterWait)
		}
	})
	return c
}

func clusterContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	t.Cleanup(cancel)
	return ctx
}

func clusterRegister(t *testing.T, c testsuite.Client, procedure string, h testsuite.Handler) {
	t.Helper()
	if _, err := c.Register(clusterContext(t), procedure, h, testsuite.RegisterOptions{}); err != nil {
		t.Fatalf("registering %s: %v", procedure, err)
	}
}

func clusterCall(t *testing.T, c testsuite.Client, node, procedure string, args []any) []any {
	t.Helper()
	res, _, err := c.Call(clusterContext(t), procedure, args, nil, testsuite.CallOptions{})
	if err != nil {
		t.Fatalf("calling %s from %s: %v", procedure, node, err)
	}
	return res
}

// clusterTryCall calls procedure, for at most clusterWait.
func clusterTryCall(c testsuite.Client, procedure string, args []any) ([]any, map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	return c.Call(ctx, procedure, args, nil, testsuite.CallOptions{})
}

// clusterCallWhenRegistered calls procedure from c (on node) until it no
// longer answers no_such_procedure, and returns the first answer.
func clusterCallWhenRegistered(t *testing.T, c testsuite.Client, node, procedure string, args []any) ([]any, map[string]any) {
	t.Helper()
	var res []any
	var kwargs map[string]any
	clusterPoll(t, procedure+" callable from "+node, func() (bool, error) {
		var err error
		res, kwargs, err = clusterTryCall(c, procedure, args)
		if clusterIsError(err, errNoSuchProcedure) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("calling %s from %s: %v", procedure, node, err)
		}
		return true, nil
	})
	return res, kwargs
}

// clusterMesh waits until each node of nodes (a session on each, by node
// name) routes calls to each other node and back: each registers a probe
// (its URI names round), called from every other node.
func clusterMesh(t *testing.T, round string, nodes map[string]testsuite.Client) {
	t.Helper()
	probe := func(name string) string {
		return "com.example.probe." + round + "." + strings.ReplaceAll(name, " ", "_")
	}
	for name, c := range nodes {
		clusterRegister(t, c, probe(name), func(context.Context, testsuite.Invocation) ([]any, map[string]any, error) {
			return []any{name}, nil, nil
		})
	}
	for name := range nodes {
		for from, c := range nodes {
			if from == name {
				continue
			}
			if args, _ := clusterCallWhenRegistered(t, c, from, probe(name), nil); !slices.Equal(args, []any{name}) {
				t.Fatalf("%s's probe called from %s answered %v", name, from, args)
			}
		}
	}
}

// clusterPoll calls cond until it is true, failing the test on its error or
// when it stays false for clusterWait.
func clusterPoll(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(clusterWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", clusterWait, what)
		}
		<-tick.C
	}
}

func clusterIsError(err error, uri string) bool {
	var ce *testsuite.CallError
	return errors.As(err, &ce) && ce.URI == uri
}

// clusterPublish publishes text to topic, acknowledged.
func clusterPublish(t *testing.T, c testsuite.Client, topic, text string) {
	t.Helper()
	if err := c.Publish(clusterContext(t), topic, []any{text}, nil, testsuite.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatalf("publishing %q to %s: %v", text, topic, err)
	}
}

// clusterEvents are the events of a subscription: their first argument, in
// the order received.
type clusterEvents struct {
	mu      sync.Mutex
	got     []string
	changed chan struct{} // closed at the next event
}

func clusterSubscribe(t *testing.T, c testsuite.Client, topic string) *clusterEvents {
	t.Helper()
	e := &clusterEvents{changed: make(chan struct{})}
	h := func(ev testsuite.Event) {
		e.mu.Lock()
		defer e.mu.Unlock()
		s := fmt.Sprint(ev.Args)
		if len(ev.Args) == 1 {
			s = fmt.Sprint(ev.Args[0])
		}
		e.got = append(e.got, s)
		close(e.changed)
		e.changed = make(chan struct{})
	}
	if _, err := c.Subscribe(clusterContext(t), topic, h, testsuite.SubscribeOptions{}); err != nil {
		t.Fatalf("subscribing to %s: %v", topic, err)
	}
	return e
}

// waitFor waits until cond holds for the events received, and returns them.
func (e *clusterEvents) waitFor(t *testing.T, what string, cond func([]string) bool) []string {
	t.Helper()
	timeout := time.After(clusterWait)
	for {
		e.mu.Lock()
		got, changed := slices.Clone(e.got), e.changed
		e.mu.Unlock()
		if cond(got) {
			return got
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("timed out after %s waiting for %s; received %q", clusterWait, what, got)
		}
	}
}

// clusterNumber is x as a float64, whatever number type a serializer
// decoded it to.
func clusterNumber(x any) (float64, bool) {
	if n, ok := x.(interface{ Float64() (float64, error) }); ok { // json.Number
		f, err := n.Float64()
		return f, err == nil
	}
	v := reflect.ValueOf(x)
	switch {
	case !v.IsValid():
		return 0, false
	case v.CanInt():
		return float64(v.Int()), true
	case v.CanUint():
		return float64(v.Uint()), true
	case v.CanFloat():
		return v.Float(), true
	}
	return 0, false
}
