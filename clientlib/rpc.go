package clientlib

import (
	"context"
	"fmt"
	"time"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/wamp"
)

// Invocation is a call of a registered procedure.
type Invocation struct {
	Procedure string
	Args      []any
	Kwargs    map[string]any
	Details   wamp.Dict
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
	Match  string    // "exact" (default), "prefix" or "wildcard"
	Invoke string    // shared registration policy
	Extra  wamp.Dict // merged into the options as they are
}

// Registration is a registered procedure.
type Registration struct {
	ID        wamp.ID
	Procedure string
}

type registration struct {
	procedure string
	handler   InvocationHandler
}

// CallOptions are CALL options.
type CallOptions struct {
	Timeout    time.Duration // asks the router to cancel the call after this
	DiscloseMe bool
	Extra      wamp.Dict
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
			options[wamp.OptMatch] = opts.Match
		}
		if opts.Invoke != "" {
			options[wamp.OptInvoke] = opts.Invoke
		}
	}
	reply, err := c.request(ctx, func(id wamp.ID) wamp.Message {
		return &wamp.Register{Request: id, Options: options, Procedure: wamp.URI(procedure)}
	})
	if err != nil {
		return nil, err
	}
	reg, ok := reply.(*wamp.Registered)
	if !ok {
		return nil, fmt.Errorf("clientlib: REGISTER answered with %s", reply.MessageType())
	}
	c.mu.Lock()
	c.handlers[reg.Registration] = &registration{procedure: procedure, handler: h}
	c.mu.Unlock()
	return &Registration{ID: reg.Registration, Procedure: procedure}, nil
}

// Unregister removes a registration.
func (c *Client) Unregister(ctx context.Context, reg *Registration) error {
	_, err := c.request(ctx, func(id wamp.ID) wamp.Message {
		return &wamp.Unregister{Request: id, Registration: reg.ID}
	})
	if err == nil {
		c.mu.Lock()
		delete(c.handlers, reg.ID)
		c.mu.Unlock()
	}
	return err
}

// Call calls procedure and waits for its result, or ctx.
func (c *Client) Call(ctx context.Context, procedure string, args []any, kwargs map[string]any, opts *CallOptions) (*Result, error) {
	options := wamp.Dict{}
	if opts != nil {
		for k, v := range opts.Extra {
			options[k] = v
		}
		if opts.Timeout > 0 {
			options["timeout"] = opts.Timeout.Milliseconds()
		}
		if opts.DiscloseMe {
			options[wamp.OptDiscloseMe] = true
		}
	}
	reply, err := c.request(ctx, func(id wamp.ID) wamp.Message {
		return &wamp.Call{Request: id, Options: options, Procedure: wamp.URI(procedure), Payload: wamp.Values(args, kwargs)}
	})
	if err != nil {
		return nil, err
	}
	res, ok := reply.(*wamp.Result)
	if !ok {
		return nil, fmt.Errorf("clientlib: CALL answered with %s", reply.MessageType())
	}
	rargs, rkwargs, err := serializers.DecodePayload(&res.Payload)
	if err != nil {
		return nil, fmt.Errorf("clientlib: result of %s: %w", procedure, err)
	}
	return &Result{Args: rargs, Kwargs: rkwargs, Details: res.Details}, nil
}

// invoke runs the handler of an INVOCATION on its own goroutine.
func (c *Client) invoke(m *wamp.Invocation) {
	c.mu.Lock()
	reg := c.handlers[m.Registration]
	c.mu.Unlock()
	if reg == nil {
		c.answer(m.Request, nil, wamp.NewError(wamp.ErrNoSuchRegistration, "not registered in this session"))
		return
	}
	go func() {
		args, kwargs, err := serializers.DecodePayload(&m.Payload)
		if err != nil {
			c.answer(m.Request, nil, wamp.NewError(wamp.ErrInvalidArgument, err.Error()))
			return
		}
		procedure := reg.procedure
		if p := m.Details.String("procedure"); p != "" {
			procedure = p
		}
		res, err := c.runHandler(reg.handler, &Invocation{Procedure: procedure, Args: args, Kwargs: kwargs, Details: m.Details})
		c.answer(m.Request, res, err)
	}()
}

func (c *Client) runHandler(h InvocationHandler, inv *Invocation) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("procedure handler panicked", "procedure", inv.Procedure, "panic", r)
			res, err = nil, wamp.NewError(ErrRuntime, fmt.Sprint("handler panicked: ", r))
		}
	}()
	return h(c.ctx, inv)
}

// answer sends YIELD or ERROR for an invocation.
func (c *Client) answer(request wamp.ID, res *Result, err error) {
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
	if werr := c.write(c.ctx, m); werr != nil {
		c.log.Debug("cannot answer invocation", "request", uint64(request), "error", werr)
	}
}

func (c *Client) ctxOrBackground() context.Context {
	if c.ctx != nil {
		return c.ctx
	}
	return context.Background()
}
