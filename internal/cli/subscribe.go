package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

func newSubscribeCommand(stderr io.Writer, opts *Options) *cobra.Command {
	var f clientFlags
	var match string
	var stats bool
	var count int
	cmd := &cobra.Command{
		Use:   "subscribe URI [--match exact|prefix|wildcard]",
		Short: "Print the events of a topic until interrupted",
		Long: `Subscribe to URI on a running router and print each event on a line until
interrupted (Ctrl-C) or, with --count N, until N events: the topic, then
its positional arguments (strings as they are, anything else as compact
JSON), then KEY=VALUE for its keyword arguments, separated by spaces. With
--json, one line {"topic":...,"publication":...,"args":[...],"kwargs":{...},
"details":{...}} per event.

"subscribed to URI" on stderr says the subscription is in place. --stats
shows the number of events and the rate on stderr, updated every second
(redirect stdout to /dev/null to see only that).`,
		Example: `  junction subscribe com.example.news
  junction subscribe com.example. --match prefix --json
  junction subscribe com.example.ticks --stats > /dev/null`,
		Args: uriArgs(false),
		RunE: func(cmd *cobra.Command, args []string) error {
			uri := args[0]
			if err := matchFlag(match); err != nil {
				return err
			}
			if count < 0 {
				return fmt.Errorf("--count %d: want 0 (no limit) or more", count)
			}
			ctx := cmd.Context()
			c, err := f.connect(ctx, stderr)
			if err != nil {
				return err
			}
			defer closeClient(c)

			out := cmd.OutOrStdout()
			var (
				mu       sync.Mutex // orders the output and guards n, stopped
				n        int
				stopped  bool
				reached  = make(chan struct{})
				received atomic.Int64
				writeErr error
			)
			handler := func(ev *clientlib.Event) {
				mu.Lock()
				defer mu.Unlock()
				if stopped || writeErr != nil {
					return
				}
				if writeErr = printEvent(out, ev, f.json); writeErr != nil {
					close(reached)
					return
				}
				n++
				received.Add(1)
				if n == count {
					stopped = true
					close(reached)
				}
			}
			var so clientlib.SubscribeOptions
			if match != "exact" {
				so.Match = wamp.MatchPolicy(match)
			}
			sub, err := c.Subscribe(ctx, uri, handler, &so)
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted before it was in place
				}
				return rpcFailure("subscribe "+uri, err, f.json, out, stderr)
			}
			fmt.Fprintf(stderr, "subscribed to %s (match %s, subscription %d)\n", uri, match, sub.ID)

			var meter *rateMeter
			if stats {
				meter = startRateMeter(stderr, &received, opts.StatsInterval)
			}
			var result error
			select {
			case <-ctx.Done():
			case <-reached:
			case <-c.Done():
				result = Failed(fmt.Errorf("subscribe %s: session ended: %v", uri, c.Err()))
			}
			mu.Lock()
			stopped = true
			if writeErr != nil {
				result = Failed(fmt.Errorf("writing events: %w", writeErr))
			}
			mu.Unlock()
			if meter != nil {
				meter.stop()
			}
			return result
		},
	}
	f.add(cmd)
	f.addJSON(cmd, "each event (and an error)")
	cmd.Flags().StringVar(&match, "match", "exact", "match policy: exact, prefix or wildcard")
	cmd.Flags().BoolVar(&stats, "stats", false, "show the number of events and events/s on stderr every second")
	cmd.Flags().IntVarP(&count, "count", "n", 0, "exit after `N` events (0: run until interrupted)")
	_ = cmd.RegisterFlagCompletionFunc("match", cobra.FixedCompletions([]string{"exact", "prefix", "wildcard"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// printEvent writes one event as a line.
func printEvent(w io.Writer, ev *clientlib.Event, asJSON bool) error {
	if asJSON {
		return writeJSONLine(w, payloadJSON{Topic: ev.Topic, Publication: uint64(ev.Publication),
			Args: ev.Args, Kwargs: ev.Kwargs, Details: ev.Details})
	}
	var b strings.Builder
	b.WriteString(ev.Topic)
	for _, a := range ev.Args {
		b.WriteByte(' ')
		b.WriteString(textValue(a))
	}
	for _, k := range sortedKeys(ev.Kwargs) {
		fmt.Fprintf(&b, " %s=%s", k, textValue(ev.Kwargs[k]))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// rateMeter shows a counter and its rate on w at an interval: on a terminal
// as one line rewritten in place, otherwise as a line each time.
type rateMeter struct {
	w        io.Writer
	count    *atomic.Int64
	terminal bool
	start    time.Time
	done     chan struct{}
	wg       sync.WaitGroup
}

func startRateMeter(w io.Writer, count *atomic.Int64, interval time.Duration) *rateMeter {
	m := &rateMeter{w: w, count: count, terminal: isTerminal(w), start: time.Now(), done: make(chan struct{})}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		last, lastAt := int64(0), m.start
		for {
			select {
			case now := <-t.C:
				n := m.count.Load()
				rate := float64(n-last) / now.Sub(lastAt).Seconds()
				m.show(fmt.Sprintf("%d events, %.0f events/s", n, rate))
				last, lastAt = n, now
			case <-m.done:
				return
			}
		}
	}()
	return m
}

func (m *rateMeter) show(line string) {
	if m.terminal {
		fmt.Fprintf(m.w, "\r%-50s", line)
	} else {
		fmt.Fprintln(m.w, line)
	}
}

// stop ends the updates and shows the totals.
func (m *rateMeter) stop() {
	close(m.done)
	m.wg.Wait()
	n, d := m.count.Load(), time.Since(m.start)
	m.show(fmt.Sprintf("%d events in %s, %.0f events/s on average", n, d.Round(time.Millisecond), float64(n)/d.Seconds()))
	if m.terminal {
		fmt.Fprintln(m.w)
	}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
