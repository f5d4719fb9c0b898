package router

import (
	"fmt"
	"sync"
	"time"

	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// HistoryConfig keeps the last Limit events published to topics matching
// Topic under Match, for wamp.subscription.get_events.
type HistoryConfig struct {
	Topic string
	Match wamp.MatchPolicy // exact (default), prefix or wildcard
	Limit int              // events kept; default 100
}

// storedEvent is a publication kept for retention or history. Its payload
// stays as the publisher encoded it.
type storedEvent struct {
	publication wamp.ID
	topic       wamp.URI
	time        time.Time
	payload     wamp.Payload
	publisher   *identity // for disclosure; nil for the router
	disclose    bool
	aud         audience // eligibility, by authid and authrole
}

// size is what the router holds for a stored event, in bytes: its encoded
// payload and topic, and about 200 bytes of bookkeeping.
func (ev *storedEvent) size() int { return ev.payload.Size() + len(ev.topic) + 200 }

// storeLimits bound what a realm's event store holds.
type storeLimits struct {
	retainedEvents, retainedBytes int // retained events, one per topic
	historyBytes                  int // over every history
}

// eventStore is a realm's retained events and event histories.
type eventStore struct {
	limits storeLimits

	mu            sync.Mutex
	retained      map[wamp.URI]*storedEvent
	retainedBytes int
	histories     []*history // fixed at start
	historyBytes  int        // the events' sizes summed over every history
}

type history struct {
	cfg    HistoryConfig
	events []*storedEvent // oldest first, at most cfg.Limit
}

// retainedFull is a retained event refused: it would take the realm past
// the bound limit.
type retainedFull struct {
	limit         Limit
	events, bytes int // held
	need          int // the event's size
}

func (e *retainedFull) Error() string {
	return fmt.Sprintf("this realm keeps the most retained events it may (%d events, %d bytes; this one needs %d bytes) (%s)",
		e.events, e.bytes, e.need, e.limit)
}

func newEventStore(cfgs []HistoryConfig, limits storeLimits) *eventStore {
	st := &eventStore{retained: make(map[wamp.URI]*storedEvent), limits: limits}
	for _, c := range cfgs {
		if c.Match == "" {
			c.Match = wamp.MatchExact
		}
		if c.Limit <= 0 {
			c.Limit = 100
		}
		st.histories = append(st.histories, &history{cfg: c})
	}
	return st
}

// record keeps a publication: as the topic's retained event if retain, and
// in every history whose pattern matches. Events addressed to session ids
// (exclude, eligible) are not kept in histories, as the spec advises: the
// ids mean nothing to later sessions. A retained event that would take the
// realm past its bounds is refused (errRetainedFull), and not kept at all:
// retained events outlive their publisher, so the newest may not evict
// others. Histories drop their oldest events past their bound instead.
func (st *eventStore) record(ev *storedEvent, retain bool) error {
	if !retain && len(st.histories) == 0 {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if retain {
		if err := st.retainLocked(ev); err != nil {
			return err
		}
	}
	if ev.aud.exclude != nil || ev.aud.eligible != nil {
		return nil
	}
	for _, h := range st.histories {
		if realms.Matches(h.cfg.Match, wamp.URI(h.cfg.Topic), ev.topic) {
			h.events = append(h.events, ev)
			st.historyBytes += ev.size()
			if len(h.events) > h.cfg.Limit {
				st.dropOldest(h)
			}
		}
	}
	for st.historyBytes > st.limits.historyBytes && st.dropOldestOfAll() {
	}
	return nil
}

// retainLocked makes ev its topic's retained event, within the bounds.
func (st *eventStore) retainLocked(ev *storedEvent) error {
	old := st.retained[ev.topic]
	n, bytes := len(st.retained), st.retainedBytes+ev.size()
	if old != nil {
		bytes -= old.size()
	} else {
		n++
	}
	switch {
	case n > st.limits.retainedEvents:
		return &retainedFull{LimitRetainedEvents, len(st.retained), st.retainedBytes, ev.size()}
	case bytes > st.limits.retainedBytes:
		return &retainedFull{LimitRetainedBytes, len(st.retained), st.retainedBytes, ev.size()}
	}
	st.retained[ev.topic] = ev
	st.retainedBytes = bytes
	return nil
}

// dropOldest drops h's oldest event.
func (st *eventStore) dropOldest(h *history) {
	st.historyBytes -= h.events[0].size()
	h.events[0] = nil
	h.events = h.events[1:]
	if cap(h.events) > 2*h.cfg.Limit+16 { // let the array behind go
		h.events = append([]*storedEvent(nil), h.events...)
	}
}

// dropOldestOfAll drops the oldest event of every history; false if they
// are all empty.
func (st *eventStore) dropOldestOfAll() bool {
	var oldest *history
	for _, h := range st.histories {
		if len(h.events) > 0 && (oldest == nil || h.events[0].time.Before(oldest.events[0].time)) {
			oldest = h
		}
	}
	if oldest == nil {
		return false
	}
	st.dropOldest(oldest)
	return true
}

// retainNewer keeps ev as its topic's retained event unless the one kept is
// later: another node's snapshot may carry an older one. Past the bounds it
// is not kept (logged by the caller).
func (st *eventStore) retainNewer(ev *storedEvent) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	// The newer wins, the larger publication id between two of the same
	// time: every node keeps the same one, whatever the order they came in.
	if old := st.retained[ev.topic]; old == nil || old.time.Before(ev.time) ||
		(old.time.Equal(ev.time) && old.publication < ev.publication) {
		return st.retainLocked(ev)
	}
	return nil
}

// allRetained returns every retained event.
func (st *eventStore) allRetained() []*storedEvent {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]*storedEvent, 0, len(st.retained))
	for _, ev := range st.retained {
		out = append(out, ev)
	}
	return out
}

// retainedFor returns the retained events a new subscription would have received.
func (st *eventStore) retainedFor(sub *realms.Subscription) []*storedEvent {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []*storedEvent
	for topic, ev := range st.retained {
		if realms.Matches(sub.Match, sub.Topic, topic) {
			out = append(out, ev)
		}
	}
	return out
}

// historyOf returns the events of a subscription's history: those kept by a
// configured history covering every topic the subscription matches, that
// the subscription matches. Histories are kept per configured pattern from
// the router's start, so a new subscription sees events published before it.
func (st *eventStore) historyOf(sub *realms.Subscription) ([]*storedEvent, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, h := range st.histories {
		if !h.covers(sub) {
			continue
		}
		var out []*storedEvent
		for _, ev := range h.events {
			if realms.Matches(sub.Match, sub.Topic, ev.topic) {
				out = append(out, ev)
			}
		}
		return out, true
	}
	return nil, false
}

// covers reports whether every topic sub matches is kept by h.
func (h *history) covers(sub *realms.Subscription) bool {
	topic := wamp.URI(h.cfg.Topic)
	switch {
	case sub.Match == h.cfg.Match && sub.Topic == topic:
		return true
	case sub.Match == wamp.MatchExact:
		return realms.Matches(h.cfg.Match, topic, sub.Topic)
	case sub.Match == wamp.MatchPrefix && h.cfg.Match == wamp.MatchPrefix:
		return realms.Matches(wamp.MatchPrefix, topic, sub.Topic)
	}
	return false
}

// sendRetained sends s the retained events matching its new subscription.
func (s *session) sendRetained(sub *realms.Subscription) {
	for _, ev := range s.realm.events.retainedFor(sub) {
		if !ev.aud.admits(s) {
			continue
		}
		details := eventDetails(ev.publisher, sub, ev.topic, ev.disclose)
		if details == nil {
			details = wamp.Dict{}
		}
		details["retained"] = true
		// A payload this session's serializer cannot carry is counted and
		// logged by send; the subscription stands.
		_ = s.send(&wamp.Event{Subscription: sub.ID, Publication: ev.publication, Details: details, Payload: ev.payload})
	}
}

// metaGetEvents is wamp.subscription.get_events.
func metaGetEvents(s *session, args []any, kwargs map[string]any) ([]any, *wamp.RPCError) {
	id, err := argID(args, 0, "subscription")
	if err != nil {
		return nil, err
	}
	sub := s.realm.Broker.Get(id)
	if sub == nil {
		return nil, wamp.NewError(wamp.ErrNoSuchSubscription, "no such subscription")
	}
	events, ok := s.realm.events.historyOf(sub)
	if !ok {
		return []any{[]any{}}, nil // no history is kept for this subscription
	}
	f, err := parseHistoryFilter(kwargs)
	if err != nil {
		return nil, err
	}
	out := []any{}
	budget := s.r.config().MaxHistoryResultBytes // what one answer may carry: it bounds the work too
	for _, ev := range f.apply(events) {
		if !ev.aud.admits(s) {
			continue
		}
		if budget -= ev.payload.Size(); budget < 0 && len(out) > 0 {
			s.limitReached(LimitHistoryResult, fmt.Sprintf("wamp.subscription.get_events answered with the %d events that fit", len(out)))
			break
		}
		a, kw, derr := serializers.DecodePayload(&ev.payload)
		if derr != nil {
			continue
		}
		out = append(out, map[string]any{
			"timestamp": ev.time.UTC().Format(time.RFC3339Nano), "subscription": uint64(sub.ID),
			"publication": uint64(ev.publication), "details": eventDetails(ev.publisher, sub, ev.topic, ev.disclose),
			"args": a, "kwargs": kw,
		})
		if f.limit > 0 && len(out) == f.limit {
			break
		}
	}
	return []any{out}, nil
}

type historyFilter struct {
	reverse                                bool
	limit                                  int
	from, after, before, until             time.Time
	topic                                  string
	fromPub, afterPub, beforePub, untilPub wamp.ID
}

func parseHistoryFilter(kw map[string]any) (historyFilter, *wamp.RPCError) {
	var f historyFilter
	f.reverse, _ = kw["reverse"].(bool)
	if v, ok := kw["limit"]; ok {
		n, isInt := wamp.AsInt(v)
		if !isInt || n <= 0 {
			return f, invalidArg("limit must be a positive integer")
		}
		f.limit = int(n)
	}
	for key, dst := range map[string]*time.Time{"from_time": &f.from, "after_time": &f.after, "before_time": &f.before, "until_time": &f.until} {
		if v, ok := kw[key]; ok {
			str, _ := v.(string)
			t, err := time.Parse(time.RFC3339Nano, str)
			if err != nil {
				return f, invalidArg("%s must be an RFC 3339 timestamp", key)
			}
			*dst = t
		}
	}
	f.topic, _ = kw["topic"].(string)
	for key, dst := range map[string]*wamp.ID{"from_publication": &f.fromPub, "after_publication": &f.afterPub, "before_publication": &f.beforePub, "until_publication": &f.untilPub} {
		if v, ok := kw[key]; ok {
			id, isID := wamp.AsID(v)
			if !isID {
				return f, invalidArg("%s must be a publication id", key)
			}
			*dst = id
		}
	}
	return f, nil
}

// apply filters events (oldest first) and orders them as asked.
func (f historyFilter) apply(events []*storedEvent) []*storedEvent {
	index := func(id wamp.ID) int {
		for i, ev := range events {
			if ev.publication == id {
				return i
			}
		}
		return -1
	}
	lo, hi := 0, len(events) // [lo, hi)
	if f.fromPub != 0 {
		lo = max(lo, index(f.fromPub))
	}
	if f.afterPub != 0 {
		lo = max(lo, index(f.afterPub)+1)
	}
	if f.untilPub != 0 {
		hi = min(hi, index(f.untilPub)+1)
	}
	if f.beforePub != 0 {
		if i := index(f.beforePub); i >= 0 {
			hi = min(hi, i)
		}
	}
	var out []*storedEvent
	for i := lo; i < hi && i >= 0; i++ {
		ev := events[i]
		switch {
		case !f.from.IsZero() && ev.time.Before(f.from),
			!f.after.IsZero() && !ev.time.After(f.after),
			!f.before.IsZero() && !ev.time.Before(f.before),
			!f.until.IsZero() && ev.time.After(f.until),
			f.topic != "" && string(ev.topic) != f.topic:
			continue
		}
		out = append(out, ev)
	}
	if f.reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}
