package router

import (
	"errors"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// member is what a realm holds of each of its sessions, whether of this node
// (a *session) or of another node of a cluster (a *proxy, cluster_proxy.go):
// who it is, its peer, its testaments, and the calls routed to it as
// callee. Messages to it go through its peer.
type member struct {
	r        *Router
	peer     transport.Peer
	encoding wamp.Encoding
	binary   bool
	address  string // the client's IP address ("node <id>" for a proxy)

	// Set once in handshake (or when a proxy is made), read-only afterwards.
	identity
	realm        *realm
	authmethod   string
	authprovider string
	joined       time.Time
	roles        wamp.Dict // HELLO.Details.roles

	// invocations are the calls routed to this session as callee and not yet
	// answered, keyed by INVOCATION request id. gone is set when the session
	// has left, after which no invocation is added.
	invMu       sync.Mutex
	invocations map[wamp.ID]*invocation
	gone        bool
	invIDs      wamp.Sequence

	testMu     sync.Mutex
	testaments map[string][]testament // by scope: detached, destroyed
	testBytes  int                    // their sizes, summed

	established atomic.Bool

	// registering is set while a REGISTER of this session is between the
	// dealer taking it and REGISTERED being queued (in a cluster, the other
	// nodes are told in between): the INVOCATIONs routed to it meanwhile
	// wait in heldInv, by registration, and follow REGISTERED, for a client
	// must hear of a registration before its first invocation.
	registering atomic.Bool
	regMu       sync.Mutex
	heldInv     map[wamp.ID][]*wamp.Invocation
}

// recipient is a realms.Recipient of the router's: a *session or a *proxy.
type recipient interface {
	realms.Recipient
	base() *member
	// registrationID is the id the callee knows registration id by.
	registrationID(id wamp.ID) wamp.ID
	// kill ends the session on behalf of the meta API.
	kill(reason wamp.URI, message string)
}

func (m *member) base() *member                     { return m }
func (m *member) registrationID(id wamp.ID) wamp.ID { return id }

var (
	_ recipient = (*session)(nil)
	_ recipient = (*proxy)(nil)
)

// session is one WAMP session of this node: a peer joined to a realm. Its
// read loop runs on the transport's read goroutine; other sessions'
// goroutines reach it only through its peer (Send, SendFrame) and its
// invocation table.
type session struct {
	member
	// budget is what the sessions of address hold together (nil for the
	// router's own sessions), and held what this
	// one has counted in it of its subscriptions and registrations.
	budget *addressBudget
	held   held

	// perms are the role's rules, set in handshake and replaced by Reload;
	// nil: everything allowed (or the dynamic authorizer decides).
	perms    atomic.Pointer[permissions]
	internal bool // set once: the router's own caller, for authenticator and authorizer calls
	// creds is the static principal s authenticated as (nil for others),
	// set once in handshake: a reload that changes its credentials ends s.
	creds *Principal
	// reloadEnded: a reload has ended s (it is killed once).
	reloadEnded atomic.Bool

	// remoteInv are invocations of s for calls another cluster node owns,
	// by s's request id, and remoteIDs the reverse (under invMu; see
	// cluster_proxy.go).
	remoteInv map[wamp.ID]origin
	remoteIDs map[origin]wamp.ID

	// calls are this session's own calls in flight, by CALL request id, for
	// CANCEL and for cleanup when the session leaves.
	callMu sync.Mutex
	calls  map[wamp.ID]*invocation

	// isVouched: the session's identity came with its in-process peer
	// (transport.Info.Identity), not from an authentication (set before
	// WELCOME, read-only after).
	isVouched bool

	goodbyeSent atomic.Bool // the router sent GOODBYE first
	// goodbyeOwed: the client said GOODBYE; the router answers once the
	// session has left (run), so that when the client reads the answer its
	// registrations and subscriptions are gone, on every node.
	goodbyeOwed  bool
	shuttingDown atomic.Bool
	// fenced: another cluster node announced this session gone (on_leave,
	// testaments) while this node was cut off; it leaves without doing so
	// again.
	fenced atomic.Bool

	// box is the inbox of a session attached by Router.Attach (push.go),
	// which its messages come from; nil for ServePeer's, read with Recv.
	box *inbox
}

// identity is who a session is, as EVENT.Details disclose a publisher: a
// session of this node (embedded in it) or of another node.
type identity struct {
	id       wamp.ID
	authid   string
	authrole string
}

func newSession(r *Router, p transport.Peer) *session {
	ser := p.Serializer()
	return &session{
		member: member{
			r:           r,
			peer:        p,
			encoding:    ser.Encoding(),
			address:     remoteIP(p.Info().RemoteAddr),
			binary:      ser.Binary(),
			invocations: make(map[wamp.ID]*invocation),
			testaments:  make(map[string][]testament),
		},
		calls: make(map[wamp.ID]*invocation),
	}
}

// logger is the session's logger, with its connection and, once joined,
// its realm, id and authid. It is built when the session logs, which is
// rare, rather than held by every session.
func (s *member) logger() *slog.Logger {
	info := s.peer.Info()
	l := s.r.log.With("remote", info.RemoteAddr, "transport", info.Transport, "serializer", s.peer.Serializer().Name())
	if s.realm != nil {
		l = l.With("realm", s.realm.Name, "session", uint64(s.id), "authid", s.authid)
	}
	return l
}

// recv reads the peer's next message and counts it by type: from Recv, or
// the inbox of an attached session, waiting for it (the handshake's timers
// bound the wait).
func (s *session) recv() (wamp.Message, error) {
	return s.read(true)
}

// read is recv; with wait false, an attached session's empty inbox is
// errIdle instead of a wait.
func (s *session) read(wait bool) (msg wamp.Message, err error) {
	if s.box != nil {
		msg, err = s.box.next(wait)
	} else {
		msg, err = s.peer.Recv()
	}
	if err == nil {
		s.r.stats.MessagesIn.add(msg.MessageType(), 1)
	}
	return msg, err
}

// SessionID implements realms.Recipient.
func (s *member) SessionID() wamp.ID { return s.id }

// serve runs the session: handshake, then messages until it ends. A panic
// while handling a message ends this session only: it is logged with its
// stack, the peer gets ABORT and CloseInternalError (1011 on WebSocket), and
// the session is cleaned up.
func (s *session) serve() {
	if !s.handshake() {
		return
	}
	s.run()
}

// run dispatches the established session's messages until it ends, then
// makes it leave, and reports true; or, for an attached session, until its
// inbox is empty, and reports false: the session goes on, with no goroutine,
// until Handle or Closed starts one.
func (s *session) run() (ended bool) {
	reason, idle := end("internal error"), false
	defer func() {
		if v := recover(); v != nil {
			idle = false
			s.r.stats.InternalErrors.Add(1)
			s.logger().Error("internal error handling a message, closing session", "panic", v, "stack", string(debug.Stack()))
			s.abort(wamp.URI("wamp.error.internal_error"), "internal router error", transport.CloseInternalError)
		}
		if !idle {
			s.leave(reason)
			if s.goodbyeOwed {
				_ = s.send(&wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut})
				s.peer.Close(transport.CloseNormal, "goodbye")
			}
		}
		ended = !idle
	}()
	reason, idle = s.loop()
	return !idle
}

// loop reads and dispatches messages until the session ends, and says why
// it ended; or until an attached session's inbox is empty (idle).
func (s *session) loop() (reason end, idle bool) {
	for {
		msg, err := s.read(false)
		if err == errIdle {
			return goOn, true
		}
		if err != nil {
			return s.inputError(err), false
		}
		if e := s.dispatch(msg); e.ended() {
			return e, false
		}
	}
}

// inputError ends the session after Recv failed and returns the reason.
func (s *session) inputError(err error) end {
	var perr *transport.ProtocolError
	switch {
	case errors.As(err, &perr):
		s.r.stats.ProtocolErrors.Add(1)
		msg := perr.Err.Error()
		s.logger().Warn("bad input, closing session", "error", msg, "close", perr.Code.String())
		s.abort(wamp.ErrProtocolViolation, msg, perr.Code)
		return end("protocol error: " + msg)
	case s.shuttingDown.Load():
		return "router shutdown"
	case errors.Is(err, io.EOF), errors.Is(err, transport.ErrClosed):
		return "connection closed"
	default:
		return end("connection lost: " + err.Error())
	}
}

// abort sends ABORT with reason and a human-readable message, then closes the
// connection with code.
func (s *member) abort(reason wamp.URI, message string, code transport.CloseCode) {
	s.r.stats.Aborted.Add(1)
	_ = s.peer.Send(&wamp.Abort{Details: wamp.Dict{"message": message}, Reason: reason})
	s.peer.Close(code, message)
}

// protocolViolation ends the session for a message it may not send now.
func (s *member) protocolViolation(message string) end {
	s.r.stats.ProtocolErrors.Add(1)
	s.logger().Warn("protocol violation, closing session", "error", message)
	s.abort(wamp.ErrProtocolViolation, message, transport.CloseProtocolError)
	return end("protocol violation: " + message)
}

// shutdown is called by Router.Shutdown from another goroutine.
func (s *session) shutdown() {
	s.shuttingDown.Store(true)
	s.goAway("router is shutting down", "router shutting down")
}

// goAway tells s's client to go (GOODBYE wamp.close.system_shutdown with
// message, if the session is established) and closes the connection with
// 1001 and reason: the client reconnects.
func (s *session) goAway(message, reason string) {
	if s.established.Load() {
		s.goodbyeSent.Store(true)
		_ = s.peer.Send(&wamp.Goodbye{Details: wamp.Dict{"message": message}, Reason: wamp.CloseSystemShutdown})
	}
	s.peer.Close(transport.CloseGoingAway, reason)
}

// leave removes the session from its realm, fails the calls it was
// answering, so that no caller waits for a callee that is gone, and cancels
// the calls it had made.
func (s *session) leave(reason end) {
	if s.fenced.Load() {
		_, released := s.takeTestaments() // published by the node that announced it gone
		s.countTestamentBytes(-released)
	} else {
		s.publishTestaments()
	}
	subs, regs := s.realm.Leave(s)
	s.syncHeld()
	failed := s.failInvocations("callee left before answering the call")
	s.callMu.Lock()
	own := s.calls
	s.calls = nil
	s.callMu.Unlock()
	s.countCalls(-len(own))
	for _, inv := range own {
		s.callMu.Lock()
		if inv.timer != nil {
			inv.timer.Stop()
		}
		s.callMu.Unlock()
		if inv.callee.takeInvocation(inv.id) != nil && inv.callee.canCancel() {
			_ = inv.callee.send(&wamp.Interrupt{Request: inv.id, Options: wamp.Dict{"mode": cancelKillNoWait, "reason": string(wamp.ErrCanceled)}})
		}
	}
	for _, sub := range subs {
		s.realm.subscriptionGone(s, sub.ID, sub.Deleted)
	}
	for _, reg := range regs {
		s.realm.registrationGone(s, reg.ID, reg.Deleted)
	}
	s.r.cluster().left(s)
	if !s.fenced.Load() {
		s.realm.metaEvent("wamp.session.on_leave", uint64(s.id), s.authid, s.authrole)
	}
	s.r.retire(s.realm)
	s.r.stats.SessionsLeft.Add(1)
	s.logger().Info("session left", "reason", string(reason), "duration", time.Since(s.joined).Round(time.Millisecond),
		"failed_invocations", failed)
}

// cancelCalls ends s's calls in flight: s gets ERROR uri for each, and
// their callees an INTERRUPT if they can be canceled.
func (s *session) cancelCalls(uri wamp.URI, why string) {
	s.callMu.Lock()
	own := make([]*invocation, 0, len(s.calls))
	for _, inv := range s.calls {
		own = append(own, inv)
	}
	s.callMu.Unlock()
	for _, inv := range own {
		s.r.cancel(inv, cancelKillNoWait, uri, why)
	}
}

// failInvocations marks s gone, so that no call is routed to it any more,
// and answers the calls it had not answered with wamp.error.canceled. It
// returns how many there were.
func (s *member) failInvocations(why string) int {
	s.invMu.Lock()
	s.gone = true
	pending := s.invocations
	s.invocations = nil
	s.invMu.Unlock()
	for _, inv := range pending {
		inv.caller.endCall(inv)
		inv.caller.sendError(wamp.CALL, inv.request, wamp.ErrCanceled, why)
	}
	return len(pending)
}

// Why addInvocation refused a call.
var (
	errCalleeGone = errors.New("router: callee left")
	errCalleeFull = errors.New("router: callee has the most invocations in flight it may have")
)

// addInvocation records a call routed to s as callee under a new INVOCATION
// request id (inv.id). It fails if s has left, or holds the most
// invocations a session may (MaxInvocationsPerSession).
func (s *member) addInvocation(inv *invocation) error {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	if s.gone {
		return errCalleeGone
	}
	if len(s.invocations) >= s.r.config().MaxInvocationsPerSession {
		return errCalleeFull
	}
	inv.id = s.invIDs.Next()
	s.invocations[inv.id] = inv
	return nil
}

// callingAsCallee reports whether s has invocations in flight as callee:
// while the router drains for shutdown, such a session may still call, to
// finish its work.
func (s *member) callingAsCallee() bool {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	return len(s.invocations) > 0
}

// callCount is the number of s's own calls in flight.
func (s *session) callCount() int {
	s.callMu.Lock()
	defer s.callMu.Unlock()
	return len(s.calls)
}

// peekInvocation returns the invocation with request id without taking it.
func (s *member) peekInvocation(id wamp.ID) *invocation {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	return s.invocations[id]
}

// addCall records a call of s in flight.
func (s *session) addCall(inv *invocation) {
	s.callMu.Lock()
	added := s.calls != nil
	if added {
		s.calls[inv.request] = inv
	}
	s.callMu.Unlock()
	if added {
		s.countCalls(1)
	}
}

// call returns s's call in flight with CALL request id.
func (s *session) call(request wamp.ID) *invocation {
	s.callMu.Lock()
	defer s.callMu.Unlock()
	return s.calls[request]
}

// endCall forgets a call of s that has ended, and stops its timer.
func (s *session) endCall(inv *invocation) {
	s.callMu.Lock()
	if inv.timer != nil {
		inv.timer.Stop()
	}
	ended := s.calls[inv.request] == inv
	if ended {
		delete(s.calls, inv.request)
	}
	s.callMu.Unlock()
	if ended {
		s.countCalls(-1)
		s.r.stats.CallLatency.Observe(time.Since(inv.start))
	}
}

// canCancel reports whether the peer announced call canceling (the spec
// spells it both call_canceling and call_cancelling).
func (s *member) canCancel() bool {
	return s.feature(wamp.RoleCallee, "call_canceling") || s.feature(wamp.RoleCallee, "call_cancelling")
}

// feature reports whether the peer announced feature for role in HELLO.
func (s *member) feature(role, feature string) bool {
	return s.roles.Dict(role).Dict("features").Bool(feature, false)
}

// takeInvocation removes and returns the invocation with request id, or nil.
func (s *member) takeInvocation(id wamp.ID) *invocation {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	inv := s.invocations[id]
	delete(s.invocations, id)
	return inv
}

// send queues m to the session's peer. A failure means the peer is closing
// (closed, or cut off as a slow consumer, which the transport logs and
// counts), that m cannot be carried by the peer's serializer (cannotConvert:
// the caller answers whoever sent it), or that a cluster node could not be
// reached (logged by the cluster link).
func (s *member) send(m wamp.Message) error {
	if inv, ok := m.(*wamp.Invocation); ok && s.registering.Load() && s.hold(inv) {
		return nil
	}
	return s.deliver(m)
}

// hold keeps INVOCATION m if its registration awaits its REGISTERED, and
// reports whether it did.
func (s *member) hold(m *wamp.Invocation) bool {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	held, ok := s.heldInv[m.Registration]
	if ok {
		s.heldInv[m.Registration] = append(held, m)
	}
	return ok
}

// awaitRegistered marks registration id, just taken by the dealer, as not
// yet told to s: INVOCATIONs for it are held until registeredSent. Called
// with regMu held, around the dealer's Register, and registering set
// before it.
func (s *member) awaitRegistered(id wamp.ID) {
	if s.heldInv == nil {
		s.heldInv = make(map[wamp.ID][]*wamp.Invocation)
	}
	s.heldInv[id] = nil
}

// registeredSent sends the INVOCATIONs held for registration id (0: none
// was taken) once its REGISTERED is queued. An INVOCATION that cannot be
// carried to s ends its call as route would.
func (s *member) registeredSent(id wamp.ID) {
	s.regMu.Lock()
	held := s.heldInv[id]
	delete(s.heldInv, id)
	var failed []error
	var failedInv []*wamp.Invocation
	for _, m := range held { // under regMu: INVOCATIONs routed from now on queue behind these
		if err := s.deliver(m); err != nil {
			failed, failedInv = append(failed, err), append(failedInv, m)
		}
	}
	s.registering.Store(false)
	s.regMu.Unlock()
	for i, m := range failedInv {
		if inv := s.peekInvocation(m.Request); inv != nil {
			s.r.abandonCall(inv, undeliverableURI(failed[i]), "call could not be delivered to the callee: "+failed[i].Error())
		}
	}
}

// deliver queues m to s's peer, counting it and what fails.
func (s *member) deliver(m wamp.Message) error {
	s.r.stats.MessagesOut.add(m.MessageType(), 1)
	err := s.peer.Send(m)
	switch {
	case cannotConvert(err):
		s.conversionFailed(m.MessageType(), err)
	case tooLarge(err):
		s.r.stats.TooLarge.Add(1)
		if ok, held := s.r.warnings.Allow("too large " + s.address); ok {
			s.logger().Warn("message larger than this session's transport accepts, not sent", "type", m.MessageType(), "error", err, "held_back", held)
		}
	}
	return err
}

// cannotConvert reports whether err from Send means the message's payload
// cannot be carried by the receiver's serializer: msgpack's NaN to JSON,
// for instance. The sender of the payload gets an ERROR for it.
func cannotConvert(err error) bool { return errors.Is(err, serializers.ErrUnconvertible) }

// tooLarge reports whether err from Send means the message is larger than
// the receiver's transport accepts (a RawSocket client's maximum): it was
// not sent, the peer is still open, and the sender of the payload gets
// ERROR wamp.error.payload_size_exceeded for it.
func tooLarge(err error) bool { return errors.Is(err, transport.ErrTooLarge) }

// conversionFailed counts a message s's serializer cannot carry and logs
// it at warn, at most once per interval for s's address.
func (s *member) conversionFailed(t wamp.MessageType, err error) {
	s.r.stats.ConversionFailures.Add(1)
	if ok, held := s.r.warnings.Allow("conversion " + s.address); ok {
		s.logger().Warn("payload cannot be converted for this session's serializer", "type", t, "error", err, "held_back", held)
	}
}

// sendError answers request of type reqType with an ERROR carrying uri and a
// message for people as its first argument.
// A message quoting what the client sent (a long URI, say) can make the
// ERROR larger than the client's transport accepts: it then gets the ERROR
// without the message, which always fits, so the request is answered.
func (s *member) sendError(reqType wamp.MessageType, request wamp.ID, uri wamp.URI, message string) {
	err := s.send(&wamp.Error{
		Type: reqType, Request: request, Details: wamp.Dict{}, Error: uri,
		Payload: wamp.Values([]any{message}, nil),
	})
	if tooLarge(err) {
		_ = s.send(&wamp.Error{Type: reqType, Request: request, Details: wamp.Dict{}, Error: uri})
	}
}
