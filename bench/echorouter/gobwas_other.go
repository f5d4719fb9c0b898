//go:build !linux

package main

import (
	"errors"
	"net"
)

// serveGobwas needs epoll: the gobwas/ws candidate runs on Linux only.
func serveGobwas(net.Listener) error {
	return errors.New("echorouter: --engine gobwas needs Linux (epoll)")
}
