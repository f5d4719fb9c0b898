package cluster

import "time"

// Crash drops the node as kill -9 would: no goodbye, nothing flushed. Only
// the tests see it.
func (n *Node) Crash() { n.leave(false) }

// pauseForTest makes the node look as if its process had been paused for
// d: it last heard from every node d ago, and its heartbeat loop last ran
// then.
func (n *Node) pauseForTest(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	past := time.Now().Add(-d)
	for id := range n.members {
		n.members[id] = past
	}
	n.lastTick = past
}

// PauseForTest is pauseForTest, for the tests of package cluster_test.
func (n *Node) PauseForTest(d time.Duration) { n.pauseForTest(d) }

// flushedForTest reports whether the link to node to has published all it
// queued (the flush runs on a goroutine of its own).
func (n *Node) flushedForTest(to string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.out[to]
	return l == nil || (!l.flushing && len(l.queued) == 0)
}

// queuedCapForTest is the capacity of the queue of the link to node to.
func (n *Node) queuedCapForTest(to string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l := n.out[to]; l != nil {
		return cap(l.queued)
	}
	return 0
}

// ackedOutForTest is the last acknowledgement this node sent node from.
func (n *Node) ackedOutForTest(from string) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if in := n.in[from]; in != nil {
		return in.ackedOut
	}
	return 0
}

// lastTickForTest is when the node's heartbeat loop last began a tick.
func (n *Node) lastTickForTest() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lastTick
}

// directUpForTest reports whether this node's direct path to node to is up.
func (n *Node) directUpForTest(to string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.direct.peers[to]
	return p != nil && p.conn != nil
}

// cutDirectForTest closes every direct connection of the node, as a network
// fault would; the next heartbeats bring them back.
func (n *Node) cutDirectForTest() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.direct.peers {
		n.closePeerLocked(p)
	}
	for _, c := range n.direct.accepted {
		_ = c.Close()
	}
}

// CutDirectForTest is cutDirectForTest, for the tests of package cluster_test.
func (n *Node) CutDirectForTest() { n.cutDirectForTest() }
