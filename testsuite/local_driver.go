package testsuite

import (
	"context"

	"github.com/junction-wamp/junction/clientlib"
	"github.com/junction-wamp/junction/transport"
)

// LocalDriver drives Junction's own Go client over the in-process
// transport (clientlib.ConnectLocal): its clients join Handler, a router in
// the test's own process, and ignore the target's URLs (not its realm).
// Compression does not apply: the local transport does not encode the
// messages, so a run with compression is the same as one without. The
// serializer is the one the session declares: the encoding of the fan-out
// frames it is given.
type LocalDriver struct {
	Handler transport.Handler
}

func (LocalDriver) Name() string { return "local" }

func (d LocalDriver) Connect(ctx context.Context, target Target, serializer string, _ bool) (Client, error) {
	c, err := clientlib.ConnectLocal(ctx, d.Handler, target.Realm, clientlib.Options{Serializer: serializer})
	if err != nil {
		return nil, err
	}
	return &clientlibClient{c}, nil
}
