// Package websocket is Junction's WebSocket transport, on gorilla/websocket,
// or, with Config.Engine "nbio", on lesismal/nbio's event loop after
// gorilla's handshake (engine.go, nbpeer.go: no goroutine and no read buffer
// per idle connection).
//
// The Server negotiates the WAMP subprotocol (wamp.2.json on text frames,
// wamp.2.msgpack and wamp.2.cbor on binary frames) in the client's order of
// preference, permessage-deflate, and the Origin policy during the HTTP
// handshake, refusing with 400 or 403 and a readable body. Each connection is
// then one peer with two goroutines: the handler goroutine is the read pump
// (it runs the router's session), and one write pump is the only writer. The
// write pump drains the peer's bounded queue (transport.Queue), writes shared
// fan-out frames as PreparedMessages (framed and compressed once for all
// connections), sends pings and closes with the code the router asks for.
package websocket
