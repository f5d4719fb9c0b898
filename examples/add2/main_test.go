package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/spf13/cobra"

	"github.com/junction-wamp/junction/config"
	"github.com/junction-wamp/junction/internal/cli"
	"github.com/junction-wamp/junction/internal/routertest"
)

// TestQuickStart runs the README's quick start against a router on the
// default config: add2 prints its own call's result, and then
// `junction call com.example.add2 2 3` prints 5 while add2 keeps serving.
func TestQuickStart(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + routertest.Serve(t, cfg) + "/ws"
	add2 := routertest.StartProgram(t, "add2", func(ctx context.Context, stdout, _ io.Writer) int {
		if err := run(ctx, url, "realm1", stdout); err != nil {
			t.Errorf("add2: %v", err)
			return 1
		}
		return 0
	})
	add2.Stdout.WaitFor(t, "com.example.add2(2, 3) = 5\nserving com.example.add2 until Ctrl-C")

	var stdout, stderr bytes.Buffer
	if code := junction(t, &stdout, &stderr, "call", "com.example.add2", "2", "3", "--url", url); code != 0 || stdout.String() != "5\n" {
		t.Fatalf("junction call com.example.add2 2 3: exit %d, stdout %q, stderr %s", code, stdout.String(), stderr.String())
	}
	add2.Stop()
	if code := add2.Wait(t); code != 0 {
		t.Fatalf("add2 exit %d after Ctrl-C", code)
	}
}

// junction runs the junction binary's client commands with args, as
// cmd/junction adds them, and returns the exit status.
func junction(t *testing.T, stdout, stderr io.Writer, args ...string) int {
	root := &cobra.Command{Use: "junction", SilenceErrors: true, SilenceUsage: true}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(cli.Commands(cli.Options{Stderr: stderr})...)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(routertest.Context(t))
	return cli.ExitStatus(cmd, err, stderr)
}
