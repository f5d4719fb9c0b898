package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// The errors a registered command answers with.
const (
	errCommandFailed  wamp.URI = "junction.error.command_failed"
	errCommandTimeout wamp.URI = "junction.error.command_timeout"
)

const (
	// maxCommandOutput bounds the stdout kept as a result: the default
	// websocket.max_message_size.
	maxCommandOutput = 16 << 20
	// maxErrorOutput bounds the stdout and stderr put in an error.
	maxErrorOutput = 64 << 10
	// commandWaitDelay is how long a killed command's output pipes stay
	// open for its remaining children.
	commandWaitDelay = time.Second
)

func newRegisterCommand(stderr io.Writer) *cobra.Command {
	var f clientFlags
	var match, invoke string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "register URI [flags] -- COMMAND [ARG...]",
		Short: "Expose a command as a procedure",
		Long: `Register the procedure URI on a running router and run COMMAND for each call,
until interrupted (Ctrl-C). Calls run concurrently.

- The call's positional arguments are appended to COMMAND's arguments:
  strings as they are, anything else as compact JSON. They are never
  interpreted by a shell.
- Its keyword arguments are written to COMMAND's stdin as one JSON object
  ({} when there are none), followed by a newline.
- WAMP_PROCEDURE is set in its environment (the called URI, useful with
  --match prefix), and WAMP_CALLER, WAMP_CALLER_AUTHID and
  WAMP_CALLER_AUTHROLE when the router disclosed the caller.
- Its stdout, less trailing newlines (as the shell's $(...) does), is the
  result: one positional result, a string (at most 16 MiB).
- A non-zero exit answers junction.error.command_failed with a message and
  the keyword arguments exit_code, stdout and stderr (each at most 64 KiB).
- A command still running after --timeout is killed with its children
  (process group) and answers junction.error.command_timeout; a command
  whose call is cancelled, or still running when register stops, is killed.

"registered URI" on stderr says the procedure is in place; failed commands
are logged on stderr.`,
		Example: `  junction register com.example.uptime -- uptime
  junction register com.example.grep --timeout 5s -- grep -c
  junction register com.example.jobs. --match prefix -- ./job.sh`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 || len(args) < 2 {
				return errors.New("want URI -- COMMAND [ARG...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			uri, argv := args[0], args[1:]
			if err := matchFlag(match); err != nil {
				return err
			}
			if !slices.Contains([]string{"single", "roundrobin", "random", "first", "last"}, invoke) {
				return fmt.Errorf("--invoke %q: want single, roundrobin, random, first or last", invoke)
			}
			if timeout <= 0 {
				return fmt.Errorf("--timeout %s: want a positive duration", timeout)
			}
			if _, err := exec.LookPath(argv[0]); err != nil {
				return fmt.Errorf("command %s: %w", argv[0], err)
			}
			ctx := cmd.Context()
			c, err := f.connect(ctx, stderr)
			if err != nil {
				return err
			}
			defer closeClient(c)
			r := &commandRunner{argv: argv, timeout: timeout,
				log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
			var ro clientlib.RegisterOptions
			if match != "exact" {
				ro.Match = wamp.MatchPolicy(match)
			}
			if invoke != "single" {
				ro.Invoke = wamp.InvokePolicy(invoke)
			}
			reg, err := c.Register(ctx, uri, r.handle, &ro)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return rpcFailure("register "+uri, err, false, cmd.OutOrStdout(), stderr)
			}
			fmt.Fprintf(stderr, "registered %s (match %s, registration %d): running %s for each call\n",
				uri, match, reg.ID, argv[0])
			select {
			case <-ctx.Done():
				return nil
			case <-c.Done():
				return Failed(fmt.Errorf("register %s: session ended: %v", uri, c.Err()))
			}
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&match, "match", "exact", "match policy: exact, prefix or wildcard")
	cmd.Flags().StringVar(&invoke, "invoke", "single", "shared registration policy: single, roundrobin, random, first or last")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "kill the command after this `duration`")
	_ = cmd.RegisterFlagCompletionFunc("match", cobra.FixedCompletions([]string{"exact", "prefix", "wildcard"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("invoke", cobra.FixedCompletions([]string{"single", "roundrobin", "random", "first", "last"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// commandRunner answers invocations by running a command.
type commandRunner struct {
	argv    []string
	timeout time.Duration
	log     *slog.Logger
}

func (r *commandRunner) handle(callCtx context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
	ctx, cancel := context.WithTimeout(callCtx, r.timeout)
	defer cancel()
	args := slices.Clone(r.argv[1:])
	for _, a := range inv.Args {
		args = append(args, textValue(a))
	}
	stdin := "{}"
	if len(inv.Kwargs) > 0 {
		stdin = compactJSON(inv.Kwargs)
	}
	cmd := exec.CommandContext(ctx, r.argv[0], args...)
	cmd.Stdin = strings.NewReader(stdin + "\n")
	stdout, stderr := &cappedBuffer{limit: maxCommandOutput}, &cappedBuffer{limit: maxErrorOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), "WAMP_PROCEDURE="+inv.Procedure)
	for key, env := range map[string]string{"caller": "WAMP_CALLER", "caller_authid": "WAMP_CALLER_AUTHID", "caller_authrole": "WAMP_CALLER_AUTHROLE"} {
		if v, ok := inv.Details[key]; ok {
			cmd.Env = append(cmd.Env, env+"="+textValue(v))
		}
	}
	cmd.WaitDelay = commandWaitDelay
	killProcessGroup(cmd)

	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case callCtx.Err() != nil:
		r.log.Info("call cancelled; command killed", "procedure", inv.Procedure, "after", took)
		return nil, wamp.NewError(wamp.ErrCanceled, "call cancelled; command killed")
	case ctx.Err() != nil:
		r.log.Warn("command timed out; killed", "procedure", inv.Procedure, "timeout", r.timeout)
		return nil, &wamp.RPCError{URI: errCommandTimeout,
			Args:   []any{fmt.Sprintf("%s: killed after the timeout of %s", r.argv[0], r.timeout)},
			Kwargs: map[string]any{"timeout": r.timeout.String(), "stdout": stdout.head(maxErrorOutput), "stderr": stderr.head(maxErrorOutput)}}
	case err != nil:
		kwargs := map[string]any{"stdout": stdout.head(maxErrorOutput), "stderr": stderr.head(maxErrorOutput)}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			kwargs["exit_code"] = ee.ExitCode() // -1 when killed by a signal
		}
		r.log.Warn("command failed", "procedure", inv.Procedure, "error", err, "after", took)
		return nil, &wamp.RPCError{URI: errCommandFailed, Args: []any{fmt.Sprintf("%s: %v", r.argv[0], err)}, Kwargs: kwargs}
	case stdout.truncated:
		r.log.Warn("command output too large", "procedure", inv.Procedure, "limit", maxCommandOutput)
		return nil, &wamp.RPCError{URI: errCommandFailed,
			Args: []any{fmt.Sprintf("%s: stdout larger than %d bytes", r.argv[0], maxCommandOutput)}}
	}
	return &clientlib.Result{Args: []any{strings.TrimRight(stdout.String(), "\n")}}, nil
}

// cappedBuffer keeps the first limit bytes written to it and discards the
// rest, so that the command is never blocked nor broken by a full pipe.
type cappedBuffer struct {
	bytes.Buffer
	limit     int
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); len(p) > room {
		b.Buffer.Write(p[:max(room, 0)])
		b.truncated = true
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// head is the first n bytes written, as a string.
func (b *cappedBuffer) head(n int) string {
	s := b.String()
	if len(s) > n {
		s = s[:n]
	}
	return s
}
