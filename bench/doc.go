// Package bench holds the side-by-side comparison of Junction with the nexus
// router (github.com/gammazero/nexus/v3), the router users run today:
//
//	go run ./bench/compare
//
// builds Junction, a small nexus router main (bench/nexusrouter) and a
// gorilla/websocket echo that answers CALL with RESULT itself
// (bench/echorouter, the floor of the WebSocket layer alone; "echo-raw" is
// the same echo answering by rewriting the CALL header, payload never
// decoded or copied: the floor of gorilla/websocket itself), runs the
// wampbench scenarios against each in turn, A B A B, and prints medians and
// ratios Junction/nexus, router CPU per call and per delivered event
// included. Every scenario runs over RawSocket too (-transports ws,rs, the
// default): Junction on its WebSocket port (rs://, as configured by
// default), nexus's RawSocketServer on a TCP listener, and the echo over
// RawSocket's wire format on a plain TCP connection ("echo-rs",
// "echo-rs-raw": the floor of moving the same bytes with a 4-octet
// prefix), with the ratios rs: Junction/nexus and Junction rs/ws.
// -transports ws,rs,unix adds RawSocket over a Unix socket (Junction's
// [rawsocket] unix, nexus's and the echo's).
// -profile DIR writes a CPU profile of each Junction run, and
//
//	go run ./bench/cpusplit DIR/*.pprof
//
// splits each into where its time goes (system calls, framing, decoding
// and encoding, routing, allocation and GC, scheduling). Nothing here is
// part of the product: only this harness imports nexus.
//
//	go run ./bench/cluster
//
// starts Junction as one node and as a three-node cluster (embedded NATS
// with routes) and runs wampbench rpc and pubsub with every peer on one
// node and with the callee or subscribers on another node, in turn, and
// prints medians with router CPU summed over the nodes.
//
//	go run ./bench/soak -duration 30m -out soak-results
//
// starts Junction with its default config on 127.0.0.1 and runs wampbench
// soak against it: mixed traffic with slow and hostile clients, every answer
// checked, the router's RSS, heap, goroutines and file descriptors sampled
// to soak.csv and plotted in soak.png.
//
//	bench/engines/run.sh
//	bench/engines/echo.sh
//
// compare the WebSocket connection engines: run.sh Junction with
// websocket.engine gorilla and nbio (idle sessions, rpc, pubsub); echo.sh
// the candidate libraries as echo servers (bench/echorouter --engine
// gorilla, nbio, or gobwas: gobwas/ws with an epoll loop of the bench's
// own), CPU per round trip and memory per idle connection. Only the bench
// imports gobwas/ws.
package bench
