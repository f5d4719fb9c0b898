// Command service is the chat demo's history service: it subscribes to
// chat.message, keeps the last messages in memory and registers
// chat.history, which the page calls when it opens. Run it beside a router
// that serves the page:
//
//	go run ./cmd/junction --config examples/chat/config.toml
//	go run ./examples/chat/service
//
// It reconnects when the router goes away, keeping the history it has.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	chat "github.com/junction-wamp/junction/examples/chat"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8080/ws", "WebSocket URL of the router")
	realm := flag.String("realm", "realm1", "realm to join")
	keep := flag.Int("keep", 100, "number of messages the history keeps")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	history := chat.NewHistory(*keep)
	retry := time.Second
	for ctx.Err() == nil {
		err := session(ctx, *url, *realm, history, log)
		if ctx.Err() != nil {
			break
		}
		log.Warn("not connected to the router; retrying", "url", *url, "in", retry, "error", err)
		select {
		case <-time.After(retry):
		case <-ctx.Done():
		}
		retry = min(2*retry, 30*time.Second)
	}
}

// session serves one WAMP session until it ends or ctx is done.
func session(ctx context.Context, url, realm string, history *chat.History, log *slog.Logger) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := clientlib.Connect(cctx, url, realm, clientlib.Options{Serializer: "msgpack", Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(closeCtx)
	}()
	if err := chat.Serve(cctx, c, history, log); err != nil {
		return err
	}
	log.Info("chat service ready", "url", url, "realm", realm, "session", uint64(c.ID()),
		"subscribed", chat.TopicMessage, "registered", chat.ProcedureHistory)
	select {
	case <-c.Done():
		if err := c.Err(); err != nil {
			return err
		}
		return errors.New("session ended")
	case <-ctx.Done():
		return nil
	}
}
