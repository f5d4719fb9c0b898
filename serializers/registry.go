package serializers

import "github.com/junction-wamp/junction/wamp"

var (
	jsonSer    = &jsonSerializer{}
	msgpackSer = &msgpackSerializer{}
	cborSer    = &cborSerializer{}
	all        = []Serializer{jsonSer, msgpackSer, cborSer}
)

// All returns the serializers: json, msgpack, cbor, in that order.
func All() []Serializer { return append([]Serializer(nil), all...) }

// ByName returns the serializer called name ("json", "msgpack", "cbor").
func ByName(name string) (Serializer, bool) {
	for _, s := range all {
		if s.Name() == name {
			return s, true
		}
	}
	return nil, false
}

// BySubprotocol returns the serializer of a WebSocket subprotocol such as "wamp.2.json".
func BySubprotocol(p string) (Serializer, bool) {
	for _, s := range all {
		if s.Subprotocol() == p {
			return s, true
		}
	}
	return nil, false
}

// ForEncoding returns the serializer producing encoding e, or nil for EncodingNone.
func ForEncoding(e wamp.Encoding) Serializer {
	switch e {
	case wamp.EncodingJSON:
		return jsonSer
	case wamp.EncodingMsgPack:
		return msgpackSer
	case wamp.EncodingCBOR:
		return cborSer
	}
	return nil
}
