package router

import (
	"fmt"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// end is what handling a message did to its session: goOn (the zero value)
// lets the session go on; any other value ends it, and is the reason logged
// when it leaves ("client said goodbye: wamp.close.normal", "protocol
// violation: ...").
type end string

// goOn is the end of a message after which the session goes on.
const goOn end = ""

// ended reports whether the session ended.
func (e end) ended() bool { return e != goOn }

// dispatch handles one message of an established session, and says whether
// it ended the session, and why.
func (s *session) dispatch(msg wamp.Message) end {
	if id, ok := requestID(msg); ok && !id.Valid() {
		return s.protocolViolation(fmt.Sprintf("%s with request id %d, outside [1, 2^53]", msg.MessageType(), id))
	}
	switch m := msg.(type) {
	case *wamp.Publish:
		return s.handlePublish(m)
	case *wamp.Subscribe:
		return s.handleSubscribe(m)
	case *wamp.Unsubscribe:
		s.handleUnsubscribe(m)
	case *wamp.Call:
		return s.handleCall(m)
	case *wamp.Register:
		return s.handleRegister(m)
	case *wamp.Unregister:
		s.handleUnregister(m)
	case *wamp.Yield:
		if s.r.cluster().answer(s, m) { // for a call another node owns
			return goOn
		}
		return s.handleYield(m)
	case *wamp.Error:
		if s.r.cluster().answer(s, m) {
			return goOn
		}
		return s.handleError(m)
	case *wamp.Cancel:
		return s.handleCancel(m)
	case *wamp.Goodbye:
		return s.handleGoodbye(m)
	case *wamp.Abort:
		s.peer.Close(transport.CloseNormal, "ABORT received")
		return end("client sent ABORT: " + string(m.Reason))
	default:
		return s.protocolViolation(msg.MessageType().String() + " is not valid in an established session")
	}
	return goOn
}

// requestID returns the request id of messages that carry one chosen by the
// client.
func requestID(msg wamp.Message) (wamp.ID, bool) {
	switch m := msg.(type) {
	case *wamp.Publish:
		return m.Request, true
	case *wamp.Subscribe:
		return m.Request, true
	case *wamp.Unsubscribe:
		return m.Request, true
	case *wamp.Call:
		return m.Request, true
	case *wamp.Register:
		return m.Request, true
	case *wamp.Unregister:
		return m.Request, true
	}
	return 0, false
}

// handleGoodbye ends the session: it takes a client's GOODBYE, answered
// once the session has left (see run), or the client's answer to the
// router's own.
func (s *session) handleGoodbye(m *wamp.Goodbye) end {
	if s.goodbyeSent.Load() {
		s.peer.Close(transport.CloseGoingAway, "router shutting down")
		return end("router shutdown")
	}
	s.goodbyeOwed = true
	return end("client said goodbye: " + string(m.Reason))
}

// validURI checks a topic or procedure URI against the router's rule.
func (s *session) validURI(u wamp.URI) bool {
	return len(u) <= s.r.config().MaxURILength && wamp.ValidURI(u, s.r.config().StrictURI, false)
}
