package clientlib

import (
	"context"
	"fmt"

	"github.com/junction-wamp/junction/transport"
	"github.com/junction-wamp/junction/transport/local"
)

// ConnectLocal joins realm in the same process, over the in-process
// transport (package transport/local): no socket, and no encoding of the
// messages between the client and the router. h is the router's side:
// a *router.Router, or a *server.Server (which hands the session to its
// router); the session is subject to the same limits as a WebSocket one
// (slow consumer, and the per-address bounds under Options.Local.RemoteAddr,
// "in-process" by default).
//
// The Client API is the same as over Connect. Of opts, Serializer is the
// serializer the session declares (json by default): the router gives it
// events of a fan-out encoded in it, decoded at once; every other message
// comes as a value. Compression, Header, Dialer and ReadLimit do not apply.
//
// Arguments passed to Call, Publish and the like, and those a handler
// returns, are handed to the router as they are, not copied: they must not
// be changed afterwards.
func ConnectLocal(ctx context.Context, h transport.Handler, realm string, opts Options) (*Client, error) {
	if h == nil {
		return nil, fmt.Errorf("clientlib: ConnectLocal without a handler")
	}
	if _, err := opts.withDefaults(); err != nil {
		return nil, err
	}
	cfg := opts.Local
	cfg.Serializer = opts.Serializer
	dial := func(context.Context) (conn, error) {
		lc, err := local.Serve(h, cfg)
		if err != nil {
			return nil, fmt.Errorf("clientlib: %w", err)
		}
		return localConn{lc}, nil
	}
	return start(ctx, []dialFunc{{url: "in-process", dial: dial}}, realm, opts)
}
