// Package routertest starts an in-process Junction (router and WebSocket
// transport) on 127.0.0.1 for tests.
package routertest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport/websocket"
)

// Server is a running in-process Junction.
type Server struct {
	URL       string // ws://127.0.0.1:port/ws
	Router    *router.Router
	Transport *websocket.Server
	HTTP      *httptest.Server
}

// Options adjust the router and transport config; zero values are the defaults
// with realm "realm1" open to anonymous sessions.
type Options struct {
	Router    router.Config
	Transport websocket.Config
	Logger    *slog.Logger
}

// TrustedRoles returns one role, named name, that may do everything, the
// kill meta procedures included: those need a rule that names them, which a
// realm without roles lacks.
func TrustedRoles(name string) []router.RoleConfig {
	return []router.RoleConfig{{Name: name, Permissions: []router.Permission{
		{URI: "", Match: "prefix", Call: true, Register: true, Publish: true, Subscribe: true},
		{URI: "wamp.session.", Match: "prefix", Call: true, Subscribe: true},
	}}}
}

// Start runs a Junction until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	logger := opts.Logger
	if logger == nil && os.Getenv("JUNCTION_CLUSTER_LOG") != "" { // to see what the routers say while debugging a test
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Router.Realms == nil {
		opts.Router.Realms = []router.RealmConfig{{Name: "realm1", Anonymous: true}}
	}
	r, err := router.New(opts.Router, router.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewServer(opts.Transport, r, websocket.Options{Logger: logger, Ready: r.Serving})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ws.Handler()) // listens on 127.0.0.1
	path := opts.Transport.Path
	if path == "" {
		path = "/ws"
	}
	s := &Server{URL: "ws" + strings.TrimPrefix(hs.URL, "http") + path, Router: r, Transport: ws, HTTP: hs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
		_ = ws.Shutdown(ctx)
		hs.Close()
	})
	return s
}
