package nbfd

import (
	"sync"
	"time"
)

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

// Lifecycle is an nbio engine started with its first connection and
// stopped once, for both transports: Start runs start once (none after
// Stop), Stop runs stop if Start did, no sooner than StartGrace after it.
type Lifecycle struct {
	mu      sync.Mutex
	started bool
	stopped bool
	startAt time.Time
}

// Start runs start if it has not run; after Stop it returns stopped.
func (l *Lifecycle) Start(start func() error, stopped error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return stopped
	}
	if !l.started {
		if err := start(); err != nil {
			return err
		}
		l.started, l.startAt = true, time.Now()
	}
	return nil
}

// Stop runs stop if Start ran start; Start starts nothing after it.
func (l *Lifecycle) Stop(stop func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started && !l.stopped {
		StopGrace(l.startAt) // nbio loses a Stop that comes too soon after Start
		stop()
	}
	l.stopped = true
}
