// Command cpusplit splits CPU profiles of a Go server into where the time
// goes, one column per profile: system calls (write and writev, read),
// the scheduler (netpoll, parking and waking goroutines), memory
// (allocation and GC), the transport (framing, queue, writer), decoding
// and encoding, routing, and the rest. It reads each profile's stacks
// with go tool pprof -traces.
//
//	go run ./bench/cpusplit rpc.junction.pprof rpc.junction-rs.pprof
//
// Each sample goes to one category. The runtime's own work is told by a
// frame anywhere in the stack, in this order: GC, the scheduler, a system
// call, an allocation. Any other sample goes to the category of its
// innermost frame that belongs to one of our packages or a library we
// call (a copy inside bufio under the RawSocket frame reader is framing,
// the same copy under the JSON decoder is decoding).
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// category is where a sample's time goes.
type category struct {
	name string
	// anywhere: a frame anywhere in the stack with one of these prefixes
	// puts the sample here (the runtime's work, checked first, in order).
	anywhere []string
	// innermost: the innermost frame with one of these prefixes decides,
	// among the categories that have them.
	innermost []string
}

var categories = []category{
	{name: "memory: GC", anywhere: []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.gcStart", "runtime.gcMarkDone", "runtime.gcMarkTermination"}},
	{name: "scheduler, netpoll, wakeups", anywhere: []string{"runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.goschedImpl",
		"runtime.goready", "runtime.ready", "runtime.wakep", "runtime.startm", "runtime.stopm", "runtime.newproc", "runtime.goexit0",
		"runtime.notewakeup", "runtime.futexwakeup", "runtime.sysmon", "runtime.netpoll", "runtime.gopark", "runtime.mPark"}},
	{name: "syscalls: write, writev", anywhere: []string{"syscall.write", "internal/poll.(*FD).Writev", "internal/poll.(*FD).Write"}},
	{name: "syscalls: read", anywhere: []string{"syscall.read", "internal/poll.(*FD).Read"}},
	{name: "syscalls: other", anywhere: []string{"syscall.", "internal/runtime/syscall", "runtime.entersyscall", "runtime.exitsyscall"}},
	{name: "memory: allocation", anywhere: []string{"runtime.mallocgc", "runtime.newobject", "runtime.makeslice", "runtime.growslice", "runtime.makemap", "runtime.mapassign"}},
	{name: "transport: framing, queue, writer", innermost: []string{"github.com/junction-wamp/junction/transport", "github.com/gorilla/websocket",
		"internal/poll.", "net."}},
	{name: "decode, encode", innermost: []string{"github.com/junction-wamp/junction/serializers", "github.com/tidwall/", "github.com/vmihailenco/",
		"github.com/fxamacker/", "encoding/json", "unicode/utf8"}},
	{name: "routing: router, realms", innermost: []string{"github.com/junction-wamp/junction/router", "github.com/junction-wamp/junction/realms",
		"github.com/junction-wamp/junction/wamp"}},
}

const other = "other"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cpusplit PROFILE...")
		os.Exit(2)
	}
	var names []string
	splits := map[string]map[string]time.Duration{}
	for _, p := range os.Args[1:] {
		s, err := split(p)
		if err != nil {
			log.Fatalf("%s: %v", p, err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".pprof")
		names = append(names, name)
		splits[name] = s
	}
	printTable(names, splits)
}

// split reads a profile's stacks and sums their time by category; "" is
// the total.
func split(path string) (map[string]time.Duration, error) {
	out, err := exec.Command("go", "tool", "pprof", "-traces", path).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof -traces: %w", err)
	}
	sum := map[string]time.Duration{}
	var d time.Duration
	var stack []string
	flush := func() {
		if len(stack) > 0 {
			sum[classify(stack)] += d
			sum[""] += d
		}
		stack = stack[:0]
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(line, " ") {
			continue // the header
		}
		if len(stack) == 0 && len(fields) >= 2 {
			v, err := time.ParseDuration(fields[0])
			if err != nil {
				continue
			}
			d, fields = v, fields[1:]
		}
		stack = append(stack, fields[0]) // innermost first
	}
	flush()
	return sum, sc.Err()
}

// classify is the category of a stack, innermost frame first.
func classify(stack []string) string {
	for _, c := range categories {
		for _, f := range stack {
			if hasPrefix(f, c.anywhere) {
				return c.name
			}
		}
	}
	for _, f := range stack {
		for _, c := range categories {
			if hasPrefix(f, c.innermost) {
				return c.name
			}
		}
	}
	return other
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// printTable prints a Markdown table: a row per category, each profile's share
// of its samples, and the total CPU time sampled.
func printTable(names []string, splits map[string]map[string]time.Duration) {
	fmt.Print("| where | ")
	fmt.Println(strings.Join(names, " | ") + " |")
	fmt.Println("|---|" + strings.Repeat("---|", len(names)))
	rows := make([]string, 0, len(categories)+1)
	for _, c := range categories {
		rows = append(rows, c.name)
	}
	for _, r := range append(rows, other) {
		fmt.Printf("| %s |", r)
		for _, n := range names {
			s := splits[n]
			fmt.Printf(" %.1f%% |", 100*float64(s[r])/float64(max(s[""], 1)))
		}
		fmt.Println()
	}
	fmt.Print("| CPU sampled |")
	for _, n := range names {
		fmt.Printf(" %.2fs |", splits[n][""].Seconds())
	}
	fmt.Println()
}
