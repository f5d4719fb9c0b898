package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/junction-wamp/junction/config"
	"github.com/junction-wamp/junction/internal/buildinfo"
	"github.com/junction-wamp/junction/internal/cli"
)

// newRootCommand builds the command tree. Help and errors go to stderr,
// results and completion scripts to opts.stdout.
func newRootCommand(stderr io.Writer, opts *runOptions) *cobra.Command {
	var rootServe, serve serveFlags
	root := &cobra.Command{
		Use:   "junction [--config FILE] [--listen ADDRESS]",
		Short: "Junction, a WAMP v2 router",
		Long: `Junction is a WAMP v2 router. With no command it serves (see junction serve
--help): without --config on the embedded default config (the repository's
config.toml), ws://127.0.0.1:8080/ws, realm "realm1", anonymous. Config keys
can also be set from the environment as JUNCTION_<SECTION>_<KEY>, e.g.
JUNCTION_LOG_LEVEL=debug.

call, publish, subscribe and register are WAMP clients of a running router.

Exit status: 0 on success; 1 when something fails at run time (serving, the
connection, a call, an invalid file given to check-config); 2 for a bad
command line and, for serve, a bad config.`,
		Example: `  junction --listen 127.0.0.1:9000
  junction call com.example.add2 2 3
  junction subscribe com.example. --match prefix --json
  junction register com.example.uptime -- uptime`,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveExit(runServe(cmd.Context(), &rootServe, stderr, opts))
		},
	}
	rootServe.add(root.Flags())
	root.SetOut(opts.stdout)
	root.SetErr(stderr)
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		w := c.ErrOrStderr()
		text := c.Long
		if text == "" {
			text = c.Short
		}
		if text = strings.TrimSpace(text); text != "" {
			fmt.Fprintf(w, "%s\n\n", text)
		}
		fmt.Fprint(w, c.UsageString())
	})

	serveCmd := &cobra.Command{
		Use:   "serve [--config FILE] [--listen ADDRESS]",
		Short: "Run the router (the default command)",
		Long: `Run the router until SIGINT or SIGTERM, then end every session within
server.shutdown_grace. Without --config it runs on the embedded default config
(the repository's config.toml); --config FILE changes the keys the file sets,
JUNCTION_<SECTION>_<KEY> environment variables override the file (one that
names no key is refused), and --listen overrides server.listen. SIGHUP reads
the config again and applies realms, authentication, principals, roles, rules
and router limits without dropping sessions, and reloads the TLS certificate;
an invalid file changes nothing (see README, "Live reconfiguration").

Exit status: 0 after a clean start and a signal, 1 when serving fails (e.g.
the address is in use), 2 for bad flags or config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveExit(runServe(cmd.Context(), &serve, stderr, opts))
		},
	}
	serve.add(serveCmd.Flags())

	root.AddCommand(serveCmd, newVersionCommand(), newCheckConfigCommand(stderr), newDefaultConfigCommand(),
		newHealthcheckCommand())
	root.AddCommand(cli.Commands(cli.Options{Stderr: stderr, StatsInterval: opts.statsInterval})...)
	return root
}

func (f *serveFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "TOML `file` of keys to change from the embedded default config")
	fs.StringVar(&f.listen, "listen", "", "listen `address` (host:port), overrides server.listen; port 0 picks a free port")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) of the whole run to `file`")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile (pprof) to `file` when the router stops")
}

// serveExit turns runServe's exit status into the command's error; runServe
// has printed or logged the reason.
func serveExit(code int) error {
	if code == 0 {
		return nil
	}
	return &cli.ExitError{Code: code}
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Long: `Print the module version, the VCS revision and commit time the binary was
built from (when the build recorded them: go build in a git clone does, go run
and -buildvcs=false do not), and the Go toolchain and platform.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "junction", buildinfo.Read(version))
			return err
		},
	}
}

func newCheckConfigCommand(stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "check-config FILE",
		Short: "Check a config file as serve would load it",
		Long: `Load FILE over the embedded default config, with the JUNCTION_* environment
variables applied, exactly as serve --config FILE would, build the router
from it and load its TLS certificate and client CA, without listening.
Print "ok" on stdout, or every invalid value on stderr.

Exit status: 0 if the config is valid, 1 if it is not (or cannot be read),
2 for a bad command line.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("want one FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := config.Check(args[0]); err != nil {
				if !strings.Contains(err.Error(), args[0]) { // a syntax error names file:line:column
					err = fmt.Errorf("%s: %w", args[0], err)
				}
				return cli.Failed(err)
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return err
		},
	}
}

func newDefaultConfigCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "default-config",
		Short: "Print the default config, to start a config file from",
		Long: `Print the embedded default config (the repository's config.toml), every key
with its default and a comment, on stdout: junction default-config > my.toml,
then keep the keys to change (a file needs only those) and check the result
with junction check-config my.toml.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(config.Default())
			return err
		},
	}
}
