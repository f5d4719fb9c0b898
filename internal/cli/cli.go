// Package cli is the junction binary's WAMP client commands, call, publish,
// subscribe and register, as cobra commands: clients (clientlib) of a
// running router that never touch the router's code. cmd/junction adds
// them to its command tree.
//
// The package is internal: its API is cobra's command tree and the
// binary's flags and output, which are the binary's interface, not a Go
// library's; Go programs use clientlib directly.
package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// Options configure the commands.
type Options struct {
	// Stderr receives logs, progress and errors; results go to the
	// command's OutOrStdout. Default os.Stderr.
	Stderr io.Writer
	// StatsInterval is how often subscribe --stats updates. Default 1s.
	StatsInterval time.Duration
}

// Commands returns the client commands: call, publish, subscribe and
// register. Their errors are ExitErrors (exit status 1: a run-time
// failure) or, for a bad command line, other errors (exit status 2); see
// ExitStatus.
func Commands(opts Options) []*cobra.Command {
	opts.Stderr = cmp.Or[io.Writer](opts.Stderr, os.Stderr)
	if opts.StatsInterval <= 0 {
		opts.StatsInterval = time.Second
	}
	return []*cobra.Command{newCallCommand(opts.Stderr), newPublishCommand(opts.Stderr),
		newSubscribeCommand(opts.Stderr, &opts), newRegisterCommand(opts.Stderr)}
}

// ExitError ends a command with an exit status other than 2 (which any
// other error from the command tree gets: a bad command line). Err, if not
// nil, is printed; nil means the command has said what went wrong already.
type ExitError struct {
	Code int
	Err  error
}

// Error returns Err's message, or the exit status when Err is nil.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *ExitError) Unwrap() error { return e.Err }

// Failed is a run-time failure: exit status 1.
func Failed(err error) error { return &ExitError{Code: 1, Err: err} }

// ExitStatus prints err, if any, and returns the exit status for it: 0 for
// nil, an ExitError's code, and 2 for any other error (a bad command line,
// printed with a pointer to cmd's --help).
func ExitStatus(cmd *cobra.Command, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "junction:", ee.Err)
		}
		return ee.Code
	}
	path := "junction"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	fmt.Fprintf(stderr, "junction: %v (see %s --help)\n", err, path)
	return 2
}
