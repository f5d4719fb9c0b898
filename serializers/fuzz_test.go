package serializers

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// fuzzDecode checks that decoding never panics and that whatever decodes
// re-encodes and decodes again as the same message type. Seeds are in
// testdata/fuzz/<target>/, made from the spec's test vectors.
func fuzzDecode(f *testing.F, ser Serializer) {
	f.Fuzz(func(t *testing.T, data []byte) {
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
		out, err := ser.Encode(m)
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
