package realms

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// The benchmarks use only the exported API, so that they run unchanged
// against any implementation of the broker and dealer (old and new).

// benchPattern is a pattern held by a session other than the benchmark's.
type benchPattern struct {
	uri   wamp.URI
	match wamp.MatchPolicy
}

// otherPatterns returns n distinct patterns matching neither benchTopic nor
// benchProcedure, held by "other sessions": some unrelated from the first
// component, some sharing the benchmark URI's first components and its
// wildcard edges and failing only at the last component.
func otherPatterns(n int) []benchPattern {
	out := make([]benchPattern, n)
	for i := range out {
		switch i % 5 {
		case 0:
			out[i] = benchPattern{wamp.URI(fmt.Sprintf("room%d..message", i)), wamp.MatchWildcard}
		case 1:
			out[i] = benchPattern{wamp.URI(fmt.Sprintf("com.example..updated%d", i)), wamp.MatchWildcard}
		case 2:
			out[i] = benchPattern{wamp.URI(fmt.Sprintf("...x%d", i)), wamp.MatchWildcard}
		case 3:
			out[i] = benchPattern{wamp.URI(fmt.Sprintf("com.example.s%d", i)), wamp.MatchPrefix}
		default:
			out[i] = benchPattern{wamp.URI(fmt.Sprintf("user%d.events", i)), wamp.MatchPrefix}
		}
	}
	return out
}

const (
	benchTopic     wamp.URI = "com.example.orders.created"
	benchProcedure wamp.URI = "com.example.orders.get"
	otherSessions           = 100
)

var benchSizes = []int{0, 1000, 30000}

var (
	benchMu      sync.Mutex
	benchBrokers = map[int]*Broker{}
	benchDealers = map[int]*Dealer{}
)

// benchBroker returns a broker with the subscriptions benchTopic matches
// (exact, prefix, wildcard) and n others, built once per process.
func benchBroker(n int) *Broker {
	benchMu.Lock()
	defer benchMu.Unlock()
	if b := benchBrokers[n]; b != nil {
		return b
	}
	b := NewBroker()
	b.Subscribe(sess(1), benchTopic, wamp.MatchExact)
	b.Subscribe(sess(1), "com.example", wamp.MatchPrefix)
	b.Subscribe(sess(1), "com.example..created", wamp.MatchWildcard)
	for i, p := range otherPatterns(n) {
		b.Subscribe(sess(2+i%otherSessions), p.uri, p.match)
	}
	benchBrokers[n] = b
	return b
}

// benchDealer returns a dealer where benchProcedure has no exact or prefix
// registration and one matching wildcard registration, among n others.
func benchDealer(n int) *Dealer {
	benchMu.Lock()
	defer benchMu.Unlock()
	if d := benchDealers[n]; d != nil {
		return d
	}
	d := NewDealer()
	d.Register(sess(1), "com.example.orders.list", wamp.MatchExact, "", RegisterOptions{})
	d.Register(sess(1), "com.example..get", wamp.MatchWildcard, "", RegisterOptions{})
	for i, p := range otherPatterns(n) {
		d.Register(sess(2+i%otherSessions), p.uri, p.match, "", RegisterOptions{})
	}
	benchDealers[n] = d
	return d
}

func BenchmarkBrokerMatch(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("others=%d", n), func(b *testing.B) {
			br := benchBroker(n)
			var buf [8]*Subscription
			b.ReportAllocs()
			for b.Loop() {
				if got := br.Match(buf[:0], benchTopic); len(got) != 3 {
					b.Fatalf("%d matches", len(got))
				}
			}
		})
	}
}

func BenchmarkDealerMatch(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("others=%d", n), func(b *testing.B) {
			d := benchDealer(n)
			b.ReportAllocs()
			for b.Loop() {
				if reg := d.Match(benchProcedure); reg == nil || reg.Procedure != "com.example..get" {
					b.Fatalf("matched %v", reg)
				}
			}
		})
	}
}

// BenchmarkSubscriptionMemory subscribes 100,000 distinct wildcard patterns
// (1,000 sessions with 100 each) and reports the heap the broker keeps per
// subscription (B/sub, after GC, the topic strings excluded), the bytes
// allocated per subscription on the way (allocB/sub) and the time per
// Subscribe (ns/sub). Run it with -benchtime=1x.
func BenchmarkSubscriptionMemory(b *testing.B) {
	const n = 100000
	topics := make([]wamp.URI, n)
	for i := range topics {
		topics[i] = wamp.URI(fmt.Sprintf("com.example.device%d..status", i))
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		br := NewBroker()
		for i, t := range topics {
			br.Subscribe(sess(1+i%1000), t, wamp.MatchWildcard)
		}
		took := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		if br.Count() != n {
			b.Fatalf("%d subscriptions", br.Count())
		}
		runtime.KeepAlive(br)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/sub")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "allocB/sub")
		b.ReportMetric(float64(took.Nanoseconds())/n, "ns/sub")
	}
}

// BenchmarkWildcardHostile: one session holds the 8,192 wildcard patterns
// that follow the first 13 components of a 14-component topic in every mix
// of literal and wildcard and fail at the last one, so a publication to
// that topic makes the walk branch at every level (the worst case of the
// index); a publication to a topic of 14 components that differs from it
// in every component walks only the all-wildcard path.
func BenchmarkWildcardHostile(b *testing.B) {
	const k = 14
	comps := make([]string, k)
	for i := range comps {
		comps[i] = fmt.Sprintf("c%d", i)
	}
	br := NewBroker()
	for mask := range 1 << (k - 1) {
		p := make([]string, k)
		for i := range k - 1 {
			if mask&(1<<i) != 0 {
				p[i] = comps[i]
			}
		}
		p[k-1] = "zz"
		br.Subscribe(sess(2), wamp.URI(strings.Join(p, ".")), wamp.MatchWildcard)
	}
	target := strings.Join(comps, ".")
	for _, c := range []struct{ name, topic string }{
		{"target", target}, {"other", strings.ReplaceAll(target, "c", "y")},
	} {
		b.Run(c.name, func(b *testing.B) {
			var buf [8]*Subscription
			for b.Loop() {
				if got := br.Match(buf[:0], wamp.URI(c.topic)); len(got) != 0 {
					b.Fatalf("%d matches", len(got))
				}
			}
		})
	}
}

// BenchmarkSubscribeChurn is a hostile client's loop: one session subscribes
// and unsubscribes a topic that 100,000 other sessions hold. Each change
// replaces the subscription's immutable snapshot, so its cost (time and
// B/op) is that of building the new snapshot.
func BenchmarkSubscribeChurn(b *testing.B) {
	const n = 100000
	br := NewBroker()
	for i := range n {
		br.Subscribe(sess(1+i), benchTopic, wamp.MatchExact)
	}
	churner := sess(n + 1)
	b.ReportAllocs()
	for b.Loop() {
		sub, _ := br.Subscribe(churner, benchTopic, wamp.MatchExact)
		if _, deleted, err := br.Unsubscribe(churner, sub.ID); err != nil || deleted {
			b.Fatalf("unsubscribe: deleted %v, %v", deleted, err)
		}
	}
}
