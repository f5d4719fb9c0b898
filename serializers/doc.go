// Package serializers turns WAMP messages into frame bytes and back, in JSON
// (encoding/json), MessagePack (vmihailenco/msgpack/v5) and CBOR
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
package serializers
