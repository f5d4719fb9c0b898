package realms

import (
	"slices"
	"strings"

	"github.com/junction-wamp/junction/wamp"
)

// patternIndex holds the prefix and wildcard patterns of a broker
// (V = Subscription) or dealer (V = Registration) in tries keyed by URI
// component, so that matching a URI walks only the nodes whose path is
// compatible with it and never scans the patterns of others.
//
//   - Prefix patterns are in one trie whose edges are literal components
//     ("" included): matching walks a single path, one lookup per
//     component of the URI. "a.b" is the value of node a->b (it matches the
//     URIs that reach the node); "a.b." is the value of that node's wild
//     child (it matches only URIs with a component after b). Along the path
//     the matches come out shortest first, and the last is the longest.
//   - Wildcard patterns are in one trie per component count (a URI matches
//     only patterns with as many components), with a wild edge for an empty
//     component. Matching walks depth first, the literal child before the
//     wild one, so the matches come out in the dealer's precedence order:
//     at the first component where two patterns differ in being a wildcard,
//     the one with the literal component wins (the spec's "longest portion
//     of URI components matched before each wildcard"). Two patterns that
//     match the same URI and have their wildcards at the same places are
//     the same pattern, so this order has no ties and the first is the best.
//   - Patterns under any other match policy (not from this router's
//     sessions, which only use the valid ones) match like exact ones, as
//     matches() does, and are kept by URI in others.
//
// A node keeps its first literal child itself (most nodes have one at
// most: a walk down a chain compares strings and hashes nothing); the other
// literal children of every trie are in one map keyed by (parent,
// component), so a node with thousands of children costs no map of its
// own. A node is 48 bytes. It is removed as soon as nothing ends at or
// below it, so the index holds no node that no pattern needs (nodes counts
// them, and is 0 once every pattern is gone).
//
// Concurrency: the index is its owner's, guarded by the owner's RWMutex:
// written under the write lock, walked under the read lock. A walk only
// collects the immutable *V it passes (it calls nothing outside), so the
// read lock is held for the walk below, and a Subscribe or Unsubscribe
// changes O(components) nodes under the write lock. A persistent
// copy-on-write trie would spare readers the lock but make every write copy
// the nodes on its path with their child tables: a node such as
// "com.example" with 30,000 children would make each subscription cost
// O(patterns), the scan moved from publishers to subscribers (the old
// pattern slice was copied on every write, so 100,000 wildcard
// subscriptions took 40 s to make).
//
// Cost of a walk, for a URI of k components: the prefix walk visits at
// most one node per component (a string comparison, or a map lookup where
// the node has several children). The wildcard walk visits only nodes that
// are prefixes of a pattern of k components whose first d components are
// compatible with the URI's (equal, or wild): at depth d at most 2^d of
// them, never more than the trie's stored nodes, and each is a prefix of a
// pattern the scan would have compared that far, so the walk never compares
// more components than the scan did, and patterns that differ from the URI
// in a literal component cost nothing past it (a lookup at their parent).
// So a hostile session can slow only the URIs its patterns are built to
// follow, at a cost bounded by the nodes it stores (its subscription limit
// times its patterns' components). The walk is iterative with an explicit
// stack of at most k+1 frames: nothing recurses, whatever the URI's length.
type patternIndex[V any] struct {
	prefix *node[V]
	wild   map[int]*node[V] // root of the wildcard patterns with that many components
	edges  map[edge[V]]*node[V]
	others map[string][]*V
	nodes  int // nodes in the tries, the roots of wildcard tries included
}

// node is a point of a trie: a path of components from its root.
type node[V any] struct {
	wild  *node[V] // the child for any one component (prefix trie: "." ends there)
	comp  string   // the component of child
	child *node[V] // a literal child
	more  int      // the other literal children, in patternIndex.edges
	val   *V       // the pattern whose path ends here
}

// edge is a literal component below parent. comp (and node.comp) is a
// slice of the URI of the pattern that made the edge, so it keeps that
// URI's string in memory while the edge exists, even after that pattern
// went: at most one URI per live node.
type edge[V any] struct {
	parent *node[V]
	comp   string
}

func (n *node[V]) empty() bool {
	return n.wild == nil && n.child == nil && n.more == 0 && n.val == nil
}

func newPatternIndex[V any]() patternIndex[V] {
	return patternIndex[V]{
		prefix: new(node[V]),
		wild:   make(map[int]*node[V]),
		edges:  make(map[edge[V]]*node[V]),
		others: make(map[string][]*V),
	}
}

// component returns the component of uri that starts at off, and where the
// next one starts: past len(uri) when it was the last.
func component(uri string, off int) (comp string, next int) {
	if i := strings.IndexByte(uri[off:], '.'); i >= 0 {
		return uri[off : off+i], off + i + 1
	}
	return uri[off:], len(uri) + 1
}

func components(uri string) int { return strings.Count(uri, ".") + 1 }

// replace makes next the value of pattern under match in place of old
// (nil old: it is new; nil next: it goes away).
func (x *patternIndex[V]) replace(match wamp.MatchPolicy, pattern string, old, next *V) {
	if match != wamp.MatchPrefix && match != wamp.MatchWildcard {
		x.replaceOther(pattern, old, next)
		return
	}
	root, path, beyond := x.root(match, pattern)
	trail := make([]edge[V], 0, 8) // the path, to prune it bottom up
	n := root
	for off := 0; off <= len(path); {
		comp, nextOff := component(path, off)
		trail = append(trail, edge[V]{n, comp})
		n = x.makeChild(n, comp, match == wamp.MatchWildcard && comp == "")
		off = nextOff
	}
	if beyond {
		trail = append(trail, edge[V]{n, ""})
		n = x.makeChild(n, "", true)
	}
	n.val = next
	for i := len(trail) - 1; i >= 0 && n.empty(); i-- {
		x.unlink(trail[i], n)
		n = trail[i].parent
	}
	if match == wamp.MatchWildcard && root.empty() {
		delete(x.wild, components(pattern))
		x.nodes--
	}
}

// root returns the root of pattern's trie (made if needed), the path of
// components to its node, and whether it is a prefix pattern ending in ".".
func (x *patternIndex[V]) root(match wamp.MatchPolicy, pattern string) (root *node[V], path string, beyond bool) {
	if match == wamp.MatchPrefix {
		if p, ok := strings.CutSuffix(pattern, "."); ok {
			return x.prefix, p, true
		}
		return x.prefix, pattern, false
	}
	k := components(pattern)
	if x.wild[k] == nil {
		x.wild[k] = new(node[V])
		x.nodes++
	}
	return x.wild[k], pattern, false
}

// literal returns n's child by comp, or nil.
func (x *patternIndex[V]) literal(n *node[V], comp string) *node[V] {
	if n.child != nil && n.comp == comp {
		return n.child
	}
	if n.more == 0 {
		return nil
	}
	return x.edges[edge[V]{n, comp}]
}

// makeChild returns n's child by comp, or its wild child, made if needed.
func (x *patternIndex[V]) makeChild(n *node[V], comp string, wild bool) *node[V] {
	if wild {
		if n.wild == nil {
			n.wild = new(node[V])
			x.nodes++
		}
		return n.wild
	}
	if c := x.literal(n, comp); c != nil {
		return c
	}
	c := new(node[V])
	x.nodes++
	if n.child == nil {
		n.comp, n.child = comp, c
	} else {
		x.edges[edge[V]{n, comp}] = c
		n.more++
	}
	return c
}

// unlink removes the empty node c below e.
func (x *patternIndex[V]) unlink(e edge[V], c *node[V]) {
	switch p := e.parent; {
	case p.wild == c:
		p.wild = nil
	case p.child == c:
		p.comp, p.child = "", nil
	default:
		delete(x.edges, e)
		p.more--
	}
	x.nodes--
}

func (x *patternIndex[V]) replaceOther(pattern string, old, next *V) {
	list := slices.DeleteFunc(slices.Clone(x.others[pattern]), func(v *V) bool { return v == old })
	if next != nil {
		list = append(list, next)
	}
	if len(list) == 0 {
		delete(x.others, pattern)
	} else {
		x.others[pattern] = list
	}
}

// appendPrefixes appends the prefix patterns matching uri, shortest first.
func (x *patternIndex[V]) appendPrefixes(buf []*V, uri string) []*V {
	n := x.prefix
	for off := 0; off <= len(uri); {
		comp, next := component(uri, off)
		if n = x.literal(n, comp); n == nil {
			break
		}
		if n.val != nil {
			buf = append(buf, n.val)
		}
		if n.wild != nil && n.wild.val != nil && next <= len(uri) {
			buf = append(buf, n.wild.val) // the pattern ends in "." and uri goes on
		}
		off = next
	}
	return buf
}

// frame is a node of a wildcard walk still to visit, with the offset in the
// URI of the component it is to match next.
type frame[V any] struct {
	n   *node[V]
	off int
}

// appendWildcards appends the wildcard patterns matching uri, best first
// (the dealer's precedence), at most limit of them (limit < 1: all).
func (x *patternIndex[V]) appendWildcards(buf []*V, uri string, limit int) []*V {
	return x.walkWildcards(buf, uri, limit, nil)
}

// walkWildcards is appendWildcards, counting in *visits (if not nil) the
// nodes it visits: the work of a walk, which tests hold to the nodes
// compatible with the URI, however many patterns others hold.
func (x *patternIndex[V]) walkWildcards(buf []*V, uri string, limit int, visits *int) []*V {
	if len(x.wild) == 0 {
		return buf
	}
	root := x.wild[components(uri)]
	if root == nil {
		return buf
	}
	var stack [32]frame[V]
	todo := append(stack[:0], frame[V]{root, 0})
	for found := 0; len(todo) > 0; {
		f := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if visits != nil {
			*visits++
		}
		if f.off > len(uri) { // every component matched
			if f.n.val != nil {
				buf = append(buf, f.n.val)
				if found++; found == limit {
					break
				}
			}
			continue
		}
		comp, next := component(uri, f.off)
		if f.n.wild != nil {
			todo = append(todo, frame[V]{f.n.wild, next})
		}
		if comp == "" { // no literal edge is "" in a wildcard trie
			continue
		}
		if c := x.literal(f.n, comp); c != nil {
			todo = append(todo, frame[V]{c, next}) // popped first: literal before wild
		}
	}
	return buf
}

// appendOthers appends the patterns of other match policies equal to uri.
func (x *patternIndex[V]) appendOthers(buf []*V, uri string) []*V {
	if len(x.others) == 0 {
		return buf
	}
	return append(buf, x.others[uri]...)
}
