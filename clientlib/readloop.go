package clientlib

import (
	"context"
	"fmt"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// readLoop reads l's messages until the session ends, then fails what was
// in flight on it and, with Reconnect, opens the next session.
func (c *Client) readLoop(l *link) {
	reason := c.readMessages(l)
	c.mu.Lock()
	wasUp := c.link == l
	if wasUp {
		c.link = nil
		c.up = make(chan struct{})
	}
	closing := c.closing
	for _, r := range c.regs {
		if r.link == l {
			r.link, r.id = nil, 0
		}
	}
	for _, s := range c.subs {
		if s.link == l {
			s.link, s.id = nil, 0
		}
	}
	c.mu.Unlock()
	l.err = reason
	close(l.lost)
	l.cancel() // the handlers' ctx: invocations being handled are abandoned
	l.w.stop()
	l.conn.close()
	switch {
	case !wasUp:
		// A session not yet up (restoring): its opener sees it end.
	case closing || c.opts.Reconnect == nil:
		c.finish(reason)
	default:
		c.log.Warn("session lost; reconnecting", "session", uint64(l.id), "url", l.url, "error", reason)
		if f := c.opts.Reconnect.OnDown; f != nil {
			f(reason)
		}
		first := 0
		if !l.upAt.IsZero() && time.Since(l.upAt) < c.opts.Reconnect.MaxDelay {
			first = l.series + 1 // up for less than the longest delay: flapping
		}
		c.reconnect(l.url, first)
	}
}

// readMessages dispatches messages and returns why the session ended.
func (c *Client) readMessages(l *link) error {
	for {
		msg, err := l.conn.read(context.Background())
		if err != nil {
			if dead, ok := l.dead.Load().(error); ok {
				return fmt.Errorf("%w: %v", ErrClosed, dead)
			}
			if l.conn.ended(err) {
				return fmt.Errorf("%w: connection closed: %v", ErrClosed, err)
			}
			return fmt.Errorf("%w: %v", ErrClosed, err)
		}
		if end := c.dispatch(l, msg); end != nil {
			return end
		}
	}
}

func (c *Client) dispatch(l *link, msg wamp.Message) error {
	switch m := msg.(type) {
	case *wamp.Result:
		if m.Details.Bool("progress", false) {
			c.mu.Lock()
			box := c.progress[m.Request]
			c.mu.Unlock()
			if box != nil {
				box.push(m)
			}
			return nil
		}
		c.reply(l, m.Request, m)
	case *wamp.Error:
		c.reply(l, m.Request, m)
	case *wamp.Registered:
		c.reply(l, m.Request, m)
	case *wamp.Unregistered:
		c.reply(l, m.Request, m)
	case *wamp.Subscribed:
		c.reply(l, m.Request, m)
	case *wamp.Unsubscribed:
		c.reply(l, m.Request, m)
	case *wamp.Published:
		c.reply(l, m.Request, m)
	case *wamp.Invocation:
		c.invoke(l, m)
	case *wamp.Event:
		c.event(l, m)
	case *wamp.Interrupt:
		c.mu.Lock()
		cancel := l.running[m.Request]
		c.mu.Unlock()
		if cancel != nil {
			cancel() // the handler's ctx; its answer (or ctx.Err()) goes back as usual
		}
	case *wamp.Goodbye:
		c.mu.Lock()
		ours := c.closing
		c.mu.Unlock()
		if ours {
			close(l.goodbye)
		} else {
			ctx, cancel := context.WithTimeout(l.ctx, c.opts.CloseTimeout)
			_ = l.write(ctx, &wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut})
			cancel()
		}
		return fmt.Errorf("%w: GOODBYE %s", ErrClosed, m.Reason)
	case *wamp.Abort:
		return fmt.Errorf("%w: ABORT %s: %s", ErrClosed, m.Reason, m.Details.String("message"))
	default:
		c.log.Warn("unexpected message from router", "type", msg.MessageType())
	}
	return nil
}

// reply hands a router's answer to the request waiting for it.
func (c *Client) reply(l *link, id wamp.ID, m wamp.Message) {
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	hook := c.hooks[id]
	delete(c.hooks, id)
	if ch == nil && hook == nil {
		hook = l.late[id] // its requester gave up
		delete(l.late, id)
	}
	c.mu.Unlock()
	if hook != nil {
		hook(l, m)
	}
	if ch != nil {
		ch <- m
	}
}
