package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionFromBuild builds the binary from this repository with
// -buildvcs=true, as scripts/release does, and checks that junction version
// names the commit checked out, and that -ldflags -X main.version replaces
// the module version. It runs in a clone, not in a git worktree, where the
// go command records no revision.
func TestVersionFromBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*testTimeout)
	defer cancel()
	head, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git work tree (git rev-parse HEAD: %v): no revision to record", err)
	}
	rev := strings.TrimSpace(string(head))
	top, err := exec.CommandContext(ctx, "git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse --show-toplevel: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		// cmd/go looks for a .git directory; a worktree has a .git file.
		t.Skip("a git worktree: the go command records no revision in it (it looks for a .git directory)")
	}
	bin := filepath.Join(t.TempDir(), "junction")
	build := exec.CommandContext(ctx, "go", "build", "-buildvcs=true", "-ldflags", "-X main.version=v9.8.7", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		t.Fatalf("junction version: %v", err)
	}
	if want := "junction v9.8.7 (revision " + rev + ", "; !strings.HasPrefix(string(out), want) {
		t.Errorf("junction version = %q, want it to start with %q", out, want)
	}
}
