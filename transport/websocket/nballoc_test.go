package websocket

import (
	"bytes"
	"testing"
)

// TestNbAllocatorSizes: a buffer nbio keeps (a message the router holds)
// is at most twice its size, not a 1 KiB pooled buffer as with nbio's
// default allocator; past 1 MiB it is made to size.
func TestNbAllocatorSizes(t *testing.T) {
	t.Parallel()
	a := &nbAllocator{}
	for _, size := range []int{0, 1, 39, 64, 65, 1000, 4096, 70000, 1 << 20, 1<<20 + 1, 3 << 20} {
		b := a.Malloc(size)
		if len(*b) != size {
			t.Errorf("Malloc(%d): len %d", size, len(*b))
		}
		if c := cap(*b); c > max(2*size, nbPooledMin) {
			t.Errorf("Malloc(%d): cap %d, more than twice the size", size, c)
		}
		a.Free(b)
	}
}

// TestNbAllocatorAppend: Append keeps what the buffer held and adds to it,
// across classes, and Realloc keeps the content.
func TestNbAllocatorAppend(t *testing.T) {
	t.Parallel()
	a := &nbAllocator{}
	var want []byte
	b := a.Malloc(0)
	for i := range 300 {
		chunk := bytes.Repeat([]byte{byte(i)}, 1+i*7)
		want = append(want, chunk...)
		if i%2 == 0 {
			b = a.Append(b, chunk...)
		} else {
			b = a.AppendString(b, string(chunk))
		}
		if !bytes.Equal(*b, want) {
			t.Fatalf("after %d appends: content differs (len %d, want %d)", i+1, len(*b), len(want))
		}
	}
	b = a.Realloc(b, len(want)+10000)
	if !bytes.Equal((*b)[:len(want)], want) {
		t.Fatal("Realloc lost the content")
	}
	a.Free(b)
	a.Free(nil)
}
