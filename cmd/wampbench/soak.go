package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/junction-wamp/junction/wamp"
)

// soakOptions are the soak scenario's own flags.
type soakOptions struct {
	metrics       string // the router's Prometheus endpoint
	out           string // directory for soak.csv, soak.png, soak.json
	sample        time.Duration
	warmup        time.Duration
	callRate      float64
	publishRate   float64
	joinRate      float64
	bulkSize      int
	hostileEvery  time.Duration
	stall         time.Duration
	subLimit      int
	maxMessage    int64
	answerTimeout time.Duration
}

func soakFlags(fs *pflag.FlagSet, s *soakOptions) {
	fs.StringVar(&s.metrics, "metrics", "", "soak: the router's Prometheus URL (http://HOST:PORT/metrics), sampled")
	fs.StringVar(&s.out, "out", "soak-out", "soak: directory for soak.csv, soak.png and soak.json")
	fs.DurationVar(&s.sample, "sample", 5*time.Second, "soak: sampling interval")
	fs.DurationVar(&s.warmup, "warmup", 30*time.Second, "soak: warm-up; the summary's first minute starts after it")
	fs.Float64Var(&s.callRate, "call-rate", 1000, "soak: calls per second, over all callers (-c, -w)")
	fs.Float64Var(&s.publishRate, "publish-rate", 330, "soak: publications per second, each delivered to 6 subscribers")
	fs.Float64Var(&s.joinRate, "join-rate", 5, "soak: short-lived sessions joining per second")
	fs.IntVar(&s.bulkSize, "bulk-size", 8192, "soak: padding of the events only the stalled subscriber gets (one per 10 publications)")
	fs.DurationVar(&s.hostileEvery, "hostile-every", 5*time.Second, "soak: interval between hostile clients (each kind in turn)")
	fs.DurationVar(&s.stall, "stall", time.Minute, "soak: how long the router has to cut the stalled subscriber (asked with wamp.session.get)")
	fs.IntVar(&s.subLimit, "sub-limit", 10000, "soak: the router's router.max_subscriptions_per_session")
	fs.Int64Var(&s.maxMessage, "max-message-size", 16<<20, "soak: the router's websocket.max_message_size in bytes (RawSocket: the maximum its handshake announces)")
	fs.DurationVar(&s.answerTimeout, "answer-timeout", 10*time.Second, "soak: a call, acknowledgement or event not there in this time is a failure")
}

// soakSerializers are used in turn by the soak's sessions.
var soakSerializers = []string{"json", "msgpack", "cbor"}

// soak is one run of the soak scenario: its sessions, its counters, and the
// goroutines that make traffic.
type soak struct {
	o     *options
	so    *soakOptions
	run   string // URI component unique to the run
	start time.Time
	st    soakStats
	// trafficTime is how long the traffic ran, and routerCPU the router's
	// CPU time meanwhile (with --pid), set at its end.
	trafficTime, routerCPU time.Duration

	gen     sync.WaitGroup // the traffic generators, until the run's end
	mu      sync.Mutex
	members []*member // long-lived sessions, closed at the end
	notes   []string  // the first failures, described
	subs    []*subscriber
	pub     *publisher
}

// uri is a URI of this run: soak.<run>.<suffix>.
func (s *soak) uri(suffix string) wamp.URI { return wamp.URI("soak." + s.run + "." + suffix) }

// fail counts a failure of kind and keeps its description if it is among
// the first few.
func (s *soak) fail(kind *atomic.Int64, format string, args ...any) {
	s.failN(kind, 1, format, args...)
}

// failN counts n failures of kind, described once.
func (s *soak) failN(kind *atomic.Int64, n int64, format string, args ...any) {
	kind.Add(n)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notes) < 20 {
		s.notes = append(s.notes, fmt.Sprintf("%.1fs: ", time.Since(s.start).Seconds())+fmt.Sprintf(format, args...))
	}
}

// runSoak runs mixed traffic for the run's duration while sampling the
// router, then writes soak.csv, soak.png and soak.json in --out.
func runSoak(ctx context.Context, o *options, progress func(int64)) (map[string]any, error) {
	so := &o.soak
	if so.sample <= 0 || so.answerTimeout <= 0 || so.callRate <= 0 || so.publishRate <= 0 || so.joinRate <= 0 || so.hostileEvery <= 0 {
		return nil, fmt.Errorf("soak: --sample, --answer-timeout, the rates and --hostile-every must be positive")
	}
	if err := os.MkdirAll(so.out, 0o755); err != nil {
		return nil, err
	}
	s := &soak{o: o, so: so, run: strconv.FormatInt(time.Now().UnixNano(), 36), start: time.Now()}
	smp, err := newSampler(s, filepath.Join(so.out, "soak.csv"))
	if err != nil {
		return nil, err
	}
	defer smp.close()
	traffic, stop := context.WithTimeout(ctx, o.duration)
	defer stop()
	smp.record(smp.take()) // before any traffic
	cpu0, haveCPU := procCPU(o.pids)
	if err := s.begin(traffic); err != nil {
		stop()
		s.end()
		return nil, err
	}
	smp.loop(traffic, func() { progress(s.st.calls.Load()) })
	s.trafficTime = time.Since(s.start)
	if cpu1, ok := procCPU(o.pids); ok && haveCPU {
		s.routerCPU = cpu1 - cpu0
	}
	s.end()
	smp.after()
	res := s.result(smp)
	if err := plotSamples(filepath.Join(so.out, "soak.png"), smp.samples, s.title(res)); err != nil {
		return nil, err
	}
	return res, writeJSON(filepath.Join(so.out, "soak.json"), res)
}

// begin starts every kind of traffic; the generators stop when ctx ends.
func (s *soak) begin(ctx context.Context) error {
	if err := s.startRPC(ctx); err != nil {
		return fmt.Errorf("soak rpc: %w", err)
	}
	if err := s.startPubSub(ctx); err != nil {
		return fmt.Errorf("soak pubsub: %w", err)
	}
	s.gen.Go(func() { s.churn(ctx) })
	s.gen.Go(func() { s.stalled(ctx) })
	s.gen.Go(func() { s.hostile(ctx) })
	return nil
}

// end waits for the generators, for the events still due to the
// subscribers, and closes the long-lived sessions.
func (s *soak) end() {
	s.gen.Wait()
	if s.pub != nil {
		s.awaitEvents()
	}
	s.mu.Lock()
	members := s.members
	s.mu.Unlock()
	for _, m := range members {
		m.close()
	}
}

// title is the plot's title.
func (s *soak) title(res map[string]any) string {
	return fmt.Sprintf("wampbench soak, %s, %s: %v calls, %v events delivered, %v joins, %v failures",
		s.start.UTC().Format("2006-01-02 15:04 MST"), time.Duration(s.o.duration).Round(time.Second),
		res["calls"], res["delivered"], res["joins"], res["failures"])
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// wait waits for d or the end of ctx; false if ctx ended first.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
