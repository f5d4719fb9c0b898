package router

import (
	"context"
	"time"

	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/wamp"
)

// clusterLayer is what the handlers need of the cluster. They call it
// unconditionally: on a single node it is singleNode, which does nothing,
// and once AttachCluster made the router a node it is the *clusterLink
// (cluster.go).
//
// The announcements tell the other nodes of a change made here; where the
// client is answered next (WELCOME, REGISTERED, SUBSCRIBED...), they return
// once every node has applied it (or after the node timeout), so that the
// answer holds on every node.
type clusterLayer interface {
	// joined announces that s joined its realm, and waits.
	joined(s *session)
	// left announces that s left, without waiting.
	left(s *session)
	// registered announces s's registration reg, and waits.
	registered(s *session, reg *realms.Registration)
	// unregistered announces that s left its registration reg, and waits.
	unregistered(s *session, reg wamp.ID)
	// subscribed announces that s subscribed to sub (on) or left it (!on),
	// and waits.
	subscribed(s *session, sub *realms.Subscription, on bool)
	// testament announces a testament s added to scope, and waits.
	testament(s *session, scope string, t testament)
	// flushed announces that s flushed its testaments of scope, and waits.
	flushed(s *session, scope string)
	// forwardPublish sends a publication made on this node, already
	// delivered to this node's subscribers (failed of them could not take
	// it), to nodes, the nodes with a matching subscriber (to every node if
	// it is retained). delivered, if set, is called with failed once they
	// have all delivered it (or after the node timeout; at once on a single
	// node).
	forwardPublish(rm *realm, nodes []string, p publication, failed undelivered, delivered func(failed undelivered))
	// answer sends callee s's YIELD or ERROR of an INVOCATION to the node
	// that owns the call, if another node does, and reports whether it did.
	answer(s *session, m wamp.Message) bool
	// newRealm readies a realm the router creates (ids unique across the
	// cluster).
	newRealm(rm *realm)
	// keepsRealms reports whether a realm created on demand stays once its
	// last session here left (other nodes' sessions are in it).
	keepsRealms() bool
	// heldBySilentNode reports, for a registration whose callees are all on
	// other nodes that stopped answering (dead but not yet dropped), one
	// of those nodes and the longest it may take to drop them; "" if any
	// callee is alive.
	heldBySilentNode(reg *realms.Registration) (node string, wait time.Duration)
	// drain tells the other nodes that this one drains for shutdown, and
	// waits until they applied it or ctx is done.
	drain(ctx context.Context)
}

// singleNode is the cluster layer of a router that is not in a cluster.
type singleNode struct{}

func (singleNode) joined(*session)                                 {}
func (singleNode) left(*session)                                   {}
func (singleNode) registered(*session, *realms.Registration)       {}
func (singleNode) unregistered(*session, wamp.ID)                  {}
func (singleNode) subscribed(*session, *realms.Subscription, bool) {}
func (singleNode) testament(*session, string, testament)           {}
func (singleNode) flushed(*session, string)                        {}
func (singleNode) answer(*session, wamp.Message) bool              { return false }
func (singleNode) newRealm(*realm)                                 {}
func (singleNode) keepsRealms() bool                               { return false }
func (singleNode) heldBySilentNode(*realms.Registration) (string, time.Duration) {
	return "", 0
}
func (singleNode) drain(context.Context) {}
func (singleNode) forwardPublish(_ *realm, _ []string, _ publication, failed undelivered, delivered func(undelivered)) {
	if delivered != nil {
		delivered(failed)
	}
}

var (
	_ clusterLayer = singleNode{}
	_ clusterLayer = (*clusterLink)(nil)
)

// cluster is the router's cluster layer.
func (r *Router) cluster() clusterLayer { return layerOf(&r.link) }

// cluster is the router's cluster layer.
func (rm *realm) cluster() clusterLayer { return layerOf(rm.link) }

func layerOf(link *atomicLink) clusterLayer {
	if l := link.Load(); l != nil {
		return l
	}
	return singleNode{}
}
