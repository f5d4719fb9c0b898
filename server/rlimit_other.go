//go:build !unix

package server

// fileLimit reports no limit where there is no getrlimit.
func fileLimit() (uint64, bool) { return 0, false }
