package serializers

import (
	"encoding/base64"
	"fmt"

	"github.com/junction-wamp/junction/wamp"
)

// DecodePayload returns the Go values of a payload: for raw payloads, args and
// kwargs decoded by the codec that produced them (with JSON's binary convention
// applied, so binary values are always []byte); for value payloads, the values.
func DecodePayload(p *wamp.Payload) (args []any, kwargs map[string]any, err error) {
	if p.Encoding == wamp.EncodingNone {
		return p.Args, p.Kwargs, nil
	}
	c := codecFor(p.Encoding)
	if c == nil {
		return nil, nil, fmt.Errorf("serializers: unknown payload encoding %d", p.Encoding)
	}
	if p.Transparent {
		v, err := c.decodeValue(p.RawArgs)
		if err != nil {
			return nil, nil, fmt.Errorf("serializers: decoding %s transparent payload: %w", p.Encoding, decodeFailure(p.Encoding, "payload", err))
		}
		return []any{v}, nil, nil
	}
	if p.RawArgs != nil {
		if args, err = c.decodeList(p.RawArgs); err != nil {
			return nil, nil, fmt.Errorf("serializers: decoding %s args: %w", p.Encoding, decodeFailure(p.Encoding, "args", err))
		}
	}
	if p.RawKwargs != nil {
		if kwargs, err = c.decodeDict(p.RawKwargs); err != nil {
			return nil, nil, fmt.Errorf("serializers: decoding %s kwargs: %w", p.Encoding, decodeFailure(p.Encoding, "kwargs", err))
		}
	}
	return args, kwargs, nil
}

// DecodePayload's errors wrap ErrUnconvertible when a raw payload has no Go
// value (see convert.go).

// EncodePayload encodes args and kwargs in encoding e. A nil args with non-nil
// kwargs is encoded as an empty list, as the wire format requires. A value
// that e cannot carry (NaN in JSON...) is an error wrapping ErrUnconvertible.
func EncodePayload(e wamp.Encoding, args []any, kwargs map[string]any) (wamp.Payload, error) {
	c := codecFor(e)
	if c == nil {
		return wamp.Payload{}, fmt.Errorf("serializers: unknown payload encoding %d", e)
	}
	p := wamp.Payload{Encoding: e}
	var err error
	if args != nil || kwargs != nil {
		if args == nil {
			args = []any{}
		}
		if p.RawArgs, err = c.encodeValue(args); err != nil {
			return wamp.Payload{}, forPart(err, "args", e)
		}
	}
	if kwargs != nil {
		if p.RawKwargs, err = c.encodeValue(kwargs); err != nil {
			return wamp.Payload{}, forPart(err, "kwargs", e)
		}
	}
	return p, nil
}

// valueCodec is what each codec offers for application values.
type valueCodec interface {
	decodeValue(raw []byte) (any, error)
	decodeList(raw []byte) ([]any, error)
	decodeDict(raw []byte) (map[string]any, error)
	encodeValue(v any) ([]byte, error)
}

func codecFor(e wamp.Encoding) valueCodec {
	c, _ := ForEncoding(e).(valueCodec)
	return c
}

// payloadWriter writes a payload for a codec: raw bytes of the same encoding are
// spliced, anything else goes through Go values (decoded once per message).
type payloadWriter struct {
	own     wamp.Encoding
	decoded bool
	args    []any
	kwargs  map[string]any
}

// values returns the payload's Go values, decoding a foreign raw payload once.
func (pw *payloadWriter) values(p *wamp.Payload) ([]any, map[string]any, error) {
	if !pw.decoded {
		var err error
		pw.args, pw.kwargs, err = DecodePayload(p)
		if err != nil {
			return nil, nil, err
		}
		pw.decoded = true
		if pw.args == nil {
			pw.args = []any{}
		}
		if pw.kwargs == nil {
			pw.kwargs = map[string]any{}
		}
	}
	return pw.args, pw.kwargs, nil
}

// argsRaw returns the raw args in the writer's own encoding, or the value to encode.
func (pw *payloadWriter) argsOf(p *wamp.Payload) (raw []byte, v any, err error) {
	if p.Transparent && p.Encoding != pw.own {
		args, _, err := DecodePayload(p)
		if err != nil {
			return nil, nil, err
		}
		return nil, args[0], nil
	}
	if p.Encoding == pw.own && p.RawArgs != nil {
		return p.RawArgs, nil, nil
	}
	if p.Encoding == pw.own && p.RawArgs == nil {
		return nil, []any{}, nil
	}
	args, _, err := pw.values(p)
	return nil, args, err
}

func (pw *payloadWriter) kwargsOf(p *wamp.Payload) (raw []byte, v any, err error) {
	if p.Encoding == pw.own {
		return p.RawKwargs, nil, nil
	}
	_, kwargs, err := pw.values(p)
	return nil, kwargs, err
}

// fromJSONString turns a JSON string that follows the binary convention into []byte.
func fromJSONString(s string) any {
	if len(s) > 0 && s[0] == 0 {
		if b, err := base64.StdEncoding.DecodeString(s[1:]); err == nil {
			return b
		}
	}
	return s
}
