package serializers

import (
	"strconv"

	"github.com/junction-wamp/junction/wamp"
)

// Request is the request id the frame carries (for the tests: the router
// only replaces it).
func (f RequestFrame) Request() wamp.ID {
	var v uint64
	switch f.enc {
	case wamp.EncodingJSON:
		v, _ = strconv.ParseUint(string(f.data[f.start:f.end]), 10, 64)
	case wamp.EncodingMsgPack:
		v, _, _ = msgpackUint(f.data, f.start)
	case wamp.EncodingCBOR:
		v, _, _ = cborUint(f.data, f.start)
	}
	return wamp.ID(v)
}
