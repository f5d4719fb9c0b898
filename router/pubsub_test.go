package router

import (
	"fmt"
	"testing"

	"github.com/junction-wamp/junction/wamp"
)

func subscribe(t testing.TB, p *fakePeer, req wamp.ID, topic wamp.URI) wamp.ID {
	t.Helper()
	p.in <- &wamp.Subscribe{Request: req, Options: wamp.Dict{}, Topic: topic}
	s := expectType[*wamp.Subscribed](t, p)
	return s.Subscription
}

func TestPublishFanout(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	pub, _ := join(t, r, "json")
	subs := []*fakePeer{}
	var subID wamp.ID
	for _, ser := range []string{"json", "json", "msgpack", "cbor"} {
		p, _ := join(t, r, ser)
		id := subscribe(t, p, 1, "com.example.topic")
		if subID != 0 && id != subID {
			t.Fatalf("subscription ids differ: %d, %d", id, subID)
		}
		subID = id
		subs = append(subs, p)
	}
	subscribe(t, pub, 1, "com.example.topic")
	pub.in <- &wamp.Publish{Request: 9, Options: wamp.Dict{"acknowledge": true}, Topic: "com.example.topic",
		Payload: encodedPayload(t, "json", []any{"hi", []byte("bin")}, map[string]any{"n": int64(1)})}
	ack := expectType[*wamp.Published](t, pub)
	for _, s := range subs {
		ev := expectType[*wamp.Event](t, s)
		if ev.Subscription != subID || ev.Publication != ack.Publication {
			t.Fatalf("EVENT %d/%d, want %d/%d", ev.Subscription, ev.Publication, subID, ack.Publication)
		}
		if got := fmt.Sprint(args(t, &ev.Payload)); got != fmt.Sprint([]any{"hi", []byte("bin")}) {
			t.Fatalf("EVENT args %s", got)
		}
	}
	// Encoded once per serializer: both json subscribers were given the very
	// same frame, the msgpack and cbor ones their own.
	if f0, f1 := subs[0].lastFrame(), subs[1].lastFrame(); f0 == nil || f0 != f1 {
		t.Fatal("json subscribers did not share one encoded frame")
	}
	if subs[2].lastFrame() == subs[0].lastFrame() || subs[3].lastFrame() == subs[2].lastFrame() {
		t.Fatal("subscribers of different serializers shared a frame")
	}
	// The publisher is excluded by default; exclude_me=false opts it back in.
	pub.in <- &wamp.Publish{Request: 10, Options: wamp.Dict{"acknowledge": true, "exclude_me": false}, Topic: "com.example.topic"}
	if ev, ok := pub.expect(t).(*wamp.Event); !ok {
		t.Fatalf("publisher got %T before its own event", ev)
	}
	expectType[*wamp.Published](t, pub)
}

func TestBrokerErrors(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	p, _ := join(t, r, "json")
	p.in <- &wamp.Subscribe{Request: 1, Options: wamp.Dict{}, Topic: "a..b"}
	expectError(t, p, wamp.SUBSCRIBE, 1, wamp.ErrInvalidURI)
	p.in <- &wamp.Unsubscribe{Request: 2, Subscription: 12345}
	expectError(t, p, wamp.UNSUBSCRIBE, 2, wamp.ErrNoSuchSubscription)
	p.in <- &wamp.Publish{Request: 3, Options: wamp.Dict{"acknowledge": true}, Topic: "a b"}
	expectError(t, p, wamp.PUBLISH, 3, wamp.ErrInvalidURI)
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	t.Parallel()
	r := newTestRouter(t, Config{})
	pub, _ := join(t, r, "json")
	sub, _ := join(t, r, "json")
	id := subscribe(t, sub, 1, "t.one")
	subscribe(t, sub, 2, "t.two")
	sub.in <- &wamp.Unsubscribe{Request: 3, Subscription: id}
	expectType[*wamp.Unsubscribed](t, sub)
	pub.in <- &wamp.Publish{Request: 1, Options: wamp.Dict{}, Topic: "t.one"}
	pub.in <- &wamp.Publish{Request: 2, Options: wamp.Dict{"acknowledge": true}, Topic: "t.two"}
	expectType[*wamp.Published](t, pub)
	// Events from one publisher are delivered in order, so the first event the
	// subscriber sees must be the one on t.two.
	ev := expectType[*wamp.Event](t, sub)
	if ev.Subscription == id {
		t.Fatal("event delivered after unsubscribe")
	}
	if n := r.realm("realm1").Broker.Count(); n != 1 {
		t.Fatalf("%d subscriptions left, want 1", n)
	}
}
