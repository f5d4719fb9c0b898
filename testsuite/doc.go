// Package testsuite holds WAMP protocol scenarios written against a router
// URL, so they run against any WAMP v2 router: Junction in process (our own
// tests), the nexus router (to prove the scenarios themselves), or an
// external router:
//
//	JUNCTION_TESTSUITE_URL=ws://127.0.0.1:8080/ws JUNCTION_TESTSUITE_REALM=realm1 \
//		go test ./testsuite -run TestExternal -v
//
// The URL may be a RawSocket one as well (rs://127.0.0.1:8080, rss://,
// unix:///path/to.sock), and JUNCTION_TESTSUITE_TRANSPORTS adds the same
// router's URLs over other transports (rs://127.0.0.1:8080,unix:///run/j.sock),
// run on their own and mixed with the first.
//
// Scenarios talk to the router through a small Client interface, implemented
// by drivers for independent client libraries: our clientlib, and the nexus
// client (in the package's tests, so nexus stays out of the product's
// imports). Run runs every scenario for each driver x serializer x
// transport (WebSocket with and without compression, RawSocket over TCP and
// a Unix socket), then across drivers, serializers and transports mixed in
// one scenario (a json WebSocket caller, a msgpack RawSocket callee and a
// cbor subscriber on a Unix socket).
package testsuite
