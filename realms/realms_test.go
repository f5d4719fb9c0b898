package realms

import (
	"slices"
	"testing"

	"github.com/junction-wamp/junction/wamp"
)

type sess wamp.ID

func (s sess) SessionID() wamp.ID { return wamp.ID(s) }

func TestBrokerCopyOnWrite(t *testing.T) {
	t.Parallel()
	b := NewBroker()
	a, c := sess(1), sess(2)
	sub, _ := b.Subscribe(a, "t", "")
	id := sub.ID
	if s, _ := b.Subscribe(a, "t", ""); s.ID != id {
		t.Fatal("one subscription per topic")
	}
	if s, _ := b.Subscribe(c, "t", "exact"); s.ID != id {
		t.Fatal("one subscription per topic")
	}
	snap := b.Match(nil, "t")[0]
	if snap.Subscribers.Len() != 2 {
		t.Fatalf("subscribers %v", slices.Collect(snap.Subscribers.All()))
	}
	if _, _, err := b.Unsubscribe(c, id); err != nil {
		t.Fatal(err)
	}
	// A reader's snapshot is never mutated.
	if snap.Subscribers.Len() != 2 || b.Match(nil, "t")[0].Subscribers.Len() != 1 {
		t.Fatal("snapshot changed under its reader")
	}
	if _, _, err := b.Unsubscribe(c, id); err != ErrNoSuchSubscription {
		t.Fatalf("double unsubscribe: %v", err)
	}
	if removed := b.RemoveSession(a); len(removed) != 1 || !removed[0].Deleted {
		t.Fatalf("removed %v", removed)
	}
	if len(b.Match(nil, "t")) != 0 || b.Count() != 0 {
		t.Fatal("subscription left after its last subscriber")
	}
	if s, _ := b.Subscribe(a, "t", ""); s.ID == id {
		t.Fatal("subscription id reused")
	}
}

func TestDealer(t *testing.T) {
	t.Parallel()
	d := NewDealer()
	a, c := sess(1), sess(2)
	reg, _, err := d.Register(a, "p", "", "", RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := reg.ID
	if _, _, err := d.Register(c, "p", "", "", RegisterOptions{}); err != ErrProcedureExists {
		t.Fatalf("second registration: %v", err)
	}
	if _, _, err := d.Unregister(c, id); err != ErrNoSuchRegistration {
		t.Fatalf("unregister by another session: %v", err)
	}
	if reg := d.Match("p"); reg == nil || reg.Pick() != a {
		t.Fatal("match")
	}
	d.RemoveSession(a)
	if d.Match("p") != nil || d.Count() != 0 {
		t.Fatal("registration left after its callee")
	}
}

func TestRealmSessions(t *testing.T) {
	t.Parallel()
	r := New("realm1")
	r.Join(sess(1))
	r.Join(sess(2))
	r.Broker.Subscribe(sess(1), "t", "")
	if _, _, err := r.Dealer.Register(sess(1), "p", "", "", RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	r.Leave(sess(1))
	if r.SessionCount() != 1 || r.Broker.Count() != 0 || r.Dealer.Count() != 0 {
		t.Fatal("leave did not clean up")
	}
	if _, ok := r.Session(2); !ok || len(r.Sessions()) != 1 {
		t.Fatal("other session lost")
	}
}

func TestPatternSubscriptions(t *testing.T) {
	t.Parallel()
	b := NewBroker()
	b.Subscribe(sess(1), "a.b.c", "")
	b.Subscribe(sess(2), "a.b", wamp.MatchPrefix)
	b.Subscribe(sess(3), "a..c", wamp.MatchWildcard)
	b.Subscribe(sess(4), "x", wamp.MatchPrefix)
	got := map[string]bool{}
	for _, s := range b.Match(nil, "a.b.c") {
		got[string(s.Match)+":"+string(s.Topic)] = true
	}
	if len(got) != 3 || !got["exact:a.b.c"] || !got["prefix:a.b"] || !got["wildcard:a..c"] {
		t.Fatalf("matches %v", got)
	}
	if n := len(b.Match(nil, "a.x.c.d")); n != 0 {
		t.Fatalf("a.x.c.d matched %d", n)
	}
}

func TestRegistrationPrecedence(t *testing.T) {
	t.Parallel()
	d := NewDealer()
	// The spec's example registrations.
	for i, r := range []struct {
		uri   wamp.URI
		match wamp.MatchPolicy
	}{
		{"a1.b2.c3.d4.e55", ""}, {"a1.b2.c3", wamp.MatchPrefix}, {"a1.b2.c3.d4", wamp.MatchPrefix},
		{"a1.b2..d4.e5", wamp.MatchWildcard}, {"a1.b2.c33..e5", wamp.MatchWildcard}, {"a1.b2..d4.e5..g7", wamp.MatchWildcard},
		{"a1.b2..d4..f6.g7", wamp.MatchWildcard},
	} {
		if _, _, err := d.Register(sess(i+1), r.uri, r.match, "", RegisterOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for call, want := range map[wamp.URI]wamp.URI{
		"a1.b2.c3.d4.e55":       "a1.b2.c3.d4.e55",
		"a1.b2.c3.d98.e74":      "a1.b2.c3",
		"a1.b2.c3.d4.e325":      "a1.b2.c3.d4",
		"a1.b2.c55.d4.e5":       "a1.b2..d4.e5",
		"a1.b2.c33.d4.e5":       "a1.b2.c33..e5",
		"a1.b2.c88.d4.e5.f6.g7": "a1.b2..d4.e5..g7",
		"a1.b2.c88.d4.e6.f6.g7": "a1.b2..d4..f6.g7",
	} {
		reg := d.Match(call)
		if reg == nil || reg.Procedure != want {
			t.Errorf("call %s went to %v, want %s", call, reg, want)
		}
	}
	if d.Match("a2.b2.c2") != nil {
		t.Error("unmatched call found a registration")
	}
}

func TestSharedRegistration(t *testing.T) {
	t.Parallel()
	d := NewDealer()
	reg, _, err := d.Register(sess(1), "p", "", wamp.InvokeRoundRobin, RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Register(sess(2), "p", "", wamp.InvokeRoundRobin, RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Register(sess(3), "p", "", wamp.InvokeRandom, RegisterOptions{}); err != ErrProcedureExists {
		t.Fatalf("mixed policies: %v", err)
	}
	if _, _, err := d.Register(sess(3), "p", "", "", RegisterOptions{}); err != ErrProcedureExists {
		t.Fatalf("single on shared: %v", err)
	}
	reg = d.Match("p")
	seen := []wamp.ID{reg.Pick().SessionID(), reg.Pick().SessionID(), reg.Pick().SessionID()}
	if seen[0] == seen[1] || seen[0] != seen[2] {
		t.Fatalf("roundrobin picked %v", seen)
	}
	for policy, want := range map[wamp.InvokePolicy]wamp.ID{wamp.InvokeFirst: 1, wamp.InvokeLast: 2} {
		r := &Registration{Invoke: policy, Callees: reg.Callees}
		if r.Pick().SessionID() != want {
			t.Errorf("%s picked %d", policy, r.Pick().SessionID())
		}
	}
	if _, deleted, _ := d.Unregister(sess(1), reg.ID); deleted {
		t.Fatal("shared registration deleted with callees left")
	}
	if got := d.Match("p").Pick().SessionID(); got != 2 {
		t.Fatalf("remaining callee %d", got)
	}
}

// TestPickAvoiding checks that every invoke policy passes over the avoided
// callees while another can take the call, and picks among all of them
// when none can.
func TestPickAvoiding(t *testing.T) {
	t.Parallel()
	for _, policy := range []wamp.InvokePolicy{wamp.InvokeRoundRobin, wamp.InvokeRandom, wamp.InvokeFirst, wamp.InvokeLast} {
		d := NewDealer()
		for i := 1; i <= 4; i++ {
			if _, _, err := d.Register(sess(i), "p", "", policy, RegisterOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		reg := d.Match("p")
		avoided := map[wamp.ID]bool{1: true, 4: true}
		avoid := func(rc Recipient) bool { return avoided[rc.SessionID()] }
		seen := map[wamp.ID]int{}
		for range 40 {
			seen[reg.PickAvoiding(avoid).SessionID()]++
		}
		if seen[1]+seen[4] > 0 {
			t.Errorf("%s picked avoided callees: %v", policy, seen)
		}
		switch policy {
		case wamp.InvokeRoundRobin:
			if seen[2] != 20 || seen[3] != 20 {
				t.Errorf("roundrobin did not alternate over the others: %v", seen)
			}
		case wamp.InvokeFirst:
			if seen[2] != 40 {
				t.Errorf("first picked %v", seen)
			}
		case wamp.InvokeLast:
			if seen[3] != 40 {
				t.Errorf("last picked %v", seen)
			}
		}
		// All avoided: Pick as usual (random misses 1 and 4 with odds of 2^-100).
		avoided[2], avoided[3] = true, true
		for range 100 {
			seen[reg.PickAvoiding(avoid).SessionID()]++
		}
		if seen[1]+seen[4] == 0 {
			t.Errorf("%s with every callee avoided picked none of them: %v", policy, seen)
		}
	}
}

// TestRekeyOnlyWhatWasRead checks that Rekey leaves a registration alone
// once a callee joined it since it was read: that callee was told its id.
func TestRekeyOnlyWhatWasRead(t *testing.T) {
	t.Parallel()
	d := NewDealer()
	read, _, err := d.Register(sess(1), "p", "", wamp.InvokeRoundRobin, RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	joined, _, err := d.Register(sess(2), "p", "", wamp.InvokeRoundRobin, RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rekey(read, read.ID+1) != nil || d.Get(read.ID) != joined {
		t.Fatal("a registration a callee joined since it was read was rekeyed")
	}
	if re := d.Rekey(joined, joined.ID+1); re == nil || d.Get(joined.ID+1) != re || d.Get(joined.ID) != nil {
		t.Fatal("the current registration was not rekeyed")
	}
}
