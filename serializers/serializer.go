package serializers

import (
	"errors"

	"github.com/junction-wamp/junction/wamp"
)

// Serializer turns WAMP messages into frame bytes and back.
//
// Decode keeps application payloads encoded: the Payload of a decoded message has
// Encoding set to the serializer's own and RawArgs/RawKwargs pointing at the
// encoded list and dict (they may alias data, which the caller must not reuse).
// Encode splices a payload of its own encoding unchanged, transcodes a payload of
// another encoding, and encodes Go values when Payload.Encoding is EncodingNone.
//
// Implementations are safe for concurrent use.
type Serializer interface {
	// Name is "json", "msgpack" or "cbor".
	Name() string
	// Subprotocol is the WebSocket subprotocol, e.g. "wamp.2.json".
	Subprotocol() string
	// Binary reports whether frames are binary (msgpack, cbor) or text (json).
	Binary() bool
	// Encoding is the payload encoding this serializer produces.
	Encoding() wamp.Encoding
	// Encode returns the frame bytes of m. Its errors wrap ErrUnconvertible
	// when a value of m cannot be written in this encoding.
	Encode(m wamp.Message) ([]byte, error)
	// Decode parses one frame. Errors wrap ErrMalformed or ErrUnknownType.
	Decode(data []byte) (wamp.Message, error)
}

// Errors returned (wrapped) by Decode.
var (
	// ErrMalformed: the frame is not a valid encoding of a WAMP message
	// (bad syntax, not a list, wrong arity or element types).
	ErrMalformed = errors.New("serializers: malformed message")
	// ErrUnknownType: the frame is well formed but its message type code is unknown.
	ErrUnknownType = errors.New("serializers: unknown message type")
)

// ErrUnconvertible is wrapped by the errors of Encode (and EncodePayload,
// DecodePayload) when a value of the message cannot be written in the
// serializer's encoding: a payload or dict that came in another encoding
// holds something this one has no equivalent for (NaN for JSON, a CBOR map
// with integer keys for JSON or msgpack, JSON's 1e400 for msgpack or CBOR;
// convert.go lists them). The message could not be delivered to this peer;
// the router answers its sender with wamp.error.invalid_argument. The
// error's text names the part (args, kwargs, details...), the serializer
// and the value.
var ErrUnconvertible = errors.New("serializers: value cannot be converted")
