package webhook

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/local"
)

// session is a webhook's WAMP session, joined again whenever it ends until
// stop: attach subscribes or registers on each new session.
type session struct {
	s      *Set
	name   string
	cfg    Session
	st     *stats
	attach func(context.Context, *clientlib.Client) error

	leaving  atomic.Bool // set before stop: an ended session is not joined again
	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
}

// startSession joins and attaches within ctx, then keeps the session up.
func (s *Set) startSession(ctx context.Context, name string, cfg Session, st *stats, attach func(context.Context, *clientlib.Client) error) (*session, error) {
	ss := &session{s: s, name: name, cfg: cfg, st: st, attach: attach, stopCh: make(chan struct{}), done: make(chan struct{})}
	c, err := ss.join(ctx)
	if err != nil {
		return nil, err
	}
	go ss.supervise(c)
	return ss, nil
}

// join joins the realm and attaches, or returns why not.
func (ss *session) join(ctx context.Context) (*clientlib.Client, error) {
	opts := clientlib.Options{Logger: ss.s.log.With("webhook", ss.name), AuthID: ss.cfg.AuthID}
	switch {
	case ss.cfg.Role != "":
		authid := ss.cfg.AuthID
		if authid == "" {
			authid = "webhook-" + ss.name
		}
		opts.Local = local.Config{Identity: &transport.Identity{AuthID: authid, AuthRole: ss.cfg.Role,
			AuthMethod: "webhook", AuthProvider: "bridge"}}
	case ss.cfg.Ticket != "":
		opts.Auth = []clientlib.Authenticator{clientlib.TicketAuth(ss.cfg.Ticket)}
	}
	c, err := clientlib.ConnectLocal(ctx, ss.s.h, ss.cfg.Realm, opts)
	if err != nil {
		return nil, fmt.Errorf("joining realm %s: %w", ss.cfg.Realm, err)
	}
	if err := ss.attach(ctx, c); err != nil {
		_ = c.Close(ctx)
		return nil, err
	}
	return c, nil
}

// supervise keeps the session up until stop, joining again (with backoff)
// when the router ends it.
func (ss *session) supervise(c *clientlib.Client) {
	defer close(ss.done)
	for c != nil {
		ss.st.up.Store(true)
		select {
		case <-c.Done():
			ss.st.up.Store(false)
			if ss.leaving.Load() {
				<-ss.stopCh
				return
			}
			ss.s.log.Warn("webhook session ended; joining again", "webhook", ss.name, "realm", ss.cfg.Realm, "error", c.Err())
			c = ss.rejoin()
		case <-ss.stopCh:
			ss.st.up.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.Close(ctx)
			cancel()
			return
		}
	}
}

// rejoin joins again, waiting RejoinMin, doubling up to RejoinMax, between
// attempts; nil after stop.
func (ss *session) rejoin() *clientlib.Client {
	wait := ss.s.rejoinMin
	for {
		t := time.NewTimer(wait)
		select {
		case <-ss.stopCh:
			t.Stop()
			return nil
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := ss.join(ctx)
		cancel()
		if err == nil {
			ss.s.log.Info("webhook session joined again", "webhook", ss.name, "realm", ss.cfg.Realm)
			return c
		}
		ss.s.log.Error("webhook cannot join again", "webhook", ss.name, "error", err, "retry_in", min(2*wait, ss.s.rejoinMax))
		wait = min(2*wait, ss.s.rejoinMax)
	}
}

// stop ends the session and waits for it, within ctx.
func (ss *session) stop(ctx context.Context) {
	ss.stopOnce.Do(func() { close(ss.stopCh) })
	select {
	case <-ss.done:
	case <-ctx.Done():
	}
}
