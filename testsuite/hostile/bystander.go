package hostile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
)

// BystanderAddr is the loopback address well-behaved sessions connect
// from, so that bounds per client address applied to the attacker
// (127.0.0.1) do not apply to them.
const BystanderAddr = "127.0.0.2"

// Bystander is a well-behaved session connected before an attack: it
// registers a procedure and subscribes to a topic, and Check makes sure it
// is still served.
type Bystander struct {
	c         *clientlib.Client
	procedure string
	topic     string
	events    chan *clientlib.Event
	n         int
}

var bystanders atomic.Int64

// NewBystander joins realm at url from BystanderAddr with opts (its
// Serializer, AuthID and Auth; the dialer is set here), registers a
// procedure and subscribes to a topic of its own under "bystander.".
func NewBystander(t testing.TB, url, realm string, opts clientlib.Options) *Bystander {
	t.Helper()
	opts.Dialer = WSDialer(BystanderAddr)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c, err := clientlib.Connect(Ctx(t), url, realm, opts)
	if err != nil {
		t.Fatalf("bystander: joining %s: %v", realm, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	n := bystanders.Add(1)
	b := &Bystander{c: c, procedure: fmt.Sprintf("bystander.echo%d", n), topic: fmt.Sprintf("bystander.tick%d", n), events: make(chan *clientlib.Event, 64)}
	_, err = c.Register(Ctx(t), b.procedure, func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}, nil)
	if err != nil {
		t.Fatalf("bystander: registering %s: %v", b.procedure, err)
	}
	if _, err := c.Subscribe(Ctx(t), b.topic, func(ev *clientlib.Event) { b.events <- ev }, nil); err != nil {
		t.Fatalf("bystander: subscribing %s: %v", b.topic, err)
	}
	b.Check(t)
	return b
}

// Client is the bystander's session.
func (b *Bystander) Client() *clientlib.Client { return b.c }

// Check fails the test unless the bystander is still connected, a call to
// its procedure round-trips and an acknowledged publication reaches its
// subscription.
func (b *Bystander) Check(t testing.TB) {
	t.Helper()
	select {
	case <-b.c.Done():
		t.Fatalf("bystander was disconnected: %v", b.c.Err())
	default:
	}
	b.n++
	res, err := b.c.Call(Ctx(t), b.procedure, []any{b.n}, nil, nil)
	if err != nil {
		t.Fatalf("bystander: call %d: %v", b.n, err)
	}
	if got, _ := Int(first(res.Args)); got != int64(b.n) {
		t.Fatalf("bystander: call %d returned %v", b.n, res.Args)
	}
	no := false
	if err := b.c.Publish(Ctx(t), b.topic, []any{b.n}, nil, &clientlib.PublishOptions{Acknowledge: true, ExcludeMe: &no}); err != nil {
		t.Fatalf("bystander: publish %d: %v", b.n, err)
	}
	select {
	case ev := <-b.events:
		if got, _ := Int(first(ev.Args)); got != int64(b.n) {
			t.Fatalf("bystander: event %v, want %d", ev.Args, b.n)
		}
	case <-b.c.Done():
		t.Fatalf("bystander disconnected waiting for event %d: %v", b.n, b.c.Err())
	case <-Ctx(t).Done():
		t.Fatalf("bystander: no event %d after %s", b.n, Wait)
	}
}

func first(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

// RSBystander is a well-behaved RawSocket session (JSON, from
// BystanderAddr over TCP) connected before an attack: like Bystander, it
// registers a procedure and subscribes to a topic, reads all the time
// (answering the router's PINGs), and Check makes sure it is still served.
type RSBystander struct {
	c         *RSConn
	procedure string
	topic     string
	n         int
	msgs      chan Msg
	done      chan struct{} // the reader ended
	err       error         // why, set before done is closed
	stop      chan struct{} // the test is over
}

// NewRSBystander joins realm over RawSocket at e, registers a procedure
// and subscribes to a topic of its own under "bystander.".
func NewRSBystander(t testing.TB, e RSEndpoint, realm string) *RSBystander {
	t.Helper()
	c := DialRS(t, e, RSDialOptions{From: BystanderAddr})
	c.Open(t, JSON, 15)
	c.Join(t, realm)
	n := bystanders.Add(1)
	b := &RSBystander{c: c, procedure: fmt.Sprintf("bystander.rs.echo%d", n), topic: fmt.Sprintf("bystander.rs.tick%d", n),
		msgs: make(chan Msg, 16), done: make(chan struct{}), stop: make(chan struct{})}
	c.ReadTimeout = -1 // idle between checks; the router's PINGs keep it alive
	t.Cleanup(func() { close(b.stop) })
	go b.read()
	c.Send(t, REGISTER, 1, map[string]any{}, b.procedure)
	b.expect(t, REGISTERED)
	c.Send(t, SUBSCRIBE, 2, map[string]any{}, b.topic)
	b.expect(t, SUBSCRIBED)
	b.Check(t)
	return b
}

// read hands every message to msgs until the connection ends; reading
// answers PINGs. A read times out after Wait of silence: the router pings
// long before.
func (b *RSBystander) read() {
	defer close(b.done)
	for {
		m, err := b.c.Read()
		if err != nil {
			b.err = err
			return
		}
		select {
		case b.msgs <- m:
		case <-b.stop:
			return
		}
	}
}

// Check fails the test unless the bystander is still connected, a call to
// its own procedure round-trips and an acknowledged publication reaches
// its own subscription.
func (b *RSBystander) Check(t testing.TB) {
	t.Helper()
	b.n++
	call := int64(1000 + 2*b.n)
	b.c.Send(t, CALL, call, map[string]any{}, b.procedure, []any{b.n})
	for done := false; !done; {
		m := b.recv(t)
		switch {
		case m.Type() == INVOCATION:
			b.c.Send(t, YIELD, m.ID(1), map[string]any{}, m.Args(4))
		case m.Type() == RESULT && m.ID(1) == call:
			if got, _ := Int(first(m.Args(3))); got != int64(b.n) {
				t.Fatalf("rawsocket bystander: call %d returned %v", b.n, clipMsg(m))
			}
			done = true
		default:
			t.Fatalf("rawsocket bystander: %v while calling", clipMsg(m))
		}
	}
	pub := call + 1
	b.c.Send(t, PUBLISH, pub, map[string]any{"acknowledge": true, "exclude_me": false}, b.topic, []any{b.n})
	var event, published bool
	for !event || !published {
		m := b.recv(t)
		switch {
		case m.Type() == EVENT && !event:
			if got, _ := Int(first(m.Args(4))); got != int64(b.n) {
				t.Fatalf("rawsocket bystander: event %v, want %d", clipMsg(m), b.n)
			}
			event = true
		case m.Type() == PUBLISHED && m.ID(1) == pub && !published:
			published = true
		default:
			t.Fatalf("rawsocket bystander: %v while publishing", clipMsg(m))
		}
	}
}

func (b *RSBystander) expect(t testing.TB, typ int) {
	t.Helper()
	if m := b.recv(t); m.Type() != typ {
		t.Fatalf("rawsocket bystander: %v, want message type %d", clipMsg(m), typ)
	}
}

// recv is the next message, or a failure when the connection ended.
func (b *RSBystander) recv(t testing.TB) Msg {
	t.Helper()
	select {
	case m := <-b.msgs:
		return m
	case <-time.After(Wait):
		t.Fatalf("rawsocket bystander: nothing after %s", Wait)
	case <-b.done:
		select { // messages read before the end come first
		case m := <-b.msgs:
			return m
		default:
		}
		t.Fatalf("rawsocket bystander disconnected: %v", b.err)
	}
	return nil
}
