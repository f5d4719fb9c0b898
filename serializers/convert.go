package serializers

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/junction-wamp/junction/wamp"
)

// What crosses serializers, and what does not
//
// A payload is transcoded through Go values: nil, bool, string, []byte
// (JSON: "\u0000" + base64), int64, uint64, float64, lists and dicts with
// string keys. These convert losslessly between the three. The rest is
// refused with ErrUnconvertible when it would have to cross:
//
//   - to JSON, a string of U+0000 followed by base64, which a JSON peer
//     would read as binary;
//   - NaN and infinities to JSON, which has no such numbers;
//   - integers beyond int64 and uint64 (CBOR negative integers below
//     -2^63, bignums; JSON integer literals a float64 does not hold),
//     and JSON numbers beyond float64 (1e400), to any other serializer;
//   - map keys that are not text (CBOR, msgpack), to any other serializer;
//   - CBOR tags and simple values (other than false, true, null and
//     undefined, which is null) outside CBOR;
//   - msgpack extension types other than 0 (JavaScript's undefined, null
//     elsewhere), the timestamp (-1) included, and CBOR's date tags 0 and 1:
//     no timestamp crosses.
//
// Payloads of the receiver's own serializer are spliced as they came and
// never checked here: JSON 1e400 reaches JSON peers unchanged. Dicts of the
// header are decoded by the router and written again, so the rules apply to
// them for every serializer: a timestamp in details is refused even for a
// peer of the serializer it came in.

// conversionError is a value that Encode cannot write for its serializer
// (or, from DecodePayload, that has no Go value). It wraps ErrUnconvertible.
type conversionError struct {
	part   string   // "args", "kwargs", "details", "options", "extra"
	target string   // the serializer written, "" when decoding
	path   []string // where in the value, innermost first
	reason string
}

func (e *conversionError) Error() string {
	var b strings.Builder
	if e.target != "" {
		fmt.Fprintf(&b, "cannot encode %s for %s: ", e.part, e.target)
	}
	b.WriteString(e.reason)
	if len(e.path) > 0 {
		b.WriteString(" (at ")
		for i := len(e.path) - 1; i >= 0; i-- {
			b.WriteString(e.path[i])
		}
		b.WriteString(")")
	}
	return b.String()
}

func (e *conversionError) Unwrap() error { return ErrUnconvertible }

func unconvertible(format string, a ...any) *conversionError {
	return &conversionError{reason: fmt.Sprintf(format, a...)}
}

// within records that err happened in the element step (such as "[2]" or
// `["key"]`) of a container.
func within(err error, step string) error {
	if ce, ok := err.(*conversionError); ok {
		ce.path = append(ce.path, step)
	}
	return err
}

// forPart names the serializer of a conversion error and, unless it is
// known already, the part of the message; other errors pass unchanged.
func forPart(err error, part string, to wamp.Encoding) error {
	if err == nil {
		return nil // errors.As would allocate its target
	}
	var ce *conversionError
	if errors.As(err, &ce) {
		c := *ce
		if c.part == "" {
			c.part = part
		}
		c.target = to.String()
		return &c
	}
	return err
}

// portable checks that v can be written in encoding to and returns it as
// the codec writes it: for JSON, []byte at any depth becomes WAMP's binary
// convention, a string "\u0000" + base64 (containers are copied then, only
// then: v is never modified). changed reports a copy. Values of types the
// decoders do not produce (the router's own) pass unchecked.
func portable(v any, to wamp.Encoding) (out any, changed bool, err error) {
	switch x := v.(type) {
	case nil, bool, int64, uint64, int:
		return v, false, nil
	case string:
		if to == wamp.EncodingJSON && len(x) > 0 && x[0] == 0 {
			if _, err := base64.StdEncoding.DecodeString(x[1:]); err == nil {
				return nil, false, unconvertible("a string of U+0000 and base64 would read as binary in JSON")
			}
		}
		return v, false, nil
	case float64:
		if err := portableFloat(x, to); err != nil {
			return nil, false, err
		}
		if n, ok := jsonBigFloat(x, to); ok {
			return n, true, nil
		}
		return v, false, nil
	case float32:
		return v, false, portableFloat(float64(x), to)
	case []byte:
		if to == wamp.EncodingJSON {
			return "\x00" + base64.StdEncoding.EncodeToString(x), true, nil
		}
		return v, false, nil
	case []any:
		l, changed, err := portableList(x, to)
		if err != nil || !changed {
			return v, false, err // v, not l: boxing a slice again allocates
		}
		return l, true, nil
	case map[string]any:
		return portableMap(x, to)
	case wamp.Dict:
		return portableMap(x, to)
	}
	return v, false, portableOther(v, to)
}

func portableFloat(f float64, to wamp.Encoding) error {
	if to != wamp.EncodingJSON {
		return nil
	}
	switch {
	case math.IsNaN(f):
		return unconvertible("NaN is not a JSON number")
	case math.IsInf(f, 1):
		return unconvertible("+Inf is not a JSON number")
	case math.IsInf(f, -1):
		return unconvertible("-Inf is not a JSON number")
	}
	return nil
}

// jsonBigFloat writes a float64 holding an integer of 2^53 or more (and
// below 1e21, where encoding/json switches to an exponent itself) with an
// exponent. encoding/json would write its shortest digits padded with
// zeros, 27233566358816970 for 27233566358816968.0: a JSON reader that reads
// integers as integers (ours does) would take that for a different number.
func jsonBigFloat(f float64, to wamp.Encoding) (json.Number, bool) {
	if a := math.Abs(f); to != wamp.EncodingJSON || a < 1<<53 || a >= 1e21 || f != math.Trunc(f) {
		return "", false
	}
	return json.Number(strconv.FormatFloat(f, 'e', -1, 64)), true
}

// portableOther refuses the values only one serializer has.
func portableOther(v any, to wamp.Encoding) error {
	switch x := v.(type) {
	case time.Time:
		return unconvertible("a timestamp (msgpack extension type -1, CBOR tag 0 or 1) is not converted between serializers")
	case big.Int:
		return bigInt(&x, to)
	case *big.Int:
		return bigInt(x, to)
	case cbor.Tag:
		if to != wamp.EncodingCBOR {
			return unconvertible("CBOR tag %d has no %s equivalent", x.Number, to)
		}
		// What a tag holds is held to the same rules: a timestamp inside
		// another tag would otherwise be written as its number.
		if _, _, err := portable(x.Content, to); err != nil {
			return within(err, "(tag "+strconv.FormatUint(x.Number, 10)+")")
		}
	case cbor.RawTag:
		if to != wamp.EncodingCBOR {
			return unconvertible("CBOR tag %d has no %s equivalent", x.Number, to)
		}
	case cbor.SimpleValue:
		if to != wamp.EncodingCBOR {
			return unconvertible("CBOR simple value %d has no %s equivalent", x, to)
		}
	}
	return nil
}

// bigInt: the CBOR decoder's integers beyond 64 bits (normalizeCBOR turned
// the others into int64 and uint64) stay in CBOR.
func bigInt(x *big.Int, to wamp.Encoding) error {
	if to != wamp.EncodingCBOR {
		return unconvertible("integer %.40s does not fit in 64 bits", x.String())
	}
	return nil
}

func portableList(l []any, to wamp.Encoding) ([]any, bool, error) {
	var out []any // a copy, once an element changes
	for i, e := range l {
		p, changed, err := portable(e, to)
		if err != nil {
			return nil, false, within(err, "["+strconv.Itoa(i)+"]")
		}
		if changed && out == nil {
			out = make([]any, len(l))
			copy(out, l[:i])
		}
		if out != nil {
			out[i] = p
		}
	}
	if out == nil {
		return l, false, nil
	}
	return out, true, nil
}

func portableMap(m map[string]any, to wamp.Encoding) (any, bool, error) {
	var out map[string]any // a copy, once a value changes
	for k, e := range m {
		p, changed, err := portable(e, to)
		if err != nil {
			return nil, false, within(err, "["+strconv.Quote(k)+"]")
		}
		if changed && out == nil {
			out = make(map[string]any, len(m))
			for k2, e2 := range m {
				out[k2] = e2
			}
		}
		if out != nil {
			out[k] = p
		}
	}
	if out == nil {
		return m, false, nil
	}
	return out, true, nil
}

// decodeFailure explains why part of a payload that came in a valid frame
// has no Go value: what the decoding libraries refuse, in the user's words.
func decodeFailure(from wamp.Encoding, part string, err error) error {
	var ce *conversionError
	if !errors.As(err, &ce) {
		ce = decodeReason(from, err)
	}
	c := *ce
	c.part = part
	return &c
}

func decodeReason(from wamp.Encoding, err error) *conversionError {
	msg := err.Error()
	var typeErr *cbor.UnmarshalTypeError
	switch {
	case from == wamp.EncodingCBOR && errors.As(err, &typeErr) && strings.HasSuffix(msg, "type string"):
		// Decoding into interface values, the only string target is a map key.
		return unconvertible("a CBOR map key that is not a text string")
	// vmihailenco/msgpack's errors have no types: matched by their text.
	case from == wamp.EncodingMsgPack && strings.HasPrefix(msg, "msgpack: unknown ext id="):
		return unconvertible("msgpack extension type %s is not converted between serializers", strings.TrimPrefix(msg, "msgpack: unknown ext id="))
	}
	return unconvertible("%s value: %v", from, err)
}
