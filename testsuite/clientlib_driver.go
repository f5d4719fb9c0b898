package testsuite

import (
	"context"
	"errors"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/wamp"
)

// ClientlibDriver drives Junction's own Go client, over WebSocket or
// RawSocket (clientlib.Connect).
type ClientlibDriver struct{}

func (ClientlibDriver) Name() string { return "clientlib" }

func (ClientlibDriver) Connect(ctx context.Context, target Target, serializer string, compression bool) (Client, error) {
	c, err := clientlib.Connect(ctx, target.URL, target.Realm, clientlib.Options{Serializer: serializer, Compression: compression})
	if err != nil {
		return nil, err
	}
	return &clientlibClient{c}, nil
}

type clientlibClient struct{ c *clientlib.Client }

func (c *clientlibClient) ID() uint64 { return uint64(c.c.ID()) }

func (c *clientlibClient) Register(ctx context.Context, procedure string, h Handler, opts RegisterOptions) (func(context.Context) error, error) {
	reg, err := c.c.Register(ctx, procedure, func(ctx context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		args, kwargs, err := h(ctx, Invocation{Args: inv.Args, Kwargs: inv.Kwargs, Details: inv.Details,
			Progress: func(ctx context.Context, args []any) error { return inv.Progress(ctx, args, nil) },
			NextChunk: func(ctx context.Context) ([]any, bool, error) {
				ch, ok, err := inv.NextChunk(ctx)
				if !ok || err != nil {
					return nil, ok, err
				}
				return ch.Args, true, nil
			}})
		if err != nil {
			var ce *CallError
			if errors.As(err, &ce) {
				return nil, &wamp.RPCError{URI: wamp.URI(ce.URI), Args: ce.Args, Kwargs: ce.Kwargs}
			}
			return nil, err
		}
		return &clientlib.Result{Args: args, Kwargs: kwargs}, nil
	}, &clientlib.RegisterOptions{Match: wamp.MatchPolicy(opts.Match), Invoke: wamp.InvokePolicy(opts.Invoke)})
	if err != nil {
		return nil, callError(err)
	}
	return func(ctx context.Context) error { return callError(c.c.Unregister(ctx, reg)) }, nil
}

func (c *clientlibClient) Call(ctx context.Context, procedure string, args []any, kwargs map[string]any, opts CallOptions) ([]any, map[string]any, error) {
	co := &clientlib.CallOptions{DiscloseMe: opts.DiscloseMe, Timeout: opts.Timeout}
	if opts.OnProgress != nil {
		co.OnProgress = func(r *clientlib.Result) { opts.OnProgress(r.Args) }
	}
	res, err := c.c.Call(ctx, procedure, args, kwargs, co)
	if err != nil {
		return nil, nil, callError(err)
	}
	return res.Args, res.Kwargs, nil
}

// CallChunks implements ChunkCaller.
func (c *clientlibClient) CallChunks(ctx context.Context, procedure string, first []any, more [][]any) ([]any, error) {
	chunks := make(chan clientlib.Chunk, len(more))
	for _, m := range more {
		chunks <- clientlib.Chunk{Args: m}
	}
	close(chunks)
	res, err := c.c.Call(ctx, procedure, first, nil, &clientlib.CallOptions{Chunks: chunks})
	if err != nil {
		return nil, callError(err)
	}
	return res.Args, nil
}

func (c *clientlibClient) Subscribe(ctx context.Context, topic string, h func(Event), opts SubscribeOptions) (func(context.Context) error, error) {
	sub, err := c.c.Subscribe(ctx, topic, func(ev *clientlib.Event) {
		h(Event{Args: ev.Args, Kwargs: ev.Kwargs, Details: ev.Details})
	}, &clientlib.SubscribeOptions{Match: wamp.MatchPolicy(opts.Match), GetRetained: opts.GetRetained})
	if err != nil {
		return nil, callError(err)
	}
	return func(ctx context.Context) error { return callError(c.c.Unsubscribe(ctx, sub)) }, nil
}

func (c *clientlibClient) Publish(ctx context.Context, topic string, args []any, kwargs map[string]any, opts PublishOptions) error {
	po := &clientlib.PublishOptions{Acknowledge: opts.Acknowledge, ExcludeMe: opts.ExcludeMe, DiscloseMe: opts.DiscloseMe, Retain: opts.Retain}
	for _, id := range opts.Exclude {
		po.Exclude = append(po.Exclude, wamp.ID(id))
	}
	for _, id := range opts.Eligible {
		po.Eligible = append(po.Eligible, wamp.ID(id))
	}
	return callError(c.c.Publish(ctx, topic, args, kwargs, po))
}

func (c *clientlibClient) Close(ctx context.Context) error { return c.c.Close(ctx) }
func (c *clientlibClient) Done() <-chan struct{}           { return c.c.Done() }

// callError turns a *wamp.RPCError into a *CallError.
func callError(err error) error {
	var re *wamp.RPCError
	if errors.As(err, &re) {
		return &CallError{URI: string(re.URI), Args: re.Args, Kwargs: re.Kwargs}
	}
	return err
}
