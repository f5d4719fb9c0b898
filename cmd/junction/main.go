// Command junction is the Junction WAMP router and its operator command line.
//
// Usage:
//
//	junction [serve] [--config FILE] [--listen ADDRESS] [--cpuprofile FILE] [--memprofile FILE]
//	junction call URI [ARG...] [--kw KEY=VALUE]...
//	junction publish URI [ARG...] [--kw KEY=VALUE]... [--ack]
//	junction subscribe URI [--match exact|prefix|wildcard] [--stats] [--count N]
//	junction register URI [--timeout 30s] -- COMMAND [ARG...]
//	junction check-config FILE
//	junction default-config
//	junction healthcheck [--url URL]
//	junction version
//	junction completion bash|zsh|fish|powershell
//
// serve, which is also what junction with no command runs, serves the
// embedded default config (the repository's config.toml):
// ws://127.0.0.1:8080/ws, realm "realm1", anonymous, json, msgpack and cbor,
// compression on. --config FILE overrides keys of the default,
// JUNCTION_<SECTION>_<KEY> environment variables override the file (a
// JUNCTION_ variable that names no key is refused), and --listen overrides
// server.listen. SIGHUP reloads the config (and the TLS certificate)
// without dropping sessions; an invalid file changes nothing. check-config
// loads a file the same way and reports every invalid value;
// default-config prints the default config; healthcheck exits 0 when a
// running router's /healthz answers 200. version prints the module
// version, the VCS revision and commit time the build recorded, and the Go
// version.
//
// call, publish, subscribe and register are WAMP clients (clientlib) of a
// running router: --url (default ws://127.0.0.1:8080/ws), --realm (default
// realm1), --serializer, and --authid with --ticket, --wampcra-secret,
// --cryptosign-key-file or --tls-cert to authenticate. A positional argument
// or --kw value is taken as JSON when it parses as JSON (42, "x", {"a":1},
// true, null), otherwise as a string; put -- before arguments that start
// with "-". Results and events go to stdout, as text (strings as they are,
// other values as compact JSON) or with --json as one JSON object per line;
// help, logs and errors go to stderr.
//
// register runs COMMAND for each call, with the call's positional arguments
// appended as further arguments (strings as they are, other values as JSON;
// never through a shell) and its keyword arguments as one JSON object on
// stdin ({} when there are none). WAMP_PROCEDURE, and WAMP_CALLER,
// WAMP_CALLER_AUTHID and WAMP_CALLER_AUTHROLE when the router disclosed the
// caller, are added to its environment. Its stdout, less trailing newlines
// (as the shell's $(...) does), is the call's result, a string. A non-zero
// exit answers junction.error.command_failed with exit_code, stdout and
// stderr as keyword arguments; a command still running after --timeout is
// killed, with its children, and answers junction.error.command_timeout; a
// cancelled call kills its command.
//
// Exit status: 0 on success, and for serve, subscribe and register after an
// interrupt (SIGINT, SIGTERM) or, for subscribe, --count events; 1 when
// something fails at run time: serving (e.g. the address is in use), the
// connection or session, a call or acknowledged publish that gets an error,
// an invalid file given to check-config; 2 for a bad command line (unknown
// command or flag, wrong arguments) and, for serve, a bad config.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/junction-wamp/junction/config"
	"github.com/junction-wamp/junction/internal/buildinfo"
	"github.com/junction-wamp/junction/internal/cli"
	"github.com/junction-wamp/junction/server"
)

// version, when set at build time with -ldflags "-X main.version=...",
// replaces the module version the build recorded (see internal/buildinfo).
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
	// rawSocketListening, if set, is called with each RawSocket listener
	// of its own ([rawsocket] listen, unix) once it accepts.
	rawSocketListening func(network, addr string)
	// reload, if set, replaces SIGHUP as the signal to read the config
	// file (and the TLS certificate) again.
	reload <-chan struct{}
	// stdout receives results and events; default os.Stdout.
	stdout io.Writer
	// statsInterval is how often subscribe --stats updates; default 1s.
	statsInterval time.Duration
}

// run is the whole program: it runs the command that args name until it
// ends or ctx is done, and returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	return runWith(ctx, args, stderr, runOptions{})
}

func runWith(ctx context.Context, args []string, stderr io.Writer, opts runOptions) int {
	if opts.stdout == nil {
		opts.stdout = os.Stdout
	}
	if opts.statsInterval <= 0 {
		opts.statsInterval = time.Second
	}
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root := newRootCommand(stderr, &opts)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return cli.ExitStatus(cmd, err, stderr)
}

// serveFlags are the flags of serve, which junction with no command also takes.
type serveFlags struct {
	config, listen         string
	cpuProfile, memProfile string
	version                bool
}

// runServe serves until ctx is done and returns the exit status.
func runServe(ctx context.Context, f *serveFlags, stderr io.Writer, opts *runOptions) int {
	if f.version {
		fmt.Fprintln(stderr, "junction", buildinfo.Read(version))
		return 0
	}
	cfg, err := config.LoadListen(f.config, f.listen)
	if err != nil {
		fmt.Fprintln(stderr, "junction:", err)
		return 2
	}
	logger := server.NewLogger(cfg, stderr)
	srv, err := server.New(cfg, server.Options{Logger: logger, Version: buildinfo.Read(version).Version, Listening: opts.listening,
		RawSocketListening: opts.rawSocketListening})
	if err != nil {
		fmt.Fprintln(stderr, "junction: invalid config:", err)
		return 2
	}
	reload := opts.reload
	if reload == nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		r := make(chan struct{})
		go func() {
			for {
				select {
				case <-hup:
					select {
					case r <- struct{}{}:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		reload = r
	}
	go reloadOn(ctx, reload, srv, logger, func() (server.Config, error) { return config.LoadListen(f.config, f.listen) })
	stopProfiles, err := startProfiles(f.cpuProfile, f.memProfile)
	if err != nil {
		_ = srv.Shutdown(context.Background()) // nothing served yet
		fmt.Fprintln(stderr, "junction:", err)
		return 2
	}
	defer stopProfiles()
	if err := srv.ListenAndServe(ctx); err != nil {
		logger.Error("junction stopped", "error", err)
		return 1
	}
	return 0
}

// reloadOn reloads the config each time reload fires, one reload at a
// time (SIGHUPs that arrive meanwhile are coalesced: at most two wait,
// one in signal.Notify's buffer, one in the forwarder): load reads the file, the environment and the flags again, as at
// start, and checks everything; an invalid config is logged, every
// problem on its own line, and changes nothing. A valid one is applied
// with server.Server.Reload, which logs what it did and each setting that
// needs a restart.
func reloadOn(ctx context.Context, reload <-chan struct{}, srv *server.Server, logger *slog.Logger, load func() (server.Config, error)) {
	for {
		select {
		case <-reload:
			reloadOnce(srv, logger, load)
		case <-ctx.Done():
			return
		}
	}
}

func reloadOnce(srv *server.Server, logger *slog.Logger, load func() (server.Config, error)) {
	logger.Info("reloading the configuration")
	cfg, err := load()
	if err == nil {
		_, err = srv.Reload(cfg)
	}
	if err != nil {
		logger.Error("config not reloaded: it is invalid; nothing changed")
		for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
			if line = strings.TrimSpace(line); line != "" && line != "invalid config:" {
				logger.Error("config not reloaded", "error", line)
			}
		}
	}
}

// startProfiles starts the CPU profile and returns the function that ends
// it and writes the heap profile. Either file may be empty.
func startProfiles(cpuFile, memFile string) (stop func(), err error) {
	var cpu *os.File
	if cpuFile != "" {
		if cpu, err = os.Create(cpuFile); err != nil {
			return nil, err
		}
		if err = pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, err
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memFile != "" {
			if f, err := os.Create(memFile); err == nil {
				runtime.GC()
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
	}, nil
}
