package realms

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/junction-wamp/junction/wamp"
)

// memberIDs returns the session ids of a snapshot, sorted, or an error if
// one appears twice or the chunks are malformed.
func memberIDs(rs Recipients) ([]wamp.ID, error) {
	var ids []wamp.ID
	for i := range rs.NumChunks() {
		c := rs.Chunk(i)
		if len(c) == 0 || len(c) > RecipientChunk || (i < rs.NumChunks()-1 && len(c) != RecipientChunk) {
			return nil, fmt.Errorf("chunk %d of %d holds %d", i, rs.NumChunks(), len(c))
		}
		for _, r := range c {
			ids = append(ids, r.SessionID())
		}
	}
	if len(ids) != rs.Len() {
		return nil, fmt.Errorf("Len %d, chunks hold %d", rs.Len(), len(ids))
	}
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		return nil, fmt.Errorf("a recipient twice: %v", ids)
	}
	return ids, nil
}

// members is memberIDs failing the test on an error.
func members(t testing.TB, rs Recipients) []wamp.ID {
	t.Helper()
	ids, err := memberIDs(rs)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkPositions fails the test unless every position the broker keeps for
// sub's subscribers points at that subscriber.
func checkPositions(t testing.TB, b *Broker, sub *Subscription) {
	t.Helper()
	for r := range sub.Subscribers.All() {
		pos, ok := b.bySession[r.SessionID()][sub.ID]
		if !ok || sub.Subscribers.at(int(pos)) != r {
			t.Fatalf("session %d: position %d (known %v) holds another", r.SessionID(), pos, ok)
		}
	}
}

// TestBrokerSubscribersModel runs random subscribes, unsubscribes and
// session removals on one topic, across several chunk boundaries, and
// compares the subscription, Subscribed and Contains after each step with
// a map; snapshots taken along the way must still hold what they held.
func TestBrokerSubscribersModel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	const sessions = 5*RecipientChunk + 17
	b := NewBroker()
	model := map[wamp.ID]bool{}
	type kept struct {
		snap Recipients
		want []wamp.ID
	}
	var snaps []kept
	var id wamp.ID // of the subscription, while it exists
	const steps = 10000
	for step := range steps {
		s := sess(1 + rng.IntN(sessions))
		add := 5 // in 10: grow, then churn around a size, then shrink to none
		if step < steps/6 {
			add = 9
		} else if step > steps*3/4 {
			add = 1
		}
		switch op := rng.IntN(10); {
		case op < add:
			sub, _ := b.Subscribe(s, "t", wamp.MatchExact)
			id = sub.ID
			model[s.SessionID()] = true
		case op < 9:
			_, _, err := b.Unsubscribe(s, id)
			if (err == nil) != model[s.SessionID()] {
				t.Fatalf("step %d: unsubscribe of %d: %v, subscribed %v", step, s, err, model[s.SessionID()])
			}
			delete(model, s.SessionID())
		default:
			removed := b.RemoveSession(s)
			if len(removed) != map[bool]int{true: 1}[model[s.SessionID()]] {
				t.Fatalf("step %d: removing %d removed %d", step, s, len(removed))
			}
			delete(model, s.SessionID())
		}
		sub := b.Lookup("t", wamp.MatchExact)
		if len(model) == 0 {
			if sub != nil {
				t.Fatalf("step %d: subscription without subscribers", step)
			}
			continue
		}
		want := slices.Sorted(maps.Keys(model))
		if got := members(t, sub.Subscribers); !slices.Equal(got, want) {
			t.Fatalf("step %d: subscribers %v, want %v", step, got, want)
		}
		checkPositions(t, b, sub)
		if probe := sess(1 + rng.IntN(sessions)); b.Subscribed(probe, sub.ID) != model[probe.SessionID()] ||
			sub.Subscribers.Contains(probe) != model[probe.SessionID()] {
			t.Fatalf("step %d: membership of %d", step, probe)
		}
		if step%97 == 0 {
			snaps = append(snaps, kept{sub.Subscribers, want})
		}
	}
	for id := range model { // the last ones leave
		if removed := b.RemoveSession(sess(id)); len(removed) != 1 || removed[0].Deleted != (len(model) == 1) {
			t.Fatalf("removing %d of the last %d: %v", id, len(model), removed)
		}
		delete(model, id)
		if sub := b.Lookup("t", wamp.MatchExact); sub != nil {
			checkPositions(t, b, sub)
		}
	}
	if b.Count() != 0 || len(b.bySession) != 0 {
		t.Fatalf("%d subscriptions, %d sessions left", b.Count(), len(b.bySession))
	}
	for i, k := range snaps {
		if got := members(t, k.snap); !slices.Equal(got, k.want) {
			t.Fatalf("snapshot %d changed: %v, was %v", i, got, k.want)
		}
	}
}

// TestBrokerSnapshotsUnderWrites: readers iterate the snapshots Match
// returns while a writer adds and removes subscribers; each reader checks
// that its snapshot reads the same twice. With -race, a write into an array
// a published snapshot shares is reported.
func TestBrokerSnapshotsUnderWrites(t *testing.T) {
	t.Parallel()
	b := NewBroker()
	for i := range 3 * RecipientChunk {
		b.Subscribe(sess(1+i), "t", wamp.MatchExact)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var buf [1]*Subscription
			for {
				select {
				case <-done:
					return
				default:
				}
				for _, sub := range b.Match(buf[:0], "t") {
					first, err := memberIDs(sub.Subscribers)
					again, err2 := memberIDs(sub.Subscribers)
					if err != nil || err2 != nil || !slices.Equal(first, again) {
						t.Errorf("snapshot changed while read (%v, %v)", err, err2)
						return
					}
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		s := sess(1 + rng.IntN(4*RecipientChunk))
		if sub, _ := b.Subscribe(s, "t", wamp.MatchExact); rng.IntN(2) == 0 {
			b.Unsubscribe(s, sub.ID)
		}
		if rng.IntN(3) == 0 {
			b.RemoveSession(sess(1 + rng.IntN(4*RecipientChunk)))
		}
	}
	close(done)
	wg.Wait()
}

// allocatedPerOp is the bytes allocated by op, averaged over runs.
func allocatedPerOp(runs int, op func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		op()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestSubscribeChurnAllocation: on a topic of 100,000 subscribers, a
// subscribe and an unsubscribe allocate at most a chunk and the outer slice
// of chunk pointers each, not a copy of every subscriber (which was 1.6 MB
// per change): a hostile session subscribing and unsubscribing in a loop, or
// an old subscriber leaving and coming back, no longer makes the router copy
// the topic's whole subscriber list per message.
func TestSubscribeChurnAllocation(t *testing.T) {
	const n = 100000
	b := NewBroker()
	for i := range n {
		b.Subscribe(sess(1+i), "t", wamp.MatchExact)
	}
	newcomer := sess(n + 1)
	churn := allocatedPerOp(100, func() {
		sub, _ := b.Subscribe(newcomer, "t", wamp.MatchExact)
		b.Unsubscribe(newcomer, sub.ID)
	})
	// Its subscription is the last one: it joins the tail and leaves it
	// shortened.
	if limit := uint64(RecipientChunk*16 + 1024); churn > limit {
		t.Errorf("subscribe+unsubscribe of a newcomer allocated %d B, want <= %d", churn, limit)
	}
	rejoin := allocatedPerOp(100, func() {
		sub := b.Lookup("t", wamp.MatchExact)
		old := sub.Subscribers.at(n / 3) // in the middle of a full chunk
		b.Unsubscribe(old, sub.ID)
		b.Subscribe(old, "t", wamp.MatchExact)
	})
	chunk, outer := uint64(RecipientChunk*16), uint64((n/RecipientChunk+1)*8)
	if limit := 2*(chunk+outer) + 1024; rejoin > limit {
		t.Errorf("unsubscribe+subscribe of an old subscriber allocated %d B, want <= %d", rejoin, limit)
	}
	t.Logf("newcomer %d B, old subscriber %d B per subscribe+unsubscribe", churn, rejoin)
}
