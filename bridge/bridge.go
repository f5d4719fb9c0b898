package bridge

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
)

// Options are what a Bridge gets besides its Config.
type Options struct {
	// Handler is the router the bridge's sessions join in-process: a
	// *router.Router or a *server.Server. Required.
	Handler transport.Handler
	// Logger receives the bridge's logs. Nil: slog.Default().
	Logger *slog.Logger
	// Failures, if set, bounds failed authentications per client address
	// (the router's auth_failures_per_minute: *router.Router implements
	// it). Nil: no bound.
	Failures FailureLimiter
	// ClientAddr, if set, is the client address of a request (behind
	// trusted proxies, the forwarded one). Nil: Request.RemoteAddr.
	ClientAddr func(*http.Request) string
}

// FailureLimiter counts failed authentications per client address; an
// authentication in progress counts as a failure until it is released.
type FailureLimiter interface {
	// ReserveAuthentication reports whether addr may try to authenticate.
	ReserveAuthentication(addr string) bool
	// ReleaseAuthentication ends an attempt ReserveAuthentication allowed.
	ReleaseAuthentication(addr string, failed bool)
}

var _ FailureLimiter = (*router.Router)(nil)

// Bridge serves the endpoints of its Config. It is an http.Handler for
// the paths Handles reports; Apply changes its config while it serves.
type Bridge struct {
	h        transport.Handler
	log      *slog.Logger
	failures FailureLimiter
	addr     func(*http.Request) string
	state    atomic.Pointer[state]
	nonces   *nonceCache
	sessions *pool
	stats    stats

	mu     sync.Mutex // serializes Apply and Shutdown
	closed atomic.Bool
}

// state is a compiled Config, swapped whole by Apply.
type state struct {
	cfg       Config
	endpoints map[string]*endpoint
	keys      map[string]*Key
	tickets   map[string]map[[32]byte]router.Principal // realm -> ticket hash -> principal
	sem       chan struct{}
}

// kind is what an endpoint does.
type kind int

const (
	kindCaller kind = iota
	kindPublisher
)

func (k kind) String() string { return [...]string{"caller", "publisher"}[k] }

// endpoint is a compiled Endpoint.
type endpoint struct {
	Endpoint
	kind kind
}

func (e *endpoint) accepts(m AuthMethod) bool {
	for _, a := range e.Auth {
		if a == m {
			return true
		}
	}
	return false
}

// New returns a Bridge serving cfg. cfg with no endpoint is valid: the
// bridge serves nothing until Apply gives it some.
func New(cfg Config, opts Options) (*Bridge, error) {
	if opts.Handler == nil {
		return nil, errors.New("bridge: no Options.Handler")
	}
	b := &Bridge{h: opts.Handler, log: cmp.Or(opts.Logger, slog.Default()), nonces: newNonceCache(),
		failures: opts.Failures, addr: opts.ClientAddr}
	if b.addr == nil {
		b.addr = func(r *http.Request) string { return r.RemoteAddr }
	}
	b.sessions = newPool(opts.Handler, b.log)
	if err := b.Apply(cfg); err != nil {
		return nil, err
	}
	return b, nil
}

// compile checks cfg (defaults filled in) and builds its state.
func compile(cfg Config) (*state, error) {
	errs := cfg.checkScalars()
	st := &state{cfg: cfg, endpoints: map[string]*endpoint{}, keys: map[string]*Key{},
		tickets: map[string]map[[32]byte]router.Principal{}}
	seen := map[string]bool{}
	for i, e := range cfg.Callers {
		errs = append(errs, cfg.checkEndpoint("caller", i, e, seen)...)
		st.endpoints[e.Path] = &endpoint{Endpoint: e, kind: kindCaller}
	}
	for i, e := range cfg.Publishers {
		errs = append(errs, cfg.checkEndpoint("publisher", i, e, seen)...)
		st.endpoints[e.Path] = &endpoint{Endpoint: e, kind: kindPublisher}
	}
	errs = append(errs, cfg.checkKeys()...)
	for i := range cfg.Keys {
		st.keys[cfg.Keys[i].Key] = &cfg.Keys[i]
	}
	for _, ep := range st.endpoints {
		if _, done := st.tickets[ep.Realm]; done || !ep.accepts(AuthTicket) {
			continue
		}
		rc, _ := cfg.realm(ep.Realm)
		idx, err := ticketIndex(rc)
		errs = append(errs, err)
		st.tickets[ep.Realm] = idx
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	st.sem = make(chan struct{}, cfg.MaxConcurrent)
	return st, nil
}

// Apply validates cfg and, if it is valid, serves it from the next request
// on: endpoints, keys, tickets and limits change at once (requests in
// flight finish under the config they started with). Sessions of
// identities the new config still has are kept; the others are closed.
// On error nothing changes.
func (b *Bridge) Apply(cfg Config) error {
	apply, err := b.Prepare(cfg)
	if err != nil {
		return err
	}
	if b.closed.Load() {
		return errors.New("bridge: shut down")
	}
	apply()
	return nil
}

// Prepare validates cfg and returns the function that applies it as Apply
// does, without changing anything: for a reload that applies nothing
// unless every part of the config is valid. The function cannot fail; on
// a bridge shut down meanwhile it does nothing.
func (b *Bridge) Prepare(cfg Config) (apply func(), err error) {
	st, err := compile(cfg.WithDefaults())
	if err != nil {
		return nil, err
	}
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.closed.Load() {
			return
		}
		b.state.Store(st)
		b.sessions.keep(st.identities())
	}, nil
}

// Config returns the config the bridge serves, defaults filled in.
func (b *Bridge) Config() Config { return b.state.Load().cfg }

// Handles reports whether path is the path of one of the bridge's
// endpoints: the server hands such requests to the bridge.
func (b *Bridge) Handles(path string) bool {
	_, ok := b.state.Load().endpoints[path]
	return ok
}

// ServeHTTP serves a request to one of the endpoints (404 for any other
// path).
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := b.state.Load()
	ep, ok := st.endpoints[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b.serve(st, ep, w, r)
}

// Shutdown closes the bridge's sessions within ctx; later requests are
// answered 503.
func (b *Bridge) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed.Store(true)
	return b.sessions.closeAll(ctx)
}

// identities are the identities requests can act as under st: those of
// tickets and keys on the realms of its endpoints, and anonymous on the
// realms of anonymous endpoints.
func (st *state) identities() map[identity]bool {
	out := map[identity]bool{}
	for _, ep := range st.endpoints {
		for _, m := range ep.Auth {
			switch m {
			case AuthAnonymous:
				out[identity{realm: ep.Realm}] = true
			case AuthTicket:
				for _, p := range st.tickets[ep.Realm] {
					out[ticketIdentity(ep.Realm, p)] = true
				}
			case AuthSigned:
				for _, k := range st.keys {
					if k.Realm == ep.Realm {
						out[keyIdentity(k)] = true
					}
				}
			}
		}
	}
	return out
}
