// Package hostile is a suite of attacks on Junction by hostile clients, each
// against a junction process of its own: the binary is built once (TestMain,
// without -race), started for each attack with a config written for it, and
// attacked over real TCP and WebSocket connections from 127.0.0.1, while a
// well-behaved session (from 127.0.0.2, so that per-address bounds do not
// touch it) checks that it is still served.
//
// Each test asserts the router's answer (ERROR or ABORT URI, close code,
// HTTP status) as decided in the project's contract, and a bound on the
// process's peak resident memory (VmHWM in /proc/PID/status), chosen per
// attack from measurement. FuzzFrames sends arbitrary WebSocket frame
// sequences to one process and checks it keeps serving.
//
// The helpers in this package (Junction, Conn, Frame, Bystander) are for its
// tests; they take a testing.TB and fail the test on the unexpected.
package hostile
