package router

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/wamp"
)

// Cancel modes of CANCEL.Options.mode.
const (
	cancelSkip       = "skip"
	cancelKill       = "kill"
	cancelKillNoWait = "killnowait"
)

func validCancelMode(m string) bool {
	return m == cancelSkip || m == cancelKill || m == cancelKillNoWait
}

// invocation is a CALL routed to a callee and not yet answered. It is in the
// callee's invocations (by INVOCATION request id) and the caller's calls (by
// CALL request id). Whoever takes it out of the callee's table owns its end.
type invocation struct {
	caller   *session
	request  wamp.ID // the caller's CALL request id
	callee   *member
	id       wamp.ID // the INVOCATION request id
	progress bool    // the caller asked for progressive results
	timer    *time.Timer

	registration wamp.ID
	start        time.Time // when the CALL came in
	// sent: the INVOCATION was handed to the callee's peer (for a proxy:
	// queued on the link to its node, ahead of any later audit of it).
	sent atomic.Bool
	// chunked is set while a progressive call invocation (CALL with
	// progress=true) awaits further chunks; read and written only on the
	// caller's goroutine.
	chunked bool
}

func (s *session) handleRegister(m *wamp.Register) end {
	o := options{d: m.Options, msg: wamp.REGISTER}
	match := oneOf(&o, wamp.OptMatch, wamp.MatchPolicy.Valid)
	invoke := oneOf(&o, wamp.OptInvoke, wamp.InvokePolicy.Valid)
	discloseCaller := o.boolean("disclose_caller", false)
	forwardTimeout := o.boolean("forward_timeout", false)
	if o.err != nil {
		return s.protocolViolation(o.err.Error())
	}
	if !s.patternURI(m.Procedure, match) {
		s.sendError(wamp.REGISTER, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("invalid procedure URI %q", clip(string(m.Procedure))))
		return goOn
	}
	if wamp.Reserved(m.Procedure) && !s.internal {
		s.sendError(wamp.REGISTER, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("procedure %q is reserved: wamp.* procedures belong to the router", m.Procedure))
		return goOn
	}
	if discloseCaller && s.realm.conf().cfg.DiscloseCaller == DiscloseNever {
		s.sendError(wamp.REGISTER, m.Request, wamp.ErrOptionNotAllowed, "this realm does not disclose callers: disclose_caller is not allowed")
		return goOn
	}
	perms := s.perms.Load() // what authorize reads: a reload may replace it meanwhile
	if ok, _ := s.authorize(ActionRegister, wamp.REGISTER, m.Request, m.Procedure, match, true); !ok {
		return goOn
	}
	if s.realm.authProcedure(m.Procedure) && !s.namesExactly(ActionRegister, m.Procedure) {
		s.logger().Warn("not authorized to register the realm's authenticator or authorizer", "procedure", m.Procedure, "authrole", s.authrole)
		s.sendError(wamp.REGISTER, m.Request, wamp.ErrNotAuthorized, fmt.Sprintf(
			"%s decides who logs in or what they may do: only a role with a rule naming it exactly may register it", m.Procedure))
		return goOn
	}
	if max := s.r.config().MaxRegistrationsPerSession; s.realm.Dealer.SessionCount(s) >= max {
		s.refuseOverLimit(LimitRegistrations, wamp.REGISTER, m.Request, "a session may hold at most %d registrations", max)
		return goOn
	}
	if max := s.r.config().MaxRegistrationsPerAddress; s.overAddress(registrationsOf, max) {
		s.refuseOverLimit(LimitRegistrationsPerAddress, wamp.REGISTER, m.Request, "the sessions of %s may hold at most %d registrations together", s.address, max)
		return goOn
	}
	s.registering.Store(true)
	s.regMu.Lock()
	reg, created, err := s.realm.Dealer.Register(s, m.Procedure, match, invoke, realms.RegisterOptions{
		DiscloseCaller: discloseCaller, ForwardTimeout: forwardTimeout,
	})
	if err == nil {
		s.awaitRegistered(reg.ID)
	}
	s.regMu.Unlock()
	s.syncHeld()
	if err != nil {
		s.registeredSent(0)
	}
	if errors.Is(err, realms.ErrProcedureExists) {
		if held := s.realm.Dealer.Lookup(m.Procedure, match); held != nil {
			if node, wait := s.r.cluster().heldBySilentNode(held); node != "" {
				// The callee holding it is most likely on a dead node not
				// dropped yet: say when a retry will succeed.
				s.send(&wamp.Error{Type: wamp.REGISTER, Request: m.Request, Details: wamp.Dict{}, Error: wamp.ErrProcedureAlreadyExists,
					Payload: wamp.Values([]any{fmt.Sprintf("procedure %q is held by a callee on cluster node %s, which has stopped answering: "+
						"unless it comes back it is dropped within %s, and a REGISTER retried then succeeds", clip(string(m.Procedure)), node, wait.Round(time.Millisecond))},
						wamp.Dict{"retry_after_ms": wait.Milliseconds()})})
				return goOn
			}
		}
		s.sendError(wamp.REGISTER, m.Request, wamp.ErrProcedureAlreadyExists,
			fmt.Sprintf("procedure %q is already registered (shared registration needs the same invoke policy, other than single)", m.Procedure))
		return goOn
	}
	s.r.cluster().registered(s, reg) // callable from every node once REGISTERED
	_ = s.send(&wamp.Registered{Request: m.Request, Registration: reg.ID})
	s.registeredSent(reg.ID) // the INVOCATIONs routed to it meanwhile follow
	if created {
		s.realm.metaEvent("wamp.registration.on_create", uint64(s.id), registrationDetails(reg))
	}
	s.realm.metaEvent("wamp.registration.on_register", uint64(s.id), uint64(reg.ID))
	if now := s.perms.Load(); now != perms && now != nil {
		// A reload swapped the rules after authorize, perhaps after it
		// revoked what s held: the new rules decide this one too.
		if ok, _ := now.allowsPattern(ActionRegister, match.Norm(), m.Procedure); !ok {
			s.revokeRegistration(reg)
		}
	}
	return goOn
}

func (s *session) handleUnregister(m *wamp.Unregister) {
	_, deleted, err := s.realm.Dealer.Unregister(s, m.Registration)
	s.syncHeld()
	if err != nil {
		s.sendError(wamp.UNREGISTER, m.Request, wamp.ErrNoSuchRegistration,
			fmt.Sprintf("no registration %d in this session", m.Registration))
		return
	}
	s.r.cluster().unregistered(s, m.Registration)
	_ = s.send(&wamp.Unregistered{Request: m.Request})
	s.realm.registrationGone(s, m.Registration, deleted)
}

// registrationGone publishes the meta events of s leaving a registration.
func (rm *realm) registrationGone(s *session, id wamp.ID, deleted bool) {
	rm.metaEvent("wamp.registration.on_unregister", uint64(s.id), uint64(id))
	if deleted {
		rm.metaEvent("wamp.registration.on_delete", uint64(s.id), uint64(id))
	}
}

// callRequest is a CALL's options, read and checked.
type callRequest struct {
	*wamp.Call
	progress bool  // receive_progress: the caller takes progressive results
	chunk    bool  // progress: a progressive call invocation, more to come
	timeout  int64 // milliseconds, 0: none
	disclose bool  // disclose the caller to the callee
}

// handleCall routes a CALL to a callee as an INVOCATION carrying the
// caller's payload as it came.
func (s *session) handleCall(m *wamp.Call) end {
	o := options{d: m.Options, msg: wamp.CALL}
	c := callRequest{Call: m, progress: o.boolean("receive_progress", false), chunk: o.boolean("progress", false),
		timeout: o.millis("timeout")}
	discloseMe := o.boolean(wamp.OptDiscloseMe, false)
	o.passthru()
	o.routerLinks()
	if o.err != nil {
		return s.protocolViolation(o.err.Error())
	}
	if !s.validURI(m.Procedure) {
		s.sendError(wamp.CALL, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("invalid procedure URI %q", clip(string(m.Procedure))))
		return goOn
	}
	if discloseMe && s.realm.conf().cfg.DiscloseCaller == DiscloseNever {
		s.sendError(wamp.CALL, m.Request, "wamp.error.disclose_me.not_allowed", "this realm does not disclose callers")
		return goOn
	}
	if inv := s.call(m.Request); inv != nil {
		if !inv.chunked {
			// The spec's request ids increase; reusing one of a call in
			// flight would also orphan that call and slip past the bound on
			// calls in flight.
			return s.protocolViolation(fmt.Sprintf("CALL request id %d is that of a call in flight", m.Request))
		}
		s.callChunk(inv, m, c.chunk)
		return goOn
	}
	allowed, perm := s.authorize(ActionCall, wamp.CALL, m.Request, m.Procedure, "", true)
	if !allowed {
		return goOn
	}
	disclose := s.realm.conf().cfg.DiscloseCaller
	c.disclose = disclose == DiscloseAlways || disclose != DiscloseNever && (discloseMe || perm != nil && perm.DiscloseCaller)
	if c.chunk && !s.feature(wamp.RoleCaller, "progressive_call_invocations") {
		return s.protocolViolation("CALL with progress=true from a caller that did not announce progressive_call_invocations")
	}
	if wamp.Reserved(m.Procedure) {
		s.callReserved(m)
		return goOn
	}
	if s.r.draining.Load() && !s.callingAsCallee() {
		s.sendError(wamp.CALL, m.Request, wamp.ErrCanceled, "the router is shutting down and takes no new calls")
		return goOn
	}
	if max := s.r.config().MaxCallsPerSession; s.callCount() >= max {
		s.refuseOverLimit(LimitCalls, wamp.CALL, m.Request, "a session may have at most %d calls in flight", max)
		return goOn
	}
	if max := s.r.config().MaxCallsPerAddress; s.overAddress(callsOf, max) {
		s.refuseOverLimit(LimitCallsPerAddress, wamp.CALL, m.Request, "the sessions of %s may have at most %d calls in flight together", s.address, max)
		return goOn
	}
	s.route(&c)
	return goOn
}

// callReserved answers a CALL of a wamp.* procedure: the router's own meta
// procedures, never a client's registration (wamp.* belongs to the router,
// and a client's pattern could otherwise match it). The kill procedures
// need a grant that names them.
func (s *session) callReserved(m *wamp.Call) {
	if killProcedures[m.Procedure] && !s.grantedExplicitly(m.Procedure) {
		s.logger().Info("not authorized", "action", "call", "uri", m.Procedure, "authrole", s.authrole)
		s.sendError(wamp.CALL, m.Request, wamp.ErrNotAuthorized, fmt.Sprintf(
			"%s needs a permission that names it (a rule whose uri starts with \"wamp.\"), which role %q does not have", m.Procedure, s.authrole))
		return
	}
	if !s.callMeta(m) {
		s.sendError(wamp.CALL, m.Request, wamp.ErrNoSuchProcedure, fmt.Sprintf("no meta procedure %q: wamp.* procedures belong to the router", m.Procedure))
	}
}

// route sends a checked CALL to the callee its procedure matches.
func (s *session) route(c *callRequest) {
	m := c.Call
	reg := s.realm.Dealer.Match(m.Procedure)
	if reg == nil || s.internal && reg.Match != wamp.MatchExact {
		// The router's own calls (authenticator, authorizer) trust only an
		// exact registration: a pattern must not answer who may log in.
		s.sendError(wamp.CALL, m.Request, wamp.ErrNoSuchProcedure, fmt.Sprintf("no callee registered procedure %q", m.Procedure))
		return
	}
	picked := reg.PickAvoiding(avoidDraining).(recipient)
	callee := picked.base()
	if c.chunk && (!callee.feature(wamp.RoleCallee, "progressive_call_invocations") || !callee.canCancel()) {
		s.sendError(wamp.CALL, m.Request, wamp.ErrFeatureNotSupported, "the callee does not support progressive call invocations")
		return
	}
	regID := picked.registrationID(reg.ID) // a proxy's is its own node's
	inv := &invocation{caller: s, request: m.Request, callee: callee, progress: c.progress, registration: regID, chunked: c.chunk, start: time.Now()}
	switch callee.addInvocation(inv) {
	case errCalleeGone:
		s.sendError(wamp.CALL, m.Request, wamp.ErrCanceled, "callee left before the call could be delivered")
		return
	case errCalleeFull:
		s.refuseOverLimit(LimitInvocations, wamp.CALL, m.Request, "the callee has the most calls in flight a session may have (%d)", s.r.config().MaxInvocationsPerSession)
		return
	}
	s.addCall(inv)
	details := s.invocationDetails(c, reg, callee, inv)
	err := callee.send(&wamp.Invocation{Request: inv.id, Registration: regID, Details: details, Payload: m.Payload})
	if err == nil {
		inv.sent.Store(true)
	}
	if err != nil && callee.takeInvocation(inv.id) != nil {
		s.endCall(inv)
		if cannotConvert(err) {
			s.sendError(wamp.CALL, m.Request, wamp.ErrInvalidArgument, fmt.Sprintf(
				"the call's arguments cannot be carried to the callee, which uses %s: %v", callee.peer.Serializer().Name(), err))
			return
		}
		if tooLarge(err) {
			s.sendError(wamp.CALL, m.Request, wamp.ErrPayloadSizeExceeded, "the call is larger than the callee's transport accepts: "+err.Error())
			return
		}
		s.sendError(wamp.CALL, m.Request, wamp.ErrCanceled, "call could not be delivered to the callee: "+err.Error())
	}
}

// invocationDetails returns INVOCATION.Details (nil for a plain call) and
// starts the call's timer when the router, not the callee, times it.
func (s *session) invocationDetails(c *callRequest, reg *realms.Registration, callee *member, inv *invocation) wamp.Dict {
	var details lazyDict // no allocation for a plain call
	if reg.Match != wamp.MatchExact {
		details.set("procedure", string(c.Procedure))
	}
	if c.disclose || reg.DiscloseCaller && s.realm.conf().cfg.DiscloseCaller != DiscloseNever {
		details.set("caller", uint64(s.id))
		details.set("caller_authid", s.authid)
		details.set("caller_authrole", s.authrole)
	}
	if c.progress && callee.feature(wamp.RoleCallee, "progressive_call_results") {
		details.set("receive_progress", true)
	}
	if c.chunk {
		details.set("progress", true)
	}
	if c.timeout > 0 {
		if reg.ForwardTimeout && callee.feature(wamp.RoleCallee, "call_timeout") {
			details.set("timeout", c.timeout)
		} else {
			s.callMu.Lock() // endCall reads the timer under it, from any goroutine
			inv.timer = time.AfterFunc(time.Duration(c.timeout)*time.Millisecond, func() { s.r.timeOut(inv) })
			s.callMu.Unlock()
		}
	}
	return details.d
}

// callChunk forwards a further chunk of a progressive call invocation to the
// same INVOCATION request id; the chunk without progress=true is the last.
func (s *session) callChunk(inv *invocation, m *wamp.Call, more bool) {
	details := wamp.Dict{}
	if more {
		details["progress"] = true
	} else {
		inv.chunked = false
	}
	err := inv.callee.send(&wamp.Invocation{Request: inv.id, Registration: inv.registration, Details: details, Payload: m.Payload})
	switch {
	case cannotConvert(err):
		s.r.abandonCall(inv, wamp.ErrInvalidArgument, fmt.Sprintf("a chunk of the call's arguments cannot be carried to the callee, which uses %s: %v",
			inv.callee.peer.Serializer().Name(), err))
	case tooLarge(err):
		s.r.abandonCall(inv, wamp.ErrPayloadSizeExceeded, "a chunk of the call is larger than the callee's transport accepts: "+err.Error())
	case err != nil:
		s.logger().Debug("chunk of a progressive call not delivered", "error", err)
	}
}

// abandonCall ends a call whose messages cannot be carried between its
// caller and its callee (their serializers, a transport's maximum message
// length): the caller gets ERROR uri saying why, and the callee, if it can
// be canceled, an INTERRUPT with uri as its reason.
func (r *Router) abandonCall(inv *invocation, uri wamp.URI, why string) {
	if inv.callee.takeInvocation(inv.id) == nil {
		return // answered meanwhile
	}
	inv.caller.endCall(inv)
	inv.caller.sendError(wamp.CALL, inv.request, uri, why)
	if inv.callee.canCancel() {
		_ = inv.callee.send(&wamp.Interrupt{Request: inv.id, Options: wamp.Dict{"mode": cancelKillNoWait, "reason": string(uri)}})
	}
}

// lazyDict is a details dict allocated on its first key.
type lazyDict struct{ d wamp.Dict }

func (l *lazyDict) set(key string, v any) {
	if l.d == nil {
		l.d = wamp.Dict{}
	}
	l.d[key] = v
}

// handleYield routes a callee's YIELD back to the caller as RESULT; a
// progressive YIELD keeps the call open.
func (s *member) handleYield(m *wamp.Yield) end {
	o := options{d: m.Options, msg: wamp.YIELD}
	progress := o.boolean("progress", false)
	if o.err != nil {
		return s.protocolViolation(o.err.Error())
	}
	if progress {
		inv := s.peekInvocation(m.Request)
		switch {
		case inv == nil:
			s.logger().Debug("progressive YIELD for unknown invocation ignored", "request", uint64(m.Request))
		case !inv.progress:
			s.logger().Debug("progressive YIELD ignored: the caller did not ask for progress", "request", uint64(m.Request))
		default:
			err := inv.caller.send(&wamp.Result{Request: inv.request, Details: wamp.Dict{"progress": true}, Payload: m.Payload})
			if cannotConvert(err) || tooLarge(err) {
				s.r.abandonCall(inv, undeliverableURI(err), undeliverableAnswer("a progressive result", inv.caller, err))
			}
		}
		return goOn
	}
	inv := s.takeInvocation(m.Request)
	if inv == nil {
		s.logger().Debug("YIELD for unknown invocation ignored", "request", uint64(m.Request))
		return goOn
	}
	inv.caller.endCall(inv)
	err := inv.caller.send(&wamp.Result{Request: inv.request, Payload: m.Payload}) // nil Details encode as {}
	if cannotConvert(err) || tooLarge(err) {
		inv.caller.sendError(wamp.CALL, inv.request, undeliverableURI(err), undeliverableAnswer("the result", inv.caller, err))
	}
	return goOn
}

// undeliverableAnswer says why a callee's answer cannot reach its caller:
// its serializer cannot carry it, or its transport takes no message that
// large.
func undeliverableAnswer(what string, caller *session, err error) string {
	if tooLarge(err) {
		return fmt.Sprintf("%s of the call is larger than your transport accepts: %v", what, err)
	}
	return fmt.Sprintf("%s of the call cannot be carried to you in %s: %v", what, caller.peer.Serializer().Name(), err)
}

// undeliverableURI is the error a caller gets for an answer it could not be
// sent: wamp.error.payload_size_exceeded or wamp.error.invalid_argument.
func undeliverableURI(err error) wamp.URI {
	if tooLarge(err) {
		return wamp.ErrPayloadSizeExceeded
	}
	return wamp.ErrInvalidArgument
}

// handleError routes a callee's ERROR for an invocation back to the caller.
func (s *member) handleError(m *wamp.Error) end {
	if m.Type != wamp.INVOCATION {
		return s.protocolViolation("ERROR for " + m.Type.String() + " is not valid from a client")
	}
	inv := s.takeInvocation(m.Request)
	if inv == nil {
		s.logger().Debug("ERROR for unknown invocation ignored", "request", uint64(m.Request))
		return goOn
	}
	inv.caller.endCall(inv)
	err := inv.caller.send(&wamp.Error{Type: wamp.CALL, Request: inv.request, Details: m.Details, Error: m.Error, Payload: m.Payload})
	if cannotConvert(err) || tooLarge(err) {
		inv.caller.sendError(wamp.CALL, inv.request, undeliverableURI(err),
			undeliverableAnswer("the callee's error "+string(m.Error), inv.caller, err))
	}
	return goOn
}

// handleCancel cancels a call of this session's, in the mode it asks
// (default killnowait); a callee that does not support call_canceling gets
// skip.
func (s *session) handleCancel(m *wamp.Cancel) end {
	o := options{d: m.Options, msg: wamp.CANCEL}
	mode := oneOf(&o, "mode", validCancelMode)
	if o.err != nil {
		return s.protocolViolation(o.err.Error())
	}
	if mode == "" {
		mode = cancelKillNoWait
	}
	inv := s.call(m.Request)
	if inv == nil {
		s.logger().Debug("CANCEL for a call that is not pending", "request", uint64(m.Request))
		return goOn
	}
	s.r.cancel(inv, mode, wamp.ErrCanceled, "call canceled by the caller")
	return goOn
}

// cancel ends inv in mode, answering the caller with uri.
func (r *Router) cancel(inv *invocation, mode string, uri wamp.URI, message string) {
	if !inv.callee.canCancel() {
		mode = cancelSkip
	}
	if mode == cancelKill {
		_ = inv.callee.send(&wamp.Interrupt{Request: inv.id, Options: wamp.Dict{"mode": mode, "reason": string(uri)}})
		return // the callee's answer goes to the caller
	}
	if inv.callee.takeInvocation(inv.id) == nil {
		return // answered meanwhile
	}
	inv.caller.endCall(inv)
	inv.caller.sendError(wamp.CALL, inv.request, uri, message)
	if mode == cancelKillNoWait {
		_ = inv.callee.send(&wamp.Interrupt{Request: inv.id, Options: wamp.Dict{"mode": mode, "reason": string(uri)}})
	}
}

// timeOut ends a call whose timeout expired: killnowait if the callee
// supports canceling, else skip, with wamp.error.timeout.
func (r *Router) timeOut(inv *invocation) {
	r.cancel(inv, cancelKillNoWait, wamp.ErrTimeout, "call timed out")
}
