package transport

import (
	"sync"
	"sync/atomic"

	"github.com/junction-wamp/junction/wamp"
)

// chunkLen is the number of items a chunk holds: a queue of a few messages
// holds one chunk, and a long one is linked every 32 items instead of copied
// as it grows.
const chunkLen = 32

// chunk is a run of queued items; chunks are linked oldest first. A shared
// frame costs a pointer: the recipients of a fan-out that stopped reading
// hold one entry per event each until they are cut, so an entry is kept as
// small as it can be. Bytes encoded for this peer alone (the rarer item in a
// long queue) go to a side array, borrowed with the chunk's first; message
// values (Item.Msg) to another, marked in frames by msgMark.
type chunk struct {
	frames [chunkLen]*Frame // nil: the item is the next of data; msgMark: the next of msgs
	data   *[chunkLen][]byte
	msgs   *[chunkLen]msgItem
	n, nd  int // items, data items
	nm     int // message items
	next   *chunk
}

// msgItem is a queued message value and the size it counts for.
type msgItem struct {
	m    wamp.Message
	size int
}

// msgMark marks a message item in a chunk's frames; never written.
var msgMark = new(Frame)

// chunks and dataArrays recycle between the queues of all peers: a queue
// holds them only while it holds items.
var (
	chunks     = sync.Pool{New: func() any { return new(chunk) }}
	dataArrays = sync.Pool{New: func() any { return new([chunkLen][]byte) }}
	msgArrays  = sync.Pool{New: func() any { return new([chunkLen]msgItem) }}
)

// add stores it; the chunk has room.
func (c *chunk) add(it Item) {
	if it.Frame == nil && it.Msg != nil {
		if c.msgs == nil {
			c.msgs = msgArrays.Get().(*[chunkLen]msgItem)
		}
		c.msgs[c.nm] = msgItem{it.Msg, it.MsgSize}
		c.nm++
		c.frames[c.n] = msgMark
		c.n++
		return
	}
	if it.Frame == nil {
		if c.data == nil {
			c.data = dataArrays.Get().(*[chunkLen][]byte)
		}
		c.data[c.nd] = it.Data
		c.nd++
	}
	c.frames[c.n] = it.Frame
	c.n++
}

// release clears the chunk and returns it, and its data array, to the pools.
func (c *chunk) release() {
	if c.data != nil {
		clear(c.data[:c.nd])
		dataArrays.Put(c.data)
	}
	if c.msgs != nil {
		clear(c.msgs[:c.nm])
		msgArrays.Put(c.msgs)
	}
	*c = chunk{}
	chunks.Put(c)
}

// Batch is what a writer took from a Queue: the items queued at the time,
// in order. Its chunks go back to the pool on Release.
type Batch struct {
	head  *chunk
	n     int       // items
	bytes int       // their size
	wrote *progress // the queue's count of what was written
	at    batchPos  // where a Write that write stopped stopped
	done  bool      // a Write went through every item
}

// batchPos is an item's place in a batch: its chunk, its index, and the
// indexes of the next data and message items of the chunk.
type batchPos struct {
	c        *chunk
	i, d, mi int
}

// progress counts the messages and bytes a queue's writer wrote; only the
// writer adds, the queue reads.
type progress struct {
	msgs, bytes atomic.Uint64
}

// Len is the number of items in the batch.
func (b *Batch) Len() int { return b.n }

// Size is the size of the items in bytes.
func (b *Batch) Size() int { return b.bytes }

// First returns the first item; the batch must not be empty.
func (b *Batch) First() Item {
	if f := b.head.frames[0]; f == msgMark {
		mi := b.head.msgs[0]
		return Item{Msg: mi.m, MsgSize: mi.size}
	} else if f != nil {
		return Item{Frame: f}
	}
	return Item{Data: b.head.data[0]}
}

// Write calls write for each item in order, clearing each once written (a
// writer stuck on a later one does not hold it), until write fails. It
// returns how many items were written and their size. A batch can be
// written in parts: a Write after one that write stopped goes on with the
// item it stopped at (the nbio engine hands a batch to its connection a
// few KiB at a time).
func (b *Batch) Write(write func(Item) error) (n, size int, err error) {
	at := b.at
	if at.c == nil {
		if b.done {
			return 0, 0, nil
		}
		at.c = b.head
	}
	for c := at.c; c != nil; c = c.next {
		i, d, mi := 0, 0, 0
		if c == at.c {
			i, d, mi = at.i, at.d, at.mi
		}
		for ; i < c.n; i++ {
			here := batchPos{c, i, d, mi}
			it := Item{Frame: c.frames[i]}
			switch it.Frame {
			case nil:
				it.Data = c.data[d]
				d++
			case msgMark:
				it = Item{Msg: c.msgs[mi].m, MsgSize: c.msgs[mi].size}
				mi++
			}
			if err = write(it); err != nil {
				b.at = here
				return n, size, err
			}
			c.frames[i] = nil
			switch {
			case it.Msg != nil:
				c.msgs[mi-1] = msgItem{}
			case it.Frame == nil:
				c.data[d-1] = nil
			}
			sz := it.Size()
			n, size = n+1, size+sz
			b.wrote.msgs.Add(1)
			b.wrote.bytes.Add(uint64(sz))
		}
	}
	b.at, b.done = batchPos{}, true
	return n, size, nil
}

// Release returns the batch's chunks to the pool.
func (b *Batch) Release() {
	for c := b.head; c != nil; {
		next := c.next
		c.release()
		c = next
	}
	*b = Batch{}
}
