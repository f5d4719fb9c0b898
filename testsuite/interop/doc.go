// Package interop runs real WAMP client libraries against an in-process
// Junction: AutobahnJS and wampy.js on Node, Autobahn|Python (Debian's
// python3-autobahn) on /usr/bin/python3, each with its serializers and over
// each transport it has (WebSocket; RawSocket over TCP, on the WebSocket
// port, and over a Unix socket), over a matrix of scenarios, plus mixed
// cases where libraries talk to each other through the router, across
// serializers and transports. The Go clients (clientlib and the nexus
// client) run testsuite's scenarios over each transport (TestInterop/go).
//
// Each library has one scenario program here (autobahnjs.cjs, wampy.mjs,
// autobahn_python.py) run as
//
//	PROGRAM URL REALM SERIALIZER SCENARIO
//
// where URL's scheme is the transport (ws://, rs://host:port for RawSocket
// over TCP, unix:///path for RawSocket over a Unix socket), that prints one
// JSON result line; TestInterop starts the router, runs the programs and
// reports one subtest per client/transport/serializer/scenario. The mixed
// cases run on one Junction (TestInterop/mixed); those over WebSocket only
// run again across two Junction nodes clustered over an in-process NATS
// server, the callee or subscriber on one node and the caller or publisher
// on the other (TestInterop/mixed_across_nodes; not in MATRIX.md). Install
// the libraries with .ci/install-interop; without them the cases are
// skipped, unless CI is set, when that is a failure.
//
// Environment: INTEROP_WRITE_MATRIX=1 rewrites MATRIX.md from the results;
// INTEROP_STDERR=1 logs the programs' stderr for passing cases too.
package interop
