package realms

import (
	"testing"

	"github.com/junction-wamp/junction/wamp"
)

type sess wamp.ID

func (s sess) SessionID() wamp.ID { return wamp.ID(s) }

func TestBrokerCopyOnWrite(t *testing.T) {
	t.Parallel()
	b := NewBroker()
	a, c := sess(1), sess(2)
	id := b.Subscribe(a, "t")
	if b.Subscribe(a, "t") != id || b.Subscribe(c, "t") != id {
		t.Fatal("one subscription per topic")
	}
	snap := b.Match("t")
	if len(snap.Subscribers) != 2 {
		t.Fatalf("subscribers %v", snap.Subscribers)
	}
	if err := b.Unsubscribe(c, id); err != nil {
		t.Fatal(err)
	}
	// A reader's snapshot is never mutated.
	if len(snap.Subscribers) != 2 || len(b.Match("t").Subscribers) != 1 {
		t.Fatal("snapshot changed under its reader")
	}
	if err := b.Unsubscribe(c, id); err != ErrNoSuchSubscription {
		t.Fatalf("double unsubscribe: %v", err)
	}
	b.RemoveSession(a)
	if b.Match("t") != nil || b.Count() != 0 {
		t.Fatal("subscription left after its last subscriber")
	}
	if b.Subscribe(a, "t") == id {
		t.Fatal("subscription id reused")
	}
}

func TestDealer(t *testing.T) {
	t.Parallel()
	d := NewDealer()
	a, c := sess(1), sess(2)
	id, err := d.Register(a, "p")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Register(c, "p"); err != ErrProcedureExists {
		t.Fatalf("second registration: %v", err)
	}
	if err := d.Unregister(c, id); err != ErrNoSuchRegistration {
		t.Fatalf("unregister by another session: %v", err)
	}
	if reg := d.Match("p"); reg == nil || reg.Callee != a {
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
	r.Broker.Subscribe(sess(1), "t")
	if _, err := r.Dealer.Register(sess(1), "p"); err != nil {
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
