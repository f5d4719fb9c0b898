// Command embed is a Go program with Junction inside: it embeds the router
// (server.New), registers a procedure of its own in-process
// (clientlib.ConnectLocal: no socket, no encoding between the procedure and
// the router) and serves WebSocket clients, which call the procedure like
// any other:
//
//	go run ./examples/embed                    # listens on 127.0.0.1:8080
//	junction call com.example.add2 2 3         # in another terminal: 5
//
// -listen chooses the address (127.0.0.1:0 for a free port); the program
// logs the address it listens on and how to call the procedure, and stops
// on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/server"
	"github.com/junction-wamp/junction/wamp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "`host:port` to serve WebSocket clients on")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, log); err != nil {
		log.Error("embed", "error", err)
		os.Exit(1)
	}
}

// add2 is the program's own procedure.
func add2(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
	if len(inv.Args) != 2 {
		return nil, wamp.NewError(wamp.ErrInvalidArgument, "add2 takes two numbers")
	}
	a, ok1 := wamp.AsInt(inv.Args[0])
	b, ok2 := wamp.AsInt(inv.Args[1])
	if !ok1 || !ok2 {
		return nil, wamp.NewError(wamp.ErrInvalidArgument, "add2 takes two integers")
	}
	return &clientlib.Result{Args: []any{a + b}}, nil
}

func run(ctx context.Context, listen string, log *slog.Logger) error {
	// The zero Config is the junction binary with no config file: realm
	// "realm1", anonymous, every serializer, the default limits.
	srv, err := server.New(server.Config{}, server.Options{Logger: log})
	if err != nil {
		return err
	}
	callee, err := clientlib.ConnectLocal(ctx, srv, "realm1", clientlib.Options{Logger: log})
	if err != nil {
		return err
	}
	if _, err := callee.Register(ctx, "com.example.add2", add2, nil); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	url := "ws://" + ln.Addr().String() + "/ws"
	log.Info("serving; call the in-process procedure with: junction call com.example.add2 2 3 --url "+url,
		"url", url, "realm", "realm1", "procedure", "com.example.add2")
	// Serve returns when ctx is done, after a Shutdown that ends every
	// session, the in-process callee's included.
	err = srv.Serve(ctx, ln)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
