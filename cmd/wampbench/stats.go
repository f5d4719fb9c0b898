package main

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// latencies summarises a set of durations.
type latencies []time.Duration

func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[min(len(l)-1, int(float64(len(l))*p))]
}

func (l latencies) summary() map[string]float64 {
	slices.Sort(l)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	out := map[string]float64{"p50_us": us(l.percentile(0.50)), "p90_us": us(l.percentile(0.90)), "p99_us": us(l.percentile(0.99))}
	if len(l) > 0 {
		out["max_us"] = us(l[len(l)-1])
	}
	return out
}

// procCPU returns the processes' user+system CPU time, summed, from /proc/PID/stat.
func procCPU(pids []int) (time.Duration, bool) { return sumOver(pids, procCPU1) }

// sumOver sums f over pids; false if there are none or one fails.
func sumOver[T time.Duration | int64](pids []int, f func(int) (T, bool)) (T, bool) {
	var sum T
	for _, pid := range pids {
		v, ok := f(pid)
		if !ok {
			return 0, false
		}
		sum += v
	}
	return sum, len(pids) > 0
}

func procCPU1(pid int) (time.Duration, bool) {
	if pid == 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after "(comm)"
	if len(fields) < 13 {
		return 0, false
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks, true
}

// procRSS returns the processes' resident set size in bytes, summed, from /proc/PID/status.
func procRSS(pids []int) (int64, bool) { return sumOver(pids, procRSS1) }

func procRSS1(pid int) (int64, bool) {
	if pid == 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb * 1024, true
		}
	}
	return 0, false
}
