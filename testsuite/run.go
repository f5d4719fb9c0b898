package testsuite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// RunOptions adjust Run to a target.
type RunOptions struct {
	// Serializers to test; default json, msgpack, cbor.
	Serializers []string
	// Deviations are scenarios the target is known to fail, by name (or
	// name + "/mixed" for the mixed runs only), with the reason; they are
	// skipped with that reason printed.
	Deviations map[string]string
	// Timeout bounds each scenario; default 20s.
	Timeout time.Duration
	// HistoryPrefix is a topic prefix the target keeps event history for
	// (the scenarios' topics start with "test."); "" skips event_history.
	HistoryPrefix string
}

var runs atomic.Uint64

// Run runs every scenario against target for each driver x serializer x
// transport (target.URL, then each of target.Transports) x compression
// (WebSocket only), then mixing drivers, serializers and transports within
// scenarios.
func Run(t *testing.T, target Target, drivers []Driver, opts RunOptions) {
	if len(opts.Serializers) == 0 {
		opts.Serializers = []string{"json", "msgpack", "cbor"}
	}
	if opts.Timeout == 0 {
		opts.Timeout = 20 * time.Second
	}
	urls := append([]string{""}, target.Transports...) // "": target.URL
	for _, d := range drivers {
		for _, ser := range opts.Serializers {
			for _, url := range urls {
				for _, compress := range []bool{false, true} {
					if compress && !isWebSocket(cmp.Or(url, target.URL)) {
						continue
					}
					pc := PeerConfig{Driver: d, Serializer: ser, Compression: compress, URL: url}
					t.Run(pc.String(), func(t *testing.T) {
						t.Parallel()
						runScenarios(t, target, []PeerConfig{pc}, opts)
					})
				}
			}
		}
	}
	for _, mix := range mixes(drivers, opts.Serializers, urls) {
		name := "mixed"
		for _, pc := range mix {
			name += "_" + pc.String()
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runScenarios(t, target, mix, opts)
		})
	}
}

// mixes returns peer lists that put different serializers, drivers and
// transports (urls, "" for the target's URL) in the same scenario: every
// driver order, serializers rotated, and transports rotated so that each
// meets every driver and every serializer across the lists.
func mixes(drivers []Driver, sers, urls []string) [][]PeerConfig {
	var out [][]PeerConfig
	for i := range drivers {
		for shift := range sers {
			var mix []PeerConfig
			for k := range max(len(sers), 3) {
				mix = append(mix, PeerConfig{
					Driver:     drivers[(i+k)%len(drivers)],
					Serializer: sers[(shift+k)%len(sers)],
					URL:        urls[(i+k+2*shift)%len(urls)],
				})
			}
			out = append(out, mix)
		}
	}
	return out
}

func runScenarios(t *testing.T, target Target, peers []PeerConfig, opts RunOptions) {
	for _, sc := range append(append([]Scenario(nil), Scenarios...), AdvancedScenarios...) {
		if len(peers) > 1 && sc.Peers < 2 {
			continue // nothing to mix
		}
		t.Run(sc.Name, func(t *testing.T) { RunScenario(t, target, peers, sc, opts) })
	}
}

// RunScenario runs one scenario with peers (the first sc.Peers of them)
// against target, in the calling test: it skips with the reason when the
// router or a peer's client has a known deviation, and calls t.Parallel
// otherwise.
func RunScenario(t *testing.T, target Target, peers []PeerConfig, sc Scenario, opts RunOptions) {
	if opts.Timeout == 0 {
		opts.Timeout = 20 * time.Second
	}
	if why, ok := opts.Deviations[sc.Name]; ok {
		t.Skipf("known deviation of this router: %s", why)
	}
	if why, ok := opts.Deviations[sc.Name+"/mixed"]; ok && len(peers) > 1 {
		t.Skipf("known deviation of this router: %s", why)
	}
	for _, pc := range peers[:min(len(peers), sc.Peers)] {
		if d, ok := pc.Driver.(Deviator); ok {
			if why := d.Deviation(sc.Name, pc.Serializer); why != "" {
				t.Skipf("known deviation of the %s client: %s", pc.Driver.Name(), why)
			}
		}
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	defer cancel()
	e := &env{
		target:  target,
		peers:   slices.Clone(peers),
		prefix:  fmt.Sprintf("test.run%d", runs.Add(1)),
		timeout: ctx,
		history: opts.HistoryPrefix,
	}
	sc.Run(t, e)
}
