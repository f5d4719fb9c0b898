package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// resultLine is what a program prints for its case.
type resultLine struct {
	Client     string `json:"client"`
	Lib        string `json:"lib"`
	Serializer string `json:"serializer"`
	Scenario   string `json:"scenario"`
	Result     string `json:"result"`
	Detail     string `json:"detail"`
	Event      string `json:"event"`
}

type programResult struct {
	line           resultLine
	err            error // no or a wrong result line, or the program did not end well
	stdout, stderr string
	elapsed        time.Duration
}

func (r *programResult) output() string {
	return fmt.Sprintf("--- stdout:\n%s--- stderr:\n%s--- (ran %v)", tail(r.stdout), tail(r.stderr), r.elapsed.Round(time.Millisecond))
}

func tail(s string) string {
	const max = 8000
	if len(s) > max {
		s = "...\n" + s[len(s)-max:]
	}
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// program is a running scenario program.
type program struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	ready, done    chan struct{}
	start          time.Time
	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	lines          []resultLine
	waitErr        error
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func startProgram(ctx context.Context, dir string, c *client, url, realm, ser, scenario string, env []string, withStdin bool) (*program, error) {
	name, args := c.command(dir, url, realm, ser, scenario)
	p := &program{ready: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
	p.cmd = exec.CommandContext(ctx, name, args...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.WaitDelay = 5 * time.Second
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if withStdin {
		w, err := p.cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		p.stdin = w
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		var readyOnce sync.Once
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.stdout.Write(line)
			p.stdout.WriteByte('\n')
			p.mu.Unlock()
			var l resultLine
			if json.Unmarshal(line, &l) != nil {
				continue
			}
			if l.Event == "ready" {
				readyOnce.Do(func() { close(p.ready) })
				continue
			}
			p.mu.Lock()
			p.lines = append(p.lines, l)
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, out)
		err := p.cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *program) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return (&programResult{stdout: p.stdout.String(), stderr: p.stderr.String(), elapsed: time.Since(p.start)}).output()
}

// result checks, once the program has ended, that it printed exactly one
// result line for the case it was given.
func (p *program) result(c *client, ser, scenario string) *programResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &programResult{stdout: p.stdout.String(), stderr: p.stderr.String(), elapsed: time.Since(p.start)}
	switch {
	case len(p.lines) != 1:
		r.err = fmt.Errorf("%s printed %d result lines, want 1 (exit: %v)", c.id, len(p.lines), p.waitErr)
	case p.lines[0].Client != c.id || p.lines[0].Serializer != ser || p.lines[0].Scenario != scenario:
		r.err = fmt.Errorf("result line for %s/%s/%s, want %s/%s/%s", p.lines[0].Client, p.lines[0].Serializer, p.lines[0].Scenario, c.id, ser, scenario)
	default:
		r.line = p.lines[0]
		if p.waitErr != nil && r.line.Result != "fail" {
			r.err = fmt.Errorf("%s reported %s but exited with %v", c.id, r.line.Result, p.waitErr)
		}
	}
	return r
}

// runProgram runs one program to its end.
func runProgram(t *testing.T, dir string, c *client, url, realm, ser, scenario string, env []string) *programResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	p, err := startProgram(ctx, dir, c, url, realm, ser, scenario, env, false)
	if err != nil {
		return &programResult{err: err}
	}
	<-p.done
	r := p.result(c, ser, scenario)
	if ctx.Err() != nil && r.err != nil {
		r.err = fmt.Errorf("killed after %v: %w", caseTimeout, r.err)
	}
	return r
}
