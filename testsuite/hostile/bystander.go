package hostile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

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
