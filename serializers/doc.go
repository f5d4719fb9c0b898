// Package serializers turns WAMP messages into frame bytes and back, in JSON
// (gjson, encoding/json), MessagePack (vmihailenco/msgpack/v5) and CBOR
// (fxamacker/cbor/v2).
//
// Each message type is read and written by explicit code (message.go), shared
// by the three codecs through a small element reader and writer, so no
// reflection maps list positions to struct fields.
//
// Application payloads stay encoded: Decode keeps a message's Arguments|list
// and ArgumentsKw|dict as the raw bytes it read, and Encode splices raw bytes
// of its own encoding back unchanged. Only between different encodings are
// they transcoded, following WAMP's binary convention for JSON: a string
// "\u0000" + base64 is a byte string in MessagePack and CBOR.
//
// Nothing a peer sends is forwarded unchecked: Decode walks the whole frame,
// payloads included, without decoding them (checkMsgpack, splitCBORList,
// gjson's validation), refusing what is not well formed, nests too deep,
// declares more than it holds, or has text that is not UTF-8. A payload that
// another serializer cannot carry (NaN for JSON, a CBOR map with integer
// keys, JSON's 1e400 for msgpack...) fails Encode with ErrUnconvertible;
// convert.go lists what converts and what does not.
package serializers
