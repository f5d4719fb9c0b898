package main

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// TestEmbed builds the program, runs it on a free port of 127.0.0.1, calls
// its in-process procedure over WebSocket with each serializer, and stops
// it with SIGTERM.
func TestEmbed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "embed")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "-listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }() // if the test fails before SIGTERM

	// The program logs how to call the procedure, then that it listens.
	var url string
	urlRE := regexp.MustCompile(`junction call com\.example\.add2 2 3 --url (ws://127\.0\.0\.1:\d+/ws)`)
	listening := regexp.MustCompile(`msg="junction listening"`)
	lines := bufio.NewScanner(stderr)
	var log []string
	for lines.Scan() {
		log = append(log, lines.Text())
		if m := urlRE.FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
		if url != "" && listening.MatchString(lines.Text()) {
			break
		}
	}
	if url == "" {
		t.Fatalf("no URL logged:\n%q", log)
	}
	drained := make(chan struct{})
	go func() { // keep draining: a full pipe would block the program
		defer close(drained)
		for lines.Scan() {
		}
	}()

	for _, ser := range []string{"json", "msgpack", "cbor"} {
		c, err := clientlib.Connect(ctx, url, "realm1", clientlib.Options{Serializer: ser})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Call(ctx, "com.example.add2", []any{2, 3}, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", ser, err)
		}
		if n, _ := wamp.AsInt(res.Args[0]); n != 5 {
			t.Fatalf("%s: add2(2, 3) = %v", ser, res.Args)
		}
		if _, err := c.Call(ctx, "com.example.add2", []any{"x"}, nil, nil); err == nil {
			t.Fatalf("%s: add2(\"x\") did not fail", ser)
		}
		_ = c.Close(ctx)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-drained // the program closed its stderr: it exited
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
}
