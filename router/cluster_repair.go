package router

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"time"

	"github.com/junction-wamp/junction/cluster/wire"
	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/wamp"
)

// Repair: how the nodes of a cluster converge after messages between them
// were lost, and how the meta events of sessions lost with a node stay
// exactly once (see ARCHITECTURE.md, "Cluster: convergence").
//
//   - The links of package cluster number, acknowledge and resend what a
//     node sends another; a gap they cannot fill calls Lost on the sender
//     (it sends the receiver its snapshot, which the receiver applies as a
//     diff) and Missed on the receiver; both audit the calls in flight
//     between the two.
//   - Whatever the cause of a difference, every repair interval each node
//     sends every other a digest of its own routing state (sessions,
//     registrations, subscriptions, testaments) and of the retained events
//     it holds, in order with the rest of what it sends. The receiver
//     compares it with the digest of what it holds of the sender; two
//     differences in a row (one may be a change on its way) make it ask for
//     the sender's snapshot (KindResync).
//   - Every repair interval, the node that owns calls routed to another
//     node's callees asks that node which of them it does not know
//     (KindAudit); those it does not know were lost on the way there, or
//     their answer on the way back (the answer would have arrived first:
//     links are ordered), and their callers get ERROR wamp.error.canceled.
//   - Registrations of one procedure that conflict (two callees of two
//     nodes registering it at once, or a callee registering again on a
//     node while another still holds the registration of the dead node it
//     was on) resolve the same way on every node: the registration with
//     the smallest id is routed to, the others wait (pending) and the
//     smallest of them takes over when it goes. A registration whose
//     callees are all on other nodes takes the smallest of the ids their
//     nodes gave it, so after a failover every node has the same id.
//   - A node that drops another publishes the testaments and on_leave of
//     its sessions only if it is the smallest of the nodes it still sees
//     and they are at least half of the nodes alive lately (quorum): a node
//     cut off alone does not announce the others' sessions gone. When the
//     dropped node comes back (it was cut off or paused, not dead), the
//     node that announced its sessions gone tells it (KindFenced) and it
//     closes them, without a second on_leave: their clients reconnect and
//     can read what they missed from the event history. Every node
//     publishes junction.cluster.on_rejoin to its own sessions when a node
//     it had dropped comes back: events from that node's sessions may have
//     been missed meanwhile.

// Meta topic published, on each node, when a node it had dropped is back.
const topicRejoin wamp.URI = "junction.cluster.on_rejoin"

// auditMax bounds the calls one audit message asks about.
const auditMax = 8192

// quorumMemory: how long a dropped node still counts among the nodes a
// quorum is taken of, in node timeouts.
const quorumMemory = 3

// fenceMemory: how long a node remembers the sessions of a dropped node
// whose departure it announced, for when that node comes back.
const fenceMemory = 24 * time.Hour

// droppedMax bounds the dropped nodes remembered (a node gets a new id at
// every start, so a node restarting in a loop would add one each time).
const droppedMax = 256

// forgetOldestDroppedLocked makes room for one more dropped node. Under l.mu.
func (l *clusterLink) forgetOldestDroppedLocked() {
	if len(l.dropped) < droppedMax {
		return
	}
	var oldest string
	for id, d := range l.dropped {
		if oldest == "" || d.at.Before(l.dropped[oldest].at) {
			oldest = id
		}
	}
	delete(l.dropped, oldest)
}

// dropped is what a node remembers of a node it dropped.
type dropped struct {
	at       time.Time
	sessions map[string][]uint64 // realm -> sessions whose departure this node announced
}

// digestItem adds the hash of one item of routing state to sum.
func digestItem(sum *uint64, parts ...any) {
	h := fnv.New64a()
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		case uint64:
			b = binary.AppendUvarint(b, v)
		}
	}
	_, _ = h.Write(b)
	*sum += h.Sum64()
}

func sessionItem(sum *uint64, realm string, id uint64, authid, authrole string) {
	digestItem(sum, "session", realm, id, authid, authrole)
}

func registrationItem(sum *uint64, realm string, session uint64, e *wire.Envelope) {
	digestItem(sum, "registration", realm, session, e.Registration, e.Procedure, e.Match, e.Invoke)
}

func subscriptionItem(sum *uint64, realm string, session uint64, match, topic string) {
	digestItem(sum, "subscription", realm, session, match, topic)
}

func testamentItem(sum *uint64, realm string, session uint64, scope, topic string) {
	digestItem(sum, "testament", realm, session, scope, topic)
}

// ownDigest is the digest of this node's own routing state, as its
// snapshot tells it.
func (l *clusterLink) ownDigest() uint64 {
	var sum uint64
	for _, rm := range l.r.allRealms() {
		realm := string(rm.Name)
		for _, rc := range rm.Sessions() {
			s, local := rc.(*session)
			if !local || s.internal {
				continue
			}
			sessionItem(&sum, realm, uint64(s.id), s.authid, s.authrole)
			s.testMu.Lock()
			for scope, ts := range s.testaments {
				for _, t := range ts {
					testamentItem(&sum, realm, uint64(s.id), scope, string(t.topic))
				}
			}
			s.testMu.Unlock()
		}
		for _, reg := range rm.Dealer.All() {
			for _, c := range reg.Callees {
				if s, local := c.(*session); local && !s.internal {
					registrationItem(&sum, realm, uint64(s.id), registerEnvelope(s, reg))
				}
			}
		}
		for _, sub := range rm.Broker.All() {
			for rc := range sub.Subscribers.All() {
				if s, local := rc.(*session); local && !s.internal {
					subscriptionItem(&sum, realm, uint64(s.id), string(sub.Match), string(sub.Topic))
				}
			}
		}
	}
	return sum
}

// viewDigest is the digest of what this node holds of node n's routing
// state. Under l.mu.
func (l *clusterLink) viewDigest(n *remoteNode) uint64 {
	var sum uint64
	for id, p := range n.proxies {
		realm := string(p.realm.Name)
		sessionItem(&sum, realm, uint64(id), p.authid, p.authrole)
		p.testMu.Lock()
		for scope, ts := range p.testaments {
			for _, t := range ts {
				testamentItem(&sum, realm, uint64(id), scope, string(t.topic))
			}
		}
		p.testMu.Unlock()
		p.invMu.Lock()
		for _, e := range p.announced {
			registrationItem(&sum, realm, uint64(id), e)
		}
		for k := range p.subs {
			subscriptionItem(&sum, realm, uint64(id), k[0], k[1])
		}
		p.invMu.Unlock()
	}
	return sum
}

// retainedDigest is the digest of the retained events this node holds:
// the same on every node once they converged.
func (l *clusterLink) retainedDigest() uint64 {
	var sum uint64
	for _, rm := range l.r.allRealms() {
		for _, ev := range rm.events.allRetained() {
			digestItem(&sum, "retained", string(rm.Name), string(ev.topic), uint64(ev.publication))
		}
	}
	return sum
}

// repair runs every repair interval: digests to every node, audits of the
// calls in flight on other nodes' callees.
func (l *clusterLink) repair() {
	own, retained := l.ownDigest(), l.retainedDigest()
	l.mu.Lock()
	ids := make([]string, 0, len(l.nodes))
	for id := range l.nodes {
		ids = append(ids, id)
	}
	for _, id := range ids {
		_ = l.send(id, &wire.Envelope{Kind: wire.KindDigest, Sum: own, RetainedSum: retained})
	}
	now := time.Now()
	for id, d := range l.dropped {
		if now.Sub(d.at) > fenceMemory {
			delete(l.dropped, id)
		}
	}
	l.mu.Unlock()
	for _, id := range ids {
		l.audit(id, l.repairAge())
	}
}

// repairAge: calls in flight for less than this are not audited yet.
func (l *clusterLink) repairAge() time.Duration { return l.bus.NodeTimeout() / 5 }

// checkDigest compares node n's digests with what this node holds. Under
// the node's delivery order.
func (l *clusterLink) checkDigest(n *remoteNode, e *wire.Envelope) {
	l.mu.Lock()
	view := l.viewDigest(n)
	l.mu.Unlock()
	if view != e.Sum {
		n.digestMisses++
	} else {
		n.digestMisses = 0
	}
	if l.retainedDigest() != e.RetainedSum {
		n.retainedMisses++
	} else {
		n.retainedMisses = 0
	}
	if n.digestMisses >= 2 || n.retainedMisses >= 2 {
		l.r.stats.ClusterResyncs.Add(1)
		l.r.log.Warn("cluster state differs from another node's: asking for its snapshot", "node", n.id,
			"sessions_etc", n.digestMisses >= 2, "retained", n.retainedMisses >= 2)
		n.digestMisses, n.retainedMisses = 0, 0
		_ = l.send(n.id, &wire.Envelope{Kind: wire.KindResync})
	}
}

// audit asks node id about the calls routed to its callees from this node
// for longer than age (0: all of them).
func (l *clusterLink) audit(id string, age time.Duration) {
	l.mu.Lock()
	n := l.nodes[id]
	var proxies []*proxy
	if n != nil {
		for _, p := range n.proxies {
			proxies = append(proxies, p)
		}
	}
	l.mu.Unlock()
	byRealm := make(map[string][]uint64)
	count := 0
	since := time.Now().Add(-age)
	for _, p := range proxies {
		p.invMu.Lock()
		for rid, inv := range p.invocations {
			// Only a call whose INVOCATION is on the link already: the
			// audit then arrives after it (one still being encoded, a
			// large one, would be taken for lost).
			if count < auditMax && inv.sent.Load() && (age == 0 || inv.start.Before(since)) {
				byRealm[string(p.realm.Name)] = append(byRealm[string(p.realm.Name)], uint64(p.id), uint64(rid))
				count++
			}
		}
		p.invMu.Unlock()
	}
	for realm, reqs := range byRealm {
		_ = l.send(id, &wire.Envelope{Kind: wire.KindAudit, Realm: realm, Requests: reqs})
	}
}

// audited answers an audit of node n: the calls it asks about that this
// node's callees do not run.
func (l *clusterLink) audited(n *remoteNode, rm *realm, e *wire.Envelope) {
	var unknown []uint64
	for i := 0; i+1 < len(e.Requests); i += 2 {
		known := false
		if rc, ok := rm.Session(wamp.ID(e.Requests[i])); ok {
			if s, local := rc.(*session); local {
				s.invMu.Lock()
				_, known = s.remoteIDs[origin{n.id, wamp.ID(e.Requests[i+1])}]
				s.invMu.Unlock()
			}
		}
		if !known {
			unknown = append(unknown, e.Requests[i], e.Requests[i+1])
		}
	}
	_ = l.send(n.id, &wire.Envelope{Kind: wire.KindAudited, Realm: e.Realm, Requests: unknown})
}

// lostCalls fails the calls node n's callees do not know: their
// INVOCATION or their answer was lost between the nodes.
func (l *clusterLink) lostCalls(n *remoteNode, e *wire.Envelope) {
	for i := 0; i+1 < len(e.Requests); i += 2 {
		p := n.proxies[wamp.ID(e.Requests[i])]
		if p == nil {
			continue
		}
		p.invMu.Lock()
		inv := p.invocations[wamp.ID(e.Requests[i+1])]
		p.invMu.Unlock()
		if inv != nil {
			l.r.stats.ClusterCallsLost.Add(1)
			l.r.log.Warn("a call's INVOCATION or answer was lost between cluster nodes: the caller gets an error", "node", n.id,
				"session", uint64(inv.caller.id), "request", uint64(inv.request))
			l.r.cancel(inv, cancelKillNoWait, wamp.ErrCanceled, "the call was lost between cluster nodes; it may or may not have run")
		}
	}
}

// quorum reports whether this node and the heard nodes it still lists
// (heard of them) are at least half of the nodes alive lately (those it
// lists and the dropped ones of the last quorumMemory node timeouts); in a
// tie, both halves count as one. A listed node silent for half the node
// timeout does not count for the quorum: a node cut off drops the others
// one after the other, and when it drops the first, the others, as silent,
// are still listed. Under l.mu.
func (l *clusterLink) quorum(now time.Time, heard int) bool {
	alive := 1 + heard
	recent := 1 + len(l.nodes)
	for id, d := range l.dropped {
		if l.nodes[id] == nil && now.Sub(d.at) <= quorumMemory*l.bus.NodeTimeout() {
			recent++
		}
	}
	return 2*alive >= recent
}

// fence closes the sessions of this node that another node announced gone
// while it could not hear from this one: they leave without a second
// on_leave and without publishing their testaments again.
func (l *clusterLink) fence(rm *realm, ids []uint64) {
	closed := 0
	for _, id := range ids {
		rc, ok := rm.Session(wamp.ID(id))
		if s, local := rc.(*session); ok && local {
			s.fence()
			closed++
		}
	}
	l.r.stats.ClusterSessionsFenced.Add(uint64(closed))
	l.r.log.Warn("sessions closed: the cluster announced them gone while this node was cut off", "realm", rm.Name, "sessions", closed)
}

// fence ends s: another node announced its departure (on_leave,
// testaments) while this node was cut off.
func (s *session) fence() {
	s.fenced.Store(true)
	s.goAway("this router node was cut off from the cluster: reconnect", "cut off from the cluster")
}

// rejoined tells this node's sessions that node id, dropped at since, is
// back: events of its sessions may have been missed meanwhile.
func (l *clusterLink) rejoined(id string, since time.Time) {
	now := time.Now()
	details := wamp.Dict{"node": id, "dropped": since.UTC().Format(time.RFC3339Nano), "rejoined": now.UTC().Format(time.RFC3339Nano)}
	for _, rm := range l.r.allRealms() {
		rm.deliver(&publication{id: wamp.GlobalID(), topic: topicRejoin, payload: wamp.Values([]any{details}, nil)}, nil)
	}
}

// Registration conflicts.

// pendingKey names a procedure registration in a realm.
type pendingKey struct {
	realm     string
	match     string
	procedure string
}

// registerRemote routes proxy p's registration e, or keeps it pending if a
// registration with a smaller id holds the procedure (see the top of this
// file). A local registration that loses is revoked. Under the node's
// delivery order.
func (l *clusterLink) registerRemote(p *proxy, e *wire.Envelope) {
	remoteID := wamp.ID(e.Registration)
	if remoteID == 0 {
		return // every node gives its registrations an id
	}
	p.invMu.Lock()
	if p.announced[remoteID] != nil {
		p.invMu.Unlock()
		return // known (a snapshot repeats what was announced)
	}
	p.announced[remoteID] = e
	p.invMu.Unlock()
	if !l.tryRegister(p, e) {
		return
	}
	l.settleID(p.realm, wamp.URI(e.Procedure), wamp.MatchPolicy(e.Match))
}

// tryRegister puts p's registration e in the dealer, unless one with a
// smaller id holds its procedure; it reports whether e is routed to.
func (l *clusterLink) tryRegister(p *proxy, e *wire.Envelope) bool {
	rm, remoteID := p.realm, wamp.ID(e.Registration)
	for {
		reg, _, err := rm.Dealer.RegisterAs(p, wamp.URI(e.Procedure), wamp.MatchPolicy(e.Match), wamp.InvokePolicy(e.Invoke), realms.RegisterOptions{
			DiscloseCaller: e.DiscloseCaller, ForwardTimeout: e.ForwardTimeout}, remoteID)
		if err == nil {
			p.invMu.Lock()
			p.regs[reg.ID] = remoteID
			p.invMu.Unlock()
			return true
		}
		holder := rm.Dealer.Lookup(wamp.URI(e.Procedure), wamp.MatchPolicy(e.Match).Norm())
		if holder == nil {
			continue // gone meanwhile
		}
		holderID := l.announcedID(holder)
		if holderID <= remoteID {
			l.r.stats.ClusterConflicts.Add(1)
			l.r.log.Warn("registration conflict: the one with the smaller id is routed to, this one waits", "procedure", e.Procedure,
				"node", p.node, "session", uint64(p.id), "registration", uint64(remoteID), "holder", uint64(holderID))
			return false
		}
		l.r.stats.ClusterConflicts.Add(1)
		l.r.log.Warn("registration conflict: the new one has the smaller id and is routed to, the holder waits", "procedure", e.Procedure,
			"node", p.node, "session", uint64(p.id), "registration", uint64(remoteID), "holder", uint64(holderID))
		l.demote(holder)
	}
}

// announcedID is the id reg's first callee's node gave it.
func (l *clusterLink) announcedID(reg *realms.Registration) wamp.ID {
	if len(reg.Callees) > 0 {
		if p, ok := reg.Callees[0].(*proxy); ok {
			if rid := p.registrationID(reg.ID); rid != 0 {
				return rid
			}
		}
	}
	return reg.ID
}

// demote takes registration reg away from its callees: remote ones wait
// (pending), local ones are revoked (UNREGISTERED, announced).
func (l *clusterLink) demote(reg *realms.Registration) {
	for _, c := range reg.Callees {
		switch c := c.(type) {
		case *proxy:
			c.invMu.Lock()
			delete(c.regs, reg.ID)
			c.invMu.Unlock()
			_, _, _ = c.realm.Dealer.Unregister(c, reg.ID)
		case *session:
			c.revoke(reg)
		}
	}
}

// revoke takes registration reg away from local callee s, which lost a
// conflict with another node's: it gets UNREGISTERED (if it announced
// registration revocation) and the other nodes hear of it.
func (s *session) revoke(reg *realms.Registration) {
	_, deleted, err := s.realm.Dealer.Unregister(s, reg.ID)
	if err != nil {
		return
	}
	s.realm.registrationGone(s, reg.ID, deleted)
	s.logger().Warn("registration revoked: another node's callee registered the procedure at the same time with a smaller id",
		"procedure", reg.Procedure, "registration", uint64(reg.ID))
	if s.feature(wamp.RoleCallee, "registration_revocation") {
		_ = s.send(&wamp.Unregistered{Details: wamp.Dict{"registration": uint64(reg.ID), "reason": string(wamp.ErrProcedureAlreadyExists)}})
	}
	go s.r.cluster().unregistered(s, reg.ID) // waits for the other nodes: not on the delivery goroutine
}

// promote routes, for every procedure of rm without a registration now,
// the pending registration with the smallest id.
func (l *clusterLink) promote(rm *realm) {
	type cand struct {
		p *proxy
		e *wire.Envelope
	}
	best := make(map[pendingKey]cand)
	for _, rc := range rm.Sessions() {
		p, ok := rc.(*proxy)
		if !ok {
			continue
		}
		p.invMu.Lock()
		for rid, e := range p.announced {
			if slices.Contains(mapValues(p.regs), rid) {
				continue
			}
			k := pendingKey{string(rm.Name), string(wamp.MatchPolicy(e.Match).Norm()), e.Procedure}
			if c, ok := best[k]; !ok || e.Registration < c.e.Registration {
				best[k] = cand{p, e}
			}
		}
		p.invMu.Unlock()
	}
	for k, c := range best {
		if rm.Dealer.Lookup(wamp.URI(k.procedure), wamp.MatchPolicy(k.match)) != nil {
			continue
		}
		if l.tryRegister(c.p, c.e) {
			l.r.log.Info("pending registration routed to now", "procedure", k.procedure, "node", c.p.node, "registration", c.e.Registration)
			l.settleID(rm, wamp.URI(k.procedure), wamp.MatchPolicy(k.match))
		}
	}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// settleID gives the registration of procedure, if all its callees are on
// other nodes, the smallest of the ids their nodes gave it.
func (l *clusterLink) settleID(rm *realm, procedure wamp.URI, match wamp.MatchPolicy) {
	reg := rm.Dealer.Lookup(procedure, match.Norm())
	if reg == nil {
		return
	}
	var want wamp.ID
	for _, c := range reg.Callees {
		p, ok := c.(*proxy)
		if !ok {
			return // a local callee knows it by the id it was given
		}
		if rid := p.registrationID(reg.ID); rid != 0 && (want == 0 || rid < want) {
			want = rid
		}
	}
	if want == 0 || want == reg.ID {
		return
	}
	if rm.Dealer.Rekey(reg, want) == nil { // nil: a local callee joined it meanwhile
		return
	}
	for _, c := range reg.Callees {
		p := c.(*proxy)
		p.invMu.Lock()
		if rid, ok := p.regs[reg.ID]; ok {
			delete(p.regs, reg.ID)
			p.regs[want] = rid
		}
		p.invMu.Unlock()
	}
}
