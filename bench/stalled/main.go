// Command stalled reproduces the stalled-subscriber attack on a running
// router; it starts nothing itself. It opens N subscribers that join,
// subscribe and then never read a byte (with a small receive buffer, so
// they stall fast), M readers that read every event as fast as they can and
// check its order, one publisher that floods the topic with a bounded
// number of events, and one unrelated caller that calls an echo procedure
// (registered by a session of its own) every few milliseconds to measure
// how the router serves others meanwhile. It reports which readers were
// cut and with what close code, the events they received, the caller's
// latency, and the router's RSS (/proc/PID/status, with --pid) and Go heap,
// goroutines and slow-consumer disconnects (the router's /metrics).
//
//	go build -o /tmp/junction ./cmd/junction
//	JUNCTION_SERVER_MAX_CONNECTIONS_PER_ADDRESS=0 JUNCTION_ROUTER_MAX_SESSIONS_PER_ADDRESS=0 \
//	    /tmp/junction --listen 127.0.0.1:8080 &
//	go run ./bench/stalled --url ws://127.0.0.1:8080/ws --pid $!
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"sync/atomic"
	"time"
)

type config struct {
	url, realm, topic string
	metricsURL        string
	pid               int
	stalled, readers  int
	events, payload   int
	rcvbuf, dialers   int
	compress          bool
	callInterval      time.Duration
	settle            time.Duration
	sample            time.Duration
}

func parseFlags() *config {
	c := &config{}
	flag.StringVar(&c.url, "url", "ws://127.0.0.1:8080/ws", "the router's WebSocket URL")
	flag.StringVar(&c.realm, "realm", "realm1", "realm to join")
	flag.StringVar(&c.topic, "topic", "bench.stalled.topic", "topic flooded")
	flag.StringVar(&c.metricsURL, "metrics", "", "the router's metrics URL (default: /metrics on the router's address; \"-\": none)")
	flag.IntVar(&c.pid, "pid", 0, "the router's process id, to read its RSS")
	flag.IntVar(&c.stalled, "stalled", 9990, "subscribers that never read")
	flag.IntVar(&c.readers, "readers", 10, "subscribers that read every event")
	flag.IntVar(&c.events, "events", 10000, "events published")
	flag.IntVar(&c.payload, "payload", 1000, "bytes of padding in each event's arguments")
	flag.IntVar(&c.rcvbuf, "rcvbuf", 4096, "SO_RCVBUF of the stalled subscribers' sockets")
	flag.IntVar(&c.dialers, "dialers", 32, "stalled subscribers connecting at once")
	flag.BoolVar(&c.compress, "compress", false, "offer permessage-deflate on every connection")
	flag.DurationVar(&c.callInterval, "call-interval", 5*time.Millisecond, "time between the unrelated caller's calls")
	flag.DurationVar(&c.settle, "settle", 40*time.Second, "how long after the flood to wait for the readers and the stalled subscribers' disconnection")
	flag.DurationVar(&c.sample, "sample", 500*time.Millisecond, "how often the router's RSS and metrics are sampled")
	flag.Parse()
	if c.metricsURL == "" {
		if u, err := url.Parse(c.url); err == nil {
			c.metricsURL = "http://" + u.Host + "/metrics"
		}
	}
	if c.metricsURL == "-" {
		c.metricsURL = ""
	}
	return c
}

func main() {
	cfg := parseFlags()
	if err := run(cfg); err != nil {
		log.Fatal(err)
	}
}

// session are the connections of one run besides the stalled ones.
type session struct {
	readers []*reader
	pub     *conn
	caller  *conn
	callee  *conn
}

func run(cfg *config) error {
	ctx := context.Background()
	t0 := time.Now()
	stalled, err := connectStalled(ctx, cfg, cfg.stalled)
	if err != nil {
		return err
	}
	fmt.Printf("%d stalled subscribers connected in %s\n", len(stalled), time.Since(t0).Round(time.Millisecond))
	s, err := connectOthers(ctx, cfg)
	if err != nil {
		return err
	}
	mon := newMonitor(cfg.pid, cfg.metricsURL, cfg.sample)
	var published atomic.Int64
	mon.progress = func() string { return progress(&published, s.readers) }
	stopMon := make(chan struct{})
	monDone := make(chan struct{})
	go func() { mon.run(stopMon); close(monDone) }()
	for _, r := range s.readers {
		go r.run()
	}
	go serveEcho(s.callee)
	go discard(s.pub) // reads, so that it answers the router's pings
	lat := &latencies{}
	stopCalls := make(chan struct{})
	callsDone := make(chan struct{})
	go func() { lat.call(s.caller, cfg.callInterval, stopCalls); close(callsDone) }()

	t1 := time.Now()
	floodErr := flood(s.pub, cfg, &published)
	floodTime := time.Since(t1)
	settled := settle(cfg, s.readers, mon)
	close(stopCalls)
	<-callsDone
	close(stopMon)
	<-monDone
	report(cfg, s, lat, mon, floodTime, floodErr, settled)
	for _, c := range stalled {
		c.ws.Close()
	}
	return nil
}

// connectOthers opens the readers, the publisher, the callee and the caller.
func connectOthers(ctx context.Context, cfg *config) (*session, error) {
	s := &session{}
	o := dialOptions{compress: cfg.compress}
	for range cfg.readers {
		c, err := subscribe(ctx, cfg, o)
		if err != nil {
			return nil, fmt.Errorf("reader: %w", err)
		}
		s.readers = append(s.readers, newReader(c, cfg.events))
	}
	var err error
	if s.pub, err = dial(ctx, cfg.url, cfg.realm, o); err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	if s.callee, err = dial(ctx, cfg.url, cfg.realm, o); err != nil {
		return nil, fmt.Errorf("callee: %w", err)
	}
	if _, err = s.callee.request(&registerMsg, 1); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	if s.caller, err = dial(ctx, cfg.url, cfg.realm, o); err != nil {
		return nil, fmt.Errorf("caller: %w", err)
	}
	return s, nil
}

// settle waits, at most cfg.settle, until every reader has every event or
// has ended, and the router holds no stalled connection any more. It
// returns how long that took.
func settle(cfg *config, readers []*reader, mon *monitor) time.Duration {
	t0 := time.Now()
	deadline := time.After(cfg.settle)
	for _, r := range readers {
		select {
		case <-r.complete:
		case <-r.ended:
		case <-deadline:
			return time.Since(t0)
		}
	}
	others := float64(len(readers) + 3)
	for {
		if m := mon.last().metrics; m == nil || m["junction_connections"] <= others {
			return time.Since(t0)
		}
		select {
		case <-deadline:
			return time.Since(t0)
		case <-time.After(cfg.sample):
		}
	}
}

func report(cfg *config, s *session, lat *latencies, mon *monitor, floodTime time.Duration, floodErr error, settled time.Duration) {
	fmt.Printf("\nflood: %d events of %d bytes in %s (%v); settled %s later\n",
		cfg.events, cfg.payload, floodTime.Round(time.Millisecond), errText(floodErr), settled.Round(time.Millisecond))
	cut, complete := 0, 0
	for i, r := range s.readers {
		state := "reading"
		select {
		case <-r.complete:
			state, complete = "complete", complete+1
		default:
		}
		if code := r.code.Load(); code != 0 {
			state, cut = fmt.Sprintf("CUT (close %d: %v)", code, r.err), cut+1
		}
		fmt.Printf("reader %2d: %6d/%d events, %d out of order, %s\n", i, r.got.Load(), cfg.events, r.disorder.Load(), state)
	}
	p50, p99, maxd, n, errs := lat.percentiles()
	fmt.Printf("\nreaders cut: %d of %d; complete: %d of %d\n", cut, len(s.readers), complete, len(s.readers))
	fmt.Printf("unrelated calls: %d, errors %d, p50 %s, p99 %s, max %s\n", n, errs,
		p50.Round(time.Microsecond), p99.Round(time.Microsecond), maxd.Round(time.Microsecond))
	mon.mu.Lock()
	defer mon.mu.Unlock()
	fmt.Printf("router peak RSS %.0f MiB, peak heap in use %.0f MiB, peak goroutines %.0f, slow-consumer disconnects %.0f, deepest queue %.0f messages\n",
		float64(mon.peakRSS)/1024, mon.peak["go_memstats_heap_inuse_bytes"]/(1<<20), mon.peak["go_goroutines"],
		mon.peak["junction_slow_consumer_disconnects_total"], mon.peak["junction_queue_high_water_messages"])
	if len(mon.samples) > 0 {
		first, last := mon.samples[0].metrics, mon.samples[len(mon.samples)-1].metrics
		fmt.Printf("router CPU during the run: %.1fs\n", last["process_cpu_seconds_total"]-first["process_cpu_seconds_total"])
	}
	if cfg.pid == 0 {
		fmt.Fprintln(os.Stderr, "(no --pid: RSS not measured)")
	}
}

// progress is how many events were published and the fewest and most any
// reader still reading has received.
func progress(published *atomic.Int64, readers []*reader) string {
	lo, hi := int64(-1), int64(0)
	for _, r := range readers {
		if r.code.Load() != 0 {
			continue
		}
		n := r.got.Load()
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	return fmt.Sprintf("published=%d readers=%d..%d", published.Load(), lo, hi)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
