package bridge_test

import (
	"context"
	"log"
	"time"

	"github.com/junction-wamp/junction/bridge"
	"github.com/junction-wamp/junction/router"
	"github.com/junction-wamp/junction/server"
)

// A server with an HTTP caller endpoint for the tickets of realm1's
// principals, and a publisher endpoint for signed requests; then the
// endpoints changed while it serves.
func Example() {
	realm := router.RealmConfig{Name: "realm1", AuthMethods: []router.AuthMethod{router.AuthTicket},
		Principals: []router.Principal{{AuthID: "alice", Role: "user", Ticket: "alice-ticket"}}}
	cfg := server.Config{
		Router: router.Config{Realms: []router.RealmConfig{realm}},
		Bridge: bridge.Config{
			Callers:    []bridge.Endpoint{{Path: "/call", Realm: "realm1", Auth: []bridge.AuthMethod{bridge.AuthTicket}}},
			Publishers: []bridge.Endpoint{{Path: "/publish", Realm: "realm1", Auth: []bridge.AuthMethod{bridge.AuthSigned}}},
			Keys:       []bridge.Key{{Key: "svc", Secret: "a secret of 16 bytes or more", Realm: "realm1", AuthID: "svc", Role: "user"}},
		},
	}
	srv, err := server.New(cfg, server.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	go func() { _ = srv.ListenAndServe(ctx) }()

	// Later (on a reload, say): only the caller endpoint, at another path.
	next := cfg.Bridge
	next.Callers[0].Path, next.Publishers = "/v2/call", nil
	if err := srv.Bridge().Apply(srv.BridgeConfig(next)); err != nil {
		log.Print(err) // invalid: the bridge serves the old config still
	}
}
