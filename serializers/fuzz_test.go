package serializers

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/junction-wamp/junction/wamp"
)

// fuzzDecode checks that decoding never panics and that whatever decodes
// re-encodes and decodes again as the same message type. Seeds are in
// testdata/fuzz/<target>/, made from the spec's test vectors.
func fuzzDecode(f *testing.F, ser Serializer) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if ser == cborSer {
			cborRefusalJustified(t, data)
		}
		m, err := ser.Decode(data)
		if err != nil {
			return
		}
		// JSON is split by gjson: encoding/json is the oracle that what we
		// accept (and pass through to other peers) is valid JSON.
		// Nor does encoding/json check UTF-8: utf8.Valid is its oracle.
		if ser == jsonSer && (!json.Valid(data) || !utf8.Valid(data)) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		// fxamacker/cbor is the oracle of CBOR well-formedness and bounds:
		// the library never reads a payload, splitCBORList does.
		if ser == cborSer {
			if err := cborDec.Wellformed(data); err != nil {
				t.Fatalf("accepted CBOR the library refuses (%v): %x", err, data)
			}
		}
		// Every string of the message is text: header, dicts, payload.
		if s, ok := notText(messageValues(m)); !ok {
			t.Fatalf("decoded a string that is not UTF-8: %q", s)
		}
		out, err := ser.Encode(m)
		if errors.Is(err, ErrUnconvertible) {
			// Header dicts are decoded to Go values; one that no encoder
			// converts (a CBOR or msgpack timestamp) is refused when the
			// message is encoded again, and the router answers that as
			// any unconvertible value (the caller gets invalid_argument).
			return
		}
		if err != nil {
			t.Fatalf("decoded %s but cannot encode it: %v", m.MessageType(), err)
		}
		m2, err := ser.Decode(out)
		if err != nil {
			t.Fatalf("cannot decode re-encoded %s %x: %v", m.MessageType(), out, err)
		}
		if ser == jsonSer && !json.Valid(out) {
			t.Fatalf("encoded invalid JSON %q from %q", out, data)
		}
		if m2.MessageType() != m.MessageType() {
			t.Fatalf("re-encoded %s decodes as %s", m.MessageType(), m2.MessageType())
		}
		// Transcoding to the other serializers must not panic either.
		for _, other := range all {
			_, _ = other.Encode(m)
		}
	})
}

func FuzzDecodeJSON(f *testing.F)    { fuzzDecode(f, jsonSer) }
func FuzzDecodeMsgPack(f *testing.F) { fuzzDecode(f, msgpackSer) }
func FuzzDecodeCBOR(f *testing.F)    { fuzzDecode(f, cborSer) }

// cborAny decodes any CBOR (map keys of any type) within cborDec's bounds.
var cborAny = mustDecMode(cbor.DecOptions{MaxNestedLevels: maxCBORNesting, MaxArrayElements: maxCBORElements, MaxMapPairs: maxCBORPairs})

// cborRefusalJustified: what checkCBOR refuses, the library finds not well
// formed, or cannot decode (it checks UTF-8 where it decodes text).
func cborRefusalJustified(t *testing.T, data []byte) {
	if checkCBOR(data) == nil || cborDec.Wellformed(data) != nil {
		return
	}
	var v any
	if err := cborAny.Unmarshal(data, &v); err == nil {
		t.Fatalf("checkCBOR refuses %x (%v), which the library decodes", data, checkCBOR(data))
	}
}

// messageValues is every string and value of m: its attributes, and its
// payload's values when they decode.
func messageValues(m wamp.Message) []any {
	var vals []any
	rv := reflect.ValueOf(m).Elem()
	for i := range rv.NumField() {
		switch f := rv.Field(i); f.Kind() {
		case reflect.String:
			vals = append(vals, f.String())
		case reflect.Map:
			vals = append(vals, f.Interface())
		}
	}
	if p := wamp.PayloadOf(m); p != nil {
		if args, kwargs, err := DecodePayload(p); err == nil {
			vals = append(vals, args, kwargs)
		}
	}
	return vals
}

// notText returns a string in v (at any depth, map keys included) that is
// not UTF-8.
func notText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, utf8.ValidString(x)
	case []any:
		for _, e := range x {
			if s, ok := notText(e); !ok {
				return s, false
			}
		}
	case map[string]any:
		return notTextMap(x)
	case wamp.Dict:
		return notTextMap(x)
	}
	return "", true
}

func notTextMap(m map[string]any) (string, bool) {
	for k, e := range m {
		if !utf8.ValidString(k) {
			return k, false
		}
		if s, ok := notText(e); !ok {
			return s, false
		}
	}
	return "", true
}

// FuzzTranscode decodes a frame with one serializer (all[from%3]) and
// encodes the message with each of the three. Encode either fails with
// ErrUnconvertible, or writes a frame that the target decodes into the same
// message (payload values compared by value, or byte for byte when
// spliced). It never panics. Seeds in testdata/fuzz/FuzzTranscode/ are
// real frames with what does not convert: NaN, infinities, CBOR maps with
// integer keys, tags, 1e400, binary values, nesting.
func FuzzTranscode(f *testing.F) {
	f.Fuzz(func(t *testing.T, from byte, data []byte) {
		src := all[int(from)%len(all)]
		m, err := src.Decode(data)
		if err != nil {
			return
		}
		for _, to := range all {
			out, err := to.Encode(m)
			if err != nil {
				if !errors.Is(err, ErrUnconvertible) {
					t.Fatalf("%s -> %s: %s: not ErrUnconvertible: %v", src.Name(), to.Name(), m.MessageType(), err)
				}
				continue
			}
			back, err := to.Decode(out)
			if err != nil {
				t.Fatalf("%s -> %s: cannot decode %q: %v", src.Name(), to.Name(), out, err)
			}
			if !sameMessages(m, back) {
				t.Fatalf("%s -> %s changed the message:\n%#v\n%#v", src.Name(), to.Name(), m, back)
			}
		}
	})
}
