//go:build unix

package hostile

import (
	"errors"
	"syscall"
)

// setRecvBuffer sets a socket's SO_RCVBUF before it connects.
func setRecvBuffer(rc syscall.RawConn, size int) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
	})
	return errors.Join(err, serr)
}
