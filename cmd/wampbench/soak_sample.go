package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// sample is one reading of the router's resources, with the soak's
// counters at that time. A value the soak could not read is NaN.
type sample struct {
	at                                                           time.Duration // since the run's start
	rss, fds                                                     float64       // /proc/PID: VmRSS bytes, entries of fd/
	heapInuse, heapAlloc, goroutines, sessions, openFDs, slowCut float64       // /metrics
	calls, delivered, joins, failures                            int64
}

// sampleColumns is the CSV header, in the order of sample.row.
var sampleColumns = []string{"seconds", "rss_bytes", "fds", "heap_inuse_bytes", "heap_alloc_bytes", "goroutines",
	"sessions", "process_open_fds", "slow_consumer_disconnects", "calls", "delivered", "joins", "failures"}

func (x sample) row() []string {
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return []string{strconv.FormatFloat(x.at.Seconds(), 'f', 1, 64), f(x.rss), f(x.fds), f(x.heapInuse), f(x.heapAlloc),
		f(x.goroutines), f(x.sessions), f(x.openFDs), f(x.slowCut),
		strconv.FormatInt(x.calls, 10), strconv.FormatInt(x.delivered, 10), strconv.FormatInt(x.joins, 10), strconv.FormatInt(x.failures, 10)}
}

// metricNames are the metrics read from /metrics, each summed over its labels.
var metricNames = map[string]bool{
	"go_memstats_heap_inuse_bytes": true, "go_memstats_heap_alloc_bytes": true, "go_goroutines": true,
	"junction_sessions": true, "process_open_fds": true, "junction_slow_consumer_disconnects_total": true,
}

// sampler reads the router every --sample and writes each sample to the CSV
// at once, so that a run cut short keeps what it measured.
type sampler struct {
	s       *soak
	f       *os.File
	w       *csv.Writer
	client  *http.Client
	samples []sample
	final   sample // after every soak session has left
	errs    int    // samples the metrics could not be read for
	lastErr error
}

func newSampler(s *soak, path string) (*sampler, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	// A connection per scrape, closed after it, so that it is not among the
	// router's descriptors between scrapes.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	m := &sampler{s: s, f: f, w: csv.NewWriter(f), client: client}
	_ = m.w.Write(sampleColumns)
	return m, nil
}

func (m *sampler) close() {
	m.w.Flush()
	_ = m.f.Close()
}

// loop samples every --sample until ctx ends.
func (m *sampler) loop(ctx context.Context, progress func()) {
	t := time.NewTicker(m.s.so.sample)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.record(m.take())
			progress()
		}
	}
}

func (m *sampler) record(x sample) {
	m.samples = append(m.samples, x)
	_ = m.w.Write(x.row())
	m.w.Flush()
}

// take reads the router and the counters.
func (m *sampler) take() sample {
	st := &m.s.st
	x := sample{at: time.Since(m.s.start), calls: st.calls.Load(), delivered: st.delivered.Load(),
		joins: st.joins.Load(), failures: st.failed()}
	x.rss, x.fds = math.NaN(), math.NaN()
	if rss, ok := procRSS(m.s.o.pids); ok {
		x.rss = float64(rss)
	}
	if fds, ok := sumOver(m.s.o.pids, procFDs); ok {
		x.fds = float64(fds)
	}
	v, err := m.scrape()
	if err != nil {
		m.errs++
		m.lastErr = err
	}
	x.heapInuse, x.heapAlloc = v["go_memstats_heap_inuse_bytes"], v["go_memstats_heap_alloc_bytes"]
	x.goroutines, x.sessions, x.openFDs = v["go_goroutines"], v["junction_sessions"], v["process_open_fds"]
	x.slowCut = v["junction_slow_consumer_disconnects_total"]
	return x
}

// after waits, at most the answer timeout, for the router to have no
// session left (the soak's have all left) and no more descriptors than
// before the soak, and takes the final sample.
// A session left is a failure; descriptors are only reported.
func (m *sampler) after() {
	end := time.Now().Add(m.s.so.answerTimeout)
	fds0 := m.samples[0].fdCount()
	x := m.take()
	for (x.sessions > 0 || x.fdCount() > fds0) && time.Now().Before(end) {
		time.Sleep(100 * time.Millisecond)
		x = m.take()
	}
	if x.sessions > 0 {
		m.s.failN(&m.s.st.leftOver, int64(x.sessions), "%v sessions still on the router %s after the soak's left", x.sessions, m.s.so.answerTimeout)
	}
	m.final = x
}

// scrape reads metricNames from --metrics; all NaN without it.
func (m *sampler) scrape() (map[string]float64, error) {
	v := map[string]float64{}
	for name := range metricNames {
		v[name] = math.NaN()
	}
	if m.s.so.metrics == "" {
		return v, nil
	}
	resp, err := m.client.Get(m.s.so.metrics)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("%s: HTTP %s", m.s.so.metrics, resp.Status)
	}
	if err := parseMetrics(bufio.NewScanner(resp.Body), v); err != nil {
		return v, err
	}
	if math.IsNaN(v["junction_sessions"]) {
		v["junction_sessions"] = 0 // a gauge by label has no sample when no realm has a session
	}
	return v, nil
}

// parseMetrics sums, in v, the samples of the metrics named in v, from the
// Prometheus text format.
func parseMetrics(sc *bufio.Scanner, v map[string]float64) error {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		end := strings.IndexAny(line, "{ ")
		if end <= 0 || line[0] == '#' {
			continue
		}
		name := line[:end]
		old, want := v[name]
		if !want {
			continue
		}
		rest := line[end:]
		if rest[0] == '{' { // labels, which may hold spaces
			rest = rest[strings.LastIndexByte(rest, '}')+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		f, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		if math.IsNaN(old) {
			old = 0
		}
		v[name] = old + f
	}
	return sc.Err()
}

// procFDs counts the open file descriptors of pid (entries of /proc/PID/fd).
func procFDs(pid int) (int64, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	return int64(len(names)), err == nil
}
