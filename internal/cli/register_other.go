//go:build !unix

package cli

import "os/exec"

// killProcessGroup leaves exec's default: cancellation kills the command
// itself (not its children).
func killProcessGroup(*exec.Cmd) {}
