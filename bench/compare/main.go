// Command compare runs wampbench against Junction and the nexus router in
// turn (A B A B ...), over WebSocket and RawSocket, on this machine, and
// prints medians and ratios. See package bench.
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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/junction-wamp/junction/bench/internal/benchrun"
)

// target is a server wampbench runs against: a binary, its arguments, and
// the scheme of the URL wampbench is given (ws; rs or unix for RawSocket
// over TCP or a Unix socket).
type target struct {
	bin    string
	args   []string
	scheme string
}

// sockFlag in a target's arguments is replaced with a fresh socket path
// for each run.
const sockFlag = "SOCKET"

var targets = map[string]target{
	"junction":    {"junction", nil, "ws"},
	"junction-rs": {"junction", nil, "rs"}, // RawSocket on the WebSocket port, as configured by default
	"nexus":       {"nexus", nil, "ws"},
	"nexus-rs":    {"nexus", []string{"--tcp", "127.0.0.1:0"}, "rs"},
	"echo":        {"echo", nil, "ws"},
	"echo-raw":    {"echo", []string{"-raw"}, "ws"}, // the echo, payload never decoded or copied
	"echo-rs":     {"echo", []string{"--rawsocket", "127.0.0.1:0"}, "rs"},
	"echo-rs-raw": {"echo", []string{"--rawsocket", "127.0.0.1:0", "-raw"}, "rs"},
	// RawSocket over a Unix socket: Junction's [rawsocket] unix.
	"junction-unix": {"junction", nil, "unix"},
	"nexus-unix":    {"nexus", []string{"--unix", sockFlag}, "unix"},
	"echo-unix":     {"echo", []string{"--unix", sockFlag}, "unix"},
	"echo-unix-raw": {"echo", []string{"--unix", sockFlag, "-raw"}, "unix"},
}

// The columns of a scenario, by transport.
var (
	routers = map[string][]string{"ws": {"junction", "nexus"}, "rs": {"junction-rs", "nexus-rs"}, "unix": {"junction-unix", "nexus-unix"}}
	floors  = map[string][]string{"ws": {"echo", "echo-raw"}, "rs": {"echo-rs", "echo-rs-raw"}, "unix": {"echo-unix", "echo-unix-raw"}}
)

type scenario struct {
	name    string
	args    []string
	floors  bool // the echo floors too (rpc only: they answer CALLs)
	metrics []string
}

var scenarios = []scenario{
	{"rpc C=8 W=4", []string{"rpc", "-c", "8", "-w", "4", "-n", "60000"}, true,
		[]string{"calls_per_s", "p50_us", "p99_us", "router_cpu_us_per_calls", "errors"}},
	{"rpc 64KiB args", []string{"rpc", "-c", "8", "-w", "4", "-p", "65536", "-n", "4000"}, true,
		[]string{"calls_per_s", "p99_us", "router_cpu_us_per_calls", "errors"}},
	{"rpc 4096 in flight", []string{"rpc", "-c", "8", "-w", "512", "-n", "40960"}, false,
		[]string{"calls_per_s", "errors"}},
	{"pubsub S=50 W=8", []string{"pubsub", "-s", "50", "-w", "8", "-n", "20000"}, false,
		[]string{"delivered_per_s", "p99_us", "router_cpu_us_per_delivered", "lost"}},
	{"pubsub S=1000 W=8", []string{"pubsub", "-s", "1000", "-w", "8", "-n", "1000"}, false,
		[]string{"delivered_per_s", "p99_us", "router_cpu_us_per_delivered", "lost"}},
	{"sessions N=10000", []string{"sessions", "-n", "10000"}, false,
		[]string{"joins_per_s", "router_cpu_us_per_join", "rss_per_session_bytes"}},
	{"churn", []string{"churn", "-n", "1000"}, false,
		[]string{"sessions_per_s", "errors"}},
}

func main() {
	rounds := flag.Int("rounds", 3, "runs of each scenario per router (medians are reported)")
	serializer := flag.String("serializer", "json", "serializer for every scenario")
	only := flag.String("only", "", "run only scenarios whose name contains this")
	transports := flag.String("transports", "ws,rs", "transports to compare: ws (WebSocket), rs (RawSocket over TCP), unix (RawSocket over a Unix socket), comma-separated")
	profile := flag.String("profile", "", "directory to write Junction's CPU profile of each run to (SCENARIO.TARGET.ROUND.pprof)")
	targetsFlag := flag.String("targets", "", "run only these columns (comma-separated: junction,junction-rs,...); default all")
	scale := flag.Int("scale", 1, "multiply each scenario's -n by this (longer runs, for profiles with more samples)")
	flag.Parse()
	var ts []string
	for t := range strings.SplitSeq(*transports, ",") {
		if routers[t] == nil {
			log.Fatalf("-transports: %q is not ws, rs or unix", t)
		}
		ts = append(ts, t)
	}
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			log.Fatal(err)
		}
	}
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
		columns := sc.columns(ts)
		if *targetsFlag != "" {
			want := strings.Split(*targetsFlag, ",")
			columns = slices.DeleteFunc(columns, func(c string) bool { return !slices.Contains(want, c) })
		}
		results := benchrun.Results{}
		for round := range *rounds {
			for _, name := range columns {
				var prof string
				if *profile != "" && targets[name].bin == "junction" {
					prof, _ = filepath.Abs(filepath.Join(*profile, fmt.Sprintf("%s.%s.%d.pprof", slug(sc.name), name, round+1)))
				}
				sock := filepath.Join(dir, fmt.Sprintf("s%d.sock", round))
				res, err := runOnce(bins, targets[name], prof, sock, append(scaled(sc.args, *scale), "--serializer", *serializer))
				if err != nil {
					log.Printf("%s on %s: %v", sc.name, name, err)
					continue
				}
				results[name] = append(results[name], res)
			}
		}
		benchrun.Table(sc.name, columns, sc.metrics, results, ratios(columns)...)
	}
}

// columns are the targets of sc over transports ts: the routers, then the
// floors, each by transport.
func (sc scenario) columns(ts []string) []string {
	var cols []string
	for _, t := range ts {
		cols = append(cols, routers[t]...)
	}
	if sc.floors {
		for _, t := range ts {
			cols = append(cols, floors[t]...)
		}
	}
	return cols
}

// ratios are Junction/nexus over each transport in columns, and Junction
// over RawSocket against Junction over WebSocket when both are there.
func ratios(columns []string) []benchrun.Ratio {
	var rs []benchrun.Ratio
	for _, r := range []benchrun.Ratio{
		{Num: "junction", Den: "nexus", Name: "junction/nexus"},
		{Num: "junction-rs", Den: "nexus-rs", Name: "rs: junction/nexus"},
		{Num: "junction-unix", Den: "nexus-unix", Name: "unix: junction/nexus"},
		{Num: "junction-rs", Den: "junction", Name: "junction rs/ws"},
	} {
		if slices.Contains(columns, r.Num) && slices.Contains(columns, r.Den) {
			rs = append(rs, r)
		}
	}
	return rs
}

// scaled is args with the value of -n multiplied by k.
func scaled(args []string, k int) []string {
	out := slices.Clone(args)
	for i := range len(out) - 1 {
		if out[i] == "-n" {
			n, _ := strconv.Atoi(out[i+1])
			out[i+1] = strconv.Itoa(n * k)
		}
	}
	return out
}

func slug(name string) string {
	return strings.NewReplacer(" ", "_", "=", "", "/", "_").Replace(name)
}

// runOnce starts a fresh server for t, runs one wampbench scenario against
// it and stops it. A Junction writes its CPU profile to prof, if set; sock
// is the path of the Unix socket of a unix target.
func runOnce(bins map[string]string, t target, prof, sock string, args []string) (map[string]any, error) {
	cmdArgs := []string{"--listen", "127.0.0.1:0"}
	for _, a := range t.args {
		cmdArgs = append(cmdArgs, strings.ReplaceAll(a, sockFlag, sock))
	}
	if prof != "" {
		cmdArgs = append(cmdArgs, "--cpuprofile", prof)
	}
	cmd := exec.Command(bins[t.bin], cmdArgs...)
	var out *bufio.Reader
	if t.bin == "junction" {
		// Every bench client comes from 127.0.0.1: lift the per-address
		// bounds, which the sessions scenario (10,000) would reach.
		cmd.Env = append(os.Environ(), benchrun.OneAddressEnv...)
		if t.scheme == "unix" {
			cmd.Env = append(cmd.Env, "JUNCTION_RAWSOCKET_UNIX="+sock)
		}
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
	url, err := serverURL(t, out, sock)
	if err != nil {
		return nil, err
	}
	bench := exec.Command(bins["wampbench"], append(args, "--url", url, "--json", "--duration", "60s",
		"--pid", fmt.Sprint(cmd.Process.Pid))...)
	var stdout, stderr bytes.Buffer
	bench.Stdout, bench.Stderr = &stdout, &stderr
	if err := bench.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	var res map[string]any
	return res, json.Unmarshal(stdout.Bytes(), &res)
}

// serverURL reads where the server started for t listens from its output,
// and keeps the rest of the output flowing. A Junction logs the address of
// its port, which serves WebSocket and RawSocket (its Unix socket, at sock,
// listens before it logs that); nexusrouter and echorouter print a URL a
// line, WebSocket's first.
func serverURL(t target, out *bufio.Reader, sock string) (string, error) {
	if t.bin == "junction" {
		addr, err := benchrun.Listening(out, io.Discard)
		switch {
		case err != nil:
			return "", err
		case t.scheme == "rs":
			return "rs://" + addr, nil
		case t.scheme == "unix":
			return "unix://" + sock, nil
		}
		return "ws://" + addr + "/ws", nil
	}
	for {
		line, err := out.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("no %s:// URL from %s: %v", t.scheme, t.bin, err)
		}
		if url := strings.TrimSpace(line); strings.HasPrefix(url, t.scheme+"://") {
			go func() { _, _ = out.WriteTo(io.Discard) }()
			return url, nil
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
