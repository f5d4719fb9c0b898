// Command compare runs wampbench against Junction and the nexus router in
// turn (A B A B ...), on this machine, and prints medians and ratios. See
// package bench.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/junction-wamp/junction/bench/internal/benchrun"
)

type scenario struct {
	name    string
	args    []string
	targets []string
	metrics []string
}

var scenarios = []scenario{
	{"rpc C=8 W=4", []string{"rpc", "-c", "8", "-w", "4", "-n", "60000"}, []string{"junction", "nexus", "echo", "echo-raw"},
		[]string{"calls_per_s", "p50_us", "p99_us", "router_cpu_us_per_calls", "errors"}},
	{"rpc 64KiB args", []string{"rpc", "-c", "8", "-w", "4", "-p", "65536", "-n", "4000"}, []string{"junction", "nexus", "echo", "echo-raw"},
		[]string{"calls_per_s", "p99_us", "router_cpu_us_per_calls", "errors"}},
	{"rpc 4096 in flight", []string{"rpc", "-c", "8", "-w", "512", "-n", "40960"}, []string{"junction", "nexus"},
		[]string{"calls_per_s", "errors"}},
	{"pubsub S=50 W=8", []string{"pubsub", "-s", "50", "-w", "8", "-n", "20000"}, []string{"junction", "nexus"},
		[]string{"delivered_per_s", "p99_us", "router_cpu_us_per_delivered", "lost"}},
	{"pubsub S=1000 W=8", []string{"pubsub", "-s", "1000", "-w", "8", "-n", "1000"}, []string{"junction", "nexus"},
		[]string{"delivered_per_s", "p99_us", "router_cpu_us_per_delivered", "lost"}},
	{"sessions N=10000", []string{"sessions", "-n", "10000"}, []string{"junction", "nexus"},
		[]string{"joins_per_s", "router_cpu_us_per_join", "rss_per_session_bytes"}},
	{"churn", []string{"churn", "-n", "1000"}, []string{"junction", "nexus"},
		[]string{"sessions_per_s", "errors"}},
}

func main() {
	rounds := flag.Int("rounds", 3, "runs of each scenario per router (medians are reported)")
	serializer := flag.String("serializer", "json", "serializer for every scenario")
	only := flag.String("only", "", "run only scenarios whose name contains this")
	flag.Parse()
	dir, err := os.MkdirTemp("", "junction-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bins := benchrun.Build(dir, map[string]string{"junction": "./cmd/junction", "nexus": "./bench/nexusrouter", "echo": "./bench/echorouter", "wampbench": "./cmd/wampbench"})
	fmt.Printf("wampbench comparison, %s, %d rounds, serializer %s (medians)\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), *rounds, *serializer)
	for _, sc := range scenarios {
		if *only != "" && !strings.Contains(sc.name, *only) {
			continue
		}
		results := benchrun.Results{}
		for range *rounds {
			for _, target := range sc.targets {
				res, err := runOnce(bins, target, append(sc.args, "--serializer", *serializer))
				if err != nil {
					log.Printf("%s on %s: %v", sc.name, target, err)
					continue
				}
				results[target] = append(results[target], res)
			}
		}
		benchrun.Table(sc.name, sc.targets, sc.metrics, results, "junction", "nexus", "junction/nexus")
	}
}

// runOnce starts a fresh router, runs one wampbench scenario against it and stops it.
func runOnce(bins map[string]string, target string, args []string) (map[string]any, error) {
	var cmd *exec.Cmd
	if target == "echo-raw" { // the echo, payload never decoded or copied
		cmd = exec.Command(bins["echo"], "--listen", "127.0.0.1:0", "-raw")
	} else {
		cmd = exec.Command(bins[target], "--listen", "127.0.0.1:0")
	}
	if target == "junction" {
		// Every bench client comes from 127.0.0.1: lift the per-address
		// bounds, which the sessions scenario (10,000) would reach.
		cmd.Env = append(os.Environ(), benchrun.OneAddressEnv...)
	}
	var out *bufio.Reader
	if target == "junction" {
		pipe, _ := cmd.StderrPipe()
		out = bufio.NewReader(pipe)
	} else {
		pipe, _ := cmd.StdoutPipe()
		out = bufio.NewReader(pipe)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer benchrun.Stop(cmd) // ends only the process started here
	var addr string
	if target == "junction" {
		var err error
		if addr, err = benchrun.Listening(out, io.Discard); err != nil {
			return nil, err
		}
	} else {
		line, err := out.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("no address from %s: %v", target, err)
		}
		addr = strings.TrimSpace(line)
		go func() { _, _ = out.WriteTo(io.Discard) }() // keep the router's output flowing
	}
	bench := exec.Command(bins["wampbench"], append(args, "--url", "ws://"+addr+"/ws", "--json", "--duration", "60s",
		"--pid", fmt.Sprint(cmd.Process.Pid))...)
	var stdout, stderr bytes.Buffer
	bench.Stdout, bench.Stderr = &stdout, &stderr
	if err := bench.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	var res map[string]any
	return res, json.Unmarshal(stdout.Bytes(), &res)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
