// Package chaos injects faults between the nodes of a cluster and NATS, for
// tests: it loses, duplicates, reorders and delays what nodes send each
// other, and cuts a node off entirely. A Net is shared by the nodes of one
// test; each node is given its own Faults (Net.Node), which is what a cut
// applies to.
//
// The random choices come from one generator seeded with a number the test
// logs (set JUNCTION_CHAOS_SEED to replay one); which message meets which
// choice still depends on the scheduling of the nodes' goroutines.
package chaos

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/junction-wamp/junction/cluster"
)

// Loss is what happens to each message between nodes, by rate in [0,1]:
// Drop, Dup and Reorder are exclusive (their sum at most 1); a message that
// is neither dropped nor held for a reorder is delayed by up to MaxDelay
// with rate Delay.
type Loss struct {
	Drop, Dup, Reorder, Delay float64
	// MaxDelay bounds a delay; a message held for a reorder is released
	// after the next message on its subject, or after MaxDelay (at least
	// 20 ms) if none comes.
	MaxDelay time.Duration
	// Heartbeats: heartbeats and goodbyes suffer the faults too (a cut
	// always cuts them).
	Heartbeats bool
}

// Stats count what the faults did.
type Stats struct {
	Passed, Dropped, Duplicated, Reordered, Delayed, Cut uint64
}

// Net is the faults of the links between the nodes of one test.
type Net struct {
	seed uint64

	mu    sync.Mutex
	rng   *rand.Rand
	loss  Loss
	nodes map[string]*Faults
	stats Stats
	watch func(node, subject string, data []byte)
	// cutWatch sees what a cut node does not receive.
	cutWatch func(node, subject string, data []byte)
	held     []*held // released by the release goroutine, by time
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	// closed: held messages are dropped, new ones pass.
	closed bool
}

// held is a message published later.
type held struct {
	at      time.Time
	from    *Faults
	subject string
	publish func()
	sent    bool // under Net.mu
}

// Seed is the seed to use: JUNCTION_CHAOS_SEED if set, or a random one.
func Seed() uint64 {
	if s, err := strconv.ParseUint(os.Getenv("JUNCTION_CHAOS_SEED"), 10, 64); err == nil {
		return s
	}
	return rand.Uint64()
}

// New returns a Net that does nothing yet, seeded with seed. Close it
// when the nodes are gone.
func New(seed uint64) *Net {
	n := &Net{seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		nodes: map[string]*Faults{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go n.release()
	return n
}

// Seed is the seed the Net was made with.
func (n *Net) Seed() uint64 { return n.seed }

// Node returns the faults of the node named name (a name of the test's
// choosing), for its cluster.Config.Faults.
func (n *Net) Node(name string) *Faults {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.nodes[name]
	if f == nil {
		f = &Faults{net: n, name: name, reorder: map[string]*held{}}
		n.nodes[name] = f
	}
	return f
}

// Set sets the faults of every link from now on.
func (n *Net) Set(l Loss) {
	n.mu.Lock()
	n.loss = l
	n.mu.Unlock()
}

// Quiet ends the random faults (not the cuts) and releases at once what
// is held.
func (n *Net) Quiet() {
	n.mu.Lock()
	n.loss = Loss{}
	now := n.takeLocked(time.Time{})
	n.mu.Unlock()
	for _, p := range now {
		p()
	}
}

// Cut cuts node name off (on) or back in (off): while cut, everything it
// sends or receives is lost, heartbeats included.
func (n *Net) Cut(name string, on bool) {
	f := n.Node(name)
	n.mu.Lock()
	f.cut = on
	n.mu.Unlock()
}

// Watch has f called with every message a node sends from now on (nil:
// no more), before its fate is chosen: a test sees when a message it
// expects goes out. f is called from the nodes' goroutines and must not
// block.
func (n *Net) Watch(f func(node, subject string, data []byte)) {
	n.mu.Lock()
	n.watch = f
	n.mu.Unlock()
}

// WatchCut has f called with every message a cut node does not receive
// (nil: no more), with that node's name: a test sees that a message it
// means to lose did not arrive before the cut ended. f is called from the
// nodes' goroutines and must not block.
func (n *Net) WatchCut(f func(node, subject string, data []byte)) {
	n.mu.Lock()
	n.cutWatch = f
	n.mu.Unlock()
}

// Stats returns the counts so far.
func (n *Net) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Close stops the release goroutine and drops what it holds; messages
// pass untouched from now on.
func (n *Net) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	n.held = nil
	for _, f := range n.nodes {
		clear(f.reorder)
	}
	n.mu.Unlock()
	close(n.stop)
	<-n.done
}

// takeLocked removes and returns the publications of the held messages due
// by now (all of them for the zero time); those of a node cut meanwhile are
// lost.
func (n *Net) takeLocked(now time.Time) []func() {
	var out []func()
	keep := n.held[:0]
	for _, h := range n.held {
		switch {
		case h.sent:
		case now.IsZero() || !h.at.After(now):
			h.sent = true
			if h.from.reorder[h.subject] == h {
				delete(h.from.reorder, h.subject)
			}
			if h.from.cut {
				n.stats.Cut++
				continue
			}
			out = append(out, h.publish)
		default:
			keep = append(keep, h)
		}
	}
	clear(n.held[len(keep):])
	n.held = keep
	return out
}

// release publishes the held messages when they are due. It is the only
// goroutine the Net starts; it ends at Close.
func (n *Net) release() {
	defer close(n.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		n.mu.Lock()
		now := time.Now()
		due := n.takeLocked(now)
		next := time.Hour
		for _, h := range n.held {
			next = min(next, h.at.Sub(now))
		}
		n.mu.Unlock()
		for _, p := range due {
			p()
		}
		t.Reset(max(next, time.Millisecond))
		select {
		case <-n.stop:
			return
		case <-n.wake:
		case <-t.C:
		}
	}
}

// holdLocked keeps publish until at.
func (n *Net) holdLocked(h *held) {
	n.held = append(n.held, h)
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Faults are one node's: a cluster.Faults.
type Faults struct {
	net     *Net
	name    string
	cut     bool             // under net.mu
	reorder map[string]*held // subject -> the message held until the next one; under net.mu
}

var _ cluster.Faults = (*Faults)(nil)

// Name is the node's name in its Net.
func (f *Faults) Name() string { return f.name }

func isHeartbeat(subject string) bool { return strings.HasSuffix(subject, ".hb") }

// Out implements cluster.Faults.
func (f *Faults) Out(subject string, data []byte, publish func([]byte)) {
	n := f.net
	n.mu.Lock()
	if w := n.watch; w != nil {
		n.mu.Unlock()
		w(f.name, subject, data)
		n.mu.Lock()
	}
	if n.closed {
		n.mu.Unlock()
		publish(data)
		return
	}
	if f.cut {
		n.stats.Cut++
		n.mu.Unlock()
		return
	}
	l := n.loss
	var now []func()
	pub := func() { publish(data) }
	if isHeartbeat(subject) && !l.Heartbeats {
		now = append(now, pub)
	} else {
		switch x := n.rng.Float64(); {
		case x < l.Drop:
			n.stats.Dropped++
		case x < l.Drop+l.Dup:
			n.stats.Duplicated++
			now = append(now, pub, pub)
		case x < l.Drop+l.Dup+l.Reorder && f.reorder[subject] == nil:
			n.stats.Reordered++
			h := &held{at: time.Now().Add(max(l.MaxDelay, 20*time.Millisecond)), from: f, subject: subject, publish: pub}
			f.reorder[subject] = h
			n.holdLocked(h)
		case l.MaxDelay > 0 && n.rng.Float64() < l.Delay:
			n.stats.Delayed++
			d := time.Duration(n.rng.Int64N(int64(l.MaxDelay)) + 1)
			n.holdLocked(&held{at: time.Now().Add(d), from: f, subject: subject, publish: pub})
		default:
			now = append(now, pub)
		}
	}
	if len(now) > 0 {
		n.stats.Passed++
		if h := f.reorder[subject]; h != nil && !h.sent { // the held one goes after this one
			h.sent = true
			delete(f.reorder, subject)
			now = append(now, h.publish)
		}
	}
	n.mu.Unlock()
	for _, p := range now {
		p()
	}
}

// In implements cluster.Faults: a cut node receives nothing.
func (f *Faults) In(subject string, data []byte) bool {
	n := f.net
	n.mu.Lock()
	if !f.cut || n.closed {
		n.mu.Unlock()
		return true
	}
	n.stats.Cut++
	w := n.cutWatch
	n.mu.Unlock()
	if w != nil {
		w(f.name, subject, data)
	}
	return false
}
