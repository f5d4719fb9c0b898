package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/clustertest"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/wamp"
)

func reloadCfg(register bool, realms ...string) router.Config {
	perms := []router.Permission{{URI: "com.app.", Match: "prefix", Call: true, Register: register, Subscribe: true, Publish: true},
		{URI: "wamp.session.count", Call: true}}
	var cfg router.Config
	for _, name := range append([]string{"realm1"}, realms...) {
		cfg.Realms = append(cfg.Realms, router.RealmConfig{Name: name, Anonymous: true,
			Roles: []router.RoleConfig{{Name: "anonymous", Permissions: perms}}})
	}
	return cfg
}

// TestReloadAcrossNodes: each node reloads its own config. A registration
// a reload revokes on one node is gone on the others too; a realm added on
// one node first works across nodes once every node has it.
func TestReloadAcrossNodes(t *testing.T) {
	url := startNATS(t)
	a := startNode(t, url, routertest.Options{Router: reloadCfg(true)})
	b := startNode(t, url, routertest.Options{Router: reloadCfg(true)})
	clustertest.WaitFormed(t, a, b)
	callee := connect(t, b, "json")
	if _, err := callee.Register(ctx(t), "com.app.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
		return &clientlib.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node A knows the callee", func() bool { return clustertest.RemoteCallees(a.Router, "realm1", "com.app.echo") == 1 })

	if res, err := b.Router.Reload(reloadCfg(false, "realm2")); err != nil || res.RegistrationsRevoked != 1 {
		t.Fatalf("reload of node B: %+v %v", res, err)
	}
	eventually(t, "node A drops the revoked registration", func() bool { return clustertest.RemoteCallees(a.Router, "realm1", "com.app.echo") == 0 })
	caller := connect(t, a, "json")
	var rerr *wamp.RPCError
	if _, err := caller.Call(ctx(t), "com.app.echo", nil, nil, nil); !errors.As(err, &rerr) || rerr.URI != wamp.ErrNoSuchProcedure {
		t.Errorf("call from node A after the revocation: %v", err)
	}

	// realm2 exists on node B only, then on both.
	callee2, err := clientlib.Connect(ctx(t), b.URL, "realm2", clientlib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = callee2.Close(context.Background()) })
	if _, err := clientlib.Connect(ctx(t), a.URL, "realm2", clientlib.Options{}); err == nil {
		t.Fatal("realm2 on node A before its reload")
	}
	if _, err := a.Router.Reload(reloadCfg(false, "realm2")); err != nil {
		t.Fatal(err)
	}
	sub2, err := clientlib.Connect(ctx(t), a.URL, "realm2", clientlib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub2.Close(context.Background()) })
	got := make(chan struct{}, 1)
	if _, err := sub2.Subscribe(ctx(t), "com.app.news", func(*clientlib.Event) { got <- struct{}{} }, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node B knows the subscriber on node A", func() bool { return clustertest.RemoteInterest(b.Router, "realm2", "com.app.news") })
	if err := callee2.Publish(ctx(t), "com.app.news", nil, nil, &clientlib.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	recv(t, got)
	// The join of callee2, which node A dropped while it had no realm2, is
	// repaired by the digest comparison.
	start := time.Now()
	eventually(t, "node A knows the session node B had in realm2 before A's reload", func() bool {
		res, err := sub2.Call(ctx(t), "wamp.session.count", nil, nil, nil)
		if err != nil || len(res.Args) == 0 {
			return false
		}
		n, _ := wamp.AsInt(res.Args[0])
		return n == 2
	})
	t.Logf("repaired in %s", time.Since(start).Round(time.Millisecond))
}
