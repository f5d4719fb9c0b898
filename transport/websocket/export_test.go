package websocket

import (
	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/transport"
)

// Prepared is the PreparedMessage the transport keeps in f (for tests).
func Prepared(f *transport.Frame) (*gws.PreparedMessage, error) { return prepared(f) }
