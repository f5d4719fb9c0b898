package realms

import "iter"

// RecipientChunk is the number of recipients in each full chunk of a
// Recipients set. A change copies at most one chunk (RecipientChunk
// interface values, 16 bytes each) and the outer slice of chunk pointers
// (8 bytes per chunk), so 128 keeps both near 2 KB for a topic of 30,000
// subscribers and a change to one of 100,000 under 9 KB, where copying the
// whole set cost 1.6 MB.
const RecipientChunk = 128

// Recipients is an immutable set of recipients, the subscribers of a
// Subscription. It is a value that is never written once published: the
// broker derives a new one for each change, sharing every chunk the change
// does not touch, so a reader iterates a snapshot with no lock and a change
// costs O(RecipientChunk + Len/RecipientChunk) time and allocation, not
// O(Len).
//
// The order of the recipients is not meaningful: a removal moves the last
// recipient into the freed slot.
//
// Iterate it on a hot path by chunk, which neither allocates nor calls a
// function per recipient:
//
//	for i := range rs.NumChunks() {
//		for _, r := range rs.Chunk(i) { ... }
//	}
type Recipients struct {
	// full holds the full chunks; the arrays are never written once
	// they are here.
	full []*[RecipientChunk]Recipient
	// tail holds the last 0 to RecipientChunk recipients. Its array is
	// never written once published either: an addition copies it, and a
	// removal of its last element only shortens the slice.
	tail []Recipient
}

// Len is the number of recipients.
func (rs Recipients) Len() int { return len(rs.full)*RecipientChunk + len(rs.tail) }

// NumChunks is the number of chunks Chunk returns, the last one possibly
// shorter than RecipientChunk; every chunk holds at least one recipient.
func (rs Recipients) NumChunks() int {
	if len(rs.tail) == 0 {
		return len(rs.full)
	}
	return len(rs.full) + 1
}

// Chunk returns chunk i (0 <= i < NumChunks). The caller must not modify it:
// other snapshots share it.
func (rs Recipients) Chunk(i int) []Recipient {
	if i < len(rs.full) {
		return rs.full[i][:]
	}
	return rs.tail
}

// All iterates the recipients, for callers off the hot path (it calls a
// function per recipient).
func (rs Recipients) All() iter.Seq[Recipient] {
	return func(yield func(Recipient) bool) {
		for i := range rs.NumChunks() {
			for _, r := range rs.Chunk(i) {
				if !yield(r) {
					return
				}
			}
		}
	}
}

// Contains reports whether r is in the set. It scans the set: the broker
// knows membership without it (Broker.Subscribed), this is for callers
// holding only a snapshot.
func (rs Recipients) Contains(r Recipient) bool {
	for x := range rs.All() {
		if x == r {
			return true
		}
	}
	return false
}

// at returns the recipient at position i (0 <= i < Len).
func (rs Recipients) at(i int) Recipient {
	if c := i / RecipientChunk; c < len(rs.full) {
		return rs.full[c][i%RecipientChunk]
	}
	return rs.tail[i-len(rs.full)*RecipientChunk]
}

// with returns the set with r added at position Len. It copies the tail,
// and the outer slice when the tail was full and becomes a chunk. The
// caller must know r is not in the set yet.
func (rs Recipients) with(r Recipient) Recipients {
	if len(rs.tail) == RecipientChunk {
		// A full tail has exactly RecipientChunk capacity (every tail is
		// allocated to its length, or is a full chunk shortened), so it
		// becomes a chunk without a copy.
		full := make([]*[RecipientChunk]Recipient, len(rs.full)+1)
		copy(full, rs.full)
		full[len(rs.full)] = (*[RecipientChunk]Recipient)(rs.tail)
		rs.full, rs.tail = full, nil
	}
	tail := make([]Recipient, len(rs.tail)+1)
	copy(tail, rs.tail)
	tail[len(rs.tail)] = r
	rs.tail = tail
	return rs
}

// without returns the set without the recipient at position i
// (0 <= i < Len), the last recipient moved to position i. moved is that
// recipient, nil if i was the last position (nothing moved). It copies at
// most the chunk of i and the outer slice; removing the last recipient
// copies nothing.
func (rs Recipients) without(i int) (next Recipients, moved Recipient) {
	if len(rs.tail) == 0 {
		// The last full chunk becomes the tail: shortening it below never
		// writes into its array.
		rs.tail = rs.full[len(rs.full)-1][:]
		rs.full = rs.full[: len(rs.full)-1 : len(rs.full)-1]
	}
	last := len(rs.tail) - 1
	moved = rs.tail[last]
	c, j := i/RecipientChunk, i%RecipientChunk
	switch {
	case i == rs.Len()-1:
		moved = nil
	case c == len(rs.full): // in the tail
		tail := make([]Recipient, last)
		copy(tail, rs.tail)
		tail[j] = moved
		rs.tail = tail
		return rs, moved
	default:
		chunk := *rs.full[c] // a copy of the array
		chunk[j] = moved
		full := make([]*[RecipientChunk]Recipient, len(rs.full))
		copy(full, rs.full)
		full[c] = &chunk
		rs.full = full
	}
	rs.tail = rs.tail[:last:last]
	if last == 0 {
		rs.tail = nil
	}
	return rs, moved
}
