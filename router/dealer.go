package router

import (
	"errors"
	"fmt"

	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/wamp"
)

type realmsRecipient = realms.Recipient

func (s *session) handleRegister(m *wamp.Register) {
	if !s.validURI(m.Procedure) {
		s.sendError(wamp.REGISTER, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("invalid procedure URI %q", m.Procedure))
		return
	}
	if match, ok := matchPolicy(m.Options); !ok {
		s.sendError(wamp.REGISTER, m.Request, wamp.ErrInvalidArgument, fmt.Sprintf("match policy %q is not supported", match))
		return
	}
	id, err := s.realm.Dealer.Register(s, m.Procedure)
	if errors.Is(err, realms.ErrProcedureExists) {
		s.sendError(wamp.REGISTER, m.Request, wamp.ErrProcedureAlreadyExists,
			fmt.Sprintf("procedure %q is already registered", m.Procedure))
		return
	}
	_ = s.send(&wamp.Registered{Request: m.Request, Registration: id})
}

func (s *session) handleUnregister(m *wamp.Unregister) {
	if err := s.realm.Dealer.Unregister(s, m.Registration); err != nil {
		s.sendError(wamp.UNREGISTER, m.Request, wamp.ErrNoSuchRegistration,
			fmt.Sprintf("no registration %d in this session", m.Registration))
		return
	}
	_ = s.send(&wamp.Unregistered{Request: m.Request})
}

// handleCall routes a CALL to the callee as an INVOCATION carrying the
// caller's payload as it came.
func (s *session) handleCall(m *wamp.Call) {
	if !s.validURI(m.Procedure) {
		s.sendError(wamp.CALL, m.Request, wamp.ErrInvalidURI, fmt.Sprintf("invalid procedure URI %q", m.Procedure))
		return
	}
	reg := s.realm.Dealer.Match(m.Procedure)
	if reg == nil {
		s.sendError(wamp.CALL, m.Request, wamp.ErrNoSuchProcedure, fmt.Sprintf("no callee registered procedure %q", m.Procedure))
		return
	}
	callee := reg.Callee.(*session)
	id, ok := callee.addInvocation(&invocation{caller: s, request: m.Request})
	if !ok {
		s.sendError(wamp.CALL, m.Request, wamp.ErrCanceled, "callee left before the call could be delivered")
		return
	}
	inv := &wamp.Invocation{Request: id, Registration: reg.ID, Details: wamp.Dict{}, Payload: m.Payload}
	if err := callee.send(inv); err != nil {
		if callee.takeInvocation(id) != nil {
			s.sendError(wamp.CALL, m.Request, wamp.ErrCanceled, "call could not be delivered to the callee: "+err.Error())
		}
	}
}

// handleYield routes a callee's YIELD back to the caller as RESULT.
func (s *session) handleYield(m *wamp.Yield) {
	inv := s.takeInvocation(m.Request)
	if inv == nil {
		s.log.Debug("YIELD for unknown invocation ignored", "request", uint64(m.Request))
		return
	}
	_ = inv.caller.send(&wamp.Result{Request: inv.request, Details: wamp.Dict{}, Payload: m.Payload})
}
