// Command junction is the Junction WAMP router.
//
// With no flags it serves the embedded default config (the repository's
// config.toml): ws://127.0.0.1:8080/ws, realm "realm1", anonymous, json,
// msgpack and cbor, compression on. --config FILE overrides keys of the
// default, JUNCTION_<SECTION>_<KEY> environment variables override the file,
// and --listen overrides server.listen.
//
// Exit status: 0 after a clean start and a signal (SIGINT, SIGTERM), 1 when
// serving fails (e.g. the address is in use), 2 for bad flags or config.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// runOptions are the hooks tests give runWith.
type runOptions struct {
	// listening, if set, is called with the bound address once the server
	// accepts connections.
	listening func(addr string)
	// reload, if set, replaces SIGHUP as the signal to read the TLS
	// certificate again.
	reload <-chan struct{}
}

// run is the whole program: it serves until ctx is done and returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	return runWith(ctx, args, stderr, runOptions{})
}

func runWith(ctx context.Context, args []string, stderr io.Writer, opts runOptions) int {
	flags := pflag.NewFlagSet("junction", pflag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "TOML `file` of keys to change from the embedded default config")
	listen := flags.String("listen", "", "listen `address` (host:port), overrides server.listen; port 0 picks a free port")
	showVersion := flags.Bool("version", false, "print the version and exit")
	flags.Usage = func() { usage(stderr, flags) }
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "junction: %v (see junction --help)\n", err)
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "junction: unexpected argument %q\n", flags.Arg(0))
		usage(stderr, flags)
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
	srv, err := newServer(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "junction: invalid config:", err)
		return 2
	}
	if opts.reload == nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		reload := make(chan struct{})
		go func() {
			for {
				select {
				case <-hup:
					reload <- struct{}{}
				case <-ctx.Done():
					return
				}
			}
		}()
		opts.reload = reload
	}
	if err := srv.serve(ctx, opts.listening, opts.reload); err != nil {
		logger.Error("junction stopped", "error", err)
		return 1
	}
	return 0
}

func usage(w io.Writer, flags *pflag.FlagSet) {
	fmt.Fprintf(w, `Usage: junction [--config FILE] [--listen ADDRESS]

Junction is a WAMP v2 router. Without --config it runs on the embedded
default config (the repository's config.toml). Config keys can also be set
from the environment as JUNCTION_<SECTION>_<KEY>, e.g. JUNCTION_LOG_LEVEL=debug.

Flags:
%s`, flags.FlagUsages())
}

// newLogger returns the text or JSON logger on w that cfg asks for.
func newLogger(cfg *config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
