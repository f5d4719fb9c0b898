package websocket

import (
	"math/bits"
	"sync"
)

// nbAllocator is the nbio engine's BodyAllocator: the buffers nbio reads
// frames and messages into, and frames the ones it writes in.
//
// nbio's default (mempool.DefaultMemPool) hands out buffers of at least 1
// KiB from a pool and expects them back. The engine keeps every message it
// reads (the router splices its payload into what it sends on:
// ReleaseWebsocketPayload is off), so none came back: each message, 40
// bytes or 4 KiB, cost a fresh 1 KiB buffer and the GC's work for it. Here
// buffers come from pools by power-of-two class, from 64 bytes: a kept
// message holds at most twice its size, and what nbio frees (its copy of
// what one read returned, the frames it writes) goes back to its class's
// pool. Past 1 MiB a buffer is made to size and left to the GC.
type nbAllocator struct {
	pools [nbClasses]sync.Pool // class c holds *[]byte of cap nbPooledMin<<c
}

const (
	nbPooledMin = 64 // the smallest class
	nbClasses   = 15 // 64 B .. 1 MiB; bigger ones are made to size
)

// class returns the pool class of a buffer of size bytes, or -1.
func nbClass(size int) int {
	if size <= nbPooledMin {
		return 0
	}
	c := bits.Len(uint(size-1)) - bits.Len(uint(nbPooledMin-1))
	if c >= nbClasses {
		return -1
	}
	return c
}

func (a *nbAllocator) Malloc(size int) *[]byte { return a.alloc(size, size) }

// alloc returns a buffer of size bytes with room for at least capacity.
func (a *nbAllocator) alloc(size, capacity int) *[]byte {
	c := nbClass(capacity)
	if c < 0 {
		b := make([]byte, size, capacity)
		return &b
	}
	if v := a.pools[c].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, nbPooledMin<<c)
	return &b
}

// Realloc is deprecated in nbio's interface and kept for it.
func (a *nbAllocator) Realloc(buf *[]byte, size int) *[]byte {
	if size <= cap(*buf) {
		*buf = (*buf)[:size]
		return buf
	}
	nb := a.Malloc(size)
	copy(*nb, *buf)
	a.Free(buf)
	return nb
}

func (a *nbAllocator) Append(buf *[]byte, more ...byte) *[]byte {
	if len(*buf)+len(more) <= cap(*buf) {
		*buf = append(*buf, more...)
		return buf
	}
	// Grown by doubling: a message of many fragments is copied O(n)
	// times in all, not once per fragment.
	need := len(*buf) + len(more)
	nb := a.alloc(need, max(need, 2*cap(*buf)))
	copy(*nb, *buf)
	copy((*nb)[len(*buf):], more)
	a.Free(buf)
	return nb
}

func (a *nbAllocator) AppendString(buf *[]byte, more string) *[]byte {
	return a.Append(buf, []byte(more)...)
}

// Free takes back a buffer nbio is done with: into its pool if it came
// from one (its capacity is a class's), else to the GC.
func (a *nbAllocator) Free(buf *[]byte) {
	if buf == nil {
		return
	}
	c := nbClass(cap(*buf))
	if c < 0 || cap(*buf) != nbPooledMin<<c {
		return
	}
	*buf = (*buf)[:0]
	a.pools[c].Put(buf)
}
