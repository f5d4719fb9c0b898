package wamp

import (
	"math/rand/v2"
	"sync/atomic"
)

// ID is a WAMP id: an integer in [1, 2^53] (0 is used for "none").
type ID uint64

// MaxID is 2^53, the largest id WAMP allows (the largest integer a float64 holds exactly).
const MaxID ID = 1 << 53

// Valid reports whether id is in [1, 2^53].
func (id ID) Valid() bool { return id >= 1 && id <= MaxID }

// GlobalID returns a random id drawn uniformly from [1, 2^53], as the spec asks
// for ids in the global scope (session ids, publication ids). It uses
// math/rand/v2's generator, which is seeded unpredictably by the runtime and
// costs no system call: it runs once per PUBLISH.
func GlobalID() ID {
	return ID(rand.Uint64N(uint64(MaxID))) + 1
}

// Sequence hands out ids in the router or session scope: 1, 2, 3, ... wrapping
// after 2^53. Its zero value is ready to use and it is safe for concurrent use.
type Sequence struct{ n atomic.Uint64 }

// Next returns the next id of the sequence.
func (s *Sequence) Next() ID {
	for {
		old := s.n.Load()
		next := old + 1
		if next > uint64(MaxID) {
			next = 1
		}
		if s.n.CompareAndSwap(old, next) {
			return ID(next)
		}
	}
}
