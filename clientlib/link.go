package clientlib

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// link is one session of a Client: its connection, write pump, and what
// the router's ids of that session name (registrations, subscriptions,
// invocations being handled).
type link struct {
	conn    conn
	w       *writer
	url     string
	id      wamp.ID
	details wamp.Dict

	ctx     context.Context // cancelled when the session ends: the handlers'
	cancel  context.CancelFunc
	lost    chan struct{} // closed when the session has ended
	err     error         // why, set before lost is closed
	goodbye chan struct{} // closed when the router answers our GOODBYE
	dead    atomic.Value  // error: set by the keepalive before it closes conn
	upAt    time.Time     // when it became the Client's (reconnected links)
	series  int           // the backoff attempt that opened it

	// Under the Client's mu.
	running  map[wamp.ID]context.CancelFunc // invocations being handled, for INTERRUPT
	chunked  map[wamp.ID]*chunkQueue        // progressive call invocations being handled
	handlers map[wamp.ID]*registration
	subs     map[wamp.ID]*subscription
	late     map[wamp.ID]func(*link, wamp.Message) // requests given up that may still be answered

	// subscribing orders this session's SUBSCRIBE writes with the
	// UNSUBSCRIBE of a late SUBSCRIBED (Client.dropLateSubscription).
	subscribing sync.Mutex
	inflight    map[string]int // SUBSCRIBEs awaiting their answer, by topic and match
}

func newLink(cn conn, opts Options) *link {
	l := &link{
		conn: cn, w: newWriter(cn, opts),
		lost: make(chan struct{}), goodbye: make(chan struct{}),
		running:  make(map[wamp.ID]context.CancelFunc),
		chunked:  make(map[wamp.ID]*chunkQueue),
		handlers: make(map[wamp.ID]*registration),
		subs:     make(map[wamp.ID]*subscription),
		late:     make(map[wamp.ID]func(*link, wamp.Message)),
		inflight: make(map[string]int),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// write encodes m and sends it through the write pump, within ctx. An
// encoding failure or a message too large is returned as is (the session
// goes on); a failure to send, once the session has ended, is its end.
func (l *link) write(ctx context.Context, m wamp.Message) error {
	data, size, err := l.conn.encode(m)
	if err != nil {
		return err
	}
	if d, ok := l.conn.(directConn); ok {
		err = d.writeNow(ctx, data)
	} else {
		err = l.w.send(ctx, frameMessage, data, size)
	}
	if err == nil || ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	select {
	case <-l.lost:
		return l.lostErr()
	default:
		return fmt.Errorf("clientlib: writing %s: %w", m.MessageType(), err)
	}
}

// lostErr is the error of a request in flight when l ended.
func (l *link) lostErr() error {
	return fmt.Errorf("%w: %w", ErrConnectionLost, l.err)
}

// keepAlive pings the router when nothing was read from it for interval,
// and closes the connection when nothing was for twice as long.
func (l *link) keepAlive(interval time.Duration) {
	if interval <= 0 || l.conn.lastRead().IsZero() {
		return
	}
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-l.lost:
				return
			case <-t.C:
			}
			idle := time.Since(l.conn.lastRead())
			if idle >= 2*interval {
				l.dead.Store(fmt.Errorf("nothing from the router for %s", idle.Round(time.Millisecond)))
				l.conn.close()
				return
			}
			if idle >= interval {
				ctx, cancel := context.WithTimeout(l.ctx, interval)
				_ = l.w.send(ctx, framePing, nil, 0)
				cancel()
			}
		}
	}()
}
