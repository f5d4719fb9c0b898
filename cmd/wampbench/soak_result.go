package main

import (
	"math"
	"path/filepath"
	"slices"
	"time"
)

// soakSeries is a sampled series the summary and the plot report.
type soakSeries struct {
	name  string // in the result: NAME_before, NAME_first, NAME_last, NAME_slope_per_h, NAME_after
	value func(sample) float64
}

const mib = 1 << 20

var soakSeriesList = []soakSeries{
	{"rss_mib", func(x sample) float64 { return x.rss / mib }},
	{"heap_inuse_mib", func(x sample) float64 { return x.heapInuse / mib }},
	{"goroutines", func(x sample) float64 { return x.goroutines }},
	{"fds", sample.fdCount},
	{"sessions", func(x sample) float64 { return x.sessions }},
}

// fdCount is the router's open file descriptors: from /proc/PID/fd, or else
// from its metrics.
func (x sample) fdCount() float64 {
	if math.IsNaN(x.fds) {
		return x.openFDs
	}
	return x.fds
}

// result is the run's report: traffic, failures, and each series' trend.
func (s *soak) result(smp *sampler) map[string]any {
	secs := s.trafficTime.Seconds()
	res := map[string]any{"seconds": secs, "samples": len(smp.samples), "failures": s.st.failed(),
		"csv": filepath.Join(s.so.out, "soak.csv"), "png": filepath.Join(s.so.out, "soak.png")}
	for _, c := range append(s.st.traffic(), s.st.failures()...) {
		res[c.name] = c.n.Load()
	}
	res["calls_per_s"] = float64(s.st.calls.Load()) / secs
	res["delivered_per_s"] = float64(s.st.delivered.Load()) / secs
	res["joins_per_s"] = float64(s.st.joins.Load()) / secs
	if s.routerCPU > 0 {
		res["router_cpu_percent"] = 100 * s.routerCPU.Seconds() / secs // of one core
	}
	for _, ser := range soakSeriesList {
		if first, last, slope, ok := trend(smp.samples, s.so.warmup, ser.value); ok {
			res[ser.name+"_first"], res[ser.name+"_last"], res[ser.name+"_slope_per_h"] = first, last, slope
		}
		if v := ser.value(smp.samples[0]); !math.IsNaN(v) {
			res[ser.name+"_before"] = v
		}
		if v := ser.value(smp.final); !math.IsNaN(v) {
			res[ser.name+"_after"] = v
		}
	}
	if n := len(smp.samples); n > 0 && !math.IsNaN(smp.samples[0].slowCut) && !math.IsNaN(smp.samples[n-1].slowCut) {
		res["slow_consumer_disconnects"] = smp.samples[n-1].slowCut - smp.samples[0].slowCut
	}
	if smp.errs > 0 {
		res["metrics_errors"], res["metrics_error"] = smp.errs, smp.lastErr.Error()
	}
	s.mu.Lock()
	if len(s.notes) > 0 {
		res["failure_notes"] = s.notes
	}
	s.mu.Unlock()
	return res
}

// trend is a series' median in the first minute after the warm-up (the
// whole run if it is shorter), its median in the last minute, and the
// slope per hour of its least-squares fit over the second half of the run.
// Medians, so that the stalled subscriber's queue, which the router holds a
// few seconds in each of its cycles, does not decide the first or the last
// value by the phase it was sampled in.
func trend(samples []sample, warmup time.Duration, f func(sample) float64) (first, last, slope float64, ok bool) {
	if len(samples) == 0 {
		return 0, 0, 0, false
	}
	end := samples[len(samples)-1].at
	first, ok = median(samples, f, warmup, warmup+time.Minute)
	if !ok {
		first, ok = median(samples, f, 0, end)
	}
	if !ok {
		return 0, 0, 0, false
	}
	last, _ = median(samples, f, end-time.Minute, end)
	return first, last, fitSlope(samples, f, end/2) * float64(time.Hour/time.Second), true
}

// median is f's median over the samples taken from..to; false if none has a value.
func median(samples []sample, f func(sample) float64, from, to time.Duration) (float64, bool) {
	var vs []float64
	for _, x := range samples {
		if v := f(x); x.at >= from && x.at <= to && !math.IsNaN(v) {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if n := len(vs); n%2 == 0 {
		return (vs[n/2-1] + vs[n/2]) / 2, true
	}
	return vs[len(vs)/2], true
}

// fitSlope is the slope, per second, of the least-squares line through f
// over the samples taken from on; 0 with fewer than two.
func fitSlope(samples []sample, f func(sample) float64, from time.Duration) float64 {
	var xs, ys []float64
	for _, x := range samples {
		if v := f(x); x.at >= from && !math.IsNaN(v) {
			xs, ys = append(xs, x.at.Seconds()), append(ys, v)
		}
	}
	if len(xs) < 2 {
		return 0
	}
	var mx, my float64
	for i := range xs {
		mx, my = mx+xs[i], my+ys[i]
	}
	mx, my = mx/float64(len(xs)), my/float64(len(xs))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}
