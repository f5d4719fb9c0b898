package testsuite

import (
	"context"
	"errors"
	"io"
	"log"
	"regexp"

	nexusclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport"
	"github.com/gammazero/nexus/v3/transport/serialize"
	nexuswamp "github.com/gammazero/nexus/v3/wamp"
)

// NexusDriver drives the nexus Go client (github.com/gammazero/nexus/v3/client),
// an independent implementation of the WAMP client side, over WebSocket
// and RawSocket (its own: TCP, TLS and Unix sockets).
type NexusDriver struct{}

func (NexusDriver) Name() string { return "nexus" }

func (NexusDriver) Connect(ctx context.Context, target Target, serializer string, compression bool) (Client, error) {
	ser := map[string]serialize.Serialization{"json": serialize.JSON, "msgpack": serialize.MSGPACK, "cbor": serialize.CBOR}[serializer]
	c, err := nexusclient.ConnectNet(ctx, nexusURL(target.URL), nexusclient.Config{
		Realm:         target.Realm,
		Serialization: ser,
		Logger:        log.New(io.Discard, "", 0),
		WsCfg:         transport.WebsocketConfig{EnableCompression: compression},
	})
	if err != nil {
		return nil, err
	}
	return &nexusClient{c}, nil
}

// nexusURL is url as ConnectNet takes it: RawSocket over TCP is tcp://
// (tcps:// over TLS) to nexus, as unix:// is over a Unix socket.
func nexusURL(url string) string {
	switch scheme(url) {
	case "rs":
		return "tcp" + url[len("rs"):]
	case "rss":
		return "tcps" + url[len("rss"):]
	}
	return url
}

// Deviation implements Deviator.
func (NexusDriver) Deviation(scenario, serializer string) string {
	switch {
	case scenario == "binary_payload" && serializer == "json":
		return "its JSON serializer writes []byte as plain base64, without WAMP's \\u0000 prefix, so the peer gets a string"
	case scenario == "progressive_call_invocations":
		return "its client has no API to send a call in progressive chunks (CALL with progress=true)"
	case scenario == "event_retention":
		return "it installs an event handler only after SUBSCRIBED is handed to the subscribing goroutine, so the retained EVENT that follows SUBSCRIBED at once finds no handler and is dropped"
	}
	return ""
}

type nexusClient struct{ c *nexusclient.Client }

func (c *nexusClient) ID() uint64 { return uint64(c.c.ID()) }

func (c *nexusClient) Register(_ context.Context, procedure string, h Handler, opts RegisterOptions) (func(context.Context) error, error) {
	options := nexuswamp.Dict{}
	if opts.Match != "" {
		options["match"] = opts.Match
	}
	if opts.Invoke != "" {
		options["invoke"] = opts.Invoke
	}
	err := c.c.Register(procedure, func(ctx context.Context, inv *nexuswamp.Invocation) nexusclient.InvokeResult {
		args, kwargs, err := h(ctx, Invocation{Args: inv.Arguments, Kwargs: inv.ArgumentsKw, Details: inv.Details,
			Progress: func(ctx context.Context, args []any) error { return c.c.SendProgress(ctx, args, nil) }})
		if err != nil {
			var ce *CallError
			if errors.As(err, &ce) {
				return nexusclient.InvokeResult{Err: nexuswamp.URI(ce.URI), Args: ce.Args, Kwargs: ce.Kwargs}
			}
			return nexusclient.InvokeResult{Err: "wamp.error.runtime_error", Args: nexuswamp.List{err.Error()}}
		}
		return nexusclient.InvokeResult{Args: args, Kwargs: kwargs}
	}, options)
	if err != nil {
		return nil, nexusError(err)
	}
	return func(context.Context) error { return nexusError(c.c.Unregister(procedure)) }, nil
}

func (c *nexusClient) Call(ctx context.Context, procedure string, args []any, kwargs map[string]any, opts CallOptions) ([]any, map[string]any, error) {
	options := nexuswamp.Dict{}
	if opts.DiscloseMe {
		options["disclose_me"] = true
	}
	if opts.Timeout > 0 {
		options["timeout"] = opts.Timeout.Milliseconds()
	}
	var progress nexusclient.ProgressHandler
	if opts.OnProgress != nil {
		progress = func(r *nexuswamp.Result) { opts.OnProgress(r.Arguments) }
	}
	res, err := c.c.Call(ctx, procedure, options, args, kwargs, progress)
	if err != nil {
		return nil, nil, nexusError(err)
	}
	return res.Arguments, res.ArgumentsKw, nil
}

// CallChunks implements ChunkCaller with the nexus client's CallProgressive.
func (c *nexusClient) CallChunks(ctx context.Context, procedure string, first []any, more [][]any) ([]any, error) {
	chunks := append([][]any{first}, more...)
	i := 0
	res, err := c.c.CallProgressive(ctx, procedure, func(context.Context) (nexuswamp.Dict, nexuswamp.List, nexuswamp.Dict, error) {
		if i < len(chunks) {
			args := chunks[i]
			i++
			return nexuswamp.Dict{"progress": true}, args, nil, nil
		}
		return nexuswamp.Dict{"progress": false}, nil, nil, nil // nexus needs the key
	}, nil)
	if err != nil {
		return nil, nexusError(err)
	}
	return res.Arguments, nil
}

func (c *nexusClient) Subscribe(_ context.Context, topic string, h func(Event), opts SubscribeOptions) (func(context.Context) error, error) {
	options := nexuswamp.Dict{}
	if opts.Match != "" {
		options["match"] = opts.Match
	}
	if opts.GetRetained {
		options["get_retained"] = true
	}
	err := c.c.Subscribe(topic, func(ev *nexuswamp.Event) {
		h(Event{Args: ev.Arguments, Kwargs: ev.ArgumentsKw, Details: ev.Details})
	}, options)
	if err != nil {
		return nil, nexusError(err)
	}
	return func(context.Context) error { return nexusError(c.c.Unsubscribe(topic)) }, nil
}

func (c *nexusClient) Publish(_ context.Context, topic string, args []any, kwargs map[string]any, opts PublishOptions) error {
	options := nexuswamp.Dict{}
	if opts.Acknowledge {
		options["acknowledge"] = true
	}
	if opts.ExcludeMe != nil {
		options["exclude_me"] = *opts.ExcludeMe
	}
	if opts.DiscloseMe {
		options["disclose_me"] = true
	}
	if opts.Retain {
		options["retain"] = true
	}
	if opts.Exclude != nil {
		options["exclude"] = toList(opts.Exclude)
	}
	if opts.Eligible != nil {
		options["eligible"] = toList(opts.Eligible)
	}
	return nexusError(c.c.Publish(topic, options, args, kwargs))
}

func (c *nexusClient) Close(context.Context) error { return c.c.Close() }
func (c *nexusClient) Done() <-chan struct{}       { return c.c.Done() }

func toList(ids []uint64) nexuswamp.List {
	out := make(nexuswamp.List, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

func nexusError(err error) error {
	var re nexusclient.RPCError
	if errors.As(err, &re) {
		return &CallError{URI: string(re.Err.Error), Args: re.Err.Arguments, Kwargs: re.Err.ArgumentsKw}
	}
	// REGISTER and SUBSCRIBE errors come back as text: "registering
	// procedure 'p': wamp.error.procedure_already_exists: ...".
	if err != nil {
		if uri := errorURI.FindString(err.Error()); uri != "" {
			return &CallError{URI: uri, Args: []any{err.Error()}}
		}
	}
	return err
}

var errorURI = regexp.MustCompile(`wamp\.error\.[a-z_]+`)
