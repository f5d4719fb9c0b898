package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/junction-wamp/junction/clientlib"
)

const valueHelp = `An argument or --kw value is taken as JSON when it parses as JSON (42,
'"x"', '{"a":1}', true, null), otherwise as a string; put -- before
arguments that start with "-".`

func newCallCommand(stderr io.Writer) *cobra.Command {
	var f clientFlags
	var kws []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "call URI [ARG...] [--kw KEY=VALUE]...",
		Short: "Call a procedure and print its result",
		Long: `Call the procedure URI on a running router and print its result: each
positional result on a line (a string as it is, anything else as compact
JSON), then each keyword result as KEY=VALUE. With --json, one line
{"args":[...],"kwargs":{...}}. A WAMP error is printed on stderr (and with
--json as {"error":URI,"args":[...],"kwargs":{...}} on stdout) and the exit
status is 1.

` + valueHelp,
		Example: `  junction call com.example.add2 2 3
  junction call com.example.greet alice --kw lang=fr --json
  junction call com.example.add2 -- -1 -2`,
		Args: uriArgs(true),
		RunE: func(cmd *cobra.Command, args []string) error {
			uri := args[0]
			ctx := cmd.Context()
			list, dict, c, err := f.connectWithPayload(ctx, stderr, args[1:], kws)
			if err != nil {
				return err
			}
			defer closeClient(c)
			callCtx := ctx
			if timeout > 0 {
				var cancel context.CancelFunc
				callCtx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			res, err := c.Call(callCtx, uri, list, dict, nil)
			switch {
			case err == nil:
				return printResult(cmd.OutOrStdout(), res, f.json)
			case ctx.Err() != nil:
				return Failed(fmt.Errorf("call %s: interrupted; the call was cancelled", uri))
			case errors.Is(err, context.DeadlineExceeded):
				return Failed(fmt.Errorf("call %s: no result within %s; the call was cancelled", uri, timeout))
			}
			return rpcFailure("call "+uri, err, f.json, cmd.OutOrStdout(), stderr)
		},
	}
	f.add(cmd)
	f.addJSON(cmd, "the result")
	cmd.Flags().StringArrayVarP(&kws, "kw", "k", nil, "keyword argument `KEY=VALUE` (repeatable)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "cancel the call when it has no result after this `duration` (0: wait)")
	return cmd
}

// printResult writes a call's result.
func printResult(w io.Writer, res *clientlib.Result, asJSON bool) error {
	if asJSON {
		return writeJSONLine(w, payloadJSON{Args: res.Args, Kwargs: res.Kwargs})
	}
	var b strings.Builder
	for _, a := range res.Args {
		s := textValue(a)
		b.WriteString(s)
		if !strings.HasSuffix(s, "\n") {
			b.WriteByte('\n')
		}
	}
	for _, k := range sortedKeys(res.Kwargs) {
		fmt.Fprintf(&b, "%s=%s\n", k, textValue(res.Kwargs[k]))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func newPublishCommand(stderr io.Writer) *cobra.Command {
	var f clientFlags
	var kws []string
	var ack bool
	cmd := &cobra.Command{
		Use:   "publish URI [ARG...] [--kw KEY=VALUE]... [--ack]",
		Short: "Publish an event",
		Long: `Publish an event to the topic URI on a running router. Without --ack the
event is sent and the session ends (GOODBYE) after it; with --ack the
router confirms it, or refuses it with a WAMP error (printed on stderr, and
with --json on stdout) and the exit status is 1. Nothing is printed on
success.

` + valueHelp,
		Example: `  junction publish com.example.news "hello world" --kw priority=1 --ack`,
		Args:    uriArgs(true),
		RunE: func(cmd *cobra.Command, args []string) error {
			uri := args[0]
			ctx := cmd.Context()
			list, dict, c, err := f.connectWithPayload(ctx, stderr, args[1:], kws)
			if err != nil {
				return err
			}
			defer closeClient(c)
			err = c.Publish(ctx, uri, list, dict, &clientlib.PublishOptions{Acknowledge: ack})
			switch {
			case err == nil:
				return nil
			case ctx.Err() != nil:
				return Failed(fmt.Errorf("publish %s: interrupted", uri))
			}
			return rpcFailure("publish "+uri, err, f.json, cmd.OutOrStdout(), stderr)
		},
	}
	f.add(cmd)
	f.addJSON(cmd, "an error")
	cmd.Flags().StringArrayVarP(&kws, "kw", "k", nil, "keyword argument `KEY=VALUE` (repeatable)")
	cmd.Flags().BoolVar(&ack, "ack", false, "ask the router to acknowledge the event, and fail if it refuses it")
	return cmd
}
