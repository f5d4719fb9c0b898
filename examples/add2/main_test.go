package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/junction-wamp/junction/config"
	"github.com/junction-wamp/junction/internal/cli"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/server"
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
		if err := run(ctx, []string{url}, "realm1", stdout); err != nil {
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

// TestQuickStartRouterRestart: the router under add2 stops and starts again
// on its address: add2 says its session went and came, and serves the
// procedure again.
func TestQuickStartRouterRestart(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	url := "ws://" + addr + "/ws"
	stop := serveOn(t, cfg, ln)
	add2 := routertest.StartProgram(t, "add2", func(ctx context.Context, stdout, _ io.Writer) int {
		if err := run(ctx, []string{url}, "realm1", stdout); err != nil {
			t.Errorf("add2: %v", err)
			return 1
		}
		return 0
	})
	add2.Stdout.WaitFor(t, "serving com.example.add2 until Ctrl-C")
	stop()
	add2.Stdout.WaitFor(t, "session lost, reconnecting")
	if ln, err = net.Listen("tcp", addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(serveOn(t, cfg, ln))
	add2.Stdout.WaitFor(t, "up again, com.example.add2 registered")
	var stdout, stderr bytes.Buffer
	if code := junction(t, &stdout, &stderr, "call", "com.example.add2", "2", "3", "--url", url); code != 0 || stdout.String() != "5\n" {
		t.Fatalf("junction call com.example.add2 2 3 after the restart: exit %d, stdout %q, stderr %s", code, stdout.String(), stderr.String())
	}
	add2.Stop()
	if code := add2.Wait(t); code != 0 {
		t.Fatalf("add2 exit %d after Ctrl-C", code)
	}
}

// serveOn serves Junction with cfg on ln until the returned stop is called.
func serveOn(t *testing.T, cfg server.Config, ln net.Listener) (stop func()) {
	t.Helper()
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
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

// TestReadmePython runs the README's Autobahn|Python snippet against a
// router where add2 serves, and checks that it prints 5. It needs Debian's
// python3-autobahn (.ci/install-interop installs it): skipped without it,
// except under CI.
func TestReadmePython(t *testing.T) {
	t.Parallel()
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import autobahn").CombinedOutput(); err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("%s cannot import autobahn (run .ci/install-interop): %v\n%s", python, err, out)
		}
		t.Skipf("%s cannot import autobahn (run .ci/install-interop, or apt-get install python3-autobahn): %v", python, err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```python\n")
	if ok {
		block, _, ok = strings.Cut(block, "```")
	}
	if !ok || !strings.Contains(block, defaultURL) {
		t.Fatalf("README.md has no ```python block calling %s", defaultURL)
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + routertest.Serve(t, cfg) + "/ws"
	add2 := routertest.StartProgram(t, "add2", func(ctx context.Context, stdout, _ io.Writer) int {
		if err := run(ctx, []string{url}, "realm1", stdout); err != nil {
			t.Errorf("add2: %v", err)
			return 1
		}
		return 0
	})
	add2.Stdout.WaitFor(t, "serving com.example.add2")

	script := filepath.Join(t.TempDir(), "snippet.py")
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(block, defaultURL, url)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(routertest.Context(t), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if first, _, _ := strings.Cut(string(out), "\n"); err != nil || first != "5" { // txaio logs to stdout after it
		t.Fatalf("python3 snippet: %v, stdout %q, stderr:\n%s", err, out, stderr.String())
	}
}
