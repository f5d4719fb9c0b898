package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"

	"github.com/junction-wamp/junction/config"
	"github.com/junction-wamp/junction/internal/routertest"
)

// runWith runs the client commands, under a root command as cmd/junction
// adds them, with args until they end or ctx is done, and returns the exit
// status.
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, opts Options) int {
	opts.Stderr = stderr
	root := &cobra.Command{Use: "junction", SilenceErrors: true, SilenceUsage: true}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(Commands(opts)...)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return ExitStatus(cmd, err, stderr)
}

// startServer serves the config file at path on 127.0.0.1:0 until the test
// ends and returns the bound address.
func startServer(t *testing.T, path string) string {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return routertest.Serve(t, cfg)
}

// writeConfig writes a config file of body and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	write(t, p, []byte(body))
	return p
}

// write writes data to the file at path.
func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
