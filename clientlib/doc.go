// Package clientlib is Junction's Go WAMP client: Go services use it to
// register procedures, call them, publish and subscribe, against Junction or
// any WAMP v2 router speaking WebSocket or RawSocket with json, msgpack or
// cbor.
//
//	c, err := clientlib.Connect(ctx, "ws://127.0.0.1:8080/ws", "realm1", clientlib.Options{})
//	if err != nil { ... }
//	defer c.Close(ctx)
//	_, err = c.Register(ctx, "com.example.add2", func(ctx context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
//		a, _ := wamp.AsInt(inv.Args[0])
//		b, _ := wamp.AsInt(inv.Args[1])
//		return &clientlib.Result{Args: []any{a + b}}, nil
//	}, nil)
//	res, err := c.Call(ctx, "com.example.add2", []any{2, 3}, nil, nil)
//
// The URL chooses the transport: ws:// and wss:// (TLS) for WebSocket;
// rs:// (TCP), rss:// (TLS) and unix:///path/to.sock (a Unix domain socket)
// for WAMP RawSocket, which Junction serves on its WebSocket port as well.
// RawSocket frames each message with a 4-octet prefix and nothing else: no
// HTTP, no compression, no closing handshake (Close says GOODBYE, then
// closes the connection). Each side announces the longest message it
// accepts: Options.ReadLimit is the client's, and a message longer than
// the router's is not sent, its method returning an error that wraps
// ErrTooLarge while the session goes on. ConnectLocal joins a router of the
// same process, with no socket (package transport/local).
//
// A long-lived service sets Options.Reconnect (see Reconnect): the Client
// then outlives its sessions, connecting again with backoff and jitter to
// its router URLs in turn (a cluster's nodes), joining with the same
// authentication, and registering and subscribing again what the
// application had, with the same handlers. Without it, the Client ends
// with its session (Done, Err). Requests in flight when a session ends
// fail with an error wrapping ErrConnectionLost; invocations being handled
// are abandoned (their ctx ends).
//
// Every blocking method takes a context and honours its cancellation as
// well as its deadline. One goroutine per connection writes to it (the
// write pump): methods queue their message, bounded by
// Options.WriteQueue and WriteQueueBytes, and wait for it to be written
// within their context; each network write is bounded by
// Options.WriteTimeout, past which the connection is closed, as it is
// when the router stays silent past twice Options.KeepAlive. Close returns
// within its context whatever the network does. Handlers run
// concurrently: one goroutine per invocation; events of one subscription are
// delivered in order on a goroutine of that subscription, never dropped. A
// WAMP ERROR comes back as a *wamp.RPCError; a handler that returns one answers
// with its URI, args and kwargs.
package clientlib
