// Command add2 registers com.example.add2 on a Junction router, calls it
// once, then keeps serving it until Ctrl-C, so that other clients can call
// it too. It is a long-lived service: when its session is lost (the router
// restarts, the network fails), it connects again with backoff, to -url and
// then each -also URL in turn (a cluster's nodes), and registers again:
//
//	go run ./cmd/junction &
//	go run ./examples/add2 &
//	go run ./cmd/junction call com.example.add2 2 3   # prints 5
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// defaultURL is where go run ./cmd/junction serves.
const defaultURL = "ws://127.0.0.1:8080/ws"

func main() {
	url := flag.String("url", defaultURL, "WebSocket URL of the router")
	realm := flag.String("realm", "realm1", "realm to join")
	var also urlList
	flag.Var(&also, "also", "another router URL to reconnect to, in turn (repeatable)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, append([]string{*url}, also...), *realm, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run registers com.example.add2, calls it once and prints the result, then
// serves the procedure until ctx is done, reconnecting to urls in turn.
func run(ctx context.Context, urls []string, realm string, stdout io.Writer) error {
	setup, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	callee, err := clientlib.Connect(setup, urls[0], realm, clientlib.Options{
		Serializer: "msgpack",
		Reconnect: &clientlib.Reconnect{
			URLs:   urls[1:],
			OnDown: func(err error) { fmt.Fprintln(stdout, "session lost, reconnecting:", err) },
			OnUp: func(id wamp.ID, _ wamp.Dict) {
				fmt.Fprintln(stdout, "session", id, "up again, com.example.add2 registered")
			},
		},
	})
	if err != nil {
		return err
	}
	defer closeClient(callee)
	// Registered again on every new session, with the same handler.
	if _, err := callee.Register(setup, "com.example.add2", add2, nil); err != nil {
		return err
	}

	caller, err := clientlib.Connect(setup, urls[0], realm, clientlib.Options{})
	if err != nil {
		return err
	}
	res, err := caller.Call(setup, "com.example.add2", []any{2, 3}, nil, nil)
	closeClient(caller)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "com.example.add2(2, 3) =", res.Args[0])
	fmt.Fprintln(stdout, "serving com.example.add2 until Ctrl-C; try: junction call com.example.add2 2 3")
	<-ctx.Done()
	return nil
}

// add2 is the procedure: the sum of two integers.
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

// closeClient leaves the realm, waiting at most 5 s for the router.
func closeClient(c *clientlib.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// urlList is a repeatable flag.
type urlList []string

func (l *urlList) String() string     { return fmt.Sprint(*l) }
func (l *urlList) Set(s string) error { *l = append(*l, s); return nil }
