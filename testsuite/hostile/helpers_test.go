package hostile

import (
	"errors"

	"github.com/junction-wamp/junction/wamp"
)

// isRPCError reports whether err is a WAMP ERROR or ABORT with uri.
func isRPCError(err error, uri string) bool {
	var re *wamp.RPCError
	return errors.As(err, &re) && string(re.URI) == uri
}
