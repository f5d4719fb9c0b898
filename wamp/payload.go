package wamp

// Encoding names the serialization that raw payload bytes are in.
type Encoding uint8

// Encodings of raw payloads. EncodingNone means the payload holds Go values
// (Args, Kwargs) rather than raw bytes; the serializer that sends it encodes them.
const (
	EncodingNone Encoding = iota
	EncodingJSON
	EncodingMsgPack
	EncodingCBOR
)

// String returns the serializer name of the encoding.
func (e Encoding) String() string {
	switch e {
	case EncodingJSON:
		return "json"
	case EncodingMsgPack:
		return "msgpack"
	case EncodingCBOR:
		return "cbor"
	}
	return "none"
}

// Payload is a message's application arguments: Arguments|list and ArgumentsKw|dict.
//
// A payload decoded off the wire keeps them encoded: RawArgs is the encoded list
// and RawKwargs the encoded dict, both in Encoding, each nil when absent. A router
// forwards them as they are; a serializer splices them unchanged into a frame of
// the same encoding and transcodes them into another.
//
// A payload built in Go (by a client, or by the router for its own errors and
// meta API) has Encoding == EncodingNone and carries Args and Kwargs as values.
type Payload struct {
	Encoding  Encoding
	RawArgs   []byte
	RawKwargs []byte
	// Transparent marks payload passthru mode (Options/Details carry
	// enc_algo or ppt_scheme): RawArgs is one opaque value, usually binary,
	// instead of a list, and there are no kwargs.
	Transparent bool

	Args   []any
	Kwargs map[string]any
}

// Empty reports whether the payload has neither args nor kwargs.
func (p *Payload) Empty() bool {
	if p.Encoding == EncodingNone {
		return len(p.Args) == 0 && len(p.Kwargs) == 0
	}
	return p.RawArgs == nil && p.RawKwargs == nil
}

// Size is the number of raw payload bytes, used to account queue and size limits.
func (p *Payload) Size() int { return len(p.RawArgs) + len(p.RawKwargs) }

// PayloadOf returns the payload of messages that carry one, or nil.
func PayloadOf(m Message) *Payload {
	switch m := m.(type) {
	case *Error:
		return &m.Payload
	case *Publish:
		return &m.Payload
	case *Event:
		return &m.Payload
	case *Call:
		return &m.Payload
	case *Result:
		return &m.Payload
	case *Invocation:
		return &m.Payload
	case *Yield:
		return &m.Payload
	}
	return nil
}

// Values returns a payload that carries args and kwargs as Go values.
func Values(args []any, kwargs map[string]any) Payload {
	return Payload{Args: args, Kwargs: kwargs}
}
