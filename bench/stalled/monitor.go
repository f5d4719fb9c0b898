package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// watched are the router's metrics the monitor follows.
var watched = []string{
	"go_memstats_heap_inuse_bytes",
	"go_goroutines",
	"junction_connections",
	"junction_slow_consumer_disconnects_total",
	"junction_queue_high_water_messages",
	"process_cpu_seconds_total",
}

// sample is one look at the router.
type sample struct {
	at      time.Duration // since the monitor started
	rssKiB  int64
	metrics map[string]float64
}

// monitor samples the router's RSS (/proc/PID/status) and its metrics
// every interval, keeps the peaks, and prints a line per sample.
type monitor struct {
	pid        int
	metricsURL string
	interval   time.Duration
	start      time.Time
	quiet      bool
	progress   func() string // appended to each line

	mu      sync.Mutex
	samples []sample
	peakRSS int64
	peak    map[string]float64
}

func newMonitor(pid int, metricsURL string, interval time.Duration) *monitor {
	return &monitor{pid: pid, metricsURL: metricsURL, interval: interval, start: time.Now(), peak: map[string]float64{}}
}

func (m *monitor) run(stop <-chan struct{}) {
	tick := time.NewTicker(m.interval)
	defer tick.Stop()
	for {
		m.take()
		select {
		case <-stop:
			m.take()
			return
		case <-tick.C:
		}
	}
}

func (m *monitor) take() {
	s := sample{at: time.Since(m.start), rssKiB: rssKiB(m.pid), metrics: scrape(m.metricsURL)}
	m.mu.Lock()
	m.samples = append(m.samples, s)
	m.peakRSS = max(m.peakRSS, s.rssKiB)
	for k, v := range s.metrics {
		m.peak[k] = max(m.peak[k], v)
	}
	m.mu.Unlock()
	if !m.quiet {
		extra := ""
		if m.progress != nil {
			extra = m.progress()
		}
		fmt.Printf("  t=%5.1fs rss=%6.0f MiB heap_inuse=%6.0f MiB goroutines=%6.0f conns=%6.0f slow_cut=%6.0f cpu=%5.1fs %s\n",
			s.at.Seconds(), float64(s.rssKiB)/1024, s.metrics["go_memstats_heap_inuse_bytes"]/(1<<20),
			s.metrics["go_goroutines"], s.metrics["junction_connections"],
			s.metrics["junction_slow_consumer_disconnects_total"], s.metrics["process_cpu_seconds_total"], extra)
	}
}

// last returns the latest sample.
func (m *monitor) last() sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) == 0 {
		return sample{}
	}
	return m.samples[len(m.samples)-1]
}

// rssKiB reads VmRSS of pid; 0 without a pid or when it cannot be read.
func rssKiB(pid int) int64 {
	if pid == 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

var scrapeClient = &http.Client{Timeout: 5 * time.Second}

// scrape reads the watched metrics (unlabelled series only); nil when url is
// empty or unreachable.
func scrape(url string) map[string]float64 {
	if url == "" {
		return nil
	}
	resp, err := scrapeClient.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		for _, w := range watched {
			if name == w {
				if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
					out[name] = v
				}
			}
		}
	}
	return out
}
