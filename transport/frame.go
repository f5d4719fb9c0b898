package transport

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Frame is one encoded message shared by every recipient of a fan-out that
// uses the same serializer: the router encodes it once, and each recipient's
// transport queues the same Frame.
//
// A transport that frames (or compresses) what it writes does that once per
// Frame too, through Cached: each transport declares a CacheKey, and the
// first of its connections to write the frame builds the transport's form of
// it, which the others reuse. The WebSocket transport keeps a
// PreparedMessage there (framed, and deflated once for all the connections
// that negotiated compression); a RawSocket transport needs none.
type Frame struct {
	Data   []byte
	Binary bool
	// Own marks a frame with a single recipient (NewOwnFrame): a transport
	// writes it as it writes a message it encoded itself, building no
	// shared form of it.
	Own bool

	// The slot of the first transport that asks (see cacheSlot), inline:
	// laid out so that a Frame stays 64 bytes, as it was before it had
	// one. Others, rarer (a fan-out to several transports), are chained
	// after it.
	done atomic.Bool
	key  atomic.Pointer[CacheKey]
	v    any
	next atomic.Pointer[cacheSlot]
}

// NewFrame returns a frame of encoded message bytes.
func NewFrame(data []byte, binary bool) *Frame { return &Frame{Data: data, Binary: binary} }

// NewOwnFrame returns a frame of encoded message bytes for one recipient
// (an INVOCATION another cluster node encoded): the WebSocket transport
// writes it without the PreparedMessage that pays off only when shared.
func NewOwnFrame(data []byte, binary bool) *Frame {
	return &Frame{Data: data, Binary: binary, Own: true}
}

// CacheKey names one transport's cached form of a Frame. A transport
// declares one, once (a package variable), with NewCacheKey; keys are told
// apart by address.
type CacheKey struct{ name string }

// NewCacheKey returns a new key; name is for people (String).
func NewCacheKey(name string) *CacheKey { return &CacheKey{name: name} }

func (k *CacheKey) String() string { return k.name }

// cacheSlot is one transport's cached form of a frame, after the first.
// key is set when the slot is made; v is written once, under a build lock,
// before done is set, and read only after done was seen set.
type cacheSlot struct {
	done atomic.Bool
	key  *CacheKey
	v    any
	next atomic.Pointer[cacheSlot]
}

// buildError is a build's error, kept in a slot's value.
type buildError struct{ err error }

// buildLocks serialize the builds of one slot, by the slot's address: a
// build runs once per frame and transport, so a lock per slot would cost a
// Frame more than its collisions here cost builds.
var buildLocks [64]sync.Mutex

// Cached returns the frame's form for the transport of key: the value build
// returned, called once per frame and key, by the first caller; every other
// caller, concurrent or later, waits for it and gets the same value and
// error. Safe from any goroutine. build must not block, nor call Cached.
// Once built, a call costs two or three atomic loads and allocates nothing;
// the first key asked of a frame takes no allocation at all (its slot is
// inside the Frame).
func (f *Frame) Cached(key *CacheKey, build func(f *Frame) (any, error)) (any, error) {
	done, v := f.slot(key)
	if !done.Load() {
		mu := &buildLocks[uintptr(unsafe.Pointer(done))>>6%uintptr(len(buildLocks))]
		mu.Lock()
		if !done.Load() {
			val, err := build(f)
			if err != nil {
				val = &buildError{err}
			}
			*v = val
			done.Store(true)
		}
		mu.Unlock()
	}
	if e, ok := (*v).(*buildError); ok {
		return nil, e.err
	}
	return *v, nil
}

// slot returns key's slot: the frame's own, claimed if free, or one chained
// after it, made if missing.
func (f *Frame) slot(key *CacheKey) (*atomic.Bool, *any) {
	// The inline key, once set, never changes: after a failed claim it is
	// someone else's, or key itself claimed concurrently.
	if k := f.key.Load(); k == key || k == nil && (f.key.CompareAndSwap(nil, key) || f.key.Load() == key) {
		return &f.done, &f.v
	}
	next := &f.next
	for {
		s := next.Load()
		if s == nil {
			n := &cacheSlot{key: key}
			if next.CompareAndSwap(nil, n) {
				return &n.done, &n.v
			}
			s = next.Load()
		}
		if s.key == key {
			return &s.done, &s.v
		}
		next = &s.next
	}
}
