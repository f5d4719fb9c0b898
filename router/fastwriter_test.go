package router_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/internal/routertest"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport/websocket"
)

// TestFastWriterOnEachEngine: a client publishes 2,100 acknowledged events
// while its session waits on the realm's dynamic authorizer, so that the
// router handles none of them meanwhile. On gorilla the transport stops
// reading (the session is served on the connection's goroutine; what the
// client sends meanwhile waits in the socket buffers, and TCP would stop a
// client that filled them): every event is acknowledged once the
// authorizer answers, none lost, and the session stays. nbio v1.6.8 cannot stop
// reading one connection (ARCHITECTURE.md, "Connection engines"), so the
// router's inbox bound holds instead: past twice its bound (1,024) the
// session ends with ABORT wamp.error.protocol_violation and close 1008,
// after the acknowledgements of what was queued before, in order.
func TestFastWriterOnEachEngine(t *testing.T) {
	t.Parallel()
	const n = 2100 // over twice the inbox bound, router.DefaultInboxMessages
	for _, engine := range []string{websocket.EngineGorilla, websocket.EngineNbio} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			entered, release := make(chan struct{}), make(chan struct{})
			var asked atomic.Int32
			hook := router.AuthorizerFunc(func(_ context.Context, req router.AuthzRequest) (router.Decision, error) {
				if req.Action == router.ActionPublish && asked.Add(1) == 1 {
					close(entered)
					<-release
				}
				return router.Decision{Allow: true, Cache: true}, nil
			})
			cfg := websocket.DefaultConfig()
			cfg.Engine = engine
			srv := routertest.Start(t, routertest.Options{
				Router:    router.Config{AuthTimeout: time.Minute, Realms: []router.RealmConfig{{Name: "realm1", Anonymous: true, AuthorizerHook: hook}}},
				Transport: cfg,
			})
			c := dialJoin(t, srv.URL)
			publish := func(i int) []byte { return fmt.Appendf(nil, `[16,%d,{"acknowledge":true},"t"]`, i) }
			if err := c.WriteMessage(gws.TextMessage, publish(1)); err != nil {
				t.Fatal(err)
			}
			<-entered // the session waits for the authorizer
			base := srv.Transport.Stats().BytesIn.Load()
			wrote := make(chan error, 1)
			go func() {
				for i := 2; i <= n; i++ {
					if err := c.WriteMessage(gws.TextMessage, publish(i)); err != nil {
						wrote <- err
						return
					}
				}
				wrote <- nil
			}()
			if engine == websocket.EngineNbio {
				// nbio reads on: the inbox passes twice its bound while the
				// session still waits.
				overflow := uint64(0)
				for i := 2; i <= 2*router.DefaultInboxMessages+1; i++ {
					overflow += uint64(len(publish(i)))
				}
				routertest.WaitUntil(t, "the inbox past twice its bound", func() bool {
					return srv.Transport.Stats().BytesIn.Load()-base >= overflow
				})
			}
			close(release)
			acks, abort, code := readAcks(t, c, n)
			if engine == websocket.EngineGorilla {
				if err := <-wrote; err != nil {
					t.Fatalf("writing: %v", err)
				}
				if acks != n || abort != "" || code != 0 {
					t.Fatalf("%d of %d events acknowledged, then ABORT %q, close %d: want all, and the session kept", acks, n, abort, code)
				}
				return
			}
			t.Logf("nbio: %d acknowledgements before the close", acks)
			if acks < 2*router.DefaultInboxMessages || acks >= n || abort != "wamp.error.protocol_violation" || code != gws.ClosePolicyViolation {
				t.Fatalf("%d of %d events acknowledged, then ABORT %q, close %d: want about %d, ABORT wamp.error.protocol_violation, close 1008",
					acks, n, abort, code, 2*router.DefaultInboxMessages+1)
			}
		})
	}
}

// dialJoin connects a raw JSON client to url and joins realm1.
func dialJoin(t *testing.T, url string) *gws.Conn {
	t.Helper()
	d := gws.Dialer{Subprotocols: []string{"wamp.2.json"}}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.WriteMessage(gws.TextMessage, []byte(`[1,"realm1",{"roles":{"publisher":{}}}]`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), "[2,") {
		t.Fatalf("WELCOME: %s %v", msg, err)
	}
	return c
}

// readAcks reads PUBLISHED acknowledgements, which must come in order,
// until an ABORT and the close, or until all of them came. It returns how many came, the ABORT's reason and the close
// code (0: none).
func readAcks(t *testing.T, c *gws.Conn, all int) (acks int, abort string, code int) {
	t.Helper()
	for {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a guard against a hang
		_, msg, err := c.ReadMessage()
		var ce *gws.CloseError
		switch {
		case errors.As(err, &ce):
			return acks, abort, ce.Code
		case err != nil:
			t.Fatalf("after %d acknowledgements: %v", acks, err)
		case strings.HasPrefix(string(msg), "[17,"):
			if want := fmt.Sprintf("[17,%d,", acks+1); !strings.HasPrefix(string(msg), want) {
				t.Fatalf("%.40s where %s... was due", msg, want)
			}
			acks++
			if acks == all {
				return acks, abort, 0
			}
		case strings.HasPrefix(string(msg), "[3,"):
			var m []any
			if err := json.Unmarshal(msg, &m); err != nil || len(m) < 3 {
				t.Fatalf("ABORT %s: %v", msg, err)
			}
			abort, _ = m[2].(string)
		default:
			t.Fatalf("unexpected %.60s", msg)
		}
	}
}
