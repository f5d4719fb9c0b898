package hostile

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Wait bounds every wait of the suite: a healthy run needs a fraction of
// it; past it the test fails saying what it was waiting for.
const Wait = 30 * time.Second

// Build compiles ./cmd/junction (without -race) into dir and returns the
// binary's path. It runs from anywhere inside the module.
func Build(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: %q, %v: not in the module", gomod, err)
	}
	bin := filepath.Join(dir, "junction")
	build := exec.Command("go", "build", "-o", bin, "./cmd/junction")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/junction: %v\n%s", err, out)
	}
	return bin, nil
}

// Junction is a junction process started for one test.
type Junction struct {
	Addr string // host:port it listens on
	cmd  *exec.Cmd
	log  *logBuffer

	exited  chan struct{}
	waitErr error // set before exited is closed
}

// URL is the WebSocket endpoint.
func (j *Junction) URL() string { return "ws://" + j.Addr + "/ws" }

// PID is the process id.
func (j *Junction) PID() int { return j.cmd.Process.Pid }

// Log is what the process wrote to stderr (and stdout) so far.
func (j *Junction) Log() string { return j.log.String() }

// Exited is closed when the process has exited.
func (j *Junction) Exited() <-chan struct{} { return j.exited }

// Start runs bin with --listen 127.0.0.1:0 and, unless config is empty, a
// config file with that TOML text, and waits until it listens. It is
// stopped (SIGTERM, then SIGKILL) when the test ends, and its log is shown
// if the test failed.
func Start(t testing.TB, bin, config string) *Junction {
	t.Helper()
	args := []string{"--listen", "127.0.0.1:0"}
	if config != "" {
		path := filepath.Join(t.TempDir(), "junction.toml")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() { // no JUNCTION_* variable may change the config
		if !strings.HasPrefix(kv, "JUNCTION_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	j := &Junction{cmd: cmd, log: &logBuffer{addr: make(chan string, 1)}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = j.log, j.log
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting junction: %v", err)
	}
	go func() {
		j.waitErr = cmd.Wait()
		close(j.exited)
	}()
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("HOSTILE_DUMP") != "" {
			_ = cmd.Process.Signal(syscall.SIGQUIT) // the Go runtime prints every goroutine's stack
			<-j.exited
		}
		j.Stop(t)
		if dir := os.Getenv("HOSTILE_LOG_DIR"); dir != "" {
			name := strings.NewReplacer("/", "_").Replace(t.Name())
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, j.PID())), []byte(j.Log()), 0o644)
		}
		if t.Failed() {
			t.Logf("junction (pid %d) log:\n%s", j.PID(), tail(j.Log(), 64<<10))
		}
	})
	select {
	case j.Addr = <-j.log.addr:
	case <-j.exited:
		t.Fatalf("junction exited before listening (%v):\n%s", j.waitErr, j.Log())
	case <-time.After(Wait):
		t.Fatalf("junction not listening after %s:\n%s", Wait, j.Log())
	}
	return j
}

// Signal sends sig to the process.
func (j *Junction) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := j.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to junction (pid %d): %v", sig, j.PID(), err)
	}
}

// Alive fails the test if the process has exited.
func (j *Junction) Alive(t testing.TB) {
	t.Helper()
	select {
	case <-j.exited:
		t.Fatalf("junction (pid %d) exited: %v\n%s", j.PID(), j.waitErr, clip(j.Log(), 16<<10))
	default:
	}
}

// WaitExit waits for the process to exit, at most d.
func (j *Junction) WaitExit(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-j.exited:
	case <-time.After(d):
		t.Fatalf("junction (pid %d) still running %s later", j.PID(), d)
	}
}

// Stop ends the process if it is still running: SIGTERM, and SIGKILL if
// it has not exited within Wait.
func (j *Junction) Stop(t testing.TB) {
	select {
	case <-j.exited:
		return
	default:
	}
	_ = j.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-j.exited:
		return
	case <-time.After(Wait):
	}
	t.Errorf("junction (pid %d) did not stop on SIGTERM; killed", j.PID())
	_ = j.cmd.Process.Kill()
	<-j.exited
}

// PeakRSS is the process's peak resident set size (VmHWM), in bytes; ok is
// false where /proc does not say it (not Linux).
func (j *Junction) PeakRSS(t testing.TB) (rss int64, ok bool) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", j.PID()))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), "VmHWM:"); found {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10, true
		}
	}
	return 0, false
}

// CheckRSS fails the test if the process's peak RSS is over boundMiB, and
// logs the figure. It must be called while the process runs.
func (j *Junction) CheckRSS(t testing.TB, boundMiB int64) {
	t.Helper()
	j.Alive(t)
	rss, ok := j.PeakRSS(t)
	if !ok {
		t.Logf("peak RSS not available on this system; bound %d MiB not checked", boundMiB)
		return
	}
	t.Logf("junction peak RSS %.1f MiB (bound %d MiB)", float64(rss)/(1<<20), boundMiB)
	if rss > boundMiB<<20 {
		t.Errorf("junction peak RSS %.1f MiB, over the bound of %d MiB", float64(rss)/(1<<20), boundMiB)
	}
}

// CheckLogLines fails the test if a line of the process's log is longer
// than max bytes.
func (j *Junction) CheckLogLines(t testing.TB, max int) {
	t.Helper()
	for i, line := range strings.Split(j.Log(), "\n") {
		if len(line) > max {
			t.Errorf("log line %d is %d bytes long, over %d: %s", i+1, len(line), max, clip(line, 300))
		}
	}
}

// Metric scrapes /metrics (from 127.0.0.3, outside the attacked address's
// bounds) and returns the value of the sample whose name and labels start
// with sample, e.g. `junction_limits_reached_total{limit="router.max_calls_per_session"}`;
// ok is false when there is no such sample.
func (j *Junction) Metric(t testing.TB, sample string) (value float64, ok bool) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}, Timeout: Wait}
	client := &http.Client{Timeout: Wait, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := client.Get("http://" + j.Addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, sample) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		return v, true
	}
	return 0, false
}

// CheckLimitCounted fails the test unless /metrics counts limit (a config
// key, e.g. "router.max_calls_per_session") as reached at least once.
func (j *Junction) CheckLimitCounted(t testing.TB, limit string) {
	t.Helper()
	sample := `junction_limits_reached_total{limit="` + limit + `"}`
	v, ok := j.Metric(t, sample)
	if !ok || v < 1 {
		t.Errorf("/metrics: %s is %v (present: %v), want > 0", sample, v, ok)
	}
}

// logBuffer collects the process's output and reports the address of its
// "junction listening" line.
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	scanned int
	found   bool
	addr    chan string // buffered: receives the address once
}

var listeningAddr = regexp.MustCompile(`msg="junction listening" addr=(\S+)`)

func (o *logBuffer) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.b.Write(p)
	for !o.found { // after the address, only appended: the process must never wait on its log
		line, _, ok := bytes.Cut(o.b.Bytes()[o.scanned:], []byte("\n"))
		if !ok {
			break
		}
		o.scanned += len(line) + 1
		if m := listeningAddr.FindSubmatch(line); m != nil {
			o.found = true
			o.addr <- string(m[1])
		}
	}
	return len(p), nil
}

func (o *logBuffer) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// clip shortens s to at most n bytes for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("...(%d bytes)", len(s))
}

// tail is the end of s, at most n bytes, for a message.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("(%d bytes before)...", len(s)-n) + s[len(s)-n:]
}

// Ctx is a context that ends after Wait or with the test.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	t.Cleanup(cancel)
	return ctx
}

// Poll calls cond until it returns true, failing the test with what after
// Wait. It polls every 10 ms: a condition, not a duration, is what it
// waits for.
func Poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s: %s", Wait, what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}
