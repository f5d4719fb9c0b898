// Package nbfd hands a connection's socket to lesismal/nbio's poller for
// both transports' nbio engines, with the one fix nbio v1.6.8 needs: its
// duplicate of the descriptor is made close-on-exec.
package nbfd
