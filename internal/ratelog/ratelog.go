// Package ratelog keeps log lines that a client can cause from flooding the
// log: a Limiter lets one line per key through per interval and counts the
// lines it held back, so the next line can say how many there were.
package ratelog

import (
	"sync"
	"time"
)

// maxKeys bounds the keys a Limiter remembers, so that clients from many
// addresses cannot make it grow without bound. Past it, keys whose interval
// is over are forgotten; if none is, every new key shares one slot.
const maxKeys = 10000

// overflowKey is the slot shared by new keys while the table is full.
const overflowKey = "\x00overflow"

// Limiter lets through at most one line per key per interval.
type Limiter struct {
	interval time.Duration

	mu   sync.Mutex
	keys map[string]*entry
}

type entry struct {
	last time.Time
	held int
}

// New returns a Limiter letting one line per key through per interval
// (one per 10 seconds when interval is not positive).
func New(interval time.Duration) *Limiter {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	return &Limiter{interval: interval, keys: make(map[string]*entry)}
}

// Allow reports whether a line for key may be logged now and, if so, how
// many lines for key were held back since the last one let through.
func (l *Limiter) Allow(key string) (ok bool, held int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil {
		if len(l.keys) >= maxKeys {
			l.forget(now)
		}
		if len(l.keys) >= maxKeys {
			key = overflowKey
			e = l.keys[key]
		}
		if e == nil {
			e = &entry{}
			l.keys[key] = e
		}
	}
	if !e.last.IsZero() && now.Sub(e.last) < l.interval {
		e.held++
		return false, 0
	}
	held = e.held
	e.last, e.held = now, 0
	return true, held
}

// forget drops the keys whose interval is over and that held nothing back.
func (l *Limiter) forget(now time.Time) {
	for k, e := range l.keys {
		if now.Sub(e.last) >= l.interval && e.held == 0 {
			delete(l.keys, k)
		}
	}
}
