// Command cluster measures Junction as a three-node cluster on this machine
// (embedded NATS, routes between the nodes, the direct path between them;
// a --baseline binary's nodes talk through NATS only) beside a single node, in the same
// run: wampbench rpc and pubsub with every peer on one node, then with the
// callee or the subscribers on another node than the callers or the
// publisher. Router CPU is the sum over the nodes. See package bench.
//
//	go run ./bench/cluster
//
// With --baseline, a junction binary built from another commit runs the
// single-node and across-nodes layouts too, alternating with this one's in
// each round (columns "... (baseline)"), so that a change is measured
// against its parent under the same load. --only runs the scenarios whose
// name starts with it; --cpuprofile writes each node's CPU and heap profiles
// of each run into a directory.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/junction-wamp/junction/bench/internal/benchrun"
)

type scenario struct {
	name    string
	args    []string
	metrics []string
}

var scenarios = []scenario{
	{"rpc C=8 W=4", []string{"rpc", "-c", "8", "-w", "4", "-n", "40000"},
		[]string{"calls_per_s", "p50_us", "p99_us", "router_cpu_us_per_calls", "errors"}},
	{"pubsub S=50 W=8", []string{"pubsub", "-s", "50", "-w", "8", "-n", "10000"},
		[]string{"delivered_per_s", "p99_us", "router_cpu_us_per_delivered", "lost"}},
}

// layouts are where the peers of a scenario are.
var layouts = []string{"single node", "cluster, same node", "cluster, across nodes"}

// The layouts run with the --baseline binary.
const (
	baseSingle = "single node (baseline)"
	baseAcross = "cluster, across nodes (baseline)"
)

func main() {
	rounds := flag.Int("rounds", 3, "runs of each scenario per layout (medians are reported)")
	serializer := flag.String("serializer", "json", "serializer for every scenario")
	baseline := flag.String("baseline", "", "a junction `binary` (of another commit) to run beside this one")
	only := flag.String("only", "", "run only the scenarios whose name starts with this")
	profiles := flag.String("cpuprofile", "", "write the CPU profile of each node of each run into this `directory`")
	flag.BoolVar(verbose, "v", false, "print each run's figures and each node's link counts when it stops (stderr)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "junction-cluster-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bins := benchrun.Build(dir, map[string]string{"junction": "./cmd/junction", "wampbench": "./cmd/wampbench"})
	columns := layouts
	ratios := []benchrun.Ratio{{Num: "cluster, across nodes", Den: "single node", Name: "across/single"}}
	if *baseline != "" {
		bins["baseline"] = *baseline
		columns = append(slices.Clone(layouts), baseSingle, baseAcross)
		ratios = append(ratios, benchrun.Ratio{Num: baseAcross, Den: baseSingle, Name: "across/single (baseline)"})
	}
	if *profiles != "" {
		if err := os.MkdirAll(*profiles, 0o755); err != nil {
			log.Fatal(err)
		}
	}
	runs := 0
	fmt.Printf("Junction cluster benchmark, %s, %d rounds, serializer %s (medians; router CPU summed over the nodes)\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), *rounds, *serializer)
	for _, sc := range scenarios {
		if !strings.HasPrefix(sc.name, *only) {
			continue
		}
		results := benchrun.Results{}
		for range *rounds {
			for _, layout := range columns {
				prof := ""
				if *profiles != "" {
					runs++
					prof = filepath.Join(*profiles, fmt.Sprintf("run%02d-%s", runs, strings.NewReplacer(" ", "", ",", "-", "(", "", ")", "").Replace(layout)))
				}
				res, err := runOnce(bins, dir, layout, prof, append(sc.args, "--serializer", *serializer))
				if err != nil {
					log.Printf("%s, %s: %v", sc.name, layout, err)
					continue
				}
				results[layout] = append(results[layout], res)
				if *verbose {
					var vals []string
					for _, m := range sc.metrics {
						vals = append(vals, fmt.Sprintf("%s=%v", m, res[m]))
					}
					fmt.Fprintf(os.Stderr, "run %s, %s: %s\n", sc.name, layout, strings.Join(vals, " "))
				}
			}
		}
		benchrun.Table(sc.name, columns, sc.metrics, results, ratios...)
	}
}

var verbose = new(bool)

// node is a running junction process.
type node struct {
	cmd    *exec.Cmd
	url    string
	joined chan struct{} // gets a value per "node joined the cluster" line
}

// runOnce starts the layout's routers, runs wampbench once and stops them;
// with prof set, node i writes its CPU profile to prof-node<i>.pprof and
// its heap profile (allocations included) to prof-node<i>.heap.
func runOnce(bins map[string]string, dir, layout, prof string, args []string) (map[string]any, error) {
	count := 3
	if layout == "single node" || layout == baseSingle {
		count = 1
	}
	bin := bins["junction"]
	if layout == baseSingle || layout == baseAcross {
		bin = bins["baseline"]
	}
	// The baseline binary may predate direct_listen: only this one's
	// nodes take the direct path.
	configs, err := writeConfigs(dir, count, bin == bins["junction"])
	if err != nil {
		return nil, err
	}
	var nodes []*node
	defer func() {
		for _, n := range nodes {
			benchrun.Stop(n.cmd)
		}
	}()
	for i, cfg := range configs {
		var extra []string
		if prof != "" {
			extra = []string{"--cpuprofile", fmt.Sprintf("%s-node%d.pprof", prof, i+1), "--memprofile", fmt.Sprintf("%s-node%d.heap", prof, i+1)}
		}
		n, err := start(bin, cfg, extra...)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if count > 1 {
		for _, n := range nodes {
			for range count - 1 {
				select {
				case <-n.joined:
				case <-time.After(30 * time.Second):
					return nil, fmt.Errorf("the cluster did not form")
				}
			}
		}
	}
	url2 := nodes[0].url
	if layout == "cluster, across nodes" || layout == baseAcross {
		url2 = nodes[1].url
	}
	var pids []string
	for _, n := range nodes {
		pids = append(pids, fmt.Sprint(n.cmd.Process.Pid))
	}
	bench := exec.Command(bins["wampbench"], append(args, "--url", nodes[0].url, "--url2", url2, "--json",
		"--duration", "60s", "--pid", strings.Join(pids, ","))...)
	var stdout, stderr bytes.Buffer
	bench.Stdout, bench.Stderr = &stdout, &stderr
	if err := bench.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res map[string]any
	return res, json.Unmarshal(stdout.Bytes(), &res)
}

// writeConfigs writes count node configs on free 127.0.0.1 ports; with
// more than one, each node's embedded NATS has routes to the others', and
// with direct each node takes the direct path (cluster.direct_listen).
func writeConfigs(dir string, count int, direct bool) ([]string, error) {
	if count == 1 {
		p := filepath.Join(dir, "single.toml")
		return []string{p}, os.WriteFile(p, []byte("[server]\nlisten = \"127.0.0.1:0\"\n"), 0o600)
	}
	ports, err := freePorts(3 * count)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range count {
		var routes []string
		for j := range count {
			if j != i {
				routes = append(routes, fmt.Sprintf("%q", fmt.Sprintf("nats://127.0.0.1:%d", ports[count+j])))
			}
		}
		cfg := fmt.Sprintf("[server]\nlisten = \"127.0.0.1:0\"\n\n[cluster]\nembedded_nats = true\n"+
			"nats_listen = \"127.0.0.1:%d\"\nnats_cluster_listen = \"127.0.0.1:%d\"\nnats_routes = [%s]\n",
			ports[i], ports[count+i], strings.Join(routes, ", "))
		if direct {
			cfg += fmt.Sprintf("direct_listen = \"127.0.0.1:%d\"\n", ports[2*count+i])
		}
		p := filepath.Join(dir, fmt.Sprintf("node%d.toml", i+1))
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func start(bin, config string, extra ...string) (*node, error) {
	cmd := exec.Command(bin, append([]string{"--config", config}, extra...)...)
	cmd.Env = append(os.Environ(), benchrun.OneAddressEnv...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &node{cmd: cmd, joined: make(chan struct{}, 16)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			if m := benchrun.ListeningLine.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
			if strings.Contains(line, `msg="node joined the cluster"`) {
				n.joined <- struct{}{}
			}
			if *verbose && strings.Contains(line, `msg="cluster node stopped"`) {
				fmt.Fprintln(os.Stderr, line) // how many messages a NATS message carried
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
	}()
	select {
	case a := <-addr:
		n.url = "ws://" + a + "/ws"
		return n, nil
	case <-time.After(30 * time.Second):
		benchrun.Stop(cmd)
		return nil, fmt.Errorf("%s did not start", config)
	}
}
