package clientlib

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// Invocation is a call of a registered procedure. Details carry what the
// router disclosed: caller, caller_authid, caller_authrole when the caller is
// disclosed, procedure for pattern registrations, receive_progress.
type Invocation struct {
	Procedure string
	Args      []any
	Kwargs    map[string]any
	Details   wamp.Dict

	l       *link
	request wamp.ID
	chunks  *chunkQueue // progressive call invocation
}

// Progress sends a progressive result to the caller, before the handler
// returns its final result. It fails if the caller did not ask for them.
func (inv *Invocation) Progress(ctx context.Context, args []any, kwargs map[string]any) error {
	if !inv.Details.Bool("receive_progress", false) {
		return fmt.Errorf("clientlib: the caller of %s did not ask for progressive results", inv.Procedure)
	}
	return inv.l.write(ctx, &wamp.Yield{Request: inv.request, Options: wamp.Dict{"progress": true}, Payload: wamp.Values(args, kwargs)})
}

// Result is what a call returns.
type Result struct {
	Args    []any
	Kwargs  map[string]any
	Details wamp.Dict
}

// InvocationHandler answers invocations of a procedure. Returning a
// *wamp.RPCError answers with its URI, args and kwargs; any other error with
// wamp.error.runtime_error and the error's text. ctx is cancelled when the
// session ends.
type InvocationHandler func(ctx context.Context, inv *Invocation) (*Result, error)

// RegisterOptions are REGISTER options.
type RegisterOptions struct {
	Match          wamp.MatchPolicy  // "exact" (default), "prefix" or "wildcard"
	Invoke         wamp.InvokePolicy // shared registration: "single" (default), "roundrobin", "random", "first", "last"
	DiscloseCaller bool              // ask the router to disclose every caller
	Extra          wamp.Dict         // merged into the options as they are
}

// Registration is a registered procedure. ID is the registration id the
// router gave it first; with Reconnect, each new session gives another
// (Unregister knows it).
type Registration struct {
	ID        wamp.ID
	Procedure string
	rec       *appReg
}

type registration struct {
	procedure string
	handler   InvocationHandler
}

// CallOptions are CALL options.
type CallOptions struct {
	Timeout    time.Duration // asks the router to cancel the call after this
	DiscloseMe bool
	// OnProgress receives progressive results, in order, on the calling
	// goroutine, before Call returns the final result.
	OnProgress func(*Result)
	// CancelMode is the CANCEL mode used when ctx ends before the result:
	// "killnowait" (default), "kill" or "skip".
	CancelMode string
	// Chunks, when set, makes a progressive call invocation: Call's args and
	// kwargs are the first chunk, each value received from Chunks is sent
	// as a further chunk, and closing Chunks sends the final (empty) one.
	// The callee must support progressive_call_invocations.
	Chunks <-chan Chunk
	Extra  wamp.Dict
}

// progressBox queues a call's progressive results from the read loop (which
// never blocks on it) to the calling goroutine.
type progressBox struct {
	mu     sync.Mutex
	items  []*wamp.Result
	signal chan struct{}
}

func (b *progressBox) push(r *wamp.Result) {
	b.mu.Lock()
	b.items = append(b.items, r)
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

func (b *progressBox) take() []*wamp.Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	items := b.items
	b.items = nil
	return items
}

// ErrRuntime is the URI of errors returned by handlers that are not *wamp.RPCError.
const ErrRuntime wamp.URI = "wamp.error.runtime_error"

// Register registers procedure with handler h.
func (c *Client) Register(ctx context.Context, procedure string, h InvocationHandler, opts *RegisterOptions) (*Registration, error) {
	options := wamp.Dict{}
	if opts != nil {
		for k, v := range opts.Extra {
			options[k] = v
		}
		if opts.Match != "" {
			options[wamp.OptMatch] = string(opts.Match)
		}
		if opts.Invoke != "" {
			options[wamp.OptInvoke] = string(opts.Invoke)
		}
		if opts.DiscloseCaller {
			options["disclose_caller"] = true
		}
	}
	r := &appReg{procedure: procedure, options: options, handler: h}
	l, err := c.current(ctx, c.waits())
	if err != nil {
		return nil, err
	}
	if err := c.registerOn(ctx, l, r); err != nil {
		return nil, err
	}
	if err := c.keep(l, func() { c.regs = append(c.regs, r) }); err != nil {
		return nil, err
	}
	return &Registration{ID: r.id, Procedure: procedure, rec: r}, nil
}

// registerOn registers r on session l.
func (c *Client) registerOn(ctx context.Context, l *link, r *appReg) error {
	install := func(l *link, m wamp.Message) {
		if reg, ok := m.(*wamp.Registered); ok {
			c.mu.Lock()
			l.handlers[reg.Registration] = &registration{procedure: r.procedure, handler: r.handler}
			r.link, r.id = l, reg.Registration
			c.mu.Unlock()
		}
	}
	// A REGISTERED that comes once the REGISTER was given up would leave
	// the router routing calls to a procedure with no handler here, and
	// refusing it to every other session: it is taken back.
	late := func(l *link, m wamp.Message) {
		if reg, ok := m.(*wamp.Registered); ok {
			c.log.Info("REGISTERED after its REGISTER was given up: unregistering", "procedure", r.procedure, "registration", uint64(reg.Registration))
			c.discard(l, func(id wamp.ID) wamp.Message {
				return &wamp.Unregister{Request: id, Registration: reg.Registration}
			})
		}
	}
	reply, err := c.requestOn(ctx, l, request{build: func(id wamp.ID) wamp.Message {
		return &wamp.Register{Request: id, Options: r.options, Procedure: wamp.URI(r.procedure)}
	}, hook: install, late: late})
	if err != nil {
		return err
	}
	if _, ok := reply.(*wamp.Registered); !ok {
		return fmt.Errorf("clientlib: REGISTER answered with %s", reply.MessageType())
	}
	return nil
}

// Unregister removes a registration. With Reconnect, it is not restored
// on later sessions; while there is none, there is nothing to tell a
// router and it returns nil.
func (c *Client) Unregister(ctx context.Context, reg *Registration) error {
	c.mu.Lock()
	l, id := c.link, reg.ID
	if r := reg.rec; r != nil {
		l, id = r.link, r.id
		for i, x := range c.regs {
			if x == r {
				c.regs = append(c.regs[:i:i], c.regs[i+1:]...)
				break
			}
		}
	}
	c.mu.Unlock()
	if l == nil {
		if c.opts.Reconnect != nil && !c.closingNow() {
			return nil
		}
		return c.closedErr()
	}
	_, err := c.requestOn(ctx, l, request{build: func(rid wamp.ID) wamp.Message {
		return &wamp.Unregister{Request: rid, Registration: id}
	}})
	if err == nil {
		c.mu.Lock()
		delete(l.handlers, id)
		c.mu.Unlock()
	}
	return err
}

// Call calls procedure and waits for its result. When ctx ends first, the
// call is canceled at the router (CANCEL, in opts.CancelMode) and Call
// returns ctx.Err().
func (c *Client) Call(ctx context.Context, procedure string, args []any, kwargs map[string]any, opts *CallOptions) (*Result, error) {
	if opts == nil {
		opts = &CallOptions{}
	}
	options := wamp.Dict{}
	for k, v := range opts.Extra {
		options[k] = v
	}
	if opts.Timeout > 0 {
		options["timeout"] = opts.Timeout.Milliseconds()
	}
	if opts.DiscloseMe {
		options[wamp.OptDiscloseMe] = true
	}
	l, err := c.current(ctx, c.waits())
	if err != nil {
		return nil, err
	}
	ch := make(chan wamp.Message, 1)
	var box *progressBox
	c.mu.Lock()
	c.nextReq++
	id := c.nextReq
	c.pending[id] = ch
	if opts.OnProgress != nil {
		box = &progressBox{signal: make(chan struct{}, 1)}
		c.progress[id] = box
		options["receive_progress"] = true
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		delete(c.progress, id)
		c.mu.Unlock()
	}()
	first := options
	if opts.Chunks != nil {
		first = wamp.Dict{"progress": true}
		for k, v := range options {
			first[k] = v
		}
	}
	call := &wamp.Call{Request: id, Options: first, Procedure: wamp.URI(procedure), Payload: wamp.Values(args, kwargs)}
	if err := l.write(ctx, call); err != nil {
		var ns notSent
		if ctx.Err() != nil && !errors.As(err, &ns) {
			c.cancelCall(l, id, opts.CancelMode) // the CALL may have gone out
		}
		return nil, err
	}
	var chunked chan error // the end of sending the chunks
	if opts.Chunks != nil {
		chunked = make(chan error, 1)
		go func() { chunked <- c.sendChunks(ctx, l, id, procedure, options, opts.Chunks) }()
	}
	var signal chan struct{}
	if box != nil {
		signal = box.signal
	}
	for {
		select {
		case <-signal:
			c.deliverProgress(box, opts.OnProgress)
		case m := <-ch:
			if box != nil {
				c.deliverProgress(box, opts.OnProgress)
			}
			return callResult(procedure, m)
		case err := <-chunked:
			if err != nil { // a chunk not sent (too large...): the call cannot complete
				c.cancelCall(l, id, opts.CancelMode)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, fmt.Errorf("clientlib: progressive call of %s cut short: %w", procedure, err)
			}
			chunked = nil
		case <-ctx.Done():
			c.cancelCall(l, id, opts.CancelMode)
			return nil, ctx.Err()
		case <-l.lost:
			return nil, l.lostErr()
		}
	}
}

func (c *Client) deliverProgress(box *progressBox, fn func(*Result)) {
	for _, r := range box.take() {
		a, kw, err := serializers.DecodePayload(&r.Payload)
		if err != nil {
			c.log.Error("undecodable progressive result", "error", err)
			continue
		}
		fn(&Result{Args: a, Kwargs: kw, Details: r.Details})
	}
}

// cancelCall asks the router to cancel call id; it does not wait.
func (c *Client) cancelCall(l *link, id wamp.ID, mode string) {
	if mode == "" {
		mode = "killnowait"
	}
	ctx, cancel := context.WithTimeout(l.ctx, c.opts.CloseTimeout)
	defer cancel()
	if err := l.write(ctx, &wamp.Cancel{Request: id, Options: wamp.Dict{"mode": mode}}); err != nil {
		c.log.Debug("cannot send CANCEL", "request", uint64(id), "error", err)
	}
}

func callResult(procedure string, m wamp.Message) (*Result, error) {
	switch m := m.(type) {
	case *wamp.Error:
		return nil, rpcError(m)
	case *wamp.Result:
		args, kwargs, err := serializers.DecodePayload(&m.Payload)
		if err != nil {
			return nil, fmt.Errorf("clientlib: result of %s: %w", procedure, err)
		}
		return &Result{Args: args, Kwargs: kwargs, Details: m.Details}, nil
	}
	return nil, fmt.Errorf("clientlib: CALL answered with %s", m.MessageType())
}

// invoke runs the handler of an INVOCATION on its own goroutine.
func (c *Client) invoke(l *link, m *wamp.Invocation) {
	c.mu.Lock()
	reg := l.handlers[m.Registration]
	q := l.chunked[m.Request]
	c.mu.Unlock()
	if q != nil { // a further chunk of a progressive call invocation
		q.push(m)
		return
	}
	if reg == nil {
		c.answer(l, m.Request, nil, wamp.NewError(wamp.ErrNoSuchRegistration, "not registered in this session"))
		return
	}
	var chunks *chunkQueue
	if m.Details.Bool("progress", false) {
		chunks = &chunkQueue{signal: make(chan struct{}, 1)}
	}
	ctx, cancel := context.WithCancel(l.ctx)
	c.mu.Lock()
	l.running[m.Request] = cancel
	if chunks != nil {
		l.chunked[m.Request] = chunks
	}
	c.mu.Unlock()
	go func() {
		defer func() {
			c.mu.Lock()
			delete(l.running, m.Request)
			delete(l.chunked, m.Request)
			c.mu.Unlock()
			cancel()
		}()
		args, kwargs, err := serializers.DecodePayload(&m.Payload)
		if err != nil {
			c.answer(l, m.Request, nil, wamp.NewError(wamp.ErrInvalidArgument, err.Error()))
			return
		}
		procedure := reg.procedure
		if p := m.Details.String("procedure"); p != "" {
			procedure = p
		}
		res, err := c.runHandler(ctx, reg.handler, &Invocation{Procedure: procedure, Args: args, Kwargs: kwargs, Details: m.Details, l: l, request: m.Request, chunks: chunks})
		c.answer(l, m.Request, res, err)
	}()
}

func (c *Client) runHandler(ctx context.Context, h InvocationHandler, inv *Invocation) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("procedure handler panicked", "procedure", inv.Procedure, "panic", r)
			res, err = nil, wamp.NewError(ErrRuntime, fmt.Sprint("handler panicked: ", r))
		}
	}()
	return h(ctx, inv)
}

// answer sends YIELD or ERROR for an invocation of session l. When l has
// ended, the answer is dropped: the router has answered the caller.
func (c *Client) answer(l *link, request wamp.ID, res *Result, err error) {
	var m wamp.Message
	if err != nil {
		e, ok := err.(*wamp.RPCError)
		if !ok {
			e = wamp.NewError(ErrRuntime, err.Error())
		}
		details := e.Details
		if details == nil {
			details = wamp.Dict{}
		}
		m = &wamp.Error{Type: wamp.INVOCATION, Request: request, Details: details, Error: e.URI, Payload: wamp.Values(e.Args, e.Kwargs)}
	} else {
		y := &wamp.Yield{Request: request, Options: wamp.Dict{}}
		if res != nil {
			y.Payload = wamp.Values(res.Args, res.Kwargs)
		}
		m = y
	}
	werr := l.write(l.ctx, m)
	if uri := unsent(werr); uri != "" {
		// Not sent, the connection fine: the caller is told rather than
		// left waiting.
		c.log.Warn("cannot answer invocation", "request", uint64(request), "error", werr)
		werr = l.write(l.ctx, &wamp.Error{Type: wamp.INVOCATION, Request: request, Details: wamp.Dict{}, Error: uri, Payload: wamp.Values([]any{werr.Error()}, nil)})
	}
	if werr != nil {
		c.log.Debug("cannot answer invocation", "request", uint64(request), "error", werr)
	}
}

// unsent is the error URI to answer a caller with when err is a result
// that could not be sent while the connection is fine: too large for the
// router, or a value its serializer cannot carry; "" for any other err.
func unsent(err error) wamp.URI {
	switch {
	case errors.Is(err, ErrTooLarge):
		return wamp.ErrPayloadSizeExceeded
	case errors.Is(err, serializers.ErrUnconvertible):
		return wamp.ErrInvalidArgument
	}
	return ""
}

// closingNow reports whether Close was called.
func (c *Client) closingNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}
