package chaos

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// sink records what was published, in order.
type sink struct {
	mu  sync.Mutex
	got []string
}

func (s *sink) publish(b []byte) { s.mu.Lock(); s.got = append(s.got, string(b)); s.mu.Unlock() }

func (s *sink) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func waitLen(t *testing.T, s *sink, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.list()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d published: %v", len(s.list()), n, s.list())
		}
		time.Sleep(time.Millisecond) // polls the condition
	}
	return s.list()
}

func TestNothingByDefault(t *testing.T) {
	n := New(1)
	defer n.Close()
	f, s := n.Node("a"), &sink{}
	for i := range 100 {
		f.Out("x.node.b", fmt.Appendf(nil, "%d", i), s.publish)
	}
	if got := s.list(); len(got) != 100 || got[0] != "0" || got[99] != "99" {
		t.Fatalf("%v", got)
	}
	if !f.In("x.node.a", nil) {
		t.Fatal("lost on the way in")
	}
}

func TestCut(t *testing.T) {
	n := New(1)
	defer n.Close()
	a, b, s := n.Node("a"), n.Node("b"), &sink{}
	n.Cut("a", true)
	a.Out("x.hb", []byte("a"), s.publish)
	a.Out("x.node.b", []byte("m"), s.publish)
	if len(s.list()) != 0 || a.In("x.hb", nil) || a.In("x.node.a", nil) {
		t.Fatal("a cut node sent or received")
	}
	if !b.In("x.hb", nil) {
		t.Fatal("another node is cut too")
	}
	n.Cut("a", false)
	a.Out("x.hb", []byte("a"), s.publish)
	if len(s.list()) != 1 || !a.In("x.hb", nil) {
		t.Fatal("the cut did not end")
	}
	if st := n.Stats(); st.Cut != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLossRates: each fault happens about as often as asked, and what is
// not dropped is published, the held messages within MaxDelay.
func TestLossRates(t *testing.T) {
	n := New(Seed())
	t.Logf("seed %d", n.Seed())
	defer n.Close()
	n.Set(Loss{Drop: 0.1, Dup: 0.1, Reorder: 0.1, Delay: 0.2, MaxDelay: 20 * time.Millisecond})
	f, s := n.Node("a"), &sink{}
	const count = 2000
	for i := range count {
		f.Out("x.node.b", fmt.Appendf(nil, "%d", i), s.publish)
	}
	st := n.Stats()
	t.Logf("%+v", st)
	for name, v := range map[string]uint64{"dropped": st.Dropped, "duplicated": st.Duplicated, "reordered": st.Reordered, "delayed": st.Delayed} {
		if v < count/20 || v > count/4 {
			t.Errorf("%s %d of %d", name, v, count)
		}
	}
	got := waitLen(t, s, count-int(st.Dropped)+int(st.Duplicated))
	if len(got) != count-int(st.Dropped)+int(st.Duplicated) {
		t.Fatalf("%d published", len(got))
	}
	inOrder := slices.IsSortedFunc(got, func(a, b string) int { return len(a)*10000 - len(b)*10000 + cmpStr(a, b) })
	if inOrder {
		t.Fatal("nothing was reordered")
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestQuietReleases: Quiet publishes at once what is held and stops the
// faults; heartbeats pass untouched unless asked.
func TestQuietReleases(t *testing.T) {
	n := New(2)
	defer n.Close()
	n.Set(Loss{Reorder: 1, MaxDelay: time.Hour})
	f, s := n.Node("a"), &sink{}
	f.Out("x.hb", []byte("hb"), s.publish)
	f.Out("x.node.b", []byte("1"), s.publish)
	if got := s.list(); len(got) != 1 || got[0] != "hb" {
		t.Fatalf("%v", got)
	}
	n.Quiet()
	f.Out("x.node.b", []byte("2"), s.publish)
	if got := s.list(); fmt.Sprint(got) != "[hb 1 2]" {
		t.Fatalf("%v", got)
	}
}

func TestWatch(t *testing.T) {
	n := New(3)
	defer n.Close()
	var mu sync.Mutex
	var seen []string
	n.Watch(func(node, subject string, data []byte) {
		mu.Lock()
		seen = append(seen, node+" "+subject+" "+string(data))
		mu.Unlock()
	})
	n.Cut("a", true)
	n.Node("a").Out("x.node.b", []byte("m"), func([]byte) {})
	n.Watch(nil)
	n.Node("a").Out("x.node.b", []byte("n"), func([]byte) {})
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "[a x.node.b m]" {
		t.Fatalf("%v", seen)
	}
}
