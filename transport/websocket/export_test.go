package websocket

import (
	gws "github.com/gorilla/websocket"

	"github.com/junction-wamp/junction/transport"
)

// Prepared is the PreparedMessage the transport keeps in f (for tests).
func Prepared(f *transport.Frame) (*gws.PreparedMessage, error) { return prepared(f) }

// WireCode is the RFC 6455 close code the transport sends for c (for tests).
func WireCode(c transport.CloseCode) int { return wireCode(c) }

// DeflatedFrames is how many shared frames the server's nbio engine has
// deflated (0 on gorilla).
func DeflatedFrames(s *Server) uint64 {
	if s.nb == nil {
		return 0
	}
	return s.nb.deflated.Load()
}
