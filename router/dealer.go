package router

import (
	"errors"
	"fmt"
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
	callee   *session
	id       wamp.ID // the INVOCATION request id
	progress bool    // the caller asked for progressive results
	timer    *time.Timer

	registration wamp.ID
	start        time.Time // when the CALL came in
	// chunked is set while a progressive call invocation (CALL with
	// progress=true) awaits further chunks; read and written only on the
	// caller's goroutine.
	chunked bool
}

func (s *session) handleRegister(m *wamp.Register) (bool, string) {
	o := options{d: m.Options, msg: wamp.REGISTER}
	match := o.oneOf(wamp.OptMatch, realms.ValidMatch)
	invoke := o.oneOf(wamp.OptInvoke, realms.ValidInvoke)
	discloseCaller := o.boolean("disclose_caller", false)
	forwardTimeout := o.boolean("forward_timeout", false)
	if o.err != nil {
		return s.protocolViolation(o.err.Error())
	}
	if !s.patternURI(m.Procedure, match) {
		s.sendError(wamp.REGISTER, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("invalid procedure URI %q", m.Procedure))
		return false, ""
	}
	if ok, _ := s.authorize(actionRegister, wamp.REGISTER, m.Request, m.Procedure, true); !ok {
		return false, ""
	}
	if max := s.r.cfg.MaxRegistrationsPerSession; max > 0 && s.realm.Dealer.SessionCount(s) >= max {
		s.sendError(wamp.REGISTER, m.Request, ErrLimitExceeded, fmt.Sprintf("a session may hold at most %d registrations", max))
		return false, ""
	}
	reg, created, err := s.realm.Dealer.Register(s, m.Procedure, match, invoke, realms.RegisterOptions{
		DiscloseCaller: discloseCaller, ForwardTimeout: forwardTimeout,
	})
	if errors.Is(err, realms.ErrProcedureExists) {
		s.sendError(wamp.REGISTER, m.Request, wamp.ErrProcedureAlreadyExists,
			fmt.Sprintf("procedure %q is already registered (shared registration needs the same invoke policy, other than single)", m.Procedure))
		return false, ""
	}
	if l := s.r.link.Load(); l != nil && !s.internal {
		l.announce(registerEnvelope(s, reg), true) // callable from every node once REGISTERED
	}
	_ = s.send(&wamp.Registered{Request: m.Request, Registration: reg.ID})
	if created {
		s.realm.metaEvent("wamp.registration.on_create", uint64(s.id), registrationDetails(reg))
	}
	s.realm.metaEvent("wamp.registration.on_register", uint64(s.id), uint64(reg.ID))
	return false, ""
}

func (s *session) handleUnregister(m *wamp.Unregister) {
	_, deleted, err := s.realm.Dealer.Unregister(s, m.Registration)
	if err != nil {
		s.sendError(wamp.UNREGISTER, m.Request, wamp.ErrNoSuchRegistration,
			fmt.Sprintf("no registration %d in this session", m.Registration))
		return
	}
	if l := s.r.link.Load(); l != nil && !s.internal {
		l.announce(&envelope{Kind: kUnregister, Realm: string(s.realm.Name), Session: uint64(s.id), Registration: uint64(m.Registration)}, true)
	}
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

// handleCall routes a CALL to a callee as an INVOCATION carrying the
// caller's payload as it came.
func (s *session) handleCall(m *wamp.Call) (bool, string) {
	o := options{d: m.Options, msg: wamp.CALL}
	progress := o.boolean("receive_progress", false)
	chunk := o.boolean("progress", false)
	timeout := o.millis("timeout")
	disclose := o.boolean(wamp.OptDiscloseMe, false)
	o.passthru()
	o.routerLinks()
	if o.err != nil {
		return s.protocolViolation(o.err.Error())
	}
	if !s.validURI(m.Procedure) {
		s.sendError(wamp.CALL, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("invalid procedure URI %q", m.Procedure))
		return false, ""
	}
	switch s.realm.cfg.DiscloseCaller {
	case DiscloseAlways:
		disclose = true
	case DiscloseNever:
		if disclose {
			s.sendError(wamp.CALL, m.Request, "wamp.error.disclose_me.not_allowed", "this realm does not disclose callers")
			return false, ""
		}
	}
	if inv := s.call(m.Request); inv != nil && inv.chunked {
		s.callChunk(inv, m, chunk)
		return false, ""
	}
	allowed, perm := s.authorize(actionCall, wamp.CALL, m.Request, m.Procedure, true)
	if !allowed {
		return false, ""
	}
	if perm != nil && perm.DiscloseCaller {
		disclose = true
	}
	if chunk && !s.feature(wamp.RoleCaller, "progressive_call_invocations") {
		return s.protocolViolation("CALL with progress=true from a caller that did not announce progressive_call_invocations")
	}
	if s.callMeta(m) {
		return false, ""
	}
	reg := s.realm.Dealer.Match(m.Procedure)
	if reg == nil {
		s.sendError(wamp.CALL, m.Request, wamp.ErrNoSuchProcedure, fmt.Sprintf("no callee registered procedure %q", m.Procedure))
		return false, ""
	}
	callee := reg.Pick().(*session)
	if chunk && (!callee.feature(wamp.RoleCallee, "progressive_call_invocations") || !callee.canCancel()) {
		s.sendError(wamp.CALL, m.Request, wamp.ErrFeatureNotSupported, "the callee does not support progressive call invocations")
		return false, ""
	}
	regID := reg.ID
	if callee.remote != "" { // the callee knows the registration by its own node's id
		callee.invMu.Lock()
		regID = callee.remoteRegs[reg.ID]
		callee.invMu.Unlock()
	}
	inv := &invocation{caller: s, request: m.Request, callee: callee, progress: progress, registration: regID, chunked: chunk, start: time.Now()}
	if !callee.addInvocation(inv) {
		s.sendError(wamp.CALL, m.Request, wamp.ErrCanceled, "callee left before the call could be delivered")
		return false, ""
	}
	s.addCall(inv)
	var details lazyDict // no allocation for a plain call
	if reg.Match != realms.MatchExact {
		details.set("procedure", string(m.Procedure))
	}
	if disclose || reg.DiscloseCaller {
		details.set("caller", uint64(s.id))
		details.set("caller_authid", s.authid)
		details.set("caller_authrole", s.authrole)
	}
	if progress && callee.feature(wamp.RoleCallee, "progressive_call_results") {
		details.set("receive_progress", true)
	}
	if chunk {
		details.set("progress", true)
	}
	if timeout > 0 {
		if reg.ForwardTimeout && callee.feature(wamp.RoleCallee, "call_timeout") {
			details.set("timeout", timeout)
		} else {
			s.callMu.Lock() // endCall reads the timer under it, from any goroutine
			inv.timer = time.AfterFunc(time.Duration(timeout)*time.Millisecond, func() { s.r.timeOut(inv) })
			s.callMu.Unlock()
		}
	}
	err := callee.send(&wamp.Invocation{Request: inv.id, Registration: regID, Details: details.d, Payload: m.Payload})
	if err != nil && callee.takeInvocation(inv.id) != nil {
		s.endCall(inv)
		s.sendError(wamp.CALL, m.Request, wamp.ErrCanceled, "call could not be delivered to the callee: "+err.Error())
	}
	return false, ""
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
	if err := inv.callee.send(&wamp.Invocation{Request: inv.id, Registration: inv.registration, Details: details, Payload: m.Payload}); err != nil {
		s.logger().Debug("chunk of a progressive call not delivered", "error", err)
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
func (s *session) handleYield(m *wamp.Yield) (bool, string) {
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
			_ = inv.caller.send(&wamp.Result{Request: inv.request, Details: wamp.Dict{"progress": true}, Payload: m.Payload})
		}
		return false, ""
	}
	inv := s.takeInvocation(m.Request)
	if inv == nil {
		s.logger().Debug("YIELD for unknown invocation ignored", "request", uint64(m.Request))
		return false, ""
	}
	inv.caller.endCall(inv)
	_ = inv.caller.send(&wamp.Result{Request: inv.request, Payload: m.Payload}) // nil Details encode as {}
	return false, ""
}

// handleError routes a callee's ERROR for an invocation back to the caller.
func (s *session) handleError(m *wamp.Error) (bool, string) {
	if m.Type != wamp.INVOCATION {
		return s.protocolViolation("ERROR for " + m.Type.String() + " is not valid from a client")
	}
	inv := s.takeInvocation(m.Request)
	if inv == nil {
		s.logger().Debug("ERROR for unknown invocation ignored", "request", uint64(m.Request))
		return false, ""
	}
	inv.caller.endCall(inv)
	_ = inv.caller.send(&wamp.Error{Type: wamp.CALL, Request: inv.request, Details: m.Details, Error: m.Error, Payload: m.Payload})
	return false, ""
}

// handleCancel cancels a call of this session's, in the mode it asks
// (default killnowait); a callee that does not support call_canceling gets
// skip.
func (s *session) handleCancel(m *wamp.Cancel) (bool, string) {
	o := options{d: m.Options, msg: wamp.CANCEL}
	mode := o.oneOf("mode", validCancelMode)
	if o.err != nil {
		return s.protocolViolation(o.err.Error())
	}
	if mode == "" {
		mode = cancelKillNoWait
	}
	inv := s.call(m.Request)
	if inv == nil {
		s.logger().Debug("CANCEL for a call that is not pending", "request", uint64(m.Request))
		return false, ""
	}
	s.r.cancel(inv, mode, wamp.ErrCanceled, "call canceled by the caller")
	return false, ""
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
