package clientlib

import (
	"context"
	"fmt"

	"github.com/junction-wamp/junction/wamp"
)

// readLoop reads messages until the session ends, then fails what is pending.
func (c *Client) readLoop() {
	reason := c.readMessages()
	c.mu.Lock()
	c.closing = true
	c.err = reason
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	c.cancel()
	c.conn.close()
	close(c.done)
	_ = pending // waiters see c.done
}

// readMessages dispatches messages and returns why the session ended.
func (c *Client) readMessages() error {
	for {
		msg, err := c.conn.read(context.Background())
		if err != nil {
			if c.conn.ended(err) {
				return fmt.Errorf("%w: connection closed: %v", ErrClosed, err)
			}
			return fmt.Errorf("%w: %v", ErrClosed, err)
		}
		if end := c.dispatch(msg); end != nil {
			return end
		}
	}
}

func (c *Client) dispatch(msg wamp.Message) error {
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
		c.reply(m.Request, m)
	case *wamp.Error:
		c.reply(m.Request, m)
	case *wamp.Registered:
		c.reply(m.Request, m)
	case *wamp.Unregistered:
		c.reply(m.Request, m)
	case *wamp.Subscribed:
		c.reply(m.Request, m)
	case *wamp.Unsubscribed:
		c.reply(m.Request, m)
	case *wamp.Published:
		c.reply(m.Request, m)
	case *wamp.Invocation:
		c.invoke(m)
	case *wamp.Event:
		c.event(m)
	case *wamp.Interrupt:
		c.mu.Lock()
		cancel := c.running[m.Request]
		c.mu.Unlock()
		if cancel != nil {
			cancel() // the handler's ctx; its answer (or ctx.Err()) goes back as usual
		}
	case *wamp.Goodbye:
		c.mu.Lock()
		ours := c.closing
		c.mu.Unlock()
		if ours {
			close(c.goodbye)
		} else {
			_ = c.write(c.ctxOrBackground(), &wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseGoodbyeAndOut})
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
func (c *Client) reply(id wamp.ID, m wamp.Message) {
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	hook := c.hooks[id]
	delete(c.hooks, id)
	c.mu.Unlock()
	if hook != nil {
		hook(m)
	}
	if ch != nil {
		ch <- m
	}
}
