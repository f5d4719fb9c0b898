package ratelog

import (
	"strconv"
	"testing"
	"time"
)

func TestOnePerInterval(t *testing.T) {
	t.Parallel()
	l := New(time.Hour)
	if ok, held := l.Allow("a"); !ok || held != 0 {
		t.Fatalf("first line: %v %d", ok, held)
	}
	for range 5 {
		if ok, _ := l.Allow("a"); ok {
			t.Fatal("second line within the interval let through")
		}
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key held back")
	}
	l.keys["a"].last = time.Now().Add(-2 * time.Hour)
	if ok, held := l.Allow("a"); !ok || held != 5 {
		t.Fatalf("after the interval: %v, held %d, want 5", ok, held)
	}
}

func TestBoundedKeys(t *testing.T) {
	t.Parallel()
	l := New(time.Hour)
	for i := range maxKeys + 100 {
		l.Allow("key" + strconv.Itoa(i))
	}
	if n := len(l.keys); n > maxKeys+1 {
		t.Fatalf("%d keys remembered, bound %d", n, maxKeys)
	}
	if ok, _ := l.Allow("one more"); ok {
		t.Fatal("a new key past the bound must share the overflow slot, which is within its interval")
	}
}
