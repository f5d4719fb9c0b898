package transport

import (
	"sync"
	"sync/atomic"
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

	// first is the slot of the first transport that asks; others, rarer (a
	// fan-out to several transports), are chained after it.
	first cacheSlot
}

// NewFrame returns a frame of encoded message bytes.
func NewFrame(data []byte, binary bool) *Frame { return &Frame{Data: data, Binary: binary} }

// CacheKey names one transport's cached form of a Frame. A transport
// declares one, once (a package variable), with NewCacheKey; keys are told
// apart by address.
type CacheKey struct{ name string }

// NewCacheKey returns a new key; name is for people (String).
func NewCacheKey(name string) *CacheKey { return &CacheKey{name: name} }

func (k *CacheKey) String() string { return k.name }

// cacheSlot is one transport's cached form of a frame. key is set once,
// from nil, and never changes; the value is built once, under once.
type cacheSlot struct {
	key  atomic.Pointer[CacheKey]
	once sync.Once
	v    any
	err  error
	next atomic.Pointer[cacheSlot]
}

// Cached returns the frame's form for the transport of key: the value build
// returned, called once per frame and key, by the first caller; every other
// caller, concurrent or later, waits for it and gets the same value and
// error. Safe from any goroutine. Once built, a call costs a few atomic loads
// and allocates nothing; the first key asked of a frame takes no allocation
// at all (its slot is inside the Frame).
func (f *Frame) Cached(key *CacheKey, build func(f *Frame) (any, error)) (any, error) {
	s := f.slot(key)
	s.once.Do(func() { s.v, s.err = build(f) })
	return s.v, s.err
}

// slot returns key's slot, claiming a free one or chaining a new one.
func (f *Frame) slot(key *CacheKey) *cacheSlot {
	s := &f.first
	for {
		// A key, once set, never changes: after a failed claim it is
		// someone else's, or key itself claimed concurrently.
		if k := s.key.Load(); k == key || k == nil && (s.key.CompareAndSwap(nil, key) || s.key.Load() == key) {
			return s
		}
		next := s.next.Load()
		if next == nil {
			n := &cacheSlot{}
			n.key.Store(key)
			if s.next.CompareAndSwap(nil, n) {
				return n
			}
			next = s.next.Load()
		}
		s = next
	}
}
