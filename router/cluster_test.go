package router

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// captureBus records what a node sends.
type captureBus struct {
	id   string
	mu   sync.Mutex
	sent [][]byte
}

func (b *captureBus) ID() string                   { return b.id }
func (b *captureBus) NodeTimeout() time.Duration   { return time.Second }
func (b *captureBus) Silence(string) time.Duration { return 0 }
func (b *captureBus) Send(_ string, data []byte) error {
	b.mu.Lock()
	b.sent = append(b.sent, data)
	b.mu.Unlock()
	return nil
}
func (b *captureBus) SendAll(to []string, data []byte, _ time.Duration, done func(error)) {
	for _, id := range to {
		_ = b.Send(id, data)
	}
	done(nil)
}

// TestSnapshotInParts: a snapshot larger than one part arrives whole.
func TestSnapshotInParts(t *testing.T) {
	defer func(n int) { snapshotPart = n }(snapshotPart)
	snapshotPart = 3
	a := newTestRouter(t, Config{})
	busA := &captureBus{id: "000000000000000a"}
	a.AttachCluster(busA)
	for i := range 5 {
		p, _ := join(t, a, "json")
		register(t, p, 1, wamp.URI("com.example.p"+string(rune('0'+i))))
	}
	a.link.Load().nodeUp("000000000000000b")
	busA.mu.Lock()
	parts := busA.sent
	busA.mu.Unlock()
	if len(parts) < 4 { // 5 joins and 5 registrations in parts of 3
		t.Fatalf("snapshot sent in %d messages", len(parts))
	}
	b := newTestRouter(t, Config{})
	hb := b.AttachCluster(&captureBus{id: "000000000000000b"})
	for i, data := range parts {
		hb.Deliver("000000000000000a", data)
		if n := b.remoteRegistrations("realm1"); i < len(parts)-1 && n != 0 {
			t.Fatalf("part %d applied before the snapshot was whole (%d registrations)", i, n)
		}
	}
	if n := b.remoteRegistrations("realm1"); n != 5 {
		t.Fatalf("%d remote registrations after the snapshot, want 5", n)
	}
	if n := b.realm("realm1").SessionCount(); n != 5 {
		t.Fatalf("%d sessions after the snapshot, want 5", n)
	}
}

// queueBus connects test routers: what a node sends waits in a queue
// shared by all of them until the test pumps it, and can be dropped on the
// way (drop), as a lost cluster message.
type queueBus struct {
	id string
	q  *busQueue
}

type busQueue struct {
	// hold, if set, is called by Send before it queues a message, outside
	// the lock: a test holds a message up there.
	hold     func(from string, data []byte)
	mu       sync.Mutex
	msgs     []busMsg
	dropFrom string // messages of this node are lost ("": none)
	dropped  int
	handlers map[string]*ClusterHandler
}

type busMsg struct {
	from, to string
	data     []byte
}

func (b *queueBus) ID() string                   { return b.id }
func (b *queueBus) NodeTimeout() time.Duration   { return time.Second }
func (b *queueBus) Silence(string) time.Duration { return 0 }
func (b *queueBus) Send(to string, data []byte) error {
	if b.q.hold != nil {
		b.q.hold(b.id, data)
	}
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	if b.q.dropFrom == b.id {
		b.q.dropped++
		return nil
	}
	b.q.msgs = append(b.q.msgs, busMsg{b.id, to, data})
	return nil
}
func (b *queueBus) SendAll(to []string, data []byte, _ time.Duration, done func(error)) {
	for _, id := range to {
		_ = b.Send(id, data)
	}
	done(nil)
}

// The ids of the two nodes pair makes.
const idA, idB = "000000000000000a", "000000000000000b"

// pair makes two routers nodes of one cluster over q, each holding the
// other's state.
func pair(t *testing.T, q *busQueue) (a, b *Router) {
	a, b = newTestRouter(t, Config{}), newTestRouter(t, Config{})
	q.handlers[idA] = a.AttachCluster(&queueBus{id: idA, q: q})
	q.handlers[idB] = b.AttachCluster(&queueBus{id: idB, q: q})
	q.handlers[idA].NodeUp(idB)
	q.handlers[idB].NodeUp(idA)
	q.pump()
	return a, b
}

// waitQueued waits until a message is queued (sent from another
// goroutine).
func (q *busQueue) waitQueued(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		q.mu.Lock()
		n := len(q.msgs)
		q.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing was sent")
		}
		runtime.Gosched()
	}
}

// pump delivers the queued messages, and those their delivery queues, in
// order.
func (q *busQueue) pump() {
	for {
		q.mu.Lock()
		if len(q.msgs) == 0 {
			q.mu.Unlock()
			return
		}
		m := q.msgs[0]
		q.msgs = q.msgs[1:]
		h := q.handlers[m.to]
		q.mu.Unlock()
		h.Deliver(m.from, m.data)
	}
}

// TestDigestsRepairDivergence: changes of node A that node B never
// received (lost whatever the links did), in both directions (B lacks a
// session and its registration; B keeps ones that are gone), are found by
// the digests A sends every repair interval and repaired by a snapshot
// after two that differ.
func TestDigestsRepairDivergence(t *testing.T) {
	q := &busQueue{handlers: map[string]*ClusterHandler{}}
	a, b := pair(t, q)
	stay, _ := join(t, a, "json")
	register(t, stay, 1, "com.example.stays")
	q.pump()
	if n := b.remoteRegistrations("realm1"); n != 1 {
		t.Fatalf("B holds %d of A's registrations, want 1", n)
	}

	repairs := func() {
		t.Helper()
		before := b.Stats().ClusterResyncs.Load()
		q.handlers[idA].Repair() // a digest that differs
		q.pump()
		if n := b.Stats().ClusterResyncs.Load(); n != before {
			t.Fatalf("B asked for a snapshot after one digest that differed (%d)", n)
		}
		q.handlers[idA].Repair() // a second one: B asks for A's snapshot
		q.pump()
	}

	q.mu.Lock()
	q.dropFrom = idA // what A says next is lost
	q.mu.Unlock()
	p, _ := join(t, a, "json")
	register(t, p, 1, "com.example.lost")
	q.mu.Lock()
	q.dropFrom, q.dropped = "", 0
	q.mu.Unlock()
	if n := b.remoteRegistrations("realm1"); n != 1 {
		t.Fatalf("the registration reached B (%d): nothing was lost", n)
	}
	repairs()
	if n := b.remoteRegistrations("realm1"); n != 2 {
		t.Fatalf("B holds %d of A's registrations after the repair, want 2", n)
	}
	if n := b.realm("realm1").SessionCount(); n != 2 {
		t.Fatalf("B holds %d sessions after the repair, want 2", n)
	}
	if n := b.Stats().ClusterResyncs.Load(); n != 1 {
		t.Fatalf("%d resyncs, want 1", n)
	}

	// The other way: A's session leaves, and B does not hear of it.
	q.mu.Lock()
	q.dropFrom = idA
	q.mu.Unlock()
	p.Close(transport.CloseNormal, "gone")
	deadline := time.Now().Add(10 * time.Second)
	for { // the session leaves on its own goroutine, announcing it last
		q.mu.Lock()
		lost := q.dropped
		q.mu.Unlock()
		if lost > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A announced nothing when its session left")
		}
		runtime.Gosched()
	}
	q.mu.Lock()
	q.dropFrom = ""
	q.mu.Unlock()
	repairs()
	if n := b.remoteRegistrations("realm1"); n != 1 {
		t.Fatalf("B holds %d of A's registrations after the repair, want 1", n)
	}
	if n := b.realm("realm1").SessionCount(); n != 1 {
		t.Fatalf("B holds %d sessions after the repair, want 1", n)
	}
	q.handlers[idA].Repair() // converged: no more snapshots
	q.handlers[idA].Repair()
	q.pump()
	if n := b.Stats().ClusterResyncs.Load(); n != 2 {
		t.Fatalf("%d resyncs, want 2", n)
	}
}

// TestAuditWaitsForTheInvocation: a call is not audited before its
// INVOCATION is on the link (a large one takes a while to encode): an audit
// sent ahead of it would find the call unknown on the callee's node and
// fail it though nothing was lost.
func TestAuditWaitsForTheInvocation(t *testing.T) {
	marker := []byte("held-on-its-way")
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	q := &busQueue{handlers: map[string]*ClusterHandler{}, hold: func(from string, data []byte) {
		if from == idA && bytes.Contains(data, marker) {
			once.Do(func() { close(held); <-release })
		}
	}}
	a, b := pair(t, q)
	callee, _ := join(t, b, "json")
	register(t, callee, 1, "com.example.held")
	q.pump()
	caller, _ := join(t, a, "json")
	q.pump() // its join: the queue is empty now
	caller.in <- &wamp.Call{Request: 7, Options: wamp.Dict{}, Procedure: "com.example.held", Payload: wamp.Values([]any{string(marker)}, nil)}
	<-held // the INVOCATION is being sent
	a.link.Load().audit(idB, 0)
	close(release)
	q.waitQueued(t) // the INVOCATION, on the caller's goroutine
	q.pump()
	inv := expectType[*wamp.Invocation](t, callee)
	callee.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}, Payload: wamp.Values([]any{"done"}, nil)}
	q.waitQueued(t) // the YIELD, on the callee's goroutine
	q.pump()
	if res, ok := caller.expect(t).(*wamp.Result); !ok || res.Request != 7 {
		t.Fatalf("the call was failed by an audit sent ahead of its INVOCATION: %v", res)
	}
	if n := a.Stats().ClusterCallsLost.Load(); n != 0 {
		t.Fatalf("%d calls taken for lost", n)
	}
}

// TestDroppedNodesBounded: the dropped nodes remembered (for fencing and
// the quorum) stay within droppedMax, however many ids come and go.
func TestDroppedNodesBounded(t *testing.T) {
	q := &busQueue{handlers: map[string]*ClusterHandler{}}
	a, _ := pair(t, q)
	h := q.handlers[idA]
	for i := range droppedMax + 10 {
		id := fmt.Sprintf("%016x", 0x100+i)
		h.NodeUp(id)
		h.NodeDown(id, false)
	}
	l := a.link.Load()
	l.mu.Lock()
	n := len(l.dropped)
	l.mu.Unlock()
	if n != droppedMax {
		t.Fatalf("%d dropped nodes remembered, want %d", n, droppedMax)
	}
}
