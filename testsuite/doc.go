// Package testsuite holds WAMP protocol scenarios written against a router
// URL, so they run against any WAMP v2 router: Junction in process (our own
// tests), the nexus router (to prove the scenarios themselves), or an
// external router:
//
//	JUNCTION_TESTSUITE_URL=ws://127.0.0.1:8080/ws JUNCTION_TESTSUITE_REALM=realm1 \
//		go test ./testsuite -run TestExternal -v
//
// Scenarios talk to the router through a small Client interface, implemented
// by drivers for independent client libraries: our clientlib, and the nexus
// client (in the package's tests, so nexus stays out of the product's
// imports). Run runs every scenario for each driver x serializer x
// compression, then across drivers and serializers mixed in one scenario
// (a json caller, a msgpack callee and a cbor subscriber).
package testsuite
