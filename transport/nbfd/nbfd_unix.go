//go:build unix

package nbfd

import (
	"net"
	"syscall"

	"github.com/lesismal/nbio"
)

// NBConn moves c's socket to an nbio Conn: nbio duplicates the file
// descriptor (and closes c), without close-on-exec. A process this one
// starts would inherit the duplicate and hold the socket open: a socket
// nbio closed would then stay registered in nbio's epoll (epoll forgets a
// socket only once every descriptor of it is closed), and its events,
// reported under a descriptor number the kernel has given to a new
// connection since, went to that connection (the interop tests, which
// start client processes all the time, saw connections never read). The
// duplicate is marked close-on-exec under syscall.ForkLock, as the net
// package does for the sockets it creates, so that no fork sees it
// without the mark.
func NBConn(c net.Conn) (*nbio.Conn, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nbc, err := nbio.NBConn(c)
	if err != nil {
		return nil, err
	}
	rc, err := nbc.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) { syscall.CloseOnExec(int(fd)) })
	}
	if err != nil {
		_ = nbc.Close()
		return nil, err
	}
	return nbc, nil
}
