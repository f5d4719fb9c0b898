package router

import (
	"fmt"
	"testing"
)

// TestFailureLogReservations: an authentication in progress counts as a
// failure until it succeeds.
func TestFailureLogReservations(t *testing.T) {
	t.Parallel()
	var f failureLog
	const ip, limit = "192.0.2.1", 2
	if !f.reserve(ip, limit) || !f.reserve(ip, limit) {
		t.Fatal("refused under the limit")
	}
	if f.reserve(ip, limit) {
		t.Fatal("a third authentication in progress was allowed, limit 2")
	}
	f.release(ip, true) // one failed: 1 failure + 1 in progress
	if f.reserve(ip, limit) {
		t.Fatal("allowed with 1 failure and 1 in progress, limit 2")
	}
	f.release(ip, false) // the other succeeded: 1 failure
	if !f.reserve(ip, limit) {
		t.Fatal("refused with 1 failure, limit 2")
	}
	f.release(ip, false)
	if !f.reserve("192.0.2.2", limit) {
		t.Fatal("another address refused")
	}
}

// TestFailureLogBounded: the table never holds more than maxFailureEntries
// addresses; when every one has an authentication in progress, a new
// address is refused rather than remembered.
func TestFailureLogBounded(t *testing.T) {
	t.Parallel()
	var f failureLog
	for i := range maxFailureEntries {
		if !f.reserve(fmt.Sprint("a", i), 10) {
			t.Fatalf("address %d refused", i)
		}
	}
	if f.reserve("new", 10) {
		t.Fatal("a new address was let in with the table full of authentications in progress")
	}
	f.release("a0", true) // a0 failed: it may be forgotten to make room
	if !f.reserve("new", 10) {
		t.Fatal("no room made for a new address")
	}
	if n := len(f.byIP); n > maxFailureEntries {
		t.Fatalf("%d addresses held, bound %d", n, maxFailureEntries)
	}
}
