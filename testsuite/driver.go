package testsuite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Target is a router to test.
type Target struct {
	// URL is where peers connect: a WebSocket URL (ws://127.0.0.1:8080/ws,
	// wss://) or a RawSocket one (rs://127.0.0.1:8080, rss://,
	// unix:///path/to.sock).
	URL   string
	Realm string
	// More are further URLs of the same router, such as the other nodes of
	// a cluster: a scenario's peers connect to URL, More[0], More[1], ...
	// in turn, so each peer of a scenario is on another node.
	More []string
	// Transports are URLs of the same router over other transports than
	// URL's, e.g. rs://127.0.0.1:8080 and unix:///run/j.sock beside
	// ws://127.0.0.1:8080/ws: Run runs the scenarios over each of them as
	// well, and mixes them with URL in the mixed runs.
	Transports []string
}

// Driver connects clients of one WAMP client library. Connect connects to
// target.URL, of any scheme Target.URL may have; compression applies to
// WebSocket only.
type Driver interface {
	Name() string
	Connect(ctx context.Context, target Target, serializer string, compression bool) (Client, error)
}

// Deviator is implemented by drivers whose client library is known to
// deviate from the spec in some scenario; the scenario is skipped for them
// with the reason printed.
type Deviator interface {
	Deviation(scenario, serializer string) string
}

// Handler answers an invocation. Return a *CallError to answer with a WAMP error.
type Handler func(ctx context.Context, inv Invocation) ([]any, map[string]any, error)

// Invocation is an invocation as a handler sees it.
type Invocation struct {
	Args    []any
	Kwargs  map[string]any
	Details map[string]any
	// Progress sends a progressive result (when the caller asked for them).
	Progress func(ctx context.Context, args []any) error
	// NextChunk returns the next chunk of a progressive call invocation's
	// args (ok false after the last); nil when the driver has no such API.
	NextChunk func(ctx context.Context) (args []any, ok bool, err error)
}

// ChunkCaller is implemented by clients that can make progressive call
// invocations: first and every value of more are sent as chunks, then the
// final one.
type ChunkCaller interface {
	CallChunks(ctx context.Context, procedure string, first []any, more [][]any) ([]any, error)
}

// RegisterOptions are the REGISTER options scenarios use.
type RegisterOptions struct {
	Match  string // "", "prefix", "wildcard"
	Invoke string // "", "roundrobin", ...
}

// CallOptions are the CALL options scenarios use.
type CallOptions struct {
	DiscloseMe bool
	Timeout    time.Duration
	OnProgress func(args []any)
}

// SubscribeOptions are the SUBSCRIBE options scenarios use.
type SubscribeOptions struct {
	Match       string
	GetRetained bool
}

// Event is a received event.
type Event struct {
	Args    []any
	Kwargs  map[string]any
	Details map[string]any
}

// PublishOptions are the publish options scenarios use.
type PublishOptions struct {
	Acknowledge bool
	ExcludeMe   *bool // nil: the router's default
	DiscloseMe  bool
	Retain      bool
	Exclude     []uint64
	Eligible    []uint64
}

// Client is one WAMP session, as the scenarios use it.
type Client interface {
	ID() uint64
	Register(ctx context.Context, procedure string, h Handler, opts RegisterOptions) (unregister func(context.Context) error, err error)
	Call(ctx context.Context, procedure string, args []any, kwargs map[string]any, opts CallOptions) ([]any, map[string]any, error)
	Subscribe(ctx context.Context, topic string, h func(Event), opts SubscribeOptions) (unsubscribe func(context.Context) error, err error)
	Publish(ctx context.Context, topic string, args []any, kwargs map[string]any, opts PublishOptions) error
	Close(ctx context.Context) error
	Done() <-chan struct{} // closed when the session has ended
}

// CallError is a WAMP error as the scenarios see it, whatever the driver.
type CallError struct {
	URI    string
	Args   []any
	Kwargs map[string]any
}

func (e *CallError) Error() string { return fmt.Sprintf("%s %v %v", e.URI, e.Args, e.Kwargs) }

// PeerConfig is how one peer of a scenario connects.
type PeerConfig struct {
	Driver      Driver
	Serializer  string
	Compression bool
	// URL is one of Target.Transports to connect to; "": Target.URL (or
	// More's, in turn).
	URL string
}

func (pc PeerConfig) String() string {
	s := pc.Driver.Name() + "/" + pc.Serializer
	if pc.Compression {
		s += "+deflate"
	}
	if pc.URL != "" {
		s += "@" + scheme(pc.URL)
	}
	return s
}

// scheme is the scheme of url, lower case: "ws", "rs", "unix"...
func scheme(url string) string {
	scheme, _, _ := strings.Cut(url, "://")
	return strings.ToLower(scheme)
}

// isWebSocket reports whether url is a WebSocket URL, the transport
// compression applies to.
func isWebSocket(url string) bool { s := scheme(url); return s == "ws" || s == "wss" }

// env is what a scenario runs in: the target, and the configs its peers use
// in turn (one config, or several to mix clients and serializers).
type env struct {
	target  Target
	peers   []PeerConfig
	next    int
	prefix  string
	timeout context.Context
	history string // RunOptions.HistoryPrefix
}

// connect opens the next peer and closes it when the test ends.
func (e *env) connect(t *testing.T) Client {
	t.Helper()
	pc := e.peers[e.next%len(e.peers)]
	target := e.target
	if urls := append([]string{target.URL}, target.More...); len(urls) > 1 {
		target.URL = urls[e.next%len(urls)]
	}
	if pc.URL != "" {
		target.URL = pc.URL
	}
	e.next++
	c, err := pc.Driver.Connect(e.timeout, target, pc.Serializer, pc.Compression)
	if err != nil {
		t.Fatalf("connect %s: %v", pc, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5e9)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

// uri returns a URI unique to this scenario run.
func (e *env) uri(name string) string { return e.prefix + "." + name }
