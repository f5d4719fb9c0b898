//go:build !unix

package hostile

import "syscall"

// setRecvBuffer leaves the socket's receive buffer as it is where
// SO_RCVBUF is not set this way; stalled clients stall later.
func setRecvBuffer(syscall.RawConn, int) error { return nil }
