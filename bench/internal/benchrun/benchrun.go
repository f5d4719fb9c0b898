// Package benchrun holds what the benchmark harnesses in bench/ share:
// building the binaries, finding where a Junction they started listens,
// stopping the processes they start, and printing medians of wampbench's
// JSON results as a table.
package benchrun

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"time"
)

// Results are wampbench's JSON objects, one per run, by column (a router or
// a layout).
type Results map[string][]map[string]any

// Build builds each package (name -> import path) into dir and returns the
// binaries by name; it exits on a build failure.
func Build(dir string, pkgs map[string]string) map[string]string {
	bins := map[string]string{}
	for name, pkg := range pkgs {
		bins[name] = filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bins[name], pkg).CombinedOutput(); err != nil {
			log.Fatalf("building %s: %v\n%s", pkg, err, out)
		}
	}
	return bins
}

// Stop ends a process started by the harness, by its PID: SIGTERM, then
// SIGKILL after 15 s.
func Stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Median is the median of key over runs; false if no run has it.
func Median(runs []map[string]any, key string) (float64, bool) {
	var vs []float64
	for _, r := range runs {
		if v, ok := r[key].(float64); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	return vs[len(vs)/2], true
}

// Ratio is a column of Table: the median of column Num over that of Den.
type Ratio struct{ Num, Den, Name string }

// Table prints a Markdown table: one row per metric, the median of each
// column, then each ratio.
func Table(title string, columns, metrics []string, res Results, ratios ...Ratio) {
	fmt.Printf("## %s\n\n| metric |", title)
	for _, c := range columns {
		fmt.Printf(" %s |", c)
	}
	for _, r := range ratios {
		fmt.Printf(" %s |", r.Name)
	}
	fmt.Printf("\n|---|")
	for range len(columns) + len(ratios) {
		fmt.Printf("---|")
	}
	fmt.Println()
	for _, m := range metrics {
		fmt.Printf("| %s |", m)
		for _, c := range columns {
			if v, ok := Median(res[c], m); ok {
				fmt.Printf(" %.1f |", v)
			} else {
				fmt.Printf(" - |")
			}
		}
		for _, r := range ratios {
			a, ok1 := Median(res[r.Num], m)
			b, ok2 := Median(res[r.Den], m)
			if ok1 && ok2 && b != 0 {
				fmt.Printf(" %.2f |", a/b)
			} else {
				fmt.Printf(" - |")
			}
		}
		fmt.Println()
	}
	fmt.Println()
}

// OneAddressEnv lifts Junction's per-address bounds (config.toml's
// max_connections_per_address, max_sessions_per_address and what the
// sessions of an address hold together), for benchmarks whose clients all
// come from 127.0.0.1.
var OneAddressEnv = []string{
	"JUNCTION_SERVER_MAX_CONNECTIONS_PER_ADDRESS=0",
	"JUNCTION_ROUTER_MAX_SESSIONS_PER_ADDRESS=0",
	"JUNCTION_ROUTER_MAX_SUBSCRIPTIONS_PER_ADDRESS=0",
	"JUNCTION_ROUTER_MAX_REGISTRATIONS_PER_ADDRESS=0",
	"JUNCTION_ROUTER_MAX_CALLS_PER_ADDRESS=0",
	"JUNCTION_ROUTER_MAX_TESTAMENT_BYTES_PER_ADDRESS=0",
}

// ListeningLine matches Junction's log line saying where it listens; its
// group is the address.
var ListeningLine = regexp.MustCompile(`msg="junction listening".* addr=(\S+)`)

// Listening copies a Junction's log from r to w until the line saying where
// it listens, returns that address, and keeps copying the rest of the log
// to w in the background, so that the process never blocks on its output.
func Listening(r *bufio.Reader, w io.Writer) (string, error) {
	for {
		line, err := r.ReadString('\n')
		_, _ = io.WriteString(w, line)
		if err != nil {
			return "", fmt.Errorf("junction exited before it listened: %v", err)
		}
		if m := ListeningLine.FindStringSubmatch(line); m != nil {
			go func() { _, _ = io.Copy(w, r) }()
			return m[1], nil
		}
	}
}
