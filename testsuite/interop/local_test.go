package interop

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport/websocket"
	"github.com/junction-wamp/junction/wamp"
)

// TestInteropLocalCallee: AutobahnJS on Node, over WebSocket with each of
// its serializers, calls a callee in the router's own process
// (clientlib.ConnectLocal): the mixed_caller scenario, whose callee is
// usually Autobahn|Python, against a Go callee that echoes args and kwargs
// (binary args included, for msgpack and cbor) and fails
// com.interop.mixed.fail with com.interop.error.oops ["bad input", x].
// Skipped without Node and the npm packages (failed when CI is set).
func TestInteropLocalCallee(t *testing.T) {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	ab := clientByID("autobahnjs")
	if _, err := ab.check(dir); err != nil {
		missing(t, err)
	}
	var realms []router.RealmConfig
	for _, ser := range ab.serializers[webSocket.id] {
		realms = append(realms, router.RealmConfig{Name: realmName("local", "call", ab.id, ser), Anonymous: true})
	}
	srv := routertest.Start(t, routertest.Options{Router: router.Config{Realms: realms}, Transport: websocket.Config{Engine: wsEngine}})
	for _, ser := range ab.serializers[webSocket.id] {
		t.Run(ser, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			defer cancel()
			realm := realmName("local", "call", ab.id, ser)
			callee, err := clientlib.ConnectLocal(ctx, srv.Router, realm, clientlib.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer callee.Close(context.Background())
			var echoes atomic.Int32
			_, err = callee.Register(ctx, "com.interop.mixed.echo", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
				echoes.Add(1)
				return &clientlib.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = callee.Register(ctx, "com.interop.mixed.fail", func(_ context.Context, inv *clientlib.Invocation) (*clientlib.Result, error) {
				return nil, &wamp.RPCError{URI: "com.interop.error.oops", Args: append([]any{"bad input"}, inv.Args...)}
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			binary := map[bool]string{true: "1", false: "0"}[ser != "json"] // AutobahnJS's JSON carries no bytes
			env := []string{"INTEROP_MIXED_BINARY=" + binary, fmt.Sprintf("INTEROP_SCENARIO_TIMEOUT_MS=%d", scenarioLimitS*1000)}
			res := runProgram(t, dir, ab, srv.URL, realm, ser, "mixed_caller", env)
			if res.err != nil {
				t.Fatalf("%v\n%s", res.err, res.output())
			}
			if res.line.Result != "pass" {
				t.Fatalf("%s: %s\n%s", res.line.Result, res.line.Detail, res.output())
			}
			if n := echoes.Load(); n != 1 {
				t.Fatalf("the in-process callee was invoked %d times, want 1", n)
			}
		})
	}
}
