// Package wire is the format of the messages the nodes of a cluster send
// each other: one Envelope per message, a Kind using some of its fields,
// in a compact versioned binary format written and read without
// reflection (codec.go). Package cluster moves these bytes between nodes;
// the router (router/cluster.go) decides what they say.
package wire

import "github.com/junction-wamp/junction/transport"

// Kind is what a message is.
type Kind uint8

// Kinds of cluster messages.
const (
	KindSnapshot Kind = iota + 1
	KindJoin
	KindLeave
	KindRegister
	KindUnregister
	KindSubscribe
	KindTestament
	KindFlush
	KindFrame   // to a local session: an encoded message
	KindClose   // to a local session: close its connection
	KindAnswer  // to the node owning an invocation: YIELD or ERROR from its callee
	KindPublish // a publication, for this node's subscribers
	KindDigest  // digests of the sender's routing state (Sum, RetainedSum), for anti-entropy
	KindResync  // a request for the receiver's snapshot: what this node holds of it differs
	KindAudit   // Requests: invocations the sender owns that the receiver's callees should be running
	KindAudited // Requests: those of a KindAudit the sender (the callees' node) does not know
	KindFenced  // Sessions: the receiver's sessions the sender announced gone while it was cut off
	KindDrain   // the sender is draining: route new calls to its callees only if nothing else can take them
)

// Envelope is one cluster message; a kind uses some fields.
type Envelope struct {
	Kind    Kind
	Realm   string
	Session uint64

	// KindJoin
	AuthID       string
	AuthRole     string
	AuthMethod   string
	AuthProvider string
	Serializer   string
	Roles        map[string]any
	Joined       int64
	Transport    string // transport.Info.Transport; "" from older nodes

	// KindRegister, KindUnregister
	Procedure      string
	Match          string
	Invoke         string
	Registration   uint64
	DiscloseCaller bool
	ForwardTimeout bool

	// KindSubscribe, KindPublish, KindTestament
	Topic        string
	On           bool
	Subscription uint64 // KindSubscribe: its id on the sending node

	// KindFrame, KindAnswer, KindPublish: a message encoded with Serializer.
	Frame  []byte
	Binary bool
	// KindFrame of an INVOCATION or INTERRUPT: the request id on the node
	// that owns the call.
	Request uint64
	// KindClose
	Code   int
	Reason string

	// KindPublish
	Publication      uint64
	Disclose         bool
	Retain           bool
	StoreOnly        bool  // a retained event in a snapshot: keep, do not deliver
	Time             int64 // when it was published, Unix nanoseconds
	Exclude          []uint64
	Eligible         []uint64
	ExcludeAuthID    []string
	EligibleAuthID   []string
	ExcludeAuthRole  []string
	EligibleAuthRole []string

	// KindTestament, KindFlush
	Scope   string
	Args    []any
	Kwargs  map[string]any
	Options map[string]any

	// KindSnapshot: sent in parts of a bounded number of items (the
	// sender's choice), applied once whole; More is set on every part but
	// the last.
	Items []*Envelope
	// KindDigest: digests of what the sender holds of its own sessions
	// (Sum) and of the retained events of all nodes (RetainedSum).
	Sum         uint64
	RetainedSum uint64
	// KindAudit, KindAudited: request ids on the node that owns the calls.
	Requests []uint64
	// KindFenced: session ids.
	Sessions []uint64
	Reply    bool
	More     bool
}

// closeNumbers are the numbers Envelope.Code carries for each close reason:
// the RFC 6455 codes, as nodes before transport.CloseCode became an enum of
// meanings sent them, so that nodes of both versions understand each other
// during a rolling upgrade.
var closeNumbers = [...]int{
	transport.CloseNormal:          1000,
	transport.CloseGoingAway:       1001,
	transport.CloseProtocolError:   1002,
	transport.CloseUnsupportedData: 1003,
	transport.CloseInvalidPayload:  1007,
	transport.ClosePolicyViolation: 1008,
	transport.CloseMessageTooBig:   1009,
	transport.CloseInternalError:   1011,
}

// CloseNumber is the Envelope.Code of close reason c (1011 for a reason
// this version does not know).
func CloseNumber(c transport.CloseCode) int {
	if int(c) < len(closeNumbers) {
		return closeNumbers[c]
	}
	return 1011
}

// CloseReason is the close reason of an Envelope.Code (CloseInternalError
// for a number this version does not know).
func CloseReason(n int) transport.CloseCode {
	for c, m := range closeNumbers {
		if m == n {
			return transport.CloseCode(c)
		}
	}
	return transport.CloseInternalError
}
