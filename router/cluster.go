package router

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/cluster/wire"
	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// Bus carries the router's messages to the other nodes of a cluster. Package
// cluster implements it over NATS; messages from one node to another arrive
// in the order they were sent.
type Bus interface {
	// ID is this node's id.
	ID() string
	// Send queues data for node to; it does not block on the network.
	Send(to string, data []byte) error
	// SendAll sends data to each node of to, in order with Send, and calls
	// done once each has handled it, or with an error after timeout. done
	// must not block.
	SendAll(to []string, data []byte, timeout time.Duration, done func(error))
	// NodeTimeout is how long a node may stay silent before it is dropped.
	NodeTimeout() time.Duration
	// Silence is how long node id has been silent (0 if heard from
	// lately, or unknown).
	Silence(id string) time.Duration
}

// How the nodes of a cluster share one router (see ARCHITECTURE.md,
// "Cluster"):
//
//   - Every node tells the others of its sessions (join, leave), their
//     registrations, subscriptions and testaments. A node that hears of another sends it all of
//     that at once (a snapshot).
//   - A remote session is a proxy: a *proxy (cluster_proxy.go), a member of
//     the realm like a *session, whose peer is a clusterPeer. It
//     is in the realm's sessions, in the dealer as callee of its
//     registrations and in the broker as subscriber, so the meta API answers
//     for the cluster and a call is routed on the caller's node exactly as
//     to a local callee, shared registrations and pattern precedence
//     included. The INVOCATION is encoded there with the
//     callee's serializer and the callee's node writes those bytes to the
//     callee as they are.
//   - The callee's node hands out the INVOCATION request id from the
//     callee's own sequence (so a client sees them increase by one, as the
//     spec asks and the nexus client needs): it rewrites the id of an
//     INVOCATION or INTERRUPT that the caller's node sent under its own
//     proxy id, and rewrites it back in the callee's YIELD or ERROR, which
//     goes to the node that owns the call, where the proxy's invocation
//     table, timers and cancel state are.
//   - A publication is delivered on its node to its local subscribers, then
//     sent once to each node with a matching subscriber (and to every node
//     if retained), which delivers it to its own subscribers under its own
//     subscription ids. Proxies get no events directly.
//   - A node that goes silent is dropped: its proxies leave (their pending
//     invocations fail with wamp.error.canceled) and the live node with the
//     smallest id publishes their testaments and wamp.session.on_leave.

// snapshotPart bounds the items of one snapshot message, so that a node
// with many sessions stays far below NATS's max_payload.
var snapshotPart = 2000 // a variable for tests

// remoteNode is what this node knows of another.
type remoteNode struct {
	id       string
	proxies  map[wamp.ID]*proxy // its sessions, by id; changed on its delivery goroutine under l.mu (audit reads it from another)
	snapshot []*wire.Envelope   // the parts of its snapshot received so far
	// digestMisses, retainedMisses: digests of it in a row that differed
	// from what this node holds (cluster_repair.go). On its delivery
	// goroutine.
	digestMisses, retainedMisses int
	// draining: it announced its drain (KindDrain); its proxies' callees
	// are picked only when no other callee can take a call.
	draining atomic.Bool
	// synced: a whole snapshot of it was applied (ClusterSynced).
	synced atomic.Bool
}

// clusterLink is a router's membership of a cluster.
type clusterLink struct {
	r   *Router
	bus Bus
	id  string

	mu      sync.Mutex
	nodes   map[string]*remoteNode
	dropped map[string]*dropped // nodes dropped for their silence (cluster_repair.go)
}

// AttachCluster makes the router one node of a cluster. The caller then runs
// the bus with the returned handler (cluster.Node.Run).
func (r *Router) AttachCluster(bus Bus) *ClusterHandler {
	l := &clusterLink{r: r, bus: bus, id: bus.ID(), nodes: make(map[string]*remoteNode), dropped: make(map[string]*dropped)}
	r.realmsMu.Lock() // a realm created from now on gets global ids too (Router.realm)
	r.link.Store(l)
	for _, rm := range r.realms {
		l.newRealm(rm)
	}
	r.realmsMu.Unlock()
	return &ClusterHandler{l}
}

// ClusterHandler receives what the bus hears (it implements cluster.Handler).
type ClusterHandler struct{ l *clusterLink }

// NodeUp sends the new node everything it must know of this one.
func (h *ClusterHandler) NodeUp(id string) { h.l.nodeUp(id) }

// NodeDown drops a node and what it held; goodbye: it left.
func (h *ClusterHandler) NodeDown(id string, goodbye bool) { h.l.nodeDown(id, goodbye) }

// Lost: messages to node id were lost for good: it gets this node's
// snapshot, and the calls in flight on its callees are audited.
func (h *ClusterHandler) Lost(id string) {
	h.l.mu.Lock()
	if h.l.nodes[id] != nil {
		h.l.sendSnapshot(id, false)
	}
	h.l.mu.Unlock()
	h.l.audit(id, 0)
}

// Missed: messages from node id were lost for good (it sends its
// snapshot): the calls in flight on its callees are audited.
func (h *ClusterHandler) Missed(id string) { h.l.audit(id, 0) }

// Repair compares digests with every node and audits the calls in flight
// on other nodes; the bus calls it every repair interval.
func (h *ClusterHandler) Repair() { h.l.repair() }

// Deliver handles a message from node from.
func (h *ClusterHandler) Deliver(from string, data []byte) { h.l.deliver(from, data) }

// ClusterNodes is the number of other nodes this router knows alive.
func (r *Router) ClusterNodes() int { return r.countNodes(func(*remoteNode) bool { return true }) }

// drainingNodes is the number of other nodes known alive that announced
// they drain. For tests (internal/peek).
func (r *Router) drainingNodes() int {
	return r.countNodes(func(n *remoteNode) bool { return n.draining.Load() })
}

// countNodes is the number of other nodes known alive for which match holds.
func (r *Router) countNodes(match func(*remoteNode) bool) int {
	l := r.link.Load()
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, node := range l.nodes {
		if match(node) {
			n++
		}
	}
	return n
}

// remoteInterest reports whether a session of another node subscribed to a
// topic matching topic in realm: a publication here would be sent there.
// For tests (internal/peek); it creates no realm.
func (r *Router) remoteInterest(realm, topic string) bool {
	rm := r.existingRealm(wamp.URI(realm))
	return rm != nil && len(rm.remoteNodes(wamp.URI(topic), nil)) > 0
}

// remoteNodes appends to buf the nodes with a subscriber to topic.
func (rm *realm) remoteNodes(topic wamp.URI, buf []string) []string {
	var subs [4]*realms.Subscription
	for _, sub := range rm.Broker.Match(subs[:0], topic) {
		for rc := range sub.Subscribers.All() {
			if p, ok := rc.(*proxy); ok && !slices.Contains(buf, p.node) {
				buf = append(buf, p.node)
			}
		}
	}
	return buf
}

// remoteCallees is the number of remote callees of procedure's registration
// in realm as this node routes it (exact match first, then patterns). For
// tests (internal/peek); it creates no realm.
func (r *Router) remoteCallees(realm, procedure string) int {
	rm := r.existingRealm(wamp.URI(realm))
	if rm == nil {
		return 0
	}
	reg := rm.Dealer.Match(wamp.URI(procedure))
	if reg == nil {
		return 0
	}
	n := 0
	for _, c := range reg.Callees {
		if _, ok := c.(*proxy); ok {
			n++
		}
	}
	return n
}

// remoteRegistrations is the number of registrations of realm with a callee
// on another node. For tests (internal/peek); it creates no realm.
func (r *Router) remoteRegistrations(realm string) int {
	rm := r.existingRealm(wamp.URI(realm))
	if rm == nil {
		return 0
	}
	n := 0
	for _, reg := range rm.Dealer.All() {
		if slices.ContainsFunc(reg.Callees, func(c realms.Recipient) bool { _, ok := c.(*proxy); return ok }) {
			n++
		}
	}
	return n
}

// proxies are the remote sessions this node knows.
func (r *Router) proxies() []*proxy {
	l := r.link.Load()
	if l == nil {
		return nil
	}
	var out []*proxy
	for _, rm := range r.allRealms() {
		for _, rc := range rm.Sessions() {
			if p, ok := rc.(*proxy); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

func (l *clusterLink) node(id string) *remoteNode {
	n := l.nodes[id]
	if n == nil {
		n = &remoteNode{id: id, proxies: make(map[wamp.ID]*proxy)}
		l.nodes[id] = n
	}
	return n
}

// send encodes e for node to. An error is logged and returned.
func (l *clusterLink) send(to string, e *wire.Envelope) error {
	data, err := wire.Encode(e)
	if err == nil {
		err = l.bus.Send(to, data)
	}
	if err != nil {
		l.r.log.Warn("cluster message not sent", "node", to, "kind", e.Kind, "error", err)
	}
	return err
}

// announce sends e to every node known alive. With wait it returns once
// each has applied it (or after the node timeout): what a client is told
// next (WELCOME, REGISTERED, SUBSCRIBED...) then holds on every node.
func (l *clusterLink) announce(e *wire.Envelope, wait bool) {
	data, err := wire.Encode(e)
	if err != nil {
		l.r.log.Error("cannot encode cluster message", "kind", e.Kind, "error", err)
		return
	}
	l.mu.Lock() // held while sending, so a snapshot cannot overtake
	ids := make([]string, 0, len(l.nodes))
	for id := range l.nodes {
		ids = append(ids, id)
	}
	confirmed := make(chan error, 1)
	l.bus.SendAll(ids, data, l.bus.NodeTimeout(), func(err error) { confirmed <- err })
	l.mu.Unlock()
	if wait {
		if err := <-confirmed; err != nil {
			l.r.log.Warn("cluster nodes did not confirm a change in time", "kind", e.Kind, "error", err)
		}
	}
}

// The clusterLayer of a node of a cluster (layer.go).

// atomicLink holds a router's link; nil on a single node.
type atomicLink = atomic.Pointer[clusterLink]

func (l *clusterLink) joined(s *session) {
	if !s.internal {
		l.announce(joinEnvelope(s), true) // known on every node before the client is
	}
}

func (l *clusterLink) left(s *session) {
	if !s.internal {
		l.announce(&wire.Envelope{Kind: wire.KindLeave, Realm: string(s.realm.Name), Session: uint64(s.id)}, false)
		l.promote(s.realm) // another node's registration may wait for one of s's
	}
}

func (l *clusterLink) registered(s *session, reg *realms.Registration) {
	if !s.internal {
		l.announce(registerEnvelope(s, reg), true) // callable from every node once REGISTERED
	}
}

func (l *clusterLink) unregistered(s *session, reg wamp.ID) {
	if !s.internal {
		l.announce(&wire.Envelope{Kind: wire.KindUnregister, Realm: string(s.realm.Name), Session: uint64(s.id), Registration: uint64(reg)}, true)
		l.promote(s.realm)
	}
}

func (l *clusterLink) subscribed(s *session, sub *realms.Subscription, on bool) {
	// Publications from every node reach the subscriber once SUBSCRIBED.
	l.announce(subscribeEnvelope(s, sub, on), true)
}

func (l *clusterLink) testament(s *session, scope string, t testament) {
	l.announce(testamentEnvelope(s, scope, t), true)
}

func (l *clusterLink) flushed(s *session, scope string) {
	l.announce(&wire.Envelope{Kind: wire.KindFlush, Realm: string(s.realm.Name), Session: uint64(s.id), Scope: scope}, true)
}

func (l *clusterLink) answer(s *session, m wamp.Message) bool {
	var request wamp.ID
	final := true
	switch m := m.(type) {
	case *wamp.Yield:
		request, final = m.Request, !m.Options.Bool("progress", false)
	case *wamp.Error:
		if m.Type != wamp.INVOCATION {
			return false
		}
		request = m.Request
	default:
		return false
	}
	from, ok := s.answerOrigin(request)
	if ok {
		l.forwardAnswer(s, m, from)
		if final {
			s.answered(request, from)
		}
	}
	return ok
}

// drain tells every node known alive that this node drains, and waits
// until each has applied it, or ctx is done: from then on they route a new
// call to this node's callees only when no other callee can take it.
func (l *clusterLink) drain(ctx context.Context) {
	data, err := wire.Encode(&wire.Envelope{Kind: wire.KindDrain})
	if err != nil {
		l.r.log.Error("cannot encode cluster message", "kind", wire.KindDrain, "error", err)
		return
	}
	l.mu.Lock()
	ids := make([]string, 0, len(l.nodes))
	for id := range l.nodes {
		ids = append(ids, id)
	}
	confirmed := make(chan error, 1)
	l.bus.SendAll(ids, data, l.bus.NodeTimeout(), func(err error) { confirmed <- err })
	l.mu.Unlock()
	select {
	case err = <-confirmed:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		l.r.log.Warn("not every cluster node confirmed this node's drain: they may still route new calls here", "error", err)
		return
	}
	l.r.log.Info("drain announced to the cluster", "nodes", len(ids))
}

func (l *clusterLink) newRealm(rm *realm) {
	// Registration and subscription ids unique across the cluster.
	rm.Dealer.GlobalIDs()
	rm.Broker.GlobalIDs()
}

// keepsRealms: a realm created on demand stays, other nodes' sessions are in it.
func (l *clusterLink) keepsRealms() bool { return true }

// suspecter is what a Bus may tell of a node's silence (cluster.Node does).
type suspecter interface {
	// Suspect reports whether node id has stopped answering, and then
	// the longest it may take to drop it.
	Suspect(id string) (dropWithin time.Duration, suspect bool)
}

func (l *clusterLink) heldBySilentNode(reg *realms.Registration) (string, time.Duration) {
	sl, ok := l.bus.(suspecter)
	if !ok || len(reg.Callees) == 0 {
		return "", 0
	}
	node, wait := "", time.Duration(0)
	for _, c := range reg.Callees {
		p, ok := c.(*proxy)
		if !ok {
			return "", 0
		}
		w, suspect := sl.Suspect(p.node)
		if !suspect {
			return "", 0
		}
		if node == "" || w > wait {
			node, wait = p.node, w
		}
	}
	return node, wait
}

func (l *clusterLink) nodeUp(id string) {
	l.mu.Lock()
	l.node(id)
	d := l.dropped[id]
	delete(l.dropped, id)
	if d != nil { // it was cut off or paused, not dead
		for realm, ids := range d.sessions {
			_ = l.send(id, &wire.Envelope{Kind: wire.KindFenced, Realm: realm, Sessions: ids})
		}
	}
	l.sendSnapshot(id, true)
	l.mu.Unlock()
	if d != nil {
		l.r.log.Warn("a cluster node dropped for its silence is back", "node", id, "dropped", d.at, "fenced_realms", len(d.sessions))
		l.rejoined(id, d.at)
	}
}

// sendSnapshot sends node to this node's snapshot, in parts. Under l.mu, so
// that no change is sent in between.
func (l *clusterLink) sendSnapshot(to string, reply bool) {
	snap := l.snapshot(reply)
	items := snap.Items
	for {
		part := *snap
		part.Items = items[:min(len(items), snapshotPart)]
		items = items[len(part.Items):]
		part.More = len(items) > 0
		_ = l.send(to, &part)
		if !part.More {
			return
		}
	}
}

// snapshot is everything the other nodes must know of this one.
func (l *clusterLink) snapshot(reply bool) *wire.Envelope {
	snap := &wire.Envelope{Kind: wire.KindSnapshot, Reply: reply}
	if l.r.draining.Load() { // a node that joins now routes around this one too
		snap.Items = append(snap.Items, &wire.Envelope{Kind: wire.KindDrain})
	}
	for _, rm := range l.r.allRealms() {
		// Retained events first: whoever sees this node's sessions there
		// finds its retained events too.
		for _, ev := range rm.events.allRetained() {
			p := publication{id: ev.publication, publisher: ev.publisher, topic: ev.topic, payload: ev.payload, aud: ev.aud, disclose: ev.disclose, retain: true}
			e, err := l.publishEnvelope(rm, &p, ev.time)
			if err == nil {
				e.StoreOnly = true
				snap.Items = append(snap.Items, e)
			}
		}
		for _, rc := range rm.Sessions() {
			s, local := rc.(*session)
			if !local || s.internal {
				continue
			}
			snap.Items = append(snap.Items, joinEnvelope(s))
			s.testMu.Lock()
			for scope, ts := range s.testaments {
				for _, t := range ts {
					snap.Items = append(snap.Items, testamentEnvelope(s, scope, t))
				}
			}
			s.testMu.Unlock()
		}
		for _, reg := range rm.Dealer.All() {
			for _, c := range reg.Callees {
				if s, local := c.(*session); local {
					snap.Items = append(snap.Items, registerEnvelope(s, reg))
				}
			}
		}
		for _, sub := range rm.Broker.All() {
			for rc := range sub.Subscribers.All() {
				if s, local := rc.(*session); local {
					snap.Items = append(snap.Items, subscribeEnvelope(s, sub, true))
				}
			}
		}
	}
	return snap
}

func (r *Router) allRealms() []*realm {
	r.realmsMu.RLock()
	defer r.realmsMu.RUnlock()
	out := make([]*realm, 0, len(r.realms))
	for _, rm := range r.realms {
		out = append(out, rm)
	}
	return out
}

func joinEnvelope(s *session) *wire.Envelope {
	return &wire.Envelope{Kind: wire.KindJoin, Realm: string(s.realm.Name), Session: uint64(s.id), AuthID: s.authid, AuthRole: s.authrole,
		AuthMethod: s.authmethod, AuthProvider: s.authprovider, Serializer: s.peer.Serializer().Name(),
		Roles: s.roles, Joined: s.joined.UnixMilli(), Transport: s.peer.Info().Transport}
}

func registerEnvelope(s *session, reg *realms.Registration) *wire.Envelope {
	return &wire.Envelope{Kind: wire.KindRegister, Realm: string(s.realm.Name), Session: uint64(s.id), Procedure: string(reg.Procedure),
		Match: string(reg.Match), Invoke: string(reg.Invoke), Registration: uint64(reg.ID),
		DiscloseCaller: reg.DiscloseCaller, ForwardTimeout: reg.ForwardTimeout}
}

func subscribeEnvelope(s *session, sub *realms.Subscription, on bool) *wire.Envelope {
	return &wire.Envelope{Kind: wire.KindSubscribe, Realm: string(s.realm.Name), Session: uint64(s.id), Topic: string(sub.Topic), Match: string(sub.Match),
		On: on, Subscription: uint64(sub.ID)}
}

func testamentEnvelope(s *session, scope string, t testament) *wire.Envelope {
	return &wire.Envelope{Kind: wire.KindTestament, Realm: string(s.realm.Name), Session: uint64(s.id), Scope: scope,
		Topic: string(t.topic), Args: t.args, Kwargs: t.kwargs, Options: t.options}
}

// nodeDown drops node id: its proxies leave, their pending invocations
// fail, and their testaments and on_leave events are published if this is
// the smallest of the live nodes and, unless the node said goodbye, these
// are a quorum (cluster_repair.go).
func (l *clusterLink) nodeDown(id string, goodbye bool) {
	now := time.Now()
	l.mu.Lock()
	n := l.nodes[id]
	if n == nil {
		l.mu.Unlock()
		return
	}
	delete(l.nodes, id)
	l.r.stats.ClusterNodesDropped.Add(1)
	elected := true
	heard := 0 // the nodes left that were heard from lately
	for other := range l.nodes {
		if other < l.id {
			elected = false
		}
		if l.bus.Silence(other) <= l.bus.NodeTimeout()/2 {
			heard++
		}
	}
	var d *dropped
	if !goodbye {
		d = &dropped{at: now}
		l.forgetOldestDroppedLocked()
		l.dropped[id] = d
		if elected && !l.quorum(now, heard) {
			elected = false
			l.r.log.Warn("this node sees less than half of the cluster: it does not announce the dropped node's sessions gone", "node", id)
		}
	}
	l.mu.Unlock()
	l.abandonInvocations(id)
	for _, p := range n.proxies {
		l.dropProxy(p, "node "+id+" is gone")
	}
	if elected { // once no proxy of the dead node is a subscriber any more
		for _, p := range n.proxies {
			p.publishTestaments()
			p.realm.metaEvent("wamp.session.on_leave", uint64(p.id), p.authid, p.authrole)
		}
		if d != nil && len(n.proxies) > 0 {
			d.sessions = make(map[string][]uint64)
			for sid, p := range n.proxies {
				d.sessions[string(p.realm.Name)] = append(d.sessions[string(p.realm.Name)], uint64(sid))
			}
		}
	}
	l.r.log.Warn("cluster node dropped", "node", id, "goodbye", goodbye, "sessions", len(n.proxies), "announced_gone", elected)
}

func (l *clusterLink) deliver(from string, data []byte) {
	e := envelopes.Get().(*wire.Envelope)
	if err := wire.DecodeInto(e, data); err != nil {
		l.r.log.Error("malformed cluster message ignored", "node", from, "error", err)
		*e = wire.Envelope{}
		envelopes.Put(e)
		return
	}
	l.mu.Lock()
	n := l.node(from)
	l.mu.Unlock()
	l.apply(n, e)
	switch e.Kind {
	case wire.KindFrame, wire.KindClose, wire.KindAnswer, wire.KindPublish: // apply keeps none of them
		*e = wire.Envelope{}
		envelopes.Put(e)
	}
}

// envelopes are the Envelopes of the messages of the hot kinds, once
// applied: a message of another node decoded costs no allocation of one
// (some 600 bytes).
var envelopes = sync.Pool{New: func() any { return new(wire.Envelope) }}

// apply handles one message of node n. Messages of one node are applied in
// order, on one goroutine.
func (l *clusterLink) apply(n *remoteNode, e *wire.Envelope) {
	switch e.Kind {
	case wire.KindDigest:
		l.checkDigest(n, e)
		return
	case wire.KindResync:
		l.mu.Lock()
		if l.nodes[n.id] != nil {
			l.sendSnapshot(n.id, false)
		}
		l.mu.Unlock()
		return
	case wire.KindDrain:
		if !n.draining.Swap(true) {
			l.r.log.Info("cluster node draining: its callees take new calls only when no other callee can", "node", n.id)
		}
		return
	}
	if e.Kind == wire.KindSnapshot {
		n.snapshot = append(n.snapshot, e.Items...)
		if !e.More {
			e.Items, n.snapshot = n.snapshot, nil
			l.applySnapshot(n, e)
		}
		return
	}
	rm := l.r.realm(wamp.URI(e.Realm))
	if rm == nil {
		l.r.log.Warn("cluster message for a realm this node does not have", "node", n.id, "realm", e.Realm, "kind", e.Kind)
		return
	}
	id := wamp.ID(e.Session)
	switch e.Kind {
	case wire.KindJoin:
		l.addProxy(n, rm, e)
	case wire.KindLeave:
		if p := n.proxies[id]; p != nil {
			l.mu.Lock()
			delete(n.proxies, id)
			l.mu.Unlock()
			l.dropProxy(p, "session left")
		}
	case wire.KindRegister:
		if p := n.proxies[id]; p != nil {
			l.registerRemote(p, e)
		}
	case wire.KindUnregister:
		if p := n.proxies[id]; p != nil {
			l.removeRegistration(p, wamp.ID(e.Registration))
		}
	case wire.KindSubscribe:
		p := n.proxies[id]
		if p == nil {
			return
		}
		key := [2]string{e.Match, e.Topic}
		if e.On { // a new subscription takes the sending node's id, so ids agree across nodes
			if sub, _ := rm.Broker.SubscribeAs(p, wamp.URI(e.Topic), wamp.MatchPolicy(e.Match), wamp.ID(e.Subscription)); sub != nil {
				p.invMu.Lock()
				p.subs[key] = true
				p.invMu.Unlock()
			}
		} else {
			if sub := rm.Broker.Lookup(wamp.URI(e.Topic), wamp.MatchPolicy(e.Match)); sub != nil {
				_, _, _ = rm.Broker.Unsubscribe(p, sub.ID)
			}
			p.invMu.Lock()
			delete(p.subs, key)
			p.invMu.Unlock()
		}
	case wire.KindTestament:
		if p := n.proxies[id]; p != nil {
			p.testMu.Lock()
			p.testaments[e.Scope] = append(p.testaments[e.Scope], testament{topic: wamp.URI(e.Topic), args: e.Args, kwargs: e.Kwargs, options: e.Options})
			p.testMu.Unlock()
		}
	case wire.KindFlush:
		if p := n.proxies[id]; p != nil {
			p.testMu.Lock()
			delete(p.testaments, e.Scope)
			p.testMu.Unlock()
		}
	case wire.KindFrame, wire.KindClose:
		rc, ok := rm.Session(id)
		s, local := rc.(*session)
		if !ok || !local {
			l.r.log.Debug("cluster message for a session that is gone", "node", n.id, "session", e.Session, "kind", e.Kind)
			return
		}
		if e.Kind == wire.KindClose {
			s.peer.Close(wire.CloseReason(e.Code), e.Reason)
			return
		}
		if e.Request != 0 {
			l.deliverInvocation(n, s, e)
			return
		}
		// Counted as sent on the node that routed it.
		_ = s.peer.SendFrame(transport.NewFrame(e.Frame, e.Binary))
	case wire.KindAnswer:
		p := n.proxies[id]
		if p == nil {
			return
		}
		msg, err := p.peer.Serializer().Decode(e.Frame)
		if err != nil {
			l.r.log.Error("undecodable answer from a cluster node", "node", n.id, "error", err)
			return
		}
		switch m := msg.(type) {
		case *wamp.Yield:
			p.handleYield(m)
		case *wamp.Error:
			p.handleError(m)
		}
	case wire.KindPublish:
		l.applyPublish(rm, e)
	case wire.KindAudit:
		l.audited(n, rm, e)
	case wire.KindAudited:
		l.lostCalls(n, e)
	case wire.KindFenced:
		l.fence(rm, e.Sessions)
	}
}

// applySnapshot brings what this node knows of n in line with n's snapshot.
// ClusterSynced reports whether this node holds the state of each of nodes
// (cluster node ids): it applied a whole snapshot of each.
func (r *Router) ClusterSynced(nodes []string) bool {
	l := r.link.Load()
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range nodes {
		if n := l.nodes[id]; n == nil || !n.synced.Load() {
			return false
		}
	}
	return true
}

func (l *clusterLink) applySnapshot(n *remoteNode, snap *wire.Envelope) {
	defer n.synced.Store(true)
	l.r.log.Debug("applying a snapshot", "node", n.id, "items", len(snap.Items), "reply", snap.Reply)
	sessions := make(map[wamp.ID]bool)
	regs := make(map[wamp.ID]map[wamp.ID]bool)   // session -> remote registration ids
	subs := make(map[wamp.ID]map[[2]string]bool) // session -> match and topic
	snap.Items = slices.DeleteFunc(snap.Items, func(e *wire.Envelope) bool { return e == nil })
	for _, e := range snap.Items {
		id := wamp.ID(e.Session)
		switch e.Kind {
		case wire.KindJoin:
			sessions[id] = true
		case wire.KindRegister:
			if regs[id] == nil {
				regs[id] = make(map[wamp.ID]bool)
			}
			regs[id][wamp.ID(e.Registration)] = true
		case wire.KindSubscribe:
			if subs[id] == nil {
				subs[id] = make(map[[2]string]bool)
			}
			subs[id][[2]string{e.Match, e.Topic}] = true
		}
	}
	// What n no longer has goes first.
	for id, p := range n.proxies {
		if !sessions[id] {
			l.mu.Lock()
			delete(n.proxies, id)
			l.mu.Unlock()
			l.dropProxy(p, "session left")
			continue
		}
		p.invMu.Lock()
		var stale []wamp.ID
		for rid := range p.announced {
			if !regs[id][rid] {
				stale = append(stale, rid)
			}
		}
		var staleSubs [][2]string
		for k := range p.subs {
			if !subs[id][k] {
				staleSubs = append(staleSubs, k)
			}
		}
		p.invMu.Unlock()
		for _, rid := range stale {
			l.removeRegistration(p, rid)
		}
		for _, k := range staleSubs {
			l.apply(n, &wire.Envelope{Kind: wire.KindSubscribe, Realm: string(p.realm.Name), Session: uint64(id), Match: k[0], Topic: k[1]})
		}
		p.testMu.Lock()
		clear(p.testaments) // resent below
		p.testMu.Unlock()
	}
	for _, e := range snap.Items {
		l.apply(n, e)
	}
	if snap.Reply {
		l.mu.Lock()
		if l.nodes[n.id] != nil {
			l.sendSnapshot(n.id, false)
		}
		l.mu.Unlock()
	}
}

// applyPublish delivers a publication of another node to this node's subscribers.
func (l *clusterLink) applyPublish(rm *realm, e *wire.Envelope) {
	ser, ok := serializers.ByName(e.Serializer)
	if !ok {
		return
	}
	msg, err := ser.Decode(e.Frame)
	ev, isEvent := msg.(*wamp.Event)
	if err != nil || !isEvent {
		l.r.log.Error("undecodable publication from a cluster node", "error", err)
		return
	}
	publisher := &identity{id: wamp.ID(e.Session), authid: e.AuthID, authrole: e.AuthRole}
	if e.Session == 0 {
		publisher = nil
	}
	aud := audience{
		exclude: idSet(e.Exclude), eligible: idSet(e.Eligible),
		excludeAuthID: strSet(e.ExcludeAuthID), eligibleAuthID: strSet(e.EligibleAuthID),
		excludeAuthRole: strSet(e.ExcludeAuthRole), eligibleAuthRole: strSet(e.EligibleAuthRole),
	}
	pub := wamp.ID(e.Publication)
	topic := wamp.URI(e.Topic)
	stored := &storedEvent{publication: pub, topic: topic, time: time.Unix(0, e.Time), payload: ev.Payload,
		publisher: publisher, disclose: e.Disclose, aud: aud}
	if e.StoreOnly {
		err = rm.events.retainNewer(stored)
	} else {
		rm.deliver(&publication{id: pub, publisher: publisher, topic: topic, payload: ev.Payload, aud: aud, disclose: e.Disclose, retain: e.Retain}, nil)
		err = rm.events.record(stored, e.Retain)
	}
	if err != nil {
		rm.log.Warn("retained event of another node not kept", "topic", topic, "error", err)
	}
}

// forwardPublish sends a publication made on this node to targets, the
// nodes that have a matching subscriber (every node if it is retained).
// confirmed, if set, is called once they have all delivered it (or after
// the node timeout).
func (l *clusterLink) forwardPublish(rm *realm, targets []string, p publication, failed undelivered, delivered func(failed undelivered)) {
	topic := p.topic // for the closures below, which would move p to the heap
	var confirmed func()
	if delivered != nil {
		confirmed = func() { delivered(failed) }
	}
	if p.retain {
		targets = targets[:0]
		l.mu.Lock()
		for id := range l.nodes {
			targets = append(targets, id)
		}
		l.mu.Unlock()
	}
	if len(targets) == 0 {
		if confirmed != nil {
			confirmed()
		}
		return
	}
	e, err := l.publishEnvelope(rm, &p, time.Now())
	var data []byte
	if err == nil {
		data, err = wire.Encode(e)
	}
	if err != nil {
		l.r.log.Error("cannot encode a publication for the cluster", "topic", topic, "error", err)
		if confirmed != nil {
			confirmed()
		}
		return
	}
	if confirmed != nil {
		l.bus.SendAll(targets, data, l.bus.NodeTimeout(), func(err error) {
			if err != nil {
				l.r.log.Warn("publication not confirmed by every node", "topic", topic, "error", err)
			}
			confirmed()
		})
		return
	}
	for _, id := range targets {
		if err := l.bus.Send(id, data); err != nil {
			l.r.log.Error("publication not sent to a cluster node: its subscribers miss it", "node", id,
				"topic", topic, "bytes", len(data), "error", err)
		}
	}
}

// publishEnvelope is publication p, made at at, as it travels to another node.
func (l *clusterLink) publishEnvelope(rm *realm, p *publication, at time.Time) (*wire.Envelope, error) {
	ser := serializers.ForEncoding(p.payload.Encoding)
	if ser == nil {
		ser, _ = serializers.ByName("msgpack")
	}
	frame, err := ser.Encode(&wamp.Event{Subscription: 1, Publication: p.id, Payload: p.payload})
	if err != nil {
		return nil, err
	}
	e := &wire.Envelope{Kind: wire.KindPublish, Realm: string(rm.Name), Topic: string(p.topic), Publication: uint64(p.id),
		Serializer: ser.Name(), Frame: frame, Disclose: p.disclose, Retain: p.retain, Time: at.UnixNano(),
		Exclude: idList(p.aud.exclude), Eligible: idList(p.aud.eligible),
		ExcludeAuthID: strList(p.aud.excludeAuthID), EligibleAuthID: strList(p.aud.eligibleAuthID),
		ExcludeAuthRole: strList(p.aud.excludeAuthRole), EligibleAuthRole: strList(p.aud.eligibleAuthRole)}
	if p.publisher != nil {
		e.Session, e.AuthID, e.AuthRole = uint64(p.publisher.id), p.publisher.authid, p.publisher.authrole
	}
	return e, nil
}

func idSet(ids []uint64) map[wamp.ID]bool {
	if ids == nil {
		return nil
	}
	m := make(map[wamp.ID]bool, len(ids))
	for _, id := range ids {
		m[wamp.ID(id)] = true
	}
	return m
}

func strSet(ss []string) map[string]bool {
	if ss == nil {
		return nil
	}
	m := make(map[string]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}

func idList(m map[wamp.ID]bool) []uint64 {
	if m == nil {
		return nil
	}
	out := make([]uint64, 0, len(m))
	for id := range m {
		out = append(out, uint64(id))
	}
	return out
}

func strList(m map[string]bool) []string {
	if m == nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	return out
}
