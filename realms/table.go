package realms

import (
	"sync"

	"github.com/junction-wamp/junction/wamp"
)

// table is what the broker and the dealer share: their entries
// (subscriptions, V = Subscription; registrations, V = Registration) by
// match policy and URI, by id, and in the pattern index, and the entries of
// each session (P: what the broker keeps of a subscriber, its position; the
// dealer nothing). Entries are immutable: a change installs a copy (put).
// The broker's and dealer's own methods hold mu.
type table[V any, PV entry[V], P any] struct {
	mu        sync.RWMutex
	byKey     map[tableKey]*V
	byID      map[wamp.ID]*V
	patterns  patternIndex[V] // prefix and wildcard entries
	bySession map[wamp.ID]map[wamp.ID]P
	ids       idSource
}

// entry is a subscription or a registration as a table sees it.
type entry[V any] interface {
	*V
	// key is the entry's match policy (normalised) and URI.
	key() tableKey
	// entryID is the entry's id.
	entryID() wamp.ID
}

type tableKey struct {
	match wamp.MatchPolicy
	uri   wamp.URI
}

// init makes t's maps and index.
func (t *table[V, PV, P]) init() {
	t.byKey = make(map[tableKey]*V)
	t.byID = make(map[wamp.ID]*V)
	t.patterns = newPatternIndex[V]()
	t.bySession = make(map[wamp.ID]map[wamp.ID]P)
}

// GlobalIDs makes the table draw ids at random from the global scope
// instead of counting, so that the nodes of a cluster do not hand out the
// same id for different subscriptions or registrations.
func (t *table[V, PV, P]) GlobalIDs() { t.ids.global.Store(true) }

// newID is id if it is not 0 and free, else a fresh one. mu is held.
func (t *table[V, PV, P]) newID(id wamp.ID) wamp.ID {
	if id == 0 || t.byID[id] != nil {
		id = t.ids.next(func(id wamp.ID) bool { return t.byID[id] != nil })
	}
	return id
}

// put installs next in place of the entry of cur's key (nil next: removes
// it), and returns next. mu is held for writing.
func (t *table[V, PV, P]) put(cur PV, next *V) *V {
	key := cur.key()
	old := t.byKey[key]
	if next == nil {
		delete(t.byKey, key)
		delete(t.byID, cur.entryID())
	} else {
		t.byKey[key] = next
		t.byID[cur.entryID()] = next
	}
	if key.match != wamp.MatchExact {
		t.patterns.replace(key.match, string(key.uri), old, next)
	}
	return next
}

// own records that session holds entry id, with p; it reports false if it
// held it already. mu is held for writing.
func (t *table[V, PV, P]) own(session, id wamp.ID, p P) bool {
	own := t.bySession[session]
	if _, ok := own[id]; ok {
		return false
	}
	if own == nil {
		own = make(map[wamp.ID]P)
		t.bySession[session] = own
	}
	own[id] = p
	return true
}

// disown forgets that session holds entry id, and returns what was kept
// with it; ok is false if it did not hold it. mu is held for writing.
func (t *table[V, PV, P]) disown(session, id wamp.ID) (p P, ok bool) {
	own := t.bySession[session]
	if p, ok = own[id]; !ok {
		return p, false
	}
	delete(own, id)
	if len(own) == 0 {
		delete(t.bySession, session)
	}
	return p, true
}

// exact is the entry of uri under MatchExact. mu is held.
func (t *table[V, PV, P]) exact(uri wamp.URI) *V {
	return t.byKey[tableKey{wamp.MatchExact, uri}]
}

// Lookup returns the entry of uri under match exactly (not by matching).
func (t *table[V, PV, P]) Lookup(uri wamp.URI, match wamp.MatchPolicy) *V {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byKey[tableKey{match.Norm(), uri}]
}

// Get returns the entry with id id.
func (t *table[V, PV, P]) Get(id wamp.ID) *V {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byID[id]
}

// All returns every entry.
func (t *table[V, PV, P]) All() []*V {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*V, 0, len(t.byID))
	for _, v := range t.byID {
		out = append(out, v)
	}
	return out
}

// SessionCount is the number of entries s holds.
func (t *table[V, PV, P]) SessionCount(s Recipient) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.bySession[s.SessionID()])
}

// Count is the number of entries.
func (t *table[V, PV, P]) Count() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byID)
}

// SessionEntries returns the entries s holds (in no particular order).
func (t *table[V, PV, P]) SessionEntries(s Recipient) []*V {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*V, 0, len(t.bySession[s.SessionID()]))
	for id := range t.bySession[s.SessionID()] {
		if v := t.byID[id]; v != nil {
			out = append(out, v)
		}
	}
	return out
}
