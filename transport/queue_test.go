package transport

import (
	"sync/atomic"
	"testing"
	"time"
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
	batch := q.Take(nil)
	if len(batch) != 5 || batch[3].Data[0] != 3 {
		t.Fatalf("batch %v", batch)
	}
	// Taken but not written still counts.
	for range 5 {
		if err := q.Push(Item{Frame: NewFrame(make([]byte, 100), false)}); err != nil {
			t.Fatal(err)
		}
	}
	if q.msgs != 10 || q.bytes != 510 {
		t.Fatalf("pending %d msgs / %d bytes", q.msgs, q.bytes)
	}
	q.Written(5, 10)
	if q.msgs != 5 || q.bytes != 500 {
		t.Fatalf("after write %d / %d", q.msgs, q.bytes)
	}
	q.Close()
	if err := q.Push(Item{Data: []byte("x")}); err != ErrClosed {
		t.Fatalf("push after close: %v", err)
	}
	if got := q.Take(nil); len(got) != 5 {
		t.Fatalf("queued items lost on close: %d", len(got))
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
	q.Written(len(q.Take(nil)), 3) // back under the bound: the timer stops
	q.mu.Lock()
	timer := q.timer
	q.mu.Unlock()
	if timer != nil {
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
