package hostile

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
)

// subscriber is a clientlib JSON session from BystanderAddr subscribed to
// topic, whose events arrive on the returned channel.
func subscriber(t *testing.T, j *Junction, topic string, opts clientlib.Options) (*clientlib.Client, <-chan *clientlib.Event) {
	t.Helper()
	opts.Dialer = WSDialer(BystanderAddr)
	c, err := clientlib.Connect(Ctx(t), j.URL(), "realm1", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	events := make(chan *clientlib.Event, 1024)
	if _, err := c.Subscribe(Ctx(t), topic, func(ev *clientlib.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	return c, events
}

// nextEvent returns the next event of events, failing the test if there is
// none within Wait or c is disconnected.
func nextEvent(t *testing.T, c *clientlib.Client, events <-chan *clientlib.Event) *clientlib.Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-c.Done():
		t.Fatalf("subscriber disconnected: %v", c.Err())
	case <-Ctx(t).Done():
		t.Fatalf("no event after %s", Wait)
	}
	return nil
}

// publishMarker publishes "marker" to topic from c, acknowledged.
func publishMarker(t *testing.T, c *clientlib.Client, topic string) {
	t.Helper()
	if err := c.Publish(Ctx(t), topic, []any{"marker"}, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatalf("publishing the marker: %v", err)
	}
}

// TestInvalidUTF8: a JSON text frame that is not UTF-8 (a HELLO, and
// PUBLISHes of an established session with it in the arguments, the
// keyword arguments or the topic) closes the connection with 1007; a JSON
// subscriber to the topic gets nothing broken and stays connected.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	sub, events := subscriber(t, j, "utf.topic", clientlib.Options{})

	c := Dial(t, j.URL(), JSON, DialOptions{})
	c.SendRaw(t, []byte("[1,\"realm1\xff\",{\"roles\":{\"publisher\":{}}}]"))
	c.ExpectClose(t, 1007)
	for _, msg := range []string{
		"[16,1,{\"acknowledge\":true},\"utf.topic\",[\"\xff\xfe\"]]",
		"[16,1,{\"acknowledge\":true},\"utf.topic\",[],{\"k\":\"\xc3\x28\"}]",
		"[16,1,{\"acknowledge\":true},\"utf.topic\xed\xa0\x80\",[]]",
	} {
		c := Dial(t, j.URL(), JSON, DialOptions{})
		c.Join(t, "realm1")
		c.SendRaw(t, []byte(msg))
		c.ExpectClose(t, 1007)
	}
	publishMarker(t, b.Client(), "utf.topic")
	if ev := nextEvent(t, sub, events); fmt.Sprint(ev.Args) != "[marker]" {
		t.Fatalf("subscriber got %v, want the marker", ev.Args)
	}
	b.Check(t)
	j.CheckRSS(t, 64)
}

// rawCallee joins with codec and registers procedure.
func rawCallee(t *testing.T, j *Junction, codec Codec, procedure string) *Conn {
	t.Helper()
	c := Dial(t, j.URL(), codec, DialOptions{})
	c.Join(t, "realm1")
	c.Send(t, REGISTER, 1, map[string]any{}, procedure)
	c.Expect(t, REGISTERED)
	return c
}

// TestConversions: payloads the router cannot convert for the receiver.
// A msgpack callee YIELDing NaN or Infinity, or answering ERROR with NaN,
// and a CBOR callee YIELDing a map with integer keys, to a JSON caller; a
// JSON caller sending 1e400 to a msgpack or CBOR callee: the caller gets
// ERROR wamp.error.invalid_argument (within Wait: it never hangs), and the
// callee no INVOCATION for the unconvertible CALL. An acknowledged msgpack
// PUBLISH of NaN with a JSON and a msgpack subscriber: the publisher gets
// ERROR wamp.error.invalid_argument, the msgpack subscriber the event, the
// JSON subscriber nothing broken.
func TestConversions(t *testing.T) {
	t.Parallel()
	j := start(t, "")
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	caller := b.Client() // JSON
	mp := rawCallee(t, j, MsgPack, "conv.mp")
	cb := rawCallee(t, j, CBOR, "conv.cbor")
	var results []chan error
	names := []string{"msgpack YIELD NaN", "msgpack YIELD +Inf", "msgpack YIELD -Inf in kwargs", "msgpack ERROR NaN", "cbor YIELD integer keys"}
	for _, tt := range []struct {
		name   string
		callee *Conn
		proc   string
		answer func(inv int64) []any
	}{
		{"msgpack YIELD NaN", mp, "conv.mp", func(inv int64) []any { return []any{YIELD, inv, map[string]any{}, []any{math.NaN()}} }},
		{"msgpack YIELD +Inf", mp, "conv.mp", func(inv int64) []any { return []any{YIELD, inv, map[string]any{}, []any{1, math.Inf(1)}} }},
		{"msgpack YIELD -Inf in kwargs", mp, "conv.mp", func(inv int64) []any {
			return []any{YIELD, inv, map[string]any{}, []any{}, map[string]any{"x": math.Inf(-1)}}
		}},
		{"msgpack ERROR NaN", mp, "conv.mp", func(inv int64) []any {
			return []any{ERROR, INVOCATION, inv, map[string]any{}, "app.error.failed", []any{math.NaN()}}
		}},
		{"cbor YIELD integer keys", cb, "conv.cbor", func(inv int64) []any {
			return []any{YIELD, inv, map[string]any{}, []any{map[int]string{1: "one"}}}
		}},
	} {
		done := make(chan error, 1)
		go func() { _, err := caller.Call(Ctx(t), tt.proc, []any{tt.name}, nil, nil); done <- err }()
		inv := tt.callee.Expect(t, INVOCATION)
		tt.callee.Send(t, tt.answer(inv.ID(1))...)
		results = append(results, done)
	}
	for i, done := range results { // waited for together: a hang costs Wait once
		if err := <-done; !isRPCError(err, "wamp.error.invalid_argument") {
			t.Errorf("%s to a JSON caller: %v, want ERROR wamp.error.invalid_argument", names[i], err)
		}
	}
	jc := Dial(t, j.URL(), JSON, DialOptions{})
	jc.Join(t, "realm1")
	for i, callee := range []*Conn{mp, cb} {
		proc := map[*Conn]string{mp: "conv.mp", cb: "conv.cbor"}[callee]
		jc.SendRaw(t, fmt.Appendf(nil, `[48,%d,{},%q,[1e400]]`, 2*i+1, proc))
		if m := jc.Recv(t); m.Type() != ERROR || m.Reason() != "wamp.error.invalid_argument" {
			t.Errorf("JSON 1e400 to %s: %v, want ERROR wamp.error.invalid_argument", proc, clipMsg(m))
		}
		jc.Send(t, CALL, 2*i+2, map[string]any{}, proc, []any{"marker"}) // in flight from here on
		if m := callee.Expect(t, INVOCATION); fmt.Sprint(m.Args(4)) != "[marker]" {
			t.Fatalf("%s: INVOCATION %v, want the marker call", proc, clipMsg(m))
		}
	}
	publishNaN(t, j)
	b.Check(t)
	j.CheckRSS(t, 64)
}

// publishNaN is TestConversions' PUBLISH.
func publishNaN(t *testing.T, j *Junction) {
	t.Helper()
	jsub, jevents := subscriber(t, j, "conv.topic", clientlib.Options{})
	msub := Dial(t, j.URL(), MsgPack, DialOptions{})
	msub.Join(t, "realm1")
	msub.Send(t, SUBSCRIBE, 1, map[string]any{}, "conv.topic")
	msub.Expect(t, SUBSCRIBED)
	pub := Dial(t, j.URL(), MsgPack, DialOptions{})
	pub.Join(t, "realm1")
	pub.Send(t, PUBLISH, 1, map[string]any{"acknowledge": true}, "conv.topic", []any{math.NaN()})
	if m := pub.Recv(t); m.Type() != ERROR || m.Reason() != "wamp.error.invalid_argument" {
		t.Errorf("msgpack PUBLISH NaN with a JSON subscriber: %v, want ERROR wamp.error.invalid_argument", clipMsg(m))
	}
	if ev := msub.Expect(t, EVENT); len(ev.Args(4)) != 1 || !isNaN(ev.Args(4)[0]) {
		t.Errorf("msgpack subscriber: %v, want the event with NaN", clipMsg(ev))
	}
	pub.Send(t, PUBLISH, 2, map[string]any{"acknowledge": true}, "conv.topic", []any{"marker"})
	pub.Expect(t, PUBLISHED)
	if ev := nextEvent(t, jsub, jevents); fmt.Sprint(ev.Args) != "[marker]" {
		t.Fatalf("JSON subscriber got %v, want the marker", ev.Args)
	}
}

func isNaN(v any) bool {
	switch f := v.(type) {
	case float64:
		return math.IsNaN(f)
	case float32:
		return math.IsNaN(float64(f))
	}
	return false
}

// TestStalledSubscribers: 500 subscribers that stop reading (SO_RCVBUF 4
// KiB) and 5 that read, while a publisher sends 8 MiB of events in batches
// the readers keep up with: every reader gets every event in order and
// stays connected; every stalled subscriber is closed with 1008 (small
// queue_bytes, slow_consumer_timeout 1s); the router's memory stays
// bounded.
func TestStalledSubscribers(t *testing.T) {
	t.Parallel()
	j := start(t, `
[websocket]
queue_bytes = "256KiB"
slow_consumer_timeout = "1s"
write_timeout = "30s"
`)
	b := NewBystander(t, j.URL(), "realm1", clientlib.Options{})
	stalled := make([]*Conn, 500)
	for i := range stalled {
		c := Dial(t, j.URL(), JSON, DialOptions{RecvBuffer: 4096})
		c.Join(t, "realm1")
		c.Send(t, SUBSCRIBE, 1, map[string]any{}, "flood")
		c.Expect(t, SUBSCRIBED)
		stalled[i] = c
	}
	type reader struct {
		c      *clientlib.Client
		events <-chan *clientlib.Event
	}
	readers := make([]reader, 5)
	for i := range readers {
		readers[i].c, readers[i].events = subscriber(t, j, "flood", clientlib.Options{})
	}
	payload := strings.Repeat("p", 8<<10-16)
	const batches, batch = 64, 16
	for n := range batches {
		for k := range batch {
			if err := b.Client().Publish(Ctx(t), "flood", []any{n*batch + k, payload}, nil, nil); err != nil {
				t.Fatalf("publishing: %v", err)
			}
		}
		for i, r := range readers { // a reader that keeps up
			for k := range batch {
				ev := nextEvent(t, r.c, r.events)
				if got, _ := Int(first(ev.Args)); got != int64(n*batch+k) {
					t.Fatalf("reader %d: event %v, want %d", i, first(ev.Args), n*batch+k)
				}
			}
		}
	}
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range stalled { // in parallel: each has megabytes in the socket buffers
		wg.Go(func() {
			code := c.DrainToClose(t)
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[1008] != len(stalled) {
		t.Errorf("stalled subscribers closed with codes (code: count) %v, want 1008 for all %d", codes, len(stalled))
	}
	b.Check(t)
	j.CheckRSS(t, 256)
}

// TestShutdownCallsInFlight: SIGTERM with 200 calls in flight (shutdown_grace
// 3s), half to a callee that answers them after the signal, half to one
// that never does: every caller gets a RESULT (answered) or ERROR
// wamp.error.canceled for each of its calls before GOODBYE
// wamp.close.system_shutdown, then close 1001, and the process exits.
func TestShutdownCallsInFlight(t *testing.T) {
	t.Parallel()
	j := start(t, "[server]\nshutdown_grace = \"3s\"\n")
	answers := rawCallee(t, j, JSON, "slow.answered")
	never := rawCallee(t, j, JSON, "slow.never")
	callers := make([]*Conn, 20)
	for i := range callers {
		callers[i] = Dial(t, j.URL(), JSON, DialOptions{})
		callers[i].Join(t, "realm1")
		for k := range 10 {
			proc := []string{"slow.answered", "slow.never"}[k%2]
			callers[i].Send(t, CALL, k+1, map[string]any{}, proc, []any{i, k})
		}
	}
	var pending []int64
	for range 100 {
		pending = append(pending, answers.Expect(t, INVOCATION).ID(1))
		never.Expect(t, INVOCATION)
	}
	signalled := time.Now()
	j.Signal(t, syscall.SIGTERM)
	for _, id := range pending {
		answers.Send(t, YIELD, id, map[string]any{}, []any{"done"})
	}
	for i, c := range callers {
		msgs := c.ExpectClose(t, 1001)
		checkShutdownAnswers(t, i, msgs)
	}
	j.WaitExit(t, Wait)
	t.Logf("exited %.1fs after SIGTERM (shutdown_grace 3s)", time.Since(signalled).Seconds())
}

// checkShutdownAnswers checks what caller i read before the close: a
// RESULT for each odd request (slow.answered), ERROR wamp.error.canceled
// for each even one (slow.never), then GOODBYE wamp.close.system_shutdown.
func checkShutdownAnswers(t *testing.T, i int, msgs []Msg) {
	t.Helper()
	if len(msgs) != 11 || msgs[10].Type() != GOODBYE || msgs[10].Reason() != "wamp.close.system_shutdown" {
		t.Errorf("caller %d: %d messages before the close (%v), want 10 answers then GOODBYE wamp.close.system_shutdown", i, len(msgs), clipMsgs(msgs))
		return
	}
	seen := map[int64]bool{}
	for _, m := range msgs[:10] {
		switch {
		case m.Type() == RESULT && m.ID(1)%2 == 1:
			seen[m.ID(1)] = true
		case m.Type() == ERROR && m.Reason() == "wamp.error.canceled" && m.ID(2)%2 == 0:
			seen[m.ID(2)] = true
		default:
			t.Errorf("caller %d: %v, want RESULT for odd requests, ERROR wamp.error.canceled for even ones", i, clipMsg(m))
		}
	}
	if len(seen) != 10 {
		t.Errorf("caller %d: answers to %d distinct calls, want 10", i, len(seen))
	}
}
