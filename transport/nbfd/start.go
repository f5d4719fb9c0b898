package nbfd

import "time"

// StartGrace is how long after an nbio engine's Start Stop waits before
// stopping it.
//
// nbio v1.6.8 (and v1.6.12) loses a Stop that comes before a poller's
// goroutine has entered its loop: the loop's first statement clears the
// stop flag that Stop set, and the wake-up Stop wrote to the poller's
// eventfd is never read, so the poller spins on it for ever and Stop waits
// for it for ever (a RawSocket test server stopped right after its first
// connection hung at 100% CPU, one package run in six). Nothing nbio
// exports tells when its pollers are in their loops; a second is ample for
// a goroutine to start, even on a loaded machine, and only a Stop within a
// second of the engine's Start waits at all.
const StartGrace = time.Second

// StopGrace waits, before an nbio engine started at started is stopped,
// until StartGrace has passed since.
func StopGrace(started time.Time) {
	if d := time.Until(started.Add(StartGrace)); d > 0 {
		time.Sleep(d)
	}
}
