package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/wamp"
)

// ruleBook is a Go authorizer deciding by action, URI and match; it records
// what it is asked. "app.err" makes it fail, "app.panic" panic and
// "app.slow" hang past its deadline (ignoring ctx).
type ruleBook struct {
	rules map[string]Decision // "call app.x exact"
	hang  chan struct{}

	mu    sync.Mutex
	asked []AuthzRequest
}

func (b *ruleBook) Authorize(_ context.Context, req AuthzRequest) (Decision, error) {
	b.mu.Lock()
	b.asked = append(b.asked, req)
	b.mu.Unlock()
	switch req.URI {
	case "app.err":
		return Decision{Allow: true, Cache: true}, errors.New("policy store down")
	case "app.panic":
		panic("policy bug")
	case "app.slow":
		<-b.hang
	}
	return b.rules[fmt.Sprintf("%s %s %s", req.Action, req.URI, req.Match)], nil
}

// times is how often the book was asked about action on uri.
func (b *ruleBook) times(a Action, uri wamp.URI) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, r := range b.asked {
		if r.Action == a && r.URI == uri {
			n++
		}
	}
	return n
}

func (b *ruleBook) last() AuthzRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.asked[len(b.asked)-1]
}

func hookAuthzRouter(t *testing.T, book *ruleBook, size int) *Router {
	return newTestRouter(t, Config{AuthTimeout: 200 * time.Millisecond, Realms: []RealmConfig{{
		Name: "realm1", Anonymous: true, AuthorizerHook: book, AuthorizerCacheSize: size,
		Roles: []RoleConfig{{Name: "static", Permissions: []Permission{{URI: "", Match: "prefix", Call: true}}}},
	}}})
}

func newRuleBook(t *testing.T) *ruleBook {
	b := &ruleBook{hang: make(chan struct{}), rules: map[string]Decision{
		"register app.mine exact":       {Allow: true},
		"call app.mine exact":           {Allow: true, Disclose: true},
		"call app.cached exact":         {Allow: true, Cache: true},
		"call app.open exact":           {Allow: true},
		"subscribe app.feed prefix":     {Allow: true},
		"publish app.feed.news exact":   {Allow: true, Cache: true},
		"call wamp.session.count exact": {Allow: true},
	}}
	t.Cleanup(func() { close(b.hang) })
	return b
}

// TestAuthorizerHook: a Go authorizer allows and denies per URI and action,
// sees patterns with their match policy and the session asking, may
// disclose the caller, is consulted after the router's own rules (wamp.*
// stays reserved; the kill procedures reach it as their own URIs), and
// fails closed on an error, a panic and a hang.
func TestAuthorizerHook(t *testing.T) {
	t.Parallel()
	book := newRuleBook(t)
	r := hookAuthzRouter(t, book, 0)
	callee, calleeID := join(t, r, "json")
	callee.in <- &wamp.Register{Request: 1, Options: wamp.Dict{}, Procedure: "app.mine"}
	expectType[*wamp.Registered](t, callee)
	if got := book.last(); got.Session.ID != calleeID || got.Session.AuthRole != "anonymous" || got.Session.AuthMethod != AuthAnonymous ||
		got.Session.Realm != "realm1" || !strings.HasPrefix(got.Session.AuthID, "anonymous-") || got.Action != ActionRegister || got.Match != "exact" {
		t.Fatalf("the hook was asked %+v", got)
	}
	callee.in <- &wamp.Register{Request: 2, Options: wamp.Dict{"match": "prefix"}, Procedure: "app.mine"}
	expectError(t, callee, wamp.REGISTER, 2, wamp.ErrNotAuthorized)
	if got := book.last(); got.Action != ActionRegister || got.URI != "app.mine" || got.Match != "prefix" {
		t.Fatalf("a prefix registration reached the hook as %+v", got)
	}

	p, callerID := join(t, r, "json")
	p.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "app.mine"}
	inv := expectType[*wamp.Invocation](t, callee)
	if c, _ := inv.Details.Int("caller"); wamp.ID(c) != callerID {
		t.Errorf("INVOCATION details %v: the decision discloses the caller %d", inv.Details, callerID)
	}
	callee.in <- &wamp.Yield{Request: inv.Request, Options: wamp.Dict{}}
	expectType[*wamp.Result](t, p)

	p.in <- &wamp.Subscribe{Request: 2, Options: wamp.Dict{"match": "prefix"}, Topic: "app.feed"}
	expectType[*wamp.Subscribed](t, p)
	if got := book.last(); got.Action != ActionSubscribe || got.URI != "app.feed" || got.Match != "prefix" {
		t.Fatalf("a prefix subscription reached the hook as %+v", got)
	}
	p.in <- &wamp.Subscribe{Request: 3, Options: wamp.Dict{"match": "wildcard"}, Topic: "app..news"}
	expectError(t, p, wamp.SUBSCRIBE, 3, wamp.ErrNotAuthorized)
	if got := book.last(); got.Match != "wildcard" || got.URI != "app..news" {
		t.Fatalf("a wildcard subscription reached the hook as %+v", got)
	}
	p.in <- &wamp.Publish{Request: 4, Options: wamp.Dict{"acknowledge": true}, Topic: "app.feed.news"}
	expectType[*wamp.Published](t, p)
	p.in <- &wamp.Publish{Request: 5, Options: wamp.Dict{"acknowledge": true}, Topic: "app.mine"}
	expectError(t, p, wamp.PUBLISH, 5, wamp.ErrNotAuthorized)
	p.in <- &wamp.Call{Request: 6, Options: wamp.Dict{}, Procedure: "app.open"}
	expectError(t, p, wamp.CALL, 6, wamp.ErrNoSuchProcedure) // allowed; nobody registered it

	// The router's rules come first: wamp.* is reserved whatever the hook
	// says, and a kill procedure is asked about by its own URI.
	asked := book.times(ActionRegister, "wamp.session.count")
	p.in <- &wamp.Register{Request: 7, Options: wamp.Dict{}, Procedure: "wamp.session.count"}
	expectError(t, p, wamp.REGISTER, 7, wamp.ErrInvalidURI)
	if book.times(ActionRegister, "wamp.session.count") != asked {
		t.Error("the hook was asked about registering a wamp.* procedure")
	}
	if res, uri := metaCall(t, p, 8, "wamp.session.count", nil, nil); uri != "" || len(res) != 1 {
		t.Errorf("an allowed meta call: %v %s", res, uri)
	}
	if _, uri := metaCall(t, p, 9, "wamp.session.kill_all", nil, nil); uri != wamp.ErrNotAuthorized {
		t.Errorf("kill_all the hook does not allow: %q", uri)
	}
	if book.times(ActionCall, "wamp.session.kill_all") != 1 {
		t.Error("the hook was not asked about kill_all")
	}

	// Errors, panics and hangs deny; the session and the router go on.
	for i, uri := range []wamp.URI{"app.err", "app.panic", "app.slow", "app.err"} {
		req := wamp.ID(20 + i)
		p.in <- &wamp.Call{Request: req, Options: wamp.Dict{}, Procedure: uri}
		expectError(t, p, wamp.CALL, req, wamp.ErrNotAuthorized)
	}
	if n := book.times(ActionCall, "app.err"); n != 2 {
		t.Errorf("an error was cached: asked %d times about app.err, want 2", n)
	}
	p.in <- &wamp.Call{Request: 30, Options: wamp.Dict{}, Procedure: "app.open"}
	expectError(t, p, wamp.CALL, 30, wamp.ErrNoSuchProcedure)
}

// TestAuthorizerHookCache: a decision is reused when it says so, for its
// authid only, and the cache stays within AuthorizerCacheSize however many
// URIs a client tries.
func TestAuthorizerHookCache(t *testing.T) {
	t.Parallel()
	book := newRuleBook(t)
	r := hookAuthzRouter(t, book, 3)
	p, _ := join(t, r, "json")
	q, _ := join(t, r, "json")
	for i := range 3 {
		p.in <- &wamp.Call{Request: wamp.ID(1 + i), Options: wamp.Dict{}, Procedure: "app.cached"}
		expectError(t, p, wamp.CALL, wamp.ID(1+i), wamp.ErrNoSuchProcedure)
		p.in <- &wamp.Call{Request: wamp.ID(10 + i), Options: wamp.Dict{}, Procedure: "app.open"}
		expectError(t, p, wamp.CALL, wamp.ID(10+i), wamp.ErrNoSuchProcedure)
	}
	if n := book.times(ActionCall, "app.cached"); n != 1 {
		t.Errorf("a decision to cache was asked for %d times, want 1", n)
	}
	if n := book.times(ActionCall, "app.open"); n != 3 {
		t.Errorf("a decision not to cache was asked for %d times, want 3", n)
	}
	q.in <- &wamp.Call{Request: 1, Options: wamp.Dict{}, Procedure: "app.cached"}
	expectError(t, q, wamp.CALL, 1, wamp.ErrNoSuchProcedure)
	if n := book.times(ActionCall, "app.cached"); n != 2 {
		t.Errorf("another session's authid used the first one's decision (asked %d times)", n)
	}
	book.mu.Lock()
	for i := range 100 {
		book.rules[fmt.Sprintf("call app.p%d exact", i)] = Decision{Allow: true, Cache: true}
	}
	book.mu.Unlock()
	for i := range 100 {
		p.in <- &wamp.Call{Request: wamp.ID(100 + i), Options: wamp.Dict{}, Procedure: wamp.URI(fmt.Sprintf("app.p%d", i))}
		expectError(t, p, wamp.CALL, wamp.ID(100+i), wamp.ErrNoSuchProcedure)
	}
	d := r.realm("realm1").conf().authz
	held := 0
	d.cache.Range(func(any, any) bool { held++; return true })
	if held > 3 || d.count.Load() > 3 {
		t.Errorf("the cache holds %d decisions (counted %d), bound 3", held, d.count.Load())
	}
}

// TestHookAndProcedureRefused: a realm may not have both the procedure and
// the Go hook of one kind.
func TestHookAndProcedureRefused(t *testing.T) {
	t.Parallel()
	authn := AuthenticatorFunc(func(context.Context, AuthRequest) (*Principal, error) { return nil, nil })
	authz := AuthorizerFunc(func(context.Context, AuthzRequest) (Decision, error) { return Decision{}, nil })
	for _, rc := range []RealmConfig{
		{Name: "realm1", Authenticator: "com.auth.authenticate", AuthenticatorHook: authn},
		{Name: "realm1", Authorizer: "com.auth.authorize", AuthorizerHook: authz},
	} {
		if _, err := New(Config{Realms: []RealmConfig{rc}}, Options{Logger: quiet}); err == nil || !strings.Contains(err.Error(), "configure one") {
			t.Errorf("realm with procedure and hook: %v", err)
		}
	}
	// One of each kind is fine.
	if _, err := New(Config{Realms: []RealmConfig{{Name: "realm1", Authenticator: "com.auth.authenticate", AuthorizerHook: authz}}}, Options{Logger: quiet}); err != nil {
		t.Error(err)
	}
}

// TestAuthenticatorHookTLS: with the tls method, the hook is asked about a
// verified certificate's name (never without one) and its principal takes
// that name as authid.
func TestAuthenticatorHookTLS(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var asked []AuthRequest
	hook := AuthenticatorFunc(func(_ context.Context, req AuthRequest) (*Principal, error) {
		mu.Lock()
		asked = append(asked, req)
		mu.Unlock()
		if req.ClientCert == "sensor-1" {
			return &Principal{Role: "device"}, nil
		}
		return nil, ErrUnknownAuthID
	})
	r := newTestRouter(t, Config{Realms: []RealmConfig{{Name: "realm1", AuthMethods: []AuthMethod{AuthTLS}, AuthenticatorHook: hook}}})
	hello := &wamp.Hello{Realm: "realm1", Details: wamp.Dict{"roles": allRoles["roles"], "authmethods": []any{"tls"}}}
	for _, cert := range []string{"sensor-1", "sensor-2", ""} {
		p := newFakePeer(t, "json")
		p.info.ClientCert = cert
		done := make(chan struct{})
		go func() { r.ServePeer(p); close(done) }()
		p.in <- hello
		if cert == "sensor-1" {
			w := expectType[*wamp.Welcome](t, p)
			if w.Details.String("authid") != "sensor-1" || w.Details.String("authrole") != "device" || w.Details.String("authprovider") != "dynamic" {
				t.Errorf("WELCOME %v", w.Details)
			}
			p.Close(transport.CloseNormal, "test over")
		} else {
			expectType[*wamp.Abort](t, p)
		}
		<-done
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 2 || asked[0].AuthMethod != AuthTLS || asked[1].ClientCert != "sensor-2" {
		t.Errorf("the hook was asked %+v, want sensor-1 and sensor-2 only", asked)
	}
}
