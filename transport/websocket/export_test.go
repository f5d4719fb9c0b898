package websocket

import (
	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/transport"
)

// Prepared is the PreparedMessage the transport keeps in f (for tests).
func Prepared(f *transport.Frame) (*gws.PreparedMessage, error) { return prepared(f) }

// WireCode is the RFC 6455 close code the transport sends for c (for tests).
func WireCode(c transport.CloseCode) int { return wireCode(c) }
