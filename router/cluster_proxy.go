package router

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/cluster/wire"
	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// Proxies: the sessions of other nodes as this node holds them, and the
// rewriting of the request ids of invocations between the node that owns a
// call and its callee's node (see cluster.go).

// origin is an invocation as the node that owns the call knows it.
type origin struct {
	node string
	id   wamp.ID // the request id there
}

// proxy is a session of another node as this node holds it: a member of
// its realm (in the realm's sessions, in the dealer as callee of its
// registrations and in the broker as subscriber), whose peer is a
// clusterPeer. Calls routed to it are in its invocation table here, the
// node that owns them; events never go to it (its node delivers them).
type proxy struct {
	member
	node string // its node
	// Under invMu: regs maps its registrations routed to here to their ids
	// on its node; announced are all the registrations its node announced,
	// by id there, routed to or pending (cluster_repair.go); subs are its
	// subscriptions, by match policy and topic.
	regs      map[wamp.ID]wamp.ID
	announced map[wamp.ID]*wire.Envelope
	subs      map[[2]string]bool
	// draining is its node's remoteNode.draining.
	draining *atomic.Bool
}

// avoidDraining reports whether callee rc is a session of a node that
// drains: a call goes to it only if no other callee can take it.
func avoidDraining(rc realms.Recipient) bool {
	p, ok := rc.(*proxy)
	return ok && p.draining.Load()
}

// publishTestaments publishes the testaments of a proxy whose node is gone
// (it counts no bytes against an address here).
func (p *proxy) publishTestaments() {
	all, _ := p.takeTestaments()
	p.publishAll(all)
}

// dropProxy removes a remote session: from the realm and its registrations;
// the calls routed to it fail.
func (l *clusterLink) dropProxy(p *proxy, why string) {
	_, regs := p.realm.Leave(p)
	p.failInvocations("callee is gone: " + why)
	p.peer.(*clusterPeer).closeLocal()
	if len(regs) > 0 {
		for _, reg := range regs {
			if !reg.Deleted {
				l.settleID(p.realm, reg.Procedure, reg.Match)
			}
		}
		l.promote(p.realm)
	}
}

func (l *clusterLink) addProxy(n *remoteNode, rm *realm, e *wire.Envelope) *proxy {
	id := wamp.ID(e.Session)
	if p := n.proxies[id]; p != nil {
		return p
	}
	ser, ok := serializers.ByName(e.Serializer)
	if !ok {
		l.r.log.Error("remote session with an unknown serializer ignored", "node", n.id, "serializer", e.Serializer)
		return nil
	}
	p := &proxy{member: member{
		r: l.r, encoding: ser.Encoding(), binary: ser.Binary(), address: "node " + n.id,
		identity: identity{id: id, authid: e.AuthID, authrole: e.AuthRole}, realm: rm, authmethod: e.AuthMethod, authprovider: e.AuthProvider,
		joined: time.UnixMilli(e.Joined), roles: wamp.Dict(e.Roles),
		invocations: make(map[wamp.ID]*invocation), testaments: make(map[string][]testament),
	}, node: n.id, regs: make(map[wamp.ID]wamp.ID), announced: make(map[wamp.ID]*wire.Envelope), subs: make(map[[2]string]bool),
		draining: &n.draining}
	p.peer = &clusterPeer{l: l, node: n.id, realm: e.Realm, id: id, ser: ser, transport: e.Transport, done: make(chan struct{})}
	p.established.Store(true)
	l.mu.Lock()
	n.proxies[id] = p
	l.mu.Unlock()
	rm.Join(p)
	return p
}

// registrationID is the id the remote callee knows registration id by:
// the one on its own node, which its INVOCATIONs must carry.
func (p *proxy) registrationID(id wamp.ID) wamp.ID {
	p.invMu.Lock()
	defer p.invMu.Unlock()
	return p.regs[id]
}

func (l *clusterLink) removeRegistration(p *proxy, remoteID wamp.ID) {
	p.invMu.Lock()
	var local wamp.ID
	for lid, rid := range p.regs {
		if rid == remoteID {
			local = lid
			delete(p.regs, lid)
		}
	}
	e := p.announced[remoteID]
	delete(p.announced, remoteID)
	p.invMu.Unlock()
	if local != 0 {
		_, _, _ = p.realm.Dealer.Unregister(p, local)
		if e != nil {
			l.settleID(p.realm, wamp.URI(e.Procedure), wamp.MatchPolicy(e.Match))
		}
		l.promote(p.realm)
	}
}

// deliverInvocation gives local callee s an INVOCATION or INTERRUPT of a
// call node n owns, under s's own request id.
func (l *clusterLink) deliverInvocation(n *remoteNode, s *session, e *wire.Envelope) {
	// The frame is in s's serializer (the proxy's on the other node): only
	// the request id changes, spliced in, unless s holds INVOCATIONs until
	// a REGISTERED is queued (they are held decoded).
	if !s.registering.Load() {
		if f, ok := serializers.ParseRequestFrame(s.peer.Serializer(), e.Frame); ok && f.Type != wamp.YIELD {
			if id := s.remoteRequest(origin{n.id, wamp.ID(e.Request)}, f.Type == wamp.INVOCATION); id != 0 {
				s.deliverFrame(f.Type, f.WithRequest(id))
			}
			return
		}
	}
	msg, err := s.peer.Serializer().Decode(e.Frame)
	if err != nil {
		l.r.log.Error("undecodable invocation from a cluster node", "node", n.id, "error", err)
		return
	}
	var id wamp.ID
	switch msg.(type) {
	case *wamp.Invocation:
		id = s.remoteRequest(origin{n.id, wamp.ID(e.Request)}, true)
	case *wamp.Interrupt:
		id = s.remoteRequest(origin{n.id, wamp.ID(e.Request)}, false)
	}
	if id == 0 {
		return // the callee is gone (its node's leave tells the caller's), or the call was answered
	}
	switch m := msg.(type) {
	case *wamp.Invocation:
		m.Request = id
	case *wamp.Interrupt:
		m.Request = id
	}
	_ = s.send(msg)
}

// remoteRequest is s's request id for the invocation of call from (0: the
// callee is gone, or the call was answered); invocation: an INVOCATION,
// which gets a new id unless it is a further chunk of a progressive call
// invocation, else an INTERRUPT.
func (s *session) remoteRequest(from origin, invocation bool) wamp.ID {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	id, known := s.remoteIDs[from]
	if invocation && !known && !s.gone {
		id = s.invIDs.Next()
		if s.remoteInv == nil {
			s.remoteInv, s.remoteIDs = make(map[wamp.ID]origin), make(map[origin]wamp.ID)
		}
		s.remoteInv[id], s.remoteIDs[from] = from, id
	}
	return id
}

// deliverFrame queues an encoded message of type t to s's peer, counting
// it and what fails as deliver does. An INVOCATION too large for the peer
// is the caller's to hear of: its node times it out or audits it, as when
// its node decoded it (the error is not sent back either way).
func (s *member) deliverFrame(t wamp.MessageType, data []byte) {
	s.r.stats.MessagesOut.add(t, 1)
	if err := s.peer.SendFrame(transport.NewOwnFrame(data, s.peer.Serializer().Binary())); tooLarge(err) {
		s.r.stats.TooLarge.Add(1)
		if ok, held := s.r.warnings.Allow("too large " + s.address); ok {
			s.logger().Warn("message larger than this session's transport accepts, not sent", "type", t, "error", err, "held_back", held)
		}
	}
}

// answerOrigin returns the call another node owns that an answer of s with
// request id belongs to.
func (s *session) answerOrigin(id wamp.ID) (origin, bool) {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	from, ok := s.remoteInv[id]
	return from, ok
}

// answered forgets the call of another node that s answered, once the
// answer is on its way there: an audit of that node (audited) finds the
// call until then, and after it finds it missing only behind the answer
// on the link, so a call is never taken for lost while its answer travels.
func (s *session) answered(id wamp.ID, from origin) {
	s.invMu.Lock()
	if s.remoteInv[id] == from {
		delete(s.remoteInv, id)
		delete(s.remoteIDs, from)
	}
	s.invMu.Unlock()
}

// forwardAnswer sends a callee's YIELD or ERROR for an invocation another
// node owns to that node, under that node's request id.
func (l *clusterLink) forwardAnswer(s *session, m wamp.Message, from origin) {
	switch m := m.(type) {
	case *wamp.Yield:
		m.Request = from.id
	case *wamp.Error:
		m.Request = from.id
	}
	data, err := s.peer.Serializer().Encode(m)
	if err != nil {
		s.logger().Error("cannot encode an answer for the cluster", "error", err)
		return
	}
	_ = l.send(from.node, &wire.Envelope{Kind: wire.KindAnswer, Realm: string(s.realm.Name), Session: uint64(s.id), Frame: data})
}

// abandonInvocations interrupts what this node's callees run for the calls
// of a node that is gone: nobody waits for their answers.
func (l *clusterLink) abandonInvocations(node string) {
	l.r.sessionsMu.Lock()
	all := make([]*session, 0, len(l.r.sessions))
	for s := range l.r.sessions {
		all = append(all, s)
	}
	l.r.sessionsMu.Unlock()
	for _, s := range all {
		var ids []wamp.ID
		s.invMu.Lock()
		for id, from := range s.remoteInv {
			if from.node == node {
				ids = append(ids, id)
				delete(s.remoteInv, id)
				delete(s.remoteIDs, from)
			}
		}
		s.invMu.Unlock()
		if len(ids) > 0 && s.canCancel() {
			for _, id := range ids {
				_ = s.send(&wamp.Interrupt{Request: id, Options: wamp.Dict{"mode": cancelKillNoWait, "reason": string(wamp.ErrCanceled)}})
			}
		}
	}
}

// clusterPeer is the peer of a proxy: what is sent to it goes to its node.
type clusterPeer struct {
	l     *clusterLink
	node  string
	realm string
	id    wamp.ID
	ser   serializers.Serializer
	// transport is the session's own, on its node ("" from a node that
	// does not say).
	transport string
	once      sync.Once
	done      chan struct{}
}

var _ transport.Peer = (*clusterPeer)(nil)

func (p *clusterPeer) Recv() (wamp.Message, error) { return nil, transport.ErrClosed }

func (p *clusterPeer) Send(m wamp.Message) error {
	data, err := p.ser.Encode(m)
	if err != nil {
		return err
	}
	var request wamp.ID // the callee's node gives it the callee's own id
	switch m := m.(type) {
	case *wamp.Invocation:
		request = m.Request
	case *wamp.Interrupt:
		request = m.Request
	}
	return p.sendFrame(data, request)
}

func (p *clusterPeer) SendFrame(f *transport.Frame) error { return p.sendFrame(f.Data, 0) }

func (p *clusterPeer) sendFrame(data []byte, request wamp.ID) error {
	select {
	case <-p.done:
		return transport.ErrClosed
	default:
	}
	// An error (such as a message over NATS's max_payload) fails the call
	// or is logged: nothing is dropped unnoticed.
	if err := p.l.send(p.node, &wire.Envelope{Kind: wire.KindFrame, Realm: p.realm, Session: uint64(p.id), Frame: data,
		Binary: p.ser.Binary(), Request: uint64(request)}); err != nil {
		return fmt.Errorf("%w: %w", errNodeUnreachable, err)
	}
	return nil
}

// errNodeUnreachable: a message for a session of another node could not be
// sent to that node.
var errNodeUnreachable = errors.New("router: cluster node unreachable")

func (p *clusterPeer) Serializer() serializers.Serializer { return p.ser }

// Close closes the remote session's connection, on its node.
func (p *clusterPeer) Close(code transport.CloseCode, reason string) {
	_ = p.l.send(p.node, &wire.Envelope{Kind: wire.KindClose, Realm: p.realm, Session: uint64(p.id), Code: wire.CloseNumber(code), Reason: reason})
}

func (p *clusterPeer) closeLocal() { p.once.Do(func() { close(p.done) }) }

func (p *clusterPeer) Done() <-chan struct{} { return p.done }

func (p *clusterPeer) Established() {}

func (p *clusterPeer) Info() transport.Info {
	return transport.Info{Transport: p.transport, RemoteAddr: "cluster node " + p.node, Subprotocol: p.ser.Subprotocol()}
}
