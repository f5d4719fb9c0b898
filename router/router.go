package router

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junction-wamp/junction/internal/ratelog"
	"github.com/junction-wamp/junction/realms"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// ErrShutdown is returned by Shutdown when it is called twice.
var ErrShutdown = errors.New("router: already shut down")

// Options are the runtime objects a router is built with.
type Options struct {
	// Logger receives the router's logs. Default slog.Default().
	Logger *slog.Logger
	// InboxMessages bounds the inbox of a session attached with Attach:
	// at the bound, Handle tells the transport to stop reading the
	// connection. Default DefaultInboxMessages.
	InboxMessages int
}

// Router routes WAMP messages between the sessions of its realms.
type Router struct {
	cfg atomic.Pointer[Config] // swapped whole by Reload; read with config()
	log *slog.Logger

	realmsMu sync.RWMutex
	realms   map[wamp.URI]*realm

	sessionsMu sync.Mutex
	sessions   map[*session]struct{}
	perAddress map[string]*addressBudget
	wg         sync.WaitGroup
	closing    atomic.Bool
	draining   atomic.Bool // shutting down: calls in flight finish, new ones of local callers are refused

	stats    Stats
	failures failureLog
	warnings *ratelog.Limiter // limit warnings, per limit and address

	link atomicLink // nil: a single node (see Router.cluster)

	inboxLimit int // Options.InboxMessages

	reloadMu sync.Mutex // one Reload at a time
}

// config is the router's config: the one it was built with, or the last
// one Reload applied. Read it once per use; never keep it.
func (r *Router) config() *Config { return r.cfg.Load() }

// realm is a realms.Realm with the router-side settings of that realm.
type realm struct {
	*realms.Realm
	settings atomic.Pointer[realmConf] // swapped whole by Reload; read with conf()
	log      *slog.Logger
	events   *eventStore
	// onDemand: created for a HELLO (auto_create_realms), and removed, with
	// its retained events, when its last session leaves (until a reload
	// configures a realm of its name).
	onDemand atomic.Bool
	stats    *Stats      // the router's
	link     *atomicLink // the router's
}

// realmConf is what a realm's config compiles to: what Reload replaces, in
// one atomic swap, so that a message sees the old settings or the new ones,
// never a mix.
type realmConf struct {
	cfg   RealmConfig
	perms map[string]*permissions // by role
	authz *dynamicAuthz           // nil without an authorizer
	auth  *realmAuth              // nil for a realm created on demand
}

// conf returns rm's current settings. A message reads them once or a few
// times; a lock-free atomic load, never a lock.
func (rm *realm) conf() *realmConf { return rm.settings.Load() }

var _ transport.Handler = (*Router)(nil)

// New returns a router serving the realms of cfg.
func New(cfg Config, opts Options) (*Router, error) {
	cfg = withDefaults(cfg)
	r := &Router{
		log:        opts.Logger,
		realms:     make(map[wamp.URI]*realm),
		sessions:   make(map[*session]struct{}),
		perAddress: make(map[string]*addressBudget),
		warnings:   ratelog.New(cfg.LimitWarningInterval),
		inboxLimit: cmp.Or(max(opts.InboxMessages, 0), DefaultInboxMessages),
	}
	r.cfg.Store(&cfg)
	if r.log == nil {
		r.log = slog.Default()
	}
	confs, err := compileRealms(cfg)
	if err != nil {
		return nil, err
	}
	for i, rc := range cfg.Realms {
		r.realms[wamp.URI(rc.Name)] = r.newRealm(rc, confs[i], cfg.storeLimits())
	}
	return r, nil
}

// compileRealms checks and compiles the realms of cfg, one realmConf each,
// in order; it changes nothing, so Reload can refuse a config as a whole.
func compileRealms(cfg Config) ([]*realmConf, error) {
	confs := make([]*realmConf, len(cfg.Realms))
	seen := make(map[string]bool, len(cfg.Realms))
	var errs []error
	for i, rc := range cfg.Realms {
		if seen[rc.Name] {
			errs = append(errs, errors.New("router: duplicate realm "+rc.Name))
			continue
		}
		seen[rc.Name] = true
		c, err := compileRealm(rc, cfg.StrictURI)
		if err != nil {
			errs = append(errs, err)
		}
		confs[i] = c
	}
	return confs, errors.Join(errs...)
}

// compileRealm checks rc and compiles its roles and principals.
func compileRealm(rc RealmConfig, strict bool) (*realmConf, error) {
	if !wamp.ValidURI(wamp.URI(rc.Name), strict, false) {
		return nil, errors.New("router: invalid realm name " + rc.Name)
	}
	for _, h := range rc.EventHistory {
		if !h.Match.Valid() || !wamp.ValidURI(wamp.URI(h.Topic), strict, h.Match.Pattern()) {
			return nil, fmt.Errorf("router: realm %s: invalid event history topic %q (match %q)", rc.Name, h.Topic, h.Match)
		}
	}
	perms := make(map[string]*permissions)
	for _, role := range rc.Roles {
		p, err := compilePermissions(role, strict)
		if err != nil {
			return nil, fmt.Errorf("router: realm %s: %w", rc.Name, err)
		}
		perms[role.Name] = p
	}
	if err := checkAuthConfig(rc); err != nil {
		return nil, fmt.Errorf("router: realm %s: %w", rc.Name, err)
	}
	auth, err := newRealmAuth(rc)
	if err != nil {
		return nil, fmt.Errorf("router: realm %s: %w", rc.Name, err)
	}
	return &realmConf{cfg: rc, perms: perms, auth: auth}, nil
}

// checkAuthConfig checks rc's authentication methods, authenticator and
// authorizer.
func checkAuthConfig(rc RealmConfig) error {
	for _, proc := range []string{rc.Authenticator, rc.Authorizer} {
		if wamp.Reserved(wamp.URI(proc)) {
			return fmt.Errorf("%q cannot be an authenticator or authorizer: wamp.* procedures belong to the router", proc)
		}
	}
	if rc.Authenticator != "" && rc.AuthenticatorHook != nil {
		return fmt.Errorf("both an authenticator procedure (%q) and a Go AuthenticatorHook: configure one", rc.Authenticator)
	}
	if rc.Authorizer != "" && rc.AuthorizerHook != nil {
		return fmt.Errorf("both an authorizer procedure (%q) and a Go AuthorizerHook: configure one", rc.Authorizer)
	}
	for _, m := range rc.AuthMethods {
		if m != AuthTicket && m != AuthWAMPCRA && m != AuthCryptosign && m != AuthTLS {
			return fmt.Errorf("unknown authentication method %q", m)
		}
	}
	return nil
}

// newRealm makes the realm of rc, with its compiled settings c.
func (r *Router) newRealm(rc RealmConfig, c *realmConf, limits storeLimits) *realm {
	rm := &realm{Realm: realms.New(wamp.URI(rc.Name)), log: r.log.With("realm", rc.Name),
		events: newEventStore(rc.EventHistory, limits), stats: &r.stats, link: &r.link}
	rm.install(c)
	return rm
}

// install makes c rm's settings, with a dynamic authorizer (and an empty
// cache of its answers) when rc names one.
func (rm *realm) install(c *realmConf) {
	if rc := c.cfg; rc.Authorizer != "" || rc.AuthorizerHook != nil {
		ttl := rc.AuthorizerCacheTTL
		if ttl == 0 {
			ttl = time.Minute
		}
		c.authz = &dynamicAuthz{rm: rm, hook: rc.AuthorizerHook, ttl: ttl, size: cmp.Or(rc.AuthorizerCacheSize, 10_000)}
	}
	rm.settings.Store(c)
}

// existingRealm is realm name if it exists: it never creates one.
func (r *Router) existingRealm(name wamp.URI) *realm {
	r.realmsMu.RLock()
	defer r.realmsMu.RUnlock()
	return r.realms[name]
}

// realm returns the realm called name, creating it when auto-creation is on.

func (r *Router) realm(name wamp.URI) *realm {
	r.realmsMu.RLock()
	rm := r.realms[name]
	r.realmsMu.RUnlock()
	if rm != nil || !r.config().AutoCreateRealms {
		return rm
	}
	r.realmsMu.Lock()
	defer r.realmsMu.Unlock()
	if rm = r.realms[name]; rm == nil {
		rm = &realm{Realm: realms.New(name), log: r.log.With("realm", name),
			events: newEventStore(nil, r.config().storeLimits()), stats: &r.stats, link: &r.link}
		rm.onDemand.Store(true)
		rm.settings.Store(&realmConf{cfg: RealmConfig{Name: string(name), Anonymous: true}})
		r.cluster().newRealm(rm)
		r.realms[name] = rm
		r.log.Info("realm created", "realm", name)
	}
	return rm
}

// join adds s to its realm. A realm created on demand may have been
// removed since s looked it up (its last session left): s then joins the
// realm of that name created anew. A configured realm may have been
// removed by a reload: join then reports false. Joining holds the realm table's read
// lock, and removal its write lock, so no session joins a removed realm.
func (r *Router) join(s *session) bool {
	for {
		r.realmsMu.RLock()
		if r.realms[s.realm.Name] == s.realm {
			s.realm.Join(s)
			r.realmsMu.RUnlock()
			return true
		}
		r.realmsMu.RUnlock()
		rm := r.realm(s.realm.Name) // a realm created on demand went away, and comes back
		if rm == nil {              // a reload removed the realm
			return false
		}
		s.realm = rm
	}
}

// retire removes a realm created on demand once its last session has left,
// so that HELLOs to ever new realm names do not make the router hold ever
// more realms. In a cluster they stay: other nodes' sessions are in them.
func (r *Router) retire(rm *realm) {
	if !rm.onDemand.Load() || r.cluster().keepsRealms() {
		return
	}
	r.realmsMu.Lock()
	defer r.realmsMu.Unlock()
	if r.realms[rm.Name] == rm && rm.onDemand.Load() && rm.SessionCount() == 0 {
		delete(r.realms, rm.Name)
		r.log.Debug("realm created on demand removed: its last session left", "realm", rm.Name)
	}
}

// Serving reports whether the router accepts sessions (false once shutdown began).
func (r *Router) Serving() bool { return !r.closing.Load() }

// ServePeer runs the WAMP session of p until it ends. It implements transport.Handler.
//
// It is the pull model: the session reads p with Recv on the caller's
// goroutine. Attach (push.go) is the push model, for a transport that hands
// the session its messages; both run the same handshake, dispatch, limits
// and leave.
func (r *Router) ServePeer(p transport.Peer) {
	s := newSession(r, p)
	if !r.admit(s) {
		return
	}
	defer r.untrack(s)
	s.serve()
}

// admit tracks s, or refuses it (ABORT, close) and reports false.
func (r *Router) admit(s *session) bool {
	var over *overLimit
	switch err := r.track(s); {
	case errors.Is(err, errShuttingDown):
		s.abort(wamp.CloseSystemShutdown, "router is shutting down", transport.CloseGoingAway)
		return false
	case errors.As(err, &over):
		s.limitReached(over.limit, over.msg)
		s.abort(ErrLimitExceeded, over.msg+" ("+over.limit.String()+")", transport.ClosePolicyViolation)
		return false
	}
	return true
}

// errShuttingDown: no session is accepted once shutdown began.
var errShuttingDown = errors.New("router: shutting down")

// overLimit is a session refused because a limit is reached.
type overLimit struct {
	limit Limit
	msg   string
}

func (e *overLimit) Error() string { return e.msg }

// track records a new connection, or says why it is refused.
func (r *Router) track(s *session) error {
	r.sessionsMu.Lock()
	defer r.sessionsMu.Unlock()
	if r.closing.Load() {
		return errShuttingDown
	}
	if max := r.config().MaxSessions; len(r.sessions) >= max {
		return &overLimit{LimitSessions, fmt.Sprintf("the router holds its maximum of %d sessions", max)}
	}
	b := r.perAddress[s.address]
	if max := r.config().MaxSessionsPerAddress; b != nil && b.sessions >= max {
		return &overLimit{LimitSessionsPerAddress, fmt.Sprintf("%s already has the maximum of %d sessions per address", s.address, max)}
	}
	if b == nil {
		b = &addressBudget{}
		r.perAddress[s.address] = b
	}
	b.sessions++
	s.budget = b
	r.sessions[s] = struct{}{}
	r.wg.Add(1)
	return nil
}

func (r *Router) untrack(s *session) {
	r.sessionsMu.Lock()
	delete(r.sessions, s)
	if b := r.perAddress[s.address]; b != nil {
		if b.sessions--; b.sessions <= 0 {
			delete(r.perAddress, s.address)
		}
	}
	r.sessionsMu.Unlock()
	r.wg.Done()
}

// Shutdown drains the router, in this order:
//
//  1. It stops accepting sessions (a HELLO gets ABORT
//     wamp.close.system_shutdown; Serving reports false).
//  2. In a cluster, it tells the other nodes it drains and waits until they
//     applied it: from then on they route a new call to this node's callees
//     only when no other callee can take it, and this node still takes such
//     calls (a caller elsewhere is never refused for this node's drain).
//  3. It lets the calls in flight finish (this node's callers' and its
//     callees', from and to other nodes) while ctx's deadline allows,
//     keeping min(1s, a quarter of the time left) for the end. Sessions
//     keep working meanwhile, but a new call of a caller of this node is
//     refused with wamp.error.canceled (unless the caller is a callee
//     finishing a call): its session is about to end, and calls taken now
//     would keep the drain from ever ending. It can call again once its
//     client has reconnected to another node.
//  4. Every call still unanswered gets ERROR wamp.error.canceled, every
//     session GOODBYE wamp.close.system_shutdown and close 1001, and
//     Shutdown waits until every session has ended (and, in a cluster, its
//     leave has gone out to the other nodes) or ctx is done.
//
// The caller then leaves the cluster (cluster.Node.Close; server.Server
// does), so the other nodes drop this one at once.
func (r *Router) Shutdown(ctx context.Context) error {
	r.sessionsMu.Lock()
	if r.closing.Swap(true) {
		r.sessionsMu.Unlock()
		return ErrShutdown
	}
	r.sessionsMu.Unlock()
	r.drain(ctx)

	all := r.liveSessions()
	for _, s := range all {
		s.cancelCalls(wamp.ErrCanceled, "the router is shutting down")
	}
	for _, s := range all {
		s.shutdown()
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drainPoll is how often drain looks whether the calls in flight are over.
const drainPoll = 20 * time.Millisecond

// drain announces the drain to the other nodes of a cluster, then waits
// until no call is in flight, or until ctx's deadline less min(1s, a
// quarter of the time left). Without a deadline it does not wait.
//
// In a cluster, no call in flight must be seen at two polls in a row: a
// call another node routed here just as it applied the drain reaches this
// node a moment after the drain was confirmed. A single node needs one.
func (r *Router) drain(ctx context.Context) {
	r.draining.Store(true)
	deadline, ok := ctx.Deadline()
	if !ok {
		done, cancel := context.WithCancel(ctx)
		cancel()
		r.cluster().drain(done) // announced, not waited for
		return
	}
	left := time.Until(deadline)
	stop := time.Now().Add(left - min(time.Second, left/4))
	announce, cancel := context.WithDeadline(ctx, stop)
	r.cluster().drain(announce)
	cancel()
	// A single node routes no call it has not counted yet: one poll
	// without a call in flight is enough there.
	polls := 2
	if _, single := r.cluster().(singleNode); single {
		polls = 1
	}
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for idle := 0; time.Now().Before(stop); {
		idle++
		if r.callsInFlight() > 0 {
			idle = 0
		}
		if idle == polls {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// callsInFlight counts the calls routed to callees and not answered: this
// node's callees', the invocations of remote callees made here, and this
// node's callees' invocations for other nodes' callers.
func (r *Router) callsInFlight() int {
	n := r.PendingInvocations()
	for _, s := range r.liveSessions() {
		s.invMu.Lock()
		n += len(s.remoteInv)
		s.invMu.Unlock()
	}
	return n
}

// liveSessions returns the sessions of this node.
func (r *Router) liveSessions() []*session {
	r.sessionsMu.Lock()
	defer r.sessionsMu.Unlock()
	all := make([]*session, 0, len(r.sessions))
	for s := range r.sessions {
		all = append(all, s)
	}
	return all
}

// Stats are the router's counters.
type Stats struct {
	SessionsJoined atomic.Uint64
	SessionsLeft   atomic.Uint64
	Aborted        atomic.Uint64
	ProtocolErrors atomic.Uint64
	InternalErrors atomic.Uint64
	AuthFailures   atomic.Uint64
	// ConversionFailures counts messages whose payload a receiver's
	// serializer could not carry (msgpack's NaN to JSON, for instance).
	ConversionFailures atomic.Uint64
	// TooLarge counts messages larger than the receiver's transport
	// accepts (a RawSocket client announces its maximum): not sent, their
	// sender answered wamp.error.payload_size_exceeded where it waits for
	// an answer.
	TooLarge atomic.Uint64
	// ClusterNodesDropped counts cluster nodes dropped (goodbye or silence).
	ClusterNodesDropped atomic.Uint64
	// ClusterResyncs counts snapshots asked of another node because the
	// digest of its state differed from what this node held of it.
	ClusterResyncs atomic.Uint64
	// ClusterCallsLost counts calls whose INVOCATION or answer was lost
	// between nodes (found by an audit): their callers got an ERROR.
	ClusterCallsLost atomic.Uint64
	// ClusterConflicts counts registrations of one procedure by two nodes
	// that conflicted (resolved by the smaller id).
	ClusterConflicts atomic.Uint64
	// ClusterSessionsFenced counts sessions closed because the cluster had
	// announced them gone while their node was cut off.
	ClusterSessionsFenced atomic.Uint64

	// MessagesIn and MessagesOut count WAMP messages by type code: received
	// from peers, and queued to peers (an event fanned out to n
	// subscribers counts n). See countMessages.
	MessagesIn  MessageCounts
	MessagesOut MessageCounts
	// CallLatency is the time from CALL to its final RESULT or ERROR.
	CallLatency Histogram

	limits limitCounts // see LimitsReached
}

// MessageCounts counts messages by type code, with atomic adds only.
type MessageCounts [wamp.EVENT_RECEIVED + 1]atomic.Uint64

// Load is the number of messages of type t counted so far (0 for a type
// beyond the table).
func (c *MessageCounts) Load(t wamp.MessageType) uint64 {
	if int(t) < len(c) {
		return c[t].Load()
	}
	return 0
}

// add counts n messages of type t; a type beyond the table is not counted.
func (c *MessageCounts) add(t wamp.MessageType, n uint64) {
	if int(t) < len(c) {
		c[t].Add(n)
	}
}

// Stats returns the router's counters.
func (r *Router) Stats() *Stats { return &r.stats }

// PendingInvocations is the number of calls routed to callees and not yet
// answered, over all sessions (remote callees of calls made here included).
func (r *Router) PendingInvocations() int {
	var all []*member
	for _, s := range r.liveSessions() {
		all = append(all, &s.member)
	}
	for _, p := range r.proxies() {
		all = append(all, &p.member)
	}
	n := 0
	for _, s := range all {
		s.invMu.Lock()
		n += len(s.invocations)
		s.invMu.Unlock()
	}
	return n
}

// RealmTables are the sizes of one realm's routing tables.
type RealmTables struct {
	// Registrations and Subscriptions are the realm's registrations and
	// subscriptions as this node routes them (in a cluster, with those of
	// other nodes' sessions).
	Registrations, Subscriptions int
}

// RealmTables returns the sizes of each realm's tables, by realm name, for
// exporters: it takes each table's lock once.
func (r *Router) RealmTables() map[string]RealmTables {
	out := make(map[string]RealmTables)
	for _, rm := range r.allRealms() {
		out[string(rm.Name)] = RealmTables{Registrations: rm.Dealer.Count(), Subscriptions: rm.Broker.Count()}
	}
	return out
}

// SessionKey groups established sessions for SessionCounts.
type SessionKey struct {
	Realm      string
	Serializer string
	Transport  string // transport.Info.Transport
}

// SessionCounts counts the established sessions by realm, serializer and transport,
// for exporters (it takes the session set's lock once, not per message).
func (r *Router) SessionCounts() map[SessionKey]int {
	counts := make(map[SessionKey]int)
	for _, s := range r.liveSessions() {
		if s.established.Load() && !s.internal {
			counts[SessionKey{Realm: string(s.realm.Name), Serializer: s.peer.Serializer().Name(), Transport: s.peer.Info().Transport}]++
		}
	}
	return counts
}
