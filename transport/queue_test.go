package transport

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

func TestQueueOrderAndAccounting(t *testing.T) {
	t.Parallel()
	q := NewQueue(QueueLimits{Messages: 10, Bytes: 1000, SlowTimeout: time.Hour}, func(string) { t.Error("slow") })
	for i := range 5 {
		if err := q.Push(Item{Data: []byte{byte(i), 0}}); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != 5 {
		t.Fatalf("Len %d, want 5", q.Len())
	}
	batch := q.Take()
	// Taken but not written still counts.
	for range 5 {
		if err := q.Push(Item{Frame: NewFrame(make([]byte, 100), false)}); err != nil {
			t.Fatal(err)
		}
	}
	if p := q.pending(); p != [2]int{10, 510} {
		t.Fatalf("pending %v", p)
	}
	// Written counts no more, even before the batch is reported.
	var got []byte
	if _, _, err := batch.Write(func(it Item) error { got = append(got, it.Data[0]); return nil }); err != nil || string(got) != "\x00\x01\x02\x03\x04" {
		t.Fatalf("batch %v %v", got, err)
	}
	if p := q.pending(); p != [2]int{5, 500} {
		t.Fatalf("pending %v once written", p)
	}
	q.Written(&batch)
	batch.Release()
	if p := q.pending(); p != [2]int{5, 500} {
		t.Fatalf("pending %v once reported", p)
	}
	q.Close()
	if err := q.Push(Item{Data: []byte("x")}); err != ErrClosed {
		t.Fatalf("push after close: %v", err)
	}
	if got := q.Take(); got.Len() != 5 || got.Size() != 500 {
		t.Fatalf("queued items lost on close: %d", got.Len())
	}
}

func TestQueueOverBoundThenDrained(t *testing.T) {
	t.Parallel()
	var slow atomic.Int32
	q := NewQueue(QueueLimits{Messages: 2, Bytes: 1 << 20, SlowTimeout: 20 * time.Millisecond}, func(string) { slow.Add(1) })
	for range 3 {
		if err := q.Push(Item{Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	b := q.Take()
	q.Written(&b) // back under the bound: the timer stops
	q.mu.Lock()
	w := q.watch
	q.mu.Unlock()
	if w != watchNone {
		t.Fatal("timer still running under the bound")
	}
	if slow.Load() != 0 {
		t.Fatal("drained queue reported slow")
	}
}

func TestQueueSlowTimeout(t *testing.T) {
	t.Parallel()
	reasons := make(chan string, 1)
	q := NewQueue(QueueLimits{Messages: 2, Bytes: 1 << 20, SlowTimeout: 10 * time.Millisecond}, func(r string) { reasons <- r })
	for range 3 {
		if err := q.Push(Item{Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if r := <-reasons; r == "" {
		t.Fatal("no reason")
	}
	if err := q.Push(Item{Data: []byte("x")}); err != ErrClosed {
		t.Fatalf("push after slow close: %v", err)
	}
}

func TestQueueTwiceTheBound(t *testing.T) {
	t.Parallel()
	var slow atomic.Int32
	q := NewQueue(QueueLimits{Messages: 1000, Bytes: 100, SlowTimeout: time.Hour}, func(string) { slow.Add(1) })
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = q.Push(Item{Data: make([]byte, 30)})
	}
	if err != ErrSlowConsumer || slow.Load() != 1 {
		t.Fatalf("err %v, slow %d", err, slow.Load())
	}
}

// TestQueueStall: messages waiting behind a write that does not complete
// close the queue, which drops them at once; the batch in the writer's
// hands stays pending until it is reported.
func TestQueueStall(t *testing.T) {
	t.Parallel()
	reasons := make(chan string, 1)
	q := NewQueue(QueueLimits{Messages: 1000, Bytes: 1 << 20, SlowTimeout: 10 * time.Millisecond}, func(r string) { reasons <- r })
	if err := q.Push(Item{Data: make([]byte, 100)}); err != nil {
		t.Fatal(err)
	}
	stuck := q.Take() // the writer is stuck writing this one
	for range stallWatch {
		if err := q.Push(Item{Frame: NewFrame(make([]byte, 10), false)}); err != nil {
			t.Fatal(err)
		}
	}
	if r := <-reasons; !strings.Contains(r, "not one message written") {
		t.Fatalf("reason %q", r)
	}
	if m, b := q.Pending(); m != 1 || b != 100 || q.Len() != 0 {
		t.Fatalf("after the stall: %d messages / %d bytes pending, %d queued; want only the stuck write", m, b, q.Len())
	}
	if err := q.Push(Item{Data: []byte("x")}); err != ErrClosed {
		t.Fatalf("push after the stall: %v", err)
	}
	q.Written(&stuck)
	stuck.Release()
	if m, b := q.Pending(); m != 0 || b != 0 {
		t.Fatalf("%d / %d pending after the stuck write ended", m, b)
	}
}

// TestQueueStallWatchEndsWithTheWrite: stallWatch messages waiting for a
// write, in it or behind it, arm the stall watch; the write completing
// disarms it.
func TestQueueStallWatchEndsWithTheWrite(t *testing.T) {
	t.Parallel()
	q := NewQueue(QueueLimits{Messages: 1000, Bytes: 1 << 20, SlowTimeout: time.Hour}, func(string) { t.Error("slow") })
	watching := func() watch {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.watch
	}
	_ = q.Push(Item{Data: []byte("a")})
	b := q.Take()
	for range stallWatch - 2 {
		_ = q.Push(Item{Data: []byte("b")})
	}
	if w := watching(); w != watchNone {
		t.Fatalf("watch %d with %d messages pending", w, stallWatch-1)
	}
	_ = q.Push(Item{Data: []byte("c")})
	if w := watching(); w != watchStall {
		t.Fatalf("watch %d with %d messages waiting for a write", w, stallWatch)
	}
	q.Written(&b)
	if w := watching(); w != watchNone {
		t.Fatalf("watch %d after the write completed", w)
	}
	// A writer taking stallWatch messages at once is watched too: nothing
	// may follow them.
	_ = q.Push(Item{Data: []byte("d")})
	b = q.Take()
	if w := watching(); w != watchStall {
		t.Fatalf("watch %d with a batch of %d in progress", w, b.Len())
	}
	q.Written(&b)
}

// TestBatchSpansChunks: items, frames and data mixed, keep their order
// across chunks, and a failed write reports how far it got.
func TestBatchSpansChunks(t *testing.T) {
	t.Parallel()
	q := NewQueue(QueueLimits{Messages: 1000, Bytes: 1 << 20, SlowTimeout: time.Hour}, func(string) { t.Error("slow") })
	const n = 3*chunkLen + 5
	for i := range n {
		it := Item{Data: []byte{byte(i)}}
		if i%3 == 0 { // frames and data mixed
			it = Item{Frame: NewFrame([]byte{byte(i)}, false)}
		}
		if err := q.Push(it); err != nil {
			t.Fatal(err)
		}
	}
	b := q.Take()
	if b.Len() != n || b.Size() != n {
		t.Fatalf("batch of %d items / %d bytes", b.Len(), b.Size())
	}
	next := 0
	written, size, err := b.Write(func(it Item) error {
		got := it.Data
		if it.Frame != nil {
			got = it.Frame.Data
		}
		if int(got[0]) != next || (it.Frame != nil) != (next%3 == 0) {
			t.Fatalf("item %d (frame %v) where %d was due", got[0], it.Frame != nil, next)
		}
		if next == 2*chunkLen+1 {
			return ErrClosed
		}
		next++
		return nil
	})
	if written != 2*chunkLen+1 || size != written || err != ErrClosed {
		t.Fatalf("wrote %d (%d bytes), %v", written, size, err)
	}
	q.Written(&b)
	b.Release()
	if m, _ := q.Pending(); m != 0 {
		t.Fatalf("%d pending", m)
	}
}

// TestBatchMessages keeps message values (Item.Msg) in order among frames
// and data, counted as their MsgSize.
func TestBatchMessages(t *testing.T) {
	t.Parallel()
	q := NewQueue(QueueLimits{Messages: 1000, Bytes: 1 << 20, SlowTimeout: time.Hour}, func(string) { t.Error("slow") })
	const n = 2*chunkLen + 7
	for i := range n {
		var it Item
		switch i % 3 {
		case 0:
			it = Item{Msg: &wamp.Published{Request: wamp.ID(i)}, MsgSize: 10}
		case 1:
			it = Item{Frame: NewFrame(make([]byte, 10), false)}
		default:
			it = Item{Data: make([]byte, 10)}
		}
		if err := q.Push(it); err != nil {
			t.Fatal(err)
		}
	}
	if m, b := q.Pending(); m != n || b != 10*n {
		t.Fatalf("pending %d / %d", m, b)
	}
	b := q.Take()
	if first := b.First(); first.Msg == nil || first.MsgSize != 10 {
		t.Fatalf("first item %+v", first)
	}
	i := 0
	_, size, err := b.Write(func(it Item) error {
		switch i % 3 {
		case 0:
			if p, ok := it.Msg.(*wamp.Published); !ok || p.Request != wamp.ID(i) || it.Frame != nil {
				t.Fatalf("item %d: %+v", i, it)
			}
		case 1:
			if it.Frame == nil || it.Msg != nil {
				t.Fatalf("item %d: %+v", i, it)
			}
		default:
			if it.Data == nil || it.Msg != nil || it.Frame != nil {
				t.Fatalf("item %d: %+v", i, it)
			}
		}
		i++
		return nil
	})
	if err != nil || size != 10*n || i != n {
		t.Fatalf("wrote %d items, %d bytes: %v", i, size, err)
	}
	q.Written(&b)
	b.Release()
	if m, _ := q.Pending(); m != 0 {
		t.Fatalf("%d pending", m)
	}
}

// TestQueueDiscard drops what is queued and counts it no more.
func TestQueueDiscard(t *testing.T) {
	t.Parallel()
	q := NewQueue(QueueLimits{Messages: 1000, Bytes: 1 << 20, SlowTimeout: time.Hour}, func(string) { t.Error("slow") })
	for range 100 {
		_ = q.Push(Item{Data: make([]byte, 10)})
	}
	q.Discard()
	if m, b := q.Pending(); m != 0 || b != 0 || q.Len() != 0 {
		t.Fatalf("after Discard: %d / %d pending, %d queued", m, b, q.Len())
	}
	if err := q.Push(Item{Data: []byte("x")}); err != ErrClosed {
		t.Fatalf("push after Discard: %v", err)
	}
}

// fire runs q's timer function as if its time had come.
func fire(q *Queue) {
	q.mu.Lock()
	q.due = time.Now()
	q.mu.Unlock()
	q.expire()
}

// TestQueueOverButDraining: a queue over its bound that has come down from
// its deepest when the timer fires is watched again, not closed; one at its
// deepest is closed.
func TestQueueOverButDraining(t *testing.T) {
	t.Parallel()
	var reasons []string
	q := NewQueue(QueueLimits{Messages: 10, Bytes: 1 << 20, SlowTimeout: time.Hour}, func(r string) { reasons = append(reasons, r) })
	defer q.Close()
	push := func(n int) {
		for range n {
			if err := q.Push(Item{Data: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	push(8)
	b := q.Take()
	push(11) // 19 pending, over the bound since the 11th
	q.Written(&b)
	fire(q) // 11 pending: over the bound, but draining
	if len(reasons) != 0 || q.watch != watchOver {
		t.Fatalf("draining queue: reasons %q, watch %d", reasons, q.watch)
	}
	fire(q) // still 11: not draining since
	if len(reasons) != 1 || !strings.Contains(reasons[0], "not draining") {
		t.Fatalf("reasons %q", reasons)
	}
	if m, _ := q.Pending(); m != 0 {
		t.Fatalf("%d pending after the cut", m)
	}
}

// TestQueueStallWithProgress: a long write during which messages go out is
// no stall; the watch starts again from the progress made.
func TestQueueStallWithProgress(t *testing.T) {
	t.Parallel()
	var reasons []string
	q := NewQueue(QueueLimits{Messages: 1000, Bytes: 1 << 20, SlowTimeout: time.Hour}, func(r string) { reasons = append(reasons, r) })
	defer q.Close()
	for range 3 {
		_ = q.Push(Item{Data: []byte("a")})
	}
	b := q.Take()
	for range stallWatch {
		_ = q.Push(Item{Data: []byte("b")})
	}
	written := 0
	_, _, _ = b.Write(func(Item) error { // one goes out, then the write is stuck
		if written++; written > 1 {
			return ErrClosed
		}
		return nil
	})
	fire(q)
	if len(reasons) != 0 || q.watch != watchStall {
		t.Fatalf("write in progress: reasons %q, watch %d", reasons, q.watch)
	}
	fire(q)
	if len(reasons) != 1 || !strings.Contains(reasons[0], "not one message written") {
		t.Fatalf("reasons %q", reasons)
	}
}

// TestQueueDrainingOneLongWrite: a writer taking a long time over one large
// batch drains the queue as it writes it, and is not cut for it.
func TestQueueDrainingOneLongWrite(t *testing.T) {
	t.Parallel()
	var reasons []string
	q := NewQueue(QueueLimits{Messages: 10, Bytes: 1 << 20, SlowTimeout: time.Hour}, func(r string) { reasons = append(reasons, r) })
	defer q.Close()
	for range 19 {
		_ = q.Push(Item{Data: []byte("x")})
	}
	b := q.Take()
	written := 0
	_, _, _ = b.Write(func(Item) error { // five go out before the socket fills
		if written++; written > 5 {
			return ErrClosed
		}
		return nil
	})
	fire(q)
	if len(reasons) != 0 {
		t.Fatalf("draining writer cut: %q", reasons)
	}
	fire(q)
	if len(reasons) != 1 {
		t.Fatalf("a writer stuck over the bound is not cut: %q", reasons)
	}
}

// TestBatchWriteResumes: a batch written in parts (the nbio engine hands
// its connection a chunk at a time) goes on after the item a write stopped
// at, in order, with data, shared frames and message items mixed, and
// counts each item written once.
func TestBatchWriteResumes(t *testing.T) {
	q := NewQueue(QueueLimits{Messages: 100, Bytes: 1 << 20, SlowTimeout: time.Minute}, func(string) {})
	var want []string
	for i := range 2*chunkLen + 5 {
		s := fmt.Sprint(i)
		want = append(want, s)
		var it Item
		switch i % 3 {
		case 0:
			it = Item{Data: []byte(s)}
		case 1:
			it = Item{Frame: NewFrame([]byte(s), false)}
		default:
			it = Item{Msg: &wamp.Hello{Realm: wamp.URI(s)}, MsgSize: len(s)}
		}
		if err := q.Push(it); err != nil {
			t.Fatal(err)
		}
	}
	b := q.Take()
	stop := errors.New("stop")
	var got []string
	total := 0
	for part := 0; len(got) < len(want); part++ {
		if part > len(want) {
			t.Fatal("no progress")
		}
		budget := 3
		n, _, err := b.Write(func(it Item) error {
			if budget == 0 {
				return stop
			}
			budget--
			switch {
			case it.Frame != nil:
				got = append(got, string(it.Frame.Data))
			case it.Msg != nil:
				got = append(got, string(it.Msg.(*wamp.Hello).Realm))
			default:
				got = append(got, string(it.Data))
			}
			return nil
		})
		total += n
		if err != nil && !errors.Is(err, stop) {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || total != len(want) {
		t.Fatalf("written %v (%d counted), want %v", got, total, want)
	}
	if n, _, _ := b.Write(func(Item) error { t.Fatal("written twice"); return nil }); n != 0 {
		t.Fatalf("a written batch wrote %d more", n)
	}
	q.Written(&b)
	b.Release()
}
