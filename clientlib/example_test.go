package clientlib_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/server"
)

// An in-process callee and caller on an embedded server: ConnectLocal
// joins the server's router with no socket, and the messages between the
// sessions and the router are not encoded. The server needs not serve a
// listener for that; WebSocket clients, when it does, reach the same
// procedures.
func ExampleConnectLocal() {
	ctx := context.Background()
	srv, err := server.New(server.Config{}, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)

	callee, err := clientlib.ConnectLocal(ctx, srv, "realm1", clientlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer callee.Close(ctx)
	greet := func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{fmt.Sprintf("hello, %v", inv.Args[0])}}, nil
	}
	if _, err := callee.Register(ctx, "com.example.greet", greet, nil); err != nil {
		log.Fatal(err)
	}

	caller, err := clientlib.ConnectLocal(ctx, srv, "realm1", clientlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer caller.Close(ctx)
	res, err := caller.Call(ctx, "com.example.greet", []any{"world"}, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Args[0])
	// Output: hello, world
}

// Publish and subscribe in-process, on a router of one's own (a
// *router.Router is a transport.Handler as a *server.Server is).
func ExampleConnectLocal_pubsub() {
	ctx := context.Background()
	srv, err := server.New(server.Config{}, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	r := srv.Router()

	subscriber, err := clientlib.ConnectLocal(ctx, r, "realm1", clientlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer subscriber.Close(ctx)
	got := make(chan *clientlib.Event, 1)
	if _, err := subscriber.Subscribe(ctx, "com.example.news", func(ev *clientlib.Event) { got <- ev }, nil); err != nil {
		log.Fatal(err)
	}

	publisher, err := clientlib.ConnectLocal(ctx, r, "realm1", clientlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer publisher.Close(ctx)
	// Acknowledge: wait until the router took the event, so that nothing is
	// lost when the publisher leaves.
	err = publisher.Publish(ctx, "com.example.news", []any{"it works"}, map[string]any{"n": 1},
		&clientlib.PublishOptions{Acknowledge: true})
	if err != nil {
		log.Fatal(err)
	}
	ev := <-got
	fmt.Println(ev.Topic, ev.Args[0], ev.Kwargs["n"])
	// Output: com.example.news it works 1
}
