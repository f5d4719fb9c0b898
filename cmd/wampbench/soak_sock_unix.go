//go:build unix

package main

import "syscall"

// smallReceiveBuffer is a net.Dialer Control that gives the socket a 4 KiB
// receive buffer, so that a subscriber that stops reading stops the router's
// writes soon.
func smallReceiveBuffer(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}
