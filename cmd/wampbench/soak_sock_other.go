//go:build !unix

package main

import "syscall"

// smallReceiveBuffer leaves the socket's receive buffer as it is.
func smallReceiveBuffer(_, _ string, _ syscall.RawConn) error { return nil }
