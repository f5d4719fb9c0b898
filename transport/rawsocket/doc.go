// Package rawsocket is WAMP over RawSocket (the WAMP spec, "RawSocket
// Transport"): a 4-octet handshake choosing the serializer and each side's
// maximum message length, then messages, PINGs and PONGs, each after a
// 4-octet prefix of its type and length. It runs over TCP, TLS and Unix
// domain sockets, and on the WebSocket port beside HTTP, told apart by the
// first octet (Magic, 0x7F, which no HTTP request starts with).
//
// proto.go is the wire format, shared by both ends; client.go the client
// end (Dial, Client, Conn), which clientlib and the tools use; server.go
// and peer.go the router's end, a transport.Peer per connection handed to
// a transport.Handler as the WebSocket transport's are.
package rawsocket
