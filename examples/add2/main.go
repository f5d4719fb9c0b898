// Command add2 registers com.example.add2 on a Junction router and calls it.
//
//	go run ./cmd/junction &
//	go run ./examples/add2
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const url = "ws://127.0.0.1:8080/ws"

	callee, err := clientlib.Connect(ctx, url, "realm1", clientlib.Options{Serializer: "msgpack"})
	if err != nil {
		log.Fatal(err)
	}
	defer callee.Close(ctx)
	_, err = callee.Register(ctx, "com.example.add2", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		if len(inv.Args) != 2 {
			return nil, wamp.NewError(wamp.ErrInvalidArgument, "add2 takes two numbers")
		}
		a, ok1 := wamp.AsInt(inv.Args[0])
		b, ok2 := wamp.AsInt(inv.Args[1])
		if !ok1 || !ok2 {
			return nil, wamp.NewError(wamp.ErrInvalidArgument, "add2 takes two integers")
		}
		return &clientlib.Result{Args: []any{a + b}}, nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}

	caller, err := clientlib.Connect(ctx, url, "realm1", clientlib.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer caller.Close(ctx)
	res, err := caller.Call(ctx, "com.example.add2", []any{2, 3}, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("com.example.add2(2, 3) =", res.Args[0])
}
