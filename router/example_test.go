package router_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/transport/websocket"
)

// A Go authenticator plugs the embedding program's own user store into a
// realm: it answers the principal an authid names, and the router checks
// the client's credentials against it as it does a static principal's.
func ExampleAuthenticatorFunc() {
	users := map[string]router.Principal{ // the program's user store
		"alice": {Role: "user", Ticket: "alice-ticket"},
		"bob":   {Role: "admin", Secret: "bob-secret"},
	}
	store := router.AuthenticatorFunc(func(ctx context.Context, req router.AuthRequest) (*router.Principal, error) {
		p, ok := users[req.AuthID]
		if !ok {
			return nil, router.ErrUnknownAuthID
		}
		return &p, nil
	})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := router.New(router.Config{Realms: []router.RealmConfig{{
		Name:              "app",
		AuthMethods:       []router.AuthMethod{router.AuthTicket, router.AuthWAMPCRA},
		AuthenticatorHook: store,
	}}}, router.Options{Logger: quiet})
	if err != nil {
		panic(err)
	}
	ws, err := websocket.NewServer(websocket.Config{}, r, websocket.Options{Logger: quiet, Ready: r.Serving})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(ws.Handler())
	defer srv.Close()
	defer ws.Shutdown(context.Background())
	defer r.Shutdown(context.Background())
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"

	ctx := context.Background()
	for _, login := range []struct {
		authid string
		auth   clientlib.Authenticator
	}{
		{"alice", clientlib.TicketAuth("alice-ticket")},
		{"bob", clientlib.CRAAuth("bob-secret")},
		{"bob", clientlib.CRAAuth("guess")},
		{"mallory", clientlib.TicketAuth("guess")},
	} {
		c, err := clientlib.Connect(ctx, url, "app", clientlib.Options{AuthID: login.authid, Auth: []clientlib.Authenticator{login.auth}})
		if err != nil {
			fmt.Printf("%s (%s): %v\n", login.authid, login.auth.Method(), err)
			continue
		}
		fmt.Printf("%s (%s): joined as %s\n", login.authid, login.auth.Method(), c.Details().String("authrole"))
		_ = c.Close(ctx)
	}
	// Output:
	// alice (ticket): joined as user
	// bob (wampcra): joined as admin
	// bob (wampcra): wamp.error.authentication_failed: authentication failed
	// mallory (ticket): wamp.error.authentication_failed: authentication failed
}
