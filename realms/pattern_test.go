package realms

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/junction-wamp/junction/wamp"
)

// checkIndex checks that the index holds no stale node: every node is
// reachable, nothing empty is kept but the prefix root, and the counts agree.
func checkIndex[V any](t *testing.T, x *patternIndex[V]) {
	t.Helper()
	kids := make(map[*node[V]][]*node[V])
	for e, c := range x.edges {
		kids[e.parent] = append(kids[e.parent], c)
	}
	todo := []*node[V]{x.prefix}
	for _, r := range x.wild {
		todo = append(todo, r)
	}
	reached, edges := 0, 0
	for len(todo) > 0 {
		n := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if n != x.prefix {
			reached++
			if n.empty() {
				t.Errorf("a stale node is kept")
			}
		}
		if n.more != len(kids[n]) {
			t.Errorf("a node counts %d children in the map, has %d", n.more, len(kids[n]))
		}
		edges += len(kids[n])
		todo = append(todo, kids[n]...)
		for _, c := range []*node[V]{n.wild, n.child} {
			if c != nil {
				todo = append(todo, c)
			}
		}
	}
	if reached != x.nodes || edges != len(x.edges) {
		t.Errorf("%d nodes reached of %d counted; %d edges reached of %d", reached, x.nodes, edges, len(x.edges))
	}
}

// checkEmpty checks that an index without patterns holds nothing.
func checkEmpty[V any](t *testing.T, x *patternIndex[V]) {
	t.Helper()
	if x.nodes != 0 || len(x.edges) != 0 || len(x.wild) != 0 || len(x.others) != 0 || !x.prefix.empty() {
		t.Errorf("empty index holds %d nodes, %d edges, %d wildcard roots, %d others",
			x.nodes, len(x.edges), len(x.wild), len(x.others))
	}
}

func TestPatternMatching(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		match        wamp.MatchPolicy
		pattern, uri string
		want         bool
	}{
		{wamp.MatchPrefix, "a.b", "a.b", true},
		{wamp.MatchPrefix, "a.b", "a.b.c", true},
		{wamp.MatchPrefix, "a.b", "a.bc", false},
		{wamp.MatchPrefix, "a.b", "a", false},
		{wamp.MatchPrefix, "a.", "a.b.c", true},
		{wamp.MatchPrefix, "a.", "a.", true},
		{wamp.MatchPrefix, "a.", "a", false},
		{wamp.MatchPrefix, "a.", "ab", false},
		{wamp.MatchPrefix, "a..", "a..", true},
		{wamp.MatchPrefix, "a..", "a.", false},
		{wamp.MatchPrefix, "a..", "a.b.c", false},
		{wamp.MatchPrefix, "", "", true},
		{wamp.MatchPrefix, "", ".x", true},
		{wamp.MatchPrefix, "", "x", false},
		{wamp.MatchPrefix, ".", ".", true},
		{wamp.MatchPrefix, ".", "..a", true},
		{wamp.MatchPrefix, ".", "", false},
		{wamp.MatchWildcard, "a..c", "a.b.c", true},
		{wamp.MatchWildcard, "a..c", "a..c", true},
		{wamp.MatchWildcard, "a..c", "a.b.c.d", false},
		{wamp.MatchWildcard, "a..c", "a.c", false},
		{wamp.MatchWildcard, "..", "a.b.c", true},
		{wamp.MatchWildcard, "..", "..", true},
		{wamp.MatchWildcard, "..", "a.b", false},
		{wamp.MatchWildcard, "", "", true},
		{wamp.MatchWildcard, "", "abc", true},
		{wamp.MatchWildcard, "", "a.b", false},
		{wamp.MatchWildcard, ".", "a.b", true},
		{wamp.MatchWildcard, "a.", "a.x", true},
		{wamp.MatchWildcard, "a.", "b.x", false},
		{wamp.MatchWildcard, "a.b", "a.b", true},
		{wamp.MatchWildcard, "a.b", "a.bb", false},
		{"other", "a.b", "a.b", true},
		{"other", "a.b", "a.b.c", false},
	} {
		b, d := NewBroker(), NewDealer()
		b.Subscribe(sess(1), wamp.URI(c.pattern), c.match)
		d.Register(sess(1), wamp.URI(c.pattern), c.match, "", RegisterOptions{})
		if got := len(b.Match(nil, wamp.URI(c.uri))) == 1; got != c.want || matches(c.match, wamp.URI(c.pattern), wamp.URI(c.uri)) != c.want {
			t.Errorf("%s %q on %q: %v, want %v", c.match, c.pattern, c.uri, got, c.want)
		}
		checkMatch(t, b, d, wamp.URI(c.uri))
	}
}

// edgePatterns are patterns at the edges of the matching rules.
var edgePatterns = []struct {
	match   wamp.MatchPolicy
	pattern string
}{
	{wamp.MatchPrefix, ""}, {wamp.MatchPrefix, "."}, {wamp.MatchPrefix, "a"}, {wamp.MatchPrefix, "a."},
	{wamp.MatchPrefix, "a.."}, {wamp.MatchPrefix, "a.b"}, {wamp.MatchPrefix, "a.b."}, {wamp.MatchPrefix, "a.bc"},
	{wamp.MatchPrefix, ".."}, {wamp.MatchPrefix, "a.b.c.d.e.f.g.h"}, {wamp.MatchPrefix, "com.example"},
	{wamp.MatchWildcard, ""}, {wamp.MatchWildcard, "."}, {wamp.MatchWildcard, ".."}, {wamp.MatchWildcard, "..."},
	{wamp.MatchWildcard, "a."}, {wamp.MatchWildcard, ".b"}, {wamp.MatchWildcard, "a..c"}, {wamp.MatchWildcard, "a.b.c"},
	{wamp.MatchWildcard, ".b."}, {wamp.MatchWildcard, "a.b.."}, {wamp.MatchWildcard, "com.example..created"},
	{wamp.MatchExact, ""}, {wamp.MatchExact, "a.b"}, {wamp.MatchExact, "a..c"}, {"other", "a.b"}, {"other", ""},
}

var edgeURIs = []string{
	"", ".", "..", "...", "a", "a.", "a.b", "a.bc", "a.b.c", "a..c", "a.b.c.d", ".b", ".b.",
	"x", "a.b.", "a.b.c.d.e.f.g.h", "a.b.c.d.e.f.g.h.i", "com.example.orders.created",
}

func TestPatternEdgeCases(t *testing.T) {
	t.Parallel()
	b, d := NewBroker(), NewDealer()
	for i, p := range edgePatterns {
		for s := range 1 + i%3 { // some shared by several sessions
			b.Subscribe(sess(1+s), wamp.URI(p.pattern), p.match)
		}
		d.Register(sess(1+i%3), wamp.URI(p.pattern), p.match, "", RegisterOptions{})
	}
	for _, uri := range edgeURIs {
		checkMatch(t, b, d, wamp.URI(uri))
	}
	checkIndex(t, &b.patterns)
	checkIndex(t, &d.patterns)
	for s := range 3 { // sessions leave one by one
		b.RemoveSession(sess(1 + s))
		d.RemoveSession(sess(1 + s))
		for _, uri := range edgeURIs {
			checkMatch(t, b, d, wamp.URI(uri))
		}
		checkIndex(t, &b.patterns)
		checkIndex(t, &d.patterns)
	}
	checkEmpty(t, &b.patterns)
	checkEmpty(t, &d.patterns)
}

// TestPatternLongURI: URIs of 600 components, more than the walk keeps on
// its stack array, and patterns as long.
func TestPatternLongURI(t *testing.T) {
	t.Parallel()
	comps := make([]string, 600)
	for i := range comps {
		comps[i] = fmt.Sprintf("c%d", i)
	}
	uri := strings.Join(comps, ".")
	allWild := strings.Repeat(".", 599)
	oneLiteral := strings.Repeat(".", 300) + comps[300] + strings.Repeat(".", 299)
	b, d := NewBroker(), NewDealer()
	for i, p := range []struct {
		match   wamp.MatchPolicy
		pattern string
	}{
		{wamp.MatchWildcard, allWild}, {wamp.MatchWildcard, oneLiteral}, {wamp.MatchWildcard, uri},
		{wamp.MatchPrefix, strings.Join(comps[:599], ".")}, {wamp.MatchPrefix, strings.Join(comps[:300], ".") + "."},
	} {
		b.Subscribe(sess(1+i), wamp.URI(p.pattern), p.match)
		d.Register(sess(1+i), wamp.URI(p.pattern), p.match, "", RegisterOptions{})
	}
	if n := len(b.Match(nil, wamp.URI(uri))); n != 5 {
		t.Errorf("%d matches, want 5", n)
	}
	for _, u := range []string{uri, uri + ".x", allWild, strings.Join(comps[:599], ".") + ".y"} {
		checkMatch(t, b, d, wamp.URI(u))
	}
	for i := range 5 {
		b.RemoveSession(sess(1 + i))
		d.RemoveSession(sess(1 + i))
	}
	checkEmpty(t, &b.patterns)
	checkEmpty(t, &d.patterns)
}

// TestPatternBranching: every mix of wildcards and literals over 10
// components (the walk branches at every level), plus as many that fail
// only at the last component.
func TestPatternBranching(t *testing.T) {
	t.Parallel()
	const k = 10
	b, d := NewBroker(), NewDealer()
	for mask := range 1 << k {
		for _, last := range []string{"c9", "zz"} {
			comps := make([]string, k)
			for i := range comps {
				if mask&(1<<i) != 0 {
					comps[i] = fmt.Sprintf("c%d", i)
				}
			}
			if comps[k-1] != "" {
				comps[k-1] = last
			}
			p := wamp.URI(strings.Join(comps, "."))
			b.Subscribe(sess(1+mask%7), p, wamp.MatchWildcard)
			d.Register(sess(1+mask%7), p, wamp.MatchWildcard, "", RegisterOptions{})
		}
	}
	uri := wamp.URI("c0.c1.c2.c3.c4.c5.c6.c7.c8.c9")
	if n := len(b.Match(nil, uri)); n != 1<<k {
		t.Errorf("%d matches, want %d", n, 1<<k)
	}
	if reg := d.Match(uri); reg == nil || reg.Procedure != uri {
		t.Errorf("the all-literal pattern should win, got %v", regTopic(reg))
	}
	checkMatch(t, b, d, uri)
	checkMatch(t, b, d, "c0.c1.c2.c3.c4.c5.c6.c7.c8.zz")
	checkIndex(t, &b.patterns)
	for s := range 7 {
		b.RemoveSession(sess(1 + s))
		d.RemoveSession(sess(1 + s))
	}
	checkEmpty(t, &b.patterns)
	checkEmpty(t, &d.patterns)
}

// TestPatternConcurrent: publications matched while patterns come and go
// (for the race detector) always find the subscriptions that stay.
func TestPatternConcurrent(t *testing.T) {
	t.Parallel()
	b := NewBroker()
	b.Subscribe(sess(1), "a.b", wamp.MatchPrefix)
	b.Subscribe(sess(1), "a..c", wamp.MatchWildcard)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 2000 {
			p := wamp.URI(fmt.Sprintf("a.%d.c", i%50))
			sub, _ := b.Subscribe(sess(2), p, wamp.MatchWildcard)
			b.Subscribe(sess(2), p[:3], wamp.MatchPrefix)
			b.Unsubscribe(sess(2), sub.ID)
		}
		b.RemoveSession(sess(2))
	})
	for range 2000 {
		if n := len(b.Match(nil, "a.b.c")); n < 2 {
			t.Fatalf("%d matches", n)
		}
	}
	wg.Wait()
	b.RemoveSession(sess(1))
	checkEmpty(t, &b.patterns)
}

// FuzzMatch compares the pattern index with the scan. patterns holds one
// pattern a line: a policy letter (p prefix, w wildcard, e exact, anything
// else another policy), a separator, the URI; uris one URI a line. Seeds
// are in testdata/fuzz/FuzzMatch.
func FuzzMatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, patterns, uris string) {
		b, d := NewBroker(), NewDealer()
		lines := strings.Split(patterns, "\n")
		targets := strings.Split(uris, "\n")
		if len(lines) > 64 || len(targets) > 32 {
			t.Skip()
		}
		for i, l := range lines {
			match, pattern := fuzzPattern(l)
			b.Subscribe(sess(1+i%3), pattern, match)
			d.Register(sess(1+i%3), pattern, match, wamp.InvokeRoundRobin, RegisterOptions{})
		}
		for s := range 3 {
			for _, u := range targets {
				checkMatch(t, b, d, wamp.URI(u))
			}
			checkIndex(t, &b.patterns)
			checkIndex(t, &d.patterns)
			b.RemoveSession(sess(1 + s))
			d.RemoveSession(sess(1 + s))
		}
		checkEmpty(t, &b.patterns)
		checkEmpty(t, &d.patterns)
	})
}

func fuzzPattern(line string) (match wamp.MatchPolicy, pattern wamp.URI) {
	if line == "" {
		return wamp.MatchExact, ""
	}
	switch line[0] {
	case 'p':
		match = wamp.MatchPrefix
	case 'w':
		match = wamp.MatchWildcard
	case 'e':
		match = wamp.MatchExact
	default:
		match = "other"
	}
	if len(line) < 2 {
		return match, ""
	}
	return match, wamp.URI(line[2:])
}

// TestWalkIgnoresOthersPatterns: the work of matching a URI does not grow
// with the patterns that cannot match it. 30,000 wildcard patterns of
// another session on unrelated topics (as in the attack that slowed every
// publisher 15-fold when patterns were scanned) leave the walk for
// "app.news" at the nodes it visits with one such pattern; patterns that
// follow the URI cost the walk only the nodes compatible with it.
func TestWalkIgnoresOthersPatterns(t *testing.T) {
	t.Parallel()
	x := newPatternIndex[Subscription]()
	visits := func(uri string) (int, int) {
		n := 0
		found := x.walkWildcards(nil, uri, 0, &n)
		return n, len(found)
	}
	add := func(pattern string) {
		x.replace(wamp.MatchWildcard, pattern, nil, &Subscription{Topic: wamp.URI(pattern)})
	}
	add("app.") // matches app.news
	add("zz0.")
	one, found := visits("app.news")
	if found != 1 {
		t.Fatalf("app.news matched %d patterns, want 1", found)
	}
	for i := 1; i < 30000; i++ {
		add(fmt.Sprintf("zz%d.", i))             // same component count, another first component
		add(fmt.Sprintf("zz%d.%d..x", i%100, i)) // the attack's shape: another component count
	}
	if n, found := visits("app.news"); n != one || found != 1 {
		t.Fatalf("with 60,000 unrelated patterns the walk visits %d nodes (%d with one) and finds %d", n, one, found)
	}
	// zz7.<i>..x for i = 7, 107, ... : 300 patterns follow "zz7" and differ
	// at their second component; a URI with none of those stops there.
	if n, found := visits("zz7.none.q.x"); found != 0 || n > 4 {
		t.Fatalf("zz7.none.q.x: %d nodes visited, %d found; want at most 4 (root, zz7, its wild child, none)", n, found)
	}
	if n, found := visits("zz7.107.q.x"); found != 1 || n > 6 {
		t.Fatalf("zz7.107.q.x: %d nodes visited, %d found; want 1 found within 6 nodes", n, found)
	}
}
