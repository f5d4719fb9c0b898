package transport

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// TestFrameCachedOncePerKey: concurrent callers of each of three keys get
// the value built once for their key, and the builder sees the frame.
func TestFrameCachedOncePerKey(t *testing.T) {
	t.Parallel()
	keys := []*CacheKey{NewCacheKey("a"), NewCacheKey("b"), NewCacheKey("c")}
	for range 50 {
		f := NewFrame([]byte("event"), true)
		var builds [3]atomic.Int32
		var wg sync.WaitGroup
		for g := range 12 {
			wg.Go(func() {
				k := g % len(keys)
				v, err := f.Cached(keys[k], func(f *Frame) (any, error) {
					builds[k].Add(1)
					if string(f.Data) != "event" || !f.Binary {
						t.Errorf("builder got %q binary=%v", f.Data, f.Binary)
					}
					return keys[k].String() + ":" + string(f.Data), nil
				})
				if err != nil || v != keys[k].String()+":event" {
					t.Errorf("key %s: %v, %v", keys[k], v, err)
				}
			})
		}
		wg.Wait()
		for k := range builds {
			if n := builds[k].Load(); n != 1 {
				t.Fatalf("key %s built %d times, want once", keys[k], n)
			}
		}
	}
}

// TestFrameCachedError: a build that fails is not retried; every caller
// gets its error.
func TestFrameCachedError(t *testing.T) {
	t.Parallel()
	f := NewFrame([]byte("x"), false)
	k := NewCacheKey("failing")
	boom := errors.New("boom")
	calls := 0
	for range 3 {
		if _, err := f.Cached(k, func(*Frame) (any, error) { calls++; return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	}
	if calls != 1 {
		t.Fatalf("built %d times", calls)
	}
}

var (
	allocKeyA = NewCacheKey("a")
	allocKeyB = NewCacheKey("b")
	allocVal  = new(int)
)

func buildAlloc(*Frame) (any, error) { return allocVal, nil }

// TestFrameCachedAllocs: the first key's slot costs nothing; once built, no
// key's lookup allocates.
func TestFrameCachedAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		f := NewFrame(nil, false)
		_, _ = f.Cached(allocKeyA, buildAlloc)
		_, _ = f.Cached(allocKeyA, buildAlloc)
	}); n != 1 { // the Frame itself
		t.Fatalf("a frame and its first key's value: %v allocations, want 1", n)
	}
	f := NewFrame(nil, false)
	_, _ = f.Cached(allocKeyA, buildAlloc)
	_, _ = f.Cached(allocKeyB, buildAlloc)
	if n := testing.AllocsPerRun(100, func() {
		_, _ = f.Cached(allocKeyA, buildAlloc)
		_, _ = f.Cached(allocKeyB, buildAlloc)
	}); n != 0 {
		t.Fatalf("cached lookups: %v allocations, want 0", n)
	}
}

// TestFrameSize: a Frame is in the 64-byte size class, as before it had a
// cache slot: one is allocated per serializer per fan-out.
func TestFrameSize(t *testing.T) {
	if n := unsafe.Sizeof(Frame{}); n > 64 {
		t.Fatalf("Frame is %d bytes, want at most 64", n)
	}
}

// BenchmarkFrameCached is a fan-out's lookups of a frame's built form.
func BenchmarkFrameCached(b *testing.B) {
	f := NewFrame([]byte("event"), false)
	_, _ = f.Cached(allocKeyA, buildAlloc)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if v, err := f.Cached(allocKeyA, buildAlloc); v != allocVal || err != nil {
				b.Fatal(v, err)
			}
		}
	})
}
