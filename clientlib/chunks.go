package clientlib

import (
	"context"
	"sync"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// Chunk is one part of a progressive call invocation's arguments.
type Chunk struct {
	Args   []any
	Kwargs map[string]any
}

// chunkQueue carries the chunks of a progressive call invocation from the
// read loop (which never blocks on it) to the handler.
type chunkQueue struct {
	mu     sync.Mutex
	items  []*wamp.Invocation
	final  bool // the last chunk has arrived
	signal chan struct{}
}

func (q *chunkQueue) push(m *wamp.Invocation) {
	q.mu.Lock()
	q.items = append(q.items, m)
	if !m.Details.Bool("progress", false) {
		q.final = true
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// NextChunk returns the next chunk of a progressive call invocation (the
// first chunk is the Invocation's own Args and Kwargs). ok is false once the
// caller's final chunk has been returned, or for an ordinary invocation.
func (inv *Invocation) NextChunk(ctx context.Context) (chunk *Chunk, ok bool, err error) {
	q := inv.chunks
	if q == nil {
		return nil, false, nil
	}
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			m := q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			args, kwargs, err := serializers.DecodePayload(&m.Payload)
			if err != nil {
				return nil, false, err
			}
			return &Chunk{Args: args, Kwargs: kwargs}, true, nil
		}
		done := q.final
		q.mu.Unlock()
		if done {
			return nil, false, nil
		}
		select {
		case <-q.signal:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// Chunked reports whether the invocation is a progressive call invocation,
// whose further arguments come from NextChunk.
func (inv *Invocation) Chunked() bool { return inv.chunks != nil }

// sendChunks sends each value of chunks as a progressive CALL with request
// id, then the final CALL, when chunks is closed.
func (c *Client) sendChunks(ctx context.Context, l *link, id wamp.ID, procedure string, options wamp.Dict, chunks <-chan Chunk) error {
	for {
		select {
		case ch, more := <-chunks:
			opts := wamp.Dict{}
			for k, v := range options {
				opts[k] = v
			}
			if more {
				opts["progress"] = true
			} else {
				delete(opts, "progress")
			}
			if err := l.write(ctx, &wamp.Call{Request: id, Options: opts, Procedure: wamp.URI(procedure), Payload: wamp.Values(ch.Args, ch.Kwargs)}); err != nil {
				return err
			}
			if !more {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
