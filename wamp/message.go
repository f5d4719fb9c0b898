package wamp

// MessageType is the integer code that opens every WAMP message.
type MessageType int

// Message type codes, as in the spec's message table.
const (
	HELLO        MessageType = 1
	WELCOME      MessageType = 2
	ABORT        MessageType = 3
	CHALLENGE    MessageType = 4
	AUTHENTICATE MessageType = 5
	GOODBYE      MessageType = 6
	ERROR        MessageType = 8
	PUBLISH      MessageType = 16
	PUBLISHED    MessageType = 17
	SUBSCRIBE    MessageType = 32
	SUBSCRIBED   MessageType = 33
	UNSUBSCRIBE  MessageType = 34
	UNSUBSCRIBED MessageType = 35
	EVENT        MessageType = 36
	CALL         MessageType = 48
	CANCEL       MessageType = 49
	RESULT       MessageType = 50
	REGISTER     MessageType = 64
	REGISTERED   MessageType = 65
	UNREGISTER   MessageType = 66
	UNREGISTERED MessageType = 67
	INVOCATION   MessageType = 68
	INTERRUPT    MessageType = 69
	YIELD        MessageType = 70

	// EVENT_RECEIVED acknowledges an EVENT (acknowledged event delivery, an
	// implementation-specific Advanced Profile message, 337 until ratified).
	EVENT_RECEIVED MessageType = 337
)

var typeNames = map[MessageType]string{
	HELLO: "HELLO", WELCOME: "WELCOME", ABORT: "ABORT", CHALLENGE: "CHALLENGE",
	AUTHENTICATE: "AUTHENTICATE", GOODBYE: "GOODBYE", ERROR: "ERROR",
	PUBLISH: "PUBLISH", PUBLISHED: "PUBLISHED", SUBSCRIBE: "SUBSCRIBE",
	SUBSCRIBED: "SUBSCRIBED", UNSUBSCRIBE: "UNSUBSCRIBE", UNSUBSCRIBED: "UNSUBSCRIBED",
	EVENT: "EVENT", CALL: "CALL", CANCEL: "CANCEL", RESULT: "RESULT",
	REGISTER: "REGISTER", REGISTERED: "REGISTERED", UNREGISTER: "UNREGISTER",
	UNREGISTERED: "UNREGISTERED", INVOCATION: "INVOCATION", INTERRUPT: "INTERRUPT",
	YIELD: "YIELD", EVENT_RECEIVED: "EVENT_RECEIVED",
}

// String returns the spec's name of the message type, or "UNKNOWN(n)".
func (t MessageType) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return "UNKNOWN(" + itoa(int(t)) + ")"
}

// Known reports whether t is a message type this package defines.
func (t MessageType) Known() bool { _, ok := typeNames[t]; return ok }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// Message is any WAMP message.
type Message interface {
	MessageType() MessageType
}

// Hello is [HELLO, Realm|uri, Details|dict].
type Hello struct {
	Realm   URI
	Details Dict
}

// Welcome is [WELCOME, Session|id, Details|dict].
type Welcome struct {
	Session ID
	Details Dict
}

// Abort is [ABORT, Details|dict, Reason|uri].
type Abort struct {
	Details Dict
	Reason  URI
}

// Challenge is [CHALLENGE, AuthMethod|string, Extra|dict].
type Challenge struct {
	AuthMethod string
	Extra      Dict
}

// Authenticate is [AUTHENTICATE, Signature|string, Extra|dict].
type Authenticate struct {
	Signature string
	Extra     Dict
}

// Goodbye is [GOODBYE, Details|dict, Reason|uri].
type Goodbye struct {
	Details Dict
	Reason  URI
}

// Error is [ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri,
// Arguments|list, ArgumentsKw|dict].
type Error struct {
	Type    MessageType
	Request ID
	Details Dict
	Error   URI
	Payload
}

// Publish is [PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list, ArgumentsKw|dict].
type Publish struct {
	Request ID
	Options Dict
	Topic   URI
	Payload
}

// Published is [PUBLISHED, PUBLISH.Request|id, Publication|id].
type Published struct {
	Request     ID
	Publication ID
}

// Subscribe is [SUBSCRIBE, Request|id, Options|dict, Topic|uri].
type Subscribe struct {
	Request ID
	Options Dict
	Topic   URI
}

// Subscribed is [SUBSCRIBED, SUBSCRIBE.Request|id, Subscription|id].
type Subscribed struct {
	Request      ID
	Subscription ID
}

// Unsubscribe is [UNSUBSCRIBE, Request|id, SUBSCRIBED.Subscription|id].
type Unsubscribe struct {
	Request      ID
	Subscription ID
}

// Unsubscribed is [UNSUBSCRIBED, UNSUBSCRIBE.Request|id, Details|dict]; Details is
// absent in the Basic Profile form.
type Unsubscribed struct {
	Request ID
	Details Dict
}

// Event is [EVENT, SUBSCRIBED.Subscription|id, PUBLISHED.Publication|id, Details|dict,
// Arguments|list, ArgumentsKw|dict].
type Event struct {
	Subscription ID
	Publication  ID
	Details      Dict
	Payload
}

// Call is [CALL, Request|id, Options|dict, Procedure|uri, Arguments|list, ArgumentsKw|dict].
type Call struct {
	Request   ID
	Options   Dict
	Procedure URI
	Payload
}

// Cancel is [CANCEL, CALL.Request|id, Options|dict].
type Cancel struct {
	Request ID
	Options Dict
}

// Result is [RESULT, CALL.Request|id, Details|dict, Arguments|list, ArgumentsKw|dict].
type Result struct {
	Request ID
	Details Dict
	Payload
}

// Register is [REGISTER, Request|id, Options|dict, Procedure|uri].
type Register struct {
	Request   ID
	Options   Dict
	Procedure URI
}

// Registered is [REGISTERED, REGISTER.Request|id, Registration|id].
type Registered struct {
	Request      ID
	Registration ID
}

// Unregister is [UNREGISTER, Request|id, REGISTERED.Registration|id].
type Unregister struct {
	Request      ID
	Registration ID
}

// Unregistered is [UNREGISTERED, UNREGISTER.Request|id, Details|dict]; Details is
// absent in the Basic Profile form.
type Unregistered struct {
	Request ID
	Details Dict
}

// Invocation is [INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict,
// Arguments|list, ArgumentsKw|dict].
type Invocation struct {
	Request      ID
	Registration ID
	Details      Dict
	Payload
}

// Interrupt is [INTERRUPT, INVOCATION.Request|id, Options|dict].
type Interrupt struct {
	Request ID
	Options Dict
}

// Yield is [YIELD, INVOCATION.Request|id, Options|dict, Arguments|list, ArgumentsKw|dict].
type Yield struct {
	Request ID
	Options Dict
	Payload
}

// EventReceived is [EVENT_RECEIVED, EVENT.Publication|id].
type EventReceived struct {
	Publication ID
}

func (*EventReceived) MessageType() MessageType { return EVENT_RECEIVED }
func (*Hello) MessageType() MessageType         { return HELLO }
func (*Welcome) MessageType() MessageType       { return WELCOME }
func (*Abort) MessageType() MessageType         { return ABORT }
func (*Challenge) MessageType() MessageType     { return CHALLENGE }
func (*Authenticate) MessageType() MessageType  { return AUTHENTICATE }
func (*Goodbye) MessageType() MessageType       { return GOODBYE }
func (*Error) MessageType() MessageType         { return ERROR }
func (*Publish) MessageType() MessageType       { return PUBLISH }
func (*Published) MessageType() MessageType     { return PUBLISHED }
func (*Subscribe) MessageType() MessageType     { return SUBSCRIBE }
func (*Subscribed) MessageType() MessageType    { return SUBSCRIBED }
func (*Unsubscribe) MessageType() MessageType   { return UNSUBSCRIBE }
func (*Unsubscribed) MessageType() MessageType  { return UNSUBSCRIBED }
func (*Event) MessageType() MessageType         { return EVENT }
func (*Call) MessageType() MessageType          { return CALL }
func (*Cancel) MessageType() MessageType        { return CANCEL }
func (*Result) MessageType() MessageType        { return RESULT }
func (*Register) MessageType() MessageType      { return REGISTER }
func (*Registered) MessageType() MessageType    { return REGISTERED }
func (*Unregister) MessageType() MessageType    { return UNREGISTER }
func (*Unregistered) MessageType() MessageType  { return UNREGISTERED }
func (*Invocation) MessageType() MessageType    { return INVOCATION }
func (*Interrupt) MessageType() MessageType     { return INTERRUPT }
func (*Yield) MessageType() MessageType         { return YIELD }
