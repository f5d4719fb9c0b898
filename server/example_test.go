package server_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/server"
)

// A router embedded in a Go program: the zero Config (realm "realm1",
// anonymous) served on a listener of the program's own, a procedure
// registered by one client and called by another.
func Example() {
	ctx := context.Background()
	srv, err := server.New(server.Config{}, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	url := "ws://" + ln.Addr().String() + "/ws"

	callee, err := clientlib.Connect(ctx, url, "realm1", clientlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	greet := func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: []any{fmt.Sprintf("hello, %v", inv.Args[0])}}, nil
	}
	if _, err := callee.Register(ctx, "com.example.greet", greet, nil); err != nil {
		log.Fatal(err)
	}

	caller, err := clientlib.Connect(ctx, url, "realm1", clientlib.Options{Serializer: "cbor"})
	if err != nil {
		log.Fatal(err)
	}
	res, err := caller.Call(ctx, "com.example.greet", []any{"world"}, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Args[0])

	_ = caller.Close(ctx)
	_ = callee.Close(ctx)
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	// Output: hello, world
}

// The router mounted on the program's own http.ServeMux, beside its own
// handlers, and served by its own http.Server.
func ExampleServer_Handler() {
	ctx := context.Background()
	srv, err := server.New(server.Config{}, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", srv.Handler()) // the WebSocket endpoint, Config.WebSocket.Path
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello from the app") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go func() { _ = hs.Serve(ln) }()
	base := ln.Addr().String()

	resp, err := http.Get("http://" + base + "/hello")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(string(body))

	c, err := clientlib.Connect(ctx, "ws://"+base+"/ws", "realm1", clientlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Call(ctx, "wamp.session.count", nil, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sessions:", res.Args[0])

	_ = c.Close(ctx)
	_ = srv.Shutdown(ctx) // ends the router's sessions
	_ = hs.Shutdown(ctx)
	// Output:
	// hello from the app
	// sessions: 1
}
