package transport

import (
	"fmt"
	"net"
	"syscall"
)

// peerAddr names a Unix socket's client by its process and user
// (SO_PEERCRED), so that per-address limits and logs tell local clients
// apart as TCP addresses do.
func peerAddr(c *net.UnixConn) (string, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return "", false
	}
	var cred *syscall.Ucred
	cerr := raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cerr != nil || err != nil || cred == nil {
		return "", false
	}
	return fmt.Sprintf("unix:pid=%d,uid=%d", cred.Pid, cred.Uid), true
}
