package nbfd_test

import (
	"testing"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"

	"github.com/junction-wamp/junction/transport/nbfd"
)

// TestStopRightAfterStart: an nbio engine stopped at once after its Start
// (here with many pollers, so that some have not entered their loop yet)
// stops. Without StopGrace, nbio lost the Stop of a poller not yet in its
// loop: Stop never returned, and the poller spun on its eventfd.
func TestStopRightAfterStart(t *testing.T) {
	logging.SetLevel(logging.LevelNone)
	eng := nbio.NewEngine(nbio.Config{NPoller: 64})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	stopped := make(chan struct{})
	go func() {
		nbfd.StopGrace(started)
		eng.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(nbfd.StartGrace + 30*time.Second):
		t.Fatal("the engine's Stop did not return")
	}
}
