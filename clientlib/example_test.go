package clientlib_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/wamp"
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

// A session over WAMP RawSocket on a Unix domain socket (rs://host:port
// for TCP, rss:// for TLS), with msgpack, accepting messages of up to
// 1 MiB. Not run: it needs a router serving the socket.
func ExampleConnect_rawSocket() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := clientlib.Connect(ctx, "unix:///run/junction/wamp.sock", "realm1", clientlib.Options{
		Serializer: "msgpack",
		ReadLimit:  1 << 20,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())
	err = c.Publish(ctx, "com.example.news", []any{strings.Repeat("x", 64<<20)}, nil, nil)
	if errors.Is(err, clientlib.ErrTooLarge) {
		fmt.Println("not sent:", err) // the session goes on
	}
}

// A long-lived service: with Options.Reconnect it survives its router
// restarting, a cluster node dying and a network that stalls. It connects
// again with backoff to its URLs in turn (here a cluster's three nodes),
// joins with the same authentication, and registers and subscribes again
// with the same handlers; OnDown and OnUp say when its session goes and
// comes. Meanwhile, calls in flight fail with ErrConnectionLost, a Call
// waits for the next session within its context, a Publish fails with
// ErrNotConnected. Not run: it needs the routers.
func ExampleConnect_reconnect() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	svc, err := clientlib.Connect(start, "wss://node1.example.com/ws", "realm1", clientlib.Options{
		AuthID: "billing",
		Auth:   []clientlib.Authenticator{clientlib.TicketAuth(os.Getenv("BILLING_TICKET"))},
		Reconnect: &clientlib.Reconnect{
			URLs:     []string{"wss://node2.example.com/ws", "wss://node3.example.com/ws"},
			MinDelay: 100 * time.Millisecond, MaxDelay: 10 * time.Second,
			OnDown: func(err error) { log.Println("session lost:", err) },
			OnUp:   func(id wamp.ID, _ wamp.Dict) { log.Println("session", id, "up, procedures registered again") },
			OnRestoreError: func(uri string, err error) {
				log.Println("not registered again yet:", uri, err) // procedure_already_exists is retried
			},
		},
		WriteTimeout: 5 * time.Second,  // a write that takes longer ends the connection
		KeepAlive:    10 * time.Second, // a router silent for 20 s is taken for dead
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = svc.Register(start, "com.example.invoice", func(ctx context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		// ctx ends when the session does: the answer would go nowhere.
		return &clientlib.Result{Args: []any{"ok"}}, nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	<-ctx.Done() // serve until interrupted
	closing, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = svc.Close(closing) // returns within 5 s whatever the network does
}
