package cluster

// Crash drops the node as kill -9 would: no goodbye, nothing flushed. Only
// the tests see it.
func (n *Node) Crash() { n.leave(false) }
