package clientlib_test

import (
	"context"
	"errors"
	"testing"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/local"
	"github.com/junction-wamp/junction/wamp"
)

func connectLocal(t *testing.T, h *router.Router, realm string, opts clientlib.Options) *clientlib.Client {
	t.Helper()
	c, err := clientlib.ConnectLocal(testCtx(t), h, realm, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func add2(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
	a, _ := wamp.AsInt(inv.Args[0])
	b, _ := wamp.AsInt(inv.Args[1])
	return &clientlib.Result{Args: []any{a + b}, Kwargs: map[string]any{"echo": inv.Kwargs["k"]}}, nil
}

func checkSum(t *testing.T, res *clientlib.Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := wamp.AsInt(res.Args[0]); n != 5 || res.Kwargs["echo"] != "v" {
		t.Fatalf("result %v %v", res.Args, res.Kwargs)
	}
}

// TestLocalRPC: an in-process callee is called from WebSocket clients, and
// an in-process caller reaches a WebSocket callee, with each serializer on
// the WebSocket side (and on the local one: the serializer it declares).
func TestLocalRPC(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	for _, ser := range serializerNames {
		t.Run(ser, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			p := "com.example.local." + ser + "."
			for _, localSer := range serializerNames {
				lcallee := connectLocal(t, srv.Router, "realm1", clientlib.Options{Serializer: localSer})
				if _, err := lcallee.Register(ctx, p+"local_add2."+localSer, add2, nil); err != nil {
					t.Fatal(err)
				}
			}
			wcaller := connect(t, srv.URL, ser)
			for _, localSer := range serializerNames {
				res, err := wcaller.Call(ctx, p+"local_add2."+localSer, []any{2, 3}, map[string]any{"k": "v"}, nil)
				checkSum(t, res, err)
			}

			wcallee := connect(t, srv.URL, ser)
			if _, err := wcallee.Register(ctx, p+"ws_add2", add2, nil); err != nil {
				t.Fatal(err)
			}
			_, err := wcallee.Register(ctx, p+"ws_fail", func(context.Context, *clientlib.Invocation) (*clientlib.Result, error) {
				return nil, &wamp.RPCError{URI: "com.example.oops", Args: []any{"bad"}}
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, localSer := range serializerNames {
				lcaller := connectLocal(t, srv.Router, "realm1", clientlib.Options{Serializer: localSer})
				res, err := lcaller.Call(ctx, p+"ws_add2", []any{2, 3}, map[string]any{"k": "v"}, nil)
				checkSum(t, res, err)
				_, err = lcaller.Call(ctx, p+"ws_fail", nil, nil, nil)
				var rpcErr *wamp.RPCError
				if !errors.As(err, &rpcErr) || rpcErr.URI != "com.example.oops" || rpcErr.Args[0] != "bad" {
					t.Fatalf("error %v", err)
				}
				// A local caller reaching a local callee.
				res, err = lcaller.Call(ctx, p+"local_add2.json", []any{2, 3}, map[string]any{"k": "v"}, nil)
				checkSum(t, res, err)
			}
		})
	}
}

// TestLocalPubSub: events go from WebSocket publishers to in-process
// subscribers and back, with each serializer on the WebSocket side.
func TestLocalPubSub(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{})
	for _, ser := range serializerNames {
		t.Run(ser, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			topic := "com.example.local.topic." + ser
			got := func(c *clientlib.Client) <-chan *clientlib.Event {
				ch := make(chan *clientlib.Event, 10)
				if _, err := c.Subscribe(ctx, topic, func(ev *clientlib.Event) { ch <- ev }, nil); err != nil {
					t.Fatal(err)
				}
				return ch
			}
			lsub := got(connectLocal(t, srv.Router, "realm1", clientlib.Options{Serializer: ser}))
			wsub := got(connect(t, srv.URL, ser))
			lpub := connectLocal(t, srv.Router, "realm1", clientlib.Options{})
			wpub := connect(t, srv.URL, ser)
			for i, pub := range []*clientlib.Client{wpub, lpub} {
				err := pub.Publish(ctx, topic, []any{"hello", i}, map[string]any{"from": i}, &clientlib.PublishOptions{Acknowledge: true})
				if err != nil {
					t.Fatal(err)
				}
				for _, ch := range []<-chan *clientlib.Event{lsub, wsub} {
					select {
					case ev := <-ch:
						n, _ := wamp.AsInt(ev.Args[1])
						from, _ := wamp.AsInt(ev.Kwargs["from"])
						if ev.Args[0] != "hello" || n != int64(i) || from != int64(i) {
							t.Fatalf("event %v %v", ev.Args, ev.Kwargs)
						}
					case <-ctx.Done():
						t.Fatal("no event")
					}
				}
			}
		})
	}
}

// TestLocalTicket: a local session authenticates as a ticket principal,
// and a wrong ticket is refused.
func TestLocalTicket(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{Realms: []router.RealmConfig{{
		Name:        "secure",
		AuthMethods: []router.AuthMethod{router.AuthTicket},
		Principals:  []router.Principal{{AuthID: "alice", Role: "user", Ticket: "s3cret"}},
		Roles:       routertest.TrustedRoles("user"),
	}}}})
	c := connectLocal(t, srv.Router, "secure", clientlib.Options{AuthID: "alice", Auth: []clientlib.Authenticator{clientlib.TicketAuth("s3cret")}})
	if d := c.Details(); d.String("authid") != "alice" || d.String("authrole") != "user" || d.String("authmethod") != "ticket" {
		t.Fatalf("welcome details %v", d)
	}
	_, err := clientlib.ConnectLocal(testCtx(t), srv.Router, "secure", clientlib.Options{AuthID: "alice", Auth: []clientlib.Authenticator{clientlib.TicketAuth("guess")}})
	var rpcErr *wamp.RPCError
	if !errors.As(err, &rpcErr) {
		t.Fatalf("wrong ticket: %v", err)
	}
	if rpcErr.URI == "" {
		t.Fatal("ABORT without a reason")
	}
}

// TestLocalIdentity checks a session whose in-process peer vouches for its
// identity (local.Config.Identity, as the HTTP bridge's): admitted without
// a challenge with that authid and role, on a realm that takes no
// anonymous session; authorized by the role's rules; and refused with
// no_such_role for a role the realm does not have.
func TestLocalIdentity(t *testing.T) {
	t.Parallel()
	srv := routertest.Start(t, routertest.Options{Router: router.Config{Realms: []router.RealmConfig{{
		Name:        "secure",
		AuthMethods: []router.AuthMethod{router.AuthTicket},
		Roles: []router.RoleConfig{{Name: "user", Permissions: []router.Permission{
			{URI: "com.example.allowed", Register: true, Call: true}}}},
	}}}})
	id := &transport.Identity{AuthID: "bob", AuthRole: "user", AuthMethod: "http-ticket", AuthProvider: "bridge"}
	c := connectLocal(t, srv.Router, "secure", clientlib.Options{Local: local.Config{Identity: id}})
	if d := c.Details(); d.String("authid") != "bob" || d.String("authrole") != "user" || d.String("authmethod") != "http-ticket" || d.String("authprovider") != "bridge" {
		t.Fatalf("welcome details %v", d)
	}
	if _, err := c.Register(testCtx(t), "com.example.allowed", add2, nil); err != nil {
		t.Fatal(err)
	}
	_, err := c.Register(testCtx(t), "com.example.other", add2, nil)
	if !errors.Is(err, &wamp.RPCError{URI: wamp.ErrNotAuthorized}) {
		t.Errorf("a URI outside the role's rules: %v", err)
	}
	id = &transport.Identity{AuthID: "bob", AuthRole: "admin"}
	_, err = clientlib.ConnectLocal(testCtx(t), srv.Router, "secure", clientlib.Options{Local: local.Config{Identity: id}})
	if !errors.Is(err, &wamp.RPCError{URI: wamp.ErrNoSuchRole}) {
		t.Errorf("an unknown role: %v", err)
	}
	// Without an identity the realm's own methods apply: no anonymous.
	if _, err = clientlib.ConnectLocal(testCtx(t), srv.Router, "secure", clientlib.Options{}); err == nil {
		t.Error("an anonymous in-process session joined a realm without anonymous")
	}
}

// TestLocalIdentityReload: a reload does not end an in-process session
// whose identity its peer vouched for (the HTTP bridge's), although its
// authentication method is none of the realm's; removing its role does.
func TestLocalIdentityReload(t *testing.T) {
	t.Parallel()
	cfg := router.Config{Realms: []router.RealmConfig{{
		Name:        "secure",
		AuthMethods: []router.AuthMethod{router.AuthTicket},
		Roles: []router.RoleConfig{{Name: "user", Permissions: []router.Permission{
			{URI: "com.example.allowed", Register: true, Call: true}}}},
	}}}
	srv := routertest.Start(t, routertest.Options{Router: cfg})
	id := &transport.Identity{AuthID: "bob", AuthRole: "user", AuthMethod: "http-ticket", AuthProvider: "bridge"}
	c := connectLocal(t, srv.Router, "secure", clientlib.Options{Local: local.Config{Identity: id}})
	if _, err := c.Register(testCtx(t), "com.example.allowed", add2, nil); err != nil {
		t.Fatal(err)
	}
	reload := func(cfg router.Config) {
		t.Helper()
		p, err := srv.Router.PrepareReload(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p.Apply()
	}
	reload(cfg)
	if _, err := c.Call(testCtx(t), "com.example.allowed", []any{1, 2}, nil, nil); err != nil {
		t.Fatalf("after a reload of the same config: %v", err)
	}
	cfg.Realms[0].Roles[0].Name = "other"
	reload(cfg)
	select {
	case <-c.Done():
	case <-testCtx(t).Done():
		t.Fatal("the session of a removed role goes on")
	}
}
