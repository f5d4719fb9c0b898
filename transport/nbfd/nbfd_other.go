//go:build !unix

package nbfd

import (
	"net"

	"github.com/lesismal/nbio"
)

// NBConn moves c's socket to an nbio Conn (nbfd_unix.go says why Unix
// needs more).
func NBConn(c net.Conn) (*nbio.Conn, error) { return nbio.NBConn(c) }
