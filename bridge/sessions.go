package bridge

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/local"
)

// identity is whom a request acts as: a session of realm with authid and
// role, or (method "") an anonymous session.
type identity struct {
	realm, authid, role string
	method              AuthMethod
}

func ticketIdentity(realm string, p router.Principal) identity {
	return identity{realm: realm, authid: p.AuthID, role: p.Role, method: AuthTicket}
}

func keyIdentity(k *Key) identity {
	return identity{realm: k.Realm, authid: k.AuthID, role: k.Role, method: AuthSigned}
}

// remoteAddr is the address the router counts bridge sessions under.
const remoteAddr = "http-bridge"

// pool holds one session per identity, joined when first needed and again
// after it ended. Its size is bounded by the identities of the config:
// keep drops the others.
type pool struct {
	h   transport.Handler
	log *slog.Logger

	mu       sync.Mutex
	sessions map[identity]*slot
	allowed  map[identity]bool
	closed   bool
}

// slot is the session of one identity; its mutex serializes joining.
type slot struct {
	mu sync.Mutex
	c  *clientlib.Client
}

func newPool(h transport.Handler, log *slog.Logger) *pool {
	return &pool{h: h, log: log, sessions: map[identity]*slot{}}
}

var errPoolClosed = errors.New("bridge: shut down")

// errUnknownIdentity: an identity the config does not have (a request
// that began under a config Apply replaced).
var errUnknownIdentity = errors.New("bridge: identity no longer configured")

// get returns the session of id, joining it within ctx if it has none or
// it ended.
func (p *pool) get(ctx context.Context, id identity) (*clientlib.Client, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPoolClosed
	}
	if !p.allowed[id] {
		p.mu.Unlock()
		return nil, errUnknownIdentity
	}
	s := p.sessions[id]
	if s == nil {
		s = &slot{}
		p.sessions[id] = s
	}
	p.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil && s.c.Err() == nil {
		return s.c, nil
	}
	c, err := p.join(ctx, id)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	current := p.sessions[id] == s && !p.closed
	p.mu.Unlock()
	if !current { // dropped by keep or closeAll meanwhile
		go closeClient(c)
		return nil, errUnknownIdentity
	}
	s.c = c
	return c, nil
}

// join joins a session of id in-process.
func (p *pool) join(ctx context.Context, id identity) (*clientlib.Client, error) {
	cfg := local.Config{RemoteAddr: remoteAddr}
	if id.method != "" {
		cfg.Identity = &transport.Identity{AuthID: id.authid, AuthRole: id.role,
			AuthMethod: "http-" + string(id.method), AuthProvider: "bridge"}
	}
	c, err := clientlib.ConnectLocal(ctx, p.h, id.realm, clientlib.Options{Local: cfg, Logger: p.log})
	if err != nil {
		p.log.Warn("bridge: cannot join the realm", "realm", id.realm, "authid", id.authid, "authrole", id.role, "error", err)
		return nil, err
	}
	return c, nil
}

// keep makes allowed the identities sessions may be joined for, and closes
// the sessions of the others.
func (p *pool) keep(allowed map[identity]bool) {
	p.mu.Lock()
	p.allowed = allowed
	var drop []*slot
	for id, s := range p.sessions {
		if !allowed[id] {
			drop = append(drop, s)
			delete(p.sessions, id)
		}
	}
	p.mu.Unlock()
	for _, s := range drop {
		go func() {
			s.mu.Lock()
			c := s.c
			s.mu.Unlock()
			if c != nil {
				closeClient(c)
			}
		}()
	}
}

// closeAll closes every session within ctx; get fails from then on.
func (p *pool) closeAll(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	sessions := p.sessions
	p.sessions = map[identity]*slot{}
	p.mu.Unlock()
	var errs []error
	for _, s := range sessions {
		s.mu.Lock()
		c := s.c
		s.mu.Unlock()
		if c != nil {
			if err := c.Close(ctx); err != nil && c.Err() == nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// size returns the number of sessions held. Lock order: slot.mu, then
// pool.mu (get); so the slots are taken from the map first.
func (p *pool) size() int {
	p.mu.Lock()
	slots := make([]*slot, 0, len(p.sessions))
	for _, s := range p.sessions {
		slots = append(slots, s)
	}
	p.mu.Unlock()
	n := 0
	for _, s := range slots {
		s.mu.Lock()
		if s.c != nil && s.c.Err() == nil {
			n++
		}
		s.mu.Unlock()
	}
	return n
}

func closeClient(c *clientlib.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = c.Close(ctx)
}
