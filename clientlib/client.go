package clientlib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/serializers"
	"github.com/junction-wamp/junction/transport/local"
	"github.com/junction-wamp/junction/transport/rawsocket"
	"github.com/junction-wamp/junction/wamp"
)

// ErrClosed is wrapped by the errors of calls on a session that has ended.
var ErrClosed = errors.New("clientlib: session closed")

// Options configure a connection. The zero value is json without compression.
type Options struct {
	Serializer   string          // "json" (default), "msgpack" or "cbor"
	Compression  bool            // offer permessage-deflate (WebSocket only)
	HelloDetails wamp.Dict       // extra HELLO details, merged with roles
	AuthID       string          // the authid to authenticate as
	Auth         []Authenticator // offered in this order; none: anonymous
	Header       http.Header     // extra handshake headers, e.g. Origin (WebSocket only)
	// Dialer is optional; its Subprotocols are replaced. Over RawSocket,
	// its TLSClientConfig is the TLS config of rss:// and its
	// HandshakeTimeout bounds the dial and the RawSocket handshake, as it
	// does the WebSocket one (10s when Dialer is nil).
	Dialer       *websocket.Dialer
	Logger       *slog.Logger  // default slog.Default()
	CloseTimeout time.Duration // how long Close waits for the router's GOODBYE; default 5s
	// ReadLimit is the largest message accepted from the router; a larger
	// one ends the session. Over RawSocket it is announced in the
	// handshake, as the largest power of two not over it from 512 octets
	// to 16 MiB; default DefaultReadLimit (16 MiB). Over WebSocket the
	// default is no limit.
	ReadLimit int
	// Local configures the in-process connection of ConnectLocal (queue
	// bounds, RemoteAddr); its Serializer is replaced by Serializer.
	// Connect ignores it.
	Local local.Config
}

// Client is one WAMP session.
type Client struct {
	conn    conn
	log     *slog.Logger
	opts    Options
	id      wamp.ID
	details wamp.Dict

	mu       sync.Mutex
	nextReq  wamp.ID
	pending  map[wamp.ID]chan wamp.Message
	hooks    map[wamp.ID]func(wamp.Message)
	progress map[wamp.ID]*progressBox       // calls that asked for progressive results
	running  map[wamp.ID]context.CancelFunc // invocations being handled, for INTERRUPT
	chunked  map[wamp.ID]*chunkQueue        // progressive call invocations being handled
	handlers map[wamp.ID]*registration
	subs     map[wamp.ID]*subscription
	closing  bool
	goodbye  chan struct{} // closed when the router answers our GOODBYE

	ctx    context.Context // cancelled when the session ends
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// withDefaults fills the defaults of opts in and returns its serializer.
func (opts *Options) withDefaults() (serializers.Serializer, error) {
	if opts.Serializer == "" {
		opts.Serializer = "json"
	}
	ser, ok := serializers.ByName(opts.Serializer)
	if !ok {
		return nil, fmt.Errorf("clientlib: unknown serializer %q", opts.Serializer)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CloseTimeout == 0 {
		opts.CloseTimeout = 5 * time.Second
	}
	return ser, nil
}

// Connect connects to the router at url and joins realm. url is a
// WebSocket URL (ws://host:port/path, wss:// for TLS) or a RawSocket one:
// rs://host:port (TCP), rss://host:port (TLS) or unix:///path/to.sock (a
// Unix domain socket). ctx bounds the dial, the transport's handshake and
// joining the realm.
//
// Over RawSocket the router announces the longest message it accepts: a
// longer one is not sent, and its method returns an error wrapping
// ErrTooLarge, the session going on. RawSocket has no compression and no
// HTTP headers: Compression and Header do not apply.
func Connect(ctx context.Context, url, realm string, opts Options) (*Client, error) {
	ser, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	e, raw, err := rawsocket.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("clientlib: %w", err)
	}
	var cn conn
	if raw {
		cn, err = dialRawSocket(ctx, url, e, ser, opts)
	} else {
		cn, err = dialWebSocket(ctx, url, ser, opts)
	}
	if err != nil {
		return nil, err
	}
	return start(ctx, cn, realm, opts)
}

// dialWebSocket opens a WebSocket to url for ser's subprotocol.
func dialWebSocket(ctx context.Context, url string, ser serializers.Serializer, opts Options) (*wsConn, error) {
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment}
	if opts.Dialer != nil {
		dialer = *opts.Dialer
	}
	dialer.Subprotocols = []string{ser.Subprotocol()}
	dialer.EnableCompression = opts.Compression
	conn, resp, err := dialer.DialContext(ctx, url, opts.Header)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			_ = resp.Body.Close()
			return nil, fmt.Errorf("clientlib: handshake refused: %s: %s", resp.Status, body)
		}
		return nil, fmt.Errorf("clientlib: dial %s: %w", url, err)
	}
	if conn.Subprotocol() != ser.Subprotocol() {
		_ = conn.Close()
		return nil, fmt.Errorf("clientlib: router chose subprotocol %q, want %q", conn.Subprotocol(), ser.Subprotocol())
	}
	if opts.ReadLimit > 0 {
		conn.SetReadLimit(int64(opts.ReadLimit))
	}
	return newWSConn(conn, ser), nil
}

// start joins realm over cn and starts the read loop.
func start(ctx context.Context, cn conn, realm string, opts Options) (*Client, error) {
	c := &Client{
		conn: cn, log: opts.Logger, opts: opts,
		pending:  make(map[wamp.ID]chan wamp.Message),
		hooks:    make(map[wamp.ID]func(wamp.Message)),
		progress: make(map[wamp.ID]*progressBox),
		running:  make(map[wamp.ID]context.CancelFunc),
		chunked:  make(map[wamp.ID]*chunkQueue),
		handlers: make(map[wamp.ID]*registration),
		subs:     make(map[wamp.ID]*subscription),
		goodbye:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	if err := c.join(ctx, realm); err != nil {
		cn.close()
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.readLoop()
	return c, nil
}

// join sends HELLO and reads WELCOME or ABORT.
func (c *Client) join(ctx context.Context, realm string) error {
	details := wamp.Dict{
		"agent": "junction-clientlib",
		"roles": wamp.Dict{
			wamp.RoleCaller: wamp.Dict{"features": wamp.Dict{
				"call_canceling": true, "progressive_call_results": true, "call_timeout": true, "caller_identification": true,
				"progressive_call_invocations": true,
			}},
			wamp.RoleCallee: wamp.Dict{"features": wamp.Dict{
				"call_canceling": true, "progressive_call_results": true, "caller_identification": true,
				"pattern_based_registration": true, "shared_registration": true, "progressive_call_invocations": true,
			}},
			wamp.RolePublisher: wamp.Dict{"features": wamp.Dict{
				"publisher_exclusion": true, "publisher_identification": true, "subscriber_blackwhite_listing": true,
			}},
			wamp.RoleSubscriber: wamp.Dict{"features": wamp.Dict{
				"pattern_based_subscription": true, "publisher_identification": true,
			}},
		},
	}
	for k, v := range c.opts.HelloDetails {
		details[k] = v
	}
	if c.opts.AuthID != "" {
		details["authid"] = c.opts.AuthID
	}
	if len(c.opts.Auth) > 0 {
		methods := make([]any, len(c.opts.Auth))
		for i, a := range c.opts.Auth {
			methods[i] = a.Method()
			if he, ok := a.(helloExtra); ok {
				details["authextra"] = he.authExtra()
			}
		}
		details["authmethods"] = methods
	}
	if err := c.write(ctx, &wamp.Hello{Realm: wamp.URI(realm), Details: details}); err != nil {
		return err
	}
	msg, err := c.conn.read(ctx)
	if ch, ok := msg.(*wamp.Challenge); ok && err == nil {
		if err := c.answerChallenge(ctx, ch); err != nil {
			return err
		}
		msg, err = c.conn.read(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("clientlib: joining %s: %w", realm, err)
	}
	switch m := msg.(type) {
	case *wamp.Welcome:
		c.id, c.details = m.Session, m.Details
		return nil
	case *wamp.Abort:
		e := &wamp.RPCError{URI: m.Reason, Details: m.Details}
		if s := m.Details.String("message"); s != "" {
			e.Args = []any{s}
		}
		return e
	}
	return fmt.Errorf("clientlib: router answered HELLO with %s", msg.MessageType())
}

// answerChallenge sends AUTHENTICATE for a CHALLENGE.
func (c *Client) answerChallenge(ctx context.Context, ch *wamp.Challenge) error {
	for _, a := range c.opts.Auth {
		if a.Method() == ch.AuthMethod {
			sig, extra, err := a.Authenticate(ch)
			if err != nil {
				return err
			}
			return c.write(ctx, &wamp.Authenticate{Signature: sig, Extra: extra})
		}
	}
	return fmt.Errorf("clientlib: router challenged with %q, which was not offered", ch.AuthMethod)
}

// ID is the session id the router assigned.
func (c *Client) ID() wamp.ID { return c.id }

// Details are the WELCOME details (roles, authid, authrole, ...).
func (c *Client) Details() wamp.Dict { return c.details }

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the session ended; nil while it runs.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close says GOODBYE, waits for the router's answer (within ctx and
// Options.CloseTimeout) and closes the connection.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	already := c.closing
	c.closing = true
	c.mu.Unlock()
	if already {
		<-c.done
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.CloseTimeout)
	defer cancel()
	err := c.write(ctx, &wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal})
	if err == nil {
		select {
		case <-c.goodbye:
		case <-c.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	c.conn.leave()
	select {
	case <-c.done:
	case <-ctx.Done():
		c.conn.close()
		<-c.done
	}
	return err
}

// write sends m; ctx's deadline bounds the write.
func (c *Client) write(ctx context.Context, m wamp.Message) error {
	err := c.conn.write(ctx, m)
	if err == nil {
		return nil
	}
	var we *writeError
	if errors.As(err, &we) {
		if c.Err() != nil {
			return c.Err()
		}
		return fmt.Errorf("clientlib: writing %s: %w", m.MessageType(), we.err)
	}
	return err
}

// request sends m with a new request id made by build and waits for the reply.
func (c *Client) request(ctx context.Context, build func(id wamp.ID) wamp.Message) (wamp.Message, error) {
	return c.requestHook(ctx, build, nil)
}

// requestHook is request with a hook the read loop runs on the reply before
// anything that follows it is read: a REGISTERED or SUBSCRIBED installs its
// handler there, so an INVOCATION or EVENT right behind it finds it.
func (c *Client) requestHook(ctx context.Context, build func(id wamp.ID) wamp.Message, hook func(wamp.Message)) (wamp.Message, error) {
	ch := make(chan wamp.Message, 1)
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil, c.closedErr()
	}
	c.nextReq++
	id := c.nextReq
	c.pending[id] = ch
	if hook != nil {
		c.hooks[id] = hook
	}
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		delete(c.hooks, id)
		c.mu.Unlock()
	}
	if err := c.write(ctx, build(id)); err != nil {
		forget()
		return nil, err
	}
	select {
	case m := <-ch:
		if e, ok := m.(*wamp.Error); ok {
			return nil, rpcError(e)
		}
		return m, nil
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.err
	}
}

func (c *Client) closedErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%w: closing", ErrClosed)
}

// rpcError converts an ERROR message into a *wamp.RPCError.
func rpcError(e *wamp.Error) error {
	args, kwargs, err := serializers.DecodePayload(&e.Payload)
	if err != nil {
		return fmt.Errorf("clientlib: %s with undecodable payload: %w", e.Error, err)
	}
	return &wamp.RPCError{URI: e.Error, Details: e.Details, Args: args, Kwargs: kwargs}
}
