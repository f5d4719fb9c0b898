//go:build !unix

package websocket

import (
	"net"

	"github.com/lesismal/nbio"
)

// nbConn moves tc's socket to an nbio Conn (nbdup_unix.go says why Unix
// needs more).
func nbConn(tc *net.TCPConn) (*nbio.Conn, error) { return nbio.NBConn(tc) }
