// Command soak builds Junction and wampbench, starts Junction on 127.0.0.1
// (a free port, default config, the per-address bounds lifted since every
// client comes from 127.0.0.1) and runs `wampbench soak` against it with its
// PID and its /metrics, then stops it:
//
//	go run ./bench/soak -duration 30m -out soak-results
//
// soak.csv, soak.png and soak.json go to -out, with Junction's log
// (junction.log). Arguments after the flags go to wampbench soak, e.g.
// `-- --call-rate 2000`. It exits with wampbench's status: 1 if the soak
// saw a failure.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"time"

	"github.com/junction-wamp/junction/bench/internal/benchrun"
)

func main() {
	duration := flag.Duration("duration", 30*time.Minute, "how long the soak runs")
	out := flag.String("out", "soak-results", "directory for soak.csv, soak.png, soak.json and junction.log")
	flag.Parse()
	// Ctrl-C reaches wampbench too, which ends its traffic and still writes
	// what it measured; the runner waits for it, then stops Junction.
	_, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "junction-soak")
	if err != nil {
		log.Fatal(err)
	}
	bins := benchrun.Build(dir, map[string]string{"junction": "./cmd/junction", "wampbench": "./cmd/wampbench"})
	code := soak(bins, *out, *duration, flag.Args())
	os.RemoveAll(dir)
	os.Exit(code)
}

// soak starts Junction, runs wampbench soak against it and stops Junction;
// it returns wampbench's exit status.
func soak(bins map[string]string, out string, duration time.Duration, extra []string) int {
	logf, err := os.Create(filepath.Join(out, "junction.log"))
	if err != nil {
		log.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bins["junction"], "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), benchrun.OneAddressEnv...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer benchrun.Stop(cmd) // ends only the process started here
	addr, err := benchrun.Listening(bufio.NewReader(pipe), logf)
	if err != nil {
		log.Print(err)
		return 1
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	fmt.Fprintf(os.Stderr, "junction pid %s listening on %s; soak for %s, results in %s\n", pid, addr, duration, out)
	args := append([]string{"soak", "--url", "ws://" + addr + "/ws", "--pid", pid, "--metrics", "http://" + addr + "/metrics",
		"--out", out, "--duration", duration.String()}, extra...)
	bench := exec.Command(bins["wampbench"], args...)
	bench.Stdout, bench.Stderr = os.Stdout, os.Stderr
	if err := bench.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		log.Print(err)
		return 1
	}
	return 0
}
