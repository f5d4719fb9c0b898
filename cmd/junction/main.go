// Command junction is the Junction WAMP router.
//
// With no flags it serves the embedded default config (the repository's
// config.toml): ws://127.0.0.1:8080/ws, realm "realm1", anonymous, json,
// msgpack and cbor, compression on.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/websocket"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, nil))
}

// run is the whole program; listening, if not nil, is told the bound address.
func run(ctx context.Context, args []string, stderr io.Writer, listening func(addr string)) int {
	flags := pflag.NewFlagSet("junction", pflag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "config file (TOML); default: the embedded default config")
	listen := flags.String("listen", "", "listen address, overrides server.listen (e.g. 127.0.0.1:0)")
	showVersion := flags.Bool("version", false, "print the version and exit")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stderr, "junction", version)
		return 0
	}
	cfg, err := loadConfig(*configPath, *listen)
	if err != nil {
		fmt.Fprintln(stderr, "junction:", err)
		return 2
	}
	logger := newLogger(cfg, stderr)
	if err := serve(ctx, cfg, logger, listening); err != nil {
		logger.Error("junction stopped", "error", err)
		return 1
	}
	return 0
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the router until ctx is done, then shuts it down gracefully.
func serve(ctx context.Context, cfg *config, logger *slog.Logger, listening func(string)) error {
	r, err := router.New(cfg.Router, router.Options{Logger: logger})
	if err != nil {
		return err
	}
	ws, err := websocket.NewServer(cfg.WebSocket, r, websocket.Options{Logger: logger, Ready: r.Serving})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           ws.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	realms := make([]string, len(cfg.Router.Realms))
	for i, rc := range cfg.Router.Realms {
		realms[i] = rc.Name
	}
	logger.Info("junction listening", "addr", ln.Addr().String(), "path", cfg.WebSocket.Path,
		"realms", realms, "serializers", cfg.WebSocket.Serializers, "version", version)
	if listening != nil {
		listening(ln.Addr().String())
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	rerr := r.Shutdown(sctx)
	if err := ws.Shutdown(sctx); err != nil {
		ws.CloseAll(transport.CloseGoingAway, "router shutting down")
	}
	herr := hs.Shutdown(sctx)
	if err := errors.Join(rerr, herr); err != nil {
		logger.Warn("shutdown incomplete within the grace period", "error", err)
	}
	logger.Info("junction stopped")
	return nil
}
