// Package wire is the format of the messages the nodes of a cluster send
// each other: one msgpack-encoded Envelope per message, a Kind using some of
// its fields. Package cluster moves these bytes between nodes; the router
// (router/cluster.go) decides what they say.
package wire

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport"
)

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

// Envelope is one cluster message, msgpack-encoded; a kind uses some fields.
type Envelope struct {
	Kind    Kind   `msgpack:"k"`
	Realm   string `msgpack:"r,omitempty"`
	Session uint64 `msgpack:"s,omitempty"`

	// KindJoin
	AuthID       string         `msgpack:"ai,omitempty"`
	AuthRole     string         `msgpack:"ar,omitempty"`
	AuthMethod   string         `msgpack:"am,omitempty"`
	AuthProvider string         `msgpack:"ap,omitempty"`
	Serializer   string         `msgpack:"z,omitempty"`
	Roles        map[string]any `msgpack:"ro,omitempty"`
	Joined       int64          `msgpack:"j,omitempty"`
	Transport    string         `msgpack:"tr,omitempty"` // transport.Info.Transport; "" from older nodes

	// KindRegister, KindUnregister
	Procedure      string `msgpack:"p,omitempty"`
	Match          string `msgpack:"m,omitempty"`
	Invoke         string `msgpack:"i,omitempty"`
	Registration   uint64 `msgpack:"g,omitempty"`
	DiscloseCaller bool   `msgpack:"dc,omitempty"`
	ForwardTimeout bool   `msgpack:"ft,omitempty"`

	// KindSubscribe, KindPublish, KindTestament
	Topic        string `msgpack:"t,omitempty"`
	On           bool   `msgpack:"on,omitempty"`
	Subscription uint64 `msgpack:"sb,omitempty"` // KindSubscribe: its id on the sending node

	// KindFrame, KindAnswer, KindPublish: a message encoded with Serializer.
	Frame  []byte `msgpack:"f,omitempty"`
	Binary bool   `msgpack:"b,omitempty"`
	// KindFrame of an INVOCATION or INTERRUPT: the request id on the node
	// that owns the call.
	Request uint64 `msgpack:"q,omitempty"`
	// KindClose
	Code   int    `msgpack:"c,omitempty"`
	Reason string `msgpack:"re,omitempty"`

	// KindPublish
	Publication      uint64   `msgpack:"pu,omitempty"`
	Disclose         bool     `msgpack:"d,omitempty"`
	Retain           bool     `msgpack:"rt,omitempty"`
	StoreOnly        bool     `msgpack:"so,omitempty"` // a retained event in a snapshot: keep, do not deliver
	Time             int64    `msgpack:"tm,omitempty"` // when it was published, Unix nanoseconds
	Exclude          []uint64 `msgpack:"x,omitempty"`
	Eligible         []uint64 `msgpack:"e,omitempty"`
	ExcludeAuthID    []string `msgpack:"xi,omitempty"`
	EligibleAuthID   []string `msgpack:"ei,omitempty"`
	ExcludeAuthRole  []string `msgpack:"xr,omitempty"`
	EligibleAuthRole []string `msgpack:"er,omitempty"`

	// KindTestament, KindFlush
	Scope   string         `msgpack:"sc,omitempty"`
	Args    []any          `msgpack:"a,omitempty"`
	Kwargs  map[string]any `msgpack:"kw,omitempty"`
	Options map[string]any `msgpack:"o,omitempty"`

	// KindSnapshot: sent in parts of a bounded number of items (the
	// sender's choice), applied once whole; More is set on every part but
	// the last.
	Items []*Envelope `msgpack:"it,omitempty"`
	// KindDigest: digests of what the sender holds of its own sessions
	// (Sum) and of the retained events of all nodes (RetainedSum).
	Sum         uint64 `msgpack:"su,omitempty"`
	RetainedSum uint64 `msgpack:"rs,omitempty"`
	// KindAudit, KindAudited: request ids on the node that owns the calls.
	Requests []uint64 `msgpack:"rq,omitempty"`
	// KindFenced: session ids.
	Sessions []uint64 `msgpack:"ss,omitempty"`
	Reply    bool     `msgpack:"rp,omitempty"`
	More     bool     `msgpack:"mo,omitempty"`
}

// Encode encodes e.
func Encode(e *Envelope) ([]byte, error) { return msgpack.Marshal(e) }

// Decode decodes a message of another node, within the bounds
// serializers.CheckMsgpack sets on what it allocates.
func Decode(data []byte) (*Envelope, error) {
	if err := serializers.CheckMsgpack(data); err != nil { // bounds what the decoder allocates
		return nil, err
	}
	d := msgpack.NewDecoder(bytes.NewReader(data))
	d.UseLooseInterfaceDecoding(true) // integers as int64/uint64, as the rest of the router expects
	e := new(Envelope)
	return e, d.Decode(e)
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
