// Command wampbench is a WAMP load generator: point it at any WAMP router
// (Junction or another) and it measures RPC and pub/sub throughput and
// latency, events lost, idle session cost and session churn.
//
//	wampbench rpc --url ws://127.0.0.1:8080/ws -c 8 -w 4
//	wampbench pubsub -s 50 -w 8
//	wampbench sessions -n 10000 --pid $(pidof junction)
//	wampbench churn -n 2000
//	wampbench rpc --url ws://node1:8080/ws --url2 ws://node2:8080/ws --pid $PID1,$PID2
//	wampbench rpc --url rs://127.0.0.1:8080 --serializer msgpack
//	wampbench pubsub --url unix:///run/junction/wamp.sock
//
// --url (and --url2) is a WebSocket URL (ws://, wss://) or a RawSocket one:
// rs://host:port, rss://host:port (TLS) or unix:///path, through
// transport/rawsocket's client end; every scenario runs over either.
// With --pid, it reads the router's CPU time (utime+stime from
// /proc/PID/stat) around the run and reports router CPU per call or per
// delivered event; with several PIDs (the nodes of a cluster), their sum.
// With --url2, the callee (rpc) or the subscribers (pubsub) connect there:
// another node of a cluster, so every call or event crosses nodes. Every
// run is bounded by -n and --duration.
//
// The soak scenario is a leak test, not a throughput test:
//
//	wampbench soak --url ws://127.0.0.1:8080/ws --pid $PID --metrics http://127.0.0.1:8080/metrics --duration 30m --out soak-out
//
// runs, for --duration, modest mixed traffic at once: calls from -c callers
// (-w in flight each; json, msgpack, cbor) to three callees sharing a
// round-robin registration (--call-rate, 1,000/s; one in a hundred answered
// with an error); a publisher (--publish-rate, 330/s) to four topics, each
// event delivered to six subscribers (exact, prefix, wildcard; two of them
// pause reading now and then); sessions joining and leaving (--join-rate,
// 5/s; each registers, subscribes and calls, and one in three leaves by
// closing its TCP connection without GOODBYE); a subscriber that stops
// reading (a 4 KiB receive buffer; every event four times, and bulk events
// only it gets) until the router cuts it as a slow consumer, connecting
// again after a while; and every --hostile-every, in turn: a malformed
// frame, a HELLO over the handshake limit, a HELLO to a realm that does not
// exist, subscriptions up to --sub-limit and one more then unsubscribed,
// calls to procedures nobody registered, a frame over --max-message-size
// (over RawSocket, over the maximum the router's handshake announced), a
// WebSocket or RawSocket that never says HELLO and a connection that never
// sends a byte. Every answer is checked: a call or acknowledgement not answered
// within --answer-timeout, a wrong answer, an event lost or out of order, a
// well-behaved session disconnected, a hostile client not refused or closed,
// the stalled subscriber not cut, a session left on the router at the end:
// each is a failure, and a run with a failure exits 1. Every --sample it
// reads the router's VmRSS and open file descriptors from /proc/PID and
// go_memstats_heap_inuse_bytes, go_goroutines, junction_sessions and
// process_open_fds from --metrics, and writes them to soak.csv in --out as
// it goes; at the end it draws soak.png (memory, goroutines, descriptors and
// sessions over minutes) and writes soak.json: the traffic, the failures
// (the first few described), and for each series its median in the first
// minute after --warmup, in the last minute, and the slope per hour of a
// least-squares fit over the second half. go run ./bench/soak builds and
// starts a Junction for it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"time"

	"github.com/spf13/pflag"
)

type options struct {
	url, url2, realm     string
	serializer           string
	callers, window      int
	subscribers, payload int
	count                int64
	duration             time.Duration
	pids                 []int
	json                 bool
	soak                 soakOptions
}

var scenarios = map[string]func(context.Context, *options, func(int64)) (map[string]any, error){
	"rpc": runRPC, "pubsub": runPubSub, "sessions": runSessions, "churn": runChurn, "soak": runSoak,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("wampbench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:8080/ws", "router URL: ws://, wss://, or RawSocket: rs://host:port, rss://host:port, unix:///path")
	fs.StringVar(&o.realm, "realm", "realm1", "realm to join")
	fs.StringVar(&o.serializer, "serializer", "json", "json, msgpack or cbor")
	fs.IntVarP(&o.callers, "callers", "c", 8, "rpc: callers; sessions: parallel joins")
	fs.IntVarP(&o.window, "window", "w", 4, "rpc: calls in flight per caller; pubsub: unacknowledged publications")
	fs.IntVarP(&o.subscribers, "subscribers", "s", 50, "pubsub: subscribers")
	fs.IntVarP(&o.payload, "payload", "p", 0, "bytes of padding in each call or event (0: [42, \"hello\"])")
	fs.Int64VarP(&o.count, "count", "n", 100000, "calls, publications or sessions at most")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "run at most this long")
	fs.StringVar(&o.url2, "url2", "", "rpc: the callee, pubsub: the subscribers connect here (another cluster node); default --url")
	fs.IntSliceVar(&o.pids, "pid", nil, "router process id(s), to report their CPU time and RSS (comma-separated: summed)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of a table")
	soakFlags(fs, &o.soak)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	names := make([]string, 0, len(scenarios))
	for k := range scenarios {
		names = append(names, k)
	}
	sort.Strings(names)
	if fs.NArg() != 1 || !slices.Contains(names, fs.Arg(0)) {
		fmt.Fprintf(stderr, "usage: wampbench SCENARIO [flags], SCENARIO one of %v\n", names)
		fs.PrintDefaults()
		return 2
	}
	if o.callers < 1 || o.window < 1 || o.subscribers < 1 || o.count < 1 || o.duration <= 0 {
		fmt.Fprintln(stderr, "wampbench: -c, -w, -s, -n and --duration must be positive")
		return 2
	}
	name := fs.Arg(0)
	progress := func(done int64) { fmt.Fprintf(stderr, "\r%s: %d done", name, done) }
	if o.url2 == "" {
		o.url2 = o.url
	}
	cpu0, haveCPU := procCPU(o.pids)
	res, err := scenarios[name](ctx, o, progress)
	fmt.Fprintln(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "wampbench:", err)
		return 1
	}
	res["scenario"], res["serializer"] = name, o.serializer
	if cpu1, ok := procCPU(o.pids); ok && haveCPU {
		cpu := cpu1 - cpu0
		res["router_cpu_s"] = cpu.Seconds()
		for _, per := range []string{"calls", "delivered"} {
			if n, ok := res[per].(int64); ok && n > 0 {
				res["router_cpu_us_per_"+per] = float64(cpu.Microseconds()) / float64(n)
			}
		}
	}
	printResult(stdout, res, o.json)
	if n, ok := res["failures"].(int64); ok && n > 0 {
		return 1 // soak: a failure fails the run
	}
	return 0
}

// printResult prints res as one JSON object, or as a table sorted by key.
func printResult(stdout io.Writer, res map[string]any, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(res)
		return
	}
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := res[k].(type) {
		case float64:
			fmt.Fprintf(stdout, "%-28s %.2f\n", k, v)
		default:
			fmt.Fprintf(stdout, "%-28s %v\n", k, v)
		}
	}
}
