package clientlib

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/junction-wamp/junction/wamp"
)

// Reconnect configures a Client that survives its connection
// (Options.Reconnect). When a session ends other than by Close, the Client
// waits a backoff delay and connects again, to the next of its URLs (the
// one given to Connect, then URLs, in turn: a cluster's nodes), joins the
// realm with the same authentication, registers again each procedure the
// application registered and subscribes again each of its subscriptions,
// with the same handlers and options, and only then serves the
// application's requests again. It never gives up: only Close ends it.
//
// Meanwhile: requests in flight when the session ends (Call, Register,
// Publish with Acknowledge...) fail with an error wrapping
// ErrConnectionLost; invocations being handled are abandoned (their ctx is
// cancelled, their answer dropped); a Call, Register, Subscribe... made
// while there is no session waits for the next one within its context, or
// with FailFast fails at once with ErrNotConnected; a Publish fails at once
// with ErrNotConnected unless PublishWaits.
type Reconnect struct {
	// URLs are further routers to connect to, in turn after the URL given
	// to Connect (ConnectLocal ignores them).
	URLs []string
	// MinDelay and MaxDelay bound the backoff: the n-th attempt in a row
	// waits MinDelay·2ⁿ, at most MaxDelay, less a random part of up to
	// half of it (the jitter that spreads a crowd of clients out).
	// Defaults 250ms and 30s.
	MinDelay, MaxDelay time.Duration
	// AttemptTimeout bounds each attempt: dialing, joining, and restoring
	// the registrations and subscriptions. Default 10s.
	AttemptTimeout time.Duration
	// FailFast: requests made while there is no session fail at once with
	// ErrNotConnected instead of waiting for one within their context.
	FailFast bool
	// PublishWaits: Publish waits for a session as Call does, instead of
	// failing at once with ErrNotConnected.
	PublishWaits bool
	// OnUp is called with each new session once its registrations and
	// subscriptions are restored (not for the first one, Connect's); the
	// Client's ID is the new session's. OnDown is called when a session
	// ends other than by Close. Both are called on the goroutine that
	// reconnects, in order: they must return soon.
	OnUp   func(session wamp.ID, details wamp.Dict)
	OnDown func(err error)
	// OnRestoreError reports a registration (what: the procedure) or
	// subscription (the topic) that failed to be restored on a new
	// session. A REGISTER refused with wamp.error.procedure_already_exists
	// (another callee holds it: say one on a cluster node that died and is
	// not yet dropped, or a shared registration of another invoke policy)
	// is retried with backoff, following the router's retry_after_ms, for
	// as long as the session lasts, each refusal reported; other failures
	// are retried on the next session. It is called from any goroutine.
	OnRestoreError func(what string, err error)
}

func (r *Reconnect) withDefaults() {
	if r.MinDelay <= 0 {
		r.MinDelay = 250 * time.Millisecond
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = 30 * time.Second
	}
	if r.MaxDelay < r.MinDelay {
		r.MaxDelay = r.MinDelay
	}
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = 10 * time.Second
	}
}

// backoff is the delay before attempt n (0 the first) of a series.
func (r *Reconnect) backoff(n int) time.Duration {
	d := r.MinDelay
	for i := 0; i < n && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	return d - time.Duration(rand.Int64N(int64(d)/2+1))
}

// appReg is a procedure the application registered.
type appReg struct {
	procedure string
	options   wamp.Dict
	handler   InvocationHandler
	link      *link   // the session it is registered on, under mu
	id        wamp.ID // its registration id there
}

// appSub is a subscription of the application.
type appSub struct {
	topic   string
	options wamp.Dict
	handler EventHandler
	link    *link
	id      wamp.ID
}

// firstSession connects, trying the URLs in turn with backoff, until a
// session joins or ctx ends.
func (c *Client) firstSession(ctx context.Context) error {
	var last error
	for n := 0; ; n++ {
		d := c.dials[n%len(c.dials)]
		actx, cancel := context.WithTimeout(ctx, c.opts.Reconnect.AttemptTimeout)
		l, err := c.open(actx, d)
		cancel()
		if err == nil {
			c.setUp(l)
			return nil
		}
		last = err
		c.log.Info("cannot connect", "url", d.url, "error", err)
		select {
		case <-time.After(c.opts.Reconnect.backoff(n)):
		case <-ctx.Done():
			return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), last)
		}
	}
}

// reconnect opens sessions until one is up, from the URL after lastURL,
// or until Close.
//
// first is the first attempt's place in the backoff series: a session that
// ended soon after it began (a router that welcomes, then drops, the
// client) does not start the series over, so a flapping router is not
// hammered every MinDelay.
func (c *Client) reconnect(lastURL string, first int) {
	rc := c.opts.Reconnect
	next := 0
	for i, d := range c.dials {
		if d.url == lastURL {
			next = i + 1
		}
	}
	for n := first; ; n++ {
		select {
		case <-time.After(rc.backoff(n)):
		case <-c.closeReq:
			c.finish(fmt.Errorf("%w: closed while reconnecting", ErrClosed))
			return
		}
		d := c.dials[(next+n-first)%len(c.dials)]
		ctx, cancel := context.WithTimeout(context.Background(), rc.AttemptTimeout)
		go func() {
			select {
			case <-c.closeReq:
				cancel()
			case <-ctx.Done():
			}
		}()
		l, err := c.open(ctx, d)
		if err == nil {
			err = c.restore(ctx, l)
			if err != nil {
				l.conn.close()
			}
		}
		cancel()
		if err != nil {
			c.log.Info("cannot reconnect", "url", d.url, "error", err)
			continue
		}
		c.mu.Lock()
		closing := c.closing
		if !closing { // as one with Close's look at c.link
			c.link, c.last = l, l
			close(c.up)
			l.upAt, l.series = time.Now(), n
		}
		c.mu.Unlock()
		if closing {
			l.conn.close() // its read loop ends it: not up, so no reconnect
			c.finish(fmt.Errorf("%w: closed while reconnecting", ErrClosed))
			return
		}
		c.log.Info("session up again", "session", uint64(l.id), "url", d.url)
		if rc.OnUp != nil {
			rc.OnUp(l.id, l.details)
		}
		return
	}
}

// restore subscribes and registers again on l what the application had,
// before l serves the application. A failure of the session itself
// (ended, timed out) is returned; refusals are reported, and conflicting
// registrations retried on their own goroutine.
func (c *Client) restore(ctx context.Context, l *link) error {
	c.mu.Lock()
	subs := append([]*appSub(nil), c.subs...)
	regs := append([]*appReg(nil), c.regs...)
	c.mu.Unlock()
	for _, s := range subs {
		if err := c.subscribeOn(ctx, l, s); err != nil {
			if !refused(err) {
				return err
			}
			c.restoreError(s.topic, err)
		}
	}
	for _, r := range regs {
		if err := c.registerOn(ctx, l, r); err != nil {
			if !refused(err) {
				return err
			}
			c.restoreError(r.procedure, err)
			if retryable(err) {
				go c.retryRegister(l, r, err)
			}
		}
	}
	return nil
}

// refused reports whether err is the router's refusal, not the session's end.
func refused(err error) bool {
	var re *wamp.RPCError
	return errors.As(err, &re)
}

// retryable reports whether a REGISTER refusal may pass by itself.
func retryable(err error) bool {
	var re *wamp.RPCError
	return errors.As(err, &re) && re.URI == wamp.ErrProcedureAlreadyExists
}

func (c *Client) restoreError(what string, err error) {
	c.log.Warn("not restored on the new session", "uri", what, "error", err)
	if f := c.opts.Reconnect.OnRestoreError; f != nil {
		f(what, err)
	}
}

// retryDelay is the wait before the n-th retry of a REGISTER refused with
// err: the router's retry_after_ms when it gives one, within the backoff's
// bounds (a router can neither make the client spin nor park it), the
// backoff otherwise.
func (r *Reconnect) retryDelay(n int, err error) time.Duration {
	var re *wamp.RPCError
	if errors.As(err, &re) {
		if ms, ok := wamp.AsInt(re.Kwargs["retry_after_ms"]); ok && ms > 0 && ms < int64(time.Hour/time.Millisecond) {
			return min(max(time.Duration(ms)*time.Millisecond, r.MinDelay), r.MaxDelay)
		}
	}
	return r.backoff(n)
}

// retryRegister registers r on l again until it succeeds, l ends, r is
// unregistered or the router refuses otherwise: the wait follows the
// router's retry_after_ms when it gives one, the backoff otherwise.
func (c *Client) retryRegister(l *link, r *appReg, err error) {
	for n := 0; ; n++ {
		wait := c.opts.Reconnect.retryDelay(n, err)
		select {
		case <-time.After(wait):
		case <-l.lost:
			return
		}
		if !c.stillRegistered(r) {
			return
		}
		ctx, cancel := context.WithTimeout(l.ctx, c.opts.Reconnect.AttemptTimeout)
		err = c.registerOn(ctx, l, r)
		if err == nil {
			c.log.Info("registered again", "procedure", r.procedure, "session", uint64(l.id))
			if !c.stillRegistered(r) { // Unregister came meanwhile
				_ = c.Unregister(ctx, &Registration{Procedure: r.procedure, rec: r})
			}
			cancel()
			return
		}
		cancel()
		if !retryable(err) {
			if refused(err) {
				c.restoreError(r.procedure, err)
			}
			return
		}
		c.restoreError(r.procedure, err)
	}
}

func (c *Client) stillRegistered(r *appReg) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.regs {
		if x == r {
			return true
		}
	}
	return false
}
