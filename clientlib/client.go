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

// ErrConnectionLost is wrapped by the error of a request in flight (a
// call, a registration...) when its session ends under it: the connection
// dropped, or the router ended the session. The request may or may not
// have been carried out. With Options.Reconnect the Client goes on with a
// new session, on which the request can be made again.
var ErrConnectionLost = errors.New("clientlib: connection lost")

// ErrNotConnected is wrapped by the error of a request made while a
// reconnecting Client has no session, when it does not wait for one
// (Reconnect.FailFast; Publish unless Reconnect.PublishWaits) or its
// context ended while it waited.
var ErrNotConnected = errors.New("clientlib: not connected")

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
	// WriteTimeout bounds each write to the network (and, in-process, the
	// wait for room in the router's queue): a write that takes longer ends
	// the connection, as a stalled network. Default 10s.
	WriteTimeout time.Duration
	// WriteQueue and WriteQueueBytes bound what waits to be written, in
	// messages and octets: a method that finds the queue full waits for
	// room within its context. Defaults 256 messages, 16 MiB (a larger
	// message goes alone).
	WriteQueue, WriteQueueBytes int
	// KeepAlive: when nothing was read from the router for this long, the
	// client pings it; when nothing was read for twice as long, the
	// connection is taken for dead and closed (and, with Reconnect,
	// replaced). Default 30s; negative: no keepalive. Not in-process.
	KeepAlive time.Duration
	// Reconnect, when set, makes the client survive its connection: it
	// connects again, with backoff, to its URLs in turn, joins with the
	// same authentication and restores the application's registrations
	// and subscriptions. nil: the Client ends with its first session.
	Reconnect *Reconnect
	// Local configures the in-process connection of ConnectLocal (queue
	// bounds, RemoteAddr); its Serializer is replaced by Serializer.
	// Connect ignores it.
	Local local.Config
}

// Client is a WAMP session, or with Options.Reconnect a succession of
// them: what the application registered and subscribed is carried from
// one to the next.
type Client struct {
	log   *slog.Logger
	opts  Options
	realm string
	dials []dialFunc // one per router URL, tried in turn

	mu       sync.Mutex
	link     *link         // the session up; nil while reconnecting or ended
	last     *link         // the last session up, for ID and Details
	up       chan struct{} // closed when link is set
	nextReq  wamp.ID
	pending  map[wamp.ID]chan wamp.Message
	hooks    map[wamp.ID]func(*link, wamp.Message)
	progress map[wamp.ID]*progressBox // calls that asked for progressive results
	regs     []*appReg                // what the application registered, to restore
	subs     []*appSub                // what it subscribed
	closing  bool
	closeReq chan struct{} // closed by Close

	done     chan struct{}
	err      error
	doneOnce sync.Once
}

// dialFunc opens a connection to one router.
type dialFunc struct {
	url  string
	dial func(ctx context.Context) (conn, error)
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
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.WriteQueue <= 0 {
		opts.WriteQueue = 256
	}
	if opts.WriteQueueBytes <= 0 {
		opts.WriteQueueBytes = 16 << 20
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = 30 * time.Second
	}
	if opts.Reconnect != nil {
		r := *opts.Reconnect
		r.withDefaults()
		opts.Reconnect = &r
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
//
// With opts.Reconnect, Connect tries url and then Reconnect.URLs in turn,
// with backoff, until one joins or ctx ends.
func Connect(ctx context.Context, url, realm string, opts Options) (*Client, error) {
	ser, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	urls := []string{url}
	if opts.Reconnect != nil {
		urls = append(urls, opts.Reconnect.URLs...)
	}
	var dials []dialFunc
	for _, u := range urls {
		e, raw, err := rawsocket.ParseURL(u)
		if err != nil {
			return nil, fmt.Errorf("clientlib: %w", err)
		}
		d := dialFunc{url: u}
		if raw {
			d.dial = func(ctx context.Context) (conn, error) { return dialRawSocket(ctx, u, e, ser, opts) }
		} else {
			d.dial = func(ctx context.Context) (conn, error) { return dialWebSocket(ctx, u, ser, opts) }
		}
		dials = append(dials, d)
	}
	return start(ctx, dials, realm, opts)
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

// start makes the Client and its first session.
func start(ctx context.Context, dials []dialFunc, realm string, opts Options) (*Client, error) {
	c := &Client{
		log: opts.Logger, opts: opts, realm: realm, dials: dials,
		up:       make(chan struct{}),
		pending:  make(map[wamp.ID]chan wamp.Message),
		hooks:    make(map[wamp.ID]func(*link, wamp.Message)),
		progress: make(map[wamp.ID]*progressBox),
		closeReq: make(chan struct{}),
		done:     make(chan struct{}),
	}
	if opts.Reconnect == nil {
		l, err := c.open(ctx, dials[0])
		if err != nil {
			return nil, err
		}
		c.setUp(l)
		return c, nil
	}
	if err := c.firstSession(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// open dials d, joins the realm and starts the session's read loop.
func (c *Client) open(ctx context.Context, d dialFunc) (*link, error) {
	cn, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	l := newLink(cn, c.opts)
	l.url = d.url
	if err := c.join(ctx, l); err != nil {
		l.w.stop()
		cn.close()
		return nil, err
	}
	go c.readLoop(l)
	l.keepAlive(c.opts.KeepAlive)
	return l, nil
}

// setUp makes l the session the Client's methods use.
func (c *Client) setUp(l *link) {
	c.mu.Lock()
	c.link, c.last = l, l
	close(c.up)
	c.mu.Unlock()
}

// join sends HELLO and reads WELCOME or ABORT.
func (c *Client) join(ctx context.Context, l *link) error {
	realm := c.realm
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
	if err := l.write(ctx, &wamp.Hello{Realm: wamp.URI(realm), Details: details}); err != nil {
		return err
	}
	msg, err := l.conn.read(ctx)
	if ch, ok := msg.(*wamp.Challenge); ok && err == nil {
		if err := c.answerChallenge(ctx, l, ch); err != nil {
			return err
		}
		msg, err = l.conn.read(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("clientlib: joining %s: %w", realm, err)
	}
	switch m := msg.(type) {
	case *wamp.Welcome:
		l.id, l.details = m.Session, m.Details
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
func (c *Client) answerChallenge(ctx context.Context, l *link, ch *wamp.Challenge) error {
	for _, a := range c.opts.Auth {
		if a.Method() == ch.AuthMethod {
			sig, extra, err := a.Authenticate(ch)
			if err != nil {
				return err
			}
			return l.write(ctx, &wamp.Authenticate{Signature: sig, Extra: extra})
		}
	}
	return fmt.Errorf("clientlib: router challenged with %q, which was not offered", ch.AuthMethod)
}

// ID is the session id the router assigned to the current session, or to
// the last one while the Client reconnects or once it has ended.
func (c *Client) ID() wamp.ID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last.id
}

// Details are the WELCOME details (roles, authid, authrole, ...) of the
// current session, or of the last one as for ID.
func (c *Client) Details() wamp.Dict {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last.details
}

// Done is closed when the Client has ended: its session ended (without
// Reconnect), or Close was called.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the Client ended; nil while it runs.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// finish ends the Client with err (once).
func (c *Client) finish(err error) {
	c.doneOnce.Do(func() {
		c.err = err
		close(c.done)
	})
}

// Close says GOODBYE, waits for the router's answer (within ctx and
// Options.CloseTimeout) and closes the connection. It returns within ctx
// whatever the network does: past it, the connection is closed without
// further ado. A reconnecting Client stops reconnecting.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	already := c.closing
	c.closing = true
	l := c.link
	if !already {
		close(c.closeReq)
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.opts.CloseTimeout)
	defer cancel()
	if already || l == nil {
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := l.write(ctx, &wamp.Goodbye{Details: wamp.Dict{}, Reason: wamp.CloseNormal})
	if err == nil {
		select {
		case <-l.goodbye:
		case <-l.lost:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if ctx.Err() == nil {
		_ = l.w.send(ctx, frameLeave, nil, 0)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		l.conn.close()
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// keep records, under c.mu, what the application asked for (add appends a
// registration or subscription to restore on the next session), if l is
// still the current session; one that ended since (what was asked for went
// with it) is reported as lost. Without Reconnect nothing is recorded.
func (c *Client) keep(l *link, add func()) error {
	if c.opts.Reconnect == nil {
		return nil
	}
	c.mu.Lock()
	up := c.link == l
	if up {
		add()
	}
	c.mu.Unlock()
	if !up {
		return l.lostErr()
	}
	return nil
}

// current returns the session to send a request on. While the Client
// reconnects, it waits for the next session within ctx, or with wait
// false fails with ErrNotConnected.
func (c *Client) current(ctx context.Context, wait bool) (*link, error) {
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return nil, c.closedErr()
		}
		if l := c.link; l != nil {
			c.mu.Unlock()
			return l, nil
		}
		up := c.up
		c.mu.Unlock()
		if !wait {
			return nil, ErrNotConnected
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (waiting for a session: %w)", ctx.Err(), ErrNotConnected)
		case <-c.done:
			return nil, c.closedErr()
		}
	}
}

// waits reports whether requests wait for a session while reconnecting.
func (c *Client) waits() bool { return c.opts.Reconnect == nil || !c.opts.Reconnect.FailFast }

// request is what requestOn sends and what it does with the reply.
type request struct {
	build      func(id wamp.ID) wamp.Message
	hook, late func(*link, wamp.Message)
	sending    *sync.Mutex // if set, held while the request is written
}

// requestOn sends the message r.build makes with a new request id on
// session l and waits for the reply. r.hook, if set, runs on the read loop
// on the reply before anything that follows it is read: a REGISTERED or
// SUBSCRIBED installs its handler there, so an INVOCATION or EVENT right
// behind it finds it.
//
// When ctx ends once the request may have gone out, the router may still
// act on it: r.late, if set, then runs on the read loop on a reply that
// comes after the request was given up (a REGISTERED nobody waits for is
// taken back). A reply that came just as ctx ended counts: the request
// succeeded, and its hook has run.
func (c *Client) requestOn(ctx context.Context, l *link, r request) (wamp.Message, error) {
	ch := make(chan wamp.Message, 1)
	c.mu.Lock()
	c.nextReq++
	id := c.nextReq
	c.pending[id] = ch
	if r.hook != nil {
		c.hooks[id] = r.hook
	}
	c.mu.Unlock()
	if r.sending != nil {
		r.sending.Lock()
	}
	err := l.write(ctx, r.build(id))
	if r.sending != nil {
		r.sending.Unlock()
	}
	var ns notSent
	switch {
	case err == nil:
		select {
		case m := <-ch:
			return answer(m)
		case <-ctx.Done():
			err = ctx.Err()
		case <-l.lost:
			c.forget(id)
			return nil, l.lostErr()
		}
	case errors.As(err, &ns): // never sent: nothing to take back
		c.forget(id)
		return nil, err
	}
	// Given up once the request may have gone out.
	c.mu.Lock()
	_, waiting := c.pending[id]
	delete(c.pending, id)
	delete(c.hooks, id)
	if waiting && r.late != nil && len(l.late) < maxLate {
		l.late[id] = r.late
	}
	c.mu.Unlock()
	if !waiting { // the read loop took the reply as ctx ended
		return answer(<-ch)
	}
	return nil, err
}

// discard sends m, a request whose answer nobody waits for, on the read
// loop of session l (within the session: the write pump bounds each write).
func (c *Client) discard(l *link, m func(id wamp.ID) wamp.Message) {
	c.mu.Lock()
	c.nextReq++
	id := c.nextReq
	c.mu.Unlock()
	if err := l.write(l.ctx, m(id)); err != nil {
		c.log.Warn("could not send", "error", err)
	}
}

// maxLate bounds the requests given up on a session whose reply is still
// watched for (link.late): a router that answers none of them cannot grow
// the map for the session's whole life. Past it, a late reply is ignored.
const maxLate = 1024

// forget drops request id's reply channel and hook.
func (c *Client) forget(id wamp.ID) {
	c.mu.Lock()
	delete(c.pending, id)
	delete(c.hooks, id)
	c.mu.Unlock()
}

// answer is a request's reply, an ERROR as a *wamp.RPCError.
func answer(m wamp.Message) (wamp.Message, error) {
	if e, ok := m.(*wamp.Error); ok {
		return nil, rpcError(e)
	}
	return m, nil
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
