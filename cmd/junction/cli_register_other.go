//go:build !unix

package main

import "os/exec"

// killProcessGroup leaves exec's default: cancellation kills the command
// itself (not its children).
func killProcessGroup(*exec.Cmd) {}
